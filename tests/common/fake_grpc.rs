//! Local fakes of the vendors' gRPC streaming recognition, built on the same protos as the
//! clients: SaluteSpeech `SmartSpeech/Recognize` (bearer tokens of the REST fake) and SpeechKit
//! v3 `Recognizer/RecognizeStreaming` (`Api-Key`). Both hear speech by its tone, send a partial
//! hypothesis every half second of audio and the final when the utterance ends; a switch resets
//! the stream mid-utterance.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use callops::speech::grpc::salute_proto::{
    recognition_request::Request, smart_speech_server, Hypothesis, RecognitionRequest,
    RecognitionResponse,
};
use callops::speech::grpc::yandex_proto::{
    self, recognizer_server, streaming_request::Event as YRequest,
    streaming_response::Event as YEvent, Alternative, AlternativeUpdate, AudioCursors,
    FinalRefinement, StreamingRequest, StreamingResponse,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tokio_stream::Stream;
use tonic::{Request as GrpcRequest, Response, Status, Streaming};

use super::fake_salute::{heard, FakeSalute};

type Out<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

#[derive(Default)]
pub struct GrpcState {
    /// Reset the stream once this many audio bytes came (0: never).
    pub reset_after_bytes: AtomicUsize,
    pub streams: AtomicUsize,
    pub refused: AtomicUsize,
    /// Sample rates the clients announced.
    pub rates: Mutex<Vec<i64>>,
}

/// Half a second of 16-bit audio at `rate`.
fn half_second(rate: u32) -> usize {
    rate as usize
}

struct Salute {
    rest: Arc<FakeSalute>,
    st: Arc<GrpcState>,
}

#[tonic::async_trait]
impl smart_speech_server::SmartSpeech for Salute {
    type RecognizeStream = Out<RecognitionResponse>;

    async fn recognize(
        &self,
        request: GrpcRequest<Streaming<RecognitionRequest>>,
    ) -> Result<Response<Self::RecognizeStream>, Status> {
        let token = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("")
            .to_string();
        if !self.rest.token_is_valid(&token) {
            self.st.refused.fetch_add(1, Ordering::SeqCst);
            return Err(Status::unauthenticated("Token has expired"));
        }
        self.st.streams.fetch_add(1, Ordering::SeqCst);
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(16);
        let st = self.st.clone();
        tokio::spawn(async move {
            let mut rate = 8000;
            let mut audio = Vec::new();
            let mut next_partial = 0;
            let reply = |text: String, eou: bool| RecognitionResponse {
                results: vec![Hypothesis {
                    text: text.to_lowercase(),
                    normalized_text: text,
                    ..Default::default()
                }],
                eou,
                ..Default::default()
            };
            loop {
                match inbound.message().await {
                    Ok(Some(RecognitionRequest {
                        request: Some(Request::Options(o)),
                    })) => {
                        rate = o.sample_rate as u32;
                        st.rates.lock().unwrap().push(i64::from(o.sample_rate));
                        next_partial = half_second(rate);
                    }
                    Ok(Some(RecognitionRequest {
                        request: Some(Request::AudioChunk(bytes)),
                    })) => {
                        audio.extend_from_slice(&bytes);
                        let reset = st.reset_after_bytes.load(Ordering::SeqCst);
                        if reset > 0 && audio.len() >= reset {
                            let _ = tx
                                .send(Err(Status::unavailable("stream reset by peer")))
                                .await;
                            return;
                        }
                        if audio.len() >= next_partial {
                            next_partial += half_second(rate);
                            let _ = tx.send(Ok(reply(heard(&audio, rate), false))).await;
                        }
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        if !audio.is_empty() {
                            let _ = tx.send(Ok(reply(heard(&audio, rate), true))).await;
                        }
                        return;
                    }
                    Err(_) => return,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

pub const YANDEX_KEY: &str = "AQVN-test-api-key";

struct Yandex {
    st: Arc<GrpcState>,
}

fn update(text: &str) -> Option<AlternativeUpdate> {
    Some(AlternativeUpdate {
        alternatives: vec![Alternative {
            text: text.to_string(),
            ..Default::default()
        }],
    })
}

#[tonic::async_trait]
impl recognizer_server::Recognizer for Yandex {
    type RecognizeStreamingStream = Out<StreamingResponse>;

    async fn recognize_streaming(
        &self,
        request: GrpcRequest<Streaming<StreamingRequest>>,
    ) -> Result<Response<Self::RecognizeStreamingStream>, Status> {
        let auth = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if auth != format!("Api-Key {YANDEX_KEY}") {
            self.st.refused.fetch_add(1, Ordering::SeqCst);
            return Err(Status::unauthenticated("Unknown api key"));
        }
        self.st.streams.fetch_add(1, Ordering::SeqCst);
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(16);
        let st = self.st.clone();
        tokio::spawn(async move {
            let mut rate = 8000u32;
            let mut audio = Vec::new();
            let mut next_partial = 0;
            let respond = |event| StreamingResponse {
                audio_cursors: Some(AudioCursors {
                    final_index: 7,
                    ..Default::default()
                }),
                event: Some(event),
                ..Default::default()
            };
            loop {
                match inbound.message().await {
                    Ok(Some(StreamingRequest {
                        event: Some(YRequest::SessionOptions(o)),
                    })) => {
                        let raw = o
                            .recognition_model
                            .and_then(|m| m.audio_format)
                            .and_then(|f| f.audio_format);
                        if let Some(yandex_proto::audio_format_options::AudioFormat::RawAudio(r)) =
                            raw
                        {
                            rate = r.sample_rate_hertz as u32;
                            st.rates.lock().unwrap().push(r.sample_rate_hertz);
                        }
                        next_partial = half_second(rate);
                    }
                    Ok(Some(StreamingRequest {
                        event: Some(YRequest::Chunk(c)),
                    })) => {
                        audio.extend_from_slice(&c.data);
                        let reset = st.reset_after_bytes.load(Ordering::SeqCst);
                        if reset > 0 && audio.len() >= reset {
                            let _ = tx
                                .send(Err(Status::unavailable("stream reset by peer")))
                                .await;
                            return;
                        }
                        if audio.len() >= next_partial {
                            next_partial += half_second(rate);
                            let text = heard(&audio, rate).to_lowercase();
                            let _ = tx
                                .send(Ok(respond(YEvent::Partial(update(&text).unwrap()))))
                                .await;
                        }
                    }
                    Ok(Some(StreamingRequest {
                        event: Some(YRequest::Eou(_)),
                    })) => {
                        let text = heard(&audio, rate);
                        let _ = tx
                            .send(Ok(respond(YEvent::Final(
                                update(&text.to_lowercase()).unwrap(),
                            ))))
                            .await;
                        let _ = tx
                            .send(Ok(respond(YEvent::FinalRefinement(FinalRefinement {
                                final_index: 7,
                                r#type: Some(yandex_proto::final_refinement::Type::NormalizedText(
                                    update(&text).unwrap(),
                                )),
                            }))))
                            .await;
                        audio.clear();
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => return,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

pub struct FakeGrpc {
    /// `http://127.0.0.1:port`
    pub url: String,
    pub state: Arc<GrpcState>,
}

impl FakeGrpc {
    /// Serves both vendors' recognition on one port; SaluteSpeech tokens are checked against
    /// `rest`.
    pub async fn start(rest: Arc<FakeSalute>) -> Self {
        let state = Arc::new(GrpcState::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = tonic::transport::Server::builder()
            .add_service(smart_speech_server::SmartSpeechServer::new(Salute {
                rest,
                st: state.clone(),
            }))
            .add_service(recognizer_server::RecognizerServer::new(Yandex {
                st: state.clone(),
            }));
        tokio::spawn(async move {
            let _ = router
                .serve_with_incoming(TcpListenerStream::new(listener))
                .await;
        });
        Self {
            url: format!("http://{addr}"),
            state,
        }
    }
}
