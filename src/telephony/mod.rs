//! Telephony providers: each PBX is a [`CallSource`] (list calls in a window, fetch a recording),
//! one file per vendor, plus a webhook parser per vendor.

pub mod line;
pub mod mango;
pub mod media;
pub mod novofon_v1;
pub mod novofon_v2;
pub mod pace;
pub mod recorded_line;
pub mod simulated;
pub mod sip;
pub mod sip_line;
pub mod tbank;
pub mod trunk;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::Direction;

/// A call as a provider reports it, before our filters.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderCall {
    pub provider_call_id: String,
    /// What fetching the recording needs (a recording id), when known.
    pub recording_ref: Option<String>,
    /// `None` when the provider does not say; decided from our numbers.
    pub direction: Option<Direction>,
    pub caller: String,
    pub called: String,
    pub started_at: DateTime<Utc>,
    pub duration_secs: i64,
    pub answered: bool,
    /// The provider's own word for the outcome (for the skip reason).
    pub disposition: String,
    pub recorded: bool,
    /// The operator as the PBX names them (an extension, or an operator id), when it says.
    pub operator: Option<String>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum TelephonyError {
    #[error("rate limited by the provider; retry after {0:?}")]
    RateLimited(Duration),
    #[error("the provider rejected our credentials: {0}")]
    Auth(String),
    #[error("the provider is unreachable or failing: {0}")]
    Transient(String),
    #[error("the recording is not ready yet: {0}")]
    NotReady(String),
    #[error("the provider refused: {0}")]
    Rejected(String),
    #[error("{0}")]
    TooLarge(String),
}

impl TelephonyError {
    /// Whether trying again later may help.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::RateLimited(_) | Self::Transient(_) | Self::NotReady(_)
        )
    }
}

/// A PBX we pull calls from.
#[async_trait]
pub trait CallSource: Send + Sync + 'static {
    /// The provider name stored with calls (`novofon`, `novofon2`...).
    fn name(&self) -> &'static str;
    /// Calls that started within `[from, to)`.
    async fn list_calls(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ProviderCall>, TelephonyError>;
    /// The audio bytes of a recording, and a file extension hint.
    async fn fetch_recording(
        &self,
        provider_call_id: &str,
        recording_ref: Option<&str>,
    ) -> Result<(Vec<u8>, String), TelephonyError>;
    /// The call's ready transcript, for sources that keep one (T-Bank TQM): then no recording is
    /// fetched and no speech-to-text runs. `None` from sources that only have recordings.
    async fn fetch_transcript(
        &self,
        _provider_call_id: &str,
        _recording_ref: Option<&str>,
    ) -> Result<Option<Vec<crate::domain::Utterance>>, TelephonyError> {
        Ok(None)
    }
}

/// Compares two secrets in time independent of where they differ.
pub(crate) fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Rejects bodies that are not audio (an HTML error page or a JSON error served with 200).
pub fn check_audio_body(content_type: Option<&str>, body: &[u8]) -> Result<(), TelephonyError> {
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    if ct.starts_with("text/") || ct.contains("json") || ct.contains("html") {
        let snippet: String = String::from_utf8_lossy(&body[..body.len().min(120)]).into();
        return Err(TelephonyError::NotReady(format!(
            "got {ct} instead of audio: {snippet}"
        )));
    }
    let head = String::from_utf8_lossy(&body[..body.len().min(64)])
        .trim_start()
        .to_ascii_lowercase();
    if head.starts_with('<') || head.starts_with('{') {
        return Err(TelephonyError::NotReady(
            "got an HTML/JSON page instead of audio".into(),
        ));
    }
    if body.len() < 1024 {
        return Err(TelephonyError::NotReady(format!(
            "recording is only {} bytes",
            body.len()
        )));
    }
    Ok(())
}

/// Downloads a recording: a non-2xx answer means "not ready yet", and an HTML or JSON page served
/// instead of audio is rejected (and retried by the job). A body over `max_bytes` is refused by its
/// `Content-Length` before it is read, or as soon as the bytes read pass the limit.
pub(crate) async fn download_recording(
    http: &reqwest::Client,
    url: &str,
    max_bytes: u64,
) -> Result<(Vec<u8>, String), TelephonyError> {
    let mut resp = http
        .get(url)
        .send()
        .await
        .map_err(|e| TelephonyError::Transient(e.without_url().to_string()))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(TelephonyError::NotReady(format!(
            "recording download: HTTP {status}"
        )));
    }
    let too_big = |n: u64| {
        TelephonyError::TooLarge(format!(
            "the recording is over {} MB ({} MB or more); MAX_RECORDING_MB",
            max_bytes / (1024 * 1024),
            n.div_ceil(1024 * 1024)
        ))
    };
    if let Some(len) = resp.content_length().filter(|n| *n > max_bytes) {
        return Err(too_big(len));
    }
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut body = Vec::with_capacity(
        usize::try_from(resp.content_length().unwrap_or(0).min(max_bytes)).unwrap_or(0),
    );
    while let Some(piece) = resp
        .chunk()
        .await
        .map_err(|e| TelephonyError::Transient(e.without_url().to_string()))?
    {
        if (body.len() + piece.len()) as u64 > max_bytes {
            return Err(too_big((body.len() + piece.len()) as u64));
        }
        body.extend_from_slice(&piece);
    }
    check_audio_body(ct.as_deref(), &body)?;
    Ok((body, audio_ext(url, ct.as_deref())))
}

/// Extension hint from a URL or content type.
pub(crate) fn audio_ext(url: &str, content_type: Option<&str>) -> String {
    let ct = content_type.unwrap_or("");
    if ct.contains("wav") {
        return "wav".into();
    }
    if ct.contains("ogg") {
        return "ogg".into();
    }
    let path = url.split('?').next().unwrap_or("");
    match path.rsplit('.').next() {
        Some(e) if ["mp3", "wav", "ogg", "flac"].contains(&e.to_ascii_lowercase().as_str()) => {
            e.to_ascii_lowercase()
        }
        _ => "mp3".into(),
    }
}
