//! RDAP for rdapfleet, shared by the worker, the coordinator and the simulator: the normalized
//! network model, a parser proven on what the five registries really send, RFC 9224 bootstrap,
//! and the polite HTTP client.
//!
//! # Layout
//! - [`registry`]: the five RIRs and how a URL names its registry.
//! - [`model`]: the normalized [`Network`] (DESIGN.md §4 JSON names) and the leaf-type table.
//! - [`mod@parse`]: body bytes to [`Network`] or a typed [`ParseError`] (not found, rate limited, ...).
//! - `address` (private): lenient range bounds (`074.125.000.000`, `194.85.61.0/32`).
//! - `vcard` (private): registrant and abuse e-mails from entities nested at any depth.
//! - [`bootstrap`]: RFC 9224 files (IANA's `ipv4.json` shipped), longest-prefix match.
//! - [`client`]: [`RdapClient`], the polite lookup: gates, redirects, 429 handling, retries.
//! - [`outcome`]: [`LookupOutcome`], found (raw JSON kept) / not found / failed (retryable?).
//! - `body` (private): reading a body under the size cap, keeping it as raw JSON.
//! - [`rates`]: `lacnic=9/min,900/h` parsing and the documented default limits.
//! - [`limiter`]: per-registry governor limiters on tokio time, and the registry pause.
//! - [`retry_after`]: `Retry-After` as seconds or HTTP date.
//! - [`backoff`]: exponential backoff with jitter (429s without Retry-After, retries).
//! - [`breaker`]: per-registry circuit breaker (open, cool-down, one probe).
//! - [`stats`]: per-registry counters and latency samples for telemetry.
//! - [`error`]: the crate's set-up [`Error`] and [`Result`].

mod address;
pub mod backoff;
mod body;
pub mod bootstrap;
pub mod breaker;
pub mod client;
pub mod error;
pub mod limiter;
pub mod model;
pub mod outcome;
pub mod parse;
pub mod rates;
pub mod registry;
pub mod retry_after;
pub mod stats;
mod vcard;

pub use bootstrap::Bootstrap;
pub use client::{ClientConfig, LookupOutcome, RdapClient};
pub use error::{Error, Result};
pub use model::{IpVersion, Network, is_leaf_type};
pub use parse::{ParseError, parse};
pub use rates::{RateSpec, RateTarget, Rates, Window};
pub use registry::Registry;
