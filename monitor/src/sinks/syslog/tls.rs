//! rustls client configuration for syslog over TLS (RFC 5425).
//!
//! The server is authenticated against the CA certificates of one PEM file
//! (a private CA for the SIEM collector, or the system bundle). The crypto
//! provider is ring, the project's crypto crate, passed explicitly so no
//! process-wide default provider has to be installed.

use std::{path::Path, sync::Arc};

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::{CertificateDer, ServerName, pem::PemObject};

/// The Debian/Ubuntu system CA bundle, used when no `ca_file` is set.
pub const SYSTEM_CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    #[error("cannot read CA file {path}: {reason}")]
    CaFile { path: String, reason: String },
    #[error("CA file {path} holds no usable certificate")]
    NoCertificates { path: String },
    #[error("invalid TLS server name {0:?}")]
    ServerName(String),
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A client configuration trusting exactly the certificates in `ca_file`.
pub fn client_config(ca_file: &Path) -> Result<Arc<ClientConfig>, TlsConfigError> {
    let path = ca_file.display().to_string();
    let iter = CertificateDer::pem_file_iter(ca_file).map_err(|e| TlsConfigError::CaFile {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let mut roots = RootCertStore::empty();
    for cert in iter {
        let cert = cert.map_err(|e| TlsConfigError::CaFile {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        // A bundle may hold certificates webpki cannot use (odd encodings);
        // skip those, but an empty result is an error below.
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(TlsConfigError::NoCertificates { path });
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The name the server certificate must carry: a DNS name or an IP address.
pub fn server_name(name: &str) -> Result<ServerName<'static>, TlsConfigError> {
    ServerName::try_from(name.to_owned()).map_err(|_| TlsConfigError::ServerName(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_ca_file_is_an_error_naming_it() {
        let err = client_config(Path::new("/nonexistent/ca.pem")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn ca_file_without_certificates_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("empty.pem");
        std::fs::write(&p, "not a pem file\n").unwrap();
        assert!(matches!(
            client_config(&p),
            Err(TlsConfigError::NoCertificates { .. })
        ));
    }

    #[test]
    fn ca_file_with_a_certificate_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ca.pem");
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        std::fs::write(&p, params.self_signed(&key).unwrap().pem()).unwrap();
        assert!(client_config(&p).is_ok());
    }

    #[test]
    fn server_names() {
        assert!(server_name("siem.example").is_ok());
        assert!(server_name("127.0.0.1").is_ok());
        assert!(server_name("bad name!").is_err());
    }
}
