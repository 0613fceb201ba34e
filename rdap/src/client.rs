//! The polite RDAP client: bootstrap -> registry -> redirects -> parse, with per-registry rate
//! limits, Retry-After, backoff, a circuit breaker, timeouts and a body cap.
//!
//! One lookup:
//! 1. the bootstrap names the base URL (longest prefix);
//! 2. before every HTTP request (redirect hops included) the target registry's gate is passed:
//!    refuse at once if the registry is paused for longer than `max_wait` or its circuit is
//!    open, else wait out any shorter pause and the rate limiter;
//! 3. 301/302/303/307/308 are followed by hand (at most `max_redirects`, loops detected), each
//!    hop counted against the registry that answered it;
//! 4. 429, and LACNIC's "Rate Limit Notice" in a 200, pause the registry for `Retry-After`
//!    (seconds or HTTP date) or, without it, an exponential backoff with jitter;
//!    5xx, timeouts and connection errors count towards the breaker and are retried after a
//!    backoff; up to `max_attempts` attempts in all;
//! 5. the body is read up to `max_body_bytes` and parsed; the registry of the final URL is the
//!    one recorded.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use tokio::time::Instant;

use crate::backoff::{Backoff, BackoffConfig};
use crate::body::{BodyError, raw_json, read_capped};
use crate::bootstrap::Bootstrap;
use crate::breaker::{Breaker, BreakerConfig, BreakerState, Permit};
use crate::error::{Error, Result};
use crate::limiter::RegistryLimiter;
pub use crate::outcome::LookupOutcome;
use crate::parse::{ParseError, parse};
use crate::rates::{RateTarget, Rates};
use crate::registry::Registry;
use crate::retry_after::parse_retry_after;
use crate::stats::{Count, Counters, Snapshot};

/// The User-Agent rdapfleet sends.
pub const USER_AGENT: &str = concat!("rdapfleet/", env!("CARGO_PKG_VERSION"));

/// Client settings. `Default` gives the safe values for the real registries.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Per-registry rate limits.
    pub rates: Rates,
    /// TCP/TLS connect timeout (`None`: no limit).
    pub connect_timeout: Option<Duration>,
    /// Total time of one HTTP request, body included (`None`: no limit).
    pub timeout: Option<Duration>,
    /// How long an idle pooled connection is kept (`None`: forever).
    pub pool_idle_timeout: Option<Duration>,
    /// Largest body accepted; larger answers fail at once (retryable later, by the caller).
    pub max_body_bytes: usize,
    /// Redirects followed per attempt.
    pub max_redirects: u32,
    /// Attempts per lookup over retryable failures (>= 1).
    pub max_attempts: u32,
    /// Longest pause (Retry-After, backoff) a lookup waits for; a longer one fails the lookup
    /// at once as retryable, so the caller can move on to other registries.
    pub max_wait: Duration,
    /// Backoff for 429s without Retry-After (per registry) and for retries (per lookup).
    pub backoff: BackoffConfig,
    /// Seed of the jitter (`None`: from the OS).
    pub jitter_seed: Option<u64>,
    /// Circuit breaker per registry.
    pub breaker: BreakerConfig,
    /// User-Agent header.
    pub user_agent: String,
    /// Local address to send queries from (registries limit per source address).
    pub local_address: Option<std::net::IpAddr>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            rates: Rates::defaults(),
            connect_timeout: Some(Duration::from_secs(10)),
            timeout: Some(Duration::from_secs(30)),
            pool_idle_timeout: Some(Duration::from_secs(90)),
            max_body_bytes: 1 << 20,
            max_redirects: 5,
            max_attempts: 3,
            max_wait: Duration::from_secs(120),
            backoff: BackoffConfig::default(),
            jitter_seed: None,
            breaker: BreakerConfig::default(),
            user_agent: USER_AGENT.to_string(),
            local_address: None,
        }
    }
}

/// One registry's (or "other" servers') politeness state and counters.
#[derive(Debug)]
struct Gate {
    limiter: RegistryLimiter,
    breaker: Arc<Breaker>,
    consecutive_429: AtomicU32,
    counters: Counters,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    bootstrap: Arc<Bootstrap>,
    config: ClientConfig,
    gates: HashMap<RateTarget, Gate>,
    backoff: Backoff,
}

/// The polite RDAP client. Cheap to clone (shared state); one instance per egress address.
#[derive(Debug, Clone)]
pub struct RdapClient {
    inner: Arc<Inner>,
}

/// How one attempt ended.
#[allow(clippy::large_enum_variant)]
enum Attempt {
    /// Final.
    Done(LookupOutcome),
    /// Worth another attempt: after a backoff (`backoff`: 5xx, timeouts, connection errors) or
    /// at once (rate limited: the registry's pause is waited out by its gate).
    Retry {
        reason: String,
        registry: Option<Registry>,
        backoff: bool,
    },
}

/// What one HTTP exchange leads to.
#[allow(clippy::large_enum_variant)]
enum Step {
    /// Follow this redirect.
    Redirect(Url),
    /// The attempt ends.
    End(Attempt),
}

/// The redirects of one attempt: at most `max`, never the same URL twice.
struct RedirectChain {
    urls: Vec<String>,
    max: u32,
}

impl RedirectChain {
    fn new(start: &Url, max: u32) -> RedirectChain {
        RedirectChain {
            urls: vec![start.to_string()],
            max,
        }
    }

    /// Redirects followed so far.
    fn count(&self) -> u32 {
        u32::try_from(self.urls.len() - 1).unwrap_or(u32::MAX)
    }

    /// Record a redirect to `next`; refuse loops and one redirect too many.
    fn follow(&mut self, next: &Url) -> std::result::Result<(), String> {
        let looped = self.urls.iter().any(|u| u == next.as_str());
        self.urls.push(next.to_string());
        if looped {
            return Err(format!("redirect loop: {}", self.urls.join(" -> ")));
        }
        if self.count() > self.max {
            return Err(format!(
                "too many redirects (more than {}): {}",
                self.max,
                self.urls.join(" -> ")
            ));
        }
        Ok(())
    }
}

/// `e` and its sources, joined with ": ".
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

fn is_redirect(s: StatusCode) -> bool {
    matches!(s.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// `outcome` as the answer about `ip`: a found network that does not contain `ip` (a registry
/// answering about another address, or an IPv6 network for an IPv4 question) is a failure.
fn answer_for(ip: IpAddr, outcome: LookupOutcome) -> LookupOutcome {
    match outcome {
        LookupOutcome::Found {
            network,
            registry,
            url,
            ..
        } if !network.contains(ip) => LookupOutcome::Failed {
            reason: format!(
                "{url}: the answer ({} - {}) does not contain {ip}",
                network.start_address, network.end_address
            ),
            retryable: false,
            registry,
        },
        other => other,
    }
}

fn fmt_secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

impl RdapClient {
    /// A client over `bootstrap` with `config`.
    pub fn new(bootstrap: Bootstrap, config: ClientConfig) -> Result<RdapClient> {
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(config.user_agent.clone())
            .pool_idle_timeout(config.pool_idle_timeout)
            .tcp_nodelay(true);
        if let Some(t) = config.connect_timeout {
            b = b.connect_timeout(t);
        }
        if let Some(a) = config.local_address {
            b = b.local_address(a);
        }
        let http = b.build().map_err(Error::Client)?;
        let targets = Registry::ALL
            .into_iter()
            .map(RateTarget::Registry)
            .chain([RateTarget::Other]);
        let gates = targets
            .map(|t| {
                (
                    t,
                    Gate {
                        limiter: RegistryLimiter::new(config.rates.windows(t)),
                        breaker: Breaker::new(config.breaker),
                        consecutive_429: AtomicU32::new(0),
                        counters: Counters::default(),
                    },
                )
            })
            .collect();
        Ok(RdapClient {
            inner: Arc::new(Inner {
                http,
                bootstrap: Arc::new(bootstrap),
                backoff: Backoff::new(config.backoff, config.jitter_seed),
                config,
                gates,
            }),
        })
    }

    /// The bootstrap in use.
    pub fn bootstrap(&self) -> &Bootstrap {
        &self.inner.bootstrap
    }

    /// The configuration in use.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    fn gate(&self, registry: Option<Registry>) -> &Gate {
        // Every target has a gate (built in `new`); "other" is the fallback.
        let g = &self.inner.gates;
        g.get(&RateTarget::of(registry))
            .or_else(|| g.get(&RateTarget::Other))
            .expect("gates for all targets are built in RdapClient::new")
    }

    /// Counters of every registry and of "other" servers.
    pub fn stats(&self) -> Vec<(RateTarget, Snapshot)> {
        let mut v: Vec<(RateTarget, Snapshot)> = self
            .inner
            .gates
            .iter()
            .map(|(t, g)| (*t, g.counters.snapshot()))
            .collect();
        v.sort_by_key(|(t, _)| *t);
        v
    }

    /// Latency samples of one target recorded since the last drain.
    pub fn drain_latencies(&self, target: RateTarget) -> Vec<Duration> {
        self.inner
            .gates
            .get(&target)
            .map(|g| g.counters.drain_latencies())
            .unwrap_or_default()
    }

    /// The circuit breaker state of a registry.
    pub fn breaker_state(&self, registry: Option<Registry>) -> BreakerState {
        self.gate(registry).breaker.state()
    }

    /// When a registry's pause (429 / Retry-After / notice) ends, if one is in force.
    pub fn paused_until(&self, registry: Option<Registry>) -> Option<Instant> {
        self.gate(registry).limiter.paused_until()
    }

    /// One polite lookup of `ip`, starting at the bootstrap's service for it. An answer whose
    /// network does not contain `ip` is a non-retryable failure, never a found network.
    pub async fn lookup(&self, ip: IpAddr) -> LookupOutcome {
        match self.inner.bootstrap.query_url(ip) {
            Some((_, url)) => self.fetch(ip, url).await,
            None => LookupOutcome::Failed {
                reason: format!("no RDAP service for {ip} in the bootstrap file"),
                retryable: false,
                registry: None,
            },
        }
    }

    /// Ask `url` about `ip`, with redirects, retries and politeness.
    #[tracing::instrument(level = "debug", skip(self, url), fields(url = %url))]
    async fn fetch(&self, ip: IpAddr, url: Url) -> LookupOutcome {
        let attempts = self.inner.config.max_attempts.max(1);
        let mut last: Option<(String, Option<Registry>)> = None;
        for attempt in 1..=attempts {
            match self.attempt(&url).await {
                Attempt::Done(outcome) => return self.count_outcome(answer_for(ip, outcome)),
                Attempt::Retry {
                    reason,
                    registry,
                    backoff,
                } => {
                    tracing::debug!(attempt, registry = ?registry, %reason, "attempt failed");
                    if attempt < attempts {
                        let delay = if backoff {
                            self.inner.backoff.delay(attempt)
                        } else {
                            Duration::ZERO
                        };
                        if delay > self.inner.config.max_wait {
                            return self.count_outcome(LookupOutcome::Failed {
                                reason: format!("{reason} (retry in {})", fmt_secs(delay)),
                                retryable: true,
                                registry,
                            });
                        }
                        tokio::time::sleep(delay).await;
                    }
                    last = Some((reason, registry));
                }
            }
        }
        let (reason, registry) = last.unwrap_or_default();
        self.count_outcome(LookupOutcome::Failed {
            reason: format!("{reason} (gave up after {attempts} attempts)"),
            retryable: true,
            registry,
        })
    }

    fn count_outcome(&self, outcome: LookupOutcome) -> LookupOutcome {
        let c = &self.gate(outcome.registry()).counters;
        c.bump(match &outcome {
            LookupOutcome::Found { .. } => Count::Found,
            LookupOutcome::NotFound { .. } => Count::NotFound,
            LookupOutcome::Failed { .. } => Count::Failed,
        });
        outcome
    }

    /// One attempt: follow redirects from `start` until an answer.
    async fn attempt(&self, start: &Url) -> Attempt {
        let mut url = start.clone();
        let mut chain = RedirectChain::new(&url, self.inner.config.max_redirects);
        loop {
            let registry = Registry::from_url(url.as_str());
            let permit = match self.pass_gate(registry).await {
                Ok(p) => p,
                Err(refused) => return Attempt::Done(refused),
            };
            match self.exchange(&url, registry, permit, chain.count()).await {
                Step::Redirect(next) => {
                    if let Err(reason) = chain.follow(&next) {
                        return Attempt::Done(LookupOutcome::Failed {
                            reason,
                            retryable: false,
                            registry,
                        });
                    }
                    url = next;
                }
                Step::End(a) => return a,
            }
        }
    }

    /// The politeness gate before one request: fail fast when the registry is paused for
    /// longer than `max_wait` or its circuit is open; else wait out the pause and the limiter.
    async fn pass_gate(
        &self,
        registry: Option<Registry>,
    ) -> std::result::Result<Permit, LookupOutcome> {
        let gate = self.gate(registry);
        let name = RateTarget::of(registry);
        let paused = gate.limiter.pause_remaining();
        if paused > self.inner.config.max_wait {
            return Err(LookupOutcome::Failed {
                reason: format!("{name} is paused for {} (rate limited)", fmt_secs(paused)),
                retryable: true,
                registry,
            });
        }
        let circuit_open = |wait: Duration| LookupOutcome::Failed {
            reason: format!(
                "circuit open for {name} after repeated failures (next probe in {})",
                fmt_secs(wait)
            ),
            retryable: true,
            registry,
        };
        // Refuse before queueing on the limiter when the circuit is open...
        if let Some(wait) = gate.breaker.open_for() {
            return Err(circuit_open(wait));
        }
        gate.limiter.until_ready().await;
        // ...and admit after it, so a circuit that opened while we queued is respected.
        gate.breaker.admit().map_err(circuit_open)
    }

    /// One HTTP exchange with `url` and what it means.
    async fn exchange(
        &self,
        url: &Url,
        registry: Option<Registry>,
        permit: Permit,
        redirects: u32,
    ) -> Step {
        let cfg = &self.inner.config;
        let gate = self.gate(registry);
        let name = RateTarget::of(registry);
        let failed = |reason: String| {
            Step::End(Attempt::Done(LookupOutcome::Failed {
                reason,
                retryable: false,
                registry,
            }))
        };
        let failed_later = |reason: String| {
            Step::End(Attempt::Done(LookupOutcome::Failed {
                reason,
                retryable: true,
                registry,
            }))
        };
        let retry = |reason: String, backoff: bool| {
            Step::End(Attempt::Retry {
                reason,
                registry,
                backoff,
            })
        };

        gate.counters.bump(Count::Request);
        let sent = Instant::now();
        let mut req = self.inner.http.get(url.clone()).header(
            ACCEPT,
            "application/rdap+json, application/json;q=0.9, */*;q=0.1",
        );
        if let Some(t) = cfg.timeout {
            req = req.timeout(t);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                permit.failure();
                let what = if e.is_timeout() {
                    "timed out"
                } else if e.is_connect() {
                    "connection failed"
                } else {
                    "request failed"
                };
                return retry(format!("{url}: {what}: {}", error_chain(&e)), true);
            }
        };
        let status = resp.status();
        tracing::debug!(registry = %name, %url, status = status.as_u16(), "answer");

        if is_redirect(status) {
            permit.success();
            gate.consecutive_429.store(0, Ordering::Relaxed);
            gate.counters.bump(Count::Redirect);
            gate.counters.record_latency(sent.elapsed());
            return match resp
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| url.join(l.trim()).ok())
                .filter(|u| matches!(u.scheme(), "http" | "https"))
            {
                Some(next) => Step::Redirect(next),
                None => failed(format!(
                    "{url}: HTTP {status} without a usable Location header"
                )),
            };
        }

        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        if status == StatusCode::TOO_MANY_REQUESTS {
            // Says nothing about the server's health: the permit is dropped unreported.
            drop(permit);
            gate.counters.record_latency(sent.elapsed());
            let pause = self.rate_limited(gate, retry_after);
            return retry(
                format!(
                    "{name} rate limited (HTTP 429), paused for {}",
                    fmt_secs(pause)
                ),
                false,
            );
        }
        if status.is_server_error() {
            permit.failure();
            gate.counters.record_latency(sent.elapsed());
            if let Some(ra) = retry_after {
                gate.limiter.pause_until(Instant::now() + ra);
            }
            return retry(format!("{url}: HTTP {status}"), true);
        }

        // The server answered: whatever the body, it is alive.
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| format!(" (content-type {ct})"))
            .unwrap_or_default();
        let body = match read_capped(resp, cfg.max_body_bytes).await {
            Ok(b) => b,
            Err(BodyError::TooLarge) => {
                permit.success();
                gate.counters.record_latency(sent.elapsed());
                // Not asked again now (a registry that sends one such answer likely sends it
                // again), but retryable: the coordinator asks later, within its budget.
                return failed_later(format!(
                    "{url}: body larger than {} bytes",
                    cfg.max_body_bytes
                ));
            }
            Err(BodyError::Read(e)) => {
                permit.failure();
                let what = if e.is_timeout() {
                    "timed out"
                } else {
                    "failed"
                };
                return retry(
                    format!("{url}: reading the body {what}: {}", error_chain(&e)),
                    true,
                );
            }
        };
        permit.success();
        gate.counters.record_latency(sent.elapsed());

        let not_found = || {
            Step::End(Attempt::Done(LookupOutcome::NotFound {
                registry,
                redirects,
                url: url.to_string(),
            }))
        };
        if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
            gate.consecutive_429.store(0, Ordering::Relaxed);
            return not_found();
        }
        if !status.is_success() {
            gate.consecutive_429.store(0, Ordering::Relaxed);
            let detail = parse(&body)
                .err()
                .map(|e| format!(": {e}"))
                .unwrap_or_default();
            return failed(format!("{url}: HTTP {status}{detail}"));
        }
        match parse(&body) {
            Err(ParseError::RateLimited { notice }) => {
                let pause = self.rate_limited(gate, retry_after);
                retry(
                    format!(
                        "{name} rate limited ({notice}), paused for {}",
                        fmt_secs(pause)
                    ),
                    false,
                )
            }
            Err(ParseError::NotFound { .. }) => {
                gate.consecutive_429.store(0, Ordering::Relaxed);
                not_found()
            }
            Err(e @ ParseError::Truncated(_)) => {
                // A cut transfer says nothing about the address: ask again later.
                gate.consecutive_429.store(0, Ordering::Relaxed);
                failed_later(format!("{url}: {e}{content_type}"))
            }
            Err(e) => {
                gate.consecutive_429.store(0, Ordering::Relaxed);
                failed(format!("{url}: {e}{content_type}"))
            }
            Ok(mut network) => {
                gate.consecutive_429.store(0, Ordering::Relaxed);
                let Some(raw) = raw_json(&body) else {
                    return failed(format!("{url}: body is not valid JSON"));
                };
                if registry.is_some() {
                    network.registry = registry;
                }
                network.source_url = Some(url.to_string());
                Step::End(Attempt::Done(LookupOutcome::Found {
                    network,
                    raw,
                    redirects,
                    registry,
                    url: url.to_string(),
                }))
            }
        }
    }

    /// Pause a registry after a 429 or a rate-limit notice; returns the pause.
    fn rate_limited(&self, gate: &Gate, retry_after: Option<Duration>) -> Duration {
        gate.counters.bump(Count::RateLimited);
        let n = gate.consecutive_429.fetch_add(1, Ordering::Relaxed) + 1;
        let pause = retry_after.unwrap_or_else(|| self.inner.backoff.delay(n));
        gate.limiter.pause_until(Instant::now() + pause);
        tracing::warn!(
            pause_s = pause.as_secs_f64(),
            retry_after = retry_after.is_some(),
            consecutive = n,
            "registry rate limited us; pausing it"
        );
        pause
    }
}
