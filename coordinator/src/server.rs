//! Opening the crawl database, serving gRPC on a listener, and shutting down cleanly.
//!
//! Start-up checks, in order: the settings' relations (a token or `--insecure`, `--insecure`
//! only on loopback), the token file, the TLS files, then the database. The server speaks TLS
//! when given a certificate, checks the bearer token on every call, and bounds message sizes,
//! header sizes and concurrent streams per connection.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{Authenticator, check_insecure_listen};
use crate::clock::Clock;
use crate::config::Config;
use crate::leases::Engine;
use crate::service::{Shared, grpc_service};
use crate::store::Store;
use crate::{Error, Result, db, reaper, tls};

/// Most concurrent calls on one connection (a worker uses about one per leased batch plus a
/// few; the default 16 batches fit many times over).
pub const MAX_STREAMS_PER_CONNECTION: u32 = 256;

/// Largest header block a caller may send (the bearer token and a few small fields).
pub const MAX_HEADER_LIST_BYTES: u32 = 16 * 1024;

/// A coordinator whose database is open and whose state is loaded, ready to serve.
pub struct Server {
    shared: Arc<Shared>,
    config: Config,
    lock: db::ServeLock,
    auth: Authenticator,
    tls: Option<tonic::transport::ServerTlsConfig>,
}

impl Server {
    /// Validate `config`, open the database (refusing anything but a usable seed file) and
    /// rebuild the lease engine from it.
    pub async fn open(config: Config) -> Result<Self> {
        config.validate()?;
        let auth = match &config.security.token {
            Some(source) => Authenticator::require(source.load()?),
            None => Authenticator::allow_all(),
        };
        let tls = config
            .security
            .tls
            .as_ref()
            .map(tls::server_config)
            .transpose()?;
        let started = std::time::Instant::now();
        db::check_exists(&config.db)?;
        let lock = db::lock_for_serving(&config.db)?;
        let (store, loaded) = Store::open(config.db.clone()).await?;
        let clock = Clock::new();
        let batches = loaded.batches.len();
        let engine = Engine::restore(config.clone(), loaded, clock.now_ms());
        let (ready, delayed, leased) = engine.queue_sizes();
        tracing::info!(
            db = %config.db.display(),
            batches,
            ready,
            delayed,
            leased,
            networks = engine.prefilter().len(),
            complete = engine.crawl_complete(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "crawl database loaded"
        );
        Ok(Self {
            shared: Arc::new(Shared {
                engine: Mutex::new(engine),
                store,
                clock,
                poll: Notify::new(),
                stop: CancellationToken::new(),
                fatal: Mutex::new(None),
                pending: Semaphore::new(config.max_pending_writes),
            }),
            config,
            lock,
            auth,
            tls,
        })
    }

    /// State shared with the RPC handlers (for tests and benchmarks in this crate).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Serve on `listener` until `shutdown` is cancelled (or the store fails), then stop the
    /// background tasks, let in-flight calls finish, and flush the store.
    pub async fn serve(self, listener: TcpListener, shutdown: CancellationToken) -> Result<()> {
        let addr = listener.local_addr()?;
        if !self.auth.requires_token() {
            check_insecure_listen(addr)?;
        }
        let mut builder = tonic::transport::Server::builder()
            .max_concurrent_streams(Some(MAX_STREAMS_PER_CONNECTION))
            .http2_max_header_list_size(Some(MAX_HEADER_LIST_BYTES));
        let tls = self.tls.is_some();
        if let Some(config) = self.tls {
            builder = builder.tls_config(config)?;
        }
        let shared = self.shared;
        let stop = shared.stop.clone();
        let forward = {
            let stop = stop.clone();
            tokio::spawn(async move {
                shutdown.cancelled().await;
                stop.cancel();
            })
        };
        let tasks = TaskTracker::new();
        tasks.spawn(reaper::run_reaper(
            shared.clone(),
            self.config.reaper_interval,
            stop.clone(),
        ));
        tasks.spawn(reaper::run_poller(
            shared.clone(),
            self.config.poll_interval,
            Duration::from_secs(1),
            stop.clone(),
        ));
        if let Some(url) = &self.config.redis {
            tasks.spawn(crate::publish::run(
                crate::publish::PublishConfig::new(url.clone(), self.config.db.clone()),
                stop.clone(),
            ));
        }
        tasks.close();
        let incoming = TcpListenerStream::new(listener).map(|conn| {
            conn.and_then(|s| {
                s.set_nodelay(true)?;
                Ok(s)
            })
        });
        let mtls = self
            .config
            .security
            .tls
            .as_ref()
            .is_some_and(|t| t.client_ca.is_some());
        let auth = if self.auth.requires_token() {
            "bearer token"
        } else {
            tracing::warn!(%addr, "serving WITHOUT authentication (--insecure): anyone who can connect may lease and report");
            "none (--insecure)"
        };
        tracing::info!(%addr, tls, mtls, auth, max_message_bytes = self.config.max_message_bytes, "listening");
        let service = grpc_service(shared.clone(), self.auth, self.config.max_message_bytes);
        let served = builder
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, stop.clone().cancelled_owned())
            .await;
        stop.cancel();
        forward.abort();
        tasks.wait().await;
        let closed = shared.store.close().await;
        tracing::info!("coordinator stopped");
        served?;
        closed?;
        drop(self.lock);
        let fatal = shared.fatal.lock().ok().and_then(|f| f.clone());
        match fatal {
            Some(m) => Err(Error::StoreUnavailable(m)),
            None => Ok(()),
        }
    }
}

/// Open the database named in `config` and serve on `listener` until `shutdown` is cancelled.
pub async fn run(listener: TcpListener, config: Config, shutdown: CancellationToken) -> Result<()> {
    Server::open(config).await?.serve(listener, shutdown).await
}
