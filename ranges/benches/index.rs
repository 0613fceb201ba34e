//! Range index benchmarks: 1 M ranges (nested, like RDAP allocations holding assignments),
//! random point lookups and 1,000-IP batch filtering. Run: `cargo bench -p rdapfleet-ranges`.

use divan::{Bencher, black_box};
use rand::{Rng, SeedableRng, rngs::StdRng};
use rdapfleet_ranges::{Range, RangeIndex};

fn main() {
    divan::main();
}

/// 1 M ranges: 62,500 "allocations" of a /18 each holding 15 "assignments" of a /22.
fn world() -> RangeIndex<u32> {
    let mut rng = StdRng::seed_from_u64(7);
    let mut v = Vec::with_capacity(1_000_000);
    for a in 0..62_500u32 {
        let base = (1u32 << 30) + (a << 14); // 64.0.0.0 upwards
        v.push((
            Range {
                start: base,
                end: base + (1 << 14) - 1,
            },
            v.len() as u32,
        ));
        for k in 0..15u32 {
            let s = base + k * 1024 + rng.random_range(0..64);
            v.push((
                Range {
                    start: s,
                    end: s + 511,
                },
                v.len() as u32,
            ));
        }
    }
    v.into_iter().collect()
}

#[divan::bench(sample_count = 5)]
fn build_1m_bulk(bencher: Bencher) {
    bencher.bench(world);
}

#[divan::bench(sample_count = 3)]
fn build_1m_one_by_one(bencher: Bencher) {
    let ranges: Vec<(Range, u32)> = world().iter().map(|(r, p)| (r, *p)).collect();
    bencher.bench(|| {
        let mut index = RangeIndex::new();
        for &(r, p) in &ranges {
            index.insert(r, p);
        }
        index.compact();
        index
    });
}

#[divan::bench]
fn random_lookups_1m(bencher: Bencher) {
    let index = world();
    let mut rng = StdRng::seed_from_u64(1);
    let probes: Vec<u32> = (0..100_000).map(|_| rng.random()).collect();
    bencher
        .counter(divan::counter::ItemsCount::new(probes.len()))
        .bench(|| {
            probes
                .iter()
                .filter(|&&ip| index.get(black_box(ip)).is_some())
                .count()
        });
}

#[divan::bench]
fn batch_of_1000(bencher: Bencher) {
    let index = world();
    let mut rng = StdRng::seed_from_u64(2);
    let start: u32 = rng.random_range(1 << 30..3 << 30);
    // A lattice-like batch: 1,000 ascending addresses 768 apart.
    let ips: Vec<u32> = (0..1000u32).map(|i| start + i * 768).collect();
    bencher.bench(|| {
        let mut hits = 0usize;
        index.for_each_sorted(black_box(&ips), |_, h| hits += usize::from(h.is_some()));
        hits
    });
}

/// Baseline from STACK.md: a sorted `Vec<(start, end)>` searched with `partition_point`
/// (disjoint ranges only: it cannot answer "most specific" for nested networks), over the same
/// number of segments as the index holds, probed with the same addresses.
#[divan::bench]
fn baseline_sorted_vec_lookups(bencher: Bencher) {
    let index = world();
    let mut segs: Vec<(u32, u32)> = Vec::new();
    let mut ip = 1u32 << 30;
    while ip < (1u32 << 30) + (62_500u32 << 14) {
        if let Some((r, _)) = index.get(ip) {
            segs.push((ip, r.end.min(ip + 511)));
        }
        ip += 512;
    }
    segs.dedup_by_key(|s| s.0);
    let mut rng = StdRng::seed_from_u64(1);
    let probes: Vec<u32> = (0..100_000).map(|_| rng.random()).collect();
    bencher
        .counter(divan::counter::ItemsCount::new(probes.len()))
        .bench(|| {
            probes
                .iter()
                .filter(|&&ip| {
                    let i = segs.partition_point(|s| s.0 <= black_box(ip));
                    i > 0 && segs[i - 1].1 >= ip
                })
                .count()
        });
}
