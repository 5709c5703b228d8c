//! SaluteSpeech streaming recognition over gRPC: the options first (PCM at the line's rate,
//! partial results on), then the audio; hypotheses with `eou` are final. The bearer token is the
//! REST client's; a stream refused as unauthenticated drops it, so the next one gets a new token.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

use super::salute_proto::recognition_options::AudioEncoding;
use super::salute_proto::recognition_request::Request;
use super::salute_proto::smart_speech_client::SmartSpeechClient;
use super::salute_proto::{RecognitionOptions, RecognitionRequest, RecognitionResponse};
use super::status_text;
use crate::speech::salute::SaluteClient;
use crate::speech::streaming::{Interim, SpeechStream, StreamError, StreamInput};

pub struct SaluteStream {
    client: Arc<SaluteClient>,
    channel: Channel,
    model: String,
}

impl SaluteStream {
    pub fn new(client: Arc<SaluteClient>, grpc_url: &str, model: &str) -> Result<Self, String> {
        Ok(Self {
            client,
            channel: super::channel(grpc_url)?,
            model: model.to_string(),
        })
    }

    fn fail(reason: String) -> StreamError {
        StreamError {
            vendor: "salute",
            reason,
        }
    }
}

/// The best text of a response.
fn best_text(r: &RecognitionResponse) -> String {
    r.results
        .first()
        .map(|h| {
            if h.normalized_text.trim().is_empty() {
                h.text.trim().to_string()
            } else {
                h.normalized_text.trim().to_string()
            }
        })
        .unwrap_or_default()
}

#[async_trait]
impl SpeechStream for SaluteStream {
    fn vendor(&self) -> &'static str {
        "salute"
    }

    async fn recognize(
        &self,
        rate: u32,
        input: mpsc::UnboundedReceiver<StreamInput>,
        interim: Interim,
    ) -> Result<String, StreamError> {
        let token = self
            .client
            .token()
            .await
            .map_err(|e| Self::fail(e.to_string()))?;
        let options = RecognitionRequest {
            request: Some(Request::Options(RecognitionOptions {
                audio_encoding: AudioEncoding::PcmS16le as i32,
                sample_rate: i32::try_from(rate).unwrap_or(8000),
                language: "ru-RU".into(),
                model: self.model.clone(),
                hypotheses_count: 1,
                enable_partial_results: true,
                enable_multi_utterance: true,
                channels_count: 1,
                ..Default::default()
            })),
        };
        // Audio until the turn ends; then the request stream closes and the final comes back.
        let audio = tokio_stream::wrappers::UnboundedReceiverStream::new(input)
            .take_while(|i| matches!(i, StreamInput::Audio(_)))
            .filter_map(|i| match i {
                StreamInput::Audio(bytes) => Some(RecognitionRequest {
                    request: Some(Request::AudioChunk(bytes)),
                }),
                StreamInput::End => None,
            });
        let requests = tokio_stream::once(options).chain(audio);
        let mut request = tonic::Request::new(requests);
        let bearer = format!("Bearer {token}")
            .parse()
            .map_err(|_| Self::fail("the token is not a valid header".into()))?;
        request.metadata_mut().insert("authorization", bearer);
        let mut client = SmartSpeechClient::new(self.channel.clone());
        let mut responses = match client.recognize(request).await {
            Ok(r) => r.into_inner(),
            Err(s) => {
                if s.code() == tonic::Code::Unauthenticated {
                    self.client.forget_token(&token).await;
                }
                return Err(Self::fail(status_text(&s)));
            }
        };
        let mut finals: Vec<String> = Vec::new();
        loop {
            match responses.message().await {
                Ok(Some(r)) => {
                    let text = best_text(&r);
                    if r.eou {
                        if !text.is_empty() {
                            finals.push(text);
                        }
                        interim.set(&finals.join(" "));
                    } else if !text.is_empty() {
                        let so_far: Vec<&str> = finals
                            .iter()
                            .map(String::as_str)
                            .chain(std::iter::once(text.as_str()))
                            .collect();
                        interim.set(&so_far.join(" "));
                    }
                }
                Ok(None) => return Ok(finals.join(" ")),
                Err(s) => {
                    if s.code() == tonic::Code::Unauthenticated {
                        self.client.forget_token(&token).await;
                    }
                    return Err(Self::fail(status_text(&s)));
                }
            }
        }
    }
}
