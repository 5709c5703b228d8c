//! How a setting is declared: once, with its variable name, default (as the text a user would
//! write), parser and doc line. [`section!`] turns a list of them into a section struct, its
//! reader, and the table the README and `callops settings` show, so they cannot drift apart.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use chrono_tz::Tz;

use super::{LogFormat, Secret};
use crate::domain::{PhoneNumber, Speaker};

/// One setting as documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The environment variable (lower-cased in `callops.toml`).
    pub name: &'static str,
    /// The section it belongs to.
    pub section: &'static str,
    /// The default, as written in the environment (empty: unset).
    pub default: &'static str,
    /// What it does, one line.
    pub doc: &'static str,
}

/// Reads one setting: its value from `get` (or the default text), parsed; a problem is recorded
/// with the variable's name and `None` returned.
pub(super) fn read_one<T>(
    get: &dyn Fn(&str) -> Option<String>,
    name: &str,
    default: &str,
    parse: impl Fn(&str) -> Result<T, String>,
    problems: &mut Vec<String>,
) -> Option<T> {
    let given = get(name);
    let text = given.as_deref().unwrap_or(default);
    match parse(text) {
        Ok(v) => Some(v),
        Err(e) if given.is_some() => {
            problems.push(format!("{name}={text:?}: {e}"));
            None
        }
        Err(e) => {
            problems.push(format!("{name}: the default {text:?} does not parse: {e}"));
            None
        }
    }
}

/// Declares a section of settings: a struct with one documented field per setting, `read` (from
/// flat `NAME -> value` pairs), and `SETTINGS` (the table of names, defaults and docs).
macro_rules! section {
    (
        $(#[$meta:meta])*
        pub struct $name:ident ($title:literal) {
            $(
                #[doc = $doc:literal]
                $field:ident : $ty:ty = $var:literal, $default:literal, $parse:expr;
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        pub struct $name {
            $( #[doc = $doc] pub $field: $ty, )*
        }

        impl $name {
            /// Every setting of this section.
            pub const SETTINGS: &'static [$crate::config::Setting] = &[
                $( $crate::config::Setting {
                    name: $var,
                    section: $title,
                    default: $default,
                    doc: $doc.trim_ascii(),
                }, )*
            ];

            /// Reads the section; every problem is recorded, `None` if there was any.
            pub(crate) fn read(
                get: &dyn Fn(&str) -> Option<String>,
                problems: &mut Vec<String>,
            ) -> Option<Self> {
                $( let $field = $crate::config::setting::read_one(get, $var, $default, $parse, problems); )*
                Some(Self { $( $field: $field?, )* })
            }
        }
    };
}
pub(super) use section;

// ---- parsers: each takes the text a user writes, empty meaning unset ----

pub(super) fn text(s: &str) -> Result<String, String> {
    Ok(s.to_string())
}

pub(super) fn opt_text(s: &str) -> Result<Option<String>, String> {
    Ok((!s.is_empty()).then(|| s.to_string()))
}

pub(super) fn secret(s: &str) -> Result<Option<Secret>, String> {
    Ok((!s.is_empty()).then(|| Secret::new(s)))
}

pub(super) fn path(s: &str) -> Result<Option<PathBuf>, String> {
    Ok((!s.is_empty()).then(|| PathBuf::from(s)))
}

/// A URL, kept without a trailing slash.
pub(super) fn url(s: &str) -> Result<String, String> {
    url::Url::parse(s).map_err(|e| format!("not a URL: {e}"))?;
    Ok(s.trim_end_matches('/').to_string())
}

pub(super) fn opt_url(s: &str) -> Result<Option<String>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    url::Url::parse(s).map_err(|e| format!("not a URL: {e}"))?;
    Ok(Some(s.to_string()))
}

/// A number within `min..=max`.
pub(super) fn num<T>(min: T, max: T) -> impl Fn(&str) -> Result<T, String>
where
    T: FromStr + PartialOrd + std::fmt::Display + Copy,
{
    move |s| {
        let n: T = s.parse().map_err(|_| "not a number".to_string())?;
        if n < min || n > max {
            return Err(format!("must be {min}..{max}"));
        }
        Ok(n)
    }
}

pub(super) fn opt_chat_id(s: &str) -> Result<Option<i64>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| "not a chat id (an integer, e.g. -1001234567890)".into())
}

pub(super) fn user_ids(s: &str) -> Result<Vec<u64>, String> {
    list(s)
        .map(|p| p.parse().map_err(|_| format!("{p:?} is not a user id")))
        .collect()
}

pub(super) fn addr(s: &str) -> Result<SocketAddr, String> {
    s.parse()
        .map_err(|_| "not host:port, e.g. 127.0.0.1:8080".into())
}

pub(super) fn database_url(s: &str) -> Result<String, String> {
    if s.starts_with("sqlite:") || s.starts_with("postgres://") || s.starts_with("postgresql://") {
        Ok(s.to_string())
    } else {
        Err("must start with sqlite:, postgres:// or postgresql://".into())
    }
}

pub(super) fn log_format(s: &str) -> Result<LogFormat, String> {
    match s.to_ascii_lowercase().as_str() {
        "json" => Ok(LogFormat::Json),
        "human" | "text" | "pretty" => Ok(LogFormat::Human),
        _ => Err("use json or human".into()),
    }
}

pub(super) fn webhook_secret(s: &str) -> Result<Option<Secret>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    let ok = s.len() <= 256
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(Some(Secret::new(s)))
    } else {
        Err("must be 1-256 characters of A-Z a-z 0-9 _ -".into())
    }
}

pub(super) fn timezone(s: &str) -> Result<Tz, String> {
    s.parse()
        .map_err(|_| "not a time zone (e.g. Europe/Moscow)".into())
}

pub(super) fn phones(s: &str) -> Result<Vec<PhoneNumber>, String> {
    list(s)
        .map(|p| PhoneNumber::parse(p).map_err(|e| e.to_string()))
        .collect()
}

pub(super) fn speakers(s: &str) -> Result<Vec<Speaker>, String> {
    list(s).map(str::parse).collect()
}

/// `number=value,...` with the value kept as text.
pub(super) fn number_pairs(s: &str) -> Result<Vec<(PhoneNumber, String)>, String> {
    list(s)
        .map(|item| {
            let (n, v) = item
                .split_once('=')
                .ok_or_else(|| format!("{item:?} should be number=value"))?;
            let n = PhoneNumber::parse(n).map_err(|e| e.to_string())?;
            Ok((n, v.trim().to_string()))
        })
        .collect()
}

/// `field=path|path,...` for T-Bank's answers: each field must be one T-Bank's client reads.
pub(super) fn tbank_fields(s: &str) -> Result<Vec<(String, Vec<String>)>, String> {
    let known = crate::telephony::tbank::field_names();
    list(s)
        .map(|item| {
            let (k, v) = item
                .split_once('=')
                .ok_or_else(|| format!("{item:?} should be field=path|path"))?;
            let k = k.trim();
            if !known.contains(&k) {
                return Err(format!("unknown field {k:?}; known: {}", known.join(", ")));
            }
            let paths: Vec<String> = v
                .split('|')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect();
            if paths.is_empty() {
                return Err(format!("{item:?} names no path"));
            }
            Ok((k.to_string(), paths))
        })
        .collect()
}

/// Departments as JSON (`[[departments]]` tables in `callops.toml` arrive as JSON too).
pub(super) fn departments(s: &str) -> Result<crate::domain::Departments, String> {
    crate::domain::Departments::parse_json(s)
}

/// `number=chat id,...`.
pub(super) fn number_chats(s: &str) -> Result<Vec<(PhoneNumber, i64)>, String> {
    number_pairs(s)?
        .into_iter()
        .map(|(n, v)| {
            v.parse()
                .map(|chat| (n, chat))
                .map_err(|_| format!("{v:?} is not a chat id"))
        })
        .collect()
}

pub(super) fn speech_vendor(s: &str) -> Result<crate::speech::SpeechVendor, String> {
    crate::speech::SpeechVendor::parse(s)
}

pub(super) fn opt_speech_vendor(s: &str) -> Result<Option<crate::speech::SpeechVendor>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    speech_vendor(s).map(Some)
}

pub(super) fn price_list(s: &str) -> Result<crate::speech::PriceList, String> {
    crate::speech::PriceList::parse(s)
}

pub(super) fn salute_scope(s: &str) -> Result<String, String> {
    match s {
        "SALUTE_SPEECH_PERS" | "SALUTE_SPEECH_CORP" | "SALUTE_SPEECH_B2B" => Ok(s.to_string()),
        _ => Err("use SALUTE_SPEECH_PERS, SALUTE_SPEECH_CORP or SALUTE_SPEECH_B2B".into()),
    }
}

fn list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|p| !p.is_empty())
}
