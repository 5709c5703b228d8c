//! Who speaks in a transcript line: our manager, the client, the voice agent, or nobody knows
//! (a mono recording). Stored and serialized as the lowercase English word.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The side a transcript line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Speaker {
    Manager,
    Client,
    Agent,
    /// A mono recording: the sides cannot be told apart.
    Unknown,
}

impl Speaker {
    pub const ALL: [Speaker; 4] = [
        Speaker::Manager,
        Speaker::Client,
        Speaker::Agent,
        Speaker::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Speaker::Manager => "manager",
            Speaker::Client => "client",
            Speaker::Agent => "agent",
            Speaker::Unknown => "unknown",
        }
    }

    /// Whether this is our side of the call (a person or the agent).
    pub fn is_ours(self) -> bool {
        matches!(self, Speaker::Manager | Speaker::Agent)
    }
}

impl fmt::Display for Speaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compares with the stored word (`speaker == "client"`).
impl PartialEq<&str> for Speaker {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl FromStr for Speaker {
    type Err = String;
    /// The stored word, or the Russian one a person would write in a setting.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_lowercase().as_str() {
            "manager" | "менеджер" => Ok(Speaker::Manager),
            "client" | "клиент" => Ok(Speaker::Client),
            "agent" | "агент" => Ok(Speaker::Agent),
            "unknown" => Ok(Speaker::Unknown),
            other => Err(format!(
                "unknown speaker {other:?}: use manager, client or agent"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_form_round_trips_and_russian_words_parse() {
        for s in Speaker::ALL {
            assert_eq!(s.as_str().parse::<Speaker>(), Ok(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!("Клиент".parse::<Speaker>(), Ok(Speaker::Client));
        assert_eq!(" менеджер ".parse::<Speaker>(), Ok(Speaker::Manager));
        assert!("boss".parse::<Speaker>().is_err());
    }
}
