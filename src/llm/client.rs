//! The chat client. async-openai's retry layer retries 429, 5xx and connection errors a few times
//! within a request (honouring `Retry-After`); what still fails is classified as transient (the
//! durable job retries later, with its own backoff) or final.

use std::collections::HashMap;
use std::time::Duration;

use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    CreateChatCompletionRequestArgs, ResponseFormat, ResponseFormatJsonSchema,
};

use async_openai::Client;

/// How structured output is requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JsonMode {
    /// `response_format: {type: json_schema, strict: true}`.
    #[default]
    JsonSchema,
    /// `response_format: {type: json_object}`; the schema goes into the prompt.
    JsonObject,
}

impl JsonMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json_schema" | "schema" => Some(JsonMode::JsonSchema),
            "json_object" | "object" => Some(JsonMode::JsonObject),
            _ => None,
        }
    }
}

/// USD per million tokens (prompt, completion) by model.
#[derive(Debug, Clone)]
pub struct PriceTable(pub HashMap<String, (f64, f64)>);

impl Default for PriceTable {
    fn default() -> Self {
        let mut m = HashMap::new();
        m.insert("gpt-4o".into(), (2.5, 10.0));
        m.insert("gpt-4o-mini".into(), (0.15, 0.6));
        m.insert("gpt-4.1".into(), (2.0, 8.0));
        m.insert("gpt-4.1-mini".into(), (0.4, 1.6));
        Self(m)
    }
}

impl PriceTable {
    /// Parses `model=prompt:completion,...` over the defaults.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut table = Self::default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (model, prices) = item
                .split_once('=')
                .ok_or_else(|| format!("{item:?}: expected model=prompt:completion"))?;
            let (p, c) = prices
                .split_once(':')
                .ok_or_else(|| format!("{item:?}: expected model=prompt:completion"))?;
            let p: f64 = p
                .trim()
                .parse()
                .map_err(|_| format!("{item:?}: bad price"))?;
            let c: f64 = c
                .trim()
                .parse()
                .map_err(|_| format!("{item:?}: bad price"))?;
            table.0.insert(model.trim().to_string(), (p, c));
        }
        Ok(table)
    }

    pub fn cost(&self, model: &str, prompt: i64, completion: i64) -> f64 {
        self.0.get(model).map_or(0.0, |(p, c)| {
            (prompt as f64 * p + completion as f64 * c) / 1_000_000.0
        })
    }
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatMessage {
    System(String),
    User(String),
    Assistant(String),
}

/// The model's answer and what it cost.
#[derive(Debug, Clone)]
pub struct LlmReply {
    pub text: String,
    pub model: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_usd: f64,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum LlmError {
    #[error("the LLM is temporarily unavailable: {0}")]
    Transient(String),
    #[error("the LLM refused the request: {0}")]
    Rejected(String),
}

pub struct LlmClient {
    pub(super) client: Client<OpenAIConfig>,
    pub model: String,
    pub json_mode: JsonMode,
    pub(super) prices: PriceTable,
}

impl LlmClient {
    pub fn new(
        base_url: &str,
        api_key: &str,
        model: &str,
        json_mode: JsonMode,
        prices: PriceTable,
    ) -> Self {
        Self::with_timeout(
            base_url,
            api_key,
            model,
            json_mode,
            prices,
            Duration::from_secs(180),
        )
    }

    /// As [`LlmClient::new`] with a per-request timeout.
    pub fn with_timeout(
        base_url: &str,
        api_key: &str,
        model: &str,
        json_mode: JsonMode,
        prices: PriceTable,
        timeout: Duration,
    ) -> Self {
        let config = OpenAIConfig::new()
            .with_api_base(base_url)
            .with_api_key(api_key);
        let http = crate::http::client_builder()
            .timeout(timeout)
            .build()
            .unwrap_or_default();
        Self {
            client: Client::with_config(config).with_http_client(http),
            model: model.to_string(),
            json_mode,
            prices,
        }
    }

    /// Asks for a JSON answer; `schema` is sent as `response_format` (or left to the prompt in
    /// `json_object` mode).
    pub async fn complete_json(
        &self,
        messages: &[ChatMessage],
        schema_name: &str,
        schema: &serde_json::Value,
    ) -> Result<LlmReply, LlmError> {
        crate::telemetry::timed(
            "openai",
            "llm",
            self.complete_json_once(messages, schema_name, schema),
        )
        .await
    }

    async fn complete_json_once(
        &self,
        messages: &[ChatMessage],
        schema_name: &str,
        schema: &serde_json::Value,
    ) -> Result<LlmReply, LlmError> {
        let msgs: Vec<ChatCompletionRequestMessage> = messages
            .iter()
            .map(|m| match m {
                ChatMessage::System(t) => {
                    ChatCompletionRequestSystemMessage::from(t.as_str()).into()
                }
                ChatMessage::User(t) => ChatCompletionRequestUserMessage::from(t.as_str()).into(),
                ChatMessage::Assistant(t) => {
                    ChatCompletionRequestAssistantMessage::from(t.as_str()).into()
                }
            })
            .collect();
        let format = match self.json_mode {
            JsonMode::JsonSchema => ResponseFormat::JsonSchema {
                json_schema: ResponseFormatJsonSchema {
                    description: None,
                    name: schema_name.to_string(),
                    schema: schema.clone(),
                    strict: Some(true),
                },
            },
            JsonMode::JsonObject => ResponseFormat::JsonObject,
        };
        let request = CreateChatCompletionRequestArgs::default()
            .model(self.model.clone())
            .messages(msgs)
            .response_format(format)
            .temperature(0.2)
            .build()
            .map_err(|e| LlmError::Rejected(e.to_string()))?;

        match self.client.chat().create(request).await {
            Ok(resp) => {
                let usage = resp.usage.as_ref();
                let prompt = usage.map_or(0, |u| i64::from(u.prompt_tokens));
                let completion = usage.map_or(0, |u| i64::from(u.completion_tokens));
                let model = if resp.model.is_empty() {
                    self.model.clone()
                } else {
                    resp.model.clone()
                };
                let text = resp
                    .choices
                    .first()
                    .and_then(|c| c.message.content.clone())
                    .unwrap_or_default();
                Ok(LlmReply {
                    text,
                    cost_usd: self.prices.cost(&self.model, prompt, completion),
                    model,
                    prompt_tokens: prompt,
                    completion_tokens: completion,
                })
            }
            Err(e) => {
                let (transient, msg) = classify(&e);
                metrics::counter!("callops_llm_errors_total", "transient" => transient.to_string())
                    .increment(1);
                Err(if transient {
                    LlmError::Transient(msg)
                } else {
                    LlmError::Rejected(msg)
                })
            }
        }
    }
}

/// Drops a URL in parentheses from a reqwest error text (it may carry a proxy's credentials).
fn strip_url(s: &str) -> String {
    match s.find(" (http") {
        Some(i) => s[..i].to_string(),
        None => s.to_string(),
    }
}

pub(super) fn classify(e: &OpenAIError) -> (bool, String) {
    match e {
        OpenAIError::Reqwest(r) => (true, strip_url(&r.to_string())),
        OpenAIError::ApiError(api) => {
            let code = api.status_code.as_u16();
            (
                code == 429 || code == 408 || api.status_code.is_server_error(),
                api.to_string(),
            )
        }
        OpenAIError::JSONDeserialize(err, _) => (true, format!("unreadable answer: {err}")),
        other => (false, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_parse_and_cost() {
        let t = PriceTable::parse("my-model=1:2, gpt-4o=5:20").unwrap();
        assert!((t.cost("my-model", 1_000_000, 500_000) - 2.0).abs() < 1e-9);
        assert!((t.cost("gpt-4o", 1000, 1000) - 0.025).abs() < 1e-9);
        assert_eq!(t.cost("unknown", 10, 10), 0.0);
        assert!(PriceTable::parse("bad").is_err());
    }
}
