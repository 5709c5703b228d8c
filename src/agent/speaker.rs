//! One agent reply, spoken: text (fixed, or streamed from the LLM with tool calls) is cut into
//! sentences; each sentence is synthesised (streamed PCM), resampled to the line rate, cut into
//! frames and queued for playout. Synthesis of a sentence starts as soon as it is complete, so
//! the first sentence plays while the model is still writing the rest. Dropping the task (barge-in)
//! cancels the LLM request and the synthesis in flight.
//!
//! A reply started early (preemptive generation, before the caller's turn is known to be over)
//! runs behind a closed [`Gate`]: the model streams and the first sentences are synthesised, but
//! their frames stay with the reply and reach the playout only once the dialog opens the gate.
//! Dropped before that, nothing of it was ever heard.

use std::sync::Arc;

use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::sentences::SentenceSplitter;
use super::state::{tool_definitions, CallState, ToolResult};
use crate::llm::stream::StreamEvent;
use crate::llm::LlmClient;
use crate::speech::{Tts, TtsFormat};
use crate::telephony::media::{Flushed, Frame, Framer, PlayoutQueue, StreamResampler};

/// Holds a reply's audio back until the dialog commits it. Dropping the gate without opening it
/// makes the held reply give up.
pub struct Gate(watch::Sender<bool>);

impl Gate {
    /// A closed gate, and the side a [`Speaker`] waits on.
    pub fn closed() -> (Self, GateRx) {
        let (tx, rx) = watch::channel(false);
        (Self(tx), GateRx(rx))
    }

    /// Lets the held audio go to the playout.
    pub fn open(&self) {
        self.0.send_replace(true);
    }
}

/// The speaker's side of a [`Gate`].
#[derive(Clone)]
pub struct GateRx(watch::Receiver<bool>);

impl GateRx {
    fn is_open(&self) -> bool {
        *self.0.borrow()
    }

    /// Waits until the gate opens; `Err` when it was dropped closed.
    async fn opened(&mut self) -> Result<(), Flushed> {
        self.0
            .wait_for(|open| *open)
            .await
            .map(|_| ())
            .map_err(|_| Flushed)
    }
}

/// What to say.
#[derive(Debug, Clone)]
pub enum Source {
    Fixed(String),
    /// Ask the model with these messages (system prompt first).
    Llm(Vec<Value>),
}

/// Progress of a reply, sent to the dialog engine.
#[derive(Debug)]
pub enum SpeakEvent {
    FirstToken(Instant),
    SentenceReady {
        tag: u64,
        text: String,
        at: Instant,
    },
    TtsFirstByte {
        tag: u64,
        at: Instant,
    },
    SentenceQueued {
        tag: u64,
        frames: u32,
    },
    /// The model called tools: `messages` go into the history as they are, and each result's
    /// checked call is for the state's owner to apply.
    Tools {
        messages: Vec<Value>,
        results: Vec<ToolResult>,
    },
    Usage {
        prompt_tokens: i64,
        completion_tokens: i64,
        cost_usd: f64,
    },
    Done,
    Failed(String),
}

/// What a reply needs.
#[derive(Clone)]
pub struct Speaker {
    pub llm: Arc<LlmClient>,
    pub tts: Arc<dyn Tts>,
    pub queue: PlayoutQueue,
    pub rate: u32,
    /// The call state when the reply began: tool calls are checked against a copy of it, and
    /// reach the dialog (the state's single writer) as [`SpeakEvent::Tools`].
    pub state: CallState,
    pub max_tokens: u32,
    /// At most this many model rounds per reply (tool call → follow-up text).
    pub max_rounds: u32,
    /// Audio is held until this opens (a preemptive reply); `None` plays at once.
    pub gate: Option<GateRx>,
    /// The script's voice for this vendor (`None`: the configured one).
    pub voice: Option<String>,
}

/// Where a reply's frames go: the playout, or held while the gate is closed. The queue's flush
/// generation is taken when the first frame goes out, so a reply held across a flush still plays.
struct Outlet {
    queue: PlayoutQueue,
    gate: Option<GateRx>,
    generation: Option<u64>,
    held: Vec<Frame>,
}

impl Outlet {
    fn new(queue: PlayoutQueue, gate: Option<GateRx>) -> Self {
        let generation = gate.is_none().then(|| queue.generation());
        Self {
            queue,
            gate,
            generation,
            held: Vec::new(),
        }
    }

    fn open(&self) -> bool {
        self.gate.as_ref().is_none_or(GateRx::is_open)
    }

    /// Queues a frame (after anything held), or holds it while the gate is closed.
    async fn send(&mut self, frame: Frame, tag: u64) -> Result<(), Flushed> {
        if !self.open() {
            self.held.push(frame);
            return Ok(());
        }
        self.release(tag).await?;
        let generation = *self
            .generation
            .get_or_insert_with(|| self.queue.generation());
        self.queue.push(frame, tag, generation).await
    }

    /// Queues what is held, once the gate is open.
    async fn release(&mut self, tag: u64) -> Result<(), Flushed> {
        if self.held.is_empty() || !self.open() {
            return Ok(());
        }
        let generation = *self
            .generation
            .get_or_insert_with(|| self.queue.generation());
        for f in std::mem::take(&mut self.held) {
            self.queue.push(f, tag, generation).await?;
        }
        Ok(())
    }

    /// Waits for the gate (if closed) and queues what is held.
    async fn drain(&mut self, tag: u64) -> Result<(), Flushed> {
        if let Some(g) = self.gate.as_mut() {
            g.opened().await?;
        }
        self.release(tag).await
    }

    /// Resolves when the gate opens with audio held (never when there is nothing to release).
    async fn waiting_release(&mut self) -> Result<(), Flushed> {
        match self.gate.as_mut() {
            Some(g) if !self.held.is_empty() && !g.is_open() => g.opened().await,
            _ => std::future::pending().await,
        }
    }
}

impl Speaker {
    /// Speaks `source`; events go to `events` tagged with `reply`. Sentence tags start at `first_tag`.
    pub async fn run(
        self,
        source: Source,
        first_tag: u64,
        events: mpsc::Sender<(u64, SpeakEvent)>,
        reply: u64,
    ) {
        let mut outlet = Outlet::new(self.queue.clone(), self.gate.clone());
        let (sent_tx, mut sent_rx) = mpsc::channel::<(u64, String)>(16);
        let ev = events.clone();
        let producer = {
            let this = self.clone();
            async move {
                match source {
                    Source::Fixed(text) => {
                        let mut sp = SentenceSplitter::new();
                        let all: Vec<String> =
                            sp.push(&text).into_iter().chain(sp.finish()).collect();
                        for (tag, s) in (first_tag..).zip(all) {
                            if !hand_over(tag, s, &sent_tx, &ev, reply).await {
                                return;
                            }
                        }
                    }
                    Source::Llm(messages) => {
                        if let Err(e) = this
                            .converse(messages, first_tag, &sent_tx, &ev, reply)
                            .await
                        {
                            let _ = ev.send((reply, SpeakEvent::Failed(e))).await;
                        }
                    }
                }
            }
        };
        let consumer = async {
            while let Some((tag, text)) = sent_rx.recv().await {
                match self
                    .say_sentence(tag, &text, &mut outlet, &events, reply)
                    .await
                {
                    Ok(()) => {}
                    Err(SayError::Flushed) => return,
                    Err(SayError::Failed(e)) => {
                        let _ = events.send((reply, SpeakEvent::Failed(e))).await;
                        return;
                    }
                }
            }
        };
        tokio::join!(producer, consumer);
        let _ = events.send((reply, SpeakEvent::Done)).await;
    }

    /// The model loop: stream text into sentences, apply tool calls, ask again if the model
    /// called tools without saying anything.
    pub(crate) async fn converse(
        &self,
        mut messages: Vec<Value>,
        first_tag: u64,
        sentences: &mpsc::Sender<(u64, String)>,
        events: &mpsc::Sender<(u64, SpeakEvent)>,
        reply: u64,
    ) -> Result<(), String> {
        let tools = tool_definitions();
        let mut scratch = self.state.clone();
        let mut tag = first_tag;
        let mut first_token = true;
        for _round in 0..self.max_rounds.max(1) {
            let mut stream = self
                .llm
                .stream_chat(&messages, &tools, self.max_tokens)
                .await
                .map_err(|e| e.to_string())?;
            let mut splitter = SentenceSplitter::new();
            let mut text = String::new();
            let mut calls = Vec::new();
            let emit = |s: String, tag: &mut u64| {
                let t = *tag;
                *tag += 1;
                (t, s)
            };
            while let Some(item) = stream.next().await {
                match item.map_err(|e| e.to_string())? {
                    StreamEvent::Text(t) => {
                        if first_token {
                            first_token = false;
                            let _ = events
                                .send((reply, SpeakEvent::FirstToken(Instant::now())))
                                .await;
                        }
                        text.push_str(&t);
                        for s in splitter.push(&t) {
                            let (t, s) = emit(s, &mut tag);
                            if !hand_over(t, s, sentences, events, reply).await {
                                return Ok(());
                            }
                        }
                    }
                    StreamEvent::ToolCalls(c) => calls = c,
                    StreamEvent::Usage {
                        prompt_tokens,
                        completion_tokens,
                        cost_usd,
                    } => {
                        let _ = events
                            .send((
                                reply,
                                SpeakEvent::Usage {
                                    prompt_tokens,
                                    completion_tokens,
                                    cost_usd,
                                },
                            ))
                            .await;
                    }
                }
            }
            if let Some(s) = splitter.finish() {
                let (t, s) = emit(s, &mut tag);
                if !hand_over(t, s, sentences, events, reply).await {
                    return Ok(());
                }
            }
            if calls.is_empty() {
                return Ok(());
            }
            let assistant = json!({
                "role": "assistant",
                "content": if text.is_empty() { Value::Null } else { Value::String(text.clone()) },
                "tool_calls": calls.iter().map(|c| json!({
                    "id": c.id, "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments}
                })).collect::<Vec<_>>(),
            });
            let mut added = vec![assistant];
            let mut results = Vec::new();
            for c in &calls {
                let r = scratch.apply(&c.name, &c.arguments);
                tracing::info!(tool = %c.name, "agent tool call");
                added.push(json!({"role": "tool", "tool_call_id": c.id, "content": r.content}));
                results.push(r);
            }
            let ends = results.iter().any(|r| r.ends_call);
            messages.extend(added.iter().cloned());
            let _ = events
                .send((
                    reply,
                    SpeakEvent::Tools {
                        messages: added,
                        results,
                    },
                ))
                .await;
            // Spoke already, or the call is over and there is nothing more to ask: done.
            if !text.trim().is_empty() || ends {
                return Ok(());
            }
        }
        Ok(())
    }

    async fn say_sentence(
        &self,
        tag: u64,
        text: &str,
        outlet: &mut Outlet,
        events: &mpsc::Sender<(u64, SpeakEvent)>,
        reply: u64,
    ) -> Result<(), SayError> {
        let mut stream = self
            .tts
            .synthesize_in(text, TtsFormat::Pcm, self.voice.as_deref())
            .await
            .map_err(|e| SayError::Failed(e.to_string()))?;
        let mut rs = StreamResampler::new(stream.sample_rate, self.rate)
            .map_err(|e| SayError::Failed(e.to_string()))?;
        let mut framer = Framer::new(self.rate);
        let mut carry: Option<u8> = None;
        let mut frames = 0u32;
        let mut first = true;
        loop {
            let chunk = tokio::select! {
                c = stream.chunks.next() => c,
                // Committed while synthesis goes on: what is held plays now.
                opened = outlet.waiting_release() => {
                    opened?;
                    outlet.release(tag).await?;
                    continue;
                }
            };
            let Some(chunk) = chunk else { break };
            let chunk = chunk.map_err(|e| SayError::Failed(e.to_string()))?;
            if chunk.is_empty() {
                continue;
            }
            if first {
                first = false;
                let _ = events
                    .send((
                        reply,
                        SpeakEvent::TtsFirstByte {
                            tag,
                            at: Instant::now(),
                        },
                    ))
                    .await;
            }
            let samples = le_samples(&mut carry, &chunk);
            let out = rs
                .push(&samples)
                .map_err(|e| SayError::Failed(e.to_string()))?;
            for f in framer.push(&out) {
                outlet.send(f, tag).await?;
                frames += 1;
            }
        }
        let tail = rs.finish().map_err(|e| SayError::Failed(e.to_string()))?;
        for f in framer.push(&tail).into_iter().chain(framer.finish()) {
            outlet.send(f, tag).await?;
            frames += 1;
        }
        outlet.drain(tag).await?;
        let _ = events
            .send((reply, SpeakEvent::SentenceQueued { tag, frames }))
            .await;
        Ok(())
    }
}

/// Announces a finished sentence and passes it to synthesis; false once synthesis has stopped.
async fn hand_over(
    tag: u64,
    text: String,
    sentences: &mpsc::Sender<(u64, String)>,
    events: &mpsc::Sender<(u64, SpeakEvent)>,
    reply: u64,
) -> bool {
    let ready = SpeakEvent::SentenceReady {
        tag,
        text: text.clone(),
        at: Instant::now(),
    };
    let _ = events.send((reply, ready)).await;
    sentences.send((tag, text)).await.is_ok()
}

enum SayError {
    Flushed,
    Failed(String),
}

impl From<Flushed> for SayError {
    fn from(_: Flushed) -> Self {
        SayError::Flushed
    }
}

/// Little-endian 16-bit samples from a byte chunk, carrying an odd byte to the next chunk.
fn le_samples(carry: &mut Option<u8>, chunk: &[u8]) -> Vec<i16> {
    let mut bytes = Vec::with_capacity(chunk.len() + 1);
    if let Some(b) = carry.take() {
        bytes.push(b);
    }
    bytes.extend_from_slice(chunk);
    if bytes.len() % 2 == 1 {
        *carry = bytes.pop();
    }
    bytes
        .chunks_exact(2)
        .map(|p| i16::from_le_bytes([p[0], p[1]]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_chunks_keep_sample_alignment() {
        let samples: Vec<i16> = vec![1, -2, 300, -32768, 32767];
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut carry = None;
        let mut out = Vec::new();
        for c in bytes.chunks(3) {
            out.extend(le_samples(&mut carry, c));
        }
        assert_eq!(out, samples);
        assert!(carry.is_none());
    }
}
