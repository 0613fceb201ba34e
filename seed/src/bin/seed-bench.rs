//! `seed-bench`: how fast is `write_seed_file`, next to a plain rusqlite bulk insert of the same rows
//! (the baseline the issue names: one transaction, one prepared single-row INSERT per row)?
//!
//! In one run, interleaved, each timed `--runs` times (median reported):
//! - `lattice2016`: the full `write_seed_file` of the 4,706,768-address 2016 lattice
//!   (generation, batches, hand-out order, meta, WAL switch, fsync, rename);
//! - `bare insert`: a bare rusqlite bulk insert of the same 4,706,768 `(ip, batch_id)` rows,
//!   precomputed, into the same `seeds` table of a fresh file: same pragmas, one transaction,
//!   one prepared single-row INSERT executed per row, nothing else;
//! - `generate only`: `generate_ips` of the lattice, in memory;
//! - `stride /24`: the full `write_seed_file` of `--strategy stride --stride-prefix 24`.
//!
//! Run: `cargo run --release -p rdapfleet-seed --bin seed-bench [-- --runs 3]`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use rdapfleet_seed::{SeedPlan, Strategy, generate_ips, schema, write_seed_file};
use rusqlite::Connection;

/// Time seed file generation against a bare rusqlite bulk insert of the same rows.
#[derive(Debug, Parser)]
#[command(name = "seed-bench", version, about)]
struct Args {
    /// Timed runs of each case (the median is reported).
    #[arg(long, default_value_t = 3, env = "RDAPFLEET_BENCH_RUNS")]
    runs: usize,

    /// Directory for the files written (a temporary directory when not given).
    #[arg(long, value_name = "DIR", env = "RDAPFLEET_BENCH_DIR")]
    dir: Option<PathBuf>,

    /// Skip the stride /24 case.
    #[arg(long)]
    no_stride: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.runs >= 1, "--runs must be at least 1");
    let temp = tempfile::tempdir().context("creating a temporary directory")?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;

    let lattice = SeedPlan::new(Strategy::Lattice2016);
    let stride = SeedPlan::new(Strategy::Stride { prefix: 24 });
    let ips = generate_ips(&lattice)?;
    let rows: Vec<(i64, i64)> = ips
        .iter()
        .enumerate()
        .map(|(i, &ip)| (i64::from(ip), (i / lattice.batch_size) as i64))
        .collect();
    println!(
        "seed-bench: {} lattice rows, {} runs each, files in {}",
        rows.len(),
        args.runs,
        dir.display()
    );

    let (mut t_lattice, mut t_bare, mut t_gen, mut t_stride) = (vec![], vec![], vec![], vec![]);
    let mut stride_count = 0;
    for run in 1..=args.runs {
        let path = dir.join("lattice.sqlite");
        let t = Instant::now();
        let s = write_seed_file(&path, &lattice, true)?;
        t_lattice.push(t.elapsed());
        anyhow::ensure!(s.ip_count == rows.len() as u64);
        let size = std::fs::metadata(&path)?.len();

        let bare = dir.join("bare.sqlite");
        let t = Instant::now();
        bare_insert(&bare, &rows)?;
        t_bare.push(t.elapsed());
        let bare_size = std::fs::metadata(&bare)?.len();

        let t = Instant::now();
        let n = generate_ips(&lattice)?.len();
        t_gen.push(t.elapsed());
        anyhow::ensure!(n == rows.len());

        if !args.no_stride {
            let t = Instant::now();
            let s = write_seed_file(&dir.join("stride24.sqlite"), &stride, true)?;
            t_stride.push(t.elapsed());
            stride_count = s.ip_count;
        }
        println!(
            "run {run}: lattice {:.3}s ({} MiB), bare insert {:.3}s ({} MiB), generate only {:.3}s{}",
            secs(*t_lattice.last().unwrap_or(&Duration::ZERO)),
            size >> 20,
            secs(*t_bare.last().unwrap_or(&Duration::ZERO)),
            bare_size >> 20,
            secs(*t_gen.last().unwrap_or(&Duration::ZERO)),
            t_stride
                .last()
                .map(|d| format!(", stride /24 {:.3}s", secs(*d)))
                .unwrap_or_default(),
        );
    }

    let (lattice_med, bare_med) = (median(&mut t_lattice), median(&mut t_bare));
    println!();
    println!("case                                   median     target");
    println!(
        "lattice2016 write_seed_file            {:>6.3} s   <= 5 s",
        secs(lattice_med)
    );
    println!(
        "bare rusqlite insert, same rows        {:>6.3} s",
        secs(bare_med)
    );
    println!(
        "ratio lattice / bare                   {:>6.2} x   <= 1.5 x",
        secs(lattice_med) / secs(bare_med)
    );
    println!(
        "lattice generate_ips only              {:>6.3} s",
        secs(median(&mut t_gen))
    );
    if !t_stride.is_empty() {
        println!(
            "stride /24 write_seed_file            {:>6.3} s   ({stride_count} addresses)",
            secs(median(&mut t_stride))
        );
    }
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average at the end: {}", load.trim());
    }
    Ok(())
}

/// The baseline: a fresh file, the same pragmas and `seeds` table, one transaction, one
/// prepared single-row INSERT per row.
fn bare_insert(path: &Path, rows: &[(i64, i64)]) -> anyhow::Result<()> {
    let _ = std::fs::remove_file(path);
    let conn = Connection::open(path)?;
    rdapfleet_seed::write::bulk_load_pragmas(&conn)?;
    schema::create(&conn)?;
    conn.execute_batch("BEGIN")?;
    {
        let mut stmt = conn.prepare("INSERT INTO seeds (ip, batch_id) VALUES (?1, ?2)")?;
        for &(ip, batch) in rows {
            stmt.execute([ip, batch])?;
        }
    }
    conn.execute_batch("COMMIT")?;
    conn.close().map_err(|(_, e)| e)?;
    Ok(())
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}
