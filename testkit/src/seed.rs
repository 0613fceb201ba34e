//! Real seed files for tests, written by `rdapfleet-seed`'s own writer.

use std::path::{Path, PathBuf};

use rdapfleet_seed::{SeedPlan, Strategy, parse_cidrs, write_seed_file};

/// Write `dir/seed.sqlite` holding every address of `cidrs` (strategy `ranges`), cut into
/// batches of `batch_size`; returns its path.
pub fn seed_file(dir: &Path, cidrs: &[&str], batch_size: usize) -> PathBuf {
    let path = dir.join("seed.sqlite");
    let mut plan = SeedPlan::new(Strategy::Ranges);
    plan.includes = parse_cidrs(cidrs).expect("valid test CIDRs");
    plan.batch_size = batch_size;
    write_seed_file(&path, &plan, true).expect("writing the test seed file");
    path
}
