//! Yandex SpeechKit v3 streaming recognition over gRPC: session options first (raw 16-bit PCM at
//! the line's rate, Russian, normalisation on, the end of utterance decided by callops), then the
//! audio, then an `eou` event when the turn ends. Partial results are interim text; finals (and
//! their normalised refinements) are the answer.

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

use super::status_text;
use super::yandex_proto::eou_classifier_options::Classifier;
use super::yandex_proto::final_refinement::Type as Refinement;
use super::yandex_proto::language_restriction_options::LanguageRestrictionType;
use super::yandex_proto::raw_audio::AudioEncoding;
use super::yandex_proto::recognizer_client::RecognizerClient;
use super::yandex_proto::streaming_request::Event as Request;
use super::yandex_proto::streaming_response::Event;
use super::yandex_proto::text_normalization_options::TextNormalization;
use super::yandex_proto::{
    audio_format_options::AudioFormat, AlternativeUpdate, AudioChunk, AudioFormatOptions, Eou,
    EouClassifierOptions, ExternalEouClassifier, LanguageRestrictionOptions, RawAudio,
    RecognitionModelOptions, StreamingOptions, StreamingRequest, TextNormalizationOptions,
};
use crate::speech::streaming::{Interim, SpeechStream, StreamError, StreamInput};

/// How SpeechKit is authorised.
#[derive(Clone)]
pub enum YandexAuth {
    /// A service account's API key (`Authorization: Api-Key …`).
    ApiKey(String),
    /// An IAM token (`Authorization: Bearer …`).
    IamToken(String),
}

pub struct YandexStream {
    channel: Channel,
    auth: YandexAuth,
    folder_id: Option<String>,
    model: String,
}

impl YandexStream {
    pub fn new(
        grpc_url: &str,
        auth: YandexAuth,
        folder_id: Option<String>,
        model: &str,
    ) -> Result<Self, String> {
        Ok(Self {
            channel: super::channel(grpc_url)?,
            auth,
            folder_id,
            model: model.to_string(),
        })
    }

    fn fail(reason: String) -> StreamError {
        StreamError {
            vendor: "yandex",
            reason,
        }
    }

    fn options(&self, rate: u32) -> StreamingRequest {
        StreamingRequest {
            event: Some(Request::SessionOptions(StreamingOptions {
                recognition_model: Some(RecognitionModelOptions {
                    model: self.model.clone(),
                    audio_format: Some(AudioFormatOptions {
                        audio_format: Some(AudioFormat::RawAudio(RawAudio {
                            audio_encoding: AudioEncoding::Linear16Pcm as i32,
                            sample_rate_hertz: i64::from(rate),
                            audio_channel_count: 1,
                        })),
                    }),
                    text_normalization: Some(TextNormalizationOptions {
                        text_normalization: TextNormalization::Enabled as i32,
                        profanity_filter: false,
                        literature_text: false,
                    }),
                    language_restriction: Some(LanguageRestrictionOptions {
                        restriction_type: LanguageRestrictionType::Whitelist as i32,
                        language_code: vec!["ru-RU".into()],
                    }),
                    audio_processing_type: 1, // REAL_TIME
                }),
                eou_classifier: Some(EouClassifierOptions {
                    classifier: Some(Classifier::ExternalClassifier(ExternalEouClassifier {})),
                }),
            })),
        }
    }
}

fn first_text(u: &AlternativeUpdate) -> String {
    u.alternatives
        .first()
        .map(|a| a.text.trim().to_string())
        .unwrap_or_default()
}

/// The non-empty finals, in order.
fn joined(finals: &[String]) -> String {
    finals
        .iter()
        .filter(|t| !t.is_empty())
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

#[async_trait]
impl SpeechStream for YandexStream {
    fn vendor(&self) -> &'static str {
        "yandex"
    }

    async fn recognize(
        &self,
        rate: u32,
        input: mpsc::UnboundedReceiver<StreamInput>,
        interim: Interim,
    ) -> Result<String, StreamError> {
        let audio =
            tokio_stream::wrappers::UnboundedReceiverStream::new(input).map(|i| StreamingRequest {
                event: Some(match i {
                    StreamInput::Audio(data) => Request::Chunk(AudioChunk { data }),
                    StreamInput::End => Request::Eou(Eou {}),
                }),
            });
        let requests = tokio_stream::once(self.options(rate)).chain(audio);
        let mut request = tonic::Request::new(requests);
        let auth = match &self.auth {
            YandexAuth::ApiKey(k) => format!("Api-Key {k}"),
            YandexAuth::IamToken(t) => format!("Bearer {t}"),
        };
        let md = request.metadata_mut();
        md.insert(
            "authorization",
            auth.parse()
                .map_err(|_| Self::fail("the key is not a valid header".into()))?,
        );
        if let Some(folder) = self.folder_id.as_deref().and_then(|f| f.parse().ok()) {
            md.insert("x-folder-id", folder);
        }
        let mut client = RecognizerClient::new(self.channel.clone());
        let mut responses = client
            .recognize_streaming(request)
            .await
            .map_err(|s| Self::fail(status_text(&s)))?
            .into_inner();
        let mut finals: Vec<String> = Vec::new();
        let mut final_index_base: Option<i64> = None;
        loop {
            let r = match responses.message().await {
                Ok(Some(r)) => r,
                Ok(None) => return Ok(joined(&finals)),
                Err(s) => return Err(Self::fail(status_text(&s))),
            };
            match r.event {
                Some(Event::Partial(u)) => {
                    let text = first_text(&u);
                    if !text.is_empty() {
                        let before = joined(&finals);
                        interim.set(format!("{before} {text}").trim());
                    }
                }
                Some(Event::Final(u)) => {
                    let index = r.audio_cursors.as_ref().map_or(0, |c| c.final_index);
                    final_index_base.get_or_insert(index);
                    finals.push(first_text(&u));
                    interim.set(&joined(&finals));
                }
                Some(Event::FinalRefinement(f)) => {
                    if let Some(Refinement::NormalizedText(u)) = &f.r#type {
                        let text = first_text(u);
                        let slot = f.final_index - final_index_base.unwrap_or(f.final_index);
                        if let Some(t) = usize::try_from(slot).ok().and_then(|i| finals.get_mut(i))
                        {
                            if !text.is_empty() {
                                *t = text;
                            }
                        }
                    }
                }
                // Closed by the server after the last final.
                Some(Event::StatusCode(s)) if s.code_type == 3 => return Ok(joined(&finals)),
                _ => {}
            }
        }
    }
}
