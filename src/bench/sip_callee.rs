//! The callee of `callops bench call`: a small SIP user agent server over UDP on loopback that
//! answers every INVITE with PCMA, talks like a person (the simulated line's clips, each after the
//! agent has finished its turn), hangs up with a BYE, and measures what it hears: when the agent's
//! audio starts after each of its utterances, how evenly the agent's RTP packets arrive, and how
//! many are late or missing. It speaks just enough SIP for this (no retransmission, no auth):
//! a measuring instrument, not a product part.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::Instant;

use crate::telephony::media::rtp::{RtpPacket, RtpWriter};
use crate::telephony::media::rtp_session::RtpPorts;
use crate::telephony::media::sdp::Codec;
use crate::telephony::simulated::Clip;

/// What one call measured.
#[derive(Debug, Clone, Default)]
pub struct CallFigures {
    /// End of each of the callee's utterances (after the first) → first audible agent packet, ms.
    pub voice_to_voice_ms: Vec<f64>,
    /// |inter-arrival − 20 ms| of the agent's packets, ms.
    pub arrival_jitter_ms: Vec<f64>,
    /// Agent packets expected from the first one's sequence number to the last's.
    pub expected: u64,
    /// Of those: never arrived.
    pub missing: u64,
    /// Of those: arrived more than [`LATE_MS`] after their slot on the sender's clock.
    pub late: u64,
    pub answered: bool,
}

/// A packet this much behind the sender's 20 ms clock would overrun a 40–60 ms jitter buffer.
pub const LATE_MS: f64 = 40.0;
/// The agent's turn is over after this much silence from it.
const AGENT_DONE: Duration = Duration::from_millis(700);
/// A packet this loud (RMS) is the agent speaking (its silence is A-law's quietest step).
const AUDIBLE_RMS: f32 = 300.0;

/// The header value of `name` in a SIP message (case-insensitive, compact forms for the few used).
fn header<'a>(msg: &'a str, name: &str, compact: &str) -> Option<&'a str> {
    msg.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        let n = n.trim();
        (n.eq_ignore_ascii_case(name) || n.eq_ignore_ascii_case(compact)).then(|| v.trim())
    })
}

fn sdp_media(body: &str) -> Option<SocketAddr> {
    let ip = body
        .lines()
        .find_map(|l| l.strip_prefix("c=IN IP4 "))?
        .trim();
    let port = body
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))?
        .split_whitespace()
        .next()?;
    format!("{ip}:{port}").parse().ok()
}

/// A dialog the callee is in.
struct Dialog {
    /// Where the caller's SIP is.
    peer: SocketAddr,
    bye: String,
    hangup: tokio_util::sync::CancellationToken,
}

/// The running callee.
pub struct SipCallee {
    pub addr: SocketAddr,
    socket: Arc<UdpSocket>,
    ports: Arc<RtpPorts>,
    script: Arc<Vec<Clip>>,
    dialogs: Arc<Mutex<HashMap<String, Dialog>>>,
    figures: Arc<Mutex<Vec<CallFigures>>>,
}

impl SipCallee {
    /// Listens on a free loopback port; each call says `script`'s clips in turn.
    pub async fn start(ports: RtpPorts, script: Vec<Clip>) -> std::io::Result<Arc<Self>> {
        let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
        let callee = Arc::new(Self {
            addr: socket.local_addr()?,
            socket,
            ports: Arc::new(ports),
            script: Arc::new(script),
            dialogs: Arc::default(),
            figures: Arc::default(),
        });
        tokio::spawn(callee.clone().serve());
        Ok(callee)
    }

    /// The figures of every call that ended.
    pub fn figures(&self) -> Vec<CallFigures> {
        self.figures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    async fn serve(self: Arc<Self>) {
        let mut buf = vec![0u8; 65_536];
        loop {
            let Ok((n, from)) = self.socket.recv_from(&mut buf).await else {
                continue;
            };
            let msg = String::from_utf8_lossy(&buf[..n]).to_string();
            let method = msg.split_whitespace().next().unwrap_or("").to_string();
            match method.as_str() {
                "INVITE" => self.clone().on_invite(&msg, from).await,
                "BYE" => {
                    if let Some(id) = header(&msg, "Call-ID", "i") {
                        if let Some(d) = self
                            .dialogs
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(id)
                        {
                            d.hangup.cancel();
                        }
                    }
                    self.reply(&msg, from, "200 OK", "", "").await;
                }
                "ACK" | "SIP/2.0" => {}
                _ => self.reply(&msg, from, "200 OK", "", "").await,
            }
        }
    }

    async fn reply(&self, req: &str, to: SocketAddr, status: &str, extra: &str, body: &str) {
        let mut out = format!("SIP/2.0 {status}\r\n");
        for (name, compact) in [
            ("Via", "v"),
            ("From", "f"),
            ("To", "t"),
            ("Call-ID", "i"),
            ("CSeq", ""),
        ] {
            if let Some(v) = header(req, name, compact) {
                out.push_str(&format!("{name}: {v}"));
                if name == "To" && !v.contains("tag=") {
                    out.push_str(";tag=callee");
                }
                out.push_str("\r\n");
            }
        }
        out.push_str(extra);
        out.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        let _ = self.socket.send_to(out.as_bytes(), to).await;
    }

    async fn on_invite(self: Arc<Self>, msg: &str, from: SocketAddr) {
        let (Some(call_id), Some(remote)) = (
            header(msg, "Call-ID", "i").map(str::to_string),
            msg.split_once("\r\n\r\n").and_then(|(_, b)| sdp_media(b)),
        ) else {
            self.reply(msg, from, "400 Bad Request", "", "").await;
            return;
        };
        if self
            .dialogs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&call_id)
        {
            return; // a retransmission
        }
        let Ok(rtp) = self.ports.bind(std::net::Ipv4Addr::LOCALHOST.into()).await else {
            self.reply(msg, from, "503 Service Unavailable", "", "")
                .await;
            return;
        };
        let Ok(local) = rtp.local_addr() else { return };
        let sdp = format!(
            "v=0\r\no=callee 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {} RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
             a=fmtp:101 0-15\r\na=ptime:20\r\n",
            local.port()
        );
        let contact = format!(
            "Contact: <sip:callee@{}>\r\nContent-Type: application/sdp\r\n",
            self.addr
        );
        self.reply(msg, from, "200 OK", &contact, &sdp).await;
        let target = header(msg, "Contact", "m")
            .and_then(|c| c.split('<').nth(1))
            .and_then(|c| c.split('>').next())
            .unwrap_or("sip:agent@127.0.0.1")
            .to_string();
        let bye = format!(
            "BYE {target} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bK{}\r\nFrom: {};tag=callee\r\nTo: {}\r\n\
             Call-ID: {call_id}\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            self.addr,
            uuid::Uuid::new_v4().simple(),
            header(msg, "To", "t").unwrap_or(""),
            header(msg, "From", "f").unwrap_or(""),
        );
        let hangup = tokio_util::sync::CancellationToken::new();
        self.dialogs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                call_id.clone(),
                Dialog {
                    peer: from,
                    bye,
                    hangup: hangup.clone(),
                },
            );
        let me = self.clone();
        tokio::spawn(async move {
            let figures = talk(rtp, remote, &me.script, hangup).await;
            me.figures
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(figures);
            let ended = me
                .dialogs
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&call_id);
            if let Some(d) = ended {
                let _ = me.socket.send_to(d.bye.as_bytes(), d.peer).await;
            }
        });
    }
}

/// The callee's side of the media: says each clip once the agent finished its turn (the first
/// one right away), measures the agent's packets, and returns when done or hung up.
async fn talk(
    socket: UdpSocket,
    remote: SocketAddr,
    script: &[Clip],
    hangup: tokio_util::sync::CancellationToken,
) -> CallFigures {
    let mut fig = CallFigures {
        answered: true,
        ..Default::default()
    };
    let mut writer = RtpWriter::random();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut buf = [0u8; 2048];
    let silence = Codec::Pcma.encode(&[0i16; 160]);
    let (mut next_clip, mut pos) = (0usize, None::<usize>);
    let mut said_end: Option<Instant> = None;
    let mut measuring = false;
    let mut agent_last_voice: Option<Instant> = None;
    let mut agent_spoke_since_said = false;
    let (mut first_seq, mut last_seq, mut received) = (None::<u16>, 0u16, 0u64);
    let mut clock: Option<(Instant, u16)> = None;
    let mut min_offset = f64::MAX;
    let mut prev_arrival: Option<Instant> = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    let start = Instant::now();
    loop {
        tokio::select! {
            _ = hangup.cancelled() => break,
            _ = tokio::time::sleep_until(deadline) => break,
            _ = tick.tick() => {
                let payload = match pos {
                    Some(p) => {
                        let clip = &script[next_clip];
                        let end = (p + 160).min(clip.samples.len());
                        let out = Codec::Pcma.encode(&clip.samples[p..end]);
                        if end >= clip.samples.len() {
                            pos = None;
                            next_clip += 1;
                            said_end = Some(Instant::now());
                            measuring = next_clip > 1;
                            agent_spoke_since_said = false;
                        } else {
                            pos = Some(end);
                        }
                        out
                    }
                    None => {
                        // The callee's turn: at the start, or once the agent has been quiet a while.
                        let agent_done = agent_spoke_since_said
                            && agent_last_voice.is_some_and(|t| t.elapsed() >= AGENT_DONE);
                        let opening = next_clip == 0 && start.elapsed() >= Duration::from_millis(300);
                        if next_clip < script.len() && (opening || agent_done) {
                            pos = Some(0);
                            writer.start_talkspurt();
                        } else if next_clip >= script.len() && agent_done {
                            break;
                        }
                        silence.clone()
                    }
                };
                let _ = socket.send_to(&writer.packet(8, &payload, 160), remote).await;
            }
            got = socket.recv_from(&mut buf) => {
                let Ok((n, _)) = got else { continue };
                let now = Instant::now();
                let Ok(pkt) = RtpPacket::parse(&buf[..n]) else { continue };
                if pkt.payload_type != Codec::Pcma.payload_type() && pkt.payload_type != Codec::Pcmu.payload_type() {
                    continue;
                }
                received += 1;
                let seq = pkt.sequence;
                let first = *first_seq.get_or_insert_with(|| {
                    last_seq = seq;
                    seq
                });
                if seq.wrapping_sub(first) > last_seq.wrapping_sub(first) {
                    last_seq = seq;
                }
                // Lateness against the sender's clock, anchored at the earliest packet seen.
                let (t0, s0) = *clock.get_or_insert((now, seq));
                let slot_ms = f64::from(seq.wrapping_sub(s0)) * 20.0;
                let offset = (now - t0).as_secs_f64() * 1000.0 - slot_ms;
                min_offset = min_offset.min(offset);
                if offset - min_offset > LATE_MS {
                    fig.late += 1;
                }
                if let Some(p) = prev_arrival {
                    fig.arrival_jitter_ms.push(((now - p).as_secs_f64() * 1000.0 - 20.0).abs());
                }
                prev_arrival = Some(now);
                let samples = Codec::Pcma.decode(pkt.payload);
                let rms = (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>()
                    / samples.len().max(1) as f64).sqrt() as f32;
                if rms > AUDIBLE_RMS && pos.is_none() {
                    if let (true, Some(end)) = (measuring, said_end) {
                        fig.voice_to_voice_ms.push((now - end).as_secs_f64() * 1000.0);
                        measuring = false;
                    }
                    agent_last_voice = Some(now);
                    agent_spoke_since_said = true;
                }
            }
        }
    }
    if let Some(first) = first_seq {
        fig.expected = u64::from(last_seq.wrapping_sub(first)) + 1;
        fig.missing = fig.expected.saturating_sub(received);
    }
    fig
}
