//! What a message the bot sent is: a call's protocol, a lead card, a digest... Stored with each
//! post, carried in job payloads; the wire form is the lowercase name.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The kind of a message the bot sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PostKind {
    /// A call's protocol, posted by the pipeline (its time is the call's "posted at").
    Protocol,
    /// A call shown on request (`/lead`), with the same rating buttons as its protocol.
    Lead,
    /// A plain message (the default).
    #[default]
    Notice,
    /// A chat's daily digest.
    Digest,
    /// A call that could not be processed.
    Failure,
    /// A message to the admins about something that needs a person.
    AdminAlert,
    /// A file sent with a post (a transcript).
    Document,
}

impl PostKind {
    pub const ALL: [PostKind; 7] = [
        PostKind::Protocol,
        PostKind::Lead,
        PostKind::Notice,
        PostKind::Digest,
        PostKind::Failure,
        PostKind::AdminAlert,
        PostKind::Document,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PostKind::Protocol => "protocol",
            PostKind::Lead => "lead",
            PostKind::Notice => "notice",
            PostKind::Digest => "digest",
            PostKind::Failure => "failure",
            PostKind::AdminAlert => "admin-alert",
            PostKind::Document => "document",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the message carries the buttons that rate its call, so a press on it is genuine.
    pub fn carries_rating_buttons(self) -> bool {
        matches!(self, PostKind::Protocol | PostKind::Lead)
    }
}

impl fmt::Display for PostKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_round_trips_and_matches_serde() {
        for k in PostKind::ALL {
            assert_eq!(PostKind::parse(k.as_str()), Some(k));
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
            assert_eq!(serde_json::from_str::<PostKind>(&json).unwrap(), k);
        }
        assert_eq!(PostKind::parse("Protocol"), None);
    }

    #[test]
    fn only_protocols_and_lead_cards_carry_rating_buttons() {
        let with: Vec<_> = PostKind::ALL
            .into_iter()
            .filter(|k| k.carries_rating_buttons())
            .collect();
        assert_eq!(with, [PostKind::Protocol, PostKind::Lead]);
    }
}
