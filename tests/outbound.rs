//! Outbound calls through a simulated trunk: the attempt is written before dialling, busy, no
//! answer and declined end as such, an answered call is talked through by the real engine
//! (against fake providers) and recorded, and nothing is ever dialled twice: not a placed attempt,
//! not one at the concurrency limit, not a number put on the do-not-call list after the request.

use std::sync::Arc;
use std::time::Duration;

use callops::agent::{CallControl, DialogSettings, Scripts};
use callops::bench::agent_fakes::{AgentFakes, Latencies};
use callops::domain::{NewOutboundCall, OutboundStatus, PhoneNumber, Speaker, StopRequest};
use callops::i18n::Lang;
use callops::notify::{Keyboard, Notifier, NotifyError, TextFormat};
use callops::outbound::live::LiveChat;
use callops::outbound::{Dialer, OutboundSettings, Placed, RequestError};
use callops::store::Store;
use callops::telephony::simulated::{clip, Cue, Step};
use callops::telephony::trunk::{Scripted, SimulatedTrunk};

fn number(n: &str) -> PhoneNumber {
    PhoneNumber::parse(n).unwrap()
}

struct Harness {
    dialer: Dialer,
    trunk: Arc<SimulatedTrunk>,
    store: Arc<dyn Store>,
    fakes: AgentFakes,
}

async fn harness(concurrency: i64) -> Harness {
    callops::http::install_crypto();
    let store = callops::store::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    let fakes = AgentFakes::start(Latencies::default()).await.unwrap();
    let agent = fakes.agent_deps();
    let intake = callops::bench::call::agent_intake(store.clone());
    let trunk = Arc::new(SimulatedTrunk::new(Scripted::NoAnswer));
    let dialer = Dialer {
        store: store.clone(),
        trunk: trunk.clone(),
        agent,
        scripts: Arc::new(Scripts::load(None).unwrap()),
        default_script: "realty_cold".into(),
        dialog: DialogSettings::default(),
        intake,
        model: "gpt-4o-mini".into(),
        owner: "test-instance".into(),
        settings: OutboundSettings {
            concurrency,
            ring_timeout: Duration::from_millis(300),
            lease: Duration::from_secs(30),
            caller_id: Some(number("+74951234567")),
        },
        live: None,
        campaigns: None,
    };
    Harness {
        dialer,
        trunk,
        store,
        fakes,
    }
}

fn request(n: &str) -> NewOutboundCall {
    NewOutboundCall {
        phone: number(n),
        script: "realty_cold".into(),
        variables: serde_json::json!({}),
        requested_by: Some(7),
        chat_id: Some(-100),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_of_the_line_end_as_such_and_are_never_redialled() {
    let h = harness(2).await;
    h.trunk.script(
        &number("+79160000001"),
        Scripted::Busy(Duration::from_millis(50)),
    );
    h.trunk.script(
        &number("+79160000002"),
        Scripted::Decline(Duration::from_millis(50)),
    );
    h.trunk.script(
        &number("+79160000004"),
        Scripted::Fail("403 Forbidden".into()),
    );
    let control = CallControl::default();
    for (n, want) in [
        ("+79160000001", OutboundStatus::Busy),
        ("+79160000002", OutboundStatus::Declined),
        ("+79160000003", OutboundStatus::NoAnswer),
        ("+79160000004", OutboundStatus::Failed),
    ] {
        let a = h.dialer.request(request(n)).await.unwrap();
        assert_eq!(a.status, OutboundStatus::Queued);
        assert_eq!(
            h.dialer.place(a.id, &control).await.unwrap(),
            Placed::Done(want),
            "{n}"
        );
        let stored = h.store.outbound_call(a.id).await.unwrap().unwrap();
        assert_eq!(stored.status, want);
        assert!(stored.ended_at.is_some());
        // Placing it again (a retried job, another instance) dials nothing.
        assert_eq!(
            h.dialer.place(a.id, &control).await.unwrap(),
            Placed::NotQueued(want)
        );
    }
    let failed = h.store.outbound_call(4).await.unwrap().unwrap();
    assert_eq!(failed.reason.as_deref(), Some("403 Forbidden"));
    assert_eq!(
        h.trunk.dialled().len(),
        4,
        "each number dialled exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_do_not_call_list_is_checked_at_the_request_and_again_before_dialling() {
    let h = harness(2).await;
    h.store
        .add_do_not_call(&number("+79160000009"), "просил не звонить")
        .await
        .unwrap();
    assert!(matches!(
        h.dialer.request(request("+79160000009")).await,
        Err(RequestError::DoNotCall)
    ));
    let a = h.dialer.request(request("+79160000008")).await.unwrap();
    // Between the request and the dial, the callee opts out (another call, an admin).
    h.store
        .add_do_not_call(&number("+79160000008"), "opt-out")
        .await
        .unwrap();
    assert_eq!(
        h.dialer.place(a.id, &CallControl::default()).await.unwrap(),
        Placed::Done(OutboundStatus::Failed)
    );
    let stored = h.store.outbound_call(a.id).await.unwrap().unwrap();
    assert!(stored.reason.unwrap().contains("do-not-call"));
    assert!(h.trunk.dialled().is_empty(), "nothing was dialled");
    assert!(matches!(
        h.dialer
            .request(NewOutboundCall {
                script: "no_such_script".into(),
                ..request("+79160000007")
            })
            .await,
        Err(RequestError::UnknownScript(..))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_limit_an_attempt_waits_queued_without_dialling() {
    let h = harness(1).await;
    h.trunk.script(
        &number("+79160000001"),
        Scripted::Busy(Duration::from_millis(250)),
    );
    let a = h.dialer.request(request("+79160000001")).await.unwrap();
    let b = h.dialer.request(request("+79160000002")).await.unwrap();
    let control = CallControl::default();
    let (ra, rb) = tokio::join!(h.dialer.place(a.id, &control), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        h.dialer.place(b.id, &control).await
    });
    assert_eq!(ra.unwrap(), Placed::Done(OutboundStatus::Busy));
    assert_eq!(rb.unwrap(), Placed::AtCapacity);
    assert_eq!(
        h.store.outbound_call(b.id).await.unwrap().unwrap().status,
        OutboundStatus::Queued
    );
    assert_eq!(h.trunk.dialled(), vec![number("+79160000001")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_answered_call_is_talked_through_and_recorded() {
    let h = harness(2).await;
    h.trunk.script(
        &number("+79161112233"),
        Scripted::Answer {
            ring: Duration::from_millis(100),
            steps: vec![
                Step::Say(
                    clip("hello").unwrap(),
                    Cue::After(Duration::from_millis(200)),
                ),
                Step::Say(
                    clip("optout").unwrap(),
                    Cue::AgentQuietFor(Duration::from_millis(300)),
                ),
            ],
            linger: Duration::from_secs(5),
        },
    );
    let a = h.dialer.request(request("+79161112233")).await.unwrap();
    let placed = tokio::time::timeout(
        Duration::from_secs(90),
        h.dialer.place(a.id, &CallControl::default()),
    )
    .await
    .expect("the call ended in time")
    .unwrap();
    assert_eq!(placed, Placed::Done(OutboundStatus::Ended));
    let stored = h.store.outbound_call(a.id).await.unwrap().unwrap();
    assert_eq!(stored.outcome.as_deref(), Some("not_interested"));
    assert!(stored.answered_at.is_some());
    let call_id = stored
        .call_id
        .expect("the conversation is stored as a call");
    let call = h.store.call(call_id).await.unwrap().unwrap();
    assert_eq!(call.provider, "agent");
    assert_eq!(call.called, "+79161112233");
    assert_eq!(call.caller, "+74951234567");
    assert!(!h.store.utterances(call_id).await.unwrap().is_empty());
    // Recorded in stereo: the agent on the left, the callee on the right, both audible.
    let (kind, wav) = h
        .store
        .recording(call_id)
        .await
        .unwrap()
        .expect("a recording");
    assert_eq!(kind, "audio/wav");
    let pcm = callops::speech::audio::decode(&wav, Some("wav")).unwrap();
    assert_eq!((pcm.sample_rate, pcm.channels.len()), (8000, 2));
    let loud = |c: &[f32]| c.iter().filter(|x| x.abs() > 0.03).count();
    assert!(
        loud(&pcm.channels[0]) > 8000,
        "the agent's voice on the left"
    );
    assert!(
        loud(&pcm.channels[1]) > 4000,
        "the callee's voice on the right"
    );
    let secs = pcm.channels[0].len() as f64 / 8000.0;
    let report = h.store.outbound_call(a.id).await.unwrap().unwrap();
    let talked =
        (report.ended_at.unwrap() - report.answered_at.unwrap()).num_milliseconds() as f64 / 1000.0;
    assert!(
        (secs - talked).abs() < 2.0,
        "as long as the call: {secs} s vs {talked} s"
    );
    // The opt-out put the number on the list: it is never called again.
    assert!(h
        .store
        .is_do_not_call(&number("+79161112233"))
        .await
        .unwrap());
    assert_eq!(h.trunk.dialled().len(), 1);
}

/// Every edit of a status message: (text, whether it still has buttons).
#[derive(Default)]
struct EditLog(std::sync::Mutex<Vec<(String, bool)>>);

#[async_trait::async_trait]
impl Notifier for EditLog {
    async fn send_message(
        &self,
        _: i64,
        _: &str,
        _: TextFormat,
        _: Option<&Keyboard>,
        _: Option<i32>,
    ) -> Result<i32, NotifyError> {
        Ok(1)
    }
    async fn edit_message(
        &self,
        chat_id: i64,
        message_id: i32,
        text: &str,
        _: TextFormat,
        keyboard: Option<&Keyboard>,
    ) -> Result<(), NotifyError> {
        assert_eq!(
            (chat_id, message_id),
            (-100, 555),
            "the call's own status message"
        );
        self.0
            .lock()
            .unwrap()
            .push((text.to_string(), keyboard.is_some()));
        Ok(())
    }
    async fn send_album(
        &self,
        _: i64,
        _: Vec<(String, Vec<u8>)>,
        _: &str,
    ) -> Result<i32, NotifyError> {
        Ok(1)
    }
    async fn send_document(
        &self,
        _: i64,
        _: &str,
        _: Vec<u8>,
        _: &str,
    ) -> Result<i32, NotifyError> {
        Ok(1)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_managers_hint_reaches_the_next_turn_and_a_hang_up_request_ends_the_call() {
    let mut h = harness(2).await;
    let edits = Arc::new(EditLog::default());
    h.dialer.live = Some(LiveChat {
        notifier: edits.clone(),
        default_lang: Lang::Ru,
    });
    h.trunk.script(
        &number("+79161112244"),
        Scripted::Answer {
            ring: Duration::from_millis(300),
            steps: vec![
                Step::Say(
                    clip("hello").unwrap(),
                    Cue::After(Duration::from_millis(200)),
                ),
                Step::Say(
                    clip("interested").unwrap(),
                    Cue::AgentQuietFor(Duration::from_millis(300)),
                ),
                Step::Say(
                    clip("expensive").unwrap(),
                    Cue::AgentQuietFor(Duration::from_millis(300)),
                ),
            ],
            linger: Duration::from_secs(60),
        },
    );
    let a = h.dialer.request(request("+79161112244")).await.unwrap();
    h.store.set_outbound_message(a.id, 555).await.unwrap();
    let dialer = Arc::new(h.dialer);
    let placing = {
        let d = dialer.clone();
        tokio::spawn(async move { d.place(a.id, &CallControl::default()).await })
    };
    let store = h.store.clone();
    let talking = || async {
        store.outbound_call(a.id).await.unwrap().unwrap().status == OutboundStatus::Talking
    };
    for _ in 0..200 {
        if talking().await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(talking().await, "the call is answered");
    assert!(h
        .store
        .add_outbound_hint(a.id, "Предложите скидку 10% до пятницы", Some(7))
        .await
        .unwrap());
    let hinted = || {
        h.fakes
            .chat_requests()
            .iter()
            .any(|r| r.to_string().contains("скидку 10% до пятницы"))
    };
    for _ in 0..600 {
        if hinted() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(hinted(), "the hint reached the model's next turn");
    // ⏹ in the chat (or the API), wherever the call runs: the agent says goodbye and hangs up,
    // long before the callee would.
    let asked = std::time::Instant::now();
    assert_eq!(
        h.store.request_outbound_stop(a.id).await.unwrap(),
        Some(StopRequest::Flagged)
    );
    let placed = tokio::time::timeout(Duration::from_secs(30), placing)
        .await
        .expect("the call ended after the hang-up request")
        .unwrap()
        .unwrap();
    assert_eq!(placed, Placed::Done(OutboundStatus::Ended));
    assert!(asked.elapsed() < Duration::from_secs(20));
    assert_eq!(
        h.store.request_outbound_stop(a.id).await.unwrap(),
        Some(StopRequest::AlreadyOver(OutboundStatus::Ended))
    );
    assert!(
        !h.store
            .add_outbound_hint(a.id, "поздно", None)
            .await
            .unwrap(),
        "no hints once it ended"
    );
    // The live transcript was written as it went: both sides, in order.
    let lines = h.store.outbound_lines(a.id).await.unwrap();
    assert!(lines.iter().any(|l| l.speaker == Speaker::Agent));
    assert!(lines.iter().any(|l| l.speaker == Speaker::Client));
    assert!(lines.windows(2).all(|w| w[0].seq + 1 == w[1].seq));
    // The status message went through the states and lost its button at the end.
    let edits = edits.0.lock().unwrap().clone();
    let texts: Vec<&str> = edits.iter().map(|(t, _)| t.as_str()).collect();
    assert!(
        texts.iter().any(|t| t.contains("Идёт разговор")),
        "{texts:#?}"
    );
    let (last, buttons) = edits.last().unwrap();
    assert!(last.contains("Разговор окончен"), "{last}");
    assert!(!buttons, "no ⏹ once it ended");
    assert!(
        edits[..edits.len() - 1].iter().all(|(_, b)| *b),
        "⏹ while it runs"
    );
    assert_eq!(h.trunk.dialled().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_up_a_queued_call_means_it_is_never_dialled() {
    let h = harness(2).await;
    let a = h.dialer.request(request("+79161112255")).await.unwrap();
    assert_eq!(
        h.store.request_outbound_stop(a.id).await.unwrap(),
        Some(StopRequest::Cancelled)
    );
    assert_eq!(
        h.dialer.place(a.id, &CallControl::default()).await.unwrap(),
        Placed::NotQueued(OutboundStatus::Failed)
    );
    assert!(h.trunk.dialled().is_empty());
    assert_eq!(h.store.request_outbound_stop(999).await.unwrap(), None);
}

/// A clip of the screening set as a simulated callee's phrase (the fake speech-to-text is taught
/// its words).
fn screening_clip(h: &Harness, file: &str) -> callops::telephony::simulated::Clip {
    let clips = callops::bench::screening::load(&callops::bench::screening::default_dir()).unwrap();
    let c = clips.into_iter().find(|c| c.file == file).unwrap();
    h.fakes.teach(&c.words, &c.samples);
    callops::telephony::simulated::Clip {
        name: Box::leak(c.file.into_boxed_str()),
        text: Box::leak(c.words.into_boxed_str()),
        samples: Arc::new(c.samples),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn voicemail_screener_and_menu_are_told_apart_and_handled_as_the_script_says() {
    use callops::agent::Greeting;
    use callops::domain::AnsweredBy;
    let mut h = harness(3).await;
    h.dialer.dialog.greeting = Greeting::AfterCallee {
        silence: Duration::from_millis(1500),
    };
    h.dialer.dialog.screening = Some(Default::default());
    let script = Scripts::load(None)
        .unwrap()
        .get("realty_cold")
        .unwrap()
        .clone();
    let intro = script.screening.screener_intro.clone().unwrap();
    let message = script.screening.voicemail_message.clone().unwrap();
    let cases = [
        ("+79160000101", "voicemail_01.wav", AnsweredBy::Voicemail),
        ("+79160000102", "screener_01.wav", AnsweredBy::Screener),
        ("+79160000103", "ivr_01.wav", AnsweredBy::Ivr),
    ];
    for (n, file, _) in &cases {
        let clip = screening_clip(&h, file);
        h.trunk.script(
            &number(n),
            Scripted::Answer {
                ring: Duration::from_millis(100),
                steps: vec![
                    Step::Say(clip, Cue::After(Duration::from_millis(300))),
                    Step::Hangup(Cue::AgentQuietFor(Duration::from_millis(1500))),
                ],
                linger: Duration::from_secs(30),
            },
        );
    }
    for (n, file, who) in cases {
        let a = h.dialer.request(request(n)).await.unwrap();
        let placed = tokio::time::timeout(
            Duration::from_secs(60),
            h.dialer.place(a.id, &CallControl::default()),
        )
        .await
        .expect("the call ended in time")
        .unwrap();
        assert_eq!(placed, Placed::Done(OutboundStatus::Ended), "{file}");
        let stored = h.store.outbound_call(a.id).await.unwrap().unwrap();
        assert_eq!(stored.answered_by, Some(who), "{file}");
        let log = h
            .trunk
            .callees()
            .into_iter()
            .find(|(p, _)| *p == number(n))
            .unwrap()
            .1
            .log();
        let frames: Vec<_> = log.heard.iter().map(|(_, f)| f.clone()).collect();
        let heard: Vec<String> = h
            .fakes
            .decode_heard(&frames)
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        let said = |text: &str| heard.iter().any(|h| text.contains(h.as_str()));
        match who {
            AnsweredBy::Voicemail => {
                // After the beep: the script's message, nothing else; no conversation to post.
                assert!(
                    !heard.is_empty() && heard.iter().all(|h| message.contains(h.as_str())),
                    "{heard:?}"
                );
                assert_eq!(stored.outcome.as_deref(), Some("no_conversation"));
                assert_eq!(stored.call_id, None);
                let beep_at = log.said[0].2;
                let first_word = log.heard.iter().find(|(_, f)| f.rms() > 500.0).unwrap().0;
                assert!(first_word >= beep_at, "the message starts after the beep");
            }
            AnsweredBy::Screener => {
                assert!(
                    said(&intro),
                    "the agent introduced itself to the screener: {heard:?}"
                );
                assert!(
                    !heard.iter().any(|h| h.contains("Удобно говорить")),
                    "not the greeting meant for a person: {heard:?}"
                );
                assert!(stored.call_id.is_some(), "a conversation took place");
            }
            AnsweredBy::Ivr => {
                assert!(heard.is_empty(), "not a word to a menu: {heard:?}");
                assert_eq!(stored.call_id, None);
            }
            _ => unreachable!(),
        }
    }
}
