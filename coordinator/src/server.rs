//! Opening the crawl database, serving gRPC on a listener, and shutting down cleanly.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::Clock;
use crate::config::Config;
use crate::leases::Engine;
use crate::service::{Shared, grpc_service};
use crate::store::Store;
use crate::{Error, Result, db, reaper};

/// A coordinator whose database is open and whose state is loaded, ready to serve.
pub struct Server {
    shared: Arc<Shared>,
    config: Config,
    lock: db::ServeLock,
}

impl Server {
    /// Validate `config`, open the database (refusing anything but a usable seed file) and
    /// rebuild the lease engine from it.
    pub async fn open(config: Config) -> Result<Self> {
        config.validate()?;
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
            }),
            config,
            lock,
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
        tracing::info!(%addr, "listening");
        let served = tonic::transport::Server::builder()
            .add_service(grpc_service(shared.clone()))
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
