//! The worker's side of the `rdapfleet.v1` conversation: one gRPC channel to the coordinator,
//! the bearer token on every call, and patient retries. A worker never exits on a transient
//! fault: an unreachable coordinator is retried with capped exponential backoff and jitter, and
//! said so in the log; only answers that retrying cannot change are returned as errors.
//!
//! Over https the worker trusts the system roots plus an optional CA, and can present a client
//! certificate ([`ClientIdentity`]) to a coordinator that requires mutual TLS.

use std::time::Duration;

use rand::Rng;
use rdapfleet_proto::v1::coordinator_client::CoordinatorClient;
use rdapfleet_proto::v1::{
    CompleteBatchRequest, CompleteBatchResponse, HeartbeatRequest, HeartbeatResponse, HelloRequest,
    HelloResponse, LeaseRequest, LeaseResponse, Outcome, ReportOutcomesRequest,
    ReportOutcomesResponse, ReportTelemetryRequest, ReturnLeasesRequest, TelemetrySample,
};
use tokio_util::sync::CancellationToken;
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};
use tracing::{info, warn};

use crate::{Error, Result};

/// Largest message the worker accepts from the coordinator.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Auth(Option<MetadataValue<tonic::metadata::Ascii>>);

impl tonic::service::Interceptor for Auth {
    fn call(&mut self, mut req: Request<()>) -> std::result::Result<Request<()>, Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

type Client = CoordinatorClient<InterceptedService<Channel, Auth>>;

/// A TLS client certificate and its key (PEM), presented to a coordinator that requires
/// client certificates. Its `Debug` does not print the key.
#[derive(Clone)]
pub struct ClientIdentity {
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("cert_pem_bytes", &self.cert_pem.len())
            .field("key_pem", &"***")
            .finish()
    }
}

impl ClientIdentity {
    /// A certificate chain and key in PEM; refused when either holds no PEM block of its kind.
    pub fn from_pem(cert_pem: Vec<u8>, key_pem: Vec<u8>) -> Result<Self> {
        let has = |pem: &[u8], what: &[u8]| pem.windows(what.len()).any(|w| w == what);
        if !has(&cert_pem, b"-----BEGIN CERTIFICATE-----") {
            return Err(Error::Input(
                "the TLS client certificate holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
                    .into(),
            ));
        }
        if !has(&key_pem, b"PRIVATE KEY-----") {
            return Err(Error::Input(
                "the TLS client key holds no PEM private key (-----BEGIN PRIVATE KEY-----)".into(),
            ));
        }
        Ok(Self { cert_pem, key_pem })
    }

    /// Read `--tls-cert` and `--tls-key`; errors name the file.
    pub fn load(cert: &std::path::Path, key: &std::path::Path) -> Result<Self> {
        let read = |p: &std::path::Path, flag: &str| {
            std::fs::read(p)
                .map_err(|e| Error::Input(format!("cannot read {flag} {}: {e}", p.display())))
        };
        let (cert_pem, key_pem) = (read(cert, "--tls-cert")?, read(key, "--tls-key")?);
        Self::from_pem(cert_pem, key_pem).map_err(|e| {
            Error::Input(format!(
                "--tls-cert {} / --tls-key {}: {e}",
                cert.display(),
                key.display()
            ))
        })
    }
}

/// How to reach the coordinator. Its `Debug` does not print the token.
#[derive(Clone)]
pub struct SessionConfig {
    /// `http://host:port` or `https://host:port`.
    pub url: String,
    /// The shared bearer token, if the coordinator requires one.
    pub token: Option<String>,
    /// PEM of a CA to trust for https (defaults to the system roots).
    pub tls_ca_pem: Option<Vec<u8>>,
    /// This worker's identity.
    pub worker_id: String,
    /// Host name reported in Hello.
    pub hostname: String,
    /// First and last delay between retries of a failed call.
    pub backoff: (Duration, Duration),
}

impl std::fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionConfig")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("tls_ca_pem_bytes", &self.tls_ca_pem.as_ref().map(Vec::len))
            .field("worker_id", &self.worker_id)
            .field("hostname", &self.hostname)
            .field("backoff", &self.backoff)
            .finish()
    }
}

/// A connection to the coordinator with retrying calls.
#[derive(Clone)]
pub struct Session {
    client: Client,
    config: SessionConfig,
    shutdown: CancellationToken,
}

/// Whether a failed call may succeed if made again.
pub fn is_transient(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable
            // A connection closed under a call (a restarting coordinator, a refused TLS
            // handshake): the worker never cancels calls itself.
            | Code::Cancelled
            | Code::DeadlineExceeded
            | Code::Unknown
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::Internal
    )
}

impl Session {
    /// Prepare a lazily connected channel (nothing is dialled until the first call).
    pub fn new(config: SessionConfig, shutdown: CancellationToken) -> Result<Self> {
        Self::with_identity(config, None, shutdown)
    }

    /// [`Session::new`], presenting `identity` as the TLS client certificate (mutual TLS;
    /// https URLs only).
    pub fn with_identity(
        config: SessionConfig,
        identity: Option<ClientIdentity>,
        shutdown: CancellationToken,
    ) -> Result<Self> {
        let https = config.url.starts_with("https://");
        if identity.is_some() && !https {
            return Err(Error::Config(format!(
                "a TLS client certificate needs an https:// coordinator URL, not {:?}",
                config.url
            )));
        }
        let mut endpoint = Endpoint::from_shared(config.url.clone())
            .map_err(|e| Error::Config(format!("invalid coordinator URL {:?}: {e}", config.url)))?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true);
        if https {
            let mut tls = tonic::transport::ClientTlsConfig::new().with_enabled_roots();
            if let Some(pem) = &config.tls_ca_pem {
                tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
            }
            if let Some(id) = &identity {
                tls = tls.identity(tonic::transport::Identity::from_pem(
                    &id.cert_pem,
                    &id.key_pem,
                ));
            }
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|e| Error::Config(format!("TLS settings: {e}")))?;
        }
        let token = match &config.token {
            Some(t) => Some(format!("Bearer {t}").parse().map_err(|_| {
                Error::Config("the token has characters not allowed in metadata".into())
            })?),
            None => None,
        };
        let client = CoordinatorClient::with_interceptor(endpoint.connect_lazy(), Auth(token))
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        Ok(Self {
            client,
            config,
            shutdown,
        })
    }

    /// This worker's identity.
    pub fn worker_id(&self) -> &str {
        &self.config.worker_id
    }

    /// Call `f` until it succeeds, fails permanently, or shutdown is requested.
    async fn retry<T, F, Fut>(&self, what: &'static str, mut f: F) -> Result<T>
    where
        F: FnMut(Client) -> Fut,
        Fut: std::future::Future<Output = std::result::Result<tonic::Response<T>, Status>>,
    {
        let mut delay = self.config.backoff.0;
        let mut failures = 0u32;
        loop {
            match f(self.client.clone()).await {
                Ok(r) => {
                    if failures > 0 {
                        info!(call = what, failures, "coordinator reachable again");
                    }
                    return Ok(r.into_inner());
                }
                Err(status) if is_transient(&status) => {
                    failures += 1;
                    let jitter = rand::rng().random_range(0.5..1.5);
                    let wait = delay.mul_f64(jitter);
                    warn!(call = what, code = ?status.code(), error = %status.message(), failures,
                        retry_in_ms = wait.as_millis() as u64, "coordinator unreachable; retrying");
                    tokio::select! {
                        _ = self.shutdown.cancelled() => return Err(Error::ShuttingDown),
                        _ = tokio::time::sleep(wait) => {}
                    }
                    delay = (delay * 2).min(self.config.backoff.1);
                }
                Err(status) => return Err(Error::Rpc { call: what, status }),
            }
        }
    }

    /// Say hello (retried until the coordinator answers).
    pub async fn hello(&self, version: &str) -> Result<HelloResponse> {
        let req = HelloRequest {
            protocol_version: rdapfleet_proto::PROTOCOL_VERSION,
            worker_id: self.config.worker_id.clone(),
            hostname: self.config.hostname.clone(),
            version: version.to_string(),
        };
        self.retry("hello", |mut c| {
            let req = req.clone();
            async move { c.hello(req).await }
        })
        .await
    }

    /// Ask for up to `max` batches.
    pub async fn lease(&self, max: u32) -> Result<LeaseResponse> {
        let req = LeaseRequest {
            worker_id: self.config.worker_id.clone(),
            max_batches: max,
        };
        self.retry("lease", |mut c| {
            let req = req.clone();
            async move { c.lease(req).await }
        })
        .await
    }

    /// Renew leases (one attempt: the caller heartbeats again on its next tick).
    pub async fn heartbeat(&self, lease_ids: Vec<u64>) -> Result<HeartbeatResponse> {
        let req = HeartbeatRequest {
            worker_id: self.config.worker_id.clone(),
            lease_ids,
        };
        self.client
            .clone()
            .heartbeat(req)
            .await
            .map(|r| r.into_inner())
            .map_err(|status| Error::Rpc {
                call: "heartbeat",
                status,
            })
    }

    /// Record outcomes for a lease (retried; safe because the coordinator is idempotent).
    pub async fn report(
        &self,
        lease_id: u64,
        outcomes: Vec<Outcome>,
    ) -> Result<ReportOutcomesResponse> {
        let req = ReportOutcomesRequest {
            worker_id: self.config.worker_id.clone(),
            lease_id,
            outcomes,
        };
        self.retry("report_outcomes", |mut c| {
            let req = req.clone();
            async move { c.report_outcomes(req).await }
        })
        .await
    }

    /// Finish a lease.
    pub async fn complete(&self, lease_id: u64) -> Result<CompleteBatchResponse> {
        let req = CompleteBatchRequest {
            worker_id: self.config.worker_id.clone(),
            lease_id,
        };
        self.retry("complete_batch", |mut c| {
            let req = req.clone();
            async move { c.complete_batch(req).await }
        })
        .await
    }

    /// Give leases back (one attempt with a short deadline: used on the way out).
    pub async fn return_leases(&self, lease_ids: Vec<u64>) -> Result<u32> {
        let mut req = Request::new(ReturnLeasesRequest {
            worker_id: self.config.worker_id.clone(),
            lease_ids,
        });
        req.set_timeout(Duration::from_secs(10));
        self.client
            .clone()
            .return_leases(req)
            .await
            .map(|r| r.into_inner().returned)
            .map_err(|status| Error::Rpc {
                call: "return_leases",
                status,
            })
    }

    /// Send one telemetry sample (one attempt: a lost sample is superseded by the next).
    pub async fn telemetry(&self, sample: TelemetrySample) -> Result<()> {
        let mut req = Request::new(ReportTelemetryRequest {
            worker_id: self.config.worker_id.clone(),
            sample: Some(sample),
        });
        req.set_timeout(Duration::from_secs(10));
        self.client
            .clone()
            .report_telemetry(req)
            .await
            .map(|_| ())
            .map_err(|status| Error::Rpc {
                call: "report_telemetry",
                status,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> SessionConfig {
        SessionConfig {
            url: url.into(),
            token: Some("tok-secret-0123456789".into()),
            tls_ca_pem: None,
            worker_id: "w".into(),
            hostname: "h".into(),
            backoff: (Duration::from_millis(1), Duration::from_millis(2)),
        }
    }

    #[test]
    fn secrets_do_not_print() {
        let d = format!("{:?}", config("http://127.0.0.1:1"));
        assert!(!d.contains("tok-secret"), "{d}");
        let id = ClientIdentity::from_pem(
            b"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n".to_vec(),
            b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n".to_vec(),
        )
        .unwrap();
        assert!(!format!("{id:?}").contains("c2VjcmV0"));
    }

    #[test]
    fn client_identity_needs_pem_and_https() {
        let e = ClientIdentity::from_pem(b"hello".to_vec(), b"x".to_vec()).unwrap_err();
        assert!(e.to_string().contains("no PEM certificate"), "{e}");
        let e = ClientIdentity::from_pem(
            b"-----BEGIN CERTIFICATE-----\n".to_vec(),
            b"-----BEGIN CERTIFICATE-----\n".to_vec(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("no PEM private key"), "{e}");
        let id = ClientIdentity::from_pem(
            b"-----BEGIN CERTIFICATE-----\n".to_vec(),
            b"-----BEGIN PRIVATE KEY-----\n".to_vec(),
        )
        .unwrap();
        let e = Session::with_identity(
            config("http://127.0.0.1:1"),
            Some(id),
            CancellationToken::new(),
        )
        .err()
        .expect("refused");
        assert!(e.to_string().contains("needs an https://"), "{e}");
        let e = ClientIdentity::load(
            std::path::Path::new("/nonexistent/c.pem"),
            std::path::Path::new("/nonexistent/k.pem"),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("cannot read --tls-cert /nonexistent/c.pem"),
            "{e}"
        );
    }
}
