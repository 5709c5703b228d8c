//! How one campaign contact's attempt ended, as the dialer's policy sees it. Stored as its
//! `as_str` name.

use super::named::named;

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
    /// The instance placing the call stopped during it: it may have rung or been answered, so it
    /// is never redialled.
    Interrupted,
}

named!(ContactOutcome {
    Reached = "reached",
    Converted = "converted",
    Busy = "busy",
    NoAnswer = "no_answer",
    Failed = "failed",
    Voicemail = "voicemail",
    Screened = "screened",
    Declined = "declined",
    OptedOut = "opted_out",
    Interrupted = "interrupted",
});

impl ContactOutcome {
    /// A person was on the line.
    pub fn reached_a_person(self) -> bool {
        matches!(self, Self::Reached | Self::Converted | Self::OptedOut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_round_trip_through_their_names() {
        for o in ContactOutcome::ALL {
            assert_eq!(o.as_str().parse::<ContactOutcome>(), Ok(*o));
        }
        assert!("maybe".parse::<ContactOutcome>().is_err());
    }
}
