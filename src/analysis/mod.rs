//! Call analysis: profiles, transcription of recordings, the LLM analysis and the protocol.

pub mod analyze;
pub mod profile;
pub mod protocol;
pub mod transcribe;

pub use profile::{Profile, Profiles};
