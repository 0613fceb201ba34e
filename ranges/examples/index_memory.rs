//! Memory of a `RangeIndex` holding 1 M nested ranges, as a worker holds them.
//! Run: `cargo run --release -p rdapfleet-ranges --example index_memory`

use rdapfleet_ranges::{Range, RangeIndex};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let before = rss_kib();
    let t = std::time::Instant::now();
    let mut ranges = Vec::with_capacity(1_000_000);
    let mut n = 0u32;
    // 62,500 /18 allocations each holding 15 /23 assignments = 1,000,000 ranges.
    for a in 0..62_500u32 {
        let base = (1u32 << 30) + (a << 14);
        ranges.push((
            Range {
                start: base,
                end: base + (1 << 14) - 1,
            },
            (),
        ));
        for k in 0..15u32 {
            let s = base + k * 1024 + (a % 7) * 8;
            ranges.push((
                Range {
                    start: s,
                    end: s + 511,
                },
                (),
            ));
        }
        n += 16;
    }
    // As a worker replays the coverage log at start-up: one bulk load, then live inserts.
    let mut index: RangeIndex<()> = ranges.into_iter().collect();
    for i in 0..20_000u32 {
        let s = 0xC000_0000 + i * 512;
        index.insert(
            Range {
                start: s,
                end: s + 255,
            },
            (),
        );
    }
    index.compact();
    let after = rss_kib();
    println!(
        "ranges={n} build_ms={} heap_mib={:.1} rss_delta_mib={:.1} rss_total_mib={:.1}",
        t.elapsed().as_millis(),
        index.heap_bytes() as f64 / 1048576.0,
        (after.saturating_sub(before)) as f64 / 1024.0,
        after as f64 / 1024.0
    );
}
