//! The rdapfleet coordinator: serves a crawl from the seed SQLite file. Workers lease batches of
//! seed addresses over gRPC (`rdapfleet.v1.Coordinator`), renew them by heartbeat, report one
//! outcome per IP, and complete the batch; expired leases are handed out again, retryable
//! failures come back after a delay, and every seed IP ends with exactly one final outcome.
//! All state lives in the SQLite file (WAL), written by one thread in grouped transactions, so
//! a coordinator killed at any moment resumes where it stopped.
//!
//! # Layout
//! - [`config`]: [`Config`], [`SkipPolicy`], defaults and the relations checked at start-up.
//! - [`cli`]: the binary's clap flags (environment variables, human durations).
//! - [`server`]: [`Server::open`] / [`Server::serve`] / [`run`]: load, serve, shut down.
//! - [`service`]: the tonic service; each RPC = one engine operation + a durable commit;
//!   [`service::grpc_service`] puts the [`auth`] interceptor and the message-size limits in front.
//! - [`auth`]: the shared bearer token (constant-time check, never logged), `--insecure` rules.
//! - [`tls`]: rustls server configuration from PEM files, optional client CA (mTLS).
//! - [`leases`]: the lease engine (state machine): leasing, heartbeats, outcomes, completion,
//!   returns, and lease expiry ([`leases::Engine::reap`]).
//! - [`outcomes`]: validation of reported outcomes.
//! - [`prefilter`]: skips IPs inside known networks before a batch leaves (coverage seam).
//! - [`reaper`]: background tasks: the reaper (expired leases) and the new-batch poller.
//! - [`store`]: the thread that owns the SQLite connection; group commit of [`store::Write`]s.
//! - [`db`]: opening/checking the file, the coordinator's tables, row types, loading state.
//! - [`status`]: the `status` report, read straight from the file.
//! - [`add_range`]: the `add-range` command (more seeds while running).
//! - [`publish`]: appends every new network to the Redis coverage stream workers tail.
//! - [`report`]: export, coverage, lookup, telemetry views and the coverage map (read-only).
//! - [`metrics`]: Prometheus metrics (lease, outcome and store counters, batch gauges).
//! - [`clock`]: Unix milliseconds that follow tokio's (pausable) clock.
//! - [`error`]: [`Error`], [`Result`] and [`to_status`], the one mapping to gRPC codes.

pub mod add_range;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod leases;
pub mod metrics;
pub mod outcomes;
pub mod prefilter;
pub mod publish;
pub mod reaper;
pub mod report;
pub mod server;
pub mod service;
pub mod status;
pub mod store;
pub mod tls;

pub use config::{Config, SkipPolicy};
pub use error::{Error, Result, to_status};
pub use server::{Server, run};
