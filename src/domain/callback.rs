//! Typed data behind inline buttons (Telegram allows at most 64 bytes; we use short codes).

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;

use super::{CampaignAction, LeadCategory};

/// What a protocol's feedback button says (stored and serialized as `confirm` or a category).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackChoice {
    Confirm,
    Category(LeadCategory),
}

impl FeedbackChoice {
    /// As stored in the feedback table: `confirm` or a category.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackChoice::Confirm => "confirm",
            FeedbackChoice::Category(c) => c.as_str(),
        }
    }
    /// Reads the stored form (`confirm` or a category).
    pub fn parse(s: &str) -> Option<Self> {
        if s == "confirm" {
            return Some(FeedbackChoice::Confirm);
        }
        LeadCategory::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .map(FeedbackChoice::Category)
    }
    fn code(self) -> char {
        match self {
            FeedbackChoice::Confirm => 'k',
            FeedbackChoice::Category(LeadCategory::Hot) => 'h',
            FeedbackChoice::Category(LeadCategory::Warm) => 'w',
            FeedbackChoice::Category(LeadCategory::Cold) => 'c',
            FeedbackChoice::Category(LeadCategory::Refusal) => 'r',
        }
    }
    fn from_code(c: &str) -> Option<Self> {
        Some(match c {
            "k" => FeedbackChoice::Confirm,
            "h" => FeedbackChoice::Category(LeadCategory::Hot),
            "w" => FeedbackChoice::Category(LeadCategory::Warm),
            "c" => FeedbackChoice::Category(LeadCategory::Cold),
            "r" => FeedbackChoice::Category(LeadCategory::Refusal),
            _ => return None,
        })
    }
}

impl serde::Serialize for FeedbackChoice {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Every kind of inline button the bot sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackData {
    /// `fb:<call id>:<choice>` under a protocol.
    Feedback {
        call_id: i64,
        choice: FeedbackChoice,
    },
    /// `lp:<category or ->:<first yyyymmdd>:<last yyyymmdd>:<page>`: a page of `/leads`.
    LeadsPage {
        category: Option<LeadCategory>,
        first: NaiveDate,
        last: NaiveDate,
        page: u32,
    },
    /// `lo:<call id>`: open a lead from the list.
    OpenLead { call_id: i64 },
    /// `st:<what>`: a `/settings` button.
    Settings(SettingsAction),
    /// `hu:<outbound id>`: ⏹ under a call's status message.
    HangUp { outbound_id: i64 },
    /// `cc:<number digits>:<script index>`: place a `/call` outside the calling window anyway.
    ConfirmCall { phone_digits: u64, script: u8 },
    /// `cx`: do not place it.
    DropCall,
    /// `rb:<number digits>`: «Перезвонить» under a missed-call alert (starts `/call`).
    CallBack { phone_digits: u64 },
    /// `rc:<call id>`: «🎧 Запись» under a protocol (sends the call's recording).
    Recording { call_id: i64 },
    /// `cp:<campaign id>:<s|p|x>`: ▶ ⏸ ⏹ under a campaign's progress message.
    Campaign { id: i64, action: CampaignAction },
}

fn action_code(a: CampaignAction) -> char {
    match a {
        CampaignAction::Start => 's',
        CampaignAction::Pause => 'p',
        CampaignAction::Stop => 'x',
    }
}

/// What a `/settings` button does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsAction {
    /// Switches the chat's language.
    ToggleLanguage,
    /// Shows the time zones to pick from.
    ChooseTimezone,
    /// Sets the time zone at this index of the offered list.
    SetTimezone(u8),
    /// Cycles the digest time through off and a few presets.
    CycleDigest,
    /// Cycles the profile of our number at this index through the profiles and the default.
    CycleProfile(u8),
}

fn category_code(c: Option<LeadCategory>) -> char {
    match c {
        None => '-',
        Some(c) => FeedbackChoice::Category(c).code(),
    }
}

impl fmt::Display for CallbackData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallbackData::Feedback { call_id, choice } => {
                write!(f, "fb:{call_id}:{}", choice.code())
            }
            CallbackData::LeadsPage {
                category,
                first,
                last,
                page,
            } => write!(
                f,
                "lp:{}:{}:{}:{page}",
                category_code(*category),
                first.format("%Y%m%d"),
                last.format("%Y%m%d")
            ),
            CallbackData::OpenLead { call_id } => write!(f, "lo:{call_id}"),
            CallbackData::Settings(a) => match a {
                SettingsAction::ToggleLanguage => f.write_str("st:l"),
                SettingsAction::ChooseTimezone => f.write_str("st:t"),
                SettingsAction::SetTimezone(i) => write!(f, "st:t:{i}"),
                SettingsAction::CycleDigest => f.write_str("st:d"),
                SettingsAction::CycleProfile(i) => write!(f, "st:p:{i}"),
            },
            CallbackData::HangUp { outbound_id } => write!(f, "hu:{outbound_id}"),
            CallbackData::ConfirmCall {
                phone_digits,
                script,
            } => write!(f, "cc:{phone_digits}:{script}"),
            CallbackData::DropCall => f.write_str("cx"),
            CallbackData::CallBack { phone_digits } => write!(f, "rb:{phone_digits}"),
            CallbackData::Recording { call_id } => write!(f, "rc:{call_id}"),
            CallbackData::Campaign { id, action } => write!(f, "cp:{id}:{}", action_code(*action)),
        }
    }
}

impl FromStr for CallbackData {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("bad callback data {s:?}");
        let parts: Vec<&str> = s.split(':').collect();
        match parts.as_slice() {
            ["lp", cat, first, last, page] => {
                let date = |d: &str| NaiveDate::parse_from_str(d, "%Y%m%d").map_err(|_| bad());
                let category = match *cat {
                    "-" => None,
                    code => match FeedbackChoice::from_code(code) {
                        Some(FeedbackChoice::Category(c)) => Some(c),
                        _ => return Err(bad()),
                    },
                };
                return Ok(CallbackData::LeadsPage {
                    category,
                    first: date(first)?,
                    last: date(last)?,
                    page: page.parse().map_err(|_| bad())?,
                });
            }
            ["lo", id] => {
                return Ok(CallbackData::OpenLead {
                    call_id: id.parse().map_err(|_| bad())?,
                })
            }
            ["st", "l"] => return Ok(CallbackData::Settings(SettingsAction::ToggleLanguage)),
            ["st", "t"] => return Ok(CallbackData::Settings(SettingsAction::ChooseTimezone)),
            ["st", "d"] => return Ok(CallbackData::Settings(SettingsAction::CycleDigest)),
            ["st", "p", i] => {
                let i = i.parse().map_err(|_| bad())?;
                return Ok(CallbackData::Settings(SettingsAction::CycleProfile(i)));
            }
            ["hu", id] => {
                return Ok(CallbackData::HangUp {
                    outbound_id: id.parse().map_err(|_| bad())?,
                })
            }
            ["cc", digits, script] => {
                if !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                return Ok(CallbackData::ConfirmCall {
                    phone_digits: digits.parse().map_err(|_| bad())?,
                    script: script.parse().map_err(|_| bad())?,
                });
            }
            ["cx"] => return Ok(CallbackData::DropCall),
            ["rc", id] => {
                return Ok(CallbackData::Recording {
                    call_id: id.parse().map_err(|_| bad())?,
                })
            }
            ["rb", digits] => {
                if !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                return Ok(CallbackData::CallBack {
                    phone_digits: digits.parse().map_err(|_| bad())?,
                });
            }
            ["cp", id, code] => {
                let action = [
                    CampaignAction::Start,
                    CampaignAction::Pause,
                    CampaignAction::Stop,
                ]
                .into_iter()
                .find(|a| code.len() == 1 && code.starts_with(action_code(*a)))
                .ok_or_else(bad)?;
                return Ok(CallbackData::Campaign {
                    id: id.parse().map_err(|_| bad())?,
                    action,
                });
            }
            ["st", "t", i] => {
                let i = i.parse().map_err(|_| bad())?;
                return Ok(CallbackData::Settings(SettingsAction::SetTimezone(i)));
            }
            _ => {}
        }
        let mut parts = s.split(':');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("fb"), Some(id), Some(code), None) => Ok(CallbackData::Feedback {
                call_id: id.parse().map_err(|_| format!("bad call id in {s:?}"))?,
                choice: FeedbackChoice::from_code(code)
                    .ok_or_else(|| format!("bad choice in {s:?}"))?,
            }),
            _ => Err(format!("unknown callback data {s:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_within_64_bytes() {
        let mut all = vec![FeedbackChoice::Confirm];
        all.extend(LeadCategory::ALL.map(FeedbackChoice::Category));
        for choice in all {
            for call_id in [1, i64::MAX] {
                let d = CallbackData::Feedback { call_id, choice };
                let s = d.to_string();
                assert!(s.len() <= 64, "{s}");
                assert_eq!(s.parse::<CallbackData>().unwrap(), d);
            }
        }
        let d = |day| NaiveDate::from_ymd_opt(2026, 11, day).unwrap();
        for data in [
            CallbackData::LeadsPage {
                category: None,
                first: d(1),
                last: d(30),
                page: 0,
            },
            CallbackData::LeadsPage {
                category: Some(LeadCategory::Refusal),
                first: d(1),
                last: d(2),
                page: u32::MAX,
            },
            CallbackData::OpenLead { call_id: i64::MAX },
            CallbackData::Settings(SettingsAction::ToggleLanguage),
            CallbackData::Settings(SettingsAction::SetTimezone(11)),
            CallbackData::Settings(SettingsAction::CycleDigest),
            CallbackData::Settings(SettingsAction::CycleProfile(3)),
            CallbackData::Settings(SettingsAction::ChooseTimezone),
            CallbackData::HangUp {
                outbound_id: i64::MAX,
            },
            CallbackData::ConfirmCall {
                phone_digits: 999_999_999_999_999,
                script: u8::MAX,
            },
            CallbackData::DropCall,
            CallbackData::CallBack {
                phone_digits: 79_161_112_233,
            },
            CallbackData::Recording { call_id: i64::MAX },
            CallbackData::Campaign {
                id: i64::MAX,
                action: CampaignAction::Start,
            },
            CallbackData::Campaign {
                id: 1,
                action: CampaignAction::Pause,
            },
            CallbackData::Campaign {
                id: 2,
                action: CampaignAction::Stop,
            },
        ] {
            let s = data.to_string();
            assert!(s.len() <= 64, "{s}");
            assert_eq!(s.parse::<CallbackData>().unwrap(), data);
        }
        for bad in [
            "",
            "fb",
            "fb:x:h",
            "fb:1:z",
            "fb:1:h:extra",
            "zz:1:h",
            "lp:k:20261101:20261130:0",
            "lp:-:2026:20261130:0",
            "lo:x",
            "hu:",
            "hu:1:2",
            "cc:7916:300",
            "cc:+7916:1",
            "cp:1:z",
            "cp:x:s",
            "cp:1:sp",
        ] {
            assert!(bad.parse::<CallbackData>().is_err(), "{bad}");
        }
    }
}
