//! Streaming recognition of live utterances against local gRPC fakes speaking the vendors' protos:
//! interim text while the caller speaks and the final after; a stream reset mid-utterance handed
//! to batch recognition without losing the turn; a token refused mid-call replaced for the next
//! utterance; SpeechKit's normalised finals.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use callops::speech::audio::tone;
use callops::speech::grpc::{SaluteStream, YandexAuth, YandexStream};
use callops::speech::salute::{SaluteClient, SaluteConfig, SaluteStt};
use callops::speech::streaming::StreamingRecognizer;
use callops::speech::{Heard, Recognizer};
use common::fake_grpc::{FakeGrpc, YANDEX_KEY};
use common::fake_openai::{CLIENT_LINE, MANAGER_LINE};
use common::fake_salute::{FakeSalute, AUTH_KEY};

struct Rig {
    rest: Arc<FakeSalute>,
    grpc: FakeGrpc,
    client: Arc<SaluteClient>,
}

async fn rig() -> Rig {
    callops::http::install_crypto();
    let rest = Arc::new(FakeSalute::start().await);
    let grpc = FakeGrpc::start(rest.clone()).await;
    let client = SaluteClient::new(SaluteConfig {
        auth_url: rest.auth_url.clone(),
        api_url: rest.url.clone(),
        auth_key: AUTH_KEY.into(),
        scope: "SALUTE_SPEECH_PERS".into(),
        backoff: Duration::from_millis(10),
    });
    Rig { rest, grpc, client }
}

impl Rig {
    fn salute(&self) -> StreamingRecognizer {
        let stream = SaluteStream::new(self.client.clone(), &self.grpc.url, "callcenter").unwrap();
        let fallback = SaluteStt::new(self.client.clone(), "callcenter");
        StreamingRecognizer::new(Arc::new(stream), Arc::new(fallback))
    }

    fn yandex(&self, key: &str) -> StreamingRecognizer {
        let stream = YandexStream::new(
            &self.grpc.url,
            YandexAuth::ApiKey(key.into()),
            Some("b1g-folder".into()),
            "general",
        )
        .unwrap();
        let fallback = SaluteStt::new(self.client.clone(), "callcenter");
        StreamingRecognizer::new(Arc::new(stream), Arc::new(fallback))
    }
}

/// Speaks `secs` of a tone into a session in 20 ms frames at real pace; returns the interim
/// texts seen on the way.
async fn speak(
    session: &mut Box<dyn callops::speech::RecognitionSession>,
    freq: f32,
    secs: f32,
) -> Vec<String> {
    let samples: Vec<i16> = tone(freq, secs, 8000)
        .iter()
        .map(|s| (s * 32767.0) as i16)
        .collect();
    let mut seen = Vec::new();
    for frame in samples.chunks(160) {
        session.push(frame);
        tokio::time::sleep(Duration::from_millis(5)).await;
        if let Some(t) = session.interim() {
            if seen.last() != Some(&t) {
                seen.push(t);
            }
        }
    }
    seen
}

#[tokio::test]
async fn salute_streams_interim_text_while_the_caller_speaks_then_the_final() {
    let r = rig().await;
    let rec = r.salute();
    let mut s = rec.open(8000);
    let interim = speak(&mut s, 440.0, 1.6).await;
    assert_eq!(
        interim,
        vec![MANAGER_LINE.to_string()],
        "interim text before the end"
    );
    assert_eq!(s.finish().await.unwrap(), Heard::text(MANAGER_LINE));
    assert_eq!(r.grpc.state.streams.load(Ordering::SeqCst), 1);
    assert_eq!(r.grpc.state.rates.lock().unwrap().clone(), vec![8000]);
    assert_eq!(r.rest.calls_to("speech:recognize"), 0, "no batch upload");
}

#[tokio::test]
async fn a_stream_reset_mid_utterance_hands_the_turn_to_batch_recognition() {
    let r = rig().await;
    r.grpc.state.reset_after_bytes.store(8000, Ordering::SeqCst); // after 0.5 s
    let rec = r.salute();
    let mut s = rec.open(8000);
    speak(&mut s, 880.0, 1.2).await;
    assert_eq!(
        s.finish().await.unwrap(),
        Heard {
            text: CLIENT_LINE.into(),
            fell_back: true
        },
        "the turn is not lost"
    );
    assert_eq!(
        r.rest.calls_to("speech:recognize"),
        1,
        "the whole utterance, by batch"
    );
}

#[tokio::test]
async fn a_token_refused_mid_call_is_replaced_and_the_next_utterance_streams_again() {
    let r = rig().await;
    let rec = r.salute();
    let mut s = rec.open(8000);
    speak(&mut s, 440.0, 0.6).await;
    assert_eq!(s.finish().await.unwrap(), Heard::text(MANAGER_LINE));
    r.rest.revoke_tokens();
    // The stream is refused: batch recognition (which fetches a new token) takes the turn...
    let mut s = rec.open(8000);
    speak(&mut s, 880.0, 0.6).await;
    assert_eq!(
        s.finish().await.unwrap(),
        Heard {
            text: CLIENT_LINE.into(),
            fell_back: true
        }
    );
    assert_eq!(r.grpc.state.refused.load(Ordering::SeqCst), 1);
    // ...and the next utterance streams on the new token.
    let mut s = rec.open(8000);
    speak(&mut s, 440.0, 0.6).await;
    assert_eq!(s.finish().await.unwrap(), Heard::text(MANAGER_LINE));
    assert_eq!(r.grpc.state.streams.load(Ordering::SeqCst), 2);
    assert_eq!(r.rest.state.token_requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn speechkit_streams_partials_and_gives_the_normalised_final() {
    let r = rig().await;
    let rec = r.yandex(YANDEX_KEY);
    let mut s = rec.open(8000);
    let interim = speak(&mut s, 880.0, 1.2).await;
    assert_eq!(interim, vec![CLIENT_LINE.to_lowercase()]);
    assert_eq!(
        s.finish().await.unwrap(),
        Heard::text(CLIENT_LINE),
        "the refinement replaces the final"
    );
    assert_eq!(r.grpc.state.rates.lock().unwrap().clone(), vec![8000]);

    // A wrong key: refused, and batch recognition answers.
    let rec = r.yandex("wrong");
    let mut s = rec.open(8000);
    speak(&mut s, 440.0, 0.6).await;
    assert_eq!(
        s.finish().await.unwrap(),
        Heard {
            text: MANAGER_LINE.into(),
            fell_back: true
        }
    );
    assert_eq!(r.grpc.state.refused.load(Ordering::SeqCst), 1);
}

/// A fake of SpeechKit v3 `utteranceSynthesis`: NDJSON audio chunks, then a text-only line.
async fn fake_yandex_tts() -> (String, Arc<std::sync::Mutex<Vec<serde_json::Value>>>) {
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    use base64::Engine;
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let bodies = seen.clone();
    let app = axum::Router::new().route(
        "/tts/v3/utteranceSynthesis",
        axum::routing::post(
            move |headers: HeaderMap, axum::Json(body): axum::Json<serde_json::Value>| {
                let bodies = bodies.clone();
                async move {
                    if headers.get("authorization").and_then(|v| v.to_str().ok())
                        != Some(&format!("Api-Key {YANDEX_KEY}"))
                    {
                        return (StatusCode::UNAUTHORIZED, r#"{"error":"Unknown api key"}"#)
                            .into_response();
                    }
                    bodies.lock().unwrap().push(body);
                    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
                    let lines = [
                        format!(
                            r#"{{"result":{{"audioChunk":{{"data":"{}"}},"startMs":"0"}}}}"#,
                            b64(&[1, 0, 2, 0])
                        ),
                        format!(
                            r#"{{"result":{{"audioChunk":{{"data":"{}"}},"startMs":"1"}}}}"#,
                            b64(&[3, 0])
                        ),
                        r#"{"result":{"audioChunk":null,"textChunk":{"text":"Алло"}}}"#.to_string(),
                    ];
                    (StatusCode::OK, lines.join("\n") + "\n").into_response()
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
async fn speechkit_synthesis_streams_its_ndjson_audio_at_the_telephone_rate() {
    use callops::speech::{Tts, TtsError, TtsFormat, YandexTts};
    use futures::StreamExt;
    callops::http::install_crypto();
    let (url, seen) = fake_yandex_tts().await;
    let tts = YandexTts::new(&url, YandexAuth::ApiKey(YANDEX_KEY.into()), None, "alena");
    let mut stream = tts.synthesize("Алло!", TtsFormat::Pcm).await.unwrap();
    assert_eq!(stream.sample_rate, 8000);
    let mut audio = Vec::new();
    while let Some(chunk) = stream.chunks.next().await {
        audio.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(audio, vec![1, 0, 2, 0, 3, 0]);
    let body = seen.lock().unwrap()[0].clone();
    assert_eq!(body["text"], "Алло!");
    assert_eq!(body["hints"][0]["voice"], "alena");
    assert_eq!(body["outputAudioSpec"]["rawAudio"]["sampleRateHertz"], 8000);

    let wrong = YandexTts::new(&url, YandexAuth::ApiKey("wrong".into()), None, "alena");
    let err = wrong
        .synthesize("Алло!", TtsFormat::Pcm)
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err, TtsError::Rejected(ref m) if m.contains("401")),
        "{err}"
    );
}
