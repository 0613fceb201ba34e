//! What operators take away from a crawl, read straight from the crawl database (read-only,
//! so every report works while `serve` runs and after it stopped).
//!
//! # Layout
//! - [`export`]: streaming JSONL export (per seed IP or per network; rdapfleet or 2016 ipwhois
//!   layout; plain, gzip or zstd) in constant memory.
//! - [`coverage`]: exact coverage (union of networks, no double counting) per registry, per /8,
//!   by holder, and the minimal CIDR count of the union.
//! - [`lookup`]: "who holds this address" from the crawled networks alone, over a million a second.
//! - [`map`]: the Hilbert-curve PNG of the address space coloured by registry.
//! - [`telemetry`]: cluster, registry and node views of the workers' per-minute samples.
//! - [`NetworkSummary`]: the few fields of a stored network the reports need.

pub mod coverage;
pub mod export;
pub mod lookup;
pub mod map;
pub mod telemetry;

use serde::Deserialize;

/// The fields of a stored normalized network (rdapfleet-rdap's `Network` JSON) that reports
/// use; parsed without copying the rest.
#[derive(Debug, Default, Deserialize)]
pub struct NetworkSummary {
    /// Registry handle.
    #[serde(default)]
    pub handle: Option<String>,
    /// Network name.
    #[serde(default)]
    pub name: Option<String>,
    /// The registrant organisation.
    #[serde(default)]
    pub registrant: Option<String>,
    /// Two-letter country code.
    #[serde(default)]
    pub country: Option<String>,
    /// Registry that answered (arin, ripencc, apnic, lacnic, afrinic).
    #[serde(default)]
    pub registry: Option<String>,
    /// Abuse contact e-mails.
    #[serde(default)]
    pub abuse_emails: Vec<String>,
}

impl NetworkSummary {
    /// Parse a stored network; a malformed one gives an empty summary (reports go on).
    pub fn parse(json: &str) -> Self {
        serde_json::from_str(json).unwrap_or_default()
    }

    /// The holder's name: the registrant organisation, else the network name.
    pub fn holder(&self) -> Option<&str> {
        self.registrant
            .as_deref()
            .filter(|s| !s.is_empty())
            .or(self.name.as_deref().filter(|s| !s.is_empty()))
    }
}

/// Unix milliseconds as RFC 3339 UTC with milliseconds (`2026-11-21T18:03:00.123Z`).
pub fn rfc3339_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's method).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_795_370_580_123), "2026-11-22T18:03:00.123Z");
    }

    #[test]
    fn summaries_tolerate_missing_fields() {
        let s = NetworkSummary::parse(r#"{"name":"NET-X","registry":"arin","extra":[1,2]}"#);
        assert_eq!(s.holder(), Some("NET-X"));
        assert_eq!(NetworkSummary::parse("not json").holder(), None);
    }
}
