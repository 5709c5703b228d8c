//! A callback time as a callee says it («перезвоните в четверг после обеда», «завтра в 10»,
//! «через два часа», "tomorrow at 3 pm") read into a local date and time, relative to the local
//! moment it was said. Only what it understands is used; anything else is no time at all.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Weekday};

/// When no hour is said for a day: the morning.
const DEFAULT_HOUR: u32 = 10;

/// Reads `text` said at local time `now`; `None` when no time can be told from it.
pub fn parse_spoken_time(text: &str, now: NaiveDateTime) -> Option<NaiveDateTime> {
    let lower = text.to_lowercase().replace('ё', "е");
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == ':' || c == '.'))
        .filter(|w| !w.is_empty())
        .collect();
    if let Some(at) = relative(&words, now) {
        return Some(at);
    }
    let day = day_of(&words, now.date());
    let time = time_of(&words);
    match (day, time) {
        (None, None) => None,
        (Some(d), t) => Some(d.and_time(t.unwrap_or_else(|| hour(DEFAULT_HOUR)))),
        (None, Some(t)) => {
            let today = now.date().and_time(t);
            Some(if today > now {
                today
            } else {
                today + Duration::days(1)
            })
        }
    }
}

fn hour(h: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, 0, 0).unwrap_or_default()
}

/// A small number said as digits or a word (1–12, «пару», «полчаса» handled by the caller).
fn number(w: &str) -> Option<i64> {
    if let Ok(n) = w.parse::<i64>() {
        return Some(n);
    }
    const WORDS: [(&[&str], i64); 12] = [
        (&["один", "одну", "одна", "one", "a", "an"], 1),
        (&["два", "две", "пару", "пара", "two", "couple"], 2),
        (&["три", "three"], 3),
        (&["четыре", "four"], 4),
        (&["пять", "five"], 5),
        (&["шесть", "six"], 6),
        (&["семь", "seven"], 7),
        (&["восемь", "eight"], 8),
        (&["девять", "nine"], 9),
        (&["десять", "ten"], 10),
        (&["одиннадцать", "eleven"], 11),
        (&["двенадцать", "twelve"], 12),
    ];
    WORDS
        .iter()
        .find(|(ws, _)| ws.contains(&w))
        .map(|(_, n)| *n)
}

/// «через два часа», «через 15 минут», «через неделю», "in 2 hours".
fn relative(words: &[&str], now: NaiveDateTime) -> Option<NaiveDateTime> {
    let at = words.iter().position(|w| *w == "через" || *w == "in")?;
    let rest = &words[at + 1..];
    let first = *rest.first()?;
    if first == "полчаса" {
        return Some(now + Duration::minutes(30));
    }
    let (n, unit) = match number(first) {
        Some(n) => (n, *rest.get(1)?),
        None => (1, first),
    };
    let span = if unit.starts_with("мин") || unit.starts_with("min") {
        Duration::minutes(n)
    } else if unit.starts_with("час") || unit.starts_with("hour") {
        Duration::hours(n)
    } else if unit.starts_with("нед") || unit.starts_with("week") {
        Duration::weeks(n)
    } else if unit.starts_with("дн") || unit.starts_with("ден") || unit.starts_with("day") {
        Duration::days(n)
    } else {
        return None;
    };
    let at = now + span;
    // «через два дня» names a day, not a moment: the morning of it unless an hour is said.
    if span >= Duration::days(1) {
        return Some(
            at.date()
                .and_time(time_of(words).unwrap_or_else(|| hour(DEFAULT_HOUR))),
        );
    }
    Some(at)
}

fn day_of(words: &[&str], today: NaiveDate) -> Option<NaiveDate> {
    const DAYS: [(&str, &str, Weekday); 7] = [
        ("понедельник", "monday", Weekday::Mon),
        ("вторник", "tuesday", Weekday::Tue),
        ("сред", "wednesday", Weekday::Wed),
        ("четверг", "thursday", Weekday::Thu),
        ("пятниц", "friday", Weekday::Fri),
        ("суббот", "saturday", Weekday::Sat),
        ("воскресень", "sunday", Weekday::Sun),
    ];
    for w in words {
        match *w {
            "сегодня" | "today" => return Some(today),
            "завтра" | "tomorrow" => return Some(today + Duration::days(1)),
            "послезавтра" => return Some(today + Duration::days(2)),
            _ => {}
        }
        if let Some((_, _, wd)) = DAYS.iter().find(|(ru, en, _)| w.starts_with(ru) || w == en) {
            let ahead =
                (7 + wd.num_days_from_monday() - today.weekday().num_days_from_monday()) % 7;
            return Some(today + Duration::days(i64::from(if ahead == 0 { 7 } else { ahead })));
        }
    }
    let text = words.join(" ");
    if text.contains("следующей неделе") || text.contains("next week") {
        let to_monday = 7 - today.weekday().num_days_from_monday();
        return Some(today + Duration::days(i64::from(to_monday)));
    }
    None
}

fn time_of(words: &[&str]) -> Option<NaiveTime> {
    let text = words.join(" ");
    let pm = text.contains("дня") || text.contains("вечера") || text.contains("pm");
    for (i, w) in words.iter().enumerate() {
        let prev = i.checked_sub(1).map(|p| words[p]);
        if !matches!(prev, Some("в" | "к" | "at" | "около" | "после")) {
            continue;
        }
        let (h, m) = match w.split_once([':', '.']) {
            Some((h, m)) => (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?),
            None => match number(w) {
                Some(h) => (u32::try_from(h).ok()?, 0),
                None => continue,
            },
        };
        let h = if pm && h < 12 { h + 12 } else { h };
        // «после 15» is a little after it.
        let m = if prev == Some("после") && m == 0 {
            30
        } else {
            m
        };
        if let Some(t) = NaiveTime::from_hms_opt(h, m, 0) {
            return Some(t);
        }
    }
    if text.contains("после обеда") || text.contains("afternoon") {
        return Some(hour(14));
    }
    if text.contains("в обед") || text.contains("днем") || text.contains("днём") {
        return Some(hour(13));
    }
    if text.contains("вечер") || text.contains("evening") {
        return Some(hour(18));
    }
    if text.contains("утр") || text.contains("до обеда") || text.contains("morning") {
        return Some(hour(10));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wednesday 25 November 2026, 11:20.
    fn now() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 25)
            .unwrap()
            .and_hms_opt(11, 20, 0)
            .unwrap()
    }

    fn at(d: u32, h: u32, m: u32) -> Option<NaiveDateTime> {
        NaiveDate::from_ymd_opt(2026, 11, d)
            .unwrap()
            .and_hms_opt(h, m, 0)
    }

    #[test]
    fn what_callees_say() {
        let cases = [
            ("перезвоните в четверг после обеда", at(26, 14, 0)),
            ("в четверг после обеда", at(26, 14, 0)),
            ("завтра в 10", at(26, 10, 0)),
            ("Завтра в 15:30", at(26, 15, 30)),
            ("послезавтра утром", at(27, 10, 0)),
            ("в пятницу в 3 часа дня", at(27, 15, 0)),
            ("через два часа", at(25, 13, 20)),
            ("через 15 минут", at(25, 11, 35)),
            ("через полчаса", at(25, 11, 50)),
            (
                "через неделю",
                Some(at(25, 10, 0).unwrap() + Duration::days(7)),
            ),
            ("в среду", Some(at(25, 10, 0).unwrap() + Duration::days(7))),
            ("на следующей неделе", at(30, 10, 0)),
            ("вечером", at(25, 18, 0)),
            ("в 9", at(26, 9, 0)),
            ("сегодня после 16", at(25, 16, 30)),
            ("tomorrow at 3 pm", at(26, 15, 0)),
            ("in 2 hours", at(25, 13, 20)),
            ("когда-нибудь потом", None),
            ("", None),
        ];
        for (said, want) in cases {
            assert_eq!(parse_spoken_time(said, now()), want, "{said}");
        }
    }
}
