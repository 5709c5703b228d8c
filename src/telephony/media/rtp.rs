//! RTP packets (RFC 3550) as a trunk sends them: read from any datagram without panicking, and
//! written with one SSRC, sequence numbers and timestamps that run on, and a marker bit at the
//! start of each talkspurt.

/// A read RTP packet; `payload` borrows the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    pub marker: bool,
    pub payload_type: u8,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: &'a [u8],
}

/// Why a datagram is not an RTP packet we take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    #[error("shorter than an RTP header ({0} bytes)")]
    TooShort(usize),
    #[error("RTP version {0}, not 2")]
    Version(u8),
    #[error("the header's lists or padding run past the datagram")]
    Truncated,
}

const HEADER: usize = 12;

impl<'a> RtpPacket<'a> {
    /// Reads a datagram. CSRC lists, a header extension and padding are skipped; anything that
    /// would read past the end is refused.
    pub fn parse(data: &'a [u8]) -> Result<Self, RtpError> {
        if data.len() < HEADER {
            return Err(RtpError::TooShort(data.len()));
        }
        let version = data[0] >> 6;
        if version != 2 {
            return Err(RtpError::Version(version));
        }
        let padding = data[0] & 0x20 != 0;
        let extension = data[0] & 0x10 != 0;
        let csrcs = usize::from(data[0] & 0x0f);
        let mut start = HEADER + 4 * csrcs;
        if extension {
            let ext = data.get(start..start + 4).ok_or(RtpError::Truncated)?;
            let words = usize::from(u16::from_be_bytes([ext[2], ext[3]]));
            start += 4 + 4 * words;
        }
        let mut end = data.len();
        if padding {
            let pad = usize::from(*data.last().ok_or(RtpError::Truncated)?);
            if pad == 0 {
                return Err(RtpError::Truncated);
            }
            end = end.checked_sub(pad).ok_or(RtpError::Truncated)?;
        }
        if start > end {
            return Err(RtpError::Truncated);
        }
        Ok(Self {
            marker: data[1] & 0x80 != 0,
            payload_type: data[1] & 0x7f,
            sequence: u16::from_be_bytes([data[2], data[3]]),
            timestamp: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
            ssrc: u32::from_be_bytes([data[8], data[9], data[10], data[11]]),
            payload: &data[start..end],
        })
    }
}

/// Writes the packets of one outgoing stream.
#[derive(Debug, Clone)]
pub struct RtpWriter {
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    /// The next packet starts a talkspurt (marker bit).
    talkspurt: bool,
}

impl RtpWriter {
    /// A stream with this SSRC, starting at these (random, per RFC 3550) sequence and timestamp.
    pub fn new(ssrc: u32, first_sequence: u16, first_timestamp: u32) -> Self {
        Self {
            ssrc,
            sequence: first_sequence,
            timestamp: first_timestamp,
            talkspurt: true,
        }
    }

    /// A stream with random SSRC, sequence and timestamp.
    pub fn random() -> Self {
        Self::new(rand::random(), rand::random(), rand::random())
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The timestamp the next packet carries.
    pub fn timestamp(&self) -> u32 {
        self.timestamp
    }

    /// The next packet will carry the marker bit (speech starts again after silence).
    pub fn start_talkspurt(&mut self) {
        self.talkspurt = true;
    }

    /// A packet of `payload` covering `samples` clock ticks; sequence and timestamp move on.
    pub fn packet(&mut self, payload_type: u8, payload: &[u8], samples: u32) -> Vec<u8> {
        let marker = std::mem::take(&mut self.talkspurt);
        let out = self.packet_at(payload_type, marker, self.timestamp, payload);
        self.timestamp = self.timestamp.wrapping_add(samples);
        out
    }

    /// A packet at a given timestamp without moving the clock (RFC 4733 events keep the
    /// timestamp of their start). The sequence number still moves on.
    pub fn packet_at(
        &mut self,
        payload_type: u8,
        marker: bool,
        timestamp: u32,
        payload: &[u8],
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + payload.len());
        out.push(0x80);
        out.push((u8::from(marker) << 7) | (payload_type & 0x7f));
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(payload);
        self.sequence = self.sequence.wrapping_add(1);
        out
    }

    /// Moves the clock on by `samples` without sending (a skipped frame keeps timestamps true).
    pub fn skip(&mut self, samples: u32) {
        self.timestamp = self.timestamp.wrapping_add(samples);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_packets_read_back_with_running_numbers_and_one_marker() {
        let mut w = RtpWriter::new(0xdead_beef, 65_535, u32::MAX - 100);
        let a = w.packet(8, &[1, 2, 3], 160);
        let b = w.packet(8, &[4, 5], 160);
        let pa = RtpPacket::parse(&a).unwrap();
        let pb = RtpPacket::parse(&b).unwrap();
        assert_eq!(
            (
                pa.marker,
                pa.payload_type,
                pa.sequence,
                pa.timestamp,
                pa.ssrc
            ),
            (true, 8, 65_535, u32::MAX - 100, 0xdead_beef)
        );
        assert_eq!(pa.payload, &[1, 2, 3]);
        // Sequence and timestamp wrap around; only the first packet of a talkspurt is marked.
        assert_eq!((pb.marker, pb.sequence, pb.timestamp), (false, 0, 59));
        w.start_talkspurt();
        assert!(RtpPacket::parse(&w.packet(8, &[], 160)).unwrap().marker);
    }

    #[test]
    fn csrcs_extension_and_padding_are_skipped() {
        let mut d = vec![0x80 | 0x20 | 0x10 | 0x01, 0, 0, 7, 0, 0, 0, 9, 0, 0, 0, 1];
        d.extend_from_slice(&[0xaa; 4]); // one CSRC
        d.extend_from_slice(&[0xbe, 0xde, 0, 1, 1, 2, 3, 4]); // extension of one word
        d.extend_from_slice(&[10, 20, 30]); // payload
        d.extend_from_slice(&[0, 0, 3]); // three bytes of padding
        let p = RtpPacket::parse(&d).unwrap();
        assert_eq!(
            (p.sequence, p.timestamp, p.payload),
            (7, 9, &[10u8, 20, 30][..])
        );
    }

    #[test]
    fn hostile_datagrams_are_refused_not_panicked_on() {
        assert_eq!(RtpPacket::parse(&[0x80; 5]), Err(RtpError::TooShort(5)));
        assert_eq!(RtpPacket::parse(&[0x40; 12]), Err(RtpError::Version(1)));
        // 15 CSRCs announced in a bare header.
        assert_eq!(RtpPacket::parse(&[0x8f; 12]), Err(RtpError::Truncated));
        // Padding longer than the packet.
        let mut d = vec![0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        d.push(200);
        assert_eq!(RtpPacket::parse(&d), Err(RtpError::Truncated));
        // An extension that claims 65535 words.
        let d = [0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];
        assert_eq!(RtpPacket::parse(&d), Err(RtpError::Truncated));
        // Every prefix of a valid packet and every single-byte corruption is handled.
        let good = RtpWriter::new(1, 2, 3).packet(0, &[9; 160], 160);
        for n in 0..good.len() {
            let _ = RtpPacket::parse(&good[..n]);
            for v in [0u8, 0x7f, 0xff] {
                let mut bad = good.clone();
                bad[n] = v;
                let _ = RtpPacket::parse(&bad);
            }
        }
    }
}
