//! The live dialog engine over a simulated line: a scripted Russian-speaking callee (espeak-ng
//! recordings), the real engine (earshot VAD, turn-taking, streaming LLM with tools, streamed TTS,
//! paced playout) and fake OpenAI-compatible providers speaking the real wire formats.

use std::sync::Arc;
use std::time::Duration;

use callops::agent::{
    run_call, AgentDeps, CallControl, CallEvent, CallReport, DialogSettings, EndReason, Scripts,
    Stage,
};
use callops::bench::agent_fakes::{AgentFakes, Latencies};
use callops::llm::{JsonMode, LlmClient, PriceTable};
use callops::speech::{BatchRecognizer, OpenAiStt, OpenAiTts};
use callops::telephony::simulated::{clip, CalleeLog, Cue, SimulatedLine, Step};

struct Outcome {
    report: CallReport,
    log: CalleeLog,
    fakes: AgentFakes,
    /// What the callee heard, sentence by sentence.
    heard: Vec<String>,
}

fn quiet(ms: u64) -> Cue {
    Cue::AgentQuietFor(Duration::from_millis(ms))
}

fn say(name: &str, cue: Cue) -> Step {
    Step::Say(clip(name).expect("clip"), cue)
}

async fn call(steps: Vec<Step>, settings: DialogSettings, linger: Duration) -> Outcome {
    call_with(steps, settings, linger, CallControl::default()).await
}

async fn call_with(
    steps: Vec<Step>,
    settings: DialogSettings,
    linger: Duration,
    control: CallControl,
) -> Outcome {
    call_script("realty_cold", steps, settings, linger, control).await
}

async fn call_script(
    script: &str,
    steps: Vec<Step>,
    settings: DialogSettings,
    linger: Duration,
    control: CallControl,
) -> Outcome {
    let fakes = AgentFakes::start(Latencies::default()).await.unwrap();
    let stt = OpenAiStt::new(&fakes.base_url, "sk-test", "gpt-4o-mini-transcribe")
        .with_backoff(Duration::from_millis(50), Duration::from_secs(5))
        .with_attempts(2);
    let deps = AgentDeps {
        recognizer: Arc::new(BatchRecognizer::new(Arc::new(stt))),
        llm: Arc::new(LlmClient::with_timeout(
            &fakes.base_url,
            "sk-test",
            "gpt-4o-mini",
            JsonMode::JsonSchema,
            PriceTable::default(),
            Duration::from_secs(10),
        )),
        tts: Arc::new(OpenAiTts::new(
            &fakes.base_url,
            "sk-test",
            "gpt-4o-mini-tts",
            "coral",
        )),
    };
    let scripts = Scripts::load(None).unwrap();
    let script = scripts.get(script).expect("a shipped script").clone();
    let (mut line, callee) = SimulatedLine::start(steps, Duration::from_millis(100), linger);
    let report = tokio::time::timeout(
        Duration::from_secs(90),
        run_call(&mut line, &script, &deps, &settings, &control),
    )
    .await
    .expect("the call ended in time");
    let log = callee.log();
    let frames: Vec<_> = log.heard.iter().map(|(_, f)| f.clone()).collect();
    let heard = fakes
        .decode_heard(&frames)
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    Outcome {
        report,
        log,
        fakes,
        heard,
    }
}

fn greeting() -> String {
    Scripts::load(None)
        .unwrap()
        .default_script()
        .unwrap()
        .greeting
        .clone()
}

/// The greeting as the splitter cuts it.
fn greeting_sentences() -> Vec<String> {
    vec![
        "Здравствуйте!".into(),
        "Меня зовут Анна, компания «Городская недвижимость».".into(),
        "Удобно говорить минуту?".into(),
    ]
}

#[tokio::test]
async fn greeting_then_contact_capture_ends_with_a_saved_contact() {
    let o = call(
        vec![say("hello", quiet(300)), say("contact", quiet(300))],
        DialogSettings::default(),
        Duration::from_secs(20),
    )
    .await;
    assert!(greeting().starts_with("Здравствуйте!"));
    assert_eq!(
        o.heard[..3],
        greeting_sentences()[..],
        "heard: {:?}",
        o.heard
    );
    assert_eq!(o.heard[3], "Отлично!");
    assert_eq!(o.heard[4], "Скажите, ваша компания сейчас ищет офис?");
    assert_eq!(o.heard.last().unwrap(), "Хорошего дня, до свидания!");
    let st = &o.report.state;
    assert_eq!(st.contact.name.as_deref(), Some("Иван"));
    assert_eq!(st.contact.role.as_deref(), Some("директор"));
    assert_eq!(st.contact.phone.as_deref(), Some("+79161234567"));
    assert_eq!(st.outcome.as_ref().unwrap().0, "interested");
    assert!(matches!(st.ending, Some(EndReason::Completed(_))));
    assert_eq!(st.turns, 2);
    assert!(o.log.agent_hung_up);
    // Transcript labelled and in order.
    let speakers: Vec<&str> = o
        .report
        .transcript
        .iter()
        .map(|u| u.speaker.as_str())
        .collect();
    assert_eq!(speakers, ["agent", "client", "agent", "client", "agent"]);
    assert_eq!(o.report.transcript[1].text, "Алло, да, слушаю.");
    assert!(o.report.transcript[3].text.starts_with("Меня зовут Иван"));
    // Every turn has all its milestones, in order.
    assert_eq!(o.report.turns.len(), 2);
    for t in &o.report.turns {
        let stt = t.stt_done_ms.unwrap();
        let ft = t.llm_first_token_ms.unwrap();
        let fs = t.first_sentence_ms.unwrap();
        let tb = t.tts_first_byte_ms.unwrap();
        let fa = t.first_audio_ms.unwrap();
        assert!(
            t.caller_end_ms < stt && stt <= ft && ft <= fs && fs <= tb && tb <= fa,
            "{t:?}"
        );
    }
    // The tool round: the follow-up request carried the tool results.
    let reqs = o.fakes.chat_requests();
    let last = reqs.last().unwrap();
    let msgs = last["messages"].as_array().unwrap();
    assert_eq!(msgs.last().unwrap()["role"], "tool");
    assert!(last["tools"].as_array().unwrap().len() >= 5);
    assert_eq!(last["stream"], true);
}

#[tokio::test]
async fn an_objection_gets_the_catalogue_answer_and_the_stage_moves() {
    let o = call(
        vec![
            say("hello", quiet(300)),
            say("expensive", quiet(300)),
            say("bye", quiet(300)),
        ],
        DialogSettings::default(),
        Duration::from_secs(20),
    )
    .await;
    assert!(o.heard.contains(&"Понимаю.".to_string()), "{:?}", o.heard);
    assert!(o
        .heard
        .contains(&"Давайте подберу под ваш бюджет?".to_string()));
    assert_eq!(o.heard.last().unwrap(), "Всего доброго, до свидания!");
    assert_eq!(o.report.state.stage, Stage::Closing);
    assert!(matches!(
        o.report.state.ending,
        Some(EndReason::Completed(_))
    ));
    // The system prompt of the objection turn carries the catalogue.
    let reqs = o.fakes.chat_requests();
    assert!(reqs[1]["messages"][0]["content"]
        .as_str()
        .unwrap()
        .contains("дорого"));
}

#[tokio::test]
async fn opt_out_says_goodbye_without_asking_the_model() {
    let o = call(
        vec![say("hello", quiet(300)), say("optout", quiet(300))],
        DialogSettings::default(),
        Duration::from_secs(20),
    )
    .await;
    let st = &o.report.state;
    assert!(st.opted_out);
    assert_eq!(st.ending, Some(EndReason::OptOut));
    assert_eq!(
        o.fakes.chat_requests().len(),
        1,
        "only the first turn asked the model"
    );
    let tail: Vec<&str> = o
        .heard
        .iter()
        .rev()
        .take(3)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            "Поняла вас.",
            "Больше не будем беспокоить.",
            "Всего доброго!"
        ]
    );
    assert!(o.log.agent_hung_up);
}

#[tokio::test]
async fn silence_is_reprompted_three_times_then_goodbye() {
    let settings = DialogSettings {
        reprompt_after: Duration::from_millis(800),
        ..DialogSettings::default()
    };
    let o = call(vec![], settings, Duration::from_secs(60)).await;
    assert_eq!(o.report.state.ending, Some(EndReason::Silence));
    let h: Vec<&str> = o.heard.iter().map(String::as_str).collect();
    assert_eq!(
        h[3..],
        [
            "Алло, вы меня слышите?",
            "Алло?",
            "Кажется, вас плохо слышно.",
            "Алло, вы на связи?",
            "Похоже, связь пропала.",
            "Я перезвоню позже.",
            "До свидания!"
        ]
    );
    assert_eq!(o.fakes.chat_requests().len(), 0);
    assert_eq!(
        o.report.state.outcome.as_ref().unwrap().0,
        "no_conversation"
    );
}

#[tokio::test]
async fn barge_in_mid_sentence_stops_the_agent_and_keeps_only_what_was_heard() {
    let o = call(
        vec![
            say("hello", quiet(300)),
            say("interested", quiet(300)),
            say(
                "interrupt",
                Cue::AgentTalkingFor(Duration::from_millis(700)),
            ),
            say("bye", quiet(300)),
        ],
        DialogSettings::default(),
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(o.report.barge_ins.len(), 1, "{:?}", o.report.barge_ins);
    let full = "Конечно. У нас офисы от тридцати до трёхсот метров у метро. Первый месяц без комиссии. Бизнес-центры класса B плюс. Как к вам обращаться?";
    // The callee never heard the end of the long reply.
    assert!(
        !o.heard.contains(&"Как к вам обращаться?".to_string()),
        "{:?}",
        o.heard
    );
    assert!(o.heard.contains(&"Конечно.".to_string()));
    assert!(o.heard.contains(&"Да, конечно, слушаю вас.".to_string()));
    // The agent stopped within the barge-in budget after the callee started.
    let (_, started, _) = o
        .log
        .said
        .iter()
        .find(|(t, _, _)| t.contains("Подождите"))
        .unwrap()
        .clone();
    let last_heard_before = o
        .log
        .heard
        .iter()
        .map(|(at, _)| *at)
        .filter(|at| *at >= started && *at < started + Duration::from_millis(1500))
        .max()
        .unwrap();
    let stopped_after = last_heard_before - started;
    assert!(
        stopped_after < Duration::from_millis(500),
        "{stopped_after:?}"
    );
    // History sent to the model holds the cut reply, not the full one.
    let reqs = o.fakes.chat_requests();
    let after = reqs
        .iter()
        .find(|r| {
            r["messages"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["content"].as_str().is_some_and(|c| c.contains("вопрос")))
        })
        .unwrap();
    let assistant: Vec<&str> = after["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "assistant")
        .filter_map(|m| m["content"].as_str())
        .collect();
    let cut = assistant
        .iter()
        .find(|c| c.starts_with("Конечно."))
        .unwrap();
    assert_ne!(*cut, full);
    assert!(cut.len() < full.len());
    let t = o
        .report
        .transcript
        .iter()
        .find(|u| u.speaker == "agent" && u.text.starts_with("Конечно."))
        .unwrap();
    assert_eq!(&t.text, cut);
    assert!(o.report.turns.iter().any(|t| t.barge_in_ms.is_some()));
}

#[tokio::test]
async fn a_backchannel_does_not_interrupt() {
    let o = call(
        vec![
            say("uhuh", Cue::AgentTalkingFor(Duration::from_millis(400))),
            say("bye", quiet(300)),
        ],
        DialogSettings::default(),
        Duration::from_secs(20),
    )
    .await;
    assert!(o.report.barge_ins.is_empty());
    assert_eq!(o.heard[..3], greeting_sentences()[..], "{:?}", o.heard);
    assert_eq!(o.report.state.turns, 1, "the backchannel is not a turn");
}

#[tokio::test]
async fn maximum_duration_ends_the_call_with_a_goodbye() {
    let settings = DialogSettings {
        max_duration: Duration::from_secs(6),
        ..DialogSettings::default()
    };
    let o = call(
        vec![
            say("hello", quiet(300)),
            say("interested", quiet(300)),
            say("interested", quiet(300)),
            say("interested", quiet(300)),
        ],
        settings,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(o.report.state.ending, Some(EndReason::MaxDuration));
    assert_eq!(o.heard.last().unwrap(), "До свидания!");
    assert!(o.heard.contains(&"Спасибо за разговор!".to_string()));
    assert!(
        o.report.duration < Duration::from_secs(12),
        "{:?}",
        o.report.duration
    );
}

#[tokio::test]
async fn a_callee_who_hangs_up_ends_the_call_with_the_cause() {
    let o = call(
        vec![
            say("hello", quiet(300)),
            Step::Hangup(Cue::After(Duration::from_millis(200))),
        ],
        DialogSettings::default(),
        Duration::from_secs(20),
    )
    .await;
    assert!(o.log.callee_hung_up);
    assert_eq!(
        o.report.state.ending,
        Some(EndReason::Hangup(
            callops::telephony::line::HangupCause::Remote
        ))
    );
}

#[tokio::test]
async fn the_greeting_can_wait_for_the_callees_first_words_or_their_silence() {
    let after_callee = DialogSettings {
        greeting: callops::agent::Greeting::AfterCallee {
            silence: Duration::from_secs(3),
        },
        ..DialogSettings::default()
    };
    // "Алло?" first: the greeting follows the end of their words, not the answer.
    let o = call(
        vec![say("hello", Cue::After(Duration::from_millis(100)))],
        after_callee.clone(),
        Duration::from_secs(8),
    )
    .await;
    let callee_done = o.log.said[0].2;
    let first_agent = o.log.heard.first().expect("the agent spoke").0;
    assert!(
        first_agent > callee_done,
        "greeted after the callee's words"
    );
    assert_eq!(o.heard[..3], greeting_sentences()[..], "{:?}", o.heard);

    // Silence: the greeting comes after the configured wait.
    let quiet_start = DialogSettings {
        greeting: callops::agent::Greeting::AfterCallee {
            silence: Duration::from_millis(800),
        },
        ..DialogSettings::default()
    };
    let o = call(vec![], quiet_start, Duration::from_secs(4)).await;
    let answered = o.log.answered_at.expect("answered");
    let first_agent = o.log.heard.first().expect("the agent spoke").0;
    let waited = first_agent - answered;
    assert!(
        waited >= Duration::from_millis(800) && waited < Duration::from_millis(2500),
        "greeted after {waited:?}"
    );
}

#[tokio::test]
async fn hanging_up_from_outside_says_goodbye_and_events_follow_the_call() {
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let control = CallControl {
        hang_up: tokio_util::sync::CancellationToken::new(),
        events: Some(tx),
        ..CallControl::default()
    };
    let hang_up = control.hang_up.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(6)).await;
        hang_up.cancel();
    });
    let o = call_with(
        vec![say("hello", quiet(300))],
        DialogSettings::default(),
        Duration::from_secs(30),
        control,
    )
    .await;
    assert_eq!(o.report.state.ending, Some(EndReason::Stopped));
    assert!(o.log.agent_hung_up, "the agent hung up");
    let goodbye = Scripts::load(None)
        .unwrap()
        .default_script()
        .unwrap()
        .goodbye_limit
        .clone();
    let last = o.heard.last().cloned().unwrap_or_default();
    assert!(
        goodbye.ends_with(&last),
        "{last:?} is the end of {goodbye:?}"
    );
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    assert_eq!(events.first(), Some(&CallEvent::Answered));
    assert!(events
        .iter()
        .any(|e| matches!(e, CallEvent::Line(u) if u.speaker == "agent" && u.text.starts_with("Здравствуйте"))));
    assert!(events
        .iter()
        .any(|e| matches!(e, CallEvent::Line(u) if u.speaker == "client" && !u.text.is_empty())));
    assert!(events.iter().any(|e| matches!(e, CallEvent::Turn(_))));
    assert_eq!(events.last(), Some(&CallEvent::Ended(EndReason::Stopped)));
}

#[tokio::test]
async fn a_script_with_a_disclosure_says_it_before_anything_else() {
    let o = call_script(
        "logistics_cold",
        vec![say("hello", quiet(300)), say("bye", quiet(300))],
        DialogSettings::default(),
        Duration::from_secs(20),
        CallControl::default(),
    )
    .await;
    assert_eq!(
        o.heard[..2],
        [
            "Это автоматический звонок компании «ВостокЛогистик».".to_string(),
            "Здравствуйте!".to_string()
        ],
        "{:?}",
        o.heard
    );
    // The model is told the call is automated and said so.
    let reqs = o.fakes.chat_requests();
    assert!(reqs[0]["messages"][0]["content"]
        .as_str()
        .unwrap()
        .contains("голосовой ассистент"));
}
