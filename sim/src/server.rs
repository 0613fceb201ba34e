//! The HTTP side: one listener, one path prefix per registry, each with its real base path
//! (`/arin/registry/ip/…`, `/ripencc/ip/…`, `/apnic/ip/…`, `/lacnic/rdap/ip/…`,
//! `/afrinic/rdap/ip/…`), plus `GET /_sim/stats[?reset=1][&networks=0]` and
//! `GET /_sim/bootstrap.json`.
//!
//! A query at registry R, in this order: outage window (close the connection without an
//! answer, or 503), rate limit for the client address (429 + Retry-After; LACNIC: its "Rate
//! Limit Notice" body with `--lacnic-limit-status`), injected 500, injected delay, then the
//! answer: the most specific network containing the address (or the whole `/ip/a.b.c.d/len`
//! prefix) — 200 in R's dialect when R holds it, a redirect to the holder's URL for the same
//! query when another registry does, 404 when nothing does; 400 for what is not an address.
//! 200 bodies may then be truncated or padded beyond 1 MiB.
//!
//! Connections are served by hyper (HTTP/1.1, keep-alive) in our own accept loop, so that a
//! refused request can drop its connection; routing and responses are axum's.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use axum::routing::get;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rdapfleet_ranges::{Range, parse_cidr};
use rdapfleet_rdap::Registry;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::bootstrap::bootstrap;
use crate::config::{OutageMode, SimConfig};
use crate::dialect::{self, Answer, base_url};
use crate::error::{Error, Result};
use crate::faults;
use crate::limits::{Limiter, Verdict};
use crate::names;
use crate::reqlog::{LogLine, RequestLog};
use crate::stats::{FaultKind, Stats};

/// What every request handler shares.
struct Shared {
    config: SimConfig,
    limiter: Limiter,
    stats: Stats,
    log: Mutex<Option<RequestLog>>,
    started: Instant,
    requests: AtomicU64,
    local_origin: String,
}

/// Per connection: the peer, and a token that drops the connection unanswered.
#[derive(Clone)]
struct Conn {
    peer: SocketAddr,
    kill: CancellationToken,
}

/// Serve `config.world` on `listener` until `shutdown` is cancelled; then stop accepting, let
/// open connections finish (up to 5 s), flush the request log and return.
pub async fn run(
    listener: TcpListener,
    config: SimConfig,
    shutdown: CancellationToken,
) -> Result<()> {
    config.validate().map_err(Error::Config)?;
    let local = listener.local_addr().map_err(Error::Server)?;
    let local_origin = format!("http://{local}");
    if let Some(path) = &config.bootstrap_out {
        crate::bootstrap::write(&config.world, &local_origin, path)?;
        info!(path = %path.display(), "bootstrap file written");
    }
    let log = match &config.request_log {
        Some(p) => Some(RequestLog::create(p)?),
        None => None,
    };
    let shared = Arc::new(Shared {
        limiter: Limiter::new(&config.rates),
        stats: Stats::new(config.world.len()),
        log: Mutex::new(log),
        started: Instant::now(),
        requests: AtomicU64::new(0),
        local_origin,
        config,
    });
    let router: Router = Router::new()
        .route("/_sim/stats", get(stats_handler))
        .route("/_sim/bootstrap.json", get(bootstrap_handler))
        .fallback(rdap_handler)
        .with_state(shared.clone());

    let tracker = TaskTracker::new();
    info!(addr = %local, networks = shared.config.world.len(), "serving");
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let conn = Conn {
            peer,
            kill: CancellationToken::new(),
        };
        let router = router.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(serve_connection(stream, conn, router, shutdown));
    }
    tracker.close();
    if tokio::time::timeout(Duration::from_secs(5), tracker.wait())
        .await
        .is_err()
    {
        warn!("connections still open after 5 s; closing them");
    }
    let log = shared.log.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(mut log) = log {
        log.close()?;
    }
    info!("stopped");
    Ok(())
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    conn: Conn,
    router: Router,
    shutdown: CancellationToken,
) {
    let kill = conn.kill.clone();
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(conn.clone());
        let mut router = router.clone();
        async move { tower_service::Service::call(&mut router, req).await }
    });
    let http = hyper::server::conn::http1::Builder::new();
    let c = http.serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(c);
    tokio::select! {
        r = c.as_mut() => {
            if let Err(e) = r {
                debug!(error = %e, "connection ended with an error");
            }
        }
        _ = kill.cancelled() => {
            // Dropping the connection closes the socket without an answer.
        }
        _ = shutdown.cancelled() => {
            c.as_mut().graceful_shutdown();
            tokio::select! {
                _ = c.as_mut() => {}
                _ = kill.cancelled() => {}
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        }
    }
}

async fn stats_handler(
    State(st): State<Arc<Shared>>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let flag = |k: &str| {
        q.get(k)
            .map(|v| matches!(v.as_str(), "1" | "true" | "yes" | ""))
    };
    let doc = st
        .stats
        .snapshot(&st.config.world, flag("networks").unwrap_or(true));
    if flag("reset") == Some(true) {
        st.stats.reset();
        st.requests.store(0, Relaxed);
        st.limiter.reset();
    }
    json_response(StatusCode::OK, "application/json", &doc)
}

async fn bootstrap_handler(State(st): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let origin = origin(&headers, &st.local_origin);
    json_response(
        StatusCode::OK,
        "application/json",
        &bootstrap(&st.config.world, &origin),
    )
}

fn json_response(status: StatusCode, content_type: &'static str, v: &Value) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_default();
    rdap_bytes(status, content_type, body)
}

fn rdap_bytes(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}

/// `http://host[:port]` as the client named us (Host header), else the listener's address.
fn origin(headers: &HeaderMap, fallback: &str) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
        })
        .map_or_else(|| fallback.to_string(), |h| format!("http://{h}"))
}

/// Split `/arin/registry/ip/1.2.3.4` into the registry and what follows its IP path.
fn route(path: &str) -> Option<(Registry, Option<&str>)> {
    let rest = path.strip_prefix('/')?;
    let (name, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let registry = Registry::ALL.into_iter().find(|r| r.as_str() == name)?;
    // tail is e.g. "registry/ip/1.2.3.4"; the IP path is "/registry/ip/".
    let ip_path = &registry.ip_path()[1..];
    Some((registry, tail.strip_prefix(ip_path)))
}

/// What an RDAP `/ip/` query asks for.
enum IpQuery {
    Range(Range),
    /// A valid IPv6 address or prefix (this world has none).
    V6,
    Invalid,
}

fn parse_query(q: &str) -> IpQuery {
    if q.is_empty() {
        return IpQuery::Invalid;
    }
    if q.contains(':') {
        let addr = q.split_once('/').map_or(q, |(a, _)| a);
        return if addr.parse::<std::net::Ipv6Addr>().is_ok() {
            IpQuery::V6
        } else {
            IpQuery::Invalid
        };
    }
    match parse_cidr(q) {
        Ok(r) => IpQuery::Range(r),
        Err(_) => IpQuery::Invalid,
    }
}

async fn rdap_handler(
    State(st): State<Arc<Shared>>,
    Extension(conn): Extension<Conn>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let path = uri.path();
    let Some((registry, query)) = route(path) else {
        let body = json!({
            "errorCode": 404,
            "title": "Not Found",
            "description": [
                "rdapfleet-sim serves /arin/registry/ip/IP, /ripencc/ip/IP, /apnic/ip/IP, /lacnic/rdap/ip/IP, /afrinic/rdap/ip/IP, /_sim/stats and /_sim/bootstrap.json"
            ]
        });
        return json_response(StatusCode::NOT_FOUND, "application/json", &body);
    };
    let origin = origin(&headers, &st.local_origin);
    let request_url = format!(
        "{origin}{}",
        uri.path_and_query().map_or(path, |p| p.as_str())
    );
    let query_text = query.unwrap_or("");
    let n = st.requests.fetch_add(1, Relaxed);
    let mut outcome = Outcome {
        st: &st,
        registry,
        n,
        client: conn.peer.ip(),
        query: query_text,
        fault: None,
        handle: None,
        location: None,
    };

    // Outage windows.
    let elapsed = st.started.elapsed();
    if let Some(o) = st
        .config
        .outages
        .iter()
        .find(|o| o.registries.contains(&registry) && o.active(elapsed))
    {
        match o.mode.unwrap_or(st.config.outage_mode) {
            OutageMode::Refuse => {
                st.stats.fault(registry, FaultKind::Refused);
                outcome.fault = Some("refused");
                outcome.log(0);
                conn.kill.cancel();
                return std::future::pending::<Response>().await;
            }
            OutageMode::Unavailable => {
                st.stats.fault(registry, FaultKind::Unavailable);
                outcome.fault = Some("unavailable");
                return outcome.error(503, "The service is temporarily unavailable", &request_url);
            }
        }
    }

    // Rate limits.
    if let Verdict::Limited { retry_after, limit } =
        st.limiter.check(registry, conn.peer.ip(), Instant::now())
    {
        st.stats.rate_limited(registry);
        outcome.fault = Some("rate_limited");
        let secs = Verdict::retry_after_secs(retry_after);
        let mut resp = if registry == Registry::Lacnic {
            let minutes = limit.per.as_secs().div_ceil(60).max(1);
            let status = StatusCode::from_u16(st.config.lacnic_limit_status)
                .unwrap_or(StatusCode::TOO_MANY_REQUESTS);
            let body = dialect::lacnic_rate_limit_notice(limit.count, minutes);
            outcome.log(status.as_u16());
            st.stats.status(registry, status.as_u16());
            json_response(status, "application/rdap+json", &body)
        } else {
            outcome.error(
                429,
                &format!("Too many queries: the limit is {limit} per client address"),
                &request_url,
            )
        };
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return resp;
    }

    if method != Method::GET && method != Method::HEAD {
        let mut r = outcome.error(405, "Only GET and HEAD are supported", &request_url);
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }

    // Injected faults.
    let decision = faults::decide(&st.config.faults, registry, n);
    if decision.error {
        st.stats.fault(registry, FaultKind::Error);
        outcome.fault = Some("error_500");
        return outcome.error(500, "Internal server error (injected)", &request_url);
    }
    if decision.slow {
        st.stats.fault(registry, FaultKind::Slow);
        outcome.fault = Some("slow");
        tokio::time::sleep(st.config.faults.slow_delay).await;
    }

    let Some(q) = query else {
        return outcome.error(404, "Not found: only ip queries are served", &request_url);
    };
    // Clients may escape the prefix separator (`1.2.3.0%2F24`).
    let decoded;
    let q = if q.contains('%') {
        decoded = q.replace("%2F", "/").replace("%2f", "/");
        decoded.as_str()
    } else {
        q
    };
    let range = match parse_query(q) {
        IpQuery::Range(r) => r,
        IpQuery::V6 => return outcome.error(404, "Not found", &request_url),
        IpQuery::Invalid => {
            return outcome.error(
                400,
                "Request could not be understood, malformed syntax",
                &request_url,
            );
        }
    };
    let world = &st.config.world;
    let found = if range.start == range.end {
        world.lookup(range.start)
    } else {
        world.lookup_range(range)
    };
    let Some(id) = found else {
        return outcome.error(404, "Not found", &request_url);
    };
    let net = world.net(id);
    if net.registry != registry {
        let location = format!("{}/ip/{q}", base_url(&origin, net.registry));
        let status = st.config.redirect_status;
        outcome.handle = Some(names::handle(net));
        outcome.location = Some(&location);
        outcome.log(status);
        st.stats.status(registry, status);
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND);
        if let Ok(v) = HeaderValue::from_str(&location) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        return r;
    }

    if decision.oversize {
        st.stats.fault(registry, FaultKind::Oversized);
        outcome.fault = Some("oversized");
    }
    let mut body = dialect::network(
        &Answer {
            world,
            id,
            origin: &origin,
            request_url: &request_url,
        },
        decision.oversize,
    );
    if decision.truncate {
        st.stats.fault(registry, FaultKind::Truncated);
        outcome.fault = Some("truncated");
        body.truncate(body.len() / 2);
    }
    st.stats.served(id);
    st.stats.status(registry, 200);
    outcome.handle = Some(names::handle(net));
    outcome.log(200);
    rdap_bytes(StatusCode::OK, "application/rdap+json", body)
}

/// Bookkeeping of one RDAP request: the log line and the status counters.
struct Outcome<'a> {
    st: &'a Shared,
    registry: Registry,
    n: u64,
    client: IpAddr,
    query: &'a str,
    fault: Option<&'static str>,
    handle: Option<String>,
    location: Option<&'a str>,
}

impl Outcome<'_> {
    fn log(&mut self, status: u16) {
        let guard = self.st.log.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(log) = guard.as_ref() {
            log.write(&LogLine {
                n: self.n,
                time: crate::dates::now_rfc3339(),
                client: self.client.to_string(),
                registry: self.registry.as_str(),
                ip: self.query,
                status,
                handle: self.handle.take(),
                location: self.location,
                fault: self.fault,
            });
        }
    }

    /// An error answer in the registry's dialect, counted and logged.
    fn error(&mut self, status: u16, description: &str, request_url: &str) -> Response {
        self.st.stats.status(self.registry, status);
        self.log(status);
        let body = dialect::error(self.registry, status, description, request_url);
        json_response(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "application/rdap+json",
            &body,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(
            route("/arin/registry/ip/1.2.3.4"),
            Some((Registry::Arin, Some("1.2.3.4")))
        );
        assert_eq!(
            route("/ripencc/ip/1.2.3.0/24"),
            Some((Registry::RipeNcc, Some("1.2.3.0/24")))
        );
        assert_eq!(
            route("/lacnic/rdap/ip/"),
            Some((Registry::Lacnic, Some("")))
        );
        assert_eq!(route("/lacnic/ip/1.2.3.4"), Some((Registry::Lacnic, None)));
        assert_eq!(
            route("/afrinic/rdap/entity/X"),
            Some((Registry::Afrinic, None))
        );
        assert_eq!(route("/nowhere/ip/1.2.3.4"), None);
        assert_eq!(route("/"), None);
    }

    #[test]
    fn queries() {
        assert!(matches!(parse_query("1.2.3.4"), IpQuery::Range(r) if r.start == r.end));
        assert!(matches!(parse_query("1.2.3.0/24"), IpQuery::Range(r) if r.size() == 256));
        assert!(matches!(parse_query("1.2.3.4/24"), IpQuery::Invalid));
        assert!(matches!(parse_query("2001:db8::1"), IpQuery::V6));
        assert!(matches!(parse_query("2001:db8::/32"), IpQuery::V6));
        for bad in [
            "",
            "1.2.3",
            "01.2.3.4",
            "1.2.3.256",
            "abc",
            "1.2.3.4/33",
            "::g",
        ] {
            assert!(matches!(parse_query(bad), IpQuery::Invalid), "{bad}");
        }
    }
}
