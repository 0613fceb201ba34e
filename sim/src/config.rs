//! Serving configuration and the parsers of its human-written flag values: rates
//! (`lacnic=10/min,1000/h`), outage windows (`ripencc=10s..40s:503`), per-registry fractions
//! (`arin=0.01,ripencc=0.02`, or `0.01` for all five), durations (`250ms`, `2s`).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use rdapfleet_rdap::Registry;

use crate::world::World;

/// Human durations (`250ms`, `2s`, `1m30s`; a bare number is seconds), as every binary reads them.
pub use rdapfleet_cli::parse_duration;

/// Position of a registry in [`Registry::ALL`], for per-registry arrays.
pub fn idx(r: Registry) -> usize {
    match r {
        Registry::Arin => 0,
        Registry::RipeNcc => 1,
        Registry::Apnic => 2,
        Registry::Lacnic => 3,
        Registry::Afrinic => 4,
    }
}

/// The registries a flag value names: one, or all five for `all` / `*`.
fn registries(name: &str) -> Result<Vec<Registry>, String> {
    match name.trim() {
        "all" | "*" => Ok(Registry::ALL.to_vec()),
        other => Ok(vec![other.parse::<Registry>()?]),
    }
}

/// The longest rate-limit window accepted (a year): the limiter does clock arithmetic with it.
pub const MAX_WINDOW: Duration = Duration::from_secs(365 * 86_400);

/// One rate limit: `count` queries per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Queries allowed per window.
    pub count: u64,
    /// Window length.
    pub per: Duration,
}

impl FromStr for Limit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!(
                "invalid rate {s:?}: {why} (expected N/s, N/min, N/h, N/day or N/<duration>, e.g. 10/min)"
            )
        };
        let (n, unit) = s.trim().split_once('/').ok_or_else(|| bad("no '/'"))?;
        let count: u64 = n
            .trim()
            .parse()
            .map_err(|_| bad("count is not a whole number"))?;
        if count == 0 {
            return Err(bad("count must be at least 1"));
        }
        let per = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            "d" | "day" => Duration::from_secs(86_400),
            other => humantime::parse_duration(other).map_err(|_| bad("unknown unit"))?,
        };
        if per.is_zero() {
            return Err(bad("window must be longer than zero"));
        }
        if per > MAX_WINDOW {
            return Err(bad("window must be at most a year"));
        }
        Ok(Limit { count, per })
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.count, humantime::format_duration(self.per))
    }
}

/// `--rate REG=LIMIT[,LIMIT...]`: the limits of one registry (or of all, with `all=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateSpec {
    /// The registries limited.
    pub registries: Vec<Registry>,
    /// Every limit applies (whichever is violated first).
    pub limits: Vec<Limit>,
}

impl FromStr for RateSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (reg, rest) = s
            .split_once('=')
            .ok_or_else(|| format!("invalid rate {s:?}: expected REGISTRY=N/UNIT[,N/UNIT...], e.g. lacnic=10/min,1000/h"))?;
        let registries = registries(reg).map_err(|e| format!("invalid rate {s:?}: {e}"))?;
        let limits = rest
            .split(',')
            .map(str::parse)
            .collect::<Result<Vec<Limit>, String>>()?;
        Ok(RateSpec { registries, limits })
    }
}

/// How a registry in an outage treats requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutageMode {
    /// Close the connection without answering (on the shared listener this stands for a
    /// refused connection: the client sees the connection closed before a response).
    #[default]
    Refuse,
    /// Answer 503 Service Unavailable with an RDAP error body.
    Unavailable,
}

impl FromStr for OutageMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "refuse" | "refused" | "close" => Ok(OutageMode::Refuse),
            "503" | "unavailable" => Ok(OutageMode::Unavailable),
            other => Err(format!(
                "invalid outage mode {other:?} (expected refuse or 503)"
            )),
        }
    }
}

/// `--outage REG=START..END[:MODE]`: a window, relative to server start, when a registry is down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outage {
    /// The registries down.
    pub registries: Vec<Registry>,
    /// Start of the window after server start.
    pub from: Duration,
    /// End of the window (exclusive); `None` = until shutdown.
    pub until: Option<Duration>,
    /// `None`: the server-wide default mode.
    pub mode: Option<OutageMode>,
}

impl Outage {
    /// Whether the window covers `elapsed` since server start.
    pub fn active(&self, elapsed: Duration) -> bool {
        elapsed >= self.from && self.until.is_none_or(|u| elapsed < u)
    }
}

impl FromStr for Outage {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let usage = || {
            format!(
                "invalid outage {s:?}: expected REGISTRY=START..END[:refuse|:503], e.g. ripencc=10s..40s"
            )
        };
        let (reg, rest) = s.split_once('=').ok_or_else(usage)?;
        let registries = registries(reg).map_err(|e| format!("invalid outage {s:?}: {e}"))?;
        let (window, mode) = match rest.rsplit_once(':') {
            Some((w, m)) => (w, Some(m.parse::<OutageMode>()?)),
            None => (rest, None),
        };
        let (a, b) = window.split_once("..").ok_or_else(usage)?;
        let from = if a.trim().is_empty() {
            Duration::ZERO
        } else {
            parse_duration(a)?
        };
        let until = if b.trim().is_empty() {
            None
        } else {
            Some(parse_duration(b)?)
        };
        if until.is_some_and(|u| u <= from) {
            return Err(format!(
                "invalid outage {s:?}: the window ends before it starts"
            ));
        }
        Ok(Outage {
            registries,
            from,
            until,
            mode,
        })
    }
}

/// A fraction per registry: `arin=0.01,ripencc=0.02`, `all=0.01`, or a bare `0.01` for all.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Fractions(pub [f64; 5]);

impl Fractions {
    /// The fraction for one registry.
    pub fn of(&self, r: Registry) -> f64 {
        self.0[idx(r)]
    }

    /// Merge another spec in (later flags win per registry).
    pub fn merge(&mut self, other: &Fractions, named: &[bool; 5]) {
        for (i, _) in named.iter().enumerate().filter(|(_, n)| **n) {
            self.0[i] = other.0[i];
        }
    }
}

/// Parse a fraction spec into values and which registries it named.
pub fn parse_fractions(s: &str) -> Result<(Fractions, [bool; 5]), String> {
    let mut out = Fractions::default();
    let mut named = [false; 5];
    for part in s.split(',') {
        let (reg, val) = match part.split_once('=') {
            Some((r, v)) => (r, v),
            None => ("all", part),
        };
        let f: f64 = val.trim().parse().map_err(|_| {
            format!(
                "invalid fraction {part:?} in {s:?} (expected a number from 0 to 1, e.g. arin=0.01)"
            )
        })?;
        if !(0.0..=1.0).contains(&f) {
            return Err(format!(
                "invalid fraction {part:?} in {s:?}: {f} is not between 0 and 1"
            ));
        }
        for r in registries(reg).map_err(|e| format!("invalid fraction {part:?}: {e}"))? {
            out.0[idx(r)] = f;
            named[idx(r)] = true;
        }
    }
    Ok((out, named))
}

/// A `--*-rate` flag value (clap parses with `FromStr`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FractionSpec {
    /// Values.
    pub values: Fractions,
    /// Which registries the spec named.
    pub named: [bool; 5],
}

impl FromStr for FractionSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (values, named) = parse_fractions(s)?;
        Ok(FractionSpec { values, named })
    }
}

/// Fold repeated fraction flags into one table.
pub fn fold_fractions(specs: &[FractionSpec]) -> Fractions {
    let mut out = Fractions::default();
    for s in specs {
        out.merge(&s.values, &s.named);
    }
    out
}

/// Faults, all deterministic per (seed, request number); see [`crate::faults`].
#[derive(Debug, Clone, PartialEq)]
pub struct FaultConfig {
    /// Seed of the fault rolls.
    pub seed: u64,
    /// Fraction answered 500.
    pub error_rate: Fractions,
    /// Fraction answered after `slow_delay`.
    pub slow_rate: Fractions,
    /// Delay of slow answers.
    pub slow_delay: Duration,
    /// Fraction of network answers whose JSON is cut in half.
    pub truncate_rate: Fractions,
    /// Fraction of network answers padded beyond 1 MiB.
    pub oversize_rate: Fractions,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            seed: 0,
            error_rate: Fractions::default(),
            slow_rate: Fractions::default(),
            slow_delay: Duration::from_secs(2),
            truncate_rate: Fractions::default(),
            oversize_rate: Fractions::default(),
        }
    }
}

/// Everything [`crate::server::run`] needs.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The world served.
    pub world: Arc<World>,
    /// Rate limits per client address, per registry.
    pub rates: Vec<RateSpec>,
    /// Outage windows.
    pub outages: Vec<Outage>,
    /// Mode of outages that name none.
    pub outage_mode: OutageMode,
    /// Faults.
    pub faults: FaultConfig,
    /// Status of redirects to the registry holding a block (301, 302, 303, 307 or 308).
    pub redirect_status: u16,
    /// Status of LACNIC's "Rate Limit Notice" answer.
    pub lacnic_limit_status: u16,
    /// Write a JSON line per request here.
    pub request_log: Option<PathBuf>,
    /// Write the RFC 9224 bootstrap file here once the listener's address is known.
    pub bootstrap_out: Option<PathBuf>,
}

impl SimConfig {
    /// Defaults: no limits, no outages, no faults, 302 redirects, LACNIC notice with 429.
    pub fn new(world: Arc<World>) -> Self {
        SimConfig {
            world,
            rates: Vec::new(),
            outages: Vec::new(),
            outage_mode: OutageMode::Refuse,
            faults: FaultConfig::default(),
            redirect_status: 302,
            lacnic_limit_status: 429,
            request_log: None,
            bootstrap_out: None,
        }
    }

    /// Check relations between values; the error names the flag.
    pub fn validate(&self) -> Result<(), String> {
        validate_statuses(self.redirect_status, self.lacnic_limit_status)
    }
}

/// The redirect status must be a redirect, LACNIC's limit status an HTTP status.
pub fn validate_statuses(redirect_status: u16, lacnic_limit_status: u16) -> Result<(), String> {
    if ![301, 302, 303, 307, 308].contains(&redirect_status) {
        return Err(format!(
            "--redirect-status {redirect_status} is not a redirect (expected 301, 302, 303, 307 or 308)"
        ));
    }
    if !(200..=599).contains(&lacnic_limit_status) {
        return Err(format!(
            "--lacnic-limit-status {lacnic_limit_status} is not an HTTP status (200..599)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        let r: RateSpec = "lacnic=10/min,1000/h".parse().unwrap();
        assert_eq!(r.registries, vec![Registry::Lacnic]);
        assert_eq!(
            r.limits,
            vec![
                Limit {
                    count: 10,
                    per: Duration::from_secs(60)
                },
                Limit {
                    count: 1000,
                    per: Duration::from_secs(3600)
                }
            ]
        );
        let all: RateSpec = "all=5/30s".parse().unwrap();
        assert_eq!(all.registries.len(), 5);
        assert_eq!(all.limits[0].per, Duration::from_secs(30));
        for bad in [
            "lacnic",
            "lacnic=10",
            "lacnic=0/min",
            "lacnic=x/min",
            "mars=1/s",
            "arin=1/fortnight",
        ] {
            assert!(bad.parse::<RateSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn outages() {
        let o: Outage = "ripencc=10s..40s".parse().unwrap();
        assert_eq!(
            (o.from, o.until, o.mode),
            (Duration::from_secs(10), Some(Duration::from_secs(40)), None)
        );
        assert!(o.active(Duration::from_secs(10)));
        assert!(!o.active(Duration::from_secs(40)));
        let o: Outage = "arin=..:503".parse().unwrap();
        assert_eq!(o.mode, Some(OutageMode::Unavailable));
        assert!(o.active(Duration::from_secs(1_000_000)));
        for bad in [
            "ripencc=40s..10s",
            "ripencc=10s",
            "ripencc=1x..2s",
            "x=1s..2s",
            "arin=1s..2s:maybe",
        ] {
            assert!(bad.parse::<Outage>().is_err(), "{bad}");
        }
    }

    #[test]
    fn fractions() {
        let f: FractionSpec = "arin=0.5,lacnic=1".parse().unwrap();
        assert_eq!(f.values.of(Registry::Arin), 0.5);
        assert_eq!(f.values.of(Registry::Lacnic), 1.0);
        assert_eq!(f.values.of(Registry::Apnic), 0.0);
        let all: FractionSpec = "0.25".parse().unwrap();
        let folded = fold_fractions(&[all, f]);
        assert_eq!(folded.of(Registry::Apnic), 0.25);
        assert_eq!(folded.of(Registry::Arin), 0.5);
        for bad in ["arin=2", "arin=-0.1", "arin=x", "moon=0.1"] {
            assert!(bad.parse::<FractionSpec>().is_err(), "{bad}");
        }
        assert!(parse_duration("250ms").is_ok());
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("soon").is_err());
    }
}
