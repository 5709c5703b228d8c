//! Localisation: every user-facing string comes from `locales/{ru,en}/*.ftl` (Fluent). Russian is
//! the default; English is complete (a test checks both files carry the same keys).

use std::borrow::Cow;
use std::collections::HashMap;

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader};

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "ru",
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// A language the bot speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Lang {
    #[default]
    Ru,
    En,
}

impl Lang {
    /// From a Telegram `language_code` (`en`, `en-US`, `ru`...); anything else is Russian.
    pub fn from_code(code: Option<&str>) -> Self {
        match code.map(|c| c.to_ascii_lowercase()) {
            Some(c) if c == "en" || c.starts_with("en-") || c.starts_with("en_") => Lang::En,
            _ => Lang::Ru,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }

    fn id(self) -> LanguageIdentifier {
        match self {
            Lang::Ru => fluent_templates::langid!("ru"),
            Lang::En => fluent_templates::langid!("en"),
        }
    }
}

/// The message `key` in `lang`.
pub fn t(lang: Lang, key: &str) -> String {
    LOCALES.lookup(&lang.id(), key)
}

/// The message `key` in `lang`, when there is one.
pub fn t_opt(lang: Lang, key: &str) -> Option<String> {
    LOCALES.try_lookup(&lang.id(), key)
}

/// The message `key` in `lang` with arguments.
pub fn t_args(lang: Lang, key: &str, args: &[(&'static str, FluentArg)]) -> String {
    let map: HashMap<Cow<'static, str>, FluentValue> = args
        .iter()
        .map(|(k, v)| {
            let value = match v {
                FluentArg::Str(s) => FluentValue::from(s.clone()),
                FluentArg::Num(n) => FluentValue::from(*n),
            };
            (Cow::Borrowed(*k), value)
        })
        .collect();
    LOCALES.lookup_complete(&lang.id(), key, Some(&map))
}

/// An argument to a localised message.
#[derive(Debug, Clone)]
pub enum FluentArg {
    Str(String),
    Num(f64),
}

impl From<&str> for FluentArg {
    fn from(s: &str) -> Self {
        FluentArg::Str(s.to_string())
    }
}
impl From<String> for FluentArg {
    fn from(s: String) -> Self {
        FluentArg::Str(s)
    }
}
impl From<i64> for FluentArg {
    fn from(n: i64) -> Self {
        // Ids and counts used in messages are far below 2^53.
        FluentArg::Num(n as f64)
    }
}
impl From<u64> for FluentArg {
    fn from(n: u64) -> Self {
        FluentArg::Num(n as f64)
    }
}
impl From<usize> for FluentArg {
    fn from(n: usize) -> Self {
        FluentArg::Num(n as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn keys(lang: &str) -> BTreeSet<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("locales")
            .join(lang);
        let mut out = BTreeSet::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for line in text.lines() {
                if let Some((k, _)) = line.split_once('=') {
                    let k = k.trim();
                    if !line.starts_with([' ', '#', '.', '*', '[']) && !k.is_empty() {
                        out.insert(k.to_string());
                    }
                }
            }
        }
        out
    }

    #[test]
    fn english_is_complete_and_russian_has_no_extra_keys() {
        let ru = keys("ru");
        let en = keys("en");
        assert!(!ru.is_empty());
        assert_eq!(ru, en, "ru and en locales must carry the same keys");
    }

    #[test]
    fn lookup_with_args_and_no_isolation_marks() {
        let s = t_args(Lang::Ru, "access-denied", &[("id", FluentArg::from(42i64))]);
        assert!(s.contains("42"), "{s}");
        assert!(
            !s.contains('\u{2068}'),
            "isolation marks must be off: {s:?}"
        );
        assert_ne!(t(Lang::En, "start-welcome"), t(Lang::Ru, "start-welcome"));
    }

    #[test]
    fn every_call_status_has_words() {
        let ru = keys("ru");
        for s in crate::domain::CallStatus::ALL {
            assert!(ru.contains(&format!("call-status-{}", s.as_str())), "{s:?}");
        }
    }

    #[test]
    fn language_codes() {
        assert_eq!(Lang::from_code(Some("en-US")), Lang::En);
        assert_eq!(Lang::from_code(Some("ru")), Lang::Ru);
        assert_eq!(Lang::from_code(Some("de")), Lang::Ru);
        assert_eq!(Lang::from_code(None), Lang::Ru);
    }
}
