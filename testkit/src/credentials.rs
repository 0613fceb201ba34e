//! Credentials for tests: a token file holding [`crate::TEST_TOKEN`], and a throwaway PKI (a
//! CA, a server certificate for `127.0.0.1`/`localhost`, and a client certificate) for TLS and
//! mutual TLS. [`crate::TestCluster`] starts its coordinator with `--token-file` and gives the
//! same file to its workers.

use std::path::{Path, PathBuf};

use crate::TEST_TOKEN;

/// Write [`TEST_TOKEN`] (with a trailing newline, as an operator's editor would) to
/// `dir/token` and return the path: pass it to `serve --token-file` and `run --token-file`.
pub fn write_token_file(dir: &Path) -> PathBuf {
    let path = dir.join("token");
    std::fs::write(&path, format!("{TEST_TOKEN}\n")).expect("writing the token file");
    path
}

/// `authorization` metadata value for a token (`Bearer <token>`).
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A throwaway PKI written as PEM files into a directory: a CA, a server certificate valid
/// for `127.0.0.1`, `::1` and `localhost`, and a client certificate, all signed by the CA.
pub struct TestPki {
    /// The CA certificate (what clients trust, and what `--tls-client-ca` names).
    pub ca_cert: PathBuf,
    /// The server's certificate.
    pub server_cert: PathBuf,
    /// The server's private key.
    pub server_key: PathBuf,
    /// A client certificate signed by the CA (mutual TLS).
    pub client_cert: PathBuf,
    /// The client's private key.
    pub client_key: PathBuf,
}

impl TestPki {
    /// Generate a new PKI under `dir` (file names start with `prefix`, so two PKIs can share a
    /// directory).
    pub fn generate(dir: &Path, prefix: &str) -> Self {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
            KeyPair, KeyUsagePurpose,
        };
        let write = |name: &str, body: &str| {
            let p = dir.join(format!("{prefix}{name}"));
            std::fs::write(&p, body).expect("writing a PEM file");
            p
        };
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, format!("rdapfleet test CA {prefix}"));
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca, ca_key);
        let leaf = |names: Vec<String>, cn: &str, usage: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().expect("leaf key");
            let mut params = CertificateParams::new(names).expect("leaf params");
            params.distinguished_name.push(DnType::CommonName, cn);
            params.extended_key_usages = vec![usage];
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            let cert = params.signed_by(&key, &issuer).expect("leaf certificate");
            (cert.pem(), key.serialize_pem())
        };
        let (server_pem, server_key_pem) = leaf(
            vec!["127.0.0.1".into(), "::1".into(), "localhost".into()],
            "rdapfleet-coordinator",
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client_pem, client_key_pem) = leaf(
            vec!["worker.test".into()],
            "rdapfleet-worker",
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        Self {
            ca_cert: write("ca.crt", &ca_cert.pem()),
            server_cert: write("server.crt", &server_pem),
            server_key: write("server.key", &server_key_pem),
            client_cert: write("client.crt", &client_pem),
            client_key: write("client.key", &client_key_pem),
        }
    }

    /// The `serve` flags for TLS with this PKI's server certificate.
    pub fn server_args(&self) -> Vec<String> {
        vec![
            "--tls-cert".into(),
            self.server_cert.display().to_string(),
            "--tls-key".into(),
            self.server_key.display().to_string(),
        ]
    }

    /// The `serve` flags for mutual TLS: TLS plus `--tls-client-ca` (this PKI's CA).
    pub fn mtls_server_args(&self) -> Vec<String> {
        let mut args = self.server_args();
        args.extend(["--tls-client-ca".into(), self.ca_cert.display().to_string()]);
        args
    }

    /// The worker `run` flags that trust this PKI's CA and present its client certificate.
    pub fn worker_args(&self) -> Vec<String> {
        vec![
            "--tls-ca".into(),
            self.ca_cert.display().to_string(),
            "--tls-cert".into(),
            self.client_cert.display().to_string(),
            "--tls-key".into(),
            self.client_key.display().to_string(),
        ]
    }

    /// Read one of the files.
    pub fn read(path: &Path) -> Vec<u8> {
        std::fs::read(path).expect("reading a PEM file")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_and_pki_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let t = write_token_file(dir.path());
        assert_eq!(std::fs::read_to_string(&t).unwrap().trim_end(), TEST_TOKEN);
        let pki = TestPki::generate(dir.path(), "a-");
        for p in [&pki.ca_cert, &pki.server_cert, &pki.client_cert] {
            assert!(
                std::fs::read_to_string(p)
                    .unwrap()
                    .starts_with("-----BEGIN CERTIFICATE-----")
            );
        }
        assert!(
            std::fs::read_to_string(&pki.server_key)
                .unwrap()
                .contains("PRIVATE KEY")
        );
        assert_eq!(pki.mtls_server_args().len(), 6);
    }
}
