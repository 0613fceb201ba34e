//! RDAP for rdapfleet, shared by the worker, the coordinator and the simulator: the normalized
//! network model, a parser proven on what the five registries really send, RFC 9224 bootstrap,
//! and the polite HTTP client.
//!
//! # Layout
//! - [`registry`]: the five RIRs and how a URL names its registry.
//! - [`model`]: the normalized [`Network`] (DESIGN.md §4 JSON names) and the leaf-type table.
//! - [`parse`]: body bytes to [`Network`] or a typed [`ParseError`] (not found, rate limited, ...).
//! - `address` (private): lenient range bounds (`074.125.000.000`, `194.85.61.0/32`).
//! - `vcard` (private): registrant and abuse e-mails from entities nested at any depth.

mod address;
pub mod model;
pub mod parse;
pub mod registry;
mod vcard;

pub use model::{IpVersion, Network, is_leaf_type};
pub use parse::{ParseError, parse};
pub use registry::Registry;
