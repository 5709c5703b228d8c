//! Russia's regions as the numbering registry names them, each with its IANA time zone. The
//! registry spells one region many ways («г. Москва и Московская область», «Москва и Московская
//! область», «г. Москва * Московская область»), so a name is recognised by a word stem in it and
//! given one canonical name. A region spanning zones (Якутия) takes the zone of most of its
//! people.

use chrono_tz::Tz;

/// (stem, canonical name, zone), tried in order: a stem that another contains comes after it
/// («ямал» before «ненец», «томск» before «омск», «сахалин» before «саха»).
const REGIONS: &[(&str, &str, Tz)] = &[
    ("ямал", "Ямало-Ненецкий АО", Tz::Asia__Yekaterinburg),
    (
        "ханты",
        "Ханты-Мансийский АО — Югра",
        Tz::Asia__Yekaterinburg,
    ),
    (
        "ненец",
        "Архангельская обл. и Ненецкий АО",
        Tz::Europe__Moscow,
    ),
    (
        "архангел",
        "Архангельская обл. и Ненецкий АО",
        Tz::Europe__Moscow,
    ),
    (
        "калининград",
        "Калининградская обл.",
        Tz::Europe__Kaliningrad,
    ),
    ("москв", "Москва и Московская обл.", Tz::Europe__Moscow),
    (
        "петербург",
        "Санкт-Петербург и Ленинградская обл.",
        Tz::Europe__Moscow,
    ),
    (
        "ленинград",
        "Санкт-Петербург и Ленинградская обл.",
        Tz::Europe__Moscow,
    ),
    ("самар", "Самарская обл.", Tz::Europe__Samara),
    ("удмурт", "Удмуртская Республика", Tz::Europe__Samara),
    ("ульянов", "Ульяновская обл.", Tz::Europe__Ulyanovsk),
    ("астрахан", "Астраханская обл.", Tz::Europe__Astrakhan),
    ("саратов", "Саратовская обл.", Tz::Europe__Saratov),
    ("волгоград", "Волгоградская обл.", Tz::Europe__Volgograd),
    ("киров", "Кировская обл.", Tz::Europe__Kirov),
    ("свердлов", "Свердловская обл.", Tz::Asia__Yekaterinburg),
    ("челябин", "Челябинская обл.", Tz::Asia__Yekaterinburg),
    ("курган", "Курганская обл.", Tz::Asia__Yekaterinburg),
    ("тюмен", "Тюменская обл.", Tz::Asia__Yekaterinburg),
    ("перм", "Пермский край", Tz::Asia__Yekaterinburg),
    ("оренбург", "Оренбургская обл.", Tz::Asia__Yekaterinburg),
    ("башкор", "Республика Башкортостан", Tz::Asia__Yekaterinburg),
    ("томск", "Томская обл.", Tz::Asia__Tomsk),
    ("омск", "Омская обл.", Tz::Asia__Omsk),
    ("новосибир", "Новосибирская обл.", Tz::Asia__Novosibirsk),
    (
        "кемеров",
        "Кемеровская обл. — Кузбасс",
        Tz::Asia__Novokuznetsk,
    ),
    (
        "кузбасс",
        "Кемеровская обл. — Кузбасс",
        Tz::Asia__Novokuznetsk,
    ),
    ("алтайский", "Алтайский край", Tz::Asia__Barnaul),
    ("алтай", "Республика Алтай", Tz::Asia__Barnaul),
    ("краснояр", "Красноярский край", Tz::Asia__Krasnoyarsk),
    ("норильск", "Красноярский край", Tz::Asia__Krasnoyarsk),
    ("тыва", "Республика Тыва", Tz::Asia__Krasnoyarsk),
    ("хакас", "Республика Хакасия", Tz::Asia__Krasnoyarsk),
    ("иркут", "Иркутская обл.", Tz::Asia__Irkutsk),
    ("бурят", "Республика Бурятия", Tz::Asia__Irkutsk),
    ("забайкал", "Забайкальский край", Tz::Asia__Chita),
    ("сахалин", "Сахалинская обл.", Tz::Asia__Sakhalin),
    ("якут", "Республика Саха (Якутия)", Tz::Asia__Yakutsk),
    ("саха", "Республика Саха (Якутия)", Tz::Asia__Yakutsk),
    ("амур", "Амурская обл.", Tz::Asia__Yakutsk),
    ("примор", "Приморский край", Tz::Asia__Vladivostok),
    ("хабаров", "Хабаровский край", Tz::Asia__Vladivostok),
    ("еврей", "Еврейская АО", Tz::Asia__Vladivostok),
    ("магадан", "Магаданская обл.", Tz::Asia__Magadan),
    ("камчат", "Камчатский край", Tz::Asia__Kamchatka),
    ("коряк", "Камчатский край", Tz::Asia__Kamchatka),
    ("чукот", "Чукотский АО", Tz::Asia__Anadyr),
    (
        "крым",
        "Республика Крым и Севастополь",
        Tz::Europe__Simferopol,
    ),
    (
        "севастопол",
        "Республика Крым и Севастополь",
        Tz::Europe__Simferopol,
    ),
    ("донецк", "Донецкая Народная Республика", Tz::Europe__Moscow),
    (
        "луганск",
        "Луганская Народная Республика",
        Tz::Europe__Moscow,
    ),
    ("запорож", "Запорожская обл.", Tz::Europe__Moscow),
    ("херсон", "Херсонская обл.", Tz::Europe__Moscow),
    ("белгород", "Белгородская обл.", Tz::Europe__Moscow),
    ("брянск", "Брянская обл.", Tz::Europe__Moscow),
    ("владимир", "Владимирская обл.", Tz::Europe__Moscow),
    ("воронеж", "Воронежская обл.", Tz::Europe__Moscow),
    ("иванов", "Ивановская обл.", Tz::Europe__Moscow),
    ("калуж", "Калужская обл.", Tz::Europe__Moscow),
    ("костром", "Костромская обл.", Tz::Europe__Moscow),
    ("курск", "Курская обл.", Tz::Europe__Moscow),
    ("липецк", "Липецкая обл.", Tz::Europe__Moscow),
    ("орлов", "Орловская обл.", Tz::Europe__Moscow),
    ("рязан", "Рязанская обл.", Tz::Europe__Moscow),
    ("смоленск", "Смоленская обл.", Tz::Europe__Moscow),
    ("тамбов", "Тамбовская обл.", Tz::Europe__Moscow),
    ("твер", "Тверская обл.", Tz::Europe__Moscow),
    ("туль", "Тульская обл.", Tz::Europe__Moscow),
    ("ярослав", "Ярославская обл.", Tz::Europe__Moscow),
    ("вологод", "Вологодская обл.", Tz::Europe__Moscow),
    ("мурманск", "Мурманская обл.", Tz::Europe__Moscow),
    ("нижегород", "Нижегородская обл.", Tz::Europe__Moscow),
    ("новгород", "Новгородская обл.", Tz::Europe__Moscow),
    ("псков", "Псковская обл.", Tz::Europe__Moscow),
    ("карел", "Республика Карелия", Tz::Europe__Moscow),
    ("коми", "Республика Коми", Tz::Europe__Moscow),
    ("мордов", "Республика Мордовия", Tz::Europe__Moscow),
    ("марий", "Республика Марий Эл", Tz::Europe__Moscow),
    ("чуваш", "Чувашская Республика", Tz::Europe__Moscow),
    ("пенз", "Пензенская обл.", Tz::Europe__Moscow),
    ("татарстан", "Республика Татарстан", Tz::Europe__Moscow),
    ("краснодар", "Краснодарский край", Tz::Europe__Moscow),
    ("адыге", "Республика Адыгея", Tz::Europe__Moscow),
    ("ставрополь", "Ставропольский край", Tz::Europe__Moscow),
    ("ростов", "Ростовская обл.", Tz::Europe__Moscow),
    ("дагестан", "Республика Дагестан", Tz::Europe__Moscow),
    ("чечен", "Чеченская Республика", Tz::Europe__Moscow),
    ("ингуш", "Республика Ингушетия", Tz::Europe__Moscow),
    (
        "кабардин",
        "Кабардино-Балкарская Республика",
        Tz::Europe__Moscow,
    ),
    (
        "карачаев",
        "Карачаево-Черкесская Республика",
        Tz::Europe__Moscow,
    ),
    (
        "осети",
        "Республика Северная Осетия — Алания",
        Tz::Europe__Moscow,
    ),
    ("калмык", "Республика Калмыкия", Tz::Europe__Moscow),
];

/// The canonical name and zone of a region as the registry writes it; `None` for what names no
/// one region («Российская Федерация», «-»).
pub fn recognise(name: &str) -> Option<(&'static str, Tz)> {
    let lower = name.to_lowercase();
    REGIONS
        .iter()
        .find(|(stem, _, _)| lower.contains(stem))
        .map(|(_, canonical, tz)| (*canonical, *tz))
}

/// The zone of a canonical region name.
pub fn zone_of(canonical: &str) -> Option<Tz> {
    REGIONS
        .iter()
        .find(|(_, c, _)| *c == canonical)
        .map(|(_, _, tz)| *tz)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_s_spellings_of_a_region_meet() {
        for name in [
            "г. Москва и Московская область",
            "Москва и Московская область",
            "г. Москва * Московская область",
            "Московская область * Москва|Московская область * Москва",
        ] {
            assert_eq!(
                recognise(name),
                Some(("Москва и Московская обл.", Tz::Europe__Moscow)),
                "{name}"
            );
        }
        assert_eq!(
            recognise("Ханты - Мансийский - Югра АО").map(|r| r.1),
            Some(Tz::Asia__Yekaterinburg)
        );
        assert_eq!(
            recognise("Ямало-Ненецкий АО").map(|r| r.1),
            Some(Tz::Asia__Yekaterinburg)
        );
        assert_eq!(
            recognise("Ненецкий АО").map(|r| r.1),
            Some(Tz::Europe__Moscow)
        );
        assert_eq!(
            recognise("Томская обл.").map(|r| r.1),
            Some(Tz::Asia__Tomsk)
        );
        assert_eq!(
            recognise("Омская область").map(|r| r.1),
            Some(Tz::Asia__Omsk)
        );
        assert_eq!(
            recognise("Сахалинская обл.").map(|r| r.1),
            Some(Tz::Asia__Sakhalin)
        );
        assert_eq!(
            recognise("Республика Саха /Якутия/").map(|r| r.1),
            Some(Tz::Asia__Yakutsk)
        );
        assert_eq!(
            recognise("Курская область").map(|r| r.1),
            Some(Tz::Europe__Moscow)
        );
        assert_eq!(
            recognise("Курганская обл.").map(|r| r.1),
            Some(Tz::Asia__Yekaterinburg)
        );
        assert_eq!(
            recognise("г. Норильск|Красноярский край").map(|r| r.1),
            Some(Tz::Asia__Krasnoyarsk)
        );
        assert_eq!(recognise("Российская Федерация"), None);
        assert_eq!(recognise("-"), None);
    }

    #[test]
    fn every_canonical_name_has_one_zone() {
        for (_, name, tz) in REGIONS {
            assert_eq!(zone_of(name), Some(*tz), "{name}");
        }
    }
}
