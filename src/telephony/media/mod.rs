//! The media core of live calls, free of any signalling: 20 ms frames of 16-bit PCM, G.711,
//! streaming resampling, a drift-free pacer, a bounded playout queue that flushes at once, and
//! voice activity / turn detection; and for SIP trunks, RTP packets, SDP offer/answer, a jitter
//! buffer, RFC 4733 DTMF and a clocked RTP session. SIP and the simulated line both feed and
//! drain these; nothing here knows about SIP.

pub mod dtmf;
pub mod frame;
pub mod g711;
pub mod jitter;
pub mod pacer;
pub mod playout;
pub mod resample;
pub mod rtp;
pub mod rtp_session;
pub mod sdp;
pub mod stereo;
pub mod turn;
pub mod vad;

pub use frame::{Frame, FRAME_MS};
pub use pacer::Pacer;
pub use playout::{Flushed, PlayoutQueue};
pub use resample::{Framer, StreamResampler};
pub use turn::{TurnConfig, TurnDetector, TurnEvent};
pub use vad::Vad;
