//! SaluteSpeech (Sber) over REST: the OAuth token (client credentials: the `Basic` authorization
//! key, a fresh `RqUID`, the scope), cached until shortly before it expires (about 30 min) and
//! fetched again on a 401; and one request helper that retries 429, 5xx and network errors with
//! backoff. Recognition is in [`stt`], synthesis in [`tts`]. Its servers' chain ends in the
//! Russian Trusted Root CA: set `EXTRA_CA_CERTS`.

mod stt;
mod tts;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::retry::{retry_after, RetryPolicy};

pub use stt::SaluteStt;
pub use tts::SaluteTts;

/// Where and how to reach SaluteSpeech.
#[derive(Clone)]
pub struct SaluteConfig {
    pub auth_url: String,
    pub api_url: String,
    /// The authorization key from Studio (base64 of `client_id:client_secret`).
    pub auth_key: String,
    pub scope: String,
    /// First wait between retries.
    pub backoff: Duration,
}

/// What went wrong talking to SaluteSpeech.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SaluteError {
    /// Worth retrying later (429, 5xx, network, a task that did not finish in time).
    #[error("SaluteSpeech temporarily failed: {0}")]
    Transient(String),
    /// Refused for good (the key, the scope, the audio).
    #[error("SaluteSpeech refused: {0}")]
    Rejected(String),
}

/// A token and when it stops working.
#[derive(Clone)]
struct Token {
    value: String,
    expires_at: DateTime<Utc>,
}

/// A token is fetched again this long before it expires.
const TOKEN_MARGIN: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_at: Option<i64>,
}

/// The client shared by recognition and synthesis: one token cache for both.
pub struct SaluteClient {
    http: reqwest::Client,
    cfg: SaluteConfig,
    token: Mutex<Option<Token>>,
}

impl SaluteClient {
    pub fn new(cfg: SaluteConfig) -> Arc<Self> {
        Arc::new(Self {
            http: crate::http::client_builder()
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(300))
                .build()
                .unwrap_or_default(),
            cfg: SaluteConfig {
                api_url: cfg.api_url.trim_end_matches('/').to_string(),
                ..cfg
            },
            token: Mutex::new(None),
        })
    }

    /// The API base URL (no trailing slash).
    pub(crate) fn api(&self) -> &str {
        &self.cfg.api_url
    }

    /// A valid token: the cached one, or a new one when it is about to expire.
    pub async fn token(&self) -> Result<String, SaluteError> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref() {
            if t.expires_at - TOKEN_MARGIN > Utc::now() {
                return Ok(t.value.clone());
            }
        }
        let fresh = self.fetch_token().await?;
        let value = fresh.value.clone();
        *cached = Some(fresh);
        Ok(value)
    }

    /// Forgets `stale` (it was refused), unless another request already replaced it: the next
    /// request fetches a new token.
    pub async fn forget_token(&self, stale: &str) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|t| t.value == stale) {
            *cached = None;
        }
    }

    async fn fetch_token(&self) -> Result<Token, SaluteError> {
        let policy = RetryPolicy::new(self.cfg.backoff, 3);
        let mut last = String::new();
        for attempt in 1..=policy.max_attempts {
            let sent = self
                .http
                .post(&self.cfg.auth_url)
                .header("Authorization", format!("Basic {}", self.cfg.auth_key))
                .header("RqUID", uuid::Uuid::new_v4().to_string())
                .header("Accept", "application/json")
                .form(&[("scope", self.cfg.scope.as_str())])
                .send()
                .await;
            let mut server_wait = None;
            match sent {
                Ok(resp) if resp.status().is_success() => {
                    let body = resp.text().await.unwrap_or_default();
                    let answer: TokenAnswer = serde_json::from_str(&body).map_err(|e| {
                        SaluteError::Transient(format!("unreadable token answer: {e}"))
                    })?;
                    metrics::counter!("callops_vendor_tokens_total", "vendor" => "salute")
                        .increment(1);
                    return Ok(Token {
                        value: answer.access_token,
                        expires_at: token_expiry(answer.expires_at, Utc::now()),
                    });
                }
                Ok(resp) => {
                    let status = resp.status();
                    server_wait = retry_after(resp.headers());
                    let text: String = resp.text().await.unwrap_or_default();
                    last = format!(
                        "token: HTTP {status}: {}",
                        text.chars().take(200).collect::<String>()
                    );
                    if status.as_u16() != 429 && !status.is_server_error() {
                        return Err(SaluteError::Rejected(format!(
                            "{last} (check SALUTE_AUTH_KEY and SALUTE_SCOPE)"
                        )));
                    }
                }
                Err(e) => last = format!("token: {}", describe(e)),
            }
            if policy.again_after(attempt) {
                tokio::time::sleep(policy.wait(attempt, server_wait)).await;
            }
        }
        Err(SaluteError::Transient(last))
    }

    /// Sends the request `build` makes with a token, up to `attempts` times: a 401 fetches a new
    /// token (once), 429 and 5xx and network errors wait and retry, another status is a refusal.
    pub(crate) async fn send(
        &self,
        what: &str,
        attempts: u32,
        build: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, SaluteError> {
        let policy = RetryPolicy::new(self.cfg.backoff, attempts);
        let mut last = String::new();
        let mut refreshed = false;
        let mut attempt = 1;
        while attempt <= policy.max_attempts {
            let token = self.token().await?;
            let mut server_wait = None;
            match build(&self.http, &token).send().await {
                Ok(resp) if resp.status().is_success() => return Ok(resp),
                Ok(resp) if resp.status() == reqwest::StatusCode::UNAUTHORIZED && !refreshed => {
                    // The token expired early or was revoked: a new one, and the same attempt.
                    tracing::info!(
                        request = what,
                        "SaluteSpeech token refused; fetching a new one"
                    );
                    self.forget_token(&token).await;
                    refreshed = true;
                    continue;
                }
                Ok(resp) => {
                    let status = resp.status();
                    server_wait = retry_after(resp.headers());
                    let text = resp.text().await.unwrap_or_default();
                    last = format!(
                        "{what}: HTTP {status}: {}",
                        text.chars().take(300).collect::<String>()
                    );
                    if status.as_u16() != 429 && !status.is_server_error() {
                        return Err(SaluteError::Rejected(last));
                    }
                }
                Err(e) => last = format!("{what}: {}", describe(e)),
            }
            metrics::counter!("callops_vendor_retries_total", "vendor" => "salute").increment(1);
            if policy.again_after(attempt) {
                tracing::warn!(attempt, error = %last, "SaluteSpeech request failed; retrying");
                tokio::time::sleep(policy.wait(attempt, server_wait)).await;
            }
            attempt += 1;
        }
        Err(SaluteError::Transient(last))
    }
}

/// A request error with its causes (a TLS failure says which certificate it did not trust).
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// When a token expires: `expires_at` is in milliseconds since the epoch (seconds are taken too);
/// without it, 30 minutes from now.
fn token_expiry(expires_at: Option<i64>, now: DateTime<Utc>) -> DateTime<Utc> {
    let parsed = match expires_at {
        Some(n) if n > 100_000_000_000 => Utc.timestamp_millis_opt(n).single(),
        Some(n) if n > 0 => Utc.timestamp_opt(n, 0).single(),
        _ => None,
    };
    parsed.unwrap_or(now + chrono::TimeDelta::minutes(30))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_expiry_reads_milliseconds_seconds_or_nothing() {
        let now = Utc.timestamp_opt(1_715_680_000, 0).unwrap();
        assert_eq!(
            token_expiry(Some(1_715_681_234_567), now).timestamp_millis(),
            1_715_681_234_567
        );
        assert_eq!(
            token_expiry(Some(1_715_681_234), now).timestamp(),
            1_715_681_234
        );
        assert_eq!(
            token_expiry(None, now),
            now + chrono::TimeDelta::minutes(30)
        );
        assert_eq!(
            token_expiry(Some(-5), now),
            now + chrono::TimeDelta::minutes(30)
        );
    }
}
