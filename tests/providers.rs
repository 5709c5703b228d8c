//! Provider clients against local fakes: malformed LLM answers (repaired or fed back), JSON modes,
//! the transcription formats per model, Novofon 1.0 and 2.0 paging, auth errors and limits.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use callops::analysis::analyze::analyse;
use callops::analysis::transcribe::transcribe;
use callops::analysis::Profiles;
use callops::domain::Utterance;
use callops::llm::{JsonMode, LlmClient, PriceTable};
use callops::speech::audio::{stereo_wav_bytes, tone};
use callops::speech::OpenAiStt;
use callops::telephony::novofon_v1::{NovofonV1, NovofonV1Config};
use callops::telephony::novofon_v2::{NovofonV2, NovofonV2Config};
use callops::telephony::{CallSource, TelephonyError};
use chrono::Utc;
use common::fake_novofon::{self, FakeCall, FakeNovofon};
use common::fake_openai::{self, realty_answer, FakeOpenAi};

fn llm(url: &str, mode: JsonMode) -> LlmClient {
    LlmClient::new(url, fake_openai::KEY, "gpt-4o", mode, PriceTable::default())
}

fn transcript() -> Vec<Utterance> {
    vec![Utterance {
        speaker: callops::domain::Speaker::Client,
        start_ms: 0,
        end_ms: 1000,
        text: "Нужна двушка".into(),
    }]
}

#[tokio::test]
async fn malformed_llm_answers_are_repaired_or_fed_back() {
    let fake = FakeOpenAi::start().await;
    let client = llm(&fake.url, JsonMode::JsonSchema);
    let profiles = Profiles::load(None).unwrap();
    let profile = profiles.get("realty_lead").unwrap();
    let good = realty_answer("warm", 6);
    let v: serde_json::Value = serde_json::from_str(&good).unwrap();
    let with = |key: &str, val: serde_json::Value| {
        let mut x = v.clone();
        x[key] = val;
        x.to_string()
    };
    // Repaired locally: one attempt.
    let repairable = vec![
        ("code fence", format!("```json\n{good}\n```")),
        (
            "prose around",
            format!("Вот результат анализа:\n{good}\nЕсли нужно, уточню."),
        ),
        (
            "trailing commas",
            good.replacen('}', ",}", 1)
                .replace("\"objections\":[]", "\"objections\":[\"дорого\",]"),
        ),
        (
            "rating as text",
            with("interest_rating", serde_json::json!("6/10")),
        ),
        ("bool as word", with("has_buyers", serde_json::json!("да"))),
        (
            "enum in capitals",
            with("lead_category", serde_json::json!("WARM")),
        ),
        (
            "lone string for a list",
            with("next_steps", serde_json::json!("Перезвонить в пятницу")),
        ),
        (
            "double-encoded",
            serde_json::Value::String(good.clone()).to_string(),
        ),
    ];
    for (name, answer) in &repairable {
        fake.script(&[answer]);
        let a = analyse(&client, profile, &transcript(), false, "")
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            a.replies.len(),
            1,
            "{name}: repaired without another request"
        );
        assert_eq!(a.result["lead_category"], "warm", "{name}");
        assert!(a.result["interest_rating"].is_i64(), "{name}");
    }
    // Not repairable: the validation error goes back, the second answer is used.
    let mut m = v.clone();
    m.as_object_mut().unwrap().remove("summary");
    let missing_field = m.to_string();
    let wrong = vec![
        ("missing field", missing_field),
        (
            "rating out of range",
            with("interest_rating", serde_json::json!(14)),
        ),
        (
            "unknown category",
            with("lead_category", serde_json::json!("lukewarm")),
        ),
        ("empty answer", String::new()),
        (
            "refusal",
            "Извините, я не могу помочь с этим запросом.".into(),
        ),
        ("an array", "[1, 2, 3]".into()),
        (
            "truncated",
            good.chars().take(good.chars().count() / 2).collect(),
        ),
    ];
    for (name, answer) in &wrong {
        let before = fake.chat_requests().len();
        fake.script(&[answer, &good]);
        let a = analyse(&client, profile, &transcript(), false, "")
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(a.replies.len(), 2, "{name}");
        let second = &fake.chat_requests()[before + 1];
        let msgs = second["messages"].as_array().unwrap();
        assert_eq!(
            msgs.len(),
            4,
            "{name}: system, user, the bad answer, the complaint"
        );
        assert!(
            msgs[3]["content"]
                .as_str()
                .unwrap()
                .contains("не прошёл проверку"),
            "{name}"
        );
    }
    assert!(repairable.len() + wrong.len() >= 10);
    // Hopeless: three bad answers fail with the reason.
    fake.script(&["нет", "{}", "[]"]);
    let err = analyse(&client, profile, &transcript(), false, "")
        .await
        .unwrap_err();
    assert!(
        !err.transient && err.reason.contains("3 attempts"),
        "{}",
        err.reason
    );
    assert_eq!(err.replies.len(), 3);
}

#[tokio::test]
async fn json_object_mode_puts_the_schema_in_the_prompt_and_outages_are_transient() {
    let fake = FakeOpenAi::start().await;
    let profiles = Profiles::load(None).unwrap();
    let a = analyse(
        &llm(&fake.url, JsonMode::JsonObject),
        profiles.get("cold_call").unwrap(),
        &transcript(),
        true,
        "",
    )
    .await
    .unwrap();
    assert_eq!(a.result["outcome"], "callback");
    let req = &fake.chat_requests()[0];
    assert_eq!(req["response_format"]["type"], "json_object");
    assert!(req["messages"][0]["content"]
        .as_str()
        .unwrap()
        .contains("\"decision_maker_reached\""));
    assert!(req["messages"][1]["content"]
        .as_str()
        .unwrap()
        .contains("одноканальная"));

    fake.state.chat_500.store(10, Ordering::SeqCst);
    let err = analyse(
        &llm(&fake.url, JsonMode::JsonSchema),
        profiles.get("realty_lead").unwrap(),
        &transcript(),
        false,
        "",
    )
    .await
    .unwrap_err();
    assert!(
        err.transient,
        "a 5xx outage is worth retrying later: {}",
        err.reason
    );
    let wrong_key = LlmClient::new(
        &fake.url,
        "sk-wrong",
        "gpt-4o",
        JsonMode::JsonSchema,
        PriceTable::default(),
    );
    let err = analyse(
        &wrong_key,
        profiles.get("realty_lead").unwrap(),
        &transcript(),
        false,
        "",
    )
    .await
    .unwrap_err();
    assert!(
        !err.transient && err.reason.contains("401"),
        "{}",
        err.reason
    );
}

#[tokio::test]
async fn transcription_uses_json_for_gpt4o_models_and_labels_stereo_channels() {
    let fake = FakeOpenAi::start().await;
    let wav = stereo_wav_bytes(&tone(440.0, 3.0, 8000), &tone(880.0, 3.0, 8000), 8000);
    let stt = OpenAiStt::new(&fake.url, fake_openai::KEY, "gpt-4o-transcribe")
        .with_backoff(Duration::from_millis(10), Duration::from_secs(10));
    let roles = vec![
        callops::domain::Speaker::Client,
        callops::domain::Speaker::Manager,
    ];
    let t = transcribe(&stt, wav, Some("wav"), &roles, Default::default())
        .await
        .unwrap();
    assert!(!t.mono);
    assert_eq!(t.utterances.len(), 2);
    assert!(
        t.utterances
            .iter()
            .any(|u| u.speaker == "client" && u.text == fake_openai::MANAGER_LINE),
        "CHANNEL_ROLES decide the labels"
    );
    let formats = fake.state.stt_formats.lock().unwrap().clone();
    assert!(formats.iter().all(|(_, f)| f == "json"), "{formats:?}");

    let mono = callops::speech::audio::wav_bytes(&tone(880.0, 2.0, 16000), 16000);
    let whisper = OpenAiStt::new(&fake.url, fake_openai::KEY, "whisper-1")
        .with_backoff(Duration::from_millis(10), Duration::from_secs(10));
    let t = transcribe(&whisper, mono, Some("wav"), &roles, Default::default())
        .await
        .unwrap();
    assert!(t.mono);
    assert_eq!(t.utterances[0].speaker, "unknown");
    assert_eq!(t.utterances[0].start_ms, 2500);

    let err = transcribe(
        &whisper,
        &b"<html>oops</html>"[..],
        Some("mp3"),
        &roles,
        Default::default(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("bad audio"), "{err}");
}

fn fake_calls(n: usize) -> Vec<FakeCall> {
    let start = (Utc::now() - chrono::Duration::minutes(5))
        .with_timezone(&chrono_tz::Europe::Moscow)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    (0..n)
        .map(|i| FakeCall {
            pbx_call_id: format!("in_{i}"),
            call_id: format!("{}", 7000 + i),
            callstart: start.clone(),
            clid: format!("7916000{i:04}"),
            destination: "74951234567".into(),
            disposition: "answered".into(),
            seconds: 30 + i as i64,
            recorded: true,
            audio: stereo_wav_bytes(&tone(440.0, 1.0, 8000), &tone(880.0, 1.0, 8000), 8000),
        })
        .collect()
}

fn v1(url: &str, secret: &str) -> NovofonV1 {
    NovofonV1::new(NovofonV1Config {
        provider: callops::telephony::novofon_v1::PROVIDER,
        base_url: url.into(),
        key: fake_novofon::KEY.into(),
        secret: secret.into(),
        timezone: chrono_tz::Europe::Moscow,
        stats_interval: Duration::from_millis(5),
        backoff: Duration::from_millis(10),
        page_size: 2,
        max_recording_bytes: 1024 * 1024,
    })
}

#[tokio::test]
async fn novofon_v1_pages_signs_backs_off_and_guards_recordings() {
    let fake = FakeNovofon::start(fake_calls(5)).await;
    let client = v1(&fake.url, fake_novofon::SECRET);
    let now = Utc::now();
    let calls = client
        .list_calls(now - chrono::Duration::hours(2), now)
        .await
        .unwrap();
    assert_eq!(calls.len(), 5);
    assert_eq!(
        fake.state.stats_requests.load(Ordering::SeqCst),
        3,
        "pages of 2: 2 + 2 + 1"
    );
    assert!(calls.iter().all(|c| c.recorded && c.answered));
    assert_eq!(
        calls[1].duration_secs, 31,
        "numbers sent as strings are read"
    );
    assert_eq!(calls[0].recording_ref.as_deref(), Some("7000"));
    assert_eq!(
        calls[1].recording_ref, None,
        "a call_id sent as a JSON number may have lost digits: use pbx_call_id"
    );
    let (bytes, _) = client
        .fetch_recording(&calls[1].provider_call_id, None)
        .await
        .unwrap();
    assert!(bytes.starts_with(b"RIFF"), "fetched by pbx_call_id");

    fake.state.stats_429.store(2, Ordering::SeqCst);
    assert_eq!(
        client
            .list_calls(now - chrono::Duration::hours(2), now)
            .await
            .unwrap()
            .len(),
        5,
        "429s are waited out"
    );
    fake.state.stats_429.store(10, Ordering::SeqCst);
    assert!(matches!(
        client
            .list_calls(now - chrono::Duration::hours(2), now)
            .await,
        Err(TelephonyError::RateLimited(_))
    ));
    fake.state.stats_429.store(0, Ordering::SeqCst);

    let wrong = v1(&fake.url, "wrong-secret");
    let err = wrong
        .list_calls(now - chrono::Duration::hours(2), now)
        .await
        .unwrap_err();
    assert!(matches!(err, TelephonyError::Auth(_)), "{err}");

    fake.state.html_downloads.store(1, Ordering::SeqCst);
    let err = client
        .fetch_recording("in_1", Some("7001"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, TelephonyError::NotReady(_)) && err.is_transient(),
        "{err}"
    );
    let (bytes, ext) = client.fetch_recording("in_1", Some("7001")).await.unwrap();
    assert_eq!(ext, "wav");
    assert!(bytes.starts_with(b"RIFF"));
    let err = client
        .fetch_recording("in_x", Some("nope"))
        .await
        .unwrap_err();
    assert!(
        err.is_transient(),
        "a missing record may still appear: {err}"
    );
}

#[tokio::test]
async fn novofon_v2_pages_maps_errors_and_guards_recordings() {
    let fake = FakeNovofon::start(fake_calls(5)).await;
    let cfg = |token: &str| NovofonV2Config {
        data_api_url: format!("{}/v2.0", fake.url),
        media_url: fake.url.clone(),
        access_token: token.into(),
        timezone: chrono_tz::Europe::Moscow,
        backoff: Duration::from_millis(10),
        page_size: 2,
        max_recording_bytes: 1024 * 1024,
    };
    let client = NovofonV2::new(cfg(fake_novofon::V2_TOKEN));
    let now = Utc::now();
    let calls = client
        .list_calls(now - chrono::Duration::hours(2), now)
        .await
        .unwrap();
    assert_eq!(calls.len(), 5);
    assert_eq!(fake.state.v2_requests.load(Ordering::SeqCst), 3);
    assert_eq!(calls[0].caller, "79160000000");
    assert_eq!(calls[0].recording_ref.as_deref(), Some("7000/rec7000"));

    fake.state.v2_limit_errors.store(1, Ordering::SeqCst);
    assert!(matches!(
        client
            .list_calls(now - chrono::Duration::hours(2), now)
            .await,
        Err(TelephonyError::RateLimited(_))
    ));
    let err = NovofonV2::new(cfg("bad"))
        .list_calls(now - chrono::Duration::hours(2), now)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("NOVOFON_ACCESS_TOKEN"), "{err}");

    fake.state.html_downloads.store(1, Ordering::SeqCst);
    assert!(client
        .fetch_recording("7000", Some("7000/rec7000"))
        .await
        .unwrap_err()
        .is_transient());
    let (bytes, _) = client
        .fetch_recording("7000", Some("7000/rec7000"))
        .await
        .unwrap();
    assert!(bytes.starts_with(b"RIFF"));
}

#[tokio::test]
async fn provider_timeouts_are_transient_and_recover() {
    let fake = FakeOpenAi::start().await;
    fake.state.stt_delay_ms.store(400, Ordering::SeqCst);
    let stt = OpenAiStt::new(&fake.url, fake_openai::KEY, "whisper-1")
        .with_backoff(Duration::from_millis(10), Duration::from_millis(150));
    let wav = callops::speech::audio::wav_bytes(&tone(440.0, 1.0, 16000), 16000);
    let err = callops::speech::Stt::transcribe(&stt, wav.clone(), 1000)
        .await
        .unwrap_err();
    assert!(
        matches!(err, callops::speech::SttError::Transient(_)),
        "{err}"
    );
    assert_eq!(
        fake.state.stt_requests.load(Ordering::SeqCst),
        4,
        "retried before giving up"
    );
    fake.state.stt_delay_ms.store(0, Ordering::SeqCst);
    assert_eq!(
        callops::speech::Stt::transcribe(&stt, wav, 1000)
            .await
            .unwrap()
            .len(),
        1
    );

    fake.state.chat_delay_ms.store(400, Ordering::SeqCst);
    let slow = LlmClient::with_timeout(
        &fake.url,
        fake_openai::KEY,
        "gpt-4o",
        JsonMode::JsonSchema,
        PriceTable::default(),
        Duration::from_millis(150),
    );
    let profiles = Profiles::load(None).unwrap();
    let err = analyse(
        &slow,
        profiles.get("realty_lead").unwrap(),
        &transcript(),
        false,
        "",
    )
    .await
    .unwrap_err();
    assert!(
        err.transient,
        "a timeout is worth retrying later: {}",
        err.reason
    );
    fake.state.chat_delay_ms.store(0, Ordering::SeqCst);
    assert!(analyse(
        &slow,
        profiles.get("realty_lead").unwrap(),
        &transcript(),
        false,
        ""
    )
    .await
    .is_ok());
}
