//! A service account's access token: an RS256-signed JWT exchanged at the account's `token_uri`
//! (the OAuth 2.0 JWT bearer grant), cached until a minute before it expires.

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Mutex;

use super::SheetsError;
use crate::retry::{send_retrying, RetryPolicy, SendError};

/// What reading and writing spreadsheets asks for.
pub const SCOPE: &str = "https://www.googleapis.com/auth/spreadsheets";

/// The fields of a service account key file that the grant needs.
#[derive(Clone, Deserialize)]
pub struct ServiceAccount {
    pub client_email: String,
    pub private_key: String,
    #[serde(default = "default_token_uri")]
    pub token_uri: String,
}

fn default_token_uri() -> String {
    "https://oauth2.googleapis.com/token".into()
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

impl ServiceAccount {
    /// Reads a key file as Google gives it (JSON with `client_email` and a PEM `private_key`).
    pub fn from_file(path: &Path) -> Result<Self, SheetsError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SheetsError::Account(format!("{}: {e}", path.display())))?;
        let sa: Self = serde_json::from_str(&text)
            .map_err(|e| SheetsError::Account(format!("{}: {e}", path.display())))?;
        sa.key_pair()?;
        Ok(sa)
    }

    /// The private key, from its PEM (PKCS#8, as Google writes it).
    fn key_pair(&self) -> Result<RsaKeyPair, SheetsError> {
        let der = pem_body(&self.private_key)
            .ok_or_else(|| SheetsError::Account("private_key is not a PEM key".into()))?;
        RsaKeyPair::from_pkcs8(&der)
            .map_err(|e| SheetsError::Account(format!("private_key is not an RSA PKCS#8 key: {e}")))
    }

    /// The signed assertion for `scope`, issued at unix time `now`.
    pub fn assertion(&self, scope: &str, now: i64) -> Result<String, SheetsError> {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(json!({"alg": "RS256", "typ": "JWT"}).to_string());
        let claims = b64.encode(
            json!({
                "iss": self.client_email,
                "scope": scope,
                "aud": self.token_uri,
                "iat": now,
                "exp": now + 3600,
            })
            .to_string(),
        );
        let signing_input = format!("{header}.{claims}");
        let key = self.key_pair()?;
        let mut sig = vec![0u8; key.public().modulus_len()];
        key.sign(
            &RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            signing_input.as_bytes(),
            &mut sig,
        )
        .map_err(|_| SheetsError::Account("signing the JWT failed".into()))?;
        Ok(format!("{signing_input}.{}", b64.encode(sig)))
    }
}

/// The DER inside a PEM block.
pub fn pem_body(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----") && !l.is_empty())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// Access tokens for one service account, fetched when needed and reused until near expiry.
pub struct TokenSource {
    account: ServiceAccount,
    http: reqwest::Client,
    policy: RetryPolicy,
    cached: Mutex<Option<(String, Instant)>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl TokenSource {
    pub fn new(account: ServiceAccount, policy: RetryPolicy) -> Self {
        let http = crate::http::client_builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Self {
            account,
            http,
            policy,
            cached: Mutex::new(None),
        }
    }

    pub fn account(&self) -> &ServiceAccount {
        &self.account
    }

    /// A valid access token.
    pub async fn token(&self) -> Result<String, SheetsError> {
        let mut cached = self.cached.lock().await;
        if let Some((t, until)) = &*cached {
            if Instant::now() < *until {
                return Ok(t.clone());
            }
        }
        let now = chrono::Utc::now().timestamp();
        let assertion = self.account.assertion(SCOPE, now)?;
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion.as_str()),
        ];
        let resp = send_retrying(
            &self.policy,
            || self.http.post(&self.account.token_uri).form(&form),
            |attempt, e| tracing::warn!(attempt, error = %e, "Google token: retrying"),
        )
        .await
        .map_err(|e| match e {
            SendError::Refused(m) => SheetsError::Auth(m),
            SendError::GaveUp(m) => SheetsError::Unavailable(m),
        })?;
        let answer: TokenAnswer = resp
            .json()
            .await
            .map_err(|e| SheetsError::Auth(format!("the token answer: {e}")))?;
        let life = Duration::from_secs(answer.expires_in.unwrap_or(3600).saturating_sub(60));
        *cached = Some((answer.access_token.clone(), Instant::now() + life));
        Ok(answer.access_token)
    }

    /// Forgets the token (Google said it is no longer good).
    pub async fn forget(&self) {
        *self.cached.lock().await = None;
    }
}
