//! Validation of reported outcomes: every field is checked before anything is applied, so a
//! malformed report is refused whole and changes nothing.

use rdapfleet_proto::ip_to_string;
use rdapfleet_proto::v1::{Outcome, outcome};

use crate::{Error, Result};

/// Longest accepted registry name.
const MAX_REGISTRY_LEN: usize = 64;
/// Longest accepted failure reason.
const MAX_REASON_LEN: usize = 2048;

/// A reported outcome whose fields are valid (membership in the lease is checked by the engine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    /// The seed IP.
    pub ip: u32,
    /// When the worker settled it, Unix ms (0 when not given).
    pub at_ms: i64,
    /// What happened.
    pub kind: ReportedKind,
}

/// The validated kinds of outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportedKind {
    /// RDAP answered with the network `start..=end` that contains the IP.
    Found {
        /// First address.
        start: u32,
        /// Last address.
        end: u32,
        /// `"leaf": true` in the normalized JSON.
        leaf: bool,
        /// Normalized network, a JSON object.
        network_json: String,
        /// Raw RDAP body.
        raw_json: Vec<u8>,
        /// Redirects followed.
        redirects: u32,
    },
    /// Inside a network the worker already knew.
    Skipped {
        /// First address.
        start: u32,
        /// Last address.
        end: u32,
    },
    /// No registry holds the IP.
    NotFound {
        /// The registry that answered 404.
        registry: Option<String>,
    },
    /// The lookup failed.
    Failed {
        /// Why.
        reason: String,
        /// Whether asking again later may succeed.
        retryable: bool,
        /// The registry involved.
        registry: Option<String>,
    },
}

fn registry(s: String, ip: u32) -> Result<Option<String>> {
    if s.len() > MAX_REGISTRY_LEN {
        return Err(Error::InvalidArgument(format!(
            "outcome for {}: registry name longer than {MAX_REGISTRY_LEN} bytes",
            ip_to_string(ip)
        )));
    }
    Ok((!s.is_empty()).then_some(s))
}

fn range(start: u32, end: u32, ip: u32, what: &str) -> Result<()> {
    if start > end {
        return Err(Error::InvalidArgument(format!(
            "outcome for {}: {what} network start {} is after end {}",
            ip_to_string(ip),
            ip_to_string(start),
            ip_to_string(end)
        )));
    }
    if ip < start || ip > end {
        return Err(Error::InvalidArgument(format!(
            "outcome for {}: the IP is outside its {what} network {} - {}",
            ip_to_string(ip),
            ip_to_string(start),
            ip_to_string(end)
        )));
    }
    Ok(())
}

/// Check one outcome's fields.
pub fn validate(o: Outcome) -> Result<Reported> {
    let ip = o.ip;
    let kind = match o.kind {
        None => {
            return Err(Error::InvalidArgument(format!(
                "outcome for {} has no kind (found, skipped, not_found or failed)",
                ip_to_string(ip)
            )));
        }
        Some(outcome::Kind::Found(f)) => {
            range(f.start, f.end, ip, "found")?;
            let value: serde_json::Value =
                serde_json::from_slice(&f.network_json).map_err(|e| {
                    Error::InvalidArgument(format!(
                        "outcome for {}: network_json is not JSON ({e})",
                        ip_to_string(ip)
                    ))
                })?;
            let Some(obj) = value.as_object() else {
                return Err(Error::InvalidArgument(format!(
                    "outcome for {}: network_json is not a JSON object",
                    ip_to_string(ip)
                )));
            };
            let leaf = obj.get("leaf") == Some(&serde_json::Value::Bool(true));
            let network_json = String::from_utf8(f.network_json).map_err(|_| {
                Error::InvalidArgument(format!(
                    "outcome for {}: network_json is not UTF-8",
                    ip_to_string(ip)
                ))
            })?;
            ReportedKind::Found {
                start: f.start,
                end: f.end,
                leaf,
                network_json,
                raw_json: f.raw_json,
                redirects: f.redirects,
            }
        }
        Some(outcome::Kind::Skipped(s)) => {
            range(s.start, s.end, ip, "skipped")?;
            ReportedKind::Skipped {
                start: s.start,
                end: s.end,
            }
        }
        Some(outcome::Kind::NotFound(n)) => ReportedKind::NotFound {
            registry: registry(n.registry, ip)?,
        },
        Some(outcome::Kind::Failed(f)) => {
            if f.reason.trim().is_empty() {
                return Err(Error::InvalidArgument(format!(
                    "outcome for {}: failed without a reason",
                    ip_to_string(ip)
                )));
            }
            if f.reason.len() > MAX_REASON_LEN {
                return Err(Error::InvalidArgument(format!(
                    "outcome for {}: failure reason longer than {MAX_REASON_LEN} bytes",
                    ip_to_string(ip)
                )));
            }
            ReportedKind::Failed {
                reason: f.reason,
                retryable: f.retryable,
                registry: registry(f.registry, ip)?,
            }
        }
    };
    Ok(Reported {
        ip,
        at_ms: o.at_ms,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdapfleet_proto::v1::{Failed, Found, Skipped};

    fn found(ip: u32, start: u32, end: u32, json: &str) -> Outcome {
        Outcome {
            ip,
            at_ms: 1,
            kind: Some(outcome::Kind::Found(Found {
                start,
                end,
                network_json: json.as_bytes().to_vec(),
                raw_json: b"{}".to_vec(),
                redirects: 0,
            })),
        }
    }

    fn invalid(o: Outcome) -> String {
        match validate(o) {
            Err(Error::InvalidArgument(m)) => m,
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }

    #[test]
    fn found_reads_the_leaf_flag() {
        let r = validate(found(5, 0, 10, r#"{"leaf": true, "handle": "X"}"#)).unwrap();
        assert!(matches!(r.kind, ReportedKind::Found { leaf: true, .. }));
        let r = validate(found(5, 0, 10, r#"{"handle": "X"}"#)).unwrap();
        assert!(matches!(r.kind, ReportedKind::Found { leaf: false, .. }));
    }

    #[test]
    fn malformed_fields_are_refused() {
        assert!(
            invalid(Outcome {
                ip: 1,
                at_ms: 0,
                kind: None
            })
            .contains("no kind")
        );
        assert!(invalid(found(5, 10, 0, "{}")).contains("after end"));
        assert!(invalid(found(50, 0, 10, "{}")).contains("outside"));
        assert!(invalid(found(5, 0, 10, "[1]")).contains("not a JSON object"));
        assert!(invalid(found(5, 0, 10, "{")).contains("not JSON"));
        let skipped = Outcome {
            ip: 1,
            at_ms: 0,
            kind: Some(outcome::Kind::Skipped(Skipped { start: 2, end: 3 })),
        };
        assert!(invalid(skipped).contains("outside"));
        let failed = Outcome {
            ip: 1,
            at_ms: 0,
            kind: Some(outcome::Kind::Failed(Failed {
                reason: " ".into(),
                retryable: true,
                registry: String::new(),
            })),
        };
        assert!(invalid(failed).contains("without a reason"));
    }
}
