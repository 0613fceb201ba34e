//! Helpers of the integration tests: an in-process simulator on a loopback port, clients, and
//! the URL convention.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdapfleet_ranges::parse_cidr;
use rdapfleet_rdap::Registry;
use rdapfleet_sim::dialect::base_url;
use rdapfleet_sim::{DataSource, SimConfig, World};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A running simulator.
pub struct Sim {
    pub addr: SocketAddr,
    pub origin: String,
    pub world: Arc<World>,
    shutdown: CancellationToken,
    task: JoinHandle<rdapfleet_sim::Result<()>>,
}

impl Sim {
    /// Bind 127.0.0.1:0 and serve `config` in this runtime.
    pub async fn start(config: SimConfig) -> Sim {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let world = config.world.clone();
        let task = tokio::spawn(rdapfleet_sim::run(listener, config, shutdown.clone()));
        Sim {
            addr,
            origin: format!("http://{addr}"),
            world,
            shutdown,
            task,
        }
    }

    /// The URL of an IP (or CIDR) query at a registry.
    pub fn url(&self, r: Registry, query: &str) -> String {
        format!("{}/ip/{query}", base_url(&self.origin, r))
    }

    /// Stop and wait for `run` to return (it flushes the request log).
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("run returns after shutdown")
            .expect("run task")
            .expect("run ok");
    }

    /// `GET /_sim/stats` (without the per-network list unless asked).
    pub async fn stats(&self, networks: bool) -> serde_json::Value {
        let url = format!(
            "{}/_sim/stats?networks={}",
            self.origin,
            if networks { 1 } else { 0 }
        );
        client()
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// A keep-alive client that follows redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// A client that returns redirects instead of following them.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A slice of the real world: delegations in these /8s (with transferred blocks, legacy
/// space, every registry).
pub fn real_slice() -> World {
    let only: Vec<_> = [
        "1.0.0.0/8",   // APNIC, with ARIN blocks (1.178/16)
        "2.0.0.0/8",   // RIPE NCC, with ARIN blocks (2.57.164/22)
        "3.0.0.0/8",   // ARIN legacy
        "41.0.0.0/8",  // AFRINIC
        "45.0.0.0/8",  // ARIN /8 split between all five (IANA 2016)
        "128.0.0.0/8", // ARIN legacy with ERX blocks at RIPE NCC
        "177.0.0.0/8", // LACNIC
        "196.0.0.0/8", // AFRINIC legacy
    ]
    .iter()
    .map(|c| parse_cidr(c).unwrap())
    .collect();
    World::load(&DataSource::Shipped, &only).unwrap()
}

/// Deterministic sample addresses: every network's first, last and middle address (at most
/// `max_nets` networks, evenly spread), the address after each, and fixed gaps.
pub fn sample_ips(world: &World, max_nets: usize) -> Vec<u32> {
    let nets = world.nets();
    let step = (nets.len() / max_nets.max(1)).max(1);
    let mut ips = Vec::new();
    for n in nets.iter().step_by(step) {
        let r = n.range;
        ips.push(r.start);
        ips.push(r.end);
        ips.push(r.start + ((r.end - r.start) / 2));
        ips.push(r.end.wrapping_add(1));
    }
    for g in ["4.4.4.4", "10.1.2.3", "3.200.0.1", "127.0.0.1", "240.0.0.1"] {
        ips.push(u32::from(g.parse::<Ipv4Addr>().unwrap()));
    }
    ips.sort_unstable();
    ips.dedup();
    ips
}

/// Poll `cond` until it holds or `deadline` passes.
pub async fn wait_until<F, Fut>(deadline: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        if cond().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
