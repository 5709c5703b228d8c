//! Call analysis: profiles, transcription of recordings, the LLM analysis and the protocol, and
//! the pipeline's services the edges and the job handlers share: taking calls in (`ingest`),
//! queueing its durable steps (`queue`), storing results (`results`) and showing protocols (`view`).

pub mod analyze;
pub mod ingest;
pub mod missed;
pub mod operators;
pub mod pipeline;
pub mod profile;
pub mod protocol;
pub mod queue;
pub mod results;
pub mod sheets;
pub mod transcribe;
pub mod view;

pub use profile::{Profile, Profiles};
