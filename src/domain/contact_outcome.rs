//! How one campaign contact's attempt ended, as the dialer's policy sees it. Stored as its
//! `as_str` name.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContactOutcome {
    /// A person talked with the agent; no goal reached.
    Reached,
    /// A person talked and the goal was reached (a decision maker's contact, a request).
    Converted,
    Busy,
    NoAnswer,
    /// The trunk or the network failed the call.
    Failed,
    Voicemail,
    /// An IVR menu or an AI secretary answered.
    Screened,
    /// The callee rejected the call (603).
    Declined,
    /// The callee asked not to be called again.
    OptedOut,
}

impl ContactOutcome {
    pub const ALL: [ContactOutcome; 9] = [
        Self::Reached,
        Self::Converted,
        Self::Busy,
        Self::NoAnswer,
        Self::Failed,
        Self::Voicemail,
        Self::Screened,
        Self::Declined,
        Self::OptedOut,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reached => "reached",
            Self::Converted => "converted",
            Self::Busy => "busy",
            Self::NoAnswer => "no_answer",
            Self::Failed => "failed",
            Self::Voicemail => "voicemail",
            Self::Screened => "screened",
            Self::Declined => "declined",
            Self::OptedOut => "opted_out",
        }
    }

    /// A person was on the line.
    pub fn reached_a_person(self) -> bool {
        matches!(self, Self::Reached | Self::Converted | Self::OptedOut)
    }
}

impl fmt::Display for ContactOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ContactOutcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| format!("unknown contact outcome {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_round_trip_through_their_names() {
        for o in ContactOutcome::ALL {
            assert_eq!(o.as_str().parse::<ContactOutcome>(), Ok(o));
        }
        assert!("maybe".parse::<ContactOutcome>().is_err());
    }
}
