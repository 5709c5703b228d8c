//! Outgoing HTTP: every client is built here, on one TLS provider (rustls with ring; no aws-lc and
//! so no C build). The provider is installed once per process before the first client.

use std::sync::Once;

static CRYPTO: Once = Once::new();

/// Installs ring as the process's TLS provider (idempotent; a provider installed earlier stays).
pub fn install_crypto() {
    CRYPTO.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A client builder with the TLS provider in place.
pub fn client_builder() -> reqwest::ClientBuilder {
    install_crypto();
    reqwest::Client::builder()
}

#[cfg(test)]
mod tests {
    #[test]
    fn clients_build_on_the_one_provider() {
        let client = super::client_builder().build();
        assert!(client.is_ok());
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }
}
