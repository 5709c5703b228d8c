//! When the voice agent greets a callee (a setting of live calls).

use std::time::Duration;

/// When the agent greets. On a cold call many people answer with "Алло?" and expect to be
/// spoken to after it; others wait in silence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Greeting {
    /// As soon as the call is answered.
    OnAnswer,
    /// After the callee's first words end, or after this much silence if they say nothing.
    AfterCallee { silence: Duration },
}

impl Greeting {
    /// `answer` or `callee` (`AGENT_GREETING`), with the silence to wait (`AGENT_GREETING_WAIT_MS`).
    pub fn parse(word: &str, silence: Duration) -> Option<Self> {
        match word.trim().to_lowercase().as_str() {
            "answer" | "on_answer" => Some(Greeting::OnAnswer),
            "callee" | "after_callee" => Some(Greeting::AfterCallee { silence }),
            _ => None,
        }
    }
}
