//! The LLM: an OpenAI-compatible chat client (async-openai, configurable base URL) that asks for
//! structured JSON, with near-JSON repair, schema validation, bounded retries and token/cost
//! accounting.

mod client;
pub mod repair;
pub mod schema;
pub mod stream;

pub use client::{ChatMessage, JsonMode, LlmClient, LlmError, LlmReply, PriceTable};
