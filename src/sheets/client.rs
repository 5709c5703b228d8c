//! The two Sheets API calls callops makes: read a range's values, append rows to a range.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::{SheetsError, TokenSource};
use crate::retry::{send_retrying, RetryPolicy, SendError};

pub struct SheetsClient {
    base_url: String,
    tokens: Arc<TokenSource>,
    http: reqwest::Client,
    policy: RetryPolicy,
}

/// A range as a URL path segment (`Лист1!A:C` → percent-encoded).
fn range_segment(range: &str) -> String {
    url::form_urlencoded::byte_serialize(range.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

impl SheetsClient {
    /// `base_url`: `https://sheets.googleapis.com` (or a proxy).
    pub fn new(base_url: &str, tokens: Arc<TokenSource>, policy: RetryPolicy) -> Self {
        let http = crate::http::client_builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            tokens,
            http,
            policy,
        }
    }

    async fn send(
        &self,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<Value, SheetsError> {
        for fresh in [false, true] {
            let token = self.tokens.token().await?;
            let result = send_retrying(
                &self.policy,
                || build(&token),
                |attempt, e| tracing::warn!(attempt, error = %e, "Google Sheets: retrying"),
            )
            .await;
            return match result {
                Ok(resp) => resp
                    .json()
                    .await
                    .map_err(|e| SheetsError::Unavailable(format!("the answer: {e}"))),
                Err(SendError::Refused(m)) if m.starts_with("HTTP 401") && !fresh => {
                    self.tokens.forget().await;
                    continue;
                }
                Err(SendError::Refused(m)) => Err(SheetsError::Refused(m)),
                Err(SendError::GaveUp(m)) => Err(SheetsError::Unavailable(m)),
            };
        }
        Err(SheetsError::Auth("a fresh token was refused".into()))
    }

    /// The values of `range` in `spreadsheet`, as text rows.
    pub async fn values(
        &self,
        spreadsheet: &str,
        range: &str,
    ) -> Result<Vec<Vec<String>>, SheetsError> {
        let url = format!(
            "{}/v4/spreadsheets/{spreadsheet}/values/{}",
            self.base_url,
            range_segment(range)
        );
        let v = self
            .send(|token| self.http.get(&url).bearer_auth(token))
            .await?;
        Ok(v["values"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|r| {
                        r.as_array()
                            .map(|cells| {
                                cells
                                    .iter()
                                    .map(|c| match c {
                                        Value::String(s) => s.clone(),
                                        other => other.to_string(),
                                    })
                                    .collect()
                            })
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Appends `rows` after the table in `range`.
    pub async fn append(
        &self,
        spreadsheet: &str,
        range: &str,
        rows: &[Vec<String>],
    ) -> Result<(), SheetsError> {
        let url = format!(
            "{}/v4/spreadsheets/{spreadsheet}/values/{}:append?valueInputOption=RAW&insertDataOption=INSERT_ROWS",
            self.base_url,
            range_segment(range)
        );
        let body = json!({ "values": rows });
        self.send(|token| self.http.post(&url).bearer_auth(token).json(&body))
            .await
            .map(drop)
    }
}
