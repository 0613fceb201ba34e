//! Per-registry rate limits: parsing (`lacnic=9/min,900/h`, `arin=10/s`, `apnic=600/h`) and the
//! safe defaults for the real services.
//!
//! Every window is enforced as evenly spaced requests (a GCRA with a burst of one, see
//! [`crate::limiter`]): `9/min` means one request every 6.67 s, so no minute, however it is
//! aligned, ever sees more than 10. Several windows may be given per registry; the strictest
//! spacing wins, and longer windows also bound long-run volume.
//!
//! # Defaults, per egress address (each worker host has its own)
//!
//! | registry | default | why |
//! |---|---|---|
//! | LACNIC | `9/min,900/h` | documented limits are 10/min and 1,000/h per IP ("whichever is violated first", block ~5 min); 10 % below both. |
//! | AFRINIC | `3/min,4000/d` | no RDAP figure is published; its WHOIS allows 5,000 person-object queries per IP per day with blocks of up to 24 h, and RDAP answers carry person objects. AFRINIC stopped answering the 2016 crawl at 1/s per node. |
//! | ARIN | `1/s` | no published RDAP limit, but ARIN runs an undocumented per-IP query limiter; 1/s is the rate the 2016 crawl used without being blocked by ARIN. |
//! | RIPE NCC | `1/s` | ip lookups do not count against the 1,000 personal-data-sets/day AUP limit (contacts' e-mails are filtered), but users saw 429s after ~3,500 rapid requests: stay at a steady 1/s. |
//! | APNIC | `1/s` | no published limit; the same steady 1/s. |
//! | other | `1/s` | servers that are none of the five (reached through redirects or a custom bootstrap). |
//!
//! Raise them per registry with flags such as `--rate arin=10/s` where a registry agrees to it.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::registry::Registry;

/// Which server a limit applies to: one of the five registries, or any other server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RateTarget {
    /// One registry.
    Registry(Registry),
    /// Servers that are none of the five.
    Other,
}

impl RateTarget {
    /// The target of a registry-or-unknown server.
    pub fn of(registry: Option<Registry>) -> RateTarget {
        registry.map_or(RateTarget::Other, RateTarget::Registry)
    }
}

impl fmt::Display for RateTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateTarget::Registry(r) => r.fmt(f),
            RateTarget::Other => f.write_str("other"),
        }
    }
}

/// `count` requests per `per`, evenly spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Requests allowed per window (>= 1).
    pub count: u32,
    /// The window's length.
    pub per: Duration,
}

impl Window {
    /// The spacing between two requests.
    pub fn spacing(&self) -> Duration {
        self.per / self.count
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per.as_secs() {
            1 => "s",
            60 => "min",
            3600 => "h",
            86400 => "d",
            _ => return write!(f, "{}/{}s", self.count, self.per.as_secs()),
        };
        write!(f, "{}/{unit}", self.count)
    }
}

impl FromStr for Window {
    type Err = String;

    /// `N/s`, `N/min`, `N/h`, `N/d` (also `sec`, `second`, `m`, `minute`, `hour`, `day`).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (n, unit) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not N/unit (for example 10/min)"))?;
        let count: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("{:?} is not a whole number of requests", n.trim()))?;
        if count == 0 {
            return Err("a rate of 0 requests would never send anything".into());
        }
        if count > 1_000_000 {
            return Err(format!(
                "{count} requests per window is more than 1,000,000"
            ));
        }
        let per = match unit.trim().to_ascii_lowercase().as_str() {
            "s" | "sec" | "second" | "seconds" => Duration::from_secs(1),
            "m" | "min" | "minute" | "minutes" => Duration::from_secs(60),
            "h" | "hr" | "hour" | "hours" => Duration::from_secs(3600),
            "d" | "day" | "days" => Duration::from_secs(86400),
            other => {
                return Err(format!("unknown unit {other:?} (expected s, min, h or d)"));
            }
        };
        Ok(Window { count, per })
    }
}

/// One `--rate` value: a target and its windows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateSpec {
    /// Which server(s).
    pub target: RateTarget,
    /// Its windows (at least one).
    pub windows: Vec<Window>,
}

impl FromStr for RateSpec {
    type Err = Error;

    /// `REGISTRY=N/unit[,N/unit...]` or `REGISTRY=unlimited` (for local test worlds only),
    /// registry one of arin, ripencc (ripe), apnic, lacnic, afrinic, other.
    fn from_str(input: &str) -> Result<Self> {
        let err = |reason: String| Error::Rate {
            input: input.to_string(),
            reason,
        };
        let (name, windows) = input.split_once('=').ok_or_else(|| {
            err("expected REGISTRY=N/unit, for example lacnic=9/min or arin=10/s".into())
        })?;
        let name = name.trim();
        let target = if name.eq_ignore_ascii_case("other") {
            RateTarget::Other
        } else {
            RateTarget::Registry(
                name.parse::<Registry>()
                    .map_err(|e| err(format!("{e} or other")))?,
            )
        };
        if windows.trim().eq_ignore_ascii_case("unlimited") {
            return Ok(RateSpec {
                target,
                windows: Vec::new(),
            });
        }
        let windows = windows
            .split(',')
            .map(|w| w.parse::<Window>().map_err(&err))
            .collect::<Result<Vec<_>>>()?;
        Ok(RateSpec { target, windows })
    }
}

impl fmt::Display for RateSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}=", self.target)?;
        if self.windows.is_empty() {
            return f.write_str("unlimited");
        }
        for (i, w) in self.windows.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            w.fmt(f)?;
        }
        Ok(())
    }
}

/// The limits of all five registries and of other servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rates {
    specs: Vec<RateSpec>,
}

impl Default for Rates {
    fn default() -> Self {
        Rates::defaults()
    }
}

impl Rates {
    /// The safe defaults for the real services (see the module documentation).
    pub fn defaults() -> Rates {
        let w = |count, secs| Window {
            count,
            per: Duration::from_secs(secs),
        };
        let spec = |target, windows| RateSpec { target, windows };
        Rates {
            specs: vec![
                spec(RateTarget::Registry(Registry::Arin), vec![w(1, 1)]),
                spec(RateTarget::Registry(Registry::RipeNcc), vec![w(1, 1)]),
                spec(RateTarget::Registry(Registry::Apnic), vec![w(1, 1)]),
                spec(
                    RateTarget::Registry(Registry::Lacnic),
                    vec![w(9, 60), w(900, 3600)],
                ),
                spec(
                    RateTarget::Registry(Registry::Afrinic),
                    vec![w(3, 60), w(4000, 86400)],
                ),
                spec(RateTarget::Other, vec![w(1, 1)]),
            ],
        }
    }

    /// No limits at all: for local test worlds (which enforce their own), never for the real
    /// registries.
    pub fn unlimited() -> Rates {
        let targets = Registry::ALL
            .into_iter()
            .map(RateTarget::Registry)
            .chain([RateTarget::Other]);
        Rates {
            specs: targets
                .map(|target| RateSpec {
                    target,
                    windows: Vec::new(),
                })
                .collect(),
        }
    }

    /// The defaults with each given spec replacing its target's windows.
    pub fn with_overrides<I, S>(overrides: I) -> Result<Rates>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut rates = Rates::defaults();
        for o in overrides {
            rates.set(o.as_ref().parse()?);
        }
        Ok(rates)
    }

    /// Replace the windows of one target.
    pub fn set(&mut self, spec: RateSpec) {
        match self.specs.iter_mut().find(|s| s.target == spec.target) {
            Some(s) => *s = spec,
            None => self.specs.push(spec),
        }
    }

    /// The windows of one target.
    pub fn windows(&self, target: RateTarget) -> &[Window] {
        self.specs
            .iter()
            .find(|s| s.target == target)
            .map_or(&[], |s| s.windows.as_slice())
    }

    /// Every target with its windows.
    pub fn specs(&self) -> &[RateSpec] {
        &self.specs
    }
}

impl fmt::Display for Rates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.specs.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            s.fmt(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rates() {
        let s: RateSpec = "lacnic=10/min,1000/h".parse().unwrap();
        assert_eq!(s.target, RateTarget::Registry(Registry::Lacnic));
        assert_eq!(
            s.windows,
            [
                Window {
                    count: 10,
                    per: Duration::from_secs(60)
                },
                Window {
                    count: 1000,
                    per: Duration::from_secs(3600)
                }
            ]
        );
        assert_eq!(s.to_string(), "lacnic=10/min,1000/h");
        assert_eq!(
            "arin=10/s".parse::<RateSpec>().unwrap().windows[0].spacing(),
            Duration::from_millis(100)
        );
        assert_eq!(
            "RIPE = 600 / hour".parse::<RateSpec>().unwrap().to_string(),
            "ripencc=600/h"
        );
        assert_eq!(
            "other=2/s".parse::<RateSpec>().unwrap().target,
            RateTarget::Other
        );
        let u: RateSpec = "apnic=Unlimited".parse().unwrap();
        assert!(u.windows.is_empty());
        assert_eq!(u.to_string(), "apnic=unlimited");
        assert!(
            Rates::unlimited()
                .specs()
                .iter()
                .all(|s| s.windows.is_empty())
        );
    }

    #[test]
    fn readable_errors() {
        for (input, says) in [
            ("lacnic", "expected REGISTRY=N/unit"),
            ("mars=1/s", "unknown registry \"mars\""),
            ("arin=10", "not N/unit"),
            ("arin=ten/s", "\"ten\" is not a whole number"),
            ("arin=0/s", "never send"),
            ("arin=10/fortnight", "unknown unit \"fortnight\""),
            ("arin=10/s,", "not N/unit"),
            ("arin=-1/s", "not a whole number"),
        ] {
            let e = input.parse::<RateSpec>().unwrap_err().to_string();
            assert!(e.contains(says), "{input}: {e}");
            assert!(e.starts_with(&format!("invalid rate {input:?}")), "{e}");
        }
    }

    #[test]
    fn defaults_are_polite_and_overridable() {
        let d = Rates::defaults();
        let lacnic = d.windows(RateTarget::Registry(Registry::Lacnic));
        // Never more than LACNIC's documented 10/min and 1,000/h.
        assert!(
            lacnic
                .iter()
                .any(|w| w.per == Duration::from_secs(60) && w.count < 10)
        );
        assert!(
            lacnic
                .iter()
                .any(|w| w.per == Duration::from_secs(3600) && w.count < 1000)
        );
        for r in Registry::ALL {
            assert!(!d.windows(RateTarget::Registry(r)).is_empty());
        }
        assert!(!d.windows(RateTarget::Other).is_empty());
        let o = Rates::with_overrides(["arin=10/s", "lacnic=5/min"]).unwrap();
        assert_eq!(o.windows(RateTarget::Registry(Registry::Arin))[0].count, 10);
        assert_eq!(o.windows(RateTarget::Registry(Registry::Lacnic)).len(), 1);
        assert_eq!(
            d.to_string(),
            "arin=1/s ripencc=1/s apnic=1/s lacnic=9/min,900/h afrinic=3/min,4000/d other=1/s"
        );
    }
}
