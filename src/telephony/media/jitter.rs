//! A small jitter buffer for incoming RTP, IO-free and fed packet by packet: packets are put
//! back in order, late and duplicate ones are dropped, and playing starts once `depth` packets
//! (40–60 ms) are held. Each 20 ms tick takes the next packet, reports a missing one (so the
//! listener can fill the gap), or says the buffer ran dry and refills first.

use std::collections::BTreeMap;

/// What the buffer did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Accepted,
    /// Its turn has passed already.
    Late,
    Duplicate,
    /// The buffer was full: the oldest packet went to make room.
    Overflow,
}

/// What one tick gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pulled {
    Packet(Vec<u8>),
    /// The packet of this tick never came (later ones did).
    Missing,
    /// Nothing to play: filling up to the depth first.
    Buffering,
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

/// The jitter buffer of one incoming stream.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    depth: usize,
    capacity: usize,
    seq: SeqExtender,
    slots: BTreeMap<u64, Vec<u8>>,
    /// The sequence number the next tick plays; `None` while buffering.
    next: Option<u64>,
    /// The last sequence number played or skipped (anything at or before it is late).
    played: Option<u64>,
}

impl JitterBuffer {
    /// Plays once `depth` packets are held (2–3 for 40–60 ms); holds at most `capacity`.
    pub fn new(depth: usize, capacity: usize) -> Self {
        let depth = depth.max(1);
        Self {
            depth,
            capacity: capacity.max(depth),
            seq: SeqExtender::default(),
            slots: BTreeMap::new(),
            next: None,
            played: None,
        }
    }

    /// How many packets are held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Takes a packet as it arrived.
    pub fn push(&mut self, sequence: u16, payload: &[u8]) -> Pushed {
        let seq = self.seq.extend(sequence);
        if self.played.is_some_and(|p| seq <= p) {
            return Pushed::Late;
        }
        if self.slots.contains_key(&seq) {
            return Pushed::Duplicate;
        }
        self.slots.insert(seq, payload.to_vec());
        if self.slots.len() > self.capacity {
            if let Some((&oldest, _)) = self.slots.iter().next() {
                self.slots.remove(&oldest);
                self.played = Some(oldest);
                if self.next.is_some_and(|n| n <= oldest) {
                    self.next = Some(oldest + 1);
                }
            }
            return Pushed::Overflow;
        }
        Pushed::Accepted
    }

    /// One 20 ms tick.
    pub fn pop(&mut self) -> Pulled {
        let next = match self.next {
            Some(n) => n,
            None => {
                if self.slots.len() < self.depth {
                    return Pulled::Buffering;
                }
                match self.slots.keys().next() {
                    Some(&first) => first,
                    None => return Pulled::Buffering,
                }
            }
        };
        if self.slots.is_empty() {
            // Ran dry: refill to the depth before playing again.
            self.next = None;
            return Pulled::Buffering;
        }
        self.played = Some(next);
        self.next = Some(next + 1);
        match self.slots.remove(&next) {
            Some(p) => Pulled::Packet(p),
            None => Pulled::Missing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(n: u8) -> Vec<u8> {
        vec![n]
    }

    #[test]
    fn reorders_within_the_depth_and_plays_in_order() {
        let mut jb = JitterBuffer::new(3, 10);
        assert_eq!(jb.pop(), Pulled::Buffering);
        assert_eq!(jb.push(11, &pkt(11)), Pushed::Accepted);
        assert_eq!(jb.push(10, &pkt(10)), Pushed::Accepted);
        assert_eq!(jb.pop(), Pulled::Buffering, "two of three held");
        assert_eq!(jb.push(12, &pkt(12)), Pushed::Accepted);
        assert_eq!(jb.pop(), Pulled::Packet(pkt(10)));
        assert_eq!(jb.push(14, &pkt(14)), Pushed::Accepted);
        assert_eq!(jb.push(13, &pkt(13)), Pushed::Accepted);
        for n in 11..=14 {
            assert_eq!(jb.pop(), Pulled::Packet(pkt(n)));
        }
        assert_eq!(jb.pop(), Pulled::Buffering, "ran dry");
    }

    #[test]
    fn a_lost_packet_is_reported_and_a_late_one_dropped() {
        let mut jb = JitterBuffer::new(2, 10);
        jb.push(1, &pkt(1));
        jb.push(3, &pkt(3));
        assert_eq!(jb.pop(), Pulled::Packet(pkt(1)));
        assert_eq!(jb.pop(), Pulled::Missing);
        assert_eq!(jb.push(2, &pkt(2)), Pushed::Late);
        assert_eq!(jb.push(3, &pkt(3)), Pushed::Duplicate);
        assert_eq!(jb.pop(), Pulled::Packet(pkt(3)));
    }

    #[test]
    fn sequence_numbers_wrap_around() {
        let mut jb = JitterBuffer::new(2, 10);
        jb.push(65_535, &pkt(1));
        jb.push(0, &pkt(2));
        jb.push(1, &pkt(3));
        assert_eq!(jb.pop(), Pulled::Packet(pkt(1)));
        assert_eq!(jb.pop(), Pulled::Packet(pkt(2)));
        assert_eq!(jb.pop(), Pulled::Packet(pkt(3)));
        assert_eq!(jb.push(65_535, &pkt(9)), Pushed::Late);
    }

    #[test]
    fn a_full_buffer_drops_its_oldest_packet() {
        let mut jb = JitterBuffer::new(2, 3);
        for n in 0..3 {
            assert_eq!(jb.push(n, &pkt(n as u8)), Pushed::Accepted);
        }
        assert_eq!(jb.push(3, &pkt(3)), Pushed::Overflow);
        assert_eq!(jb.len(), 3);
        assert_eq!(jb.pop(), Pulled::Packet(pkt(1)));
        assert_eq!(jb.push(0, &pkt(0)), Pushed::Late);
    }
}
