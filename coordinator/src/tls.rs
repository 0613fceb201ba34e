//! TLS for the gRPC server (rustls with the ring provider): the server's certificate and key,
//! and optionally a CA whose signature every client certificate must carry (mutual TLS).
//!
//! Everything is read and checked at start-up, before the database is opened or a port is
//! bound: an unreadable file, a file without a PEM certificate or key, or a key that does not
//! belong to the certificate is a clear error naming the flag and the file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

use crate::{Error, Result};

/// A TLS handshake must finish within this time (a stalled client cannot hold a connection).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The PEM files of the server's TLS settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server's certificate chain (PEM, leaf first).
    pub cert: PathBuf,
    /// The server's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// CA certificate(s) (PEM) that must have signed every client's certificate (mTLS).
    pub client_ca: Option<PathBuf>,
}

fn read(flag: &str, path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| Error::Config(format!("cannot read {flag} {}: {e}", path.display())))
}

fn certificates(flag: &str, path: &Path, pem: &[u8]) -> Result<usize> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::Config(format!(
                "{flag} {} is not a valid PEM certificate file: {e}",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(Error::Config(format!(
            "{flag} {} holds no PEM certificate (expected a -----BEGIN CERTIFICATE----- block)",
            path.display()
        )));
    }
    Ok(certs.len())
}

/// Make sure the ring provider is the process default: tonic's server builds its rustls
/// configuration with the default provider, and a workspace build may enable two providers.
fn install_provider() {
    // An error only means a provider is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Read and check the files, and build the server's TLS configuration.
pub fn server_config(files: &TlsFiles) -> Result<ServerTlsConfig> {
    install_provider();
    let cert = read("--tls-cert", &files.cert)?;
    certificates("--tls-cert", &files.cert, &cert)?;
    let key = read("--tls-key", &files.key)?;
    PrivateKeyDer::from_pem_slice(&key).map_err(|e| {
        Error::Config(format!(
            "--tls-key {} holds no usable PEM private key (PKCS#8, PKCS#1 or SEC1): {e}",
            files.key.display()
        ))
    })?;
    let mut config = ServerTlsConfig::new()
        .identity(Identity::from_pem(&cert, &key))
        .timeout(HANDSHAKE_TIMEOUT);
    if let Some(ca_path) = &files.client_ca {
        let ca = read("--tls-client-ca", ca_path)?;
        certificates("--tls-client-ca", ca_path, &ca)?;
        config = config.client_ca_root(Certificate::from_pem(&ca));
    }
    // Build it once now, so a key that does not match its certificate (or a CA file rustls
    // cannot use) is refused at start-up rather than on the first connection.
    tonic::transport::Server::builder()
        .tls_config(config.clone())
        .map_err(|e| {
            Error::Config(format!(
                "the TLS settings (--tls-cert {}, --tls-key {}{}) are unusable: {}",
                files.cert.display(),
                files.key.display(),
                files
                    .client_ca
                    .as_ref()
                    .map(|p| format!(", --tls-client-ca {}", p.display()))
                    .unwrap_or_default(),
                causes(&e)
            ))
        })?;
    Ok(config)
}

/// An error and its causes on one line.
fn causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
