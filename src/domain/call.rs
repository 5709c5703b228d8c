//! Calls and their transcripts.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The longest call duration believed from a provider (a day); anything else is malformed.
pub const MAX_CALL_SECS: i64 = 86_400;

/// A provider's duration within 0..=[`MAX_CALL_SECS`].
pub fn bounded_call_secs(secs: i64) -> i64 {
    secs.clamp(0, MAX_CALL_SECS)
}

/// When a call ended, without overflow whatever the inputs.
pub fn call_end(started_at: DateTime<Utc>, duration_secs: i64) -> DateTime<Utc> {
    chrono::Duration::try_seconds(bounded_call_secs(duration_secs))
        .and_then(|d| started_at.checked_add_signed(d))
        .unwrap_or(started_at)
}

/// Who placed the call, seen from the company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Incoming,
    Outgoing,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Incoming => "incoming",
            Direction::Outgoing => "outgoing",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "incoming" => Some(Direction::Incoming),
            "outgoing" => Some(Direction::Outgoing),
            _ => None,
        }
    }
}

/// Where a call is in the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallStatus {
    /// Seen at the provider, waiting for its recording.
    New,
    /// Being transcribed and analysed.
    Processing,
    /// Analysed; the protocol is posted or about to be.
    Analyzed,
    /// Not ours to analyse (too short, unanswered, no recording...): see the reason.
    Skipped,
    /// Failed after retries: see the reason; can be re-run.
    Failed,
    /// Known only from a webhook, not (yet) confirmed by the PBX's statistics: not analysed.
    Unconfirmed,
    /// Answered and long enough, but the PBX has no recording yet: analysed once it has one.
    #[serde(rename = "awaiting_recording")]
    AwaitingRecording,
}

impl CallStatus {
    pub const ALL: [CallStatus; 7] = [
        CallStatus::New,
        CallStatus::Processing,
        CallStatus::Analyzed,
        CallStatus::Skipped,
        CallStatus::Failed,
        CallStatus::Unconfirmed,
        CallStatus::AwaitingRecording,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::New => "new",
            CallStatus::Processing => "processing",
            CallStatus::Analyzed => "analyzed",
            CallStatus::Skipped => "skipped",
            CallStatus::Failed => "failed",
            CallStatus::Unconfirmed => "unconfirmed",
            CallStatus::AwaitingRecording => "awaiting_recording",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "new" => CallStatus::New,
            "processing" => CallStatus::Processing,
            "analyzed" => CallStatus::Analyzed,
            "skipped" => CallStatus::Skipped,
            "failed" => CallStatus::Failed,
            "unconfirmed" => CallStatus::Unconfirmed,
            "awaiting_recording" => CallStatus::AwaitingRecording,
            _ => return None,
        })
    }
}

/// Why a call is not analysed. Stored as its English sentence in the call's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// Neither side is one of our numbers.
    NotOurNumber,
    /// Nobody answered; the PBX's disposition, when it gave one.
    NotAnswered(String),
    /// Shorter than the minimum worth analysing, in seconds.
    TooShort(i64),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::NotOurNumber => f.write_str("not one of our numbers (NOVOFON_NUMBERS)"),
            SkipReason::NotAnswered(d) if d.is_empty() => f.write_str("not answered (no answer)"),
            SkipReason::NotAnswered(d) => write!(f, "not answered ({d})"),
            SkipReason::TooShort(min) => write!(f, "shorter than {min} s (MIN_CALL_SECS)"),
        }
    }
}

/// A call as first seen at a provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewCall {
    pub provider: String,
    pub provider_call_id: String,
    pub direction: Direction,
    pub caller: super::Endpoint,
    pub called: super::Endpoint,
    pub started_at: DateTime<Utc>,
    pub duration_secs: i64,
    /// What the provider needs to fetch the recording (a recording id or URL), when known.
    pub recording_ref: Option<String>,
    /// The operator as the PBX names them (an extension, or an operator id), when it says.
    pub operator: Option<String>,
}

/// A stored call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    pub id: i64,
    pub provider: String,
    pub provider_call_id: String,
    pub direction: Direction,
    pub caller: super::Endpoint,
    pub called: super::Endpoint,
    pub started_at: DateTime<Utc>,
    pub duration_secs: i64,
    pub status: CallStatus,
    /// Why the call was skipped or failed.
    pub reason: Option<String>,
    pub recording_ref: Option<String>,
    /// The operator as the PBX names them (an extension, or an operator id).
    pub operator: Option<String>,
}

impl Call {
    /// Where the call came from.
    pub fn origin(&self) -> super::CallOrigin {
        super::CallOrigin::of_provider(&self.provider)
    }
}

/// Filters of a call listing.
#[derive(Debug, Clone, Default)]
pub struct CallFilter {
    pub status: Option<CallStatus>,
    pub category: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: i64,
    pub offset: i64,
}

/// A call with the promoted fields of its current analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallSummary {
    #[serde(flatten)]
    pub call: Call,
    pub lead_category: Option<super::LeadCategory>,
    pub interest_rating: Option<i32>,
    pub priority: Option<String>,
    pub agency_name: Option<String>,
}

/// One speaker's turn in a transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Utterance {
    pub speaker: super::Speaker,
    pub start_ms: i64,
    pub end_ms: i64,
    pub text: String,
}

/// Milestones of one caller turn, in ms from the start of the call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TurnTiming {
    pub turn: u32,
    pub caller_end_ms: i64,
    pub stt_done_ms: Option<i64>,
    pub llm_first_token_ms: Option<i64>,
    pub first_sentence_ms: Option<i64>,
    pub tts_first_byte_ms: Option<i64>,
    pub first_audio_ms: Option<i64>,
    /// When the caller's speech interrupted this reply.
    pub barge_in_ms: Option<i64>,
    /// The vendor that recognised the caller (`salute`, `yandex`, `openai`).
    #[serde(default)]
    pub stt_vendor: Option<String>,
    /// The caller's speech recognised, in ms (what recognition is billed by).
    #[serde(default)]
    pub speech_ms: Option<i64>,
    /// The stream failed and batch recognition took the turn.
    #[serde(default)]
    pub stt_fallback: bool,
    /// The vendor that spoke the reply.
    #[serde(default)]
    pub tts_vendor: Option<String>,
    /// Characters sent to synthesis for the reply.
    #[serde(default)]
    pub tts_chars: Option<i64>,
}

impl TurnTiming {
    /// End of caller speech → first agent audio frame out.
    pub fn voice_to_voice_ms(&self) -> Option<i64> {
        self.first_audio_ms.map(|a| a - self.caller_end_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_statuses_serialize_as_stored() {
        for s in CallStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(CallStatus::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn skip_reasons_read_as_before() {
        assert_eq!(
            SkipReason::NotAnswered(String::new()).to_string(),
            "not answered (no answer)"
        );
        assert_eq!(
            SkipReason::NotAnswered("busy".into()).to_string(),
            "not answered (busy)"
        );
        assert_eq!(
            SkipReason::TooShort(10).to_string(),
            "shorter than 10 s (MIN_CALL_SECS)"
        );
    }

    #[test]
    fn call_end_never_overflows() {
        let t = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(call_end(t, 60), t + chrono::Duration::seconds(60));
        assert_eq!(
            call_end(t, i64::MAX),
            t + chrono::Duration::seconds(MAX_CALL_SECS)
        );
        assert_eq!(call_end(t, -5), t);
        assert_eq!(
            call_end(DateTime::<Utc>::MAX_UTC, 3600),
            DateTime::<Utc>::MAX_UTC
        );
        for s in CallStatus::ALL {
            assert_eq!(CallStatus::parse(s.as_str()), Some(s));
        }
    }
}
