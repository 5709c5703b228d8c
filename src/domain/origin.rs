//! Where a call came from: a PBX, the voice agent over a line, a rehearsal in Telegram, or a local
//! file given to `callops analyze`. Calls store their provider's name; the origin is read from it.

use serde::Serialize;

/// Where a call came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOrigin {
    /// A PBX (its provider name says which).
    Pbx,
    /// The voice agent, over a real line.
    Agent,
    /// A rehearsal of the agent in Telegram.
    Rehearsal,
    /// A recording given on the command line.
    LocalFile,
}

impl CallOrigin {
    /// The provider name stored for calls of this origin; PBX calls store their PBX's name.
    pub fn provider(self) -> Option<&'static str> {
        match self {
            CallOrigin::Pbx => None,
            CallOrigin::Agent => Some("agent"),
            CallOrigin::Rehearsal => Some("rehearsal"),
            CallOrigin::LocalFile => Some("local"),
        }
    }

    /// The origin of a call stored with `provider`.
    pub fn of_provider(provider: &str) -> Self {
        [
            CallOrigin::Agent,
            CallOrigin::Rehearsal,
            CallOrigin::LocalFile,
        ]
        .into_iter()
        .find(|o| o.provider() == Some(provider))
        .unwrap_or(CallOrigin::Pbx)
    }

    /// Whether the voice agent spoke in the call (it has per-turn timings).
    pub fn is_agent(self) -> bool {
        matches!(self, CallOrigin::Agent | CallOrigin::Rehearsal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_round_trip_through_the_provider_name() {
        for o in [
            CallOrigin::Agent,
            CallOrigin::Rehearsal,
            CallOrigin::LocalFile,
        ] {
            assert_eq!(CallOrigin::of_provider(o.provider().unwrap()), o);
        }
        assert_eq!(CallOrigin::of_provider("novofon"), CallOrigin::Pbx);
        assert_eq!(CallOrigin::of_provider("novofon2"), CallOrigin::Pbx);
        assert!(CallOrigin::Rehearsal.is_agent() && !CallOrigin::LocalFile.is_agent());
    }
}
