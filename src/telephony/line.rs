//! A phone line as the dialog engine sees it: frames in, frames out, and events (answered,
//! DTMF, hangup). A SIP trunk implements it with RTP; [`super::simulated::SimulatedLine`]
//! implements it in process for tests, rehearsals and benchmarks.

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::media::Frame;

/// What arrives from the far end.
#[derive(Debug, Clone, PartialEq)]
pub enum LineEvent {
    Answered,
    Frame(Frame),
    Dtmf(char),
    Hangup(HangupCause),
}

/// Why a line went down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HangupCause {
    /// The callee hung up (a BYE from them).
    Remote,
    /// We hung up.
    Local,
    /// The media or signalling stopped (no BYE: a lost network, a dead peer).
    Network,
    /// A timer ran out (no answer, no media for too long).
    Timeout,
}

impl HangupCause {
    pub fn as_str(self) -> &'static str {
        match self {
            HangupCause::Remote => "remote",
            HangupCause::Local => "local",
            HangupCause::Network => "network",
            HangupCause::Timeout => "timeout",
        }
    }
}

#[async_trait]
pub trait Line: Send {
    /// Sample rate of the frames both ways (8000 or 16000).
    fn sample_rate(&self) -> u32;
    /// The next frame or event; `None` once the line is gone.
    async fn recv(&mut self) -> Option<LineEvent>;
    /// Where outgoing frames go, paced by the caller at one per 20 ms. Nothing is sent while
    /// the agent is silent; the line fills silence (comfort noise) itself if it needs to.
    fn sender(&self) -> mpsc::Sender<Frame>;
    /// Ends the call from our side.
    async fn hangup(&mut self);
}
