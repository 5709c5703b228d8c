//! Periods people type: `today`, `yesterday`, `week`, `month`, `YYYY-MM-DD`,
//! `YYYY-MM-DD..YYYY-MM-DD` (also in Russian), as `[from, to)` in UTC for the chat's time zone.

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// A period of whole local days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub first: NaiveDate,
    /// Inclusive.
    pub last: NaiveDate,
}

impl Period {
    /// The `n` days ending with `today` (n = 1 is today alone).
    pub fn last_days(today: NaiveDate, n: u64) -> Period {
        Period {
            first: today - Days::new(n.max(1) - 1),
            last: today,
        }
    }

    /// `[from, to)` in UTC.
    pub fn bounds(&self, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        let start = |d: NaiveDate| {
            d.and_hms_opt(0, 0, 0)
                .and_then(|t| tz.from_local_datetime(&t).earliest())
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default()
        };
        (start(self.first), start(self.last + Days::new(1)))
    }

    /// `15.11–21.11` or `20.11.2026`.
    pub fn label(&self) -> String {
        if self.first == self.last {
            self.first.format("%d.%m.%Y").to_string()
        } else {
            format!(
                "{}–{}",
                self.first.format("%d.%m"),
                self.last.format("%d.%m.%Y")
            )
        }
    }

    /// The period of the same length just before this one.
    pub fn previous(&self) -> Period {
        let days = (self.last - self.first).num_days() as u64 + 1;
        Period {
            first: self.first - Days::new(days),
            last: self.first - Days::new(1),
        }
    }

    pub fn days(&self) -> i64 {
        (self.last - self.first).num_days() + 1
    }
}

/// Parses a time of day `HH:MM`.
pub fn parse_time(s: &str) -> Option<chrono::NaiveTime> {
    chrono::NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

/// Parses `word` relative to `today`; `None` when it is not a period.
pub fn parse_period(word: &str, today: NaiveDate) -> Option<Period> {
    let w = word.trim().to_lowercase();
    let back = |n: u64| Period {
        first: today - Days::new(n - 1),
        last: today,
    };
    match w.as_str() {
        "today" | "сегодня" => return Some(back(1)),
        "yesterday" | "вчера" => {
            let y = today - Days::new(1);
            return Some(Period { first: y, last: y });
        }
        "week" | "неделя" | "неделю" | "нед" | "7d" => return Some(back(7)),
        "month" | "месяц" | "мес" | "30d" => return Some(back(30)),
        _ => {}
    }
    let date = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
    if let Some((a, b)) = w.split_once("..") {
        let (first, last) = (date(a)?, date(b)?);
        return (first <= last && (last - first).num_days() <= 366)
            .then_some(Period { first, last });
    }
    date(&w).map(|d| Period { first: d, last: d })
}

/// Today in `tz`.
pub fn today(tz: Tz) -> NaiveDate {
    Utc::now().with_timezone(&tz).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_in_both_languages() {
        let t = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        assert_eq!(parse_period("today", t), Some(Period { first: t, last: t }));
        assert_eq!(
            parse_period("Неделя", t),
            Some(Period {
                first: d(11, 16),
                last: t
            })
        );
        assert_eq!(parse_period("month", t).unwrap().days(), 30);
        assert_eq!(
            parse_period("2026-11-01..2026-11-15", t),
            Some(Period {
                first: d(11, 1),
                last: d(11, 15)
            })
        );
        assert_eq!(
            parse_period("2026-11-20", t),
            Some(Period {
                first: d(11, 20),
                last: d(11, 20)
            })
        );
        for bad in [
            "",
            "hot",
            "2026-11-15..2026-11-01",
            "2026-13-01",
            "2020-01-01..2026-01-01",
        ] {
            assert_eq!(parse_period(bad, t), None, "{bad}");
        }
        let week = parse_period("week", t).unwrap();
        assert_eq!(
            week.previous(),
            Period {
                first: d(11, 9),
                last: d(11, 15)
            }
        );
        assert_eq!(week.label(), "16.11–22.11.2026");
    }

    #[test]
    fn bounds_follow_the_time_zone() {
        let p = Period {
            first: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            last: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
        };
        let (from, to) = p.bounds(chrono_tz::Europe::Moscow);
        assert_eq!(from.to_rfc3339(), "2026-11-19T21:00:00+00:00");
        assert_eq!(to.to_rfc3339(), "2026-11-20T21:00:00+00:00");
    }
}
