//! One side of a call as it was named: a phone number, or something that is not one (a PBX
//! extension `101`, `anonymous`, a rehearsal's `tg:<user id>`, nothing at all).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::PhoneNumber;

/// One side of a call. Serialized and stored as text: E.164 for a number, as given otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Endpoint {
    Number(PhoneNumber),
    Other(String),
}

impl Endpoint {
    /// A number when `raw` is one (in any form [`PhoneNumber::parse`] reads), else `raw` trimmed.
    pub fn parse(raw: &str) -> Self {
        PhoneNumber::parse(raw)
            .map(Endpoint::Number)
            .unwrap_or_else(|_| Endpoint::Other(raw.trim().to_string()))
    }

    /// The phone number, when this side has one.
    pub fn phone(&self) -> Option<&PhoneNumber> {
        match self {
            Endpoint::Number(n) => Some(n),
            Endpoint::Other(_) => None,
        }
    }

    /// The stored form.
    pub fn as_str(&self) -> &str {
        match self {
            Endpoint::Number(n) => n.as_str(),
            Endpoint::Other(s) => s,
        }
    }

    /// A form safe for logs: a number masked, anything else as is.
    pub fn masked(&self) -> String {
        match self {
            Endpoint::Number(n) => n.masked(),
            Endpoint::Other(s) => s.clone(),
        }
    }
}

impl From<PhoneNumber> for Endpoint {
    fn from(n: PhoneNumber) -> Self {
        Endpoint::Number(n)
    }
}

impl From<String> for Endpoint {
    fn from(s: String) -> Self {
        Endpoint::parse(&s)
    }
}

impl From<&str> for Endpoint {
    fn from(s: &str) -> Self {
        Endpoint::parse(s)
    }
}

impl From<Endpoint> for String {
    fn from(e: Endpoint) -> Self {
        match e {
            Endpoint::Number(n) => n.as_str().to_string(),
            Endpoint::Other(s) => s,
        }
    }
}

/// Compares with the stored form (`call.caller == "+79161234567"`).
impl PartialEq<&str> for Endpoint {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Endpoint {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_numbers_and_the_rest_is_kept() {
        let n = Endpoint::parse("8 (916) 123-45-67");
        assert_eq!(n.phone().map(PhoneNumber::as_str), Some("+79161234567"));
        assert_eq!(n.as_str(), "+79161234567");
        for raw in ["101", "anonymous", "tg:42", ""] {
            let e = Endpoint::parse(raw);
            assert_eq!((e.phone(), e.as_str()), (None, raw));
        }
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, "\"+79161234567\"");
        assert_eq!(serde_json::from_str::<Endpoint>(&json).unwrap(), n);
        assert_eq!(n.masked(), "+7916***4567");
    }
}
