//! Turn-taking with a streaming recogniser over the simulated line: the end of turn follows what
//! the caller said (a pause mid-sentence, after a dangling word or between the groups of a
//! dictated phone number does not end it), and the reply starts early on the interim text,
//! thrown away unheard when the caller goes on. The batch path, with its fixed pause, is run on
//! the same callers to show what the adaptive end of turn prevents.

use std::time::Duration;

use callops::agent::{run_call, AgentDeps, CallReport, DialogSettings, Scripts};
use callops::bench::agent_fakes::{AgentFakes, Latencies};
use callops::domain::Speaker;
use callops::telephony::simulated::{clip, CalleeLog, Cue, SimulatedLine, Step};

struct Outcome {
    report: CallReport,
    log: CalleeLog,
    fakes: AgentFakes,
}

fn say(name: &str, cue: Cue) -> Step {
    Step::Say(clip(name).expect("clip"), cue)
}

fn quiet() -> Cue {
    Cue::AgentQuietFor(Duration::from_millis(300))
}

/// "Алло", then each `(first, second, pause)`: the first part after the agent's reply, the
/// second after the pause.
fn paused(phrases: &[(&str, &str, u64)]) -> Vec<Step> {
    let mut steps = vec![say("hello", quiet())];
    for (a, b, ms) in phrases {
        steps.push(say(a, quiet()));
        steps.push(say(b, Cue::After(Duration::from_millis(*ms))));
    }
    steps
}

/// These calls run in real time against set latencies: one at a time, so that tests running
/// beside each other do not stretch each other's timings.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn call(steps: Vec<Step>, streaming: bool) -> Outcome {
    let _turn = ONE_AT_A_TIME.lock().await;
    let fakes = AgentFakes::start(Latencies::default()).await.unwrap();
    let deps: AgentDeps = if streaming {
        fakes.agent_deps_streaming(Duration::from_millis(150))
    } else {
        fakes.agent_deps()
    };
    let script = Scripts::load(None)
        .unwrap()
        .default_script()
        .unwrap()
        .clone();
    let (mut line, callee) =
        SimulatedLine::start(steps, Duration::from_millis(100), Duration::from_secs(2));
    let settings = DialogSettings::default();
    let report = tokio::time::timeout(
        Duration::from_secs(90),
        run_call(&mut line, &script, &deps, &settings, &Default::default()),
    )
    .await
    .expect("the call ended in time");
    Outcome {
        report,
        log: callee.log(),
        fakes,
    }
}

/// The caller's lines of the transcript.
fn caller_lines(o: &Outcome) -> Vec<String> {
    o.report
        .transcript
        .iter()
        .filter(|u| u.speaker == Speaker::Client)
        .map(|u| u.text.clone())
        .collect()
}

/// How many of the phrase's pauses the agent spoke into: its audio heard after a first part
/// ended and before the second part ended.
fn spoken_into(o: &Outcome, firsts: &[&str]) -> usize {
    let texts: Vec<&str> = firsts.iter().map(|n| clip(n).unwrap().text).collect();
    o.log
        .said
        .windows(2)
        .filter(|w| texts.contains(&w[0].0.as_str()))
        .filter(|w| {
            o.log
                .heard
                .iter()
                .any(|(at, _)| *at > w[0].2 && *at <= w[1].2)
        })
        .count()
}

#[tokio::test]
async fn a_caller_who_pauses_mid_sentence_is_not_cut_off() {
    let phrases = [
        ("office_1", "office_2", 500),
        ("storage_1", "storage_2", 900),
        ("budget_1", "budget_2", 900),
    ];
    let o = call(paused(&phrases), true).await;
    assert_eq!(spoken_into(&o, &["office_1", "storage_1", "budget_1"]), 0);
    assert_eq!(
        caller_lines(&o),
        vec![
            "Алло, да, слушаю.",
            "Мне нужен офис метров на двести.",
            "Нам нужен склад в Подольске, на тысячу метров.",
            "Бюджет у нас, ну, э-э около двух миллионов.",
        ],
        "each phrase is one turn"
    );

    // The batch path waits its fixed 600 ms: the 900 ms pauses end the turn, and the agent
    // answers half a sentence.
    let batch = call(paused(&phrases), false).await;
    assert!(
        spoken_into(&batch, &["storage_1", "budget_1"]) >= 1,
        "{:?}",
        caller_lines(&batch)
    );
    assert!(
        caller_lines(&batch).contains(&"Нам нужен склад в".to_string()),
        "{:?}",
        caller_lines(&batch)
    );
}

#[tokio::test]
async fn a_dictated_phone_number_is_not_cut_between_its_groups() {
    let o = call(paused(&[("phone_1", "phone_2", 1100)]), true).await;
    assert_eq!(spoken_into(&o, &["phone_1"]), 0);
    assert_eq!(
        caller_lines(&o)[1],
        "Мой номер восемь девятьсот шестнадцать сто двадцать три, сорок пять, шестьдесят семь."
    );
    let batch = call(paused(&[("phone_1", "phone_2", 1100)]), false).await;
    assert_eq!(
        caller_lines(&batch)[1],
        "Мой номер восемь девятьсот шестнадцать",
        "the fixed pause cuts the number"
    );
}

#[tokio::test]
async fn an_early_reply_is_thrown_away_unheard_when_the_caller_goes_on_and_kept_when_not() {
    let steps = vec![
        say("hello", quiet()),
        say("storage_1", quiet()),
        say("storage_2", Cue::After(Duration::from_millis(900))),
        say("expensive", quiet()),
    ];
    let o = call(steps, true).await;
    // The model was asked early on the half sentence (at the pause) ...
    let asked: Vec<String> = o
        .fakes
        .chat_requests()
        .iter()
        .filter_map(|r| {
            r["messages"]
                .as_array()?
                .iter()
                .rev()
                .find(|m| m["role"] == "user")
                .and_then(|m| m["content"].as_str())
                .map(str::to_string)
        })
        .collect();
    assert!(
        asked.iter().any(|t| t == "Нам нужен склад в"),
        "an early request on the interim text: {asked:?}"
    );
    // ... but that reply was never heard, nor kept: the agent's lines alternate with the
    // caller's, each answering a whole phrase.
    assert_eq!(spoken_into(&o, &["storage_1"]), 0);
    let sides: Vec<Speaker> = o.report.transcript.iter().map(|u| u.speaker).collect();
    assert_eq!(
        sides,
        [
            Speaker::Agent,
            Speaker::Client,
            Speaker::Agent,
            Speaker::Client,
            Speaker::Agent,
            Speaker::Client,
            Speaker::Agent
        ]
    );
    let early = o.report.early_replies;
    assert!(early.started > early.committed, "{early:?}");
    // The whole phrases said without a pause (turns 1 and 3) were answered by their early reply:
    // the model's first token came before the final text. Turn 2, said in two parts, is answered
    // by an early reply only when the interim text of its second part is in before the caller's
    // last pause; on a slow debug build it may not be, and the final text answers it.
    assert!(early.committed >= 2, "{early:?}");
    for t in &o.report.turns {
        let (first, fin) = (t.llm_first_token_ms.unwrap(), t.stt_done_ms.unwrap());
        if t.turn != 2 {
            assert!(first < fin, "{t:?}");
        }
        // Each turn names its vendors and what they did, for the per-vendor figures.
        assert_eq!(t.stt_vendor.as_deref(), Some("bench"));
        assert_eq!(t.tts_vendor.as_deref(), Some("openai"));
        assert!(!t.stt_fallback);
        assert!(
            t.speech_ms.unwrap() > 500 && t.tts_chars.unwrap() > 5,
            "{t:?}"
        );
    }
}
