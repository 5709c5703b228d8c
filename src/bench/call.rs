//! `callops bench call`: that many concurrent real SIP calls over loopback, placed by the real
//! dialer (attempt rows, SIP user agent, RTP sessions, the agent engine with screening on) to the
//! built-in callee of [`super::sip_callee`], with fake providers at set latencies. Prints CPU per
//! call, late or missing frames, RTP send jitter and voice-to-voice as the callee hears it, then
//! runs the simulated-line bench with the same latencies for comparison.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use super::agent::percentile;
use super::agent_fakes::{AgentFakes, Latencies};
use super::sip_callee::{CallFigures, SipCallee, LATE_MS};
use crate::agent::screening::Settings as ScreeningSettings;
use crate::agent::{CallControl, DialogSettings, Greeting, Scripts};
use crate::analysis::pipeline::{CallIntake, PipelineSettings};
use crate::config::NumberFormat;
use crate::domain::{NewOutboundCall, PhoneNumber, Speaker};
use crate::i18n::Lang;
use crate::outbound::{Dialer, OutboundSettings, Placed};
use crate::telephony::media::rtp_session::{RtpPorts, SEND_LATENESS};
use crate::telephony::simulated::clip;
use crate::telephony::sip::{SipConfig, SipTrunk};
use crate::telephony::sip_line::SipDialer;

/// The name of the instruments' threads (their CPU is told apart from the agent's; Linux keeps
/// 15 characters of a thread name).
const INSTRUMENTS: &str = "bench-instr";

pub struct CallBench {
    pub calls: usize,
    /// Between one call's placing and the next's.
    pub stagger: Duration,
    pub stt_ms: u64,
    pub llm_ttft_ms: u64,
    pub tts_ttfb_ms: u64,
}

/// An intake with the settings' defaults, recording the agent's calls into `store` (for benches
/// and tests that place calls without the app).
pub fn agent_intake(store: Arc<dyn crate::store::Store>) -> Arc<CallIntake> {
    Arc::new(CallIntake {
        store,
        settings: Arc::new(PipelineSettings {
            our_numbers: Vec::new(),
            min_call_secs: 10,
            recording_delay: Duration::ZERO,
            max_recording: Duration::from_secs(3600),
            channel_roles: vec![Speaker::Agent, Speaker::Client],
            default_profile: "realty_lead".into(),
            profile_by_number: Vec::new(),
            team_chat: None,
            admins: Vec::new(),
            chat_by_number: Vec::new(),
            departments: Default::default(),
            timezone: chrono_tz::Europe::Moscow,
            lang: Lang::Ru,
            fewshot_examples: 0,
            offer_call_back: false,
        }),
        waker: Arc::new(tokio::sync::Notify::new()),
    })
}

pub async fn run(args: CallBench) -> anyhow::Result<()> {
    let calls = args.calls.max(1);
    let lat = Latencies {
        stt: Duration::from_millis(args.stt_ms),
        llm_ttft: Duration::from_millis(args.llm_ttft_ms),
        tts_ttfb: Duration::from_millis(args.tts_ttfb_ms),
        tts_ms_per_char: 40,
    };
    // The instruments (fake providers, callee) run on a runtime of their own, so a slow poll of
    // theirs cannot delay the system under test's timers (they still share the CPU).
    let harness = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(INSTRUMENTS)
        .enable_all()
        .build()?;
    let fakes = harness
        .spawn(AgentFakes::start(lat))
        .await?
        .context("starting the fake providers")?;
    let script: Vec<_> = ["hello", "interested", "expensive", "callback"]
        .into_iter()
        .filter_map(clip)
        .collect();
    let span = u16::try_from(calls * 2 + 64).unwrap_or(u16::MAX / 4);
    let callee = harness
        .spawn(SipCallee::start(
            RtpPorts::new(30_000, 30_000 + span),
            script,
        ))
        .await?
        .context("starting the callee")?;
    let stop = CancellationToken::new();
    let sip = SipTrunk::start(
        SipConfig {
            server: callee.addr.to_string(),
            domain: callee.addr.to_string(),
            username: None,
            password: None,
            caller: "74951234567".into(),
            bind: "127.0.0.1:0".parse()?,
            public: None,
            tcp: false,
        },
        stop.clone(),
    )
    .await
    .context("starting the SIP user agent")?;
    let store = crate::store::connect("sqlite::memory:").await?;
    store.migrate().await?;
    let dialog = DialogSettings {
        greeting: Greeting::AfterCallee {
            silence: Duration::from_millis(1500),
        },
        screening: Some(ScreeningSettings::default()),
        ..DialogSettings::default()
    };
    let floor = dialog.turn.end_silence.as_millis() as f64
        + (args.stt_ms + args.llm_ttft_ms + args.tts_ttfb_ms) as f64;
    let dialer = Arc::new(Dialer {
        store: store.clone(),
        trunk: Arc::new(SipDialer {
            sip,
            ports: Arc::new(RtpPorts::new(40_000, 40_000 + span)),
            media_ip: "127.0.0.1".parse()?,
            advertised_ip: "127.0.0.1".parse()?,
            number_format: NumberFormat::Seven,
        }),
        agent: fakes.agent_deps(),
        scripts: Arc::new(Scripts::load(None)?),
        default_script: "realty_cold".into(),
        dialog,
        intake: agent_intake(store.clone()),
        model: "gpt-4o-mini".into(),
        owner: "bench".into(),
        settings: OutboundSettings {
            concurrency: calls as i64,
            ring_timeout: Duration::from_secs(30),
            lease: Duration::from_secs(60),
            caller_id: PhoneNumber::parse("+74951234567").ok(),
        },
        live: None,
        campaigns: None,
    });
    println!(
        "bench call: {calls} concurrent SIP calls over loopback (UDP, PCMA, 20 ms), placed {} ms apart, agent with screening; STT {} ms, LLM first token {} ms, TTS first byte {} ms",
        args.stagger.as_millis(), args.stt_ms, args.llm_ttft_ms, args.tts_ttfb_ms
    );
    let mut ids = Vec::with_capacity(calls);
    for i in 0..calls {
        let phone = PhoneNumber::parse(&format!("+7916{:07}", i))?;
        let queued = dialer
            .request(NewOutboundCall {
                phone,
                script: "realty_cold".into(),
                variables: serde_json::json!({}),
                requested_by: None,
                chat_id: None,
            })
            .await?;
        ids.push(queued.id);
    }
    let placed = ids.clone();
    SEND_LATENESS.reset();
    let cpu0 = super::cpu_seconds();
    let instruments0 = super::thread_cpu_seconds(INSTRUMENTS);
    let wall0 = std::time::Instant::now();
    let tasks: Vec<_> = ids
        .into_iter()
        .enumerate()
        .map(|(i, id)| {
            let d = dialer.clone();
            let at = tokio::time::Instant::now() + args.stagger * i as u32;
            tokio::spawn(async move {
                tokio::time::sleep_until(at).await;
                let placed = d.place(id, &CallControl::default()).await;
                (placed, at.elapsed().as_secs_f64())
            })
        })
        .collect();
    let (mut ended, mut call_secs) = (0, 0.0);
    for t in tasks {
        if let Ok((placed, secs)) = t.await {
            call_secs += secs;
            if let Ok(Placed::Done(crate::domain::OutboundStatus::Ended)) = placed {
                ended += 1;
            }
        }
    }
    let wall = wall0.elapsed().as_secs_f64();
    let stages = stages(store.as_ref(), &placed, &args).await;
    let cpu = super::cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
    let instruments = super::thread_cpu_seconds(INSTRUMENTS) - instruments0;
    stop.cancel();
    tokio::time::sleep(Duration::from_millis(300)).await;
    report(
        &callee.figures(),
        (ended, calls, wall, call_secs),
        cpu.map(|c| (c, instruments)),
        floor,
    );
    println!("{stages}");
    harness.shutdown_background();
    println!();
    println!("simulated line, same latencies, for comparison:");
    super::agent::run(super::agent::AgentBench {
        turns: 100,
        stt: super::agent::SttMode::Batch,
        stt_final_ms: 0,
        stt_ms: args.stt_ms,
        llm_ttft_ms: args.llm_ttft_ms,
        tts_ttfb_ms: args.tts_ttfb_ms,
        concurrency: 20,
    })
    .await
}

/// Prints the figures; `cpu` is (the whole process, of which the instruments' threads).
fn report(
    figs: &[CallFigures],
    (ended, calls, wall, call_secs): (usize, usize, f64, f64),
    cpu: Option<(f64, f64)>,
    floor: f64,
) {
    let answered = figs.iter().filter(|f| f.answered).count();
    let (expected, missing, late) = figs.iter().fold((0, 0, 0), |(e, m, l), f| {
        (e + f.expected, m + f.missing, l + f.late)
    });
    let mut jitter: Vec<f64> = figs
        .iter()
        .flat_map(|f| f.arrival_jitter_ms.clone())
        .collect();
    let mut v2v: Vec<f64> = figs
        .iter()
        .flat_map(|f| f.voice_to_voice_ms.clone())
        .collect();
    println!("calls: {calls} placed, {answered} answered, {ended} talked through to the end; wall {wall:.1} s");
    if let Some((cpu, instruments)) = cpu {
        // Each call's time from its placing to its end (ringing and the SIP exchange included).
        let call_secs = call_secs.max(1e-9);
        let ours = (cpu - instruments).max(0.0) / call_secs;
        let all = cpu / call_secs;
        println!(
            "CPU: {:.2} % of one core per call → {:.0} concurrent calls per core (the agent's side: dialer, SIP, RTP, engine; with the built-in callees and fake providers on their own threads too: {:.2} % → {:.0})",
            ours * 100.0,
            1.0 / ours.max(1e-9),
            all * 100.0,
            1.0 / all.max(1e-9)
        );
    }
    println!(
        "late or missing frames: {:.3} % ({missing} missing, {late} more than {LATE_MS:.0} ms late, of {expected})",
        (missing + late) as f64 * 100.0 / expected.max(1) as f64
    );
    let (ticks, send_p99) = SEND_LATENESS.percentile(0.99);
    let (_, send_p50) = SEND_LATENESS.percentile(0.5);
    println!(
        "RTP send jitter p99: {send_p99:.1} ms (our senders' {ticks} ticks vs their 20 ms clock, to 0.5 ms; p50 {send_p50:.1} ms); at the callee, |inter-arrival − 20 ms| p99 {:.2} ms, p50 {:.2} ms",
        percentile(&mut jitter, 0.99),
        percentile(&mut jitter, 0.5)
    );
    let (p50, p95) = (percentile(&mut v2v, 0.5), percentile(&mut v2v, 0.95));
    println!(
        "voice-to-voice (callee RTP, {} replies): p50 {p50:.0} ms, p95 {p95:.0} ms; floor {floor:.0} ms → overhead p50 {:.0} ms, p95 {:.0} ms",
        v2v.len(),
        p50 - floor,
        p95 - floor
    );
}

/// Where the agent's side spends the time over the fake providers' latencies, from the engine's
/// turn timings (each stage counted from the end of the callee's speech, minus what the stages
/// before it are set to take).
async fn stages(store: &dyn crate::store::Store, ids: &[i64], args: &CallBench) -> String {
    let mut turns = Vec::new();
    for id in ids {
        let Ok(Some(call)) = store.outbound_call(*id).await else {
            continue;
        };
        let Some(call_id) = call.call_id else {
            continue;
        };
        turns.extend(store.agent_turns(call_id).await.unwrap_or_default());
    }
    let end_silence = DialogSettings::default().turn.end_silence.as_millis() as i64;
    let stt = end_silence + args.stt_ms as i64;
    let llm = stt + args.llm_ttft_ms as i64;
    let tts = llm + args.tts_ttfb_ms as i64;
    let mut out = format!("engine stages over their floor ({} turns):", turns.len());
    for (name, floor, at) in [
        (
            "STT done",
            stt,
            (|t: &crate::domain::TurnTiming| t.stt_done_ms) as fn(&_) -> _,
        ),
        ("LLM first token", llm, |t| t.llm_first_token_ms),
        ("TTS first byte", tts, |t| t.tts_first_byte_ms),
        ("first frame out", tts, |t| t.first_audio_ms),
    ] {
        let mut xs: Vec<f64> = turns
            .iter()
            .filter(|t| t.barge_in_ms.is_none())
            .filter_map(|t| at(t).map(|a| (a - t.caller_end_ms - floor) as f64))
            .collect();
        out.push_str(&format!(
            " {name} p50 {:.0} / p95 {:.0} ms;",
            percentile(&mut xs, 0.5),
            percentile(&mut xs, 0.95)
        ));
    }
    out
}
