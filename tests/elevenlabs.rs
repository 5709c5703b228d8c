//! ElevenLabs synthesis against a fake of its HTTP streaming endpoint
//! (`POST /v1/text-to-speech/{voice_id}/stream?output_format=…`, `xi-api-key`): audio passed on
//! chunk by chunk, a 429 waited out, a bad key refused, and a live call over the simulated line
//! speaking in the voice its script names for ElevenLabs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use callops::agent::{run_call, DialogSettings, Scripts};
use callops::bench::agent_fakes::{AgentFakes, Latencies};
use callops::speech::{ElevenLabsTts, SpeechVendor, Tts, TtsError, TtsFormat};
use callops::telephony::simulated::{Cue, SimulatedLine, Step};
use futures::StreamExt;

mod common;

const KEY: &str = "xi-test-key";

#[derive(Default)]
struct Seen {
    /// (voice id, output format, body) of each accepted request.
    requests: Vec<(String, String, serde_json::Value)>,
    /// Answer this many requests with 429 first.
    busy: u32,
    refused: u32,
}

/// 200 ms of a 440 Hz tone at 16 kHz, as raw little-endian PCM.
fn tone() -> Vec<u8> {
    (0..3200)
        .map(|i| ((i as f32 * 440.0 * std::f32::consts::TAU / 16000.0).sin() * 8000.0) as i16)
        .flat_map(|s| s.to_le_bytes())
        .collect()
}

async fn fake() -> (String, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let state = seen.clone();
    let app = axum::Router::new()
        .route(
            "/v1/user",
            axum::routing::get(|headers: HeaderMap| async move {
                if headers.get("xi-api-key").and_then(|v| v.to_str().ok()) == Some(KEY) {
                    (StatusCode::OK, r#"{"subscription":{"tier":"creator"}}"#)
                } else {
                    (StatusCode::UNAUTHORIZED, r#"{"detail":{"status":"invalid_api_key"}}"#)
                }
            }),
        )
        .route(
        "/v1/text-to-speech/{voice}/stream",
        axum::routing::post(
            move |Path(voice): Path<String>,
                  Query(q): Query<std::collections::HashMap<String, String>>,
                  headers: HeaderMap,
                  axum::Json(body): axum::Json<serde_json::Value>| {
                let state = state.clone();
                async move {
                    if headers.get("xi-api-key").and_then(|v| v.to_str().ok()) != Some(KEY) {
                        state.lock().unwrap().refused += 1;
                        return (
                            StatusCode::UNAUTHORIZED,
                            r#"{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}"#,
                        )
                            .into_response();
                    }
                    {
                        let mut s = state.lock().unwrap();
                        if s.busy > 0 {
                            s.busy -= 1;
                            return (
                                StatusCode::TOO_MANY_REQUESTS,
                                r#"{"detail":{"status":"too_many_concurrent_requests"}}"#,
                            )
                                .into_response();
                        }
                        let format = q.get("output_format").cloned().unwrap_or_default();
                        s.requests.push((voice, format, body));
                    }
                    // The audio in three chunks, as a stream.
                    let audio = tone();
                    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
                        audio.chunks(2401).map(|c| Ok(c.to_vec())).collect();
                    let body = axum::body::Body::from_stream(futures::stream::iter(chunks));
                    (StatusCode::OK, [("content-type", "audio/pcm")], body).into_response()
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn elevenlabs_streams_pcm_for_calls_after_waiting_out_a_429_and_refuses_a_bad_key() {
    callops::http::install_crypto();
    let (url, seen) = fake().await;
    seen.lock().unwrap().busy = 1;
    let tts = ElevenLabsTts::new(&url, KEY, "eleven_flash_v2_5", "voice-anna")
        .with_backoff(Duration::from_millis(20));
    assert_eq!(tts.vendor(), SpeechVendor::ElevenLabs);
    let mut stream = tts
        .synthesize("Добрый день!", TtsFormat::Pcm)
        .await
        .unwrap();
    assert_eq!(stream.sample_rate, 16000);
    let mut audio = Vec::new();
    let mut chunks = 0;
    while let Some(c) = stream.chunks.next().await {
        audio.extend_from_slice(&c.unwrap());
        chunks += 1;
    }
    assert_eq!(audio, tone());
    assert!(chunks >= 1);
    {
        let s = seen.lock().unwrap();
        assert_eq!(s.busy, 0, "the 429 was answered and waited out");
        let (voice, format, body) = &s.requests[0];
        assert_eq!(voice, "voice-anna");
        assert_eq!(format, "pcm_16000");
        assert_eq!(body["text"], "Добрый день!");
        assert_eq!(body["model_id"], "eleven_flash_v2_5");
    }
    tts.synthesize_in("Алло", TtsFormat::Opus, Some("voice-dmitry"))
        .await
        .unwrap();
    {
        let s = seen.lock().unwrap();
        let (voice, format, _) = &s.requests[1];
        assert_eq!(
            (voice.as_str(), format.as_str()),
            ("voice-dmitry", "opus_48000_64")
        );
    }

    let wrong = ElevenLabsTts::new(&url, "nope", "eleven_flash_v2_5", "voice-anna");
    let err = wrong
        .synthesize("Алло", TtsFormat::Pcm)
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err, TtsError::Rejected(ref m) if m.contains("401")),
        "{err}"
    );
    assert_eq!(
        seen.lock().unwrap().refused,
        1,
        "a refused key is not retried"
    );
}

#[tokio::test]
async fn a_live_call_speaks_in_the_voice_its_script_names_for_the_vendor() {
    callops::http::install_crypto();
    let (url, seen) = fake().await;
    let fakes = AgentFakes::start(Latencies::default()).await.unwrap();
    let mut deps = fakes.agent_deps();
    deps.tts = Arc::new(ElevenLabsTts::new(
        &url,
        KEY,
        "eleven_flash_v2_5",
        "configured-voice",
    ));
    let mut script = Scripts::load(None)
        .unwrap()
        .get("logistics_cold")
        .unwrap()
        .clone();
    script
        .voice
        .insert("elevenlabs".into(), "dmitry-voice".into());
    let (mut line, callee) = SimulatedLine::start(
        vec![Step::Hangup(Cue::AgentQuietFor(Duration::from_millis(300)))],
        Duration::from_millis(50),
        Duration::from_secs(5),
    );
    let settings = DialogSettings::default();
    tokio::time::timeout(
        Duration::from_secs(30),
        run_call(&mut line, &script, &deps, &settings, &Default::default()),
    )
    .await
    .expect("the call ended");
    let log = callee.log();
    assert!(!log.heard.is_empty(), "the callee heard the greeting");
    let s = seen.lock().unwrap();
    assert!(!s.requests.is_empty());
    for (voice, format, _) in &s.requests {
        assert_eq!(
            (voice.as_str(), format.as_str()),
            ("dmitry-voice", "pcm_16000")
        );
    }
}

#[tokio::test]
async fn settings_and_check_know_elevenlabs() {
    use callops::config::{Config, Purpose};
    let (url, _) = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/check.db", dir.path().display());
    let run = |key: &'static str| {
        let (db, url) = (db.clone(), url.clone());
        async move {
            let cfg = common::config(
                &[
                    ("DATABASE_URL", &db),
                    ("TTS_PROVIDER", "elevenlabs"),
                    ("ELEVENLABS_API_KEY", key),
                    ("ELEVENLABS_API_URL", &url),
                ],
                Purpose::Tooling,
            );
            let rows = callops::check::run_checks(&cfg).await;
            rows.into_iter()
                .find(|r| r.service == "elevenlabs")
                .unwrap()
        }
    };
    let good = run(KEY).await;
    assert_eq!(good.ok, Some(true), "{}", good.detail);
    let bad = run("wrong-key-123").await;
    assert_eq!(bad.ok, Some(false));
    assert!(bad.detail.contains("ELEVENLABS_API_KEY"), "{}", bad.detail);
    assert!(!bad.detail.contains("wrong-key-123"));

    let refused = |pairs: &[(&str, &str)]| {
        let values = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_values(&values, Purpose::Run)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let e = refused(&[
        ("TELEGRAM_BOT_TOKEN", "1:x"),
        ("TTS_PROVIDER", "elevenlabs"),
    ]);
    assert!(e.contains("ELEVENLABS_API_KEY"), "{e}");
    let e = refused(&[
        ("TELEGRAM_BOT_TOKEN", "1:x"),
        ("STT_PROVIDER", "elevenlabs"),
        ("ELEVENLABS_API_KEY", "k"),
    ]);
    assert!(e.contains("synthesis only"), "{e}");
}
