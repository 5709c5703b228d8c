//! G.711 A-law and µ-law (ITU-T G.711), the codecs of every SIP trunk.

const BIAS: i32 = 0x84;
const CLIP: i32 = 32635;

/// Encodes one linear sample to µ-law.
pub fn ulaw_encode(sample: i16) -> u8 {
    let mut s = i32::from(sample);
    let sign = if s < 0 { 0x80 } else { 0 };
    if s < 0 {
        s = -s;
    }
    s = s.min(CLIP) + BIAS;
    let v = (s >> 7) as u32;
    let exponent = if v == 0 {
        0
    } else {
        31 - v.leading_zeros() as i32
    };
    let mantissa = (s >> (exponent + 3)) & 0x0F;
    !((sign | (exponent << 4) | mantissa) as u8)
}

/// Decodes one µ-law byte.
pub fn ulaw_decode(byte: u8) -> i16 {
    let u = !byte;
    let sign = u & 0x80;
    let exponent = i32::from((u >> 4) & 0x07);
    let mantissa = i32::from(u & 0x0F);
    let magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
    if sign != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// Encodes one linear sample to A-law.
pub fn alaw_encode(sample: i16) -> u8 {
    let mut v = i32::from(sample) >> 3;
    let mask = if v >= 0 { 0xD5u8 } else { 0x55u8 };
    if v < 0 {
        v = -v - 1;
    }
    const SEG_END: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];
    let Some(seg) = SEG_END.iter().position(|&end| v <= end) else {
        return 0x7F ^ mask;
    };
    let seg = seg as i32;
    let mantissa = if seg < 2 {
        (v >> 1) & 0x0F
    } else {
        (v >> seg) & 0x0F
    };
    (((seg << 4) | mantissa) as u8) ^ mask
}

/// Decodes one A-law byte.
pub fn alaw_decode(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let sign = a & 0x80;
    let exponent = i32::from((a >> 4) & 0x07);
    let mantissa = i32::from(a & 0x0F);
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    if sign != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

/// The two G.711 laws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Law {
    /// PCMA, payload type 8 (Europe, Russia).
    A,
    /// PCMU, payload type 0.
    Mu,
}

impl Law {
    pub fn encode(self, samples: &[i16]) -> Vec<u8> {
        match self {
            Law::A => samples.iter().map(|&s| alaw_encode(s)).collect(),
            Law::Mu => samples.iter().map(|&s| ulaw_encode(s)).collect(),
        }
    }

    pub fn decode(self, bytes: &[u8]) -> Vec<i16> {
        match self {
            Law::A => bytes.iter().map(|&b| alaw_decode(b)).collect(),
            Law::Mu => bytes.iter().map(|&b| ulaw_decode(b)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_values() {
        // Silence codes from the standard tables.
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(alaw_decode(0xD5), 8);
        // Full scale.
        assert_eq!(ulaw_encode(32767), 0x80);
        assert_eq!(ulaw_encode(-32768), 0x00);
        assert_eq!(alaw_encode(32767), 0xAA);
        assert_eq!(alaw_encode(-32768), 0x2A);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(alaw_decode(0xAA), 32256);
    }

    #[test]
    fn round_trip_error_is_within_a_quantisation_step() {
        for law in [Law::A, Law::Mu] {
            for s in (-32768i32..=32767).step_by(7) {
                let s = s as i16;
                let back = law.decode(&law.encode(&[s]))[0];
                let err = (i32::from(back) - i32::from(s)).abs();
                // Step size grows with magnitude: at most 1/16 of the value plus the smallest step.
                let limit = i32::from(s).abs() / 16 + 40;
                assert!(err <= limit, "{law:?} {s} -> {back}");
            }
        }
    }

    #[test]
    fn every_code_decodes_and_re_encodes_to_itself() {
        for b in 0..=255u8 {
            assert_eq!(alaw_encode(alaw_decode(b)), b, "A-law {b:#x}");
            let u = ulaw_encode(ulaw_decode(b));
            // 0x7F and 0xFF are both zero in µ-law.
            if b != 0x7F {
                assert_eq!(u, b, "µ-law {b:#x}");
            }
        }
    }
}
