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
    /// Parses a number as people and PBXs write it, Russia being the default country:
    /// `+7 916 123-45-67`, `8 (916) 123 45 67`, `79161234567`, `9161234567`, a Moscow landline
    /// `(495) 123-45-67`, `8-10-49-30-1234567` (810 is the international prefix dialled from
    /// Russia), any number with `+` and its country code. An extension (`доб. 12`, `ext. 12`) is
    /// dropped. Numbers that are not valid for their country are refused.
    ///
    /// Numbers of the +7 zone (a 10-digit national number: ABC/DEF codes 3xx, 4xx, 8xx, 9xx in
    /// Russia, 7xx in Kazakhstan) are read here; others go through libphonenumber's metadata (the
    /// `phonenumber` crate). That crate strips a leading 8 from a Russian national number even
    /// after `+7`, which turns St Petersburg's `+7 812…` or Kazan's `+7 843…` into invalid
    /// numbers, so +7 is not handed to it.
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let invalid = || PhoneError::Invalid(input.to_string());
        let number = strip_extension(input)
            .trim()
            .trim_end_matches([',', ';'])
            .trim_end();
        let allowed = number
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.'));
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        if !allowed || digits.is_empty() {
            return Err(invalid());
        }
        let plus = number.starts_with('+');
        let national = match (plus, digits.len()) {
            (true, 11) if digits.starts_with('7') => Some(&digits[1..]),
            (false, 11) if digits.starts_with(['7', '8']) && !digits.starts_with("810") => {
                Some(&digits[1..])
            }
            (false, 10) => Some(&digits[..]),
            _ => None,
        };
        if let Some(national) = national {
            return if national.starts_with(['3', '4', '7', '8', '9']) {
                Ok(Self(format!("+7{national}")))
            } else {
                Err(invalid())
            };
        }
        let international = if plus {
            digits
        } else if let Some(rest) = digits.strip_prefix("810") {
            rest.to_string()
        } else {
            return Err(invalid());
        };
        if international.starts_with('7') {
            return Err(invalid());
        }
        let parsed =
            phonenumber::parse(None, format!("+{international}")).map_err(|_| invalid())?;
        if !phonenumber::is_valid(&parsed) {
            return Err(invalid());
        }
        Ok(Self(
            parsed.format().mode(phonenumber::Mode::E164).to_string(),
        ))
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

/// The number without an extension: `… доб. 12`, `… ext 12`, `… x12`, `… #12`.
fn strip_extension(input: &str) -> &str {
    let lower = input.to_lowercase();
    let cut = ["доб", "ext", "x", "#"]
        .iter()
        .filter_map(|m| lower.find(m))
        .min()
        .unwrap_or(lower.len());
    // `lower` has the same byte offsets as `input` only for ASCII; find the char boundary in
    // `input` by counting chars instead.
    let chars = lower[..cut].chars().count();
    let end = input
        .char_indices()
        .nth(chars)
        .map_or(input.len(), |(i, _)| i);
    &input[..end]
}

/// Serialized as E.164.
impl serde::Serialize for PhoneNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
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
        for s in [
            "",
            "abc",
            "12",
            "+7 916 abc",
            "0000000000",
            "123456789012",
            "доб. 12",
        ] {
            assert!(PhoneNumber::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn landlines_international_prefix_and_extensions() {
        for (input, e164) in [
            ("(495) 123-45-67", "+74951234567"),
            ("4951234567", "+74951234567"),
            ("8 (495) 123-45-67", "+74951234567"),
            ("+7 (812) 309-12-34", "+78123091234"),
            ("8 (843) 123-45-67", "+78431234567"),
            ("+7 727 123 45 67", "+77271234567"),
            ("8-10-49-30-1234567", "+49301234567"),
            ("+49 30 1234567", "+49301234567"),
            ("+7 916 123-45-67 доб. 12", "+79161234567"),
            ("8 (495) 123-45-67, доб 305", "+74951234567"),
            ("+7 495 123 45 67 ext. 9", "+74951234567"),
            ("+375 29 123-45-67", "+375291234567"),
        ] {
            assert_eq!(
                PhoneNumber::parse(input).map(|p| p.as_str().to_string()),
                Ok(e164.to_string()),
                "{input}"
            );
        }
        assert_eq!(
            PhoneNumber::parse("(495) 123-45-67").unwrap().pretty(),
            "+7 (495) 123-45-67"
        );
    }
}
