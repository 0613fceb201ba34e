//! The gRPC service `rdapfleet.v1.Coordinator`: each RPC runs one lease-engine operation under
//! the engine's lock, submits its writes to the store in the same critical section, and answers
//! once they are committed.

use std::sync::{Arc, Mutex};

use rdapfleet_proto::v1 as pb;
use rdapfleet_proto::v1::coordinator_server::{Coordinator, CoordinatorServer};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

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
}

impl Shared {
    /// Run `op` on the engine and wait until its writes are durable. A store failure stops the
    /// server: memory would be ahead of the file, and a restart reloads the truth from disk.
    pub async fn apply<T>(
        &self,
        op: impl FnOnce(&mut Engine, i64) -> Result<(T, Vec<Write>)>,
    ) -> Result<T> {
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

/// The gRPC service for `shared`, ready to add to a router. Wrap it here (for example with an
/// authentication interceptor) to change what every RPC goes through.
pub fn grpc_service(shared: Arc<Shared>) -> CoordinatorServer<CoordinatorService> {
    CoordinatorServer::new(CoordinatorService { shared })
}

fn status(e: Error) -> Status {
    to_status(e)
}

#[tonic::async_trait]
impl Coordinator for CoordinatorService {
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
