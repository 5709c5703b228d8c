//! A campaign's contact list read from the file a manager uploads (CSV or a spreadsheet, see
//! [`table`]). The phone column is found by its header (телефон, phone, номер, number…) or, with
//! no such header, by its content; every other column becomes a variable the script can use
//! (Russian headers too: «Имя» is `{name}`, «Компания» `{company}`, «Город» `{city}`). A `tz`
//! column («часовой пояс») overrides the numbering plan registry; a consent or source column is
//! kept with the contact. What cannot be used is counted with its line: invalid numbers and
//! duplicates.

pub mod table;

use std::collections::HashSet;
use std::str::FromStr;

use chrono_tz::Tz;
use serde_json::{Map, Value};

use crate::domain::numbering::Numbering;
use crate::domain::PhoneNumber;
pub use table::TableError;

/// Larger files are refused before they are read (Telegram hands bots files up to 20 MB).
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;
/// Contacts in one list at most.
pub const MAX_CONTACTS: usize = 100_000;

/// Where a contact's time zone came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneSource {
    /// The file's `tz` column.
    Column,
    /// The numbering plan registry (or the area code).
    Registry,
    /// Neither: the campaign's zone applies, and the contact is flagged.
    Unknown,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    /// The line of the file (the header is line 1).
    pub line: usize,
    pub phone: PhoneNumber,
    pub variables: Map<String, Value>,
    pub zone: Option<Tz>,
    pub zone_source: ZoneSource,
    /// The consent column's value, if the file has one (kept for the record).
    pub consent: Option<String>,
    /// Where the contact came from, if the file says.
    pub source: Option<String>,
}

/// A line whose number could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub line: usize,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ContactList {
    pub contacts: Vec<Contact>,
    /// Data lines read (not counting the header and empty lines).
    pub rows: usize,
    pub invalid: Vec<Invalid>,
    /// Lines repeating a number seen above them.
    pub duplicates: Vec<usize>,
    /// The phone column's header (or its number, without a header).
    pub phone_column: String,
    /// The variables the script can use.
    pub variables: Vec<String>,
}

impl ContactList {
    /// Contacts whose time zone neither the file nor the registry tells.
    pub fn unknown_zone(&self) -> usize {
        self.contacts
            .iter()
            .filter(|c| c.zone_source == ZoneSource::Unknown)
            .count()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ContactFileError {
    #[error("the file is larger than {max_mb} MB")]
    TooLarge { max_mb: usize },
    #[error("the file has no contacts")]
    Empty,
    #[error("no column of phone numbers (columns: {})", columns.join(", "))]
    NoPhoneColumn { columns: Vec<String> },
    #[error("more than {max} contacts in one list")]
    TooMany { max: usize },
    #[error(transparent)]
    Table(#[from] TableError),
}

/// What a column is for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Role {
    Phone,
    Zone,
    Consent,
    Source,
    Variable(String),
}

/// Header words of a phone column.
const PHONE_HEADERS: &[&str] = &[
    "телефон",
    "тел",
    "тел.",
    "phone",
    "номер",
    "number",
    "мобильный",
    "mobile",
    "msisdn",
];

/// (header, variable) for the usual Russian and English headers.
const ALIASES: &[(&str, &str)] = &[
    ("имя", "name"),
    ("фио", "name"),
    ("контакт", "name"),
    ("контактное лицо", "name"),
    ("name", "name"),
    ("компания", "company"),
    ("организация", "company"),
    ("фирма", "company"),
    ("company", "company"),
    ("город", "city"),
    ("city", "city"),
    ("должность", "position"),
    ("email", "email"),
    ("почта", "email"),
    ("e-mail", "email"),
];

fn normalise(header: &str) -> String {
    header.trim().to_lowercase()
}

fn role_of(header: &str, index: usize) -> Role {
    let h = normalise(header);
    if h.is_empty() {
        return Role::Variable(format!("col{}", index + 1));
    }
    if PHONE_HEADERS.iter().any(|p| h == *p) || h.starts_with("телефон") || h.starts_with("phone")
    {
        return Role::Phone;
    }
    match h.as_str() {
        "tz" | "timezone" | "time zone" | "часовой пояс" | "пояс" => {
            return Role::Zone
        }
        "согласие" | "consent" => return Role::Consent,
        "источник" | "source" => return Role::Source,
        _ => {}
    }
    if let Some((_, v)) = ALIASES.iter().find(|(a, _)| *a == h) {
        return Role::Variable(v.to_string());
    }
    Role::Variable(h.split_whitespace().collect::<Vec<_>>().join("_"))
}

/// A number as written in a cell; spreadsheet floats written out as text (`7,9161234567E+10`)
/// are read as their digits.
fn phone(cell: &str) -> Option<PhoneNumber> {
    let cell = cell.trim();
    if cell.is_empty() {
        return None;
    }
    if cell.contains(['E', 'e']) {
        if let Ok(f) = cell.replace(',', ".").parse::<f64>() {
            if f.fract() == 0.0 && f.abs() < 1e15 {
                return PhoneNumber::parse(&format!("{}", f as i64)).ok();
            }
        }
    }
    let digits = cell.chars().filter(char::is_ascii_digit).count();
    if digits < 10 {
        return None;
    }
    PhoneNumber::parse(cell).ok()
}

/// A zone as a manager writes it: `Asia/Vladivostok`, `UTC+10`, `+10`, `МСК+7`.
pub fn zone(cell: &str) -> Option<Tz> {
    let c = cell.trim();
    if let Ok(tz) = Tz::from_str(c) {
        return Some(tz);
    }
    let upper = c.to_uppercase().replace(' ', "");
    let (base, rest) = if let Some(r) = upper
        .strip_prefix("МСК")
        .or_else(|| upper.strip_prefix("MSK"))
    {
        (3, r)
    } else if let Some(r) = upper
        .strip_prefix("UTC")
        .or_else(|| upper.strip_prefix("GMT"))
    {
        (0, r)
    } else {
        (0, upper.as_str())
    };
    let offset: i32 = if rest.is_empty() {
        0
    } else {
        rest.parse().ok()?
    };
    let hours = base + offset;
    if !(-12..=14).contains(&hours) {
        return None;
    }
    // The Etc zones' signs are the other way round (Etc/GMT-10 is UTC+10).
    let name = match hours {
        0 => "Etc/GMT".to_string(),
        h if h > 0 => format!("Etc/GMT-{h}"),
        h => format!("Etc/GMT+{}", -h),
    };
    Tz::from_str(&name).ok()
}

/// The column of phone numbers: one whose header says so and holds numbers, else the one where
/// most cells are numbers (at least half of those filled).
fn phone_column(header: Option<&[String]>, data: &[&Vec<String>]) -> Option<usize> {
    let width = data.iter().map(|r| r.len()).max().unwrap_or(0);
    let sample: Vec<&&Vec<String>> = data.iter().take(200).collect();
    let count = |col: usize| -> (usize, usize) {
        let filled = sample
            .iter()
            .filter(|r| r.get(col).is_some_and(|c| !c.trim().is_empty()))
            .count();
        let phones = sample
            .iter()
            .filter(|r| r.get(col).and_then(|c| phone(c)).is_some())
            .count();
        (phones, filled)
    };
    if let Some(h) = header {
        if let Some(i) = (0..h.len()).find(|&i| role_of(&h[i], i) == Role::Phone) {
            return Some(i);
        }
    }
    (0..width)
        .map(|i| (i, count(i)))
        .filter(|(_, (phones, filled))| *phones > 0 && phones * 2 >= *filled)
        .max_by_key(|(i, (phones, _))| (*phones, std::cmp::Reverse(*i)))
        .map(|(i, _)| i)
}

/// Reads a contact file; `numbering` tells each number's zone.
pub fn read(bytes: &[u8], numbering: &Numbering) -> Result<ContactList, ContactFileError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(ContactFileError::TooLarge {
            max_mb: MAX_FILE_BYTES / (1024 * 1024),
        });
    }
    from_rows(&table::rows(bytes)?, numbering)
}

/// Reads contacts given as JSON objects (the API): `phone` (or any header a file may use), and
/// the other keys as in a file (`tz`, `consent`, `source`, variables). A line is the object's
/// place in the list, from 2 as in a file with a header.
pub fn from_records(
    records: &[Map<String, Value>],
    numbering: &Numbering,
) -> Result<ContactList, ContactFileError> {
    let mut header: Vec<String> = Vec::new();
    for r in records {
        for k in r.keys() {
            if !header.contains(k) {
                header.push(k.clone());
            }
        }
    }
    let cell = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let mut rows = Vec::with_capacity(records.len() + 1);
    rows.push(header.clone());
    rows.extend(records.iter().map(|r| {
        header
            .iter()
            .map(|k| r.get(k).map(cell).unwrap_or_default())
            .collect::<Vec<_>>()
    }));
    from_rows(&rows, numbering)
}

/// Reads contacts from a table's rows (the first may be a header).
fn from_rows(rows: &[Vec<String>], numbering: &Numbering) -> Result<ContactList, ContactFileError> {
    // Lines as the user counts them; empty lines are skipped but keep their number.
    let lines: Vec<(usize, &Vec<String>)> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.iter().any(|c| !c.trim().is_empty()))
        .map(|(i, r)| (i + 1, r))
        .collect();
    let Some(&(_, first)) = lines.first() else {
        return Err(ContactFileError::Empty);
    };
    let has_header = !first.iter().any(|c| phone(c).is_some());
    let header = has_header.then_some(first.as_slice());
    let data: Vec<(usize, &Vec<String>)> = lines
        .iter()
        .skip(usize::from(has_header))
        .copied()
        .collect();
    if data.is_empty() {
        return Err(ContactFileError::Empty);
    }
    if data.len() > MAX_CONTACTS {
        return Err(ContactFileError::TooMany { max: MAX_CONTACTS });
    }
    let only_rows: Vec<&Vec<String>> = data.iter().map(|(_, r)| *r).collect();
    let Some(phone_col) = phone_column(header, &only_rows) else {
        return Err(ContactFileError::NoPhoneColumn {
            columns: header.map(<[String]>::to_vec).unwrap_or_default(),
        });
    };
    let width = only_rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let roles: Vec<Role> = (0..width)
        .map(|i| {
            if i == phone_col {
                return Role::Phone;
            }
            match header.and_then(|h| h.get(i)) {
                Some(h) => match role_of(h, i) {
                    // A second phone column is just a variable.
                    Role::Phone => Role::Variable(normalise(h).replace(' ', "_")),
                    r => r,
                },
                None => Role::Variable(format!("col{}", i + 1)),
            }
        })
        .collect();
    let mut list = ContactList {
        contacts: Vec::with_capacity(data.len()),
        rows: data.len(),
        invalid: Vec::new(),
        duplicates: Vec::new(),
        phone_column: header
            .and_then(|h| h.get(phone_col).cloned())
            .unwrap_or_else(|| format!("{}", phone_col + 1)),
        variables: roles
            .iter()
            .filter_map(|r| match r {
                Role::Variable(v) => Some(v.clone()),
                _ => None,
            })
            .collect(),
    };
    let mut seen = HashSet::with_capacity(data.len());
    for (line, row) in data {
        let raw = row.get(phone_col).map(String::as_str).unwrap_or("");
        let Some(number) = phone(raw) else {
            list.invalid.push(Invalid {
                line,
                value: raw.to_string(),
            });
            continue;
        };
        if !seen.insert(number.as_str().to_string()) {
            list.duplicates.push(line);
            continue;
        }
        let mut contact = Contact {
            line,
            zone: None,
            zone_source: ZoneSource::Unknown,
            phone: number,
            variables: Map::new(),
            consent: None,
            source: None,
        };
        for (i, role) in roles.iter().enumerate() {
            let cell = row.get(i).map(|c| c.trim()).unwrap_or("");
            if cell.is_empty() {
                continue;
            }
            match role {
                Role::Phone => {}
                Role::Zone => {
                    if let Some(z) = zone(cell) {
                        contact.zone = Some(z);
                        contact.zone_source = ZoneSource::Column;
                    }
                }
                Role::Consent => contact.consent = Some(cell.to_string()),
                Role::Source => contact.source = Some(cell.to_string()),
                Role::Variable(name) => {
                    contact
                        .variables
                        .entry(name.clone())
                        .or_insert_with(|| Value::String(cell.to_string()));
                }
            }
        }
        if contact.zone.is_none() {
            if let Some(place) = numbering.place(&contact.phone) {
                contact.zone = Some(place.zone);
                contact.zone_source = ZoneSource::Registry;
            }
        }
        list.contacts.push(contact);
    }
    Ok(list)
}

#[cfg(test)]
mod tests;
