//! Typed data behind inline buttons (Telegram allows at most 64 bytes; we use short codes).

use std::fmt;
use std::str::FromStr;

use super::LeadCategory;

/// What a protocol's feedback button says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackChoice {
    Confirm,
    Category(LeadCategory),
}

impl FeedbackChoice {
    /// As stored in the feedback table: `confirm` or a category.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackChoice::Confirm => "confirm",
            FeedbackChoice::Category(c) => c.as_str(),
        }
    }
    fn code(self) -> char {
        match self {
            FeedbackChoice::Confirm => 'k',
            FeedbackChoice::Category(LeadCategory::Hot) => 'h',
            FeedbackChoice::Category(LeadCategory::Warm) => 'w',
            FeedbackChoice::Category(LeadCategory::Cold) => 'c',
            FeedbackChoice::Category(LeadCategory::Refusal) => 'r',
        }
    }
    fn from_code(c: &str) -> Option<Self> {
        Some(match c {
            "k" => FeedbackChoice::Confirm,
            "h" => FeedbackChoice::Category(LeadCategory::Hot),
            "w" => FeedbackChoice::Category(LeadCategory::Warm),
            "c" => FeedbackChoice::Category(LeadCategory::Cold),
            "r" => FeedbackChoice::Category(LeadCategory::Refusal),
            _ => return None,
        })
    }
}

/// Every kind of inline button the bot sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackData {
    /// `fb:<call id>:<choice>` under a protocol.
    Feedback {
        call_id: i64,
        choice: FeedbackChoice,
    },
}

impl fmt::Display for CallbackData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallbackData::Feedback { call_id, choice } => {
                write!(f, "fb:{call_id}:{}", choice.code())
            }
        }
    }
}

impl FromStr for CallbackData {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split(':');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("fb"), Some(id), Some(code), None) => Ok(CallbackData::Feedback {
                call_id: id.parse().map_err(|_| format!("bad call id in {s:?}"))?,
                choice: FeedbackChoice::from_code(code)
                    .ok_or_else(|| format!("bad choice in {s:?}"))?,
            }),
            _ => Err(format!("unknown callback data {s:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_within_64_bytes() {
        let mut all = vec![FeedbackChoice::Confirm];
        all.extend(LeadCategory::ALL.map(FeedbackChoice::Category));
        for choice in all {
            for call_id in [1, i64::MAX] {
                let d = CallbackData::Feedback { call_id, choice };
                let s = d.to_string();
                assert!(s.len() <= 64, "{s}");
                assert_eq!(s.parse::<CallbackData>().unwrap(), d);
            }
        }
        for bad in ["", "fb", "fb:x:h", "fb:1:z", "fb:1:h:extra", "zz:1:h"] {
            assert!(bad.parse::<CallbackData>().is_err(), "{bad}");
        }
    }
}
