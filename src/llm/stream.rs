//! Streaming chat completions with function calling, for the live dialog: text deltas as they
//! arrive, tool calls assembled from their fragments, usage at the end. Messages and tools are
//! plain OpenAI JSON (the dialog owns their shape); chunks are parsed leniently.

use std::collections::BTreeMap;
use std::pin::Pin;

use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};

use super::client::{classify, LlmClient, LlmError};

/// One assembled tool call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// What the stream yields.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    Text(String),
    /// All tool calls of the answer, once the stream has finished them.
    ToolCalls(Vec<ToolCall>),
    Usage {
        prompt_tokens: i64,
        completion_tokens: i64,
        cost_usd: f64,
    },
}

#[derive(Deserialize, Default)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize, Default)]
struct Choice {
    #[serde(default)]
    delta: Delta,
}

#[derive(Deserialize, Default)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCallChunk>>,
}

#[derive(Deserialize)]
struct ToolCallChunk {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<FunctionChunk>,
}

#[derive(Deserialize)]
struct FunctionChunk {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: i64,
    #[serde(default)]
    completion_tokens: i64,
}

pub type EventStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, LlmError>> + Send>>;

impl LlmClient {
    /// Starts a streamed completion. Returns once the provider has accepted the request.
    pub async fn stream_chat(
        &self,
        messages: &[Value],
        tools: &Value,
        max_tokens: u32,
    ) -> Result<EventStream, LlmError> {
        let request = json!({
            "model": self.model,
            "messages": messages,
            "tools": tools,
            "temperature": 0.4,
            "max_tokens": max_tokens,
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        let raw = self
            .client
            .chat()
            .create_stream_byot::<Value, Chunk>(request)
            .await
            .map_err(|e| error(&e))?;
        let model = self.model.clone();
        let prices = self.prices.clone();
        let mut calls: BTreeMap<u32, ToolCall> = BTreeMap::new();
        let mut raw = raw;
        let stream = async_stream(move |tx| async move {
            while let Some(item) = raw.next().await {
                let chunk = match item {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = tx.send(Err(error(&e))).await;
                        return;
                    }
                };
                for choice in chunk.choices {
                    if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
                        if tx.send(Ok(StreamEvent::Text(text))).await.is_err() {
                            return;
                        }
                    }
                    for tc in choice.delta.tool_calls.unwrap_or_default() {
                        let entry = calls.entry(tc.index).or_insert_with(|| ToolCall {
                            id: String::new(),
                            name: String::new(),
                            arguments: String::new(),
                        });
                        if let Some(id) = tc.id {
                            entry.id = id;
                        }
                        if let Some(f) = tc.function {
                            if let Some(n) = f.name {
                                entry.name.push_str(&n);
                            }
                            if let Some(a) = f.arguments {
                                entry.arguments.push_str(&a);
                            }
                        }
                    }
                }
                if let Some(u) = chunk.usage {
                    let cost = prices.cost(&model, u.prompt_tokens, u.completion_tokens);
                    let _ = tx
                        .send(Ok(StreamEvent::Usage {
                            prompt_tokens: u.prompt_tokens,
                            completion_tokens: u.completion_tokens,
                            cost_usd: cost,
                        }))
                        .await;
                }
            }
            if !calls.is_empty() {
                let list: Vec<ToolCall> = std::mem::take(&mut calls)
                    .into_values()
                    .enumerate()
                    .map(|(i, mut c)| {
                        if c.id.is_empty() {
                            c.id = format!("call_{i}");
                        }
                        c
                    })
                    .collect();
                let _ = tx.send(Ok(StreamEvent::ToolCalls(list))).await;
            }
        });
        Ok(stream)
    }
}

fn error(e: &async_openai::error::OpenAIError) -> LlmError {
    let (transient, msg) = classify(e);
    metrics::counter!("callops_llm_errors_total", "transient" => transient.to_string())
        .increment(1);
    if transient {
        LlmError::Transient(msg)
    } else {
        LlmError::Rejected(msg)
    }
}

/// A stream fed by a spawned producer over a bounded channel.
fn async_stream<F, Fut>(producer: F) -> EventStream
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<StreamEvent, LlmError>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let task = tokio::spawn(producer(tx));
    let guard = AbortOnDrop(task);
    Box::pin(futures::stream::unfold(
        (rx, guard),
        |(mut rx, guard)| async move { rx.recv().await.map(|item| (item, (rx, guard))) },
    ))
}

/// Stops the producer when the consumer drops the stream (barge-in cancels the request).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
