//! rdapfleet-sim: a local RDAP world with five registries (ARIN, RIPE NCC, APNIC, LACNIC,
//! AFRINIC) on one loopback listener, built from real registry data, answering like the real
//! servers (each registry's dialect, redirects between registries, 404s for unallocated space)
//! with the real servers' faults and limits on demand, and counting honestly what it was asked.
//! Tests, the demo and every crawl benchmark run against it.
//!
//! # Layout
//! - [`derive`](mod@derive): turns the raw public data (IANA XML, RIR statistics, ERX list,
//!   world tables) into the shipped tables in `sim/data/` (`rdapfleet-sim derive-data`).
//! - [`data`]: loads the shipped (embedded) or given tables, restricted to `--only` slices.
//! - [`world`]: the network tree, which registry holds what, most-specific lookups
//!   ([`rdapfleet_ranges::RangeIndex`]), and [`World::synthetic`] for unit tests.
//! - [`names`]: deterministic handles, parent handles, names, types and contacts per registry.
//! - [`dialect`]: network and error bodies in each registry's RDAP shape (one module each).
//! - [`bootstrap`]: the RFC 9224 file mapping every /8 to its designated registry.
//! - [`config`]: serving configuration and the parsers of rate, outage and fraction flags.
//! - [`limits`]: per-registry, per-client rate limits (429 + Retry-After).
//! - [`faults`]: deterministic 500s, delays, truncated and oversized bodies.
//! - [`stats`]: counters behind `GET /_sim/stats` (answers per distinct network, ...).
//! - [`reqlog`]: the JSON-lines request log.
//! - [`truth`]: the ground truth for an address (`rdapfleet-sim truth`).
//! - [`server`]: the listener, routing, and the order in which a query meets faults, limits
//!   and the world ([`run`]).
//! - [`dates`]: calendar arithmetic for event dates and timestamps.
//! - [`error`]: the crate's [`Error`] and [`Result`].

pub mod bootstrap;
pub mod config;
pub mod data;
pub mod dates;
pub mod derive;
pub mod dialect;
pub mod error;
pub mod faults;
pub mod limits;
pub mod names;
pub mod reqlog;
pub mod server;
pub mod stats;
pub mod truth;
pub mod world;

pub use config::SimConfig;
pub use data::DataSource;
pub use error::{Error, Result};
pub use server::run;
pub use world::World;
