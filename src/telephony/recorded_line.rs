//! A line that records itself: every frame heard goes to the callee's channel and every frame
//! the agent sends to the agent's, each at its time from the start, into a [`StereoRecorder`].
//! Wraps any [`Line`], so the dialog engine records without knowing.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::line::{Line, LineEvent};
use super::media::frame::Frame;
use super::media::stereo::{Side, StereoRecorder};

/// The recording being made, shared with the line.
#[derive(Clone)]
pub struct Recording(Arc<Mutex<StereoRecorder>>);

impl Recording {
    /// The WAV file so far (the line may still be recording; it then stops).
    pub fn take_wav(&self) -> Vec<u8> {
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let rate = guard.rate();
        std::mem::replace(&mut *guard, StereoRecorder::new(rate)).into_wav()
    }
}

pub struct RecordedLine {
    inner: Box<dyn Line>,
    recording: Recording,
    start: Instant,
    agent_tx: mpsc::Sender<Frame>,
}

impl RecordedLine {
    /// Starts recording `inner` from now.
    pub fn wrap(inner: Box<dyn Line>) -> (Self, Recording) {
        let rate = inner.sample_rate();
        let recording = Recording(Arc::new(Mutex::new(StereoRecorder::new(rate))));
        let start = Instant::now();
        let (agent_tx, mut agent_rx) = mpsc::channel::<Frame>(64);
        let out = inner.sender();
        let rec = recording.clone();
        tokio::spawn(async move {
            while let Some(frame) = agent_rx.recv().await {
                let at = start.elapsed().as_millis() as u64;
                rec.0
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(Side::Agent, at, &frame);
                if out.send(frame).await.is_err() {
                    return;
                }
            }
        });
        (
            Self {
                inner,
                recording: recording.clone(),
                start,
                agent_tx,
            },
            recording,
        )
    }
}

#[async_trait]
impl Line for RecordedLine {
    fn sample_rate(&self) -> u32 {
        self.inner.sample_rate()
    }

    async fn recv(&mut self) -> Option<LineEvent> {
        let ev = self.inner.recv().await;
        if let Some(LineEvent::Frame(f)) = &ev {
            let at = self.start.elapsed().as_millis() as u64;
            self.recording
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Side::Callee, at, f);
        }
        ev
    }

    fn sender(&self) -> mpsc::Sender<Frame> {
        self.agent_tx.clone()
    }

    async fn hangup(&mut self) {
        self.inner.hangup().await;
    }
}
