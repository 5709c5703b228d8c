//! SaluteSpeech against a local fake of its REST API: the token cached, refreshed when it is about
//! to expire and again when it is refused mid-call; 429s waited out; recordings through the
//! asynchronous API with their times; synthesis at the telephone rate; the settings; and the
//! whole pipeline with `STT_PROVIDER=salute`, OpenAI's speech never asked.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use callops::config::{Config, Purpose};
use callops::speech::audio::{stereo_wav_bytes, tone, wav_bytes};
use callops::speech::salute::{SaluteClient, SaluteConfig, SaluteStt, SaluteTts};
use callops::speech::{Stt, SttError, Tts, TtsFormat};
use common::fake_novofon::{self, FakeCall, FakeNovofon};
use common::fake_openai::{self, FakeOpenAi, CLIENT_LINE, MANAGER_LINE};
use common::fake_salute::{FakeSalute, AUTH_KEY};
use common::fake_telegram::{FakeTelegram, TOKEN};
use futures::StreamExt;

fn client(fake: &FakeSalute, key: &str) -> Arc<SaluteClient> {
    callops::http::install_crypto();
    SaluteClient::new(SaluteConfig {
        auth_url: fake.auth_url.clone(),
        api_url: fake.url.clone(),
        auth_key: key.to_string(),
        scope: "SALUTE_SPEECH_PERS".into(),
        backoff: Duration::from_millis(10),
    })
}

fn clip(freq: f32, secs: f32) -> Vec<u8> {
    wav_bytes(&tone(freq, secs, 8000), 8000)
}

async fn heard(stt: &SaluteStt, wav: Vec<u8>) -> String {
    let segments = stt.transcribe(wav, 1500).await.expect("recognised");
    callops::speech::joined_text(&segments)
}

#[tokio::test]
async fn the_token_is_reused_and_fetched_again_when_it_is_refused_mid_call() {
    let fake = FakeSalute::start().await;
    let c = client(&fake, AUTH_KEY);
    let stt = SaluteStt::new(c.clone(), "callcenter");
    let tts = SaluteTts::new(c, "May");
    assert_eq!(heard(&stt, clip(440.0, 1.5)).await, MANAGER_LINE);
    assert_eq!(heard(&stt, clip(880.0, 1.5)).await, CLIENT_LINE);
    tts.synthesize("Добрый день!", TtsFormat::Pcm)
        .await
        .unwrap();
    assert_eq!(
        fake.state.token_requests.load(Ordering::SeqCst),
        1,
        "one token for recognition and synthesis"
    );
    // The token stops working mid-call: the next request is refused once, then succeeds.
    fake.revoke_tokens();
    assert_eq!(heard(&stt, clip(440.0, 1.5)).await, MANAGER_LINE);
    assert_eq!(fake.state.unauthorized.load(Ordering::SeqCst), 1);
    assert_eq!(fake.state.token_requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_token_about_to_expire_is_replaced_before_it_is_used() {
    let fake = FakeSalute::start().await;
    // Tokens that expire in 30 s: inside the margin, so never used for a request.
    fake.state.token_ttl_ms.store(30_000, Ordering::SeqCst);
    let stt = SaluteStt::new(client(&fake, AUTH_KEY), "general");
    heard(&stt, clip(440.0, 1.0)).await;
    heard(&stt, clip(440.0, 1.0)).await;
    assert_eq!(fake.state.token_requests.load(Ordering::SeqCst), 2);
    assert_eq!(fake.state.unauthorized.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn rate_limits_are_waited_out_and_a_bad_key_is_refused_at_once() {
    let fake = FakeSalute::start().await;
    let stt = SaluteStt::new(client(&fake, AUTH_KEY), "general");
    fake.state.rate_limit_next.store(2, Ordering::SeqCst);
    assert_eq!(heard(&stt, clip(880.0, 1.0)).await, CLIENT_LINE);
    assert_eq!(fake.calls_to("speech:recognize"), 3);

    // Past its attempts, a 429 is a transient failure (the job retries later).
    let live = SaluteStt::new(client(&fake, AUTH_KEY), "general").with_attempts(2);
    fake.state.rate_limit_next.store(5, Ordering::SeqCst);
    let err = live.transcribe(clip(440.0, 1.0), 1000).await.unwrap_err();
    assert!(
        matches!(err, SttError::Transient(ref m) if m.contains("429")),
        "{err}"
    );
    fake.state.rate_limit_next.store(0, Ordering::SeqCst);

    let wrong = SaluteStt::new(client(&fake, "d3Jvbmc6a2V5"), "general");
    let err = wrong.transcribe(clip(440.0, 1.0), 1000).await.unwrap_err();
    assert!(
        matches!(err, SttError::Rejected(ref m) if m.contains("SALUTE_AUTH_KEY")),
        "{err}"
    );
    let junk = stt
        .transcribe(b"not audio".to_vec(), 1000)
        .await
        .unwrap_err();
    assert!(matches!(junk, SttError::Rejected(_)), "{junk}");
}

#[tokio::test]
async fn recordings_go_through_the_asynchronous_api_with_their_times() {
    let fake = FakeSalute::start().await;
    let stt = SaluteStt::new(client(&fake, AUTH_KEY), "callcenter")
        .always_async()
        .with_polling(Duration::from_millis(20), Duration::from_secs(10));
    let mut samples = tone(440.0, 4.0, 8000);
    samples.extend(tone(880.0, 2.0, 8000));
    let segments = stt
        .transcribe(wav_bytes(&samples, 8000), 6000)
        .await
        .unwrap();
    let got: Vec<(i64, i64, &str)> = segments
        .iter()
        .map(|s| (s.start_ms, s.end_ms, s.text.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (0, 2000, MANAGER_LINE),
            (2000, 4000, MANAGER_LINE),
            (4000, 6000, CLIENT_LINE)
        ]
    );
    let options = fake.state.async_options.lock().unwrap()[0].clone();
    assert_eq!(options["audio_encoding"], "PCM_S16LE");
    assert_eq!(options["sample_rate"], 8000);
    assert_eq!(options["channels_count"], 1);
    assert_eq!(options["model"], "callcenter");
    assert!(fake.calls_to("task:get") >= 2, "asked until done");
    assert_eq!(fake.calls_to("speech:recognize"), 0);
}

#[tokio::test]
async fn synthesis_gives_telephone_pcm_at_the_voice_rate() {
    let fake = FakeSalute::start().await;
    let tts = SaluteTts::new(client(&fake, AUTH_KEY), "May");
    let mut stream = tts.synthesize("Алло!", TtsFormat::Pcm).await.unwrap();
    assert_eq!(stream.sample_rate, 8000);
    let mut bytes = 0;
    while let Some(chunk) = stream.chunks.next().await {
        bytes += chunk.unwrap().len();
    }
    assert_eq!(bytes, 8000 * 2 / 2, "0.5 s of 16-bit audio at 8 kHz");
    let opus = tts.synthesize("Алло!", TtsFormat::Opus).await.unwrap();
    assert_eq!(opus.sample_rate, 24000);
    let seen = fake.state.syntheses.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            ("pcm16".into(), "May_8000".into(), "Алло!".into()),
            ("opus".into(), "May_24000".into(), "Алло!".into())
        ]
    );
}

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn providers_are_chosen_per_use_and_checked() {
    use callops::config::SpeechUse;
    use callops::speech::SpeechVendor;
    let cfg = Config::from_values(
        &values(&[
            ("AGENT_STT_PROVIDER", "salute"),
            ("SALUTE_AUTH_KEY", AUTH_KEY),
        ]),
        Purpose::Tooling,
    )
    .unwrap();
    assert_eq!(cfg.speech.stt(SpeechUse::Recordings), SpeechVendor::OpenAi);
    assert_eq!(cfg.speech.stt(SpeechUse::Calls), SpeechVendor::Salute);
    assert_eq!(cfg.speech.tts(SpeechUse::Calls), SpeechVendor::OpenAi);

    let no_key = Config::from_values(&values(&[("STT_PROVIDER", "salute")]), Purpose::Tooling)
        .unwrap_err()
        .to_string();
    assert!(no_key.contains("SALUTE_AUTH_KEY"), "{no_key}");
    let unknown = Config::from_values(&values(&[("TTS_PROVIDER", "google")]), Purpose::Tooling)
        .unwrap_err()
        .to_string();
    assert!(unknown.contains("TTS_PROVIDER"), "{unknown}");
    let scope = Config::from_values(
        &values(&[("SALUTE_AUTH_KEY", AUTH_KEY), ("SALUTE_SCOPE", "PERS")]),
        Purpose::Tooling,
    )
    .unwrap_err()
    .to_string();
    assert!(scope.contains("SALUTE_SCOPE"), "{scope}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recordings_are_transcribed_by_salute_speech_when_it_is_chosen() {
    const TEAM: i64 = -1_003_000;
    let audio = stereo_wav_bytes(&tone(440.0, 4.0, 8000), &tone(880.0, 4.0, 8000), 8000);
    let call = FakeCall {
        pbx_call_id: "in_salute".into(),
        call_id: "2001.1".into(),
        callstart: (chrono::Utc::now() - chrono::Duration::minutes(10))
            .with_timezone(&chrono_tz::Europe::Moscow)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
        clid: "79161112233".into(),
        destination: "74951234567".into(),
        disposition: "answered".into(),
        seconds: 95,
        recorded: true,
        audio,
    };
    let tg = FakeTelegram::start().await;
    let pbx = FakeNovofon::start(vec![call]).await;
    let ai = FakeOpenAi::start().await;
    let salute = FakeSalute::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/salute.db", dir.path().display());
    let team = TEAM.to_string();
    let cfg = common::config(
        &[
            ("DATABASE_URL", &db),
            ("HTTP_ADDR", "127.0.0.1:0"),
            ("TELEGRAM_BOT_TOKEN", TOKEN),
            ("TELEGRAM_API_URL", &tg.url),
            ("TELEGRAM_CHAT_ID", &team),
            ("TELEGRAM_CHAT_INTERVAL_MS", "0"),
            ("TELEGRAM_GROUP_INTERVAL_MS", "0"),
            ("NOVOFON_API_URL", &pbx.url),
            ("NOVOFON_API_KEY", fake_novofon::KEY),
            ("NOVOFON_API_SECRET", fake_novofon::SECRET),
            ("NOVOFON_POLL_SECS", "1"),
            ("NOVOFON_STATS_INTERVAL_MS", "10"),
            ("NOVOFON_NUMBERS", "+7 (495) 123-45-67"),
            ("RECORDING_DELAY_SECS", "0"),
            ("OPENAI_API_KEY", fake_openai::KEY),
            ("OPENAI_BASE_URL", &ai.url),
            ("RETRY_BASE_MS", "20"),
            ("STT_PROVIDER", "salute"),
            ("SALUTE_AUTH_KEY", AUTH_KEY),
            ("SALUTE_AUTH_URL", &salute.auth_url),
            ("SALUTE_API_URL", &salute.url),
        ],
        Purpose::Run,
    );
    let app = callops::app::start(cfg).await.expect("app starts");
    common::eventually(60, "the protocol is posted", || async {
        tg.texts_to(TEAM).iter().any(|t| t.contains("ЗВОНОК"))
    })
    .await;
    // Both channels went through SaluteSpeech's asynchronous API; OpenAI only analysed.
    assert_eq!(salute.calls_to("data:upload"), 2);
    assert_eq!(ai.state.stt_requests.load(Ordering::SeqCst), 0);
    let prompt = ai.chat_requests()[0].to_string();
    assert!(
        prompt.contains("агентство «Квартал»")
            || prompt.contains("агентство \\u00abКвартал\\u00bb"),
        "the transcript reached the analysis"
    );
    app.stop().await;
}

#[tokio::test]
async fn check_gets_a_salute_token_and_says_what_is_wrong() {
    let fake = FakeSalute::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/check.db", dir.path().display());
    let run = |key: &'static str| {
        let (db, auth) = (db.clone(), fake.auth_url.clone());
        async move {
            let cfg = common::config(
                &[
                    ("DATABASE_URL", &db),
                    ("STT_PROVIDER", "salute"),
                    ("SALUTE_AUTH_KEY", key),
                    ("SALUTE_AUTH_URL", &auth),
                ],
                Purpose::Tooling,
            );
            let rows = callops::check::run_checks(&cfg).await;
            rows.into_iter().find(|r| r.service == "salute").unwrap()
        }
    };
    let good = run(AUTH_KEY).await;
    assert_eq!(good.ok, Some(true), "{}", good.detail);
    let bad = run("d3Jvbmc6a2V5").await;
    assert_eq!(bad.ok, Some(false));
    assert!(bad.detail.contains("SALUTE_AUTH_KEY"), "{}", bad.detail);
    assert!(!bad.detail.contains("d3Jvbmc6a2V5"), "the key is not shown");
}
