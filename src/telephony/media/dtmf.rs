//! RFC 4733 telephone events (DTMF over RTP), IO-free: reading an event payload, telling each
//! key press once however many packets repeat it, and the payloads that send one press.

/// A telephone-event payload (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// 0–9, 10 = `*`, 11 = `#`, 12–15 = A–D.
    pub event: u8,
    pub end: bool,
    pub volume: u8,
    /// In clock ticks since the event's timestamp.
    pub duration: u16,
}

impl TelephoneEvent {
    pub fn parse(payload: &[u8]) -> Option<Self> {
        let b = payload.get(..4)?;
        Some(Self {
            event: b[0],
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3f,
            duration: u16::from_be_bytes([b[2], b[3]]),
        })
    }

    pub fn to_bytes(self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            (u8::from(self.end) << 7) | (self.volume & 0x3f),
            d[0],
            d[1],
        ]
    }

    /// The key, when the event is a DTMF key.
    pub fn key(self) -> Option<char> {
        Some(match self.event {
            0..=9 => char::from(b'0' + self.event),
            10 => '*',
            11 => '#',
            12..=15 => char::from(b'A' + self.event - 12),
            _ => return None,
        })
    }

    /// The event of a key (`0-9 * # A-D`).
    pub fn code(key: char) -> Option<u8> {
        Some(match key.to_ascii_uppercase() {
            c @ '0'..='9' => c as u8 - b'0',
            '*' => 10,
            '#' => 11,
            c @ 'A'..='D' => c as u8 - b'A' + 12,
            _ => return None,
        })
    }
}

/// Tells each key press once: RFC 4733 repeats an event in every packet while the key is held
/// and sends its end three times, all with the timestamp of the press.
#[derive(Debug, Clone, Default)]
pub struct DtmfReceiver {
    last: Option<u32>,
}

impl DtmfReceiver {
    /// The key pressed, the first time a packet of a new press arrives.
    pub fn push(&mut self, timestamp: u32, payload: &[u8]) -> Option<char> {
        let ev = TelephoneEvent::parse(payload)?;
        if self.last == Some(timestamp) {
            return None;
        }
        self.last = Some(timestamp);
        ev.key()
    }
}

/// The payloads that send one key press of `duration_ms` at 8 kHz, one per 20 ms: the press,
/// its updates, then the end three times (RFC 4733 §2.5.1.4). All go at the press's
/// timestamp; only the first carries the marker bit.
pub fn key_press(key: char, duration_ms: u32) -> Option<Vec<[u8; 4]>> {
    let event = TelephoneEvent::code(key)?;
    let step = 160u32;
    let total = (duration_ms.max(40) * 8).min(u32::from(u16::MAX));
    let mut out = Vec::new();
    let mut d = step;
    while d < total {
        out.push(
            TelephoneEvent {
                event,
                end: false,
                volume: 10,
                duration: d as u16,
            }
            .to_bytes(),
        );
        d += step;
    }
    let end = TelephoneEvent {
        event,
        end: true,
        volume: 10,
        duration: total as u16,
    }
    .to_bytes();
    out.extend([end, end, end]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_codes_round_trip() {
        for key in "0123456789*#ABCD".chars() {
            let code = TelephoneEvent::code(key).unwrap();
            let ev = TelephoneEvent {
                event: code,
                end: false,
                volume: 10,
                duration: 0,
            };
            assert_eq!(ev.key(), Some(key));
        }
        assert_eq!(TelephoneEvent::code('x'), None);
        assert_eq!(
            TelephoneEvent {
                event: 16,
                end: false,
                volume: 0,
                duration: 0
            }
            .key(),
            None
        );
    }

    #[test]
    fn a_press_is_sent_as_updates_then_three_ends_and_read_once() {
        let packets = key_press('5', 100).unwrap();
        // 100 ms = 800 ticks: updates at 160..640, then three ends at 800.
        assert_eq!(packets.len(), 4 + 3);
        let first = TelephoneEvent::parse(&packets[0]).unwrap();
        assert_eq!((first.event, first.end, first.duration), (5, false, 160));
        let last = TelephoneEvent::parse(&packets[6]).unwrap();
        assert_eq!((last.end, last.duration), (true, 800));
        let mut rx = DtmfReceiver::default();
        let keys: Vec<char> = packets.iter().filter_map(|p| rx.push(4000, p)).collect();
        assert_eq!(keys, ['5']);
        // The next press has a new timestamp.
        assert_eq!(rx.push(9000, &key_press('#', 60).unwrap()[0]), Some('#'));
        assert_eq!(rx.push(9000, &[1, 2]), None, "a short payload is ignored");
    }
}
