//! When a campaign may call someone: a daily window on the days the campaign sets, except
//! holidays, all read in the callee's local time. [`CallingSchedule::next_open`] gives the first
//! moment from a given instant when a call is allowed, so a Vladivostok contact reached at 14:00
//! Moscow time (21:00 there) waits for 09:00 of its own next working day, and a retry due at
//! 19:50 local time with a 30-minute interval waits for the next morning.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use super::CallWindow;

/// Days of the week a campaign calls on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days([bool; 7]);

impl Days {
    pub const WEEKDAYS: Days = Days([true, true, true, true, true, false, false]);
    pub const EVERY_DAY: Days = Days([true; 7]);

    pub fn contains(&self, d: Weekday) -> bool {
        self.0[d.num_days_from_monday() as usize]
    }

    /// Reads `пн-пт`, `mon-fri`, `пн,ср,пт`, `будни`, `ежедневно`, `daily`, `weekdays`.
    pub fn parse(s: &str) -> Result<Days, String> {
        let s = s.trim().to_lowercase();
        match s.as_str() {
            "будни" | "weekdays" | "рабочие" => return Ok(Self::WEEKDAYS),
            "ежедневно" | "daily" | "все" | "all" => return Ok(Self::EVERY_DAY),
            _ => {}
        }
        let day = |w: &str| -> Result<usize, String> {
            const NAMES: [[&str; 3]; 7] = [
                ["пн", "mon", "понед"],
                ["вт", "tue", "втор"],
                ["ср", "wed", "сред"],
                ["чт", "thu", "четв"],
                ["пт", "fri", "пятн"],
                ["сб", "sat", "субб"],
                ["вс", "sun", "воскр"],
            ];
            let w = w.trim();
            NAMES
                .iter()
                .position(|n| n.iter().any(|x| w.starts_with(x)))
                .ok_or_else(|| format!("{w:?} is not a day of the week (пн…вс, mon…sun)"))
        };
        let mut days = [false; 7];
        for part in s.split(',') {
            let part = part.replace('–', "-");
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (day(a)?, day(b)?);
                    let mut i = a;
                    loop {
                        days[i] = true;
                        if i == b {
                            break;
                        }
                        i = (i + 1) % 7;
                    }
                }
                None => days[day(&part)?] = true,
            }
        }
        Ok(Days(days))
    }
}

/// Written as [`Days::parse`] reads it back, runs of days as ranges: `пн-пт`, `пн,ср,пт`.
impl std::fmt::Display for Days {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHORT: [&str; 7] = ["пн", "вт", "ср", "чт", "пт", "сб", "вс"];
        let mut parts = Vec::new();
        let mut i = 0;
        while i < 7 {
            if !self.0[i] {
                i += 1;
                continue;
            }
            let start = i;
            while i + 1 < 7 && self.0[i + 1] {
                i += 1;
            }
            parts.push(match i - start {
                0 => SHORT[start].to_string(),
                1 => format!("{},{}", SHORT[start], SHORT[i]),
                _ => format!("{}-{}", SHORT[start], SHORT[i]),
            });
            i += 1;
        }
        f.write_str(&parts.join(","))
    }
}

/// The hours, days and holidays of calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallingSchedule {
    pub window: CallWindow,
    pub days: Days,
    pub holidays: BTreeSet<NaiveDate>,
}

impl Default for CallingSchedule {
    fn default() -> Self {
        Self {
            window: CallWindow::default(),
            days: Days::WEEKDAYS,
            holidays: BTreeSet::new(),
        }
    }
}

/// How far ahead [`CallingSchedule::next_open`] looks before it gives up (a schedule with no
/// day left).
const HORIZON_DAYS: i64 = 400;

impl CallingSchedule {
    fn day_allowed(&self, d: NaiveDate) -> bool {
        self.days.contains(d.weekday()) && !self.holidays.contains(&d)
    }

    /// Whether a call may be placed at `at` to someone in `tz`.
    pub fn allows(&self, at: DateTime<Utc>, tz: Tz) -> bool {
        let local = at.with_timezone(&tz);
        let opened_on = if self.window.from > self.window.to && local.time() < self.window.to {
            // Past midnight in a window across it: the day it opened counts.
            local.date_naive() - Duration::days(1)
        } else {
            local.date_naive()
        };
        self.window.contains(at, tz) && self.day_allowed(opened_on)
    }

    /// The first moment at or after `after` when a call to someone in `tz` is allowed.
    pub fn next_open(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        if self.allows(after, tz) {
            return Some(after);
        }
        let today = after.with_timezone(&tz).date_naive();
        (0..HORIZON_DAYS)
            .map(|i| today + Duration::days(i))
            .filter(|d| self.day_allowed(*d))
            .filter_map(|d| {
                // A window opening in a clock change's gap opens at the first moment after it.
                tz.from_local_datetime(&d.and_time(self.window.from))
                    .earliest()
                    .or_else(|| {
                        tz.from_local_datetime(&(d.and_time(self.window.from) + Duration::hours(1)))
                            .earliest()
                    })
            })
            .map(|t| t.with_timezone(&Utc))
            .find(|t| *t >= after)
    }

    /// Reads a holiday list: dates as `2026-01-01` or `01.01.2026`, separated by commas or spaces.
    pub fn parse_holidays(s: &str) -> Result<BTreeSet<NaiveDate>, String> {
        s.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|p| !p.is_empty())
            .map(|p| {
                NaiveDate::parse_from_str(p, "%Y-%m-%d")
                    .or_else(|_| NaiveDate::parse_from_str(p, "%d.%m.%Y"))
                    .map_err(|_| format!("{p:?} is not a date (2026-01-01 or 01.01.2026)"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        // November 2026: the 27th is a Friday.
        Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap()
    }

    const VLADIVOSTOK: Tz = chrono_tz::Asia::Vladivostok; // UTC+10
    const MOSCOW: Tz = chrono_tz::Europe::Moscow; // UTC+3

    #[test]
    fn a_vladivostok_contact_waits_for_its_own_morning() {
        let s = CallingSchedule::default();
        // Thursday 14:00 in Moscow = 11:00 UTC = 21:00 in Vladivostok: closed there, open here.
        let at = utc(26, 11, 0);
        assert!(s.allows(at, MOSCOW));
        assert!(!s.allows(at, VLADIVOSTOK));
        // Friday 09:00 in Vladivostok = Thursday 23:00 UTC.
        assert_eq!(s.next_open(at, VLADIVOSTOK), Some(utc(26, 23, 0)));
        assert_eq!(s.next_open(at, MOSCOW), Some(at));
    }

    #[test]
    fn weekends_and_holidays_are_skipped() {
        let mut s = CallingSchedule::default();
        // Friday 20:30 in Moscow: next is Monday 09:00 (the 30th), 06:00 UTC.
        assert_eq!(s.next_open(utc(27, 17, 30), MOSCOW), Some(utc(30, 6, 0)));
        s.holidays = CallingSchedule::parse_holidays("30.11.2026, 2026-12-01").unwrap();
        assert_eq!(
            s.next_open(utc(27, 17, 30), MOSCOW),
            Some(Utc.with_ymd_and_hms(2026, 12, 2, 6, 0, 0).unwrap())
        );
        s.days = Days::EVERY_DAY;
        assert_eq!(s.next_open(utc(27, 17, 30), MOSCOW), Some(utc(28, 6, 0)));
        // Before the window on an allowed day: the same morning.
        assert_eq!(s.next_open(utc(28, 4, 0), MOSCOW), Some(utc(28, 6, 0)));
        s.days = Days([false; 7]);
        assert_eq!(s.next_open(utc(27, 17, 30), MOSCOW), None);
    }

    #[test]
    fn days_as_managers_write_them() {
        assert_eq!(Days::parse("пн-пт"), Ok(Days::WEEKDAYS));
        assert_eq!(Days::parse("Mon-Fri"), Ok(Days::WEEKDAYS));
        assert_eq!(Days::parse("будни"), Ok(Days::WEEKDAYS));
        assert_eq!(Days::parse("ежедневно"), Ok(Days::EVERY_DAY));
        assert_eq!(
            Days::parse("пн, ср, пт"),
            Ok(Days([true, false, true, false, true, false, false]))
        );
        assert_eq!(
            Days::parse("пт-пн"),
            Ok(Days([true, false, false, false, true, true, true]))
        );
        assert_eq!(
            Days::parse("понедельник-пятница"),
            Ok(Days::WEEKDAYS),
            "full names too"
        );
        assert!(Days::parse("xyz").is_err());
        for d in [
            Days::WEEKDAYS,
            Days::EVERY_DAY,
            Days([true, false, true, false, true, false, false]),
        ] {
            assert_eq!(Days::parse(&d.to_string()), Ok(d), "{d}");
        }
        assert_eq!(Days::WEEKDAYS.to_string(), "пн-пт");
        assert_eq!(Days::EVERY_DAY.to_string(), "пн-вс");
        assert_eq!(
            Days::parse("пн,вт,пт-сб").unwrap().to_string(),
            "пн,вт,пт,сб"
        );
        assert!(CallingSchedule::parse_holidays("31.02.2026").is_err());
    }
}
