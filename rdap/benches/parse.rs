//! Parse throughput on the real fixtures (target: >= 20,000 responses/s per core).
//!
//! `cargo bench -p rdapfleet-rdap --bench parse`. Baseline in the same run: serde_json parsing
//! the same bodies into a `serde_json::Value` (JSON decoding alone, no normalization).

use std::path::Path;

use divan::counter::{BytesCount, ItemsCount};
use divan::{Bencher, black_box};

fn main() {
    divan::main();
}

/// Every IP-network fixture body (all five registries, 2015-2024 shapes, IPv4 and IPv6).
fn bodies() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out = Vec::new();
    for rir in ["afrinic", "apnic", "arin", "lacnic", "ripe"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(rir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for f in files {
            let b = std::fs::read(&f).unwrap();
            if rdapfleet_rdap::parse(&b).is_ok() {
                out.push(b);
            }
        }
    }
    assert_eq!(out.len(), 24);
    out
}

/// Our parser: one pass over all 24 network fixtures per iteration.
#[divan::bench]
fn parse_all_fixtures(bencher: Bencher) {
    let bodies = bodies();
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    bencher
        .counter(ItemsCount::new(bodies.len()))
        .counter(BytesCount::new(bytes))
        .bench(|| {
            for b in &bodies {
                black_box(rdapfleet_rdap::parse(black_box(b)).ok());
            }
        });
}

/// Baseline: serde_json into a Value, same bodies.
#[divan::bench]
fn baseline_serde_json_value(bencher: Bencher) {
    let bodies = bodies();
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    bencher
        .counter(ItemsCount::new(bodies.len()))
        .counter(BytesCount::new(bytes))
        .bench(|| {
            for b in &bodies {
                black_box(serde_json::from_slice::<serde_json::Value>(black_box(b)).ok());
            }
        });
}

/// The largest fixture (ARIN 13.64.0.0/11+, 15.8 KB, nested entities, three cidr0 prefixes).
#[divan::bench]
fn parse_largest_arin(bencher: Bencher) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let b = std::fs::read(root.join("arin/13.72.183.192__whoisit-2022.json")).unwrap();
    bencher
        .counter(ItemsCount::new(1usize))
        .bench(|| black_box(rdapfleet_rdap::parse(black_box(&b)).ok()));
}

/// Error bodies and junk are cheap to refuse.
#[divan::bench]
fn refuse_error_body(bencher: Bencher) {
    let body = br#"{"errorCode":404,"title":"Not Found","notices":[{"title":"Terms","description":["x"]}]}"#;
    bencher
        .counter(ItemsCount::new(1usize))
        .bench(|| black_box(rdapfleet_rdap::parse(black_box(body)).err()));
}
