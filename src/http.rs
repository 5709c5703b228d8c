//! Outgoing HTTP: every client is built here, on one TLS provider (rustls with ring; no aws-lc and
//! so no C build). The provider is installed once per process before the first client. Extra CA
//! certificates (`EXTRA_CA_CERTS`: the Russian Trusted Root CA that SaluteSpeech's chain needs)
//! are trusted by every client, besides the system's roots.

use std::path::Path;
use std::sync::{Once, OnceLock};

static CRYPTO: Once = Once::new();
/// The extra CA bundle (PEM), once loaded.
static EXTRA_PEM: OnceLock<Vec<u8>> = OnceLock::new();

#[derive(Debug, thiserror::Error)]
pub enum ExtraCaError {
    #[error("EXTRA_CA_CERTS={path}: cannot read it: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("EXTRA_CA_CERTS={path}: no PEM certificate in it ({reason})")]
    NotPem { path: String, reason: String },
}

/// Loads the extra CA certificates every client built afterwards trusts; returns how many. A
/// second call keeps the first bundle.
pub fn load_extra_ca_certs(path: &Path) -> Result<usize, ExtraCaError> {
    let shown = path.display().to_string();
    let pem = std::fs::read(path).map_err(|source| ExtraCaError::Read {
        path: shown.clone(),
        source,
    })?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ExtraCaError::NotPem {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    if certs.is_empty() {
        return Err(ExtraCaError::NotPem {
            path: shown,
            reason: "empty".into(),
        });
    }
    let _ = EXTRA_PEM.set(pem);
    Ok(certs.len())
}

/// The extra CA bundle, when one was loaded (for clients of other HTTP stacks: teloxide, tonic).
pub fn extra_ca_pem() -> Option<&'static [u8]> {
    EXTRA_PEM.get().map(Vec::as_slice)
}

/// Installs ring as the process's TLS provider (idempotent; a provider installed earlier stays).
pub fn install_crypto() {
    CRYPTO.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A client builder with the TLS provider in place.
pub fn client_builder() -> reqwest::ClientBuilder {
    install_crypto();
    let builder = reqwest::Client::builder();
    match extra_ca_pem().map(reqwest::Certificate::from_pem_bundle) {
        Some(Ok(certs)) => builder.tls_certs_merge(certs),
        _ => builder,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn clients_build_on_the_one_provider() {
        let client = super::client_builder().build();
        assert!(client.is_ok());
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }

    #[test]
    fn an_extra_ca_file_must_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.pem");
        assert!(matches!(
            super::load_extra_ca_certs(&missing),
            Err(super::ExtraCaError::Read { .. })
        ));
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        assert!(matches!(
            super::load_extra_ca_certs(&junk),
            Err(super::ExtraCaError::NotPem { .. })
        ));
    }
}
