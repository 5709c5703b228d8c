//! A trunk places calls: `dial(to)` rings the number and gives back an answered [`Line`], or why
//! there is none (busy, no answer, declined, failed). The SIP trunk implements it over a real
//! provider; [`SimulatedTrunk`] implements it in process with scripted outcomes per number, for
//! tests and benchmarks.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::line::Line;
use super::simulated::{CalleeHandle, SimulatedLine, Step};
use crate::domain::PhoneNumber;

/// How a dial is getting on before it is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialProgress {
    /// The trunk took the call (100 Trying).
    Trying,
    /// The callee's phone rings (180/183).
    Ringing,
}

/// Why a dial did not become a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialFailure {
    /// 486 / 600: the line is busy.
    Busy,
    /// Nobody answered within the ring timeout (we cancelled).
    NoAnswer,
    /// 603 or a rejection by the callee.
    Declined,
    /// Cancelled before the answer (a hang-up from the chat, shutdown).
    Cancelled,
    /// Anything else, with the trunk's reason (4xx/5xx, unreachable, bad SDP).
    Failed(String),
}

impl fmt::Display for DialFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DialFailure::Busy => f.write_str("busy"),
            DialFailure::NoAnswer => f.write_str("no answer"),
            DialFailure::Declined => f.write_str("declined"),
            DialFailure::Cancelled => f.write_str("cancelled"),
            DialFailure::Failed(why) => write!(f, "failed: {why}"),
        }
    }
}

/// Places calls.
#[async_trait]
pub trait Trunk: Send + Sync {
    /// Dials `to` and waits for the answer (at most `ring_timeout` of ringing), reporting
    /// progress on the way. Cancelling `cancel` before the answer hangs up (CANCEL).
    async fn dial(
        &self,
        to: &PhoneNumber,
        ring_timeout: Duration,
        progress: mpsc::Sender<DialProgress>,
        cancel: CancellationToken,
    ) -> Result<Box<dyn Line>, DialFailure>;
}

/// What a simulated number does when dialled.
#[derive(Debug, Clone)]
pub enum Scripted {
    /// Rings this long, then answers and follows the steps (staying `linger` after them).
    Answer {
        ring: Duration,
        steps: Vec<Step>,
        linger: Duration,
    },
    /// Rings this long, then is busy.
    Busy(Duration),
    /// Rings this long, then declines.
    Decline(Duration),
    /// Rings until the timeout.
    NoAnswer,
    /// The trunk refuses the call at once.
    Fail(String),
}

/// An in-process trunk: each number follows its script (or the default one), and every dial is
/// recorded, so a test can tell a number was dialled exactly once.
pub struct SimulatedTrunk {
    default: Scripted,
    scripts: Mutex<HashMap<String, Scripted>>,
    dialled: Mutex<Vec<PhoneNumber>>,
    callees: Mutex<Vec<(PhoneNumber, CalleeHandle)>>,
    /// Dials under way now, and the most there ever were at once.
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

/// Counts a dial out when it returns, however it returns.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl SimulatedTrunk {
    pub fn new(default: Scripted) -> Self {
        Self {
            default,
            scripts: Mutex::new(HashMap::new()),
            dialled: Mutex::new(Vec::new()),
            callees: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// The most dials that were under way at once (ringing until answered, busy or no answer).
    pub fn peak_dials(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// Sets what `number` does.
    pub fn script(&self, number: &PhoneNumber, script: Scripted) {
        self.scripts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(number.as_str().to_string(), script);
    }

    /// Every number dialled, in order.
    pub fn dialled(&self) -> Vec<PhoneNumber> {
        self.dialled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The callees that answered, with what they said and heard.
    pub fn callees(&self) -> Vec<(PhoneNumber, CalleeHandle)> {
        self.callees
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[async_trait]
impl Trunk for SimulatedTrunk {
    async fn dial(
        &self,
        to: &PhoneNumber,
        ring_timeout: Duration,
        progress: mpsc::Sender<DialProgress>,
        cancel: CancellationToken,
    ) -> Result<Box<dyn Line>, DialFailure> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        let _in_flight = InFlight(&self.in_flight);
        self.dialled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(to.clone());
        let script = self
            .scripts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(to.as_str())
            .cloned()
            .unwrap_or_else(|| self.default.clone());
        if let Scripted::Fail(why) = script {
            return Err(DialFailure::Failed(why));
        }
        let _ = progress.send(DialProgress::Trying).await;
        let _ = progress.send(DialProgress::Ringing).await;
        let ring = match &script {
            Scripted::Answer { ring, .. } | Scripted::Busy(ring) | Scripted::Decline(ring) => *ring,
            _ => ring_timeout,
        };
        tokio::select! {
            _ = cancel.cancelled() => return Err(DialFailure::Cancelled),
            _ = tokio::time::sleep(ring.min(ring_timeout)) => {}
        }
        if ring > ring_timeout {
            return Err(DialFailure::NoAnswer);
        }
        match script {
            Scripted::Answer { steps, linger, .. } => {
                let (line, callee) = SimulatedLine::start(steps, Duration::ZERO, linger);
                self.callees
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((to.clone(), callee));
                Ok(Box::new(line))
            }
            Scripted::Busy(_) => Err(DialFailure::Busy),
            Scripted::Decline(_) => Err(DialFailure::Declined),
            Scripted::NoAnswer => Err(DialFailure::NoAnswer),
            Scripted::Fail(why) => Err(DialFailure::Failed(why)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(n: &str) -> PhoneNumber {
        PhoneNumber::parse(n).unwrap()
    }

    async fn dial(trunk: &SimulatedTrunk, n: &str, timeout_ms: u64) -> Result<(), DialFailure> {
        let (tx, _rx) = mpsc::channel(8);
        trunk
            .dial(
                &number(n),
                Duration::from_millis(timeout_ms),
                tx,
                CancellationToken::new(),
            )
            .await
            .map(|_| ())
    }

    #[tokio::test(start_paused = true)]
    async fn scripted_numbers_answer_refuse_or_ring_out() {
        let trunk = SimulatedTrunk::new(Scripted::NoAnswer);
        trunk.script(
            &number("+79160000001"),
            Scripted::Busy(Duration::from_secs(1)),
        );
        trunk.script(
            &number("+79160000002"),
            Scripted::Decline(Duration::from_secs(3)),
        );
        trunk.script(
            &number("+79160000003"),
            Scripted::Answer {
                ring: Duration::from_secs(2),
                steps: Vec::new(),
                linger: Duration::from_secs(1),
            },
        );
        trunk.script(
            &number("+79160000004"),
            Scripted::Fail("403 Forbidden".into()),
        );
        assert_eq!(
            dial(&trunk, "+79160000001", 40_000).await,
            Err(DialFailure::Busy)
        );
        assert_eq!(
            dial(&trunk, "+79160000002", 40_000).await,
            Err(DialFailure::Declined)
        );
        assert_eq!(dial(&trunk, "+79160000003", 40_000).await, Ok(()));
        assert_eq!(
            dial(&trunk, "+79160000003", 1_000).await,
            Err(DialFailure::NoAnswer),
            "answering after the ring timeout is no answer"
        );
        assert_eq!(
            dial(&trunk, "+79169999999", 40_000).await,
            Err(DialFailure::NoAnswer)
        );
        assert_eq!(
            dial(&trunk, "+79160000004", 40_000).await,
            Err(DialFailure::Failed("403 Forbidden".into()))
        );
        assert_eq!(trunk.dialled().len(), 6);
        assert_eq!(trunk.callees().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancel_while_ringing_hangs_up() {
        let trunk = SimulatedTrunk::new(Scripted::NoAnswer);
        let cancel = CancellationToken::new();
        let (tx, mut rx) = mpsc::channel(8);
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            c.cancel();
        });
        let r = trunk
            .dial(&number("+79160000001"), Duration::from_secs(40), tx, cancel)
            .await;
        assert_eq!(r.err(), Some(DialFailure::Cancelled));
        assert_eq!(rx.recv().await, Some(DialProgress::Trying));
        assert_eq!(rx.recv().await, Some(DialProgress::Ringing));
    }
}
