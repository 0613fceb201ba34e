//! The gRPC service `rdapfleet.v1.Coordinator`: each RPC runs one lease-engine operation under
//! the engine's lock, submits its writes to the store in the same critical section, and answers
//! once they are committed.
//!
//! Status codes (mapped in one place, [`crate::to_status`]):
//!
//! | code | when |
//! |---|---|
//! | `INVALID_ARGUMENT` | a malformed field: empty worker id, `max_batches` 0, an outcome without a kind, a network whose start is after its end or that does not contain the IP, `network_json` not a JSON object, a failure without a reason, an IP not in the lease or listed twice, too many outcomes, a telemetry sample missing or backwards |
//! | `NOT_FOUND` | a lease id never granted, or held by another worker |
//! | `FAILED_PRECONDITION` | wrong protocol version; a worker that has not said Hello; a lease that is no longer live (expired, completed or returned): its batch is, or will be, handed out again |
//! | `UNAVAILABLE` | the store stopped (shutdown, or a failed write: the server then stops too) |
//! | `INTERNAL` | anything else (logged) |
//!
//! | `UNAUTHENTICATED` | no `authorization: Bearer <token>`, a malformed one, or the wrong token (checked by [`crate::auth`] before the body is decoded) |
//! | `OUT_OF_RANGE` | a message larger than `--max-message-size` (refused by tonic while decoding) |
//!
//! A refused call changes nothing: requests are validated whole before anything is applied.
//!
//! Backpressure: an operation takes a permit of [`Shared::pending`] before it touches the
//! engine and holds it until its writes are committed, so at most `max_pending_writes` write
//! sets ever wait for the store; further calls wait (asynchronously) for a permit.

use std::sync::{Arc, Mutex};

use rdapfleet_proto::v1 as pb;
use rdapfleet_proto::v1::coordinator_server::{Coordinator, CoordinatorServer};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status};

use crate::auth::Authenticator;

use crate::clock::Clock;
use crate::leases::Engine;
use crate::store::{Store, Write};
use crate::{Error, Result, to_status};

/// State shared by the RPC handlers and the background tasks.
pub struct Shared {
    /// The lease engine (short critical sections, never held across an await).
    pub engine: Mutex<Engine>,
    /// The store thread.
    pub store: Store,
    /// Wall clock that follows tokio time.
    pub clock: Clock,
    /// Wakes the new-batch poller (the queue ran dry).
    pub poll: Notify,
    /// Cancelled when the server must stop (shutdown or a failed store write).
    pub stop: CancellationToken,
    /// Why the store failed, if it did.
    pub fatal: Mutex<Option<String>>,
    /// Permits for operations whose writes wait for the store (bounds the store's queue).
    pub pending: Semaphore,
}

impl Shared {
    /// Run `op` on the engine and wait until its writes are durable. A store failure stops the
    /// server: memory would be ahead of the file, and a restart reloads the truth from disk.
    pub async fn apply<T>(
        &self,
        op: impl FnOnce(&mut Engine, i64) -> Result<(T, Vec<Write>)>,
    ) -> Result<T> {
        let _permit = self
            .pending
            .acquire()
            .await
            .map_err(|_| Error::StoreUnavailable("the server is stopping".into()))?;
        let (value, ack) = {
            let mut engine = self
                .engine
                .lock()
                .map_err(|_| Error::Internal("lease engine lock poisoned".into()))?;
            let now = self.clock.now_ms();
            let (value, writes) = op(&mut engine, now)?;
            (value, self.store.submit(writes))
        };
        if let Err(e) = ack.wait().await {
            if let Ok(mut f) = self.fatal.lock() {
                f.get_or_insert_with(|| e.to_string());
            }
            self.stop.cancel();
            return Err(e);
        }
        Ok(value)
    }
}

/// The tonic service implementation.
#[derive(Clone)]
pub struct CoordinatorService {
    shared: Arc<Shared>,
}

/// The service every RPC goes through: `auth` checks the caller's token before the request
/// body is decoded, and messages larger than `max_message_bytes` are refused both ways.
pub type GrpcService = InterceptedService<CoordinatorServer<CoordinatorService>, Authenticator>;

/// The gRPC service for `shared`, ready to add to a router.
pub fn grpc_service(
    shared: Arc<Shared>,
    auth: Authenticator,
    max_message_bytes: usize,
) -> GrpcService {
    let server = CoordinatorServer::new(CoordinatorService { shared })
        .max_decoding_message_size(max_message_bytes)
        .max_encoding_message_size(max_message_bytes);
    InterceptedService::new(server, auth)
}

fn status(e: Error) -> Status {
    to_status(e)
}

#[tonic::async_trait]
impl Coordinator for CoordinatorService {
    #[tracing::instrument(level = "debug", skip_all, fields(worker = %request.get_ref().worker_id))]
    async fn hello(
        &self,
        request: Request<pb::HelloRequest>,
    ) -> Result<Response<pb::HelloResponse>, Status> {
        let req = request.into_inner();
        let (worker, host) = (req.worker_id.clone(), req.hostname.clone());
        let resp = self
            .shared
            .apply(|e, now| e.hello(req, now))
            .await
            .map_err(status)?;
        tracing::info!(worker = %worker, hostname = %host, "worker said hello");
        Ok(Response::new(resp))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(worker = %request.get_ref().worker_id))]
    async fn lease(
        &self,
        request: Request<pb::LeaseRequest>,
    ) -> Result<Response<pb::LeaseResponse>, Status> {
        let req = request.into_inner();
        let resp = self
            .shared
            .apply(|e, now| e.lease(&req.worker_id, req.max_batches, now))
            .await
            .map_err(status)?;
        if resp.leases.is_empty() {
            self.shared.poll.notify_one();
        }
        Ok(Response::new(resp))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(worker = %request.get_ref().worker_id))]
    async fn heartbeat(
        &self,
        request: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatResponse>, Status> {
        let req = request.into_inner();
        let resp = self
            .shared
            .apply(|e, now| e.heartbeat(&req.worker_id, &req.lease_ids, now))
            .await
            .map_err(status)?;
        Ok(Response::new(resp))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(worker = %request.get_ref().worker_id))]
    async fn report_outcomes(
        &self,
        request: Request<pb::ReportOutcomesRequest>,
    ) -> Result<Response<pb::ReportOutcomesResponse>, Status> {
        let req = request.into_inner();
        let counts = self
            .shared
            .apply(|e, now| e.report(&req.worker_id, req.lease_id, req.outcomes, now))
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ReportOutcomesResponse {
            accepted: counts.accepted,
            duplicates: counts.duplicates,
            requeued: counts.requeued,
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(worker = %request.get_ref().worker_id))]
    async fn complete_batch(
        &self,
        request: Request<pb::CompleteBatchRequest>,
    ) -> Result<Response<pb::CompleteBatchResponse>, Status> {
        let req = request.into_inner();
        let resp = self
            .shared
            .apply(|e, now| e.complete(&req.worker_id, req.lease_id, now))
            .await
            .map_err(status)?;
        Ok(Response::new(resp))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(worker = %request.get_ref().worker_id))]
    async fn return_leases(
        &self,
        request: Request<pb::ReturnLeasesRequest>,
    ) -> Result<Response<pb::ReturnLeasesResponse>, Status> {
        let req = request.into_inner();
        let returned = self
            .shared
            .apply(|e, now| e.return_leases(&req.worker_id, &req.lease_ids, now))
            .await
            .map_err(status)?;
        if returned > 0 {
            tracing::info!(worker = %req.worker_id, returned, "leases returned");
        }
        Ok(Response::new(pb::ReturnLeasesResponse { returned }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(worker = %request.get_ref().worker_id))]
    async fn report_telemetry(
        &self,
        request: Request<pb::ReportTelemetryRequest>,
    ) -> Result<Response<pb::ReportTelemetryResponse>, Status> {
        let req = request.into_inner();
        self.shared
            .apply(|e, now| Ok(((), e.telemetry(&req.worker_id, req.sample, now)?)))
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ReportTelemetryResponse {}))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::*;

    fn hello(worker: &str) -> pb::HelloRequest {
        pb::HelloRequest {
            protocol_version: rdapfleet_proto::PROTOCOL_VERSION,
            worker_id: worker.into(),
            hostname: "h".into(),
            version: "v".into(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_busy_store_holds_callers_back_instead_of_queueing_their_writes() {
        let dir = tempfile::tempdir().unwrap();
        let db = rdapfleet_testkit::seed_file(dir.path(), &["8.8.8.0/24"], 64);
        let mut config = crate::Config::new(&db);
        config.security.insecure = true;
        config.max_pending_writes = 1;
        let server = crate::Server::open(config).await.unwrap();
        let shared = server.shared().clone();

        // Stall the store thread (a slow disk): a read that waits for a signal.
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let stalled = {
            let shared = shared.clone();
            tokio::spawn(async move {
                shared
                    .store
                    .read(move |_| {
                        let _ = started_tx.send(());
                        let _ = release_rx.recv();
                        Ok(())
                    })
                    .await
            })
        };
        started_rx.await.unwrap();

        // The first call takes the only permit and waits for its commit.
        let first = {
            let shared = shared.clone();
            tokio::spawn(async move { shared.apply(|e, now| e.hello(hello("w1"), now)).await })
        };
        while shared.pending.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        // The second waits for a permit: it does not touch the engine, and queues nothing.
        let ran = Arc::new(AtomicBool::new(false));
        let second = {
            let (shared, ran) = (shared.clone(), ran.clone());
            tokio::spawn(async move {
                shared
                    .apply(|e, now| {
                        ran.store(true, Ordering::SeqCst);
                        e.hello(hello("w2"), now)
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !ran.load(Ordering::SeqCst),
            "the second call ran past the limit"
        );
        assert!(!second.is_finished() && !first.is_finished());

        // The disk catches up: both finish, in order.
        release_tx.send(()).unwrap();
        stalled.await.unwrap().unwrap();
        first.await.unwrap().unwrap();
        second.await.unwrap().unwrap();
        assert!(ran.load(Ordering::SeqCst));
        assert_eq!(shared.pending.available_permits(), 1);
    }
}
