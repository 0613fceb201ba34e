//! The benchmarks' gRPC worker: connect, say hello, and lease, report and complete batches the
//! way a worker does (one batch at a time, reports of at most 500 outcomes).

use std::net::SocketAddr;
use std::time::Duration;

use rdapfleet_proto::PROTOCOL_VERSION;
use rdapfleet_proto::v1::coordinator_client::CoordinatorClient;
use rdapfleet_proto::v1::{self as pb};
use tonic::transport::Channel;

/// Outcomes per `ReportOutcomes`, as the coordinator's default settings allow.
const REPORT_CHUNK: usize = 500;

/// A client of the coordinator at `addr` that has said hello as `worker`.
pub async fn worker_client(addr: SocketAddr, worker: &str) -> CoordinatorClient<Channel> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .tcp_nodelay(true)
        .connect()
        .await
        .expect("connect");
    let mut c = CoordinatorClient::new(channel);
    c.hello(pb::HelloRequest {
        protocol_version: PROTOCOL_VERSION,
        worker_id: worker.into(),
        hostname: format!("{worker}.bench"),
        version: "bench".into(),
    })
    .await
    .expect("hello");
    c
}

/// Lease one batch at a time until the crawl is complete or `max_batches` were done; report
/// each batch's IPs in chunks with `outcomes(chunk)` (no report when it gives `None`), then
/// complete the batch. Returns the batches done and the outcomes accepted.
pub async fn crawl(
    c: &mut CoordinatorClient<Channel>,
    worker: &str,
    max_batches: Option<usize>,
    mut outcomes: impl FnMut(&[u32]) -> Option<Vec<pb::Outcome>>,
) -> (u64, u64) {
    let (mut batches, mut accepted) = (0u64, 0u64);
    while max_batches.is_none_or(|max| batches < max as u64) {
        let resp = c
            .lease(pb::LeaseRequest {
                worker_id: worker.into(),
                max_batches: 1,
            })
            .await
            .expect("lease")
            .into_inner();
        if resp.crawl_complete {
            break;
        }
        let Some(lease) = resp.leases.into_iter().next() else {
            tokio::time::sleep(Duration::from_millis(u64::from(
                resp.retry_after_ms.min(20),
            )))
            .await;
            continue;
        };
        for chunk in lease.ips.chunks(REPORT_CHUNK) {
            let Some(list) = outcomes(chunk) else {
                break;
            };
            let r = c
                .report_outcomes(pb::ReportOutcomesRequest {
                    worker_id: worker.into(),
                    lease_id: lease.lease_id,
                    outcomes: list,
                })
                .await
                .expect("report")
                .into_inner();
            accepted += u64::from(r.accepted);
        }
        c.complete_batch(pb::CompleteBatchRequest {
            worker_id: worker.into(),
            lease_id: lease.lease_id,
        })
        .await
        .expect("complete");
        batches += 1;
    }
    (batches, accepted)
}
