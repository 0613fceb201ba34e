//! A small but complete crawl database for the report tests, made by the real coordinator
//! binary: a test worker leases batches over gRPC and answers from a little "world" of nested,
//! overlapping networks in two registries (with normalized and raw RDAP JSON like the real
//! worker's), settles some IPs as failed, leaves one batch pending, and sends telemetry.
//! Nothing is written to the database except through the coordinator.

#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rdapfleet_proto::v1::coordinator_client::CoordinatorClient;
use rdapfleet_proto::v1::{self as pb, outcome};
use serde_json::json;
use tonic::transport::Channel;

use crate::common::{self, hello};

/// Seed ranges of the fixture (1,280 IPs in 20 batches of 64).
pub const SEEDS: [&str; 2] = ["8.8.0.0/22", "41.0.0.0/24"];
/// Added with `add-range` once the crawl is complete, and never leased: 64 pending IPs.
pub const PENDING: &str = "9.9.9.0/26";

/// Coordinator flags for quick tests.
/// The `leaf` skip policy makes the crawl look up every non-assignment IP, so every network of
/// the world (nested and overlapping ones included) ends in the database.
pub const FLAGS: [&str; 8] = [
    "--lease-ttl",
    "30s",
    "--heartbeat-interval",
    "5s",
    "--poll-interval",
    "200ms",
    "--skip-policy",
    "leaf",
];

/// One network of the test world.
#[derive(Debug, Clone)]
pub struct WorldNet {
    /// First address.
    pub start: u32,
    /// Last address.
    pub end: u32,
    /// Registry.
    pub registry: &'static str,
    /// Handle.
    pub handle: &'static str,
    /// Registrant organisation.
    pub holder: &'static str,
    /// Country.
    pub country: &'static str,
    /// Abuse e-mail.
    pub abuse: &'static str,
    /// Registry type.
    pub kind: &'static str,
}

fn ip(s: &str) -> u32 {
    u32::from(s.parse::<Ipv4Addr>().expect("test address"))
}

/// The world: a /16 allocation holding two overlapping Google assignments and an unaligned
/// cloud block; half of 41.0.0.0/24 at AFRINIC, the other half unallocated.
pub fn world() -> Vec<WorldNet> {
    vec![
        WorldNet {
            start: ip("8.8.0.0"),
            end: ip("8.8.255.255"),
            registry: "arin",
            handle: "NET-8-8-0-0-1",
            holder: "Level 3 Parent, LLC",
            country: "US",
            abuse: "abuse@level3.example",
            kind: "DIRECT ALLOCATION",
        },
        WorldNet {
            start: ip("8.8.0.0"),
            end: ip("8.8.0.63"),
            registry: "arin",
            handle: "NET-8-8-0-0-2",
            holder: "Google LLC",
            country: "US",
            abuse: "network-abuse@google.example",
            kind: "ASSIGNED",
        },
        WorldNet {
            start: ip("8.8.0.32"),
            end: ip("8.8.0.95"),
            registry: "arin",
            handle: "NET-8-8-0-32-1",
            holder: "Google LLC",
            country: "US",
            abuse: "network-abuse@google.example",
            kind: "ASSIGNED",
        },
        WorldNet {
            start: ip("8.8.2.0"),
            end: ip("8.8.3.127"),
            registry: "arin",
            handle: "NET-8-8-2-0-1",
            holder: "Example Cloud\tInc",
            country: "CA",
            abuse: "abuse@cloud.example",
            kind: "REASSIGNED",
        },
        WorldNet {
            start: ip("41.0.0.0"),
            end: ip("41.0.0.127"),
            registry: "afrinic",
            handle: "41.0.0.0 - 41.0.0.127",
            holder: "Example Africa",
            country: "ZA",
            abuse: "abuse@africa.example",
            kind: "ASSIGNED PA",
        },
    ]
}

/// The most specific world network holding `ip` (smallest; on a tie the later start).
pub fn world_answer(world: &[WorldNet], ip: u32) -> Option<&WorldNet> {
    world
        .iter()
        .filter(|n| n.start <= ip && ip <= n.end)
        .min_by_key(|n| (u64::from(n.end - n.start), std::cmp::Reverse(n.start)))
}

/// IPs that fail for good.
pub fn fails(ip: u32) -> bool {
    ip % 64 == 13
}

/// The normalized network JSON the real worker would send.
pub fn network_json(n: &WorldNet) -> String {
    let cidrs: Vec<String> = rdapfleet_ranges::range::to_cidrs(n.start, n.end)
        .iter()
        .map(ToString::to_string)
        .collect();
    json!({
        "start_address": Ipv4Addr::from(n.start).to_string(),
        "end_address": Ipv4Addr::from(n.end).to_string(),
        "cidrs": cidrs,
        "handle": n.handle,
        "name": n.handle.replace(' ', ""),
        "type": n.kind,
        "country": n.country,
        "parent_handle": null,
        "status": ["active"],
        "registry": n.registry,
        "origin_asns": [15169],
        "registrant": n.holder,
        "abuse_emails": [n.abuse],
        "registration_date": "2014-03-14T16:52:05-04:00",
        "last_changed_date": "2024-01-02T03:04:05Z",
        "source_url": format!("https://rdap.{}.example/ip/{}", n.registry, Ipv4Addr::from(n.start)),
        "ip_version": "v4",
        "leaf": n.kind.starts_with("ASSIGNED"),
    })
    .to_string()
}

/// A raw RDAP body with events, remarks, links and nested entities carrying vCards.
pub fn raw_json(n: &WorldNet) -> String {
    json!({
        "objectClassName": "ip network",
        "handle": n.handle,
        "startAddress": Ipv4Addr::from(n.start).to_string(),
        "endAddress": Ipv4Addr::from(n.end).to_string(),
        "ipVersion": "v4",
        "type": n.kind,
        "country": n.country,
        "events": [
            {"eventAction": "registration", "eventDate": "2014-03-14T16:52:05-04:00"},
            {"eventAction": "last changed", "eventDate": "2024-01-02T03:04:05Z"}
        ],
        "remarks": [{"title": "Registration Comments", "description": ["first line", "second line"]}],
        "links": [{"rel": "self", "href": format!("https://rdap.{}.example/ip/{}", n.registry, Ipv4Addr::from(n.start))}],
        "entities": [{
            "objectClassName": "entity",
            "handle": format!("ORG-{}", n.handle.replace(' ', "")),
            "roles": ["registrant"],
            "vcardArray": ["vcard", [
                ["version", {}, "text", "4.0"],
                ["fn", {}, "text", n.holder],
                ["kind", {}, "text", "org"],
                ["adr", {"label": "1 Example Street\nSpringfield"}, "text", ["", "", "", "", "", "", ""]]
            ]],
            "entities": [{
                "objectClassName": "entity",
                "handle": format!("ABUSE-{}", n.handle.replace(' ', "")),
                "roles": ["abuse"],
                "vcardArray": ["vcard", [
                    ["version", {}, "text", "4.0"],
                    ["fn", {}, "text", "Abuse desk"],
                    ["email", {}, "text", n.abuse],
                    ["tel", {"type": ["work", "voice"]}, "uri", "tel:+1-555-0100"]
                ]]
            }]
        }]
    })
    .to_string()
}

/// Unix ms now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A test worker that answers from the world; skips inside assignments it found itself.
pub struct Crawler {
    /// gRPC client.
    pub client: CoordinatorClient<Channel>,
    /// Worker id.
    pub id: String,
    world: Vec<WorldNet>,
    known: Vec<(u32, u32)>,
}

impl Crawler {
    /// Say Hello as `id`.
    pub async fn start(addr: SocketAddr, id: &str) -> Self {
        let mut client = common::client(addr).await;
        hello(&mut client, id).await;
        Self {
            client,
            id: id.into(),
            world: world(),
            known: Vec::new(),
        }
    }

    fn answer(&mut self, ip: u32) -> pb::Outcome {
        let at_ms = now_ms();
        let kind = if fails(ip) {
            outcome::Kind::Failed(pb::Failed {
                reason: "timeout after 3 attempts".into(),
                retryable: false,
                registry: "arin".into(),
            })
        } else if let Some(&(s, e)) = self
            .known
            .iter()
            .filter(|(s, e)| *s <= ip && ip <= *e)
            .min_by_key(|(s, e)| e - s)
        {
            outcome::Kind::Skipped(pb::Skipped { start: s, end: e })
        } else if let Some(n) = world_answer(&self.world, ip).cloned() {
            if n.kind.starts_with("ASSIGNED") {
                self.known.push((n.start, n.end));
            }
            outcome::Kind::Found(pb::Found {
                start: n.start,
                end: n.end,
                network_json: network_json(&n).into_bytes(),
                raw_json: raw_json(&n).into_bytes(),
                redirects: u32::from(n.registry == "afrinic"),
            })
        } else {
            outcome::Kind::NotFound(pb::NotFound {
                registry: "afrinic".into(),
            })
        };
        pb::Outcome {
            ip,
            at_ms,
            kind: Some(kind),
        }
    }

    /// Lease, answer, report and complete until the crawl is complete; returns the number of
    /// leases (batches inside known assignments are settled by the coordinator unleased).
    pub async fn crawl(&mut self) -> usize {
        let mut done = 0;
        loop {
            let lease = self
                .client
                .lease(pb::LeaseRequest {
                    worker_id: self.id.clone(),
                    max_batches: 1,
                })
                .await
                .expect("lease")
                .into_inner();
            if lease.crawl_complete {
                return done;
            }
            let Some(l) = lease.leases.into_iter().next() else {
                panic!("no batch to lease after {done} leases, crawl not complete");
            };
            let outcomes: Vec<pb::Outcome> = l.ips.iter().map(|&ip| self.answer(ip)).collect();
            let r = self
                .client
                .report_outcomes(pb::ReportOutcomesRequest {
                    worker_id: self.id.clone(),
                    lease_id: l.lease_id,
                    outcomes,
                })
                .await
                .expect("report")
                .into_inner();
            assert_eq!(r.accepted as usize, l.ips.len(), "{r:?}");
            self.client
                .complete_batch(pb::CompleteBatchRequest {
                    worker_id: self.id.clone(),
                    lease_id: l.lease_id,
                })
                .await
                .expect("complete");
            done += 1;
        }
    }
}

/// One registry's counters in a sample.
pub fn counters(registry: &str, requests: u64, found: u64, p99: u32) -> pb::RegistryCounters {
    pb::RegistryCounters {
        registry: registry.into(),
        requests,
        found,
        not_found: requests / 10,
        failed: 1,
        rate_limited: 2,
        redirects: 3,
        latency_p50_ms: p99 / 4,
        latency_p90_ms: p99 / 2,
        latency_p99_ms: p99,
        latency_max_ms: p99 * 2,
    }
}

/// Send one telemetry sample as `worker`.
pub async fn send_sample(
    client: &mut CoordinatorClient<Channel>,
    worker: &str,
    start_ms: i64,
    end_ms: i64,
    skipped: u64,
    registries: Vec<pb::RegistryCounters>,
    last: bool,
) {
    client
        .report_telemetry(pb::ReportTelemetryRequest {
            worker_id: worker.into(),
            sample: Some(pb::TelemetrySample {
                period_start_ms: start_ms,
                period_end_ms: end_ms,
                skipped,
                queued: 5,
                in_flight: 2,
                registries,
                r#final: last,
            }),
        })
        .await
        .expect("telemetry");
}

/// A crawl database: the seed file, crawled by the real coordinator until one batch is left.
pub struct Fixture {
    /// Temp dir holding the database.
    pub dir: tempfile::TempDir,
    /// The database.
    pub db: PathBuf,
}

/// Seed file in a new temp dir.
pub fn seed() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = rdapfleet_testkit::seed_file(dir.path(), &SEEDS, 64);
    Fixture { dir, db }
}

/// Queue [`PENDING`] with the real `add-range` command.
pub fn add_pending(db: &Path) {
    let out = assert_cmd::Command::cargo_bin(crate::common::BIN)
        .expect("binary built")
        .args(["add-range", PENDING, "--stride-prefix", "32", "--db"])
        .arg(db)
        .output()
        .expect("add-range");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Number of batches of the fixture's seed file.
pub fn batch_count(db: &Path) -> usize {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open");
    conn.query_row("SELECT count(*) FROM batches", [], |r| r.get::<_, i64>(0))
        .expect("count") as usize
}
