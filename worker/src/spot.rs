//! EC2 spot interruption notices: polled from the instance metadata service (IMDSv2). When
//! the notice appears (about two minutes before the instance goes), the worker drains: it stops
//! leasing, returns what it holds and flushes, exactly as on SIGTERM.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// The instance metadata service's base URL on EC2.
pub const DEFAULT_IMDS_URL: &str = "http://169.254.169.254";

/// Poll `{imds}/latest/meta-data/spot/instance-action` every `every` until a notice appears
/// (then cancel `drain`) or `shutdown` is cancelled. A 404 means no notice. Errors are logged
/// and polling goes on.
pub async fn watch(
    imds: String,
    every: Duration,
    drain: CancellationToken,
    shutdown: CancellationToken,
) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .no_proxy()
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            warn!(error = %e, "cannot build the metadata client; spot notices are not watched");
            return;
        }
    };
    let base = imds.trim_end_matches('/').to_string();
    let mut complained = false;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = drain.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        match poll_once(&client, &base).await {
            Ok(Some(notice)) => {
                warn!(notice = %notice, "spot interruption notice: draining");
                drain.cancel();
                return;
            }
            Ok(None) => {
                complained = false;
                debug!("no spot interruption notice");
            }
            Err(e) if !complained => {
                warn!(error = %e, "instance metadata unreachable; will keep polling");
                complained = true;
            }
            Err(_) => {}
        }
    }
}

async fn poll_once(client: &reqwest::Client, base: &str) -> Result<Option<String>, reqwest::Error> {
    // IMDSv2: a session token first; fall back to an unauthenticated GET (IMDSv1) if refused.
    let token = client
        .put(format!("{base}/latest/api/token"))
        .header("X-aws-ec2-metadata-token-ttl-seconds", "60")
        .send()
        .await
        .ok()
        .filter(|r| r.status().is_success());
    let token = match token {
        Some(r) => Some(r.text().await?),
        None => None,
    };
    let mut req = client.get(format!("{base}/latest/meta-data/spot/instance-action"));
    if let Some(t) = &token {
        req = req.header("X-aws-ec2-metadata-token", t);
    }
    let resp = req.send().await?;
    if resp.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    let resp = resp.error_for_status()?;
    Ok(Some(resp.text().await?))
}
