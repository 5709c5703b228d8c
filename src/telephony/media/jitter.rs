//! The jitter buffer of an incoming RTP stream, for a listener that is a machine (the agent's
//! voice activity and turn detection, speech recognition), not an ear: IO-free, fed packet by
//! packet and asked for frames with the time passed in.
//!
//! An ear needs packets held back and played on a clock; a machine does not, so nothing is held
//! for its own sake. A packet in sequence goes up the moment it arrives; packets are put back in
//! order, late and duplicate ones are dropped. What time still has to do:
//! - **loss**: when later packets came but one is missing, its slot is given up as
//!   [`Pulled::Missing`] once it is `gap_wait` overdue (a reordered packet still makes it);
//! - **a pause in the stream** (the callee's side stopped sending while quiet, as trunks with
//!   silence suppression do, or the network stalled): once nothing has come for `stall` past the
//!   expected next packet, [`Pulled::Silence`] fills every 20 ms slot up to now, so the silence
//!   that ends a turn is heard even when no packet carries it. Slots filled this way are not
//!   counted twice if the packets of that time turn up missing afterwards.

use std::collections::BTreeMap;
use std::time::Duration;

use super::frame::FRAME_MS;

const FRAME: Duration = Duration::from_millis(FRAME_MS);

/// What the buffer did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Accepted,
    /// Its slot has gone up already.
    Late,
    Duplicate,
    /// Too many held behind a gap: the gap was given up to make room.
    Overflow,
}

/// What goes up next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pulled {
    Packet(Vec<u8>),
    /// A packet that never came (later ones did).
    Missing,
    /// Nothing came for this slot at all: 20 ms of silence.
    Silence,
}

/// Turns 16-bit sequence numbers into a running count that survives the wrap at 65535.
#[derive(Debug, Clone, Default)]
struct SeqExtender {
    highest: Option<u64>,
}

impl SeqExtender {
    fn extend(&mut self, seq: u16) -> u64 {
        let Some(high) = self.highest else {
            // Start well above zero so a slightly older packet still has a place.
            let first = (1u64 << 32) + u64::from(seq);
            self.highest = Some(first);
            return first;
        };
        let delta = i64::from(seq.wrapping_sub(high as u16) as i16);
        let ext = (high as i64 + delta).max(0) as u64;
        if ext > high {
            self.highest = Some(ext);
        }
        ext
    }
}

/// How long the buffer waits, and how much it holds.
#[derive(Debug, Clone, Copy)]
pub struct JitterSettings {
    /// A missing packet is given up this long after its slot was due.
    pub gap_wait: Duration,
    /// Silence is filled in after nothing came for this long past the expected next packet.
    pub stall: Duration,
    /// Packets held behind a gap at most.
    pub capacity: usize,
}

impl Default for JitterSettings {
    fn default() -> Self {
        Self {
            gap_wait: Duration::from_millis(40),
            stall: Duration::from_millis(60),
            capacity: 10,
        }
    }
}

/// The jitter buffer of one incoming stream. Times are offsets from any fixed instant.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    cfg: JitterSettings,
    seq: SeqExtender,
    held: BTreeMap<u64, Vec<u8>>,
    /// The sequence number that goes up next; `None` before the first packet.
    next: Option<u64>,
    /// When the slot after the last one that went up is due.
    due: Duration,
    /// Filling silence (nothing has come for a while).
    stalled: bool,
    /// Slots filled with silence since the last packet went up.
    filled: u64,
}

impl JitterBuffer {
    pub fn new(cfg: JitterSettings) -> Self {
        Self {
            cfg: JitterSettings {
                capacity: cfg.capacity.max(1),
                ..cfg
            },
            seq: SeqExtender::default(),
            held: BTreeMap::new(),
            next: None,
            due: Duration::ZERO,
            stalled: false,
            filled: 0,
        }
    }

    /// How many packets are held (behind a gap).
    pub fn len(&self) -> usize {
        self.held.len()
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Takes a packet as it arrived at `now`.
    pub fn push(&mut self, now: Duration, sequence: u16, payload: &[u8]) -> Pushed {
        let seq = self.seq.extend(sequence);
        let next = *self.next.get_or_insert_with(|| {
            self.due = now;
            seq
        });
        if seq < next {
            return Pushed::Late;
        }
        if self.held.contains_key(&seq) {
            return Pushed::Duplicate;
        }
        self.held.insert(seq, payload.to_vec());
        if self.held.len() > self.cfg.capacity {
            // Give up the gap: the oldest held packet goes up next.
            if let Some(&oldest) = self.held.keys().next() {
                self.next = Some(oldest);
            }
            return Pushed::Overflow;
        }
        Pushed::Accepted
    }

    /// The next frame that can go up at `now`, if any (call until `None`).
    pub fn pull(&mut self, now: Duration) -> Option<Pulled> {
        let next = self.next?;
        if let Some(p) = self.held.remove(&next) {
            self.next = Some(next + 1);
            self.due = self.due.max(now) + FRAME;
            self.stalled = false;
            self.filled = 0;
            return Some(Pulled::Packet(p));
        }
        if !self.held.is_empty() {
            if self.filled > 0 {
                // The silence filled in stood for this slot already.
                self.filled -= 1;
                self.next = Some(next + 1);
                return self.pull(now);
            }
            if now >= self.due + self.cfg.gap_wait {
                self.next = Some(next + 1);
                self.due += FRAME;
                return Some(Pulled::Missing);
            }
            return None;
        }
        if !self.stalled && now >= self.due + self.cfg.stall {
            self.stalled = true;
        }
        if self.stalled && now >= self.due {
            self.due += FRAME;
            self.filled += 1;
            return Some(Pulled::Silence);
        }
        None
    }

    /// When [`Self::pull`] may have something again without a packet arriving.
    pub fn wake_at(&self) -> Option<Duration> {
        self.next?;
        Some(if !self.held.is_empty() {
            self.due + self.cfg.gap_wait
        } else if self.stalled {
            self.due
        } else {
            self.due + self.cfg.stall
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(n: u8) -> Vec<u8> {
        vec![n]
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn buffer() -> JitterBuffer {
        JitterBuffer::new(JitterSettings::default())
    }

    /// Everything that goes up at `now`.
    fn drain(jb: &mut JitterBuffer, now: u64) -> Vec<Pulled> {
        std::iter::from_fn(|| jb.pull(ms(now))).collect()
    }

    #[test]
    fn packets_in_sequence_go_up_at_once() {
        let mut jb = buffer();
        assert_eq!(jb.pull(ms(0)), None);
        assert_eq!(jb.wake_at(), None, "no timer before the first packet");
        for n in 0..5u16 {
            let t = u64::from(n) * 20;
            assert_eq!(jb.push(ms(t), 100 + n, &pkt(n as u8)), Pushed::Accepted);
            assert_eq!(drain(&mut jb, t), vec![Pulled::Packet(pkt(n as u8))]);
        }
        assert_eq!(
            jb.wake_at(),
            Some(ms(100 + 60)),
            "silence after 60 ms past the due slot"
        );
    }

    #[test]
    fn a_reordered_packet_waits_only_for_its_predecessor() {
        let mut jb = buffer();
        jb.push(ms(0), 10, &pkt(10));
        assert_eq!(drain(&mut jb, 0), vec![Pulled::Packet(pkt(10))]);
        // 12 overtakes 11: it waits; 11 comes 5 ms later and both go up.
        jb.push(ms(20), 12, &pkt(12));
        assert_eq!(drain(&mut jb, 20), vec![]);
        assert_eq!(jb.wake_at(), Some(ms(20 + 40)));
        jb.push(ms(25), 11, &pkt(11));
        assert_eq!(
            drain(&mut jb, 25),
            vec![Pulled::Packet(pkt(11)), Pulled::Packet(pkt(12))]
        );
        assert_eq!(jb.push(ms(26), 11, &pkt(11)), Pushed::Late);
    }

    #[test]
    fn a_lost_packet_is_given_up_after_the_gap_wait_and_its_successors_follow() {
        let mut jb = buffer();
        jb.push(ms(0), 1, &pkt(1));
        assert_eq!(drain(&mut jb, 0), vec![Pulled::Packet(pkt(1))]);
        // 2 is lost; 3 and 4 arrive on time.
        jb.push(ms(40), 3, &pkt(3));
        jb.push(ms(59), 4, &pkt(4));
        assert_eq!(
            drain(&mut jb, 59),
            vec![],
            "slot 2 was due at 20: wait to 60"
        );
        assert_eq!(
            drain(&mut jb, 60),
            vec![
                Pulled::Missing,
                Pulled::Packet(pkt(3)),
                Pulled::Packet(pkt(4))
            ]
        );
        assert_eq!(jb.push(ms(61), 2, &pkt(2)), Pushed::Late);
        assert_eq!(jb.push(ms(61), 4, &pkt(4)), Pushed::Late);
        jb.push(ms(80), 6, &pkt(6));
        jb.push(ms(80), 6, &pkt(6));
        assert_eq!(jb.push(ms(80), 6, &pkt(6)), Pushed::Duplicate);
    }

    #[test]
    fn a_silent_stream_is_filled_with_silence_on_the_clock() {
        let mut jb = buffer();
        jb.push(ms(0), 1, &pkt(1));
        assert_eq!(drain(&mut jb, 0).len(), 1);
        // Next due at 20; nothing comes. At 79 still waiting, at 80 the slots 20..80 are filled.
        assert_eq!(drain(&mut jb, 79), vec![]);
        assert_eq!(jb.wake_at(), Some(ms(80)));
        assert_eq!(drain(&mut jb, 80), vec![Pulled::Silence; 4]);
        assert_eq!(jb.wake_at(), Some(ms(100)));
        assert_eq!(drain(&mut jb, 99), vec![]);
        assert_eq!(drain(&mut jb, 100), vec![Pulled::Silence]);
        // The stream resumes with the next sequence number (silence suppression): at once.
        jb.push(ms(113), 2, &pkt(2));
        assert_eq!(drain(&mut jb, 113), vec![Pulled::Packet(pkt(2))]);
        assert_eq!(
            jb.wake_at(),
            Some(ms(140 + 60)),
            "it took the slot due at 120"
        );
    }

    #[test]
    fn packets_lost_in_a_stall_are_not_counted_twice() {
        let mut jb = buffer();
        jb.push(ms(0), 1, &pkt(1));
        drain(&mut jb, 0);
        assert_eq!(drain(&mut jb, 100), vec![Pulled::Silence; 5]);
        // 2..6 were lost in the stall (the five slots filled); 7 arrives: it goes up at once.
        jb.push(ms(105), 7, &pkt(7));
        assert_eq!(drain(&mut jb, 105), vec![Pulled::Packet(pkt(7))]);
        // A loss longer than the stall: 8 goes up, then 9..13 are lost and four slots filled
        // before 14 comes; the fifth lost slot is given up as missing after the gap wait.
        jb.push(ms(140), 8, &pkt(8));
        assert_eq!(drain(&mut jb, 140), vec![Pulled::Packet(pkt(8))]);
        assert_eq!(drain(&mut jb, 220), vec![Pulled::Silence; 4]);
        jb.push(ms(241), 14, &pkt(14));
        assert_eq!(drain(&mut jb, 241), vec![]);
        assert_eq!(jb.wake_at(), Some(ms(280)));
        assert_eq!(
            drain(&mut jb, 280),
            vec![Pulled::Missing, Pulled::Packet(pkt(14))]
        );
    }

    #[test]
    fn sequence_numbers_wrap_around() {
        let mut jb = buffer();
        jb.push(ms(0), 65_535, &pkt(1));
        jb.push(ms(1), 0, &pkt(2));
        jb.push(ms(2), 1, &pkt(3));
        assert_eq!(
            drain(&mut jb, 2),
            vec![
                Pulled::Packet(pkt(1)),
                Pulled::Packet(pkt(2)),
                Pulled::Packet(pkt(3))
            ]
        );
        assert_eq!(jb.push(ms(3), 65_535, &pkt(9)), Pushed::Late);
    }

    #[test]
    fn too_many_behind_a_gap_give_the_gap_up() {
        let mut jb = JitterBuffer::new(JitterSettings {
            capacity: 3,
            ..JitterSettings::default()
        });
        jb.push(ms(0), 0, &pkt(0));
        drain(&mut jb, 0);
        for n in 2..5 {
            assert_eq!(jb.push(ms(1), n, &pkt(n as u8)), Pushed::Accepted);
        }
        assert_eq!(jb.push(ms(1), 5, &pkt(5)), Pushed::Overflow);
        assert_eq!(
            drain(&mut jb, 1),
            (2..6).map(|n| Pulled::Packet(pkt(n))).collect::<Vec<_>>()
        );
        assert_eq!(jb.push(ms(2), 1, &pkt(1)), Pushed::Late);
    }
}
