//! One call's RTP over UDP, free of any signalling: a sender clocked every 20 ms from the answer
//! (the agent's frames, silence while it is quiet, a marker at each talkspurt, RFC 4733 keys),
//! and a receiver that latches onto the address the callee's RTP really comes from (symmetric
//! RTP, for NAT), drops what is not their stream, and hands the callee's frames up through a
//! jitter buffer made for a machine listener (in order, at once, silence where nothing came).
//!
//! The agent's first frame of a talkspurt goes out the moment it is handed over, and the 20 ms
//! grid moves to it (the marker bit tells the far end to re-time its playout), so a reply is not
//! held back to the next tick of a clock that ran while the agent was quiet.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::dtmf::{key_press, DtmfReceiver};
use super::jitter::{JitterBuffer, JitterSettings, Pulled};
use super::pacer::Pacer;
use super::rtp::{RtpPacket, RtpWriter};
use super::sdp::{Answer, Codec};
use super::Frame;

/// G.711 runs at 8 kHz: 160 samples per 20 ms frame.
pub const RTP_RATE: u32 = 8000;
const SAMPLES_PER_FRAME: u32 = 160;
/// How long a tick inside a talkspurt waits for the agent's frame before sending silence: the
/// frames come on a 20 ms clock of their own, in step with this one after the talkspurt's start.
const FRAME_GRACE: std::time::Duration = std::time::Duration::from_millis(4);

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
        let mut open = true;
        loop {
            // A frame that starts a talkspurt between ticks goes out at once.
            let early = tokio::select! {
                _ = stop.cancelled() => return,
                late = pacer.tick() => {
                    SEND_LATENESS.record(late);
                    None
                }
                f = frames.recv(), if open && !speaking && press.is_none() => match f {
                    Some(f) => {
                        pacer.realign();
                        Some(f)
                    }
                    None => {
                        // The agent's side is gone: silence on the clock until stopped.
                        open = false;
                        continue;
                    }
                }
            };
            let to = *self.remote.lock().unwrap_or_else(|p| p.into_inner());
            if press.is_none() && early.is_none() {
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
            let frame = match early {
                Some(f) => Some(f),
                None => match frames.try_recv() {
                    Ok(f) => Some(f),
                    Err(mpsc::error::TryRecvError::Empty) if speaking => {
                        tokio::select! {
                            f = frames.recv() => f,
                            _ = tokio::time::sleep(FRAME_GRACE) => None,
                        }
                    }
                    Err(_) => None,
                },
            };
            let pkt = match frame {
                Some(frame) => {
                    if !speaking {
                        writer.start_talkspurt();
                        speaking = true;
                    }
                    let payload = self.codec.encode(&frame.samples);
                    writer.packet(self.codec.payload_type(), &payload, SAMPLES_PER_FRAME)
                }
                None => {
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
        let epoch = tokio::time::Instant::now();
        let mut jitter = JitterBuffer::new(JitterSettings::default());
        let mut keys = DtmfReceiver::default();
        // The callee's stream: the first SSRC heard from them; its source address is latched.
        let mut ssrc: Option<u32> = None;
        loop {
            let wake = jitter.wake_at().map(|at| epoch + at);
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = sleep_until(wake) => {}
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
                            jitter = JitterBuffer::new(JitterSettings::default());
                        }
                        Some(_) => {}
                    }
                    self.stats.received.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if Some(pkt.payload_type) == self.dtmf {
                        if let Some(key) = keys.push(pkt.timestamp, pkt.payload) {
                            let _ = events.try_send(MediaEvent::Dtmf(key));
                        }
                    }
                    // Key events, comfort noise and the like take their slot as silence.
                    let audio = pkt.payload_type == self.codec.payload_type();
                    jitter.push(epoch.elapsed(), pkt.sequence, if audio { pkt.payload } else { &[] });
                }
            }
            while let Some(pulled) = jitter.pull(epoch.elapsed()) {
                let samples = match pulled {
                    Pulled::Packet(p) => self.codec.decode(&p),
                    Pulled::Missing => {
                        self.stats
                            .lost
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        Vec::new()
                    }
                    Pulled::Silence => Vec::new(),
                };
                let frame = Frame::from_samples(RTP_RATE, &samples);
                if events.send(MediaEvent::Frame(frame)).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Sleeps until `at`, or for ever without it.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
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

    #[tokio::test]
    async fn a_callee_that_stops_sending_is_heard_as_silence_on_the_clock() {
        let ports = RtpPorts::new(41_400, 41_499);
        let sb = ports.bind("127.0.0.1".parse().unwrap()).await.unwrap();
        let ab = sb.local_addr().unwrap();
        let mut b = RtpSession::start(sb, &answer_to("127.0.0.1:9".parse().unwrap()));
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut w = RtpWriter::new(5, 0, 0);
        let loud = Codec::Pcma.encode(&[6000; 160]);
        for _ in 0..5 {
            peer.send_to(&w.packet(8, &loud, 160), ab).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let stopped = tokio::time::Instant::now();
        // Silence suppression: nothing more is sent. The five frames come up, then silence on
        // the 20 ms clock, so a turn can end.
        let mut loud_frames = 0;
        let mut quiet = 0;
        while stopped.elapsed() < Duration::from_millis(400) {
            let f = next_frame(&mut b).await;
            if f.rms() > 3000.0 {
                loud_frames += 1;
            } else {
                quiet += 1;
            }
        }
        assert_eq!(loud_frames, 5);
        assert!(
            (14..=23).contains(&quiet),
            "{quiet} silent frames in ~400 ms"
        );
        assert_eq!(
            b.stats.lost.load(Ordering::Relaxed),
            0,
            "silence is not loss"
        );
        // The stream resumes with the next sequence number: heard at once.
        peer.send_to(&w.packet(8, &loud, 160), ab).await.unwrap();
        let resumed = tokio::time::Instant::now();
        loop {
            if next_frame(&mut b).await.rms() > 3000.0 {
                break;
            }
        }
        assert!(resumed.elapsed() < Duration::from_millis(30));
    }

    #[tokio::test]
    async fn the_agent_s_first_frame_goes_out_without_waiting_for_the_next_tick() {
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let ports = RtpPorts::new(41_500, 41_599);
        let sa = ports.bind("127.0.0.1".parse().unwrap()).await.unwrap();
        let a = RtpSession::start(sa, &answer_to(peer.local_addr().unwrap()));
        async fn marked(peer: &UdpSocket) -> bool {
            let mut buf = [0u8; 512];
            let (n, _) = tokio::time::timeout(Duration::from_secs(2), peer.recv_from(&mut buf))
                .await
                .unwrap()
                .unwrap();
            RtpPacket::parse(&buf[..n]).unwrap().marker
        }
        let mut prompt = 0;
        for _ in 0..5 {
            // Just after a fresh silence packet, the next tick is ~20 ms away.
            let mut stale = [0u8; 512];
            while peer.try_recv_from(&mut stale).is_ok() {}
            while marked(&peer).await {}
            let handed = tokio::time::Instant::now();
            a.frames
                .send(Frame::from_samples(8000, &[4000; 160]))
                .await
                .unwrap();
            while !marked(&peer).await {}
            if handed.elapsed() < Duration::from_millis(10) {
                prompt += 1;
            }
            // Let the talkspurt end (no more frames) before the next round.
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        assert!(prompt >= 3, "{prompt} of 5 talkspurts went out at once");
    }
}
