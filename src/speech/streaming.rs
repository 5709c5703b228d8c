//! Streaming recognition of a live utterance: the caller's audio goes to the vendor as it comes,
//! interim text comes back while they speak (for the end-of-turn decision), and the final text
//! soon after the turn ends. The audio is also kept, so when the stream fails (a reset, a refused
//! token, no final in time) the utterance goes to a batch [`Stt`] instead and is not lost.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::utterance::{wav_i16, Heard, RecognitionSession, Recognizer};
use super::{joined_text, Stt, SttError};

/// What the session sends to a vendor's stream.
#[derive(Debug)]
pub enum StreamInput {
    /// 16-bit little-endian mono PCM.
    Audio(Vec<u8>),
    /// The turn is over: the vendor should give its final text now.
    End,
}

/// The latest interim text of a stream, shared with the session.
#[derive(Clone, Default)]
pub struct Interim(Arc<Mutex<String>>);

impl Interim {
    pub fn set(&self, text: &str) {
        if let Ok(mut t) = self.0.lock() {
            text.clone_into(&mut t);
        }
    }

    pub fn get(&self) -> String {
        self.0.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

/// Why a stream gave no final text.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{vendor} stream failed: {reason}")]
pub struct StreamError {
    pub vendor: &'static str,
    pub reason: String,
}

/// A vendor's streaming recognition: one call per utterance.
#[async_trait]
pub trait SpeechStream: Send + Sync + 'static {
    /// The vendor's name, for logs and metrics.
    fn vendor(&self) -> &'static str;
    /// Streams `input` (audio at `rate` Hz, then [`StreamInput::End`]) and returns the final
    /// text, updating `interim` as hypotheses arrive.
    async fn recognize(
        &self,
        rate: u32,
        input: mpsc::UnboundedReceiver<StreamInput>,
        interim: Interim,
    ) -> Result<String, StreamError>;
}

/// A [`Recognizer`] over a [`SpeechStream`], with a batch [`Stt`] as the fallback.
pub struct StreamingRecognizer {
    stream: Arc<dyn SpeechStream>,
    fallback: Arc<dyn Stt>,
    /// How long after the end of the turn the final text may take.
    final_timeout: Duration,
}

impl StreamingRecognizer {
    pub fn new(stream: Arc<dyn SpeechStream>, fallback: Arc<dyn Stt>) -> Self {
        Self {
            stream,
            fallback,
            final_timeout: Duration::from_secs(2),
        }
    }

    pub fn with_final_timeout(mut self, t: Duration) -> Self {
        self.final_timeout = t;
        self
    }
}

struct StreamingSession {
    tx: mpsc::UnboundedSender<StreamInput>,
    task: JoinHandle<Result<String, StreamError>>,
    interim: Interim,
    samples: Vec<i16>,
    rate: u32,
    vendor: &'static str,
    fallback: Arc<dyn Stt>,
    final_timeout: Duration,
}

impl Recognizer for StreamingRecognizer {
    fn open(&self, rate: u32) -> Box<dyn RecognitionSession> {
        let (tx, rx) = mpsc::unbounded_channel();
        let interim = Interim::default();
        let stream = self.stream.clone();
        let shared = interim.clone();
        let task = tokio::spawn(async move { stream.recognize(rate, rx, shared).await });
        Box::new(StreamingSession {
            tx,
            task,
            interim,
            samples: Vec::with_capacity(rate as usize * 5),
            rate,
            vendor: self.stream.vendor(),
            fallback: self.fallback.clone(),
            final_timeout: self.final_timeout,
        })
    }

    fn vendor(&self) -> &'static str {
        self.stream.vendor()
    }
}

#[async_trait]
impl RecognitionSession for StreamingSession {
    fn push(&mut self, samples: &[i16]) {
        self.samples.extend_from_slice(samples);
        let bytes = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        // A stream that already ended is noticed in `finish`.
        let _ = self.tx.send(StreamInput::Audio(bytes));
    }

    fn interim(&self) -> Option<String> {
        Some(self.interim.get()).filter(|t| !t.is_empty())
    }

    async fn finish(self: Box<Self>) -> Result<Heard, SttError> {
        let ended = Instant::now();
        let _ = self.tx.send(StreamInput::End);
        drop(self.tx);
        let mut task = self.task;
        let failure = match tokio::time::timeout(self.final_timeout, &mut task).await {
            Ok(Ok(Ok(text))) => {
                metrics::histogram!("callops_stt_final_seconds", "vendor" => self.vendor)
                    .record(ended.elapsed().as_secs_f64());
                return Ok(Heard::text(text));
            }
            Ok(Ok(Err(e))) => e.reason,
            Ok(Err(e)) => format!("the stream task ended: {e}"),
            Err(_) => {
                task.abort();
                format!("no final text within {:?}", self.final_timeout)
            }
        };
        metrics::counter!("callops_stt_stream_fallbacks_total", "vendor" => self.vendor)
            .increment(1);
        tracing::warn!(vendor = self.vendor, reason = %failure, "streaming recognition failed; the utterance goes to batch recognition");
        if self.samples.is_empty() {
            return Ok(Heard {
                text: String::new(),
                fell_back: true,
            });
        }
        let duration_ms = self.samples.len() as i64 * 1000 / i64::from(self.rate.max(1));
        let segments = self
            .fallback
            .transcribe(wav_i16(&self.samples, self.rate), duration_ms)
            .await?;
        Ok(Heard {
            text: joined_text(&segments),
            fell_back: true,
        })
    }
}
