//! Pacing of outgoing Telegram requests per chat (about 1/s to a private chat, 20/min to a
//! group) and overall (30/s). Applies to edits too, which teloxide's `Throttle` does not pace.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// Hands out send slots; callers sleep until theirs.
pub struct ChatPacer {
    private_gap: Duration,
    group_gap: Duration,
    global_gap: Duration,
    state: Mutex<PacerState>,
}

struct PacerState {
    next_per_chat: HashMap<i64, Instant>,
    next_global: Instant,
}

impl ChatPacer {
    pub fn new(private_gap: Duration, group_gap: Duration) -> Self {
        Self {
            private_gap,
            group_gap,
            global_gap: Duration::from_millis(34),
            state: Mutex::new(PacerState {
                next_per_chat: HashMap::new(),
                next_global: Instant::now(),
            }),
        }
    }

    /// Waits until a message to `chat_id` may go out.
    pub async fn wait(&self, chat_id: i64) {
        let slot = {
            let mut st = self.state.lock().await;
            let now = Instant::now();
            let chat_next = st.next_per_chat.get(&chat_id).copied().unwrap_or(now);
            let slot = now.max(chat_next).max(st.next_global);
            let gap = if chat_id < 0 {
                self.group_gap
            } else {
                self.private_gap
            };
            st.next_per_chat.insert(chat_id, slot + gap);
            st.next_global = slot + self.global_gap;
            if st.next_per_chat.len() > 10_000 {
                st.next_per_chat.retain(|_, t| *t > now);
            }
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// Pushes the chat's next slot out after a 429.
    pub async fn penalise(&self, chat_id: i64, wait: Duration) {
        let mut st = self.state.lock().await;
        let until = Instant::now() + wait;
        let entry = st.next_per_chat.entry(chat_id).or_insert(until);
        if *entry < until {
            *entry = until;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn spaces_messages_per_chat_but_not_across_chats() {
        let p = ChatPacer::new(Duration::from_secs(1), Duration::from_secs(3));
        let start = Instant::now();
        p.wait(1).await;
        p.wait(1).await;
        p.wait(1).await;
        assert!(start.elapsed() >= Duration::from_secs(2));
        let t = Instant::now();
        p.wait(2).await;
        assert!(t.elapsed() < Duration::from_millis(100));
        let t = Instant::now();
        p.wait(-100).await;
        p.wait(-100).await;
        assert!(t.elapsed() >= Duration::from_secs(3));
    }
}
