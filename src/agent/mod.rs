//! The live voice agent: a call script, the call state changed by tool calls, a sentence
//! splitter for streamed LLM text, the reply speaker (LLM → sentences → TTS → playout) and the
//! dialog engine with turn-taking and barge-in. Media and lines come from `telephony`.

pub mod after_call;
pub mod dialog;
pub mod end_of_turn;
pub mod engine;
pub mod figures;
pub mod rehearsal;
pub mod screening;
pub mod script;
pub mod sentences;
pub mod speaker;
pub mod state;

pub use engine::{
    run_call, AgentDeps, CallControl, CallEvent, CallReport, DialogSettings, EarlyReplies,
    Greeting, Hints, TurnTiming,
};
pub use script::{Script, Scripts};
pub use state::{CallState, EndReason, Stage};
