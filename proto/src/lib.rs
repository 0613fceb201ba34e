//! The wire contracts of rdapfleet: the gRPC package `rdapfleet.v1` spoken between workers and
//! the coordinator, and the compact encoding of the coverage change log that the coordinator
//! appends to a Redis stream and every worker tails from its local replica.
//!
//! # Layout
//! - `v1`: the generated gRPC types, client and server for `rdapfleet.v1` (see `proto/`).
//! - [`coverage`]: the binary encoding of coverage entries (newly found networks) in the stream.
//! - [`PROTOCOL_VERSION`], [`ip_to_string`]: small shared helpers.

pub mod coverage;

/// Generated code for package `rdapfleet.v1`.
pub mod v1 {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("rdapfleet.v1");
}

/// The protocol version a worker must announce in `Hello`.
pub const PROTOCOL_VERSION: u32 = 1;

/// Dotted-quad form of an IPv4 address carried as `fixed32`.
pub fn ip_to_string(ip: u32) -> String {
    std::net::Ipv4Addr::from(ip).to_string()
}
