//! RDAP for rdapfleet (being built; see issue 3).
//!
//! # Layout
//! - [`registry`]: the five RIRs and how a URL names its registry.

pub mod registry;

pub use registry::Registry;
