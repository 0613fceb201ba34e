//! IPv4 range arithmetic for rdapfleet, in one place: the [`Range`] type, strict parsing of
//! addresses and CIDRs typed by people, range-to-CIDR conversion, exact unions, the IANA
//! special-purpose registry, and the [`RangeIndex`] that the coordinator's pre-filter, every
//! worker's skip check and the simulator's "most specific network" answer all use.
//!
//! Addresses are `u32` in host order (`a.b.c.d == a<<24 | b<<16 | c<<8 | d`), as on the wire.
//!
//! # Layout
//! - [`range`]: the inclusive [`Range`], parsing (`parse_ipv4`, `parse_cidr`), CIDR conversion.
//! - [`union`]: exact union of overlapping ranges (sizes, minimal CIDR lists).
//! - [`special`]: the IANA IPv4 special-purpose registry (shipped as data) plus multicast.
//! - [`index`]: [`RangeIndex`], most-specific-range lookup and batch filtering in O(log n).

pub mod index;
pub mod range;
pub mod special;
pub mod union;

pub use index::RangeIndex;
pub use range::{Range, RangeError, parse_cidr, parse_ipv4, to_cidrs};
