//! One call's RTP over UDP, free of any signalling: a sender clocked every 20 ms from the answer
//! (the agent's frames, silence while it is quiet, a marker at each talkspurt, RFC 4733 keys),
//! and a receiver that latches onto the address the callee's RTP really comes from (symmetric
//! RTP, for NAT), drops what is not their stream, and plays through a jitter buffer.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::dtmf::{key_press, DtmfReceiver};
use super::jitter::{JitterBuffer, Pulled};
use super::pacer::Pacer;
use super::rtp::{RtpPacket, RtpWriter};
use super::sdp::{Answer, Codec};
use super::Frame;

/// G.711 runs at 8 kHz: 160 samples per 20 ms frame.
pub const RTP_RATE: u32 = 8000;
const SAMPLES_PER_FRAME: u32 = 160;
/// Packets held before playing (40 ms) and at most (200 ms).
const JITTER_DEPTH: usize = 2;
const JITTER_CAPACITY: usize = 10;

/// The RTP ports of this process (`RTP_PORT_MIN`..`RTP_PORT_MAX`), handed out in turn.
#[derive(Debug)]
pub struct RtpPorts {
    first_even: u32,
    count: u32,
    next: AtomicU32,
}

impl RtpPorts {
    pub fn new(min: u16, max: u16) -> Self {
        let (min, max) = (u32::from(min.min(max)), u32::from(min.max(max)));
        let first_even = min + (min & 1);
        let count = if max >= first_even {
            (max - first_even) / 2 + 1
        } else {
            0
        };
        Self {
            first_even,
            count,
            next: AtomicU32::new(0),
        }
    }

    /// Binds a free even port of the range on `ip` (RTCP would take the odd one above).
    pub async fn bind(&self, ip: IpAddr) -> std::io::Result<UdpSocket> {
        for _ in 0..self.count {
            let i = self.next.fetch_add(1, Ordering::Relaxed) % self.count;
            let Ok(port) = u16::try_from(self.first_even + 2 * i) else {
                continue;
            };
            if let Ok(s) = UdpSocket::bind(SocketAddr::new(ip, port)).await {
                return Ok(s);
            }
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            "no free RTP port in RTP_PORT_MIN..RTP_PORT_MAX",
        ))
    }
}

/// What the receiver hands up.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaEvent {
    /// 20 ms of the callee, decoded (silence where a packet was lost).
    Frame(Frame),
    Dtmf(char),
}

/// How late the RTP senders' 20 ms ticks fire, across every session of the process, in 0.5 ms
/// steps up to 50 ms (the last bucket holds everything later): the send jitter.
pub struct Lateness {
    buckets: [std::sync::atomic::AtomicU64; LATENESS_BUCKETS],
}

const LATENESS_BUCKETS: usize = 101;

/// The send lateness of every RTP session.
pub static SEND_LATENESS: Lateness = Lateness {
    buckets: [const { std::sync::atomic::AtomicU64::new(0) }; LATENESS_BUCKETS],
};

impl Lateness {
    pub fn record(&self, late: std::time::Duration) {
        let i = ((late.as_micros() / 500) as usize).min(LATENESS_BUCKETS - 1);
        self.buckets[i].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// (ticks counted, the lateness `p` of them stay within, in ms).
    pub fn percentile(&self, p: f64) -> (u64, f64) {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(std::sync::atomic::Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        let want = (total as f64 * p).ceil() as u64;
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= want && total > 0 {
                return (total, (i + 1) as f64 * 0.5);
            }
        }
        (total, 0.0)
    }

    /// Starts counting afresh.
    pub fn reset(&self) {
        for b in &self.buckets {
            b.store(0, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// Counters of a session, for logs and benchmarks.
#[derive(Debug, Default)]
pub struct RtpStats {
    pub sent: std::sync::atomic::AtomicU64,
    pub sent_silence: std::sync::atomic::AtomicU64,
    pub received: std::sync::atomic::AtomicU64,
    pub lost: std::sync::atomic::AtomicU64,
    pub ignored: std::sync::atomic::AtomicU64,
}

/// A running RTP session; dropping it (or [`Self::stop`]) stops both directions.
pub struct RtpSession {
    /// The agent's frames at 8 kHz, one per 20 ms.
    pub frames: mpsc::Sender<Frame>,
    /// Keys to send as RFC 4733 events.
    pub keys: mpsc::Sender<char>,
    /// What the callee sends.
    pub events: mpsc::Receiver<MediaEvent>,
    pub stats: Arc<RtpStats>,
    remote: Arc<Mutex<SocketAddr>>,
    stop: CancellationToken,
}

impl RtpSession {
    /// Starts sending to and receiving from what `answer` says, on `socket`.
    pub fn start(socket: UdpSocket, answer: &Answer) -> Self {
        let socket = Arc::new(socket);
        let remote = Arc::new(Mutex::new(answer.remote));
        let stats = Arc::new(RtpStats::default());
        let stop = CancellationToken::new();
        let (frames_tx, frames_rx) = mpsc::channel(8);
        let (keys_tx, keys_rx) = mpsc::channel(16);
        let (events_tx, events_rx) = mpsc::channel(64);
        tokio::spawn(
            Sender {
                socket: socket.clone(),
                remote: remote.clone(),
                codec: answer.codec,
                dtmf: answer.dtmf,
                stats: stats.clone(),
            }
            .run(frames_rx, keys_rx, stop.clone()),
        );
        tokio::spawn(
            Receiver {
                socket,
                remote: remote.clone(),
                codec: answer.codec,
                dtmf: answer.dtmf,
                stats: stats.clone(),
            }
            .run(events_tx, stop.clone()),
        );
        Self {
            frames: frames_tx,
            keys: keys_tx,
            events: events_rx,
            stats,
            remote,
            stop,
        }
    }

    /// Where our RTP goes now (the latched address once the callee has sent).
    pub fn remote(&self) -> SocketAddr {
        *self.remote.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn stop(&self) {
        self.stop.cancel();
    }
}

impl Drop for RtpSession {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

struct Sender {
    socket: Arc<UdpSocket>,
    remote: Arc<Mutex<SocketAddr>>,
    codec: Codec,
    dtmf: Option<u8>,
    stats: Arc<RtpStats>,
}

impl Sender {
    async fn run(
        self,
        mut frames: mpsc::Receiver<Frame>,
        mut keys: mpsc::Receiver<char>,
        stop: CancellationToken,
    ) {
        let mut writer = RtpWriter::random();
        let mut pacer = Pacer::new();
        let silence = self.codec.encode(&[0; SAMPLES_PER_FRAME as usize]);
        let mut speaking = false;
        // An RFC 4733 press in progress: its payloads and the timestamp they all carry.
        let mut press: Option<(std::vec::IntoIter<[u8; 4]>, u32, bool)> = None;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                late = pacer.tick() => SEND_LATENESS.record(late),
            }
            let to = *self.remote.lock().unwrap_or_else(|p| p.into_inner());
            if press.is_none() {
                if let (Ok(key), Some(_)) = (keys.try_recv(), self.dtmf) {
                    if let Some(p) = key_press(key, 100) {
                        press = Some((p.into_iter(), writer.timestamp(), true));
                    }
                }
            }
            if let (Some((payloads, ts, first)), Some(pt)) = (press.as_mut(), self.dtmf) {
                if let Some(payload) = payloads.next() {
                    let pkt = writer.packet_at(pt, *first, *ts, &payload);
                    *first = false;
                    writer.skip(SAMPLES_PER_FRAME);
                    // The agent's frames wait in their queue while the key plays.
                    self.send(&pkt, to).await;
                    continue;
                }
                press = None;
            }
            let pkt = match frames.try_recv() {
                Ok(frame) => {
                    if !speaking {
                        writer.start_talkspurt();
                        speaking = true;
                    }
                    let payload = self.codec.encode(&frame.samples);
                    writer.packet(self.codec.payload_type(), &payload, SAMPLES_PER_FRAME)
                }
                Err(_) => {
                    speaking = false;
                    self.stats
                        .sent_silence
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    writer.packet(self.codec.payload_type(), &silence, SAMPLES_PER_FRAME)
                }
            };
            self.send(&pkt, to).await;
        }
    }

    async fn send(&self, pkt: &[u8], to: SocketAddr) {
        match self.socket.send_to(pkt, to).await {
            Ok(_) => {
                self.stats
                    .sent
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Err(e) => tracing::debug!(error = %e, "RTP send failed"),
        }
    }
}

struct Receiver {
    socket: Arc<UdpSocket>,
    remote: Arc<Mutex<SocketAddr>>,
    codec: Codec,
    dtmf: Option<u8>,
    stats: Arc<RtpStats>,
}

impl Receiver {
    async fn run(self, events: mpsc::Sender<MediaEvent>, stop: CancellationToken) {
        let mut buf = vec![0u8; 2048];
        let mut jitter = JitterBuffer::new(JITTER_DEPTH, JITTER_CAPACITY);
        let mut keys = DtmfReceiver::default();
        let mut pacer = Pacer::new();
        // The callee's stream: the first SSRC heard from them; its source address is latched.
        let mut ssrc: Option<u32> = None;
        let mut playing = false;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                got = self.socket.recv_from(&mut buf) => {
                    let Ok((n, from)) = got else { continue };
                    let Ok(pkt) = RtpPacket::parse(&buf[..n]) else {
                        self.stats.ignored.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        continue;
                    };
                    match ssrc {
                        None => {
                            ssrc = Some(pkt.ssrc);
                            let mut r = self.remote.lock().unwrap_or_else(|p| p.into_inner());
                            if *r != from {
                                tracing::debug!(sdp = %r, latched = %from, "RTP latched onto the callee's source");
                                *r = from;
                            }
                        }
                        Some(s) if s != pkt.ssrc => {
                            let latched = *self.remote.lock().unwrap_or_else(|p| p.into_inner());
                            if from != latched {
                                // Another stream from elsewhere (a stray or a forged packet).
                                self.stats.ignored.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                continue;
                            }
                            // The callee's side started a new stream (a media server switching
                            // sources, DTMF from another generator): follow it, afresh.
                            tracing::debug!(old = s, new = pkt.ssrc, "the callee's RTP stream changed");
                            ssrc = Some(pkt.ssrc);
                            jitter = JitterBuffer::new(JITTER_DEPTH, JITTER_CAPACITY);
                        }
                        Some(_) => {}
                    }
                    self.stats.received.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if Some(pkt.payload_type) == self.dtmf {
                        if let Some(key) = keys.push(pkt.timestamp, pkt.payload) {
                            let _ = events.try_send(MediaEvent::Dtmf(key));
                        }
                    } else if pkt.payload_type == self.codec.payload_type() {
                        jitter.push(pkt.sequence, pkt.payload);
                        if !playing {
                            playing = true;
                            pacer.restart();
                        }
                    }
                }
                _ = pacer.tick(), if playing => {
                    let samples = match jitter.pop() {
                        Pulled::Packet(p) => self.codec.decode(&p),
                        Pulled::Missing => {
                            self.stats.lost.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            Vec::new()
                        }
                        Pulled::Buffering => {
                            if jitter.is_empty() {
                                playing = false;
                            }
                            continue;
                        }
                    };
                    let frame = Frame::from_samples(RTP_RATE, &samples);
                    if events.send(MediaEvent::Frame(frame)).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn answer_to(addr: SocketAddr) -> Answer {
        Answer {
            remote: addr,
            codec: Codec::Pcma,
            dtmf: Some(101),
            ptime_ms: 20,
        }
    }

    async fn next_frame(s: &mut RtpSession) -> Frame {
        loop {
            match tokio::time::timeout(Duration::from_secs(2), s.events.recv())
                .await
                .expect("media within 2 s")
                .expect("open")
            {
                MediaEvent::Frame(f) => return f,
                MediaEvent::Dtmf(_) => {}
            }
        }
    }

    #[tokio::test]
    async fn two_sessions_talk_over_loopback_with_silence_between_and_dtmf() {
        let ports = RtpPorts::new(41_000, 41_199);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let (sa, sb) = (ports.bind(ip).await.unwrap(), ports.bind(ip).await.unwrap());
        let (aa, ab) = (sa.local_addr().unwrap(), sb.local_addr().unwrap());
        assert!(aa.port() % 2 == 0 && ab.port() % 2 == 0 && aa != ab);
        // B is told a wrong address for A at first: it latches onto where A's packets come from.
        let started = tokio::time::Instant::now();
        let mut a = RtpSession::start(sa, &answer_to(ab));
        let mut b = RtpSession::start(sb, &answer_to("127.0.0.1:9".parse().unwrap()));
        // A is silent: B hears silence frames, clocked (A-law's quietest step is ±8).
        let f = next_frame(&mut b).await;
        assert_eq!((f.rate, f.samples.len()), (8000, 160));
        assert!(f.rms() <= 8.0, "{}", f.rms());
        assert_eq!(b.remote(), aa, "B latched onto A's real address");
        // A speaks a tone: B hears it (G.711 round trip).
        let tone: Vec<i16> = (0..160)
            .map(|i| ((i as f32 * 0.3).sin() * 8000.0) as i16)
            .collect();
        for _ in 0..10 {
            a.frames
                .send(Frame::from_samples(8000, &tone))
                .await
                .unwrap();
        }
        let mut heard = false;
        for _ in 0..40 {
            if next_frame(&mut b).await.rms() > 3000.0 {
                heard = true;
                break;
            }
        }
        assert!(heard, "B hears A's tone");
        // A key press arrives once.
        a.keys.send('7').await.unwrap();
        let key = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                if let Some(MediaEvent::Dtmf(k)) = b.events.recv().await {
                    return k;
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(key, '7');
        // And B's own stream reached A, so A hears frames too.
        let _ = next_frame(&mut a).await;
        // Clocked: one packet per 20 ms since the start, give or take the last tick.
        let due = started.elapsed().as_millis() as u64 / 20 + 1;
        let sent = a.stats.sent.load(Ordering::Relaxed);
        assert!(sent + 2 >= due && sent <= due + 1, "sent {sent}, due {due}");
        assert_eq!(b.stats.ignored.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn garbage_and_foreign_streams_do_not_stop_the_session() {
        let ports = RtpPorts::new(41_200, 41_299);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let sb = ports.bind(ip).await.unwrap();
        let ab = sb.local_addr().unwrap();
        let mut b = RtpSession::start(sb, &answer_to("127.0.0.1:9".parse().unwrap()));
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        peer.send_to(&[0xff; 3], ab).await.unwrap();
        peer.send_to(&[0x8f; 12], ab).await.unwrap();
        let mut theirs = RtpWriter::new(1, 0, 0);
        let mut foreign = RtpWriter::new(2, 0, 0);
        for _ in 0..6 {
            peer.send_to(&theirs.packet(8, &[0xd5; 160], 160), ab)
                .await
                .unwrap();
            stranger
                .send_to(&foreign.packet(8, &[0x55; 160], 160), ab)
                .await
                .unwrap();
        }
        let _ = next_frame(&mut b).await;
        assert_eq!(b.remote(), peer.local_addr().unwrap());
        assert!(b.stats.ignored.load(Ordering::Relaxed) >= 8);
        // The callee's own side starting a new stream (new SSRC, same address) is followed.
        let (ignored, received) = (
            b.stats.ignored.load(Ordering::Relaxed),
            b.stats.received.load(Ordering::Relaxed),
        );
        let mut renewed = RtpWriter::new(3, 0, 0);
        for _ in 0..4 {
            peer.send_to(&renewed.packet(8, &[0xd5; 160], 160), ab)
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(b.stats.ignored.load(Ordering::Relaxed), ignored);
        assert_eq!(b.stats.received.load(Ordering::Relaxed), received + 4);
    }

    #[tokio::test]
    async fn on_the_wire_one_ssrc_running_numbers_and_a_marker_per_talkspurt() {
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let ports = RtpPorts::new(41_300, 41_399);
        let sa = ports.bind("127.0.0.1".parse().unwrap()).await.unwrap();
        let a = RtpSession::start(sa, &answer_to(peer.local_addr().unwrap()));
        let mut buf = [0u8; 512];
        let mut got = Vec::new();
        let mut fed = 0;
        while got.len() < 30 {
            let (n, _) = tokio::time::timeout(Duration::from_secs(2), peer.recv_from(&mut buf))
                .await
                .unwrap()
                .unwrap();
            let p = RtpPacket::parse(&buf[..n]).unwrap();
            got.push((
                p.marker,
                p.payload_type,
                p.sequence,
                p.timestamp,
                p.ssrc,
                p.payload.len(),
            ));
            // After 5 packets of silence, the agent speaks 5 frames (queued ahead of the clock).
            if got.len() == 5 && fed == 0 {
                for _ in 0..5 {
                    a.frames
                        .send(Frame::from_samples(8000, &[4000; 160]))
                        .await
                        .unwrap();
                }
                fed = 5;
            }
            if got.len() == 20 {
                a.keys.send('1').await.unwrap();
            }
        }
        let ssrc = got[0].4;
        for w in got.windows(2) {
            assert_eq!(w[1].2, w[0].2.wrapping_add(1), "sequence runs on");
            assert_eq!(w[1].4, ssrc, "one SSRC");
        }
        let audio: Vec<_> = got.iter().filter(|g| g.1 == 8).collect();
        let dtmf: Vec<_> = got.iter().filter(|g| g.1 == 101).collect();
        assert!(audio.iter().all(|g| g.5 == 160));
        // Speech packets are marked only at their start; silence is never marked after the first.
        let marked: Vec<usize> = got
            .iter()
            .enumerate()
            .filter(|(_, g)| g.0)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(
            marked.len(),
            3,
            "the stream start, the talkspurt, the key: {marked:?}"
        );
        assert_eq!(marked[0], 0);
        // A key press: all its packets carry its start's timestamp; audio timestamps run by 160.
        assert!(dtmf.len() >= 4);
        assert!(dtmf.iter().all(|g| g.3 == dtmf[0].3));
        for w in got.windows(2).filter(|w| w[0].1 == 8 && w[1].1 == 8) {
            assert_eq!(w[1].3, w[0].3.wrapping_add(160));
        }
    }
}
