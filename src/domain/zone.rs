//! The callee's time zone from a Russian geographic (ABC) code alone: the code names a region,
//! and the region has one zone. Mobile (DEF, `9xx`) codes name no region; their ranges are in
//! the numbering plan registry ([`super::numbering`]), which uses this for what it does not cover.

use chrono_tz::Tz;

use super::PhoneNumber;

/// Geographic codes outside Moscow time; every other Russian `3xx`, `4xx` and `8xx` code is on
/// Moscow time.
const ZONES: &[(&str, Tz)] = &[
    ("301", Tz::Asia__Irkutsk),       // Бурятия
    ("302", Tz::Asia__Chita),         // Забайкальский край
    ("341", Tz::Europe__Samara),      // Удмуртия
    ("342", Tz::Asia__Yekaterinburg), // Пермский край
    ("343", Tz::Asia__Yekaterinburg), // Свердловская область
    ("345", Tz::Asia__Yekaterinburg), // Тюменская область
    ("346", Tz::Asia__Yekaterinburg), // ХМАО
    ("347", Tz::Asia__Yekaterinburg), // Башкортостан
    ("349", Tz::Asia__Yekaterinburg), // ЯНАО
    ("351", Tz::Asia__Yekaterinburg), // Челябинская область
    ("352", Tz::Asia__Yekaterinburg), // Курганская область
    ("353", Tz::Asia__Yekaterinburg), // Оренбургская область
    ("381", Tz::Asia__Omsk),
    ("382", Tz::Asia__Tomsk),
    ("383", Tz::Asia__Novosibirsk),
    ("384", Tz::Asia__Novokuznetsk), // Кемеровская область
    ("385", Tz::Asia__Barnaul),      // Алтайский край
    ("388", Tz::Asia__Barnaul),      // Республика Алтай
    ("390", Tz::Asia__Krasnoyarsk),  // Хакасия
    ("391", Tz::Asia__Krasnoyarsk),
    ("394", Tz::Asia__Krasnoyarsk), // Тыва
    ("395", Tz::Asia__Irkutsk),
    ("401", Tz::Europe__Kaliningrad),
    ("411", Tz::Asia__Yakutsk),
    ("413", Tz::Asia__Magadan),
    ("415", Tz::Asia__Kamchatka),
    ("416", Tz::Asia__Yakutsk),     // Амурская область
    ("421", Tz::Asia__Vladivostok), // Хабаровский край
    ("423", Tz::Asia__Vladivostok), // Приморский край
    ("424", Tz::Asia__Sakhalin),
    ("426", Tz::Asia__Vladivostok), // ЕАО
    ("427", Tz::Asia__Anadyr),      // Чукотка
    ("842", Tz::Europe__Ulyanovsk),
    ("845", Tz::Europe__Saratov),
    ("846", Tz::Europe__Samara),
    ("848", Tz::Europe__Samara), // Тольятти
    ("851", Tz::Europe__Astrakhan),
];

/// The zone of a Russian geographic number; `None` for mobile and foreign numbers.
pub fn callee_zone(phone: &PhoneNumber) -> Option<Tz> {
    let national = phone.as_str().strip_prefix("+7")?;
    let code = national.get(..3)?;
    if let Some((_, tz)) = ZONES.iter().find(|(c, _)| *c == code) {
        return Some(*tz);
    }
    match code.as_bytes().first() {
        Some(b'3' | b'4' | b'8') => Some(Tz::Europe__Moscow),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(n: &str) -> Option<Tz> {
        callee_zone(&PhoneNumber::parse(n).unwrap())
    }

    #[test]
    fn geographic_codes_name_their_zone_and_mobiles_do_not() {
        assert_eq!(zone("+7 495 123-45-67"), Some(Tz::Europe__Moscow));
        assert_eq!(zone("8 (812) 123-45-67"), Some(Tz::Europe__Moscow));
        assert_eq!(zone("+7 383 123-45-67"), Some(Tz::Asia__Novosibirsk));
        assert_eq!(zone("+7 423 123-45-67"), Some(Tz::Asia__Vladivostok));
        assert_eq!(zone("+7 401 123-45-67"), Some(Tz::Europe__Kaliningrad));
        assert_eq!(zone("+7 343 123-45-67"), Some(Tz::Asia__Yekaterinburg));
        assert_eq!(zone("+7 916 123-45-67"), None);
        assert_eq!(zone("+375 29 123-45-67"), None);
    }
}
