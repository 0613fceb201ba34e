//! The client against a real HTTP server on loopback (tests/common): redirects, 429s, notices,
//! 5xx, timeouts, body cap, malformed answers, not found, the circuit breaker, and rate limits
//! and backoff at exact instants of paused tokio time.

mod common;

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use common::{Reply, Server, client, fixture, test_config};
use rdapfleet_rdap::breaker::{BreakerConfig, BreakerState};
use rdapfleet_rdap::{Bootstrap, LookupOutcome, RateTarget, Rates, Registry};
use tokio::time::Instant;

const ARIN_PATH: &str = "/arin/registry/ip/3.3.3.3";
const ARIN_BODY: &str = "arin/3.3.3.3__rdap_client-2022.json";
const RIPE_BODY: &str = "ripe/193.0.6.139__rdap_client-2022.json";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn found(o: &LookupOutcome) -> (&rdapfleet_rdap::Network, u32, Option<Registry>, &str) {
    match o {
        LookupOutcome::Found {
            network,
            redirects,
            registry,
            url,
            ..
        } => (network, *redirects, *registry, url),
        other => panic!("expected found, got {other:?}"),
    }
}

fn failed(o: &LookupOutcome) -> (String, bool) {
    match o {
        LookupOutcome::Failed {
            reason, retryable, ..
        } => (reason.clone(), *retryable),
        other => panic!("expected failed, got {other:?}"),
    }
}

#[tokio::test]
async fn found_keeps_raw_json_sends_accept_and_reuses_the_connection() {
    let s = Server::start();
    let body = fixture(ARIN_BODY);
    s.route(ARIN_PATH, vec![Reply::json(200, body.clone())]);
    let c = client(&s, test_config());
    for _ in 0..3 {
        let o = c.lookup(ip("3.3.3.3")).await;
        let (n, redirects, registry, url) = found(&o);
        assert_eq!(n.start_address, "3.0.0.0");
        assert_eq!(n.registry, Some(Registry::Arin));
        assert_eq!(n.source_url.as_deref(), Some(url));
        assert_eq!((redirects, registry), (0, Some(Registry::Arin)));
        assert_eq!(url, s.url(ARIN_PATH));
        let LookupOutcome::Found { raw, .. } = &o else {
            unreachable!()
        };
        let served: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let kept: serde_json::Value = serde_json::from_str(raw.get()).unwrap();
        assert_eq!(served, kept);
    }
    let hits = s.hits();
    assert_eq!(hits.len(), 3);
    assert!(
        hits[0]
            .accept
            .as_deref()
            .unwrap()
            .starts_with("application/rdap+json")
    );
    // Pooled keep-alive: one TCP connection for all three.
    assert!(hits.iter().all(|h| h.peer == hits[0].peer), "{hits:?}");
    let stats = c.stats();
    let arin = stats
        .iter()
        .find(|(t, _)| *t == RateTarget::Registry(Registry::Arin))
        .unwrap()
        .1;
    assert_eq!((arin.requests, arin.found), (3, 3));
    assert_eq!(
        c.drain_latencies(RateTarget::Registry(Registry::Arin))
            .len(),
        3
    );
}

#[tokio::test]
async fn every_redirect_code_is_followed_across_registries() {
    // The test bootstrap sends 193.0.6.0/24 to ARIN (as if transferred), and ARIN redirects
    // to RIPE NCC, which holds it.
    for code in [301u16, 302, 303, 307, 308] {
        let s = Server::start();
        s.route(
            "/arin/registry/ip/193.0.6.139",
            vec![Reply::redirect(code, s.url("/ripencc/ip/193.0.6.139"))],
        );
        s.route(
            "/ripencc/ip/193.0.6.139",
            vec![Reply::json(200, fixture(RIPE_BODY))],
        );
        let c = client(&s, test_config());
        let o = c.lookup(ip("193.0.6.139")).await;
        let (n, redirects, registry, url) = found(&o);
        assert_eq!(redirects, 1, "{code}");
        assert_eq!(registry, Some(Registry::RipeNcc), "{code}");
        assert_eq!(n.registry, Some(Registry::RipeNcc), "{code}");
        assert_eq!(url, s.url("/ripencc/ip/193.0.6.139"));
        assert_eq!(n.start_address, "193.0.0.0");
        let stats = c.stats();
        let get = |r| {
            stats
                .iter()
                .find(|(t, _)| *t == RateTarget::Registry(r))
                .unwrap()
                .1
        };
        assert_eq!(
            (get(Registry::Arin).redirects, get(Registry::Arin).requests),
            (1, 1)
        );
        assert_eq!(
            (
                get(Registry::RipeNcc).found,
                get(Registry::RipeNcc).requests
            ),
            (1, 1)
        );
    }
}

#[tokio::test]
async fn relative_locations_and_exactly_five_redirects_are_fine() {
    let s = Server::start();
    s.route(ARIN_PATH, vec![Reply::redirect(302, "/apnic/hop/1")]);
    for i in 1..5 {
        s.route(
            &format!("/apnic/hop/{i}"),
            vec![Reply::redirect(307, format!("/apnic/hop/{}", i + 1))],
        );
    }
    s.route("/apnic/hop/5", vec![Reply::json(200, fixture(ARIN_BODY))]);
    let c = client(&s, test_config());
    let o = c.lookup(ip("3.3.3.3")).await;
    let (_, redirects, registry, _) = found(&o);
    assert_eq!((redirects, registry), (5, Some(Registry::Apnic)));
}

#[tokio::test]
async fn too_many_redirects_fail_without_retry() {
    let s = Server::start();
    s.route(ARIN_PATH, vec![Reply::redirect(302, "/apnic/hop/1")]);
    for i in 1..=6 {
        s.route(
            &format!("/apnic/hop/{i}"),
            vec![Reply::redirect(302, format!("/apnic/hop/{}", i + 1))],
        );
    }
    let c = client(&s, test_config());
    let o = c.lookup(ip("3.3.3.3")).await;
    let (reason, retryable) = failed(&o);
    assert!(
        reason.contains("too many redirects (more than 5)"),
        "{reason}"
    );
    assert!(!retryable);
    assert_eq!(s.hits().len(), 6, "one attempt only");
}

#[tokio::test]
async fn redirect_loops_are_detected() {
    let s = Server::start();
    s.route(
        ARIN_PATH,
        vec![Reply::redirect(301, s.url("/ripencc/ip/3.3.3.3"))],
    );
    s.route(
        "/ripencc/ip/3.3.3.3",
        vec![Reply::redirect(302, s.url(ARIN_PATH))],
    );
    let c = client(&s, test_config());
    let o = c.lookup(ip("3.3.3.3")).await;
    let (reason, retryable) = failed(&o);
    assert!(reason.starts_with("redirect loop: "), "{reason}");
    assert!(reason.contains("/ripencc/ip/3.3.3.3 -> "), "{reason}");
    assert!(!retryable);
    assert_eq!(s.hits().len(), 2);
}

#[tokio::test]
async fn redirect_without_location_fails() {
    let s = Server::start();
    s.route(
        ARIN_PATH,
        vec![Reply::Body {
            status: 302,
            headers: vec![],
            body: vec![],
        }],
    );
    let c = client(&s, test_config());
    let (reason, retryable) = failed(&c.lookup(ip("3.3.3.3")).await);
    assert!(reason.contains("without a usable Location"), "{reason}");
    assert!(!retryable);
}

#[tokio::test(start_paused = true)]
async fn retry_after_seconds_pauses_the_registry() {
    let s = Server::start();
    s.route(
        ARIN_PATH,
        vec![
            Reply::json(429, "{}").with_header("retry-after", "30"),
            Reply::json(200, fixture(ARIN_BODY)),
        ],
    );
    let c = client(&s, test_config());
    let t0 = Instant::now();
    let o = c.lookup(ip("3.3.3.3")).await;
    found(&o);
    assert_eq!(t0.elapsed(), Duration::from_secs(30));
    assert_eq!(s.hit_count(ARIN_PATH), 2);
    let arin = c.stats()[0].1;
    assert_eq!((arin.rate_limited, arin.requests, arin.found), (1, 2, 1));
}

#[tokio::test(start_paused = true)]
async fn retry_after_http_date_pauses_the_registry() {
    let s = Server::start();
    let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(45));
    s.route(
        ARIN_PATH,
        vec![
            Reply::json(429, "{}").with_header("retry-after", at),
            Reply::json(200, fixture(ARIN_BODY)),
        ],
    );
    let c = client(&s, test_config());
    let t0 = Instant::now();
    found(&c.lookup(ip("3.3.3.3")).await);
    // HTTP dates have whole seconds: the wait is in (44 s, 45 s].
    let e = t0.elapsed();
    assert!(
        e > Duration::from_secs(43) && e <= Duration::from_secs(45),
        "{e:?}"
    );
    assert_eq!(s.hit_count(ARIN_PATH), 2);
}

#[tokio::test(start_paused = true)]
async fn long_retry_after_fails_fast_and_keeps_the_pause() {
    let s = Server::start();
    s.route(
        ARIN_PATH,
        vec![Reply::json(429, "{}").with_header("retry-after", "3600")],
    );
    s.route(
        "/lacnic/rdap/ip/200.57.141.161",
        vec![Reply::json(
            200,
            fixture("lacnic/200.57.141.161__ipwhois-2015.json"),
        )],
    );
    let c = client(&s, test_config());
    let t0 = Instant::now();
    let (reason, retryable) = failed(&c.lookup(ip("3.3.3.3")).await);
    assert!(retryable);
    assert!(reason.contains("arin is paused for 3600.0s"), "{reason}");
    assert_eq!(t0.elapsed(), Duration::ZERO);
    assert_eq!(
        c.paused_until(Some(Registry::Arin)),
        Some(t0 + Duration::from_secs(3600))
    );
    // Another registry is not held back.
    found(&c.lookup(ip("200.57.141.161")).await);
    assert_eq!(t0.elapsed(), Duration::ZERO);
    // Nor is arin asked again while paused.
    let _ = c.lookup(ip("3.3.3.3")).await;
    assert_eq!(s.hit_count(ARIN_PATH), 1);
}

#[tokio::test(start_paused = true)]
async fn without_retry_after_backs_off_exponentially() {
    let s = Server::start();
    s.route(
        ARIN_PATH,
        vec![
            Reply::json(429, "{}"),
            Reply::json(429, "{}"),
            Reply::json(429, "{}"),
            Reply::json(200, fixture(ARIN_BODY)),
        ],
    );
    let mut cfg = test_config();
    cfg.max_attempts = 4;
    let c = client(&s, cfg);
    let t0 = Instant::now();
    found(&c.lookup(ip("3.3.3.3")).await);
    // Requests at 0 s, 1 s, 1+2 s, 3+4 s.
    assert_eq!(t0.elapsed(), Duration::from_secs(7));
    assert_eq!(s.hit_count(ARIN_PATH), 4);
    // Success resets the backoff: the next 429 pauses 1 s again.
    s.route(
        ARIN_PATH,
        vec![Reply::json(429, "{}"), Reply::json(200, fixture(ARIN_BODY))],
    );
    let t1 = Instant::now();
    found(&c.lookup(ip("3.3.3.3")).await);
    assert_eq!(t1.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn rate_limit_exhaustion_is_a_retryable_failure() {
    let s = Server::start();
    s.route(ARIN_PATH, vec![Reply::json(429, "{}")]);
    let c = client(&s, test_config());
    let t0 = Instant::now();
    let o = c.lookup(ip("3.3.3.3")).await;
    let (reason, retryable) = failed(&o);
    assert!(retryable);
    assert!(reason.contains("rate limited (HTTP 429)"), "{reason}");
    assert!(reason.contains("gave up after 3 attempts"), "{reason}");
    // Requests at 0 s, 1 s, 3 s; the registry stays paused until 3 + 4 s.
    assert_eq!(t0.elapsed(), Duration::from_secs(3));
    assert_eq!(
        c.paused_until(Some(Registry::Arin)),
        Some(t0 + Duration::from_secs(7))
    );
    let arin = c.stats()[0].1;
    assert_eq!((arin.rate_limited, arin.failed), (3, 1));
}

#[tokio::test(start_paused = true)]
async fn lacnic_rate_limit_notice_is_a_429() {
    let s = Server::start();
    let path = "/lacnic/rdap/ip/200.57.141.161";
    s.route(
        path,
        vec![
            Reply::json(
                200,
                r#"{"title":"Rate Limit Notice","description":["Rate Limit is maxed at 10 queries per 1 minutes."]}"#,
            ),
            Reply::json(200, fixture("lacnic/200.57.141.161__ipwhois-2015.json")),
        ],
    );
    let c = client(&s, test_config());
    let t0 = Instant::now();
    let o = c.lookup(ip("200.57.141.161")).await;
    let (n, _, registry, _) = found(&o);
    assert_eq!(registry, Some(Registry::Lacnic));
    assert_eq!(n.cidrs, ["200.57.141.161/32"]);
    assert_eq!(t0.elapsed(), Duration::from_secs(1));
    let lacnic = c
        .stats()
        .into_iter()
        .find(|(t, _)| *t == RateTarget::Registry(Registry::Lacnic))
        .unwrap()
        .1;
    assert_eq!((lacnic.rate_limited, lacnic.requests), (1, 2));
}

#[tokio::test(start_paused = true)]
async fn server_errors_are_retried_after_backoff() {
    let s = Server::start();
    s.route(
        ARIN_PATH,
        vec![
            Reply::json(503, "down"),
            Reply::json(502, "<html>bad gateway</html>"),
            Reply::json(200, fixture(ARIN_BODY)),
        ],
    );
    let c = client(&s, test_config());
    let t0 = Instant::now();
    found(&c.lookup(ip("3.3.3.3")).await);
    // Requests at 0 s, 1 s, 1+2 s.
    assert_eq!(t0.elapsed(), Duration::from_secs(3));
    assert_eq!(
        c.breaker_state(Some(Registry::Arin)),
        BreakerState::Closed { failures: 0 }
    );
}

#[tokio::test(start_paused = true)]
async fn persistent_server_errors_fail_retryable() {
    let s = Server::start();
    s.route(ARIN_PATH, vec![Reply::json(500, "")]);
    let c = client(&s, test_config());
    let (reason, retryable) = failed(&c.lookup(ip("3.3.3.3")).await);
    assert!(retryable);
    assert!(reason.contains("HTTP 500"), "{reason}");
}

#[tokio::test(start_paused = true)]
async fn absurd_retry_after_on_server_errors_saturates() {
    for value in [
        "99999999999999999999".to_string(),
        "Fri, 31 Dec 9999 23:59:59 GMT".to_string(),
    ] {
        let s = Server::start();
        s.route(
            ARIN_PATH,
            vec![Reply::json(503, "down").with_header("retry-after", value.clone())],
        );
        let c = client(&s, test_config());
        let asked = Instant::now();
        let (reason, retryable) = failed(&c.lookup(ip("3.3.3.3")).await);
        // The retry after the 503 finds ARIN paused for longer than the lookup may wait.
        assert!(retryable, "{value}: {reason}");
        assert!(reason.contains("arin is paused for"), "{value}: {reason}");
        assert_eq!(s.hit_count(ARIN_PATH), 1, "{value}");
        // Paused for the longest wait a Retry-After may ask for, not for centuries.
        let until = c.paused_until(Some(Registry::Arin)).expect("ARIN paused");
        let max = rdapfleet_rdap::retry_after::MAX_RETRY_AFTER;
        assert!(
            until - asked >= max && until - asked < max + Duration::from_secs(1),
            "{value}: paused for {:?}",
            until - asked
        );
    }
}

#[tokio::test]
async fn an_answer_about_another_address_is_not_a_network() {
    let s = Server::start();
    // ARIN answers the question about 3.3.3.3 with RIPE NCC's 193.0.0.0/21 network.
    s.route(ARIN_PATH, vec![Reply::json(200, fixture(RIPE_BODY))]);
    let c = client(&s, test_config());
    let (reason, retryable) = failed(&c.lookup(ip("3.3.3.3")).await);
    assert!(!retryable, "{reason}");
    assert!(reason.contains("does not contain 3.3.3.3"), "{reason}");
    let arin = c.stats()[0].1;
    assert_eq!((arin.found, arin.failed), (0, 1));
}

#[tokio::test(start_paused = true)]
async fn circuit_breaker_opens_then_probes() {
    let s = Server::start();
    s.route(ARIN_PATH, vec![Reply::json(500, "")]);
    let mut cfg = test_config();
    cfg.max_attempts = 1;
    cfg.breaker = BreakerConfig {
        failure_threshold: 2,
        cool_down: Duration::from_secs(60),
        max_cool_down: Duration::from_secs(60),
    };
    let c = client(&s, cfg);
    let t0 = Instant::now();
    for _ in 0..2 {
        failed(&c.lookup(ip("3.3.3.3")).await);
    }
    assert!(matches!(
        c.breaker_state(Some(Registry::Arin)),
        BreakerState::Open { .. }
    ));
    // Open: refused without a request.
    let (reason, retryable) = failed(&c.lookup(ip("3.3.3.3")).await);
    assert!(
        retryable && reason.contains("circuit open for arin"),
        "{reason}"
    );
    assert_eq!(s.hit_count(ARIN_PATH), 2);
    // After the cool-down one probe goes; it fails: open again for a full cool-down.
    tokio::time::sleep_until(t0 + Duration::from_secs(60)).await;
    failed(&c.lookup(ip("3.3.3.3")).await);
    assert_eq!(s.hit_count(ARIN_PATH), 3);
    failed(&c.lookup(ip("3.3.3.3")).await);
    assert_eq!(s.hit_count(ARIN_PATH), 3);
    // Next probe succeeds: closed.
    s.route(ARIN_PATH, vec![Reply::json(200, fixture(ARIN_BODY))]);
    tokio::time::sleep_until(t0 + Duration::from_secs(120)).await;
    found(&c.lookup(ip("3.3.3.3")).await);
    assert_eq!(
        c.breaker_state(Some(Registry::Arin)),
        BreakerState::Closed { failures: 0 }
    );
    found(&c.lookup(ip("3.3.3.3")).await);
    assert_eq!(s.hit_count(ARIN_PATH), 5);
}

#[tokio::test]
async fn timeouts_are_retryable_failures() {
    let s = Server::start();
    s.route(
        ARIN_PATH,
        vec![Reply::Delay(
            Duration::from_secs(5),
            Box::new(Reply::json(200, fixture(ARIN_BODY))),
        )],
    );
    let mut cfg = test_config();
    cfg.timeout = Some(Duration::from_millis(200));
    cfg.max_attempts = 1;
    let c = client(&s, cfg);
    let t0 = std::time::Instant::now();
    let (reason, retryable) = failed(&c.lookup(ip("3.3.3.3")).await);
    assert!(retryable);
    assert!(reason.contains("timed out"), "{reason}");
    assert!(t0.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn connection_refused_is_retryable() {
    // A port that was just free: nobody listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let json =
        format!(r#"{{"services":[[["3.0.0.0/8"],["http://127.0.0.1:{port}/arin/registry/"]]]}}"#);
    let mut cfg = test_config();
    cfg.max_attempts = 1;
    let c =
        rdapfleet_rdap::RdapClient::new(Bootstrap::from_json("t", json.as_bytes()).unwrap(), cfg)
            .unwrap();
    let (reason, retryable) = failed(&c.lookup(ip("3.3.3.3")).await);
    assert!(retryable);
    assert!(reason.contains("connection failed"), "{reason}");
}

#[tokio::test]
async fn oversized_bodies_fail_at_once_but_retryable_later() {
    let s = Server::start();
    // Declared by Content-Length.
    s.route(ARIN_PATH, vec![Reply::json(200, vec![b' '; (1 << 20) + 1])]);
    // Streamed without a length.
    s.route(
        "/apnic/ip/1.1.1.1",
        vec![Reply::Stream {
            chunks: 40,
            size: 64 << 10,
        }],
    );
    let c = client(&s, test_config());
    for addr in ["3.3.3.3", "1.1.1.1"] {
        let (reason, retryable) = failed(&c.lookup(ip(addr)).await);
        assert!(retryable, "{addr}: the coordinator asks again later");
        assert!(
            reason.contains("body larger than 1048576 bytes"),
            "{addr}: {reason}"
        );
    }
    assert_eq!(s.hits().len(), 2);
    // Exactly at the cap is fine (a real answer padded with blanks).
    let mut body = fixture(ARIN_BODY);
    body.resize(1 << 20, b' ');
    s.route(ARIN_PATH, vec![Reply::json(200, body)]);
    found(&c.lookup(ip("3.3.3.3")).await);
}

#[tokio::test]
async fn malformed_answers_fail_without_retry() {
    let s = Server::start();
    let full = fixture(ARIN_BODY);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (full[..full.len() / 2].to_vec(), "truncated JSON"),
        (
            b"<html><body>Service Unavailable</body></html>".to_vec(),
            "HTML page",
        ),
        (
            fixture("apnic/errors/400-bad-request__rdap_client-2022.json"),
            "RDAP error 400",
        ),
        (
            br#"{"objectClassName":"entity","handle":"X"}"#.to_vec(),
            "objectClassName",
        ),
    ];
    let c = client(&s, test_config());
    for (body, says) in cases {
        s.route(ARIN_PATH, vec![Reply::json(200, body)]);
        let (reason, retryable) = failed(&c.lookup(ip("3.3.3.3")).await);
        // Only a cut transfer is worth asking again (later, by the coordinator).
        assert_eq!(retryable, says == "truncated JSON", "{says}");
        assert!(reason.contains(says), "{says}: {reason}");
    }
    // A 400 answer is not retried either, and says what the server said.
    s.route(
        ARIN_PATH,
        vec![Reply::json(
            400,
            fixture("apnic/errors/400-bad-request__rdap_client-2022.json"),
        )],
    );
    let (reason, retryable) = failed(&c.lookup(ip("3.3.3.3")).await);
    assert!(!retryable);
    assert!(
        reason.contains("HTTP 400 Bad Request") && reason.contains("malformed syntax"),
        "{reason}"
    );
}

#[tokio::test]
async fn not_found_is_an_outcome() {
    let s = Server::start();
    s.route(
        "/ripencc/ip/193.9.9.9",
        vec![Reply::json(
            404,
            fixture("ripe/errors/404-nameservers-not-found__rdap_client-2022.json"),
        )],
    );
    let c = client(&s, test_config());
    match c.lookup(ip("193.9.9.9")).await {
        LookupOutcome::NotFound {
            registry,
            redirects,
            url,
        } => {
            assert_eq!(registry, Some(Registry::RipeNcc));
            assert_eq!(redirects, 0);
            assert_eq!(url, s.url("/ripencc/ip/193.9.9.9"));
        }
        other => panic!("{other:?}"),
    }
    // Unrouted path on the test server: a plain 404 too. Address outside the bootstrap: failed.
    assert!(matches!(
        c.lookup(ip("41.1.1.1")).await,
        LookupOutcome::NotFound {
            registry: Some(Registry::Afrinic),
            ..
        }
    ));
    let (reason, retryable) = failed(&c.lookup(ip("10.0.0.1")).await);
    assert!(
        !retryable && reason.contains("no RDAP service for 10.0.0.1"),
        "{reason}"
    );
    let ripe = c
        .stats()
        .into_iter()
        .find(|(t, _)| *t == RateTarget::Registry(Registry::RipeNcc))
        .unwrap()
        .1;
    assert_eq!(ripe.not_found, 1);
}

#[tokio::test(start_paused = true)]
async fn rate_limits_space_requests_per_registry_at_exact_instants() {
    let s = Server::start();
    s.route(ARIN_PATH, vec![Reply::json(200, fixture(ARIN_BODY))]);
    s.route(
        "/lacnic/rdap/ip/200.57.141.161",
        vec![Reply::json(
            200,
            fixture("lacnic/200.57.141.161__ipwhois-2015.json"),
        )],
    );
    let mut cfg = test_config();
    cfg.rates = Rates::with_overrides(["arin=2/s", "lacnic=10/min,1000/h"]).unwrap();
    let c = client(&s, cfg);
    let t0 = Instant::now();
    let mut arin = Vec::new();
    for _ in 0..3 {
        found(&c.lookup(ip("3.3.3.3")).await);
        arin.push(t0.elapsed().as_millis());
    }
    assert_eq!(arin, [0, 500, 1000]);
    // LACNIC has its own limiter: its first request is not held back by ARIN's.
    let t1 = Instant::now();
    let mut lacnic = Vec::new();
    for _ in 0..3 {
        found(&c.lookup(ip("200.57.141.161")).await);
        lacnic.push(t1.elapsed().as_millis());
    }
    assert_eq!(lacnic, [0, 6000, 12000]);

    // Concurrent lookups queue on the limiter and leave at the same spacing.
    let t2 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            found(&c.lookup(ip("200.57.141.161")).await);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(t2.elapsed().as_millis(), 18000);
}

#[tokio::test]
async fn bootstrap_loads_over_loopback_http() {
    let s = Server::start();
    s.route(
        "/bootstrap/ipv4.json",
        vec![Reply::json(200, s.bootstrap_json())],
    );
    let b = Bootstrap::load(&s.url("/bootstrap/ipv4.json"))
        .await
        .unwrap();
    assert_eq!(b.ipv4_prefix_count(), 6);
    let (r, u) = b.base_url_for(ip("200.1.2.3")).unwrap();
    assert_eq!(r, Some(Registry::Lacnic));
    assert_eq!(u.as_str(), s.url("/lacnic/rdap/"));
    let e = Bootstrap::load(&s.url("/missing.json"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("HTTP 404"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("b.json");
    std::fs::write(&f, s.bootstrap_json()).unwrap();
    assert_eq!(
        Bootstrap::load(f.to_str().unwrap())
            .await
            .unwrap()
            .ipv4_prefix_count(),
        6
    );
    let e = Bootstrap::load(dir.path().join("nope.json").to_str().unwrap())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot read"), "{e}");
}
