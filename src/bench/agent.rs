//! `callops bench agent`: conversations over the simulated line with in-process fake providers at
//! set latencies. Prints voice-to-voice (end of caller speech → first agent audio frame), the
//! engine's overhead over the unavoidable part (end-of-turn silence + STT + LLM first token + TTS
//! first byte), barge-in reaction, and CPU per simulated call. Figures are taken on the callee's
//! side of the line (what a person would experience) and, for comparison, from the engine's own
//! per-turn timings.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::agent_fakes::{AgentFakes, Latencies};
use crate::agent::{run_call, CallReport, DialogSettings, Scripts};
use crate::telephony::simulated::{self, clip, CalleeLog, Cue, SimulatedLine, Step};

/// How the caller's speech is recognised in the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SttMode {
    /// One upload per utterance after the end-of-turn silence (OpenAI-compatible).
    Batch,
    /// Audio streamed as it comes; interim text adapts the end of turn.
    Streaming,
}

pub struct AgentBench {
    pub turns: usize,
    pub stt: SttMode,
    /// Streaming: the final text this long after the turn ends.
    pub stt_final_ms: u64,
    pub stt_ms: u64,
    pub llm_ttft_ms: u64,
    pub tts_ttfb_ms: u64,
    pub concurrency: usize,
}

const TURNS_PER_CALL: usize = 5;

fn conversation() -> Vec<Step> {
    let quiet = || Cue::AgentQuietFor(Duration::from_millis(300));
    let step = |name: &str, cue: Cue| clip(name).map(|c| Step::Say(c, cue));
    [
        step("hello", quiet()),
        step("interested", quiet()),
        step(
            "interrupt",
            Cue::AgentTalkingFor(Duration::from_millis(800)),
        ),
        step("expensive", quiet()),
        step("callback", quiet()),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The `p` quantile of `v` (sorted in place); NaN when empty.
pub(crate) fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let idx = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[idx.min(v.len() - 1)]
}

/// Callee-side figures of one call: voice-to-voice per answered utterance, barge-in reaction.
fn callee_figures(log: &CalleeLog) -> (Vec<f64>, Vec<f64>) {
    let mut v2v = Vec::new();
    let mut barge = Vec::new();
    for (text, start, end) in &log.said {
        if text.contains("Подождите") {
            // Agent audio heard after the callee started talking over it, until it went quiet.
            let last = log
                .heard
                .iter()
                .map(|(at, _)| *at)
                .filter(|at| *at >= *start && *at < *start + Duration::from_millis(1500))
                .max();
            if let Some(last) = last {
                barge.push((last - *start).as_secs_f64() * 1000.0 + 20.0);
            }
            continue;
        }
        if let Some((first, _)) = log.heard.iter().find(|(at, _)| at > end) {
            v2v.push((*first - *end).as_secs_f64() * 1000.0);
        }
    }
    (v2v, barge)
}

/// Conversations whose caller pauses mid-sentence: after an unfinished phrase (450–525 ms),
/// a dangling word or a hesitation (600–1000 ms), and between the groups of a phone number
/// (700–1200 ms). Each phrase's second part follows its first after the pause.
fn paused_conversation(k: usize) -> Vec<Step> {
    let quiet = || Cue::AgentQuietFor(Duration::from_millis(300));
    let mut steps: Vec<Step> = clip("hello")
        .map(|c| Step::Say(c, quiet()))
        .into_iter()
        .collect();
    for (first, second) in simulated::PAUSED_PHRASES {
        let ms = match *first {
            "office_1" => 450 + 25 * (k % 4) as u64,
            "phone_1" => 700 + 125 * (k % 5) as u64,
            _ => 600 + 100 * (k % 5) as u64,
        };
        if let (Some(a), Some(b)) = (clip(first), clip(second)) {
            steps.push(Step::Say(a, quiet()));
            steps.push(Step::Say(b, Cue::After(Duration::from_millis(ms))));
        }
    }
    steps
}

/// Mid-sentence pauses in a call, and how many of them the agent spoke into (its audio heard
/// between the end of a phrase's first part and the end of its second).
fn false_cut_ins(log: &CalleeLog) -> (usize, usize) {
    let firsts: Vec<&str> = simulated::PAUSED_PHRASES
        .iter()
        .filter_map(|(first, _)| clip(first).map(|c| c.text))
        .collect();
    let (mut pauses, mut cut) = (0, 0);
    for pair in log.said.windows(2) {
        let [(text, _, paused_at), (_, _, resumed_end)] = pair else {
            continue;
        };
        if !firsts.contains(&text.as_str()) {
            continue;
        }
        pauses += 1;
        if log
            .heard
            .iter()
            .any(|(at, _)| at > paused_at && at <= resumed_end)
        {
            cut += 1;
        }
    }
    (pauses, cut)
}

/// Runs `calls` simulated calls of `steps(k)`, `concurrency` at a time.
async fn run_calls(
    calls: usize,
    concurrency: usize,
    steps: fn(usize) -> Vec<Step>,
    deps: &crate::agent::AgentDeps,
    script: &crate::agent::Script,
    settings: &DialogSettings,
) -> anyhow::Result<Vec<(CallReport, CalleeLog)>> {
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = Vec::new();
    for k in 0..calls {
        let permit = sem.clone().acquire_owned().await?;
        let (deps, script, settings) = (deps.clone(), script.clone(), settings.clone());
        tasks.push(tokio::spawn(async move {
            let (mut line, callee) =
                SimulatedLine::start(steps(k), Duration::from_millis(50), Duration::from_secs(10));
            let report: CallReport =
                run_call(&mut line, &script, &deps, &settings, &Default::default()).await;
            drop(permit);
            (report, callee.log())
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await?);
    }
    Ok(out)
}

pub async fn run(args: AgentBench) -> anyhow::Result<()> {
    let lat = Latencies {
        stt: Duration::from_millis(args.stt_ms),
        llm_ttft: Duration::from_millis(args.llm_ttft_ms),
        tts_ttfb: Duration::from_millis(args.tts_ttfb_ms),
        tts_ms_per_char: 40,
    };
    let fakes = AgentFakes::start(lat)
        .await
        .context("starting the fake providers")?;
    measure(&args, args.stt, &fakes).await?;
    if args.stt == SttMode::Streaming {
        println!();
        println!("the batch path, for comparison:");
        measure(&args, SttMode::Batch, &fakes).await?;
    }
    Ok(())
}

/// One pass of the benchmark with `mode`'s recogniser: the conversations, then the
/// mid-sentence pauses.
async fn measure(args: &AgentBench, mode: SttMode, fakes: &AgentFakes) -> anyhow::Result<()> {
    let deps = match mode {
        SttMode::Batch => fakes.agent_deps(),
        SttMode::Streaming => fakes.agent_deps_streaming(Duration::from_millis(args.stt_final_ms)),
    };
    let stt_ms = match mode {
        SttMode::Batch => args.stt_ms,
        SttMode::Streaming => args.stt_final_ms,
    };
    let settings = DialogSettings::default();
    let script = Scripts::load(None)?
        .default_script()
        .cloned()
        .context("no agent script")?;
    let calls = args.turns.div_ceil(TURNS_PER_CALL).max(1);
    let preempt = match (mode, settings.preempt_after) {
        (SttMode::Streaming, Some(p)) => Some(p),
        _ => None,
    };
    println!(
        "bench agent: {calls} conversations × {TURNS_PER_CALL} caller turns, {} at a time; STT {:?} {} ms, LLM first token {} ms, TTS first byte {} ms, end-of-turn silence {} ms{}",
        args.concurrency,
        mode,
        stt_ms,
        args.llm_ttft_ms,
        args.tts_ttfb_ms,
        settings.turn.end_silence.as_millis(),
        match preempt {
            Some(p) => format!(
                " (adaptive: shorter after a finished sentence; the reply starts early at a {} ms pause)",
                p.as_millis()
            ),
            None => String::new(),
        }
    );
    let cpu0 = super::cpu_seconds();
    let wall0 = std::time::Instant::now();
    let results = run_calls(
        calls,
        args.concurrency,
        |_| conversation(),
        &deps,
        &script,
        &settings,
    )
    .await?;
    let mut v2v = Vec::new();
    let mut barge = Vec::new();
    let mut engine_v2v = Vec::new();
    let mut engine_barge = Vec::new();
    let mut call_secs = 0.0;
    let mut turns = 0usize;
    let mut completed = 0usize;
    let mut early = (0u32, 0u32);
    for (report, log) in &results {
        early.0 += report.early_replies.started;
        early.1 += report.early_replies.committed;
        let (v, b) = callee_figures(log);
        v2v.extend(v);
        barge.extend(b);
        engine_v2v.extend(
            report
                .turns
                .iter()
                .filter(|t| t.barge_in_ms.is_none())
                .filter_map(|t| t.voice_to_voice_ms())
                .map(|x| x as f64),
        );
        engine_barge.extend(report.barge_ins.iter().map(|d| d.as_secs_f64() * 1000.0));
        call_secs += report.duration.as_secs_f64();
        turns += report.state.turns as usize;
        if report.state.callback.is_some() {
            completed += 1;
        }
    }
    let wall = wall0.elapsed().as_secs_f64();
    let cpu = match (cpu0, super::cpu_seconds()) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    // The unavoidable part: the pause that ends the turn (streaming: the adaptive pause after a
    // finished sentence, which every bench phrase is) and the providers' latencies; with an early
    // reply, whichever is later of that and the early start plus the model and synthesis.
    let hold = match mode {
        SttMode::Batch => settings.turn.end_silence,
        SttMode::Streaming => {
            crate::agent::end_of_turn::EndOfTurn::around(settings.turn.end_silence).complete
        }
    };
    let providers = (args.llm_ttft_ms + args.tts_ttfb_ms) as f64;
    let floor = match preempt {
        Some(p) => (hold.as_millis() as f64 + stt_ms as f64).max(p.as_millis() as f64 + providers),
        None => hold.as_millis() as f64 + stt_ms as f64 + providers,
    };
    let (p50, p95) = (percentile(&mut v2v, 0.5), percentile(&mut v2v, 0.95));
    println!(
        "caller turns: {turns} in {calls} calls ({completed} reached the callback and ended normally); wall {wall:.1} s"
    );
    println!(
        "voice-to-voice (callee side, {} replies): p50 {p50:.0} ms, p95 {p95:.0} ms; floor {floor:.0} ms → overhead p50 {:.0} ms, p95 {:.0} ms",
        v2v.len(),
        p50 - floor,
        p95 - floor
    );
    let (e50, e95) = (
        percentile(&mut engine_v2v, 0.5),
        percentile(&mut engine_v2v, 0.95),
    );
    println!(
        "voice-to-voice (engine timings, {} turns): p50 {e50:.0} ms, p95 {e95:.0} ms → overhead p50 {:.0} ms, p95 {:.0} ms",
        engine_v2v.len(),
        e50 - floor,
        e95 - floor
    );
    println!(
        "barge-in, caller speech start → agent audio stops (callee side, {}): p50 {:.0} ms, p95 {:.0} ms; engine-side detection p95 {:.0} ms",
        barge.len(),
        percentile(&mut barge, 0.5),
        percentile(&mut barge, 0.95),
        percentile(&mut engine_barge, 0.95)
    );
    if let Some(cpu) = cpu {
        let per_call = cpu / call_secs.max(1e-9);
        println!(
            "CPU: {cpu:.2} s for {call_secs:.0} call-seconds = {:.2} % of one core per simulated call (includes the fake providers and the simulated callees) → {:.0} concurrent calls per core",
            per_call * 100.0,
            1.0 / per_call.max(1e-9)
        );
    }
    if preempt.is_some() {
        println!(
            "early replies: {} started on interim text, {} committed, {} thrown away unheard (extra model requests)",
            early.0,
            early.1,
            early.0 - early.1
        );
    }
    let paused_calls = (args.turns / 20).max(8);
    let results = run_calls(
        paused_calls,
        args.concurrency,
        paused_conversation,
        &deps,
        &script,
        &settings,
    )
    .await?;
    let (pauses, cut) = results
        .iter()
        .map(|(_, log)| false_cut_ins(log))
        .fold((0, 0), |(p, c), (p1, c1)| (p + p1, c + c1));
    println!(
        "false cut-ins: {cut} of {pauses} ({:.1} %) mid-sentence pauses of 450–1200 ms the agent spoke into",
        cut as f64 * 100.0 / pauses.max(1) as f64
    );
    Ok(())
}
