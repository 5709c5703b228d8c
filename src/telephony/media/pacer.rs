//! A drift-free 20 ms clock: tick `n` is due at `epoch + n × 20 ms`, so sleeping late once does
//! not shift every later frame. After a long stall it re-anchors instead of bursting frames.

use std::time::Duration;

use tokio::time::Instant;

use super::frame::FRAME_MS;

/// Frames behind schedule after which the pacer re-anchors rather than catching up.
const MAX_LAG_FRAMES: u64 = 5;

pub struct Pacer {
    epoch: Instant,
    n: u64,
    period: Duration,
}

impl Default for Pacer {
    fn default() -> Self {
        Self::new()
    }
}

impl Pacer {
    pub fn new() -> Self {
        Self {
            epoch: Instant::now(),
            n: 0,
            period: Duration::from_millis(FRAME_MS),
        }
    }

    /// Starts a new stream now: the next tick is due at once.
    pub fn restart(&mut self) {
        self.epoch = Instant::now();
        self.n = 0;
    }

    /// A tick was taken now, off the grid (a talkspurt that starts between ticks goes out at
    /// once): the grid moves so the next tick is one period from now.
    pub fn realign(&mut self) {
        self.epoch = Instant::now();
        self.n = 1;
    }

    /// When the next tick is due.
    pub fn deadline(&self) -> Instant {
        self.epoch + self.period * self.n as u32
    }

    /// Waits for the next tick; returns how late it came (after a re-anchoring, the lag that
    /// caused it).
    pub async fn tick(&mut self) -> Duration {
        let due = self.deadline();
        let now = Instant::now();
        let late = if now > due + self.period * MAX_LAG_FRAMES as u32 {
            self.epoch = now;
            self.n = 0;
            now - due
        } else {
            tokio::time::sleep_until(due).await;
            Instant::now().saturating_duration_since(due)
        };
        self.n += 1;
        late
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn ticks_stay_on_the_grid_despite_late_wakeups() {
        let mut p = Pacer::new();
        let start = Instant::now();
        for i in 0..50u32 {
            p.tick().await;
            if i % 10 == 3 {
                // Work that eats most of a frame.
                tokio::time::advance(Duration::from_millis(15)).await;
            }
        }
        // 50 ticks: the first at 0, the last at 49 × 20 ms (+ at most the last stall).
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(980), "{elapsed:?}");
        assert!(elapsed <= Duration::from_millis(1000), "{elapsed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn realigning_moves_the_grid_to_now() {
        let mut p = Pacer::new();
        p.tick().await;
        tokio::time::advance(Duration::from_millis(7)).await;
        p.realign();
        let t = Instant::now();
        assert_eq!(p.tick().await, Duration::ZERO);
        p.tick().await;
        assert_eq!(t.elapsed(), Duration::from_millis(40));
    }

    #[tokio::test(start_paused = true)]
    async fn re_anchors_after_a_long_stall() {
        let mut p = Pacer::new();
        p.tick().await;
        tokio::time::advance(Duration::from_millis(500)).await;
        let t = Instant::now();
        p.tick().await;
        p.tick().await;
        // No burst of 25 catch-up frames: the second tick waits a full period.
        assert_eq!(t.elapsed(), Duration::from_millis(20));
    }
}
