//! Helpers for rdapfleet's integration tests, which run real parts on loopback: the workspace's
//! own binaries as child processes, `redis-server` on free ports in temp dirs, and real seed
//! files. Everything started here is SIGKILLed and reaped on drop, and a test that panics
//! prints each child's log tail.
//!
//! # Layout
//! - [`wait`]: [`wait_until`] / [`wait_until_async`]: poll a condition against a deadline.
//! - [`net`]: loopback ports, [`free_port`].
//! - [`process`]: [`ChildProcess`]: a child with captured output, line waits, kill on drop;
//!   [`binary_path`] finds workspace binaries next to the test executable.
//! - [`redis`]: [`RedisServer`]: a throwaway `redis-server` (master or replica, optional password).
//! - [`seed`]: [`seed_file`]: small real seed files for tests.
//! - [`credentials`]: [`write_token_file`] ([`TEST_TOKEN`] in a file) and [`TestPki`] (CA,
//!   server and client certificates for TLS and mutual TLS).
//! - [`refusal`]: [`assert_refused`]: exit 1, nothing on stdout, one `PROGRAM: error:` line.
//! - [`cluster`]: [`TestCluster`]: Redis master + replicas, the simulator, the coordinator and
//!   N workers on loopback, with kill/restart helpers and the simulator's truth and counters.

pub mod cluster;
pub mod credentials;
pub mod net;
pub mod process;
pub mod redis;
pub mod refusal;
pub mod seed;
pub mod wait;

pub use cluster::{ClusterOptions, TEST_TOKEN, TestCluster, unlimited_rates};
pub use credentials::{TestPki, bearer, write_token_file};
pub use net::free_port;
pub use process::{ChildProcess, binary_path};
pub use redis::{RedisOptions, RedisServer};
pub use refusal::assert_refused;
pub use seed::seed_file;
pub use wait::{wait_until, wait_until_async};
