//! The bounded queue between speech synthesis and the line. Producers wait when it is full
//! (back-pressure instead of unbounded memory); a flush empties it at once and makes every
//! waiting producer give up, which is how barge-in silences the agent within one frame.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::frame::Frame;

/// A queued frame and the id of the sentence (or prompt) it belongs to.
#[derive(Debug, Clone)]
pub struct Queued {
    pub frame: Frame,
    pub tag: u64,
}

/// The queue was flushed while a producer was adding to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the playout was flushed")]
pub struct Flushed;

struct Inner {
    frames: VecDeque<Queued>,
    generation: u64,
}

/// Shared between producers (synthesis) and the one consumer (the line writer).
#[derive(Clone)]
pub struct PlayoutQueue {
    inner: Arc<Mutex<Inner>>,
    capacity: usize,
    space: Arc<Notify>,
    data: Arc<Notify>,
}

impl PlayoutQueue {
    /// A queue holding at most `capacity` frames.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                frames: VecDeque::with_capacity(capacity),
                generation: 0,
            })),
            capacity: capacity.max(1),
            space: Arc::new(Notify::new()),
            data: Arc::new(Notify::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the queue inconsistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The flush generation; pass it to [`PlayoutQueue::push`].
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Adds a frame, waiting for room. Fails if the queue was flushed since `generation`.
    pub async fn push(&self, frame: Frame, tag: u64, generation: u64) -> Result<(), Flushed> {
        let mut item = Some(Queued { frame, tag });
        loop {
            let waiter = self.space.notified();
            {
                let mut inner = self.lock();
                if inner.generation != generation {
                    return Err(Flushed);
                }
                if inner.frames.len() < self.capacity {
                    if let Some(q) = item.take() {
                        inner.frames.push_back(q);
                    }
                    drop(inner);
                    self.data.notify_one();
                    return Ok(());
                }
            }
            waiter.await;
        }
    }

    /// Takes the next frame, if any.
    pub fn pop(&self) -> Option<Queued> {
        let q = self.lock().frames.pop_front();
        if q.is_some() {
            self.space.notify_waiters();
        }
        q
    }

    /// Waits until a frame may be available.
    pub async fn readable(&self) {
        let waiter = self.data.notified();
        if !self.lock().frames.is_empty() {
            return;
        }
        waiter.await;
    }

    /// Drops everything queued and cancels waiting producers; returns how many frames went.
    pub fn flush(&self) -> usize {
        let n = {
            let mut inner = self.lock();
            inner.generation += 1;
            let n = inner.frames.len();
            inner.frames.clear();
            n
        };
        self.space.notify_waiters();
        n
    }

    pub fn len(&self) -> usize {
        self.lock().frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn bounded_and_flushable() {
        let q = PlayoutQueue::new(3);
        let g = q.generation();
        for _ in 0..3 {
            q.push(Frame::silence(8000), 1, g).await.unwrap();
        }
        // Full: a fourth push waits until the flush, then reports it.
        let q2 = q.clone();
        let blocked = tokio::spawn(async move { q2.push(Frame::silence(8000), 1, g).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!blocked.is_finished());
        assert_eq!(q.flush(), 3);
        assert_eq!(blocked.await.unwrap(), Err(Flushed));
        assert!(q.is_empty());
        // Old generation is refused; the new one works.
        assert_eq!(q.push(Frame::silence(8000), 2, g).await, Err(Flushed));
        q.push(Frame::silence(8000), 2, q.generation())
            .await
            .unwrap();
        assert_eq!(q.pop().map(|x| x.tag), Some(2));
    }

    #[tokio::test]
    async fn pop_makes_room_for_a_waiting_producer() {
        let q = PlayoutQueue::new(1);
        let g = q.generation();
        q.push(Frame::silence(8000), 1, g).await.unwrap();
        let q2 = q.clone();
        let p = tokio::spawn(async move { q2.push(Frame::silence(8000), 2, g).await });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(q.pop().map(|x| x.tag), Some(1));
        assert_eq!(p.await.unwrap(), Ok(()));
        q.readable().await;
        assert_eq!(q.pop().map(|x| x.tag), Some(2));
    }
}
