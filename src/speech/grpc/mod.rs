//! gRPC streaming recognition: SaluteSpeech (`smartspeech.recognition.v1.SmartSpeech/Recognize`)
//! and Yandex SpeechKit v3 (`speechkit.stt.v3.Recognizer/RecognizeStreaming`), on clients
//! generated from the vendored protos (`proto/`). Channels are opened lazily, over TLS with the
//! extra CA certificates when the URL is `https`.

mod salute_stream;
mod yandex_stream;

pub use salute_stream::SaluteStream;
pub use yandex_stream::{YandexAuth, YandexStream};

#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod salute_proto {
    tonic::include_proto!("smartspeech.recognition.v1");
}

#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod yandex_proto {
    tonic::include_proto!("speechkit.stt.v3");
}

use std::time::Duration;

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

/// A lazily connected channel to `url` (`https://host:443` or, in tests, `http://…`).
pub fn channel(url: &str) -> Result<Channel, String> {
    let mut endpoint = Endpoint::from_shared(url.to_string())
        .map_err(|e| format!("bad gRPC URL {url}: {e}"))?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true);
    if url.starts_with("https://") {
        crate::http::install_crypto();
        let mut tls = ClientTlsConfig::new().with_webpki_roots();
        if let Some(pem) = crate::http::extra_ca_pem() {
            tls = tls.ca_certificate(Certificate::from_pem(pem));
        }
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| format!("TLS for {url}: {e}"))?;
    }
    Ok(endpoint.connect_lazy())
}

/// A gRPC status as one line, its code first.
pub(crate) fn status_text(s: &tonic::Status) -> String {
    format!("{:?}: {}", s.code(), s.message())
}
