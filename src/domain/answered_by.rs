//! Who picked up an outbound call: a person, a voicemail, an IVR menu, a call screener (an
//! operator's or bank's AI secretary: МТС «Секретарь», МегаФон «Ева», Т-Банк «Олег», «Алиса»), or
//! it could not be told. Stored and serialized as the snake_case word.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnsweredBy {
    Human,
    Voicemail,
    Ivr,
    Screener,
    /// Not told apart in time: treated as a person.
    Uncertain,
}

impl AnsweredBy {
    pub const ALL: [AnsweredBy; 5] = [
        AnsweredBy::Human,
        AnsweredBy::Voicemail,
        AnsweredBy::Ivr,
        AnsweredBy::Screener,
        AnsweredBy::Uncertain,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AnsweredBy::Human => "human",
            AnsweredBy::Voicemail => "voicemail",
            AnsweredBy::Ivr => "ivr",
            AnsweredBy::Screener => "screener",
            AnsweredBy::Uncertain => "uncertain",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// A recording or a robot: nobody to have the conversation with.
    pub fn is_machine(self) -> bool {
        matches!(self, AnsweredBy::Voicemail | AnsweredBy::Ivr)
    }
}

impl fmt::Display for AnsweredBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_as_stored_and_serialized() {
        for a in AnsweredBy::ALL {
            assert_eq!(AnsweredBy::parse(a.as_str()), Some(a));
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
        assert_eq!(AnsweredBy::parse("robot"), None);
        assert!(AnsweredBy::Voicemail.is_machine() && !AnsweredBy::Screener.is_machine());
    }
}
