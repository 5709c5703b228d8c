//! Phone numbers in E.164, parsed once at the edge from the formats PBXs and people use.

use std::fmt;

/// A phone number in E.164 form (`+79161234567`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("{0:?} is not a phone number")]
    Invalid(String),
}

impl PhoneNumber {
    /// Parses `+7 916 123-45-67`, `8 (916) 123 45 67`, `79161234567`, `9161234567` (Russia is the
    /// default country) and other international numbers with a `+` or full country code.
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let trimmed = input.trim();
        let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
        let allowed = trimmed
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.'));
        if !allowed || digits.is_empty() {
            return Err(PhoneError::Invalid(input.to_string()));
        }
        let e164 = if trimmed.starts_with('+') {
            digits
        } else if digits.len() == 11 && (digits.starts_with('8') || digits.starts_with('7')) {
            format!("7{}", &digits[1..])
        } else if digits.len() == 10 && digits.starts_with('9') {
            format!("7{digits}")
        } else {
            digits
        };
        if !(10..=15).contains(&e164.len()) || e164.starts_with('0') {
            return Err(PhoneError::Invalid(input.to_string()));
        }
        Ok(Self(format!("+{e164}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A readable form: `+7 (916) 123-45-67` for Russian numbers, E.164 otherwise.
    pub fn pretty(&self) -> String {
        let d = &self.0[1..];
        if d.len() == 11 && d.starts_with('7') {
            format!("+7 ({}) {}-{}-{}", &d[1..4], &d[4..7], &d[7..9], &d[9..11])
        } else {
            self.0.clone()
        }
    }

    /// A masked form for logs: `+7916***4567`.
    pub fn masked(&self) -> String {
        let s = &self.0;
        if s.len() <= 8 {
            return "***".into();
        }
        format!("{}***{}", &s[..5], &s[s.len() - 4..])
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn russian_formats_normalise() {
        for s in [
            "+7 916 123-45-67",
            "8 (916) 123 45 67",
            "79161234567",
            "9161234567",
            "+7(916)1234567",
        ] {
            assert_eq!(
                PhoneNumber::parse(s).unwrap().as_str(),
                "+79161234567",
                "{s}"
            );
        }
    }

    #[test]
    fn pretty_and_masked() {
        let p = PhoneNumber::parse("89161234567").unwrap();
        assert_eq!(p.pretty(), "+7 (916) 123-45-67");
        assert_eq!(p.masked(), "+7916***4567");
    }

    #[test]
    fn garbage_is_rejected() {
        for s in ["", "abc", "12", "+7 916 abc", "0000000000"] {
            assert!(PhoneNumber::parse(s).is_err(), "{s}");
        }
    }
}
