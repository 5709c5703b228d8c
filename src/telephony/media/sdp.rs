//! The SDP of a G.711 call (RFC 4566 / 3264), IO-free: our offer (PCMA, PCMU, telephone-event
//! 101, ptime 20) and reading the callee's answer (where to send, which codec, which DTMF
//! payload type). An answer without a codec we offered is refused.

use std::net::{IpAddr, SocketAddr};

/// A G.711 codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// A-law, payload type 8 (what Russian trunks prefer).
    Pcma,
    /// µ-law, payload type 0.
    Pcmu,
}

impl Codec {
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcma => 8,
            Codec::Pcmu => 0,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Codec::Pcma => "PCMA",
            Codec::Pcmu => "PCMU",
        }
    }

    /// Encodes linear samples.
    pub fn encode(self, samples: &[i16]) -> Vec<u8> {
        match self {
            Codec::Pcma => samples
                .iter()
                .map(|&s| super::g711::alaw_encode(s))
                .collect(),
            Codec::Pcmu => samples
                .iter()
                .map(|&s| super::g711::ulaw_encode(s))
                .collect(),
        }
    }

    /// Decodes to linear samples.
    pub fn decode(self, bytes: &[u8]) -> Vec<i16> {
        match self {
            Codec::Pcma => bytes.iter().map(|&b| super::g711::alaw_decode(b)).collect(),
            Codec::Pcmu => bytes.iter().map(|&b| super::g711::ulaw_decode(b)).collect(),
        }
    }
}

/// The telephone-event payload type we offer.
pub const DTMF_PAYLOAD_TYPE: u8 = 101;

/// Our offer for one audio stream at `addr` (the address the callee sends RTP to).
pub fn offer(addr: SocketAddr, session_id: u64) -> String {
    let ip = addr.ip();
    let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
    format!(
        "v=0\r\n\
         o=callops {session_id} {session_id} IN {family} {ip}\r\n\
         s=callops\r\n\
         c=IN {family} {ip}\r\n\
         t=0 0\r\n\
         m=audio {port} RTP/AVP 8 0 {dtmf}\r\n\
         a=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:{dtmf} telephone-event/8000\r\n\
         a=fmtp:{dtmf} 0-16\r\n\
         a=ptime:20\r\n\
         a=sendrecv\r\n",
        port = addr.port(),
        dtmf = DTMF_PAYLOAD_TYPE,
    )
}

/// What the callee's answer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Where to send our RTP (until their packets show another address).
    pub remote: SocketAddr,
    pub codec: Codec,
    /// Their telephone-event payload type, when they take DTMF.
    pub dtmf: Option<u8>,
    pub ptime_ms: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("the SDP has no audio stream")]
    NoAudio,
    #[error("the SDP has no connection address")]
    NoAddress,
    #[error("the audio stream is refused (port 0)")]
    Refused,
    #[error("no codec in common (we offer PCMA and PCMU; they answered {0})")]
    NoCommonCodec(String),
}

/// Reads an answer (or an offer from the far end). Lines it does not know are skipped.
pub fn parse_answer(sdp: &str) -> Result<Answer, SdpError> {
    let mut session_ip: Option<IpAddr> = None;
    let mut media_ip: Option<IpAddr> = None;
    let mut port: Option<u16> = None;
    let mut formats: Vec<u8> = Vec::new();
    let mut rtpmap: Vec<(u8, String)> = Vec::new();
    let mut ptime = 20;
    let mut in_audio = false;
    let mut seen_audio = false;
    for line in sdp.lines().map(str::trim) {
        let Some((kind, value)) = line.split_once('=') else {
            continue;
        };
        match kind {
            "m" => {
                in_audio = false;
                let mut parts = value.split_whitespace();
                if parts.next() == Some("audio") && !seen_audio {
                    in_audio = true;
                    seen_audio = true;
                    port = parts.next().and_then(|p| p.split('/').next()?.parse().ok());
                    let _proto = parts.next();
                    formats = parts.filter_map(|f| f.parse().ok()).collect();
                }
            }
            "c" => {
                let ip = value
                    .split_whitespace()
                    .nth(2)
                    .and_then(|a| a.split('/').next()?.parse().ok());
                if in_audio {
                    media_ip = ip.or(media_ip);
                } else if !seen_audio {
                    session_ip = ip.or(session_ip);
                }
            }
            "a" if in_audio => {
                if let Some(map) = value.strip_prefix("rtpmap:") {
                    let mut p = map.split_whitespace();
                    if let (Some(pt), Some(enc)) = (p.next().and_then(|x| x.parse().ok()), p.next())
                    {
                        rtpmap.push((pt, enc.to_ascii_lowercase()));
                    }
                } else if let Some(p) = value.strip_prefix("ptime:") {
                    ptime = p.trim().parse().unwrap_or(20);
                }
            }
            _ => {}
        }
    }
    if !seen_audio {
        return Err(SdpError::NoAudio);
    }
    let port = port.ok_or(SdpError::NoAudio)?;
    if port == 0 {
        return Err(SdpError::Refused);
    }
    let ip = media_ip.or(session_ip).ok_or(SdpError::NoAddress)?;
    let encoding = |pt: u8| -> Option<String> {
        rtpmap
            .iter()
            .find(|(p, _)| *p == pt)
            .map(|(_, e)| e.clone())
            .or_else(|| match pt {
                0 => Some("pcmu/8000".into()),
                8 => Some("pcma/8000".into()),
                _ => None,
            })
    };
    let codec = formats.iter().find_map(|&pt| {
        let enc = encoding(pt)?;
        [Codec::Pcma, Codec::Pcmu]
            .into_iter()
            .find(|c| enc == format!("{}/8000", c.name().to_ascii_lowercase()))
    });
    let Some(codec) = codec else {
        let names: Vec<String> = formats
            .iter()
            .map(|&pt| encoding(pt).unwrap_or_else(|| pt.to_string()))
            .collect();
        return Err(SdpError::NoCommonCodec(names.join(", ")));
    };
    let dtmf = formats
        .iter()
        .copied()
        .find(|&pt| encoding(pt).is_some_and(|e| e.starts_with("telephone-event/8000")));
    Ok(Answer {
        remote: SocketAddr::new(ip, port),
        codec,
        dtmf,
        ptime_ms: ptime,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_offer_reads_back_as_pcma_with_dtmf() {
        let addr: SocketAddr = "203.0.113.5:20002".parse().unwrap();
        let sdp = offer(addr, 42);
        assert!(sdp.contains("m=audio 20002 RTP/AVP 8 0 101\r\n"), "{sdp}");
        assert!(sdp.contains("a=ptime:20"));
        let a = parse_answer(&sdp).unwrap();
        assert_eq!(
            a,
            Answer {
                remote: addr,
                codec: Codec::Pcma,
                dtmf: Some(101),
                ptime_ms: 20
            }
        );
    }

    #[test]
    fn a_trunk_answer_in_their_order_with_media_level_address() {
        // As a Russian trunk answers: µ-law first, its own DTMF type, LF line ends.
        let sdp = "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\n\
                   m=audio 31000 RTP/AVP 0 96\nc=IN IP4 185.45.152.10\n\
                   a=rtpmap:96 telephone-event/8000\na=fmtp:96 0-15\na=sendrecv\n";
        let a = parse_answer(sdp).unwrap();
        assert_eq!(a.remote, "185.45.152.10:31000".parse().unwrap());
        assert_eq!((a.codec, a.dtmf), (Codec::Pcmu, Some(96)));
    }

    #[test]
    fn answers_we_cannot_use_are_refused_with_a_reason() {
        let g729 =
            "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n";
        assert_eq!(
            parse_answer(g729),
            Err(SdpError::NoCommonCodec("g729/8000".into()))
        );
        assert_eq!(
            parse_answer("v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 0 RTP/AVP 8\r\n"),
            Err(SdpError::Refused)
        );
        assert_eq!(
            parse_answer("v=0\r\nm=audio 4000 RTP/AVP 8\r\n"),
            Err(SdpError::NoAddress)
        );
        assert_eq!(
            parse_answer("v=0\r\nm=video 4000 RTP/AVP 96\r\n"),
            Err(SdpError::NoAudio)
        );
        assert_eq!(parse_answer("garbage\0\u{fffd}"), Err(SdpError::NoAudio));
    }

    #[test]
    fn g711_round_trips_through_the_chosen_codec() {
        let samples: Vec<i16> = (0..160)
            .map(|i| ((i * 397) % 20000 - 10000) as i16)
            .collect();
        for codec in [Codec::Pcma, Codec::Pcmu] {
            let back = codec.decode(&codec.encode(&samples));
            let worst = samples
                .iter()
                .zip(&back)
                .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
                .max()
                .unwrap();
            assert!(worst < 700, "{codec:?}: {worst}");
        }
    }
}
