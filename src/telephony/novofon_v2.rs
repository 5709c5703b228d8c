//! Novofon 2.0 Data API (JSON-RPC 2.0): `get.calls_report` with offset/limit paging,
//! `metadata.limits` respected, JSON-RPC errors mapped to clear messages, recordings from
//! `call_records` downloaded from the media host.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value};

use super::novofon_v1::{number, text, truthy};
use super::{download_recording, CallSource, ProviderCall, TelephonyError};
use crate::domain::Direction;
use crate::retry::retry_after;

pub const PROVIDER: &str = "novofon2";

#[derive(Debug, Clone)]
pub struct NovofonV2Config {
    /// `https://dataapi-jsonrpc.novofon.ru/v2.0`
    pub data_api_url: String,
    /// `https://app.novofon.ru` (recordings live under `/system/media/talk/...`).
    pub media_url: String,
    pub access_token: String,
    pub timezone: Tz,
    pub backoff: Duration,
    /// Rows per page (1000 in production; smaller in tests).
    pub page_size: usize,
    /// Recordings larger than this are refused before their body is read (`MAX_RECORDING_MB`).
    pub max_recording_bytes: u64,
}

pub struct NovofonV2 {
    cfg: NovofonV2Config,
    http: reqwest::Client,
}

/// A JSON-RPC error turned into our error kinds, with a message a person can act on.
pub fn map_rpc_error(err: &Value) -> TelephonyError {
    let code = err["code"].as_i64().unwrap_or(0);
    let mnemonic = err["data"]["mnemonic"].as_str().unwrap_or("");
    let message = err["message"].as_str().unwrap_or("");
    let detail = format!("{message} ({mnemonic}, code {code})");
    match (code, mnemonic) {
        (_, "auth_error" | "access_token_expired" | "access_token_invalid") | (-32001, _) => {
            TelephonyError::Auth(format!("check NOVOFON_ACCESS_TOKEN: {detail}"))
        }
        (-32003, _) => TelephonyError::Auth(format!(
            "access forbidden; is this server's IP whitelisted in the Novofon cabinet? {detail}"
        )),
        (-32029, _) | (_, "limit_exceeded") => TelephonyError::RateLimited(Duration::from_secs(60)),
        (_, "date_interval_limit_reached") => {
            TelephonyError::Rejected(format!("the date window is longer than 3 months: {detail}"))
        }
        (-32603, _) => TelephonyError::Transient(detail),
        _ => TelephonyError::Rejected(detail),
    }
}

impl NovofonV2 {
    pub fn new(cfg: NovofonV2Config) -> Self {
        let http = crate::http::client_builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_default();
        Self { cfg, http }
    }

    async fn call(&self, method: &str, params: Value) -> Result<Value, TelephonyError> {
        let id = Utc::now().timestamp_millis();
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let resp = self
            .http
            .post(&self.cfg.data_api_url)
            .json(&body)
            .send()
            .await
            .map_err(|e| TelephonyError::Transient(e.without_url().to_string()))?;
        let status = resp.status();
        if status.as_u16() == 429 {
            return Err(TelephonyError::RateLimited(
                retry_after(resp.headers()).unwrap_or(self.cfg.backoff),
            ));
        }
        if status.is_server_error() {
            return Err(TelephonyError::Transient(format!("HTTP {status}")));
        }
        let answer: Value = resp.json().await.map_err(|e| {
            TelephonyError::Transient(format!("unreadable answer: {}", e.without_url()))
        })?;
        if let Some(err) = answer.get("error").filter(|e| !e.is_null()) {
            return Err(map_rpc_error(err));
        }
        Ok(answer["result"].clone())
    }

    fn local(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.cfg.timezone)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    fn parse_item(&self, item: &Value) -> Option<ProviderCall> {
        let id = text(&item["id"])?;
        let naive =
            NaiveDateTime::parse_from_str(item["start_time"].as_str()?.trim(), "%Y-%m-%d %H:%M:%S")
                .ok()?;
        let started_at = self
            .cfg
            .timezone
            .from_local_datetime(&naive)
            .earliest()?
            .with_timezone(&Utc);
        let direction = match item["direction"].as_str() {
            Some("in") => Some(Direction::Incoming),
            Some("out") => Some(Direction::Outgoing),
            _ => None,
        };
        let contact = text(&item["contact_phone_number"]).unwrap_or_default();
        let virt = text(&item["virtual_phone_number"]).unwrap_or_default();
        let (caller, called) = match direction {
            Some(Direction::Outgoing) => (virt, contact),
            _ => (contact, virt),
        };
        let talk = number(&item["talk_duration"]).unwrap_or(0);
        let lost = truthy(&item["is_lost"]);
        let comm = text(&item["communication_id"]).unwrap_or_else(|| id.clone());
        let record = item["call_records"]
            .as_array()
            .and_then(|r| r.first())
            .and_then(text);
        Some(ProviderCall {
            provider_call_id: id,
            recorded: record.is_some(),
            recording_ref: record.map(|r| format!("{comm}/{r}")),
            direction,
            caller,
            called,
            started_at,
            duration_secs: talk,
            answered: !lost && talk > 0,
            disposition: item["finish_reason"]
                .as_str()
                .unwrap_or(if lost { "lost" } else { "answered" })
                .to_string(),
            // The reference names no operator field for the Data API's calls.
            operator: text(&item["employee_id"]),
        })
    }
}

#[async_trait]
impl CallSource for NovofonV2 {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    async fn list_calls(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ProviderCall>, TelephonyError> {
        let mut out = Vec::new();
        let mut offset = 0u64;
        loop {
            let params = json!({
                "access_token": self.cfg.access_token,
                "date_from": self.local(from),
                "date_till": self.local(to),
                "limit": self.cfg.page_size,
                "offset": offset,
                "fields": ["id", "start_time", "finish_time", "finish_reason", "direction", "is_lost",
                           "communication_id", "talk_duration", "total_duration", "contact_phone_number",
                           "virtual_phone_number", "call_records"],
            });
            let result = self.call("get.calls_report", params).await?;
            let items = result["data"].as_array().cloned().unwrap_or_default();
            for item in &items {
                match self.parse_item(item) {
                    Some(c) => out.push(c),
                    None => {
                        tracing::warn!(row = %super::novofon_v1::row_summary(item), "Novofon 2.0: skipping an unreadable call");
                        tracing::debug!(item = %item, "the unreadable call")
                    }
                }
            }
            let total = result["metadata"]["total_items"].as_u64().unwrap_or(0);
            offset += items.len() as u64;
            let limits = &result["metadata"]["limits"];
            if limits["minute_remaining"].as_i64() == Some(0) {
                let wait =
                    Duration::from_secs(limits["minute_reset"].as_u64().unwrap_or(60).min(60));
                tracing::warn!(wait = ?wait, "Novofon 2.0: minute limit used up; pausing");
                tokio::time::sleep(wait).await;
            }
            if limits["day_remaining"].as_i64() == Some(0) {
                return Err(TelephonyError::RateLimited(Duration::from_secs(
                    limits["day_reset"].as_u64().unwrap_or(3600).min(86_400),
                )));
            }
            if items.is_empty() || offset >= total || items.len() < self.cfg.page_size {
                break;
            }
        }
        Ok(out)
    }

    async fn fetch_recording(
        &self,
        _provider_call_id: &str,
        recording_ref: Option<&str>,
    ) -> Result<(Vec<u8>, String), TelephonyError> {
        let r = recording_ref
            .ok_or_else(|| TelephonyError::NotReady("the call has no call_records".into()))?;
        let url = format!(
            "{}/system/media/talk/{}/",
            self.cfg.media_url.trim_end_matches('/'),
            r.trim_matches('/')
        );
        download_recording(&self.http, &url, self.cfg.max_recording_bytes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpc_errors_become_clear_messages() {
        let e = map_rpc_error(
            &json!({"code": -32001, "message": "Auth error", "data": {"mnemonic": "auth_error"}}),
        );
        assert!(
            matches!(e, TelephonyError::Auth(ref m) if m.contains("NOVOFON_ACCESS_TOKEN")),
            "{e}"
        );
        let e = map_rpc_error(
            &json!({"code": -32003, "message": "Forbidden", "data": {"mnemonic": "forbidden"}}),
        );
        assert!(e.to_string().contains("whitelisted"));
        assert!(matches!(
            map_rpc_error(&json!({"code": -32029, "data": {"mnemonic": "limit_exceeded"}})),
            TelephonyError::RateLimited(_)
        ));
        assert!(map_rpc_error(
            &json!({"code": -32602, "data": {"mnemonic": "date_interval_limit_reached"}})
        )
        .to_string()
        .contains("3 months"));
    }
}
