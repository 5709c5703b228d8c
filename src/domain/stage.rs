//! The stages of a sales conversation, in the order a call goes through them; a campaign's
//! funnel counts how far each conversation got.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    #[default]
    Greeting,
    Qualification,
    Presentation,
    Objections,
    Contact,
    Closing,
}

impl Stage {
    /// In funnel order.
    pub const ALL: [Stage; 6] = [
        Stage::Greeting,
        Stage::Qualification,
        Stage::Presentation,
        Stage::Objections,
        Stage::Contact,
        Stage::Closing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Greeting => "greeting",
            Stage::Qualification => "qualification",
            Stage::Presentation => "presentation",
            Stage::Objections => "objections",
            Stage::Contact => "contact",
            Stage::Closing => "closing",
        }
    }

    /// Reads a stage name (any case, spaces around allowed).
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(Value::String(s.trim().to_lowercase())).ok()
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_round_trip_in_funnel_order() {
        for (i, s) in Stage::ALL.iter().enumerate() {
            assert_eq!(Stage::parse(s.as_str()), Some(*s));
            assert_eq!(
                Stage::parse(&format!(" {} ", s.as_str().to_uppercase())),
                Some(*s)
            );
            if i > 0 {
                assert!(Stage::ALL[i - 1] < *s);
            }
        }
        assert_eq!(Stage::parse("negotiation"), None);
    }
}
