//! A daily calling window (`09:00-20:00`): the hours in which the agent may call someone, read in
//! the callee's local time.

use std::fmt;

use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Local hours in which calls may be placed; `from` may be after `to` (a window across midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallWindow {
    pub from: NaiveTime,
    pub to: NaiveTime,
}

impl CallWindow {
    /// Reads `HH:MM-HH:MM` (also with `–` or spaces).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.replace('–', "-");
        let (a, b) = s
            .split_once('-')
            .ok_or_else(|| format!("{s:?} is not HH:MM-HH:MM, e.g. 09:00-20:00"))?;
        let t = |x: &str| {
            NaiveTime::parse_from_str(x.trim(), "%H:%M")
                .map_err(|_| format!("{:?} is not a time HH:MM", x.trim()))
        };
        let (from, to) = (t(a)?, t(b)?);
        if from == to {
            return Err("the window is empty".into());
        }
        Ok(Self { from, to })
    }

    /// Whether `at` falls in the window in time zone `tz`.
    pub fn contains(&self, at: DateTime<Utc>, tz: Tz) -> bool {
        let local = tz.from_utc_datetime(&at.naive_utc()).time();
        if self.from < self.to {
            self.from <= local && local < self.to
        } else {
            local >= self.from || local < self.to
        }
    }
}

/// `09:00-20:00`: the usual business hours for calls.
impl Default for CallWindow {
    fn default() -> Self {
        Self {
            from: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
            to: NaiveTime::from_hms_opt(20, 0, 0).unwrap_or_default(),
        }
    }
}

impl fmt::Display for CallWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}",
            self.from.format("%H:%M"),
            self.to.format("%H:%M")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, h, m, 0).unwrap()
    }

    #[test]
    fn hours_are_read_in_the_callees_zone() {
        let w = CallWindow::parse("09:00-20:00").unwrap();
        let msk = chrono_tz::Europe::Moscow; // UTC+3
        let nsk = chrono_tz::Asia::Novosibirsk; // UTC+7
        assert!(!w.contains(utc(5, 59), msk), "08:59 in Moscow");
        assert!(w.contains(utc(6, 0), msk), "09:00 in Moscow");
        assert!(w.contains(utc(16, 59), msk));
        assert!(!w.contains(utc(17, 0), msk), "20:00 in Moscow is closed");
        assert!(!w.contains(utc(14, 0), nsk), "21:00 in Novosibirsk");
        assert_eq!(w.to_string(), "09:00-20:00");
        assert_eq!(CallWindow::default(), w);
    }

    #[test]
    fn a_window_across_midnight_and_bad_input() {
        let w = CallWindow::parse("22:00 – 02:00").unwrap();
        let utc0 = chrono_tz::UTC;
        assert!(w.contains(utc(23, 0), utc0) && w.contains(utc(1, 0), utc0));
        assert!(!w.contains(utc(12, 0), utc0));
        assert!(CallWindow::parse("9-20").is_err());
        assert!(CallWindow::parse("09:00-09:00").is_err());
        assert!(CallWindow::parse("25:00-26:00").is_err());
    }
}
