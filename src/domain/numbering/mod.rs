//! Which region, and so which time zone, a Russian number belongs to, from the numbering plan
//! registry: number ranges of every code, mobile (DEF, `9xx`) ones included. Numbers are ported
//! only within their region, so a mobile number's range still tells where its owner lives.
//!
//! The registry's mobile ranges ship with the app as a compact table
//! (`assets/numbering/def-9xx.tsv`); `callops numbering import` reads the official open-data
//! files into the database, where they take the place of the shipped ranges of the same leading
//! digit. A geographic number the table does not cover still gets its zone from its code
//! ([`super::zone`]).

mod regions;
pub mod registry;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono_tz::Tz;

use super::PhoneNumber;
pub use regions::{recognise, zone_of};

/// A run of national numbers (ten digits, without the 7) of one region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub first: u64,
    pub last: u64,
    /// The canonical name of [`regions`].
    pub region: &'static str,
}

/// Where a number is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// The region, when the registry names it (a geographic code alone gives only the zone).
    pub region: Option<&'static str>,
    pub zone: Tz,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TableError {
    #[error("line {line}: {what}")]
    Line { line: usize, what: &'static str },
}

/// Number ranges, sorted and not overlapping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Numbering {
    ranges: Vec<Range>,
}

static SHIPPED: LazyLock<Numbering> = LazyLock::new(|| {
    Numbering::parse_table(include_str!("../../../assets/numbering/def-9xx.tsv"))
        .unwrap_or_default()
});

impl Numbering {
    /// The table shipped with the app.
    pub fn shipped() -> &'static Numbering {
        &SHIPPED
    }

    /// Sorts `ranges`, joins neighbours of one region and drops any that overlap one before it.
    pub fn from_ranges(mut ranges: Vec<Range>) -> Self {
        ranges.sort_by_key(|r| (r.first, r.last));
        let mut out: Vec<Range> = Vec::with_capacity(ranges.len());
        for r in ranges {
            match out.last_mut() {
                Some(prev) if r.first <= prev.last => {}
                Some(prev) if prev.region == r.region && r.first == prev.last + 1 => {
                    prev.last = r.last;
                }
                _ => out.push(r),
            }
        }
        Self { ranges: out }
    }

    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The leading digits of the national numbers covered (`9` for the mobile file).
    pub fn leading_digits(&self) -> Vec<u8> {
        let mut d: Vec<u8> = self
            .ranges
            .iter()
            .map(|r| (r.first / 1_000_000_000) as u8)
            .collect();
        d.dedup();
        d
    }

    /// The ranges of national numbers starting with `digit`.
    pub fn ranges_of(&self, digit: u8) -> Vec<Range> {
        self.ranges
            .iter()
            .filter(|r| (r.first / 1_000_000_000) as u8 == digit)
            .copied()
            .collect()
    }

    /// This table with `newer`'s ranges in place of its own for every leading digit `newer` has.
    pub fn updated_by(&self, newer: &Numbering) -> Numbering {
        let digits = newer.leading_digits();
        let kept = self
            .ranges
            .iter()
            .filter(|r| !digits.contains(&((r.first / 1_000_000_000) as u8)))
            .chain(newer.ranges.iter())
            .copied()
            .collect();
        Numbering::from_ranges(kept)
    }

    /// The region of a national number.
    fn region(&self, national: u64) -> Option<&'static str> {
        let i = self.ranges.partition_point(|r| r.first <= national);
        let r = self.ranges.get(i.checked_sub(1)?)?;
        (national <= r.last).then_some(r.region)
    }

    /// Where `phone` is: its range's region, or the zone its geographic code names.
    pub fn place(&self, phone: &PhoneNumber) -> Option<Place> {
        let national = phone.as_str().strip_prefix("+7")?;
        if national.len() == 10 {
            if let Some(region) = national.parse().ok().and_then(|n| self.region(n)) {
                if let Some(zone) = zone_of(region) {
                    return Some(Place {
                        region: Some(region),
                        zone,
                    });
                }
            }
        }
        super::callee_zone(phone).map(|zone| Place { region: None, zone })
    }

    /// The compact text form: the regions once (`@index<TAB>name`), then one line per range
    /// (`first<TAB>last<TAB>index`).
    pub fn to_table(&self, source: &str) -> String {
        let mut index: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &self.ranges {
            let n = index.len();
            index.entry(r.region).or_insert(n);
        }
        let mut by_index: Vec<(&usize, &&str)> = index.iter().map(|(k, v)| (v, k)).collect();
        by_index.sort();
        let mut out = format!(
            "# callops numbering table: national number ranges → region (zones come from the region)\n# source: {source}\n"
        );
        for (i, name) in by_index {
            out.push_str(&format!("@{i}\t{name}\n"));
        }
        for r in &self.ranges {
            out.push_str(&format!("{}\t{}\t{}\n", r.first, r.last, index[r.region]));
        }
        out
    }

    /// Reads [`Self::to_table`]'s form.
    pub fn parse_table(text: &str) -> Result<Self, TableError> {
        let mut names: BTreeMap<usize, &'static str> = BTreeMap::new();
        let mut ranges = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line_no = n + 1;
            let bad = |what| TableError::Line {
                line: line_no,
                what,
            };
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(rest) = line.strip_prefix('@') {
                let (i, name) = rest
                    .split_once('\t')
                    .ok_or(bad("a region line needs a name"))?;
                let i = i.parse().map_err(|_| bad("a region index is a number"))?;
                let (canonical, _) = recognise(name).ok_or(bad("an unknown region"))?;
                names.insert(i, canonical);
                continue;
            }
            let mut f = line.split('\t');
            let mut num = || -> Option<u64> { f.next()?.parse().ok() };
            let (Some(first), Some(last), Some(i)) = (num(), num(), num()) else {
                return Err(bad("a range line is first, last and region index"));
            };
            let region = names
                .get(&(i as usize))
                .ok_or(bad("a range names a region not listed above it"))?;
            ranges.push(Range {
                first,
                last,
                region,
            });
        }
        Ok(Self::from_ranges(ranges))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(n: &str) -> Option<Place> {
        Numbering::shipped().place(&PhoneNumber::parse(n).unwrap())
    }

    #[test]
    fn the_shipped_registry_places_mobile_numbers_across_russia() {
        assert!(Numbering::shipped().len() > 10_000, "the table loaded");
        // Rows of DEF-9xx.csv as shipped: one operator code, many regions.
        let cases = [
            ("+7 914 070-12-34", "Приморский край", Tz::Asia__Vladivostok),
            ("+7 914 010-00-00", "Иркутская обл.", Tz::Asia__Irkutsk),
            ("+7 914 025-00-00", "Камчатский край", Tz::Asia__Kamchatka),
            ("+7 900 335-55-55", "Чукотский АО", Tz::Asia__Anadyr),
            (
                "+7 902 032-60-00",
                "Ямало-Ненецкий АО",
                Tz::Asia__Yekaterinburg,
            ),
            (
                "+7 902 000-00-01",
                "Ульяновская обл.",
                Tz::Europe__Ulyanovsk,
            ),
            (
                "8 916 123-45-67",
                "Москва и Московская обл.",
                Tz::Europe__Moscow,
            ),
            (
                "+7 926 999-99-99",
                "Москва и Московская обл.",
                Tz::Europe__Moscow,
            ),
        ];
        for (n, region, zone) in cases {
            assert_eq!(
                place(n),
                Some(Place {
                    region: Some(region),
                    zone
                }),
                "{n}"
            );
        }
    }

    #[test]
    fn geographic_numbers_fall_back_to_their_code_and_foreign_ones_are_unknown() {
        assert_eq!(
            place("+7 423 222-33-44"),
            Some(Place {
                region: None,
                zone: Tz::Asia__Vladivostok
            })
        );
        assert_eq!(place("+375 29 123-45-67"), None);
    }

    #[test]
    fn the_compact_table_reads_back_what_it_wrote_and_neighbours_join() {
        let r = |first, last, region| Range {
            first,
            last,
            region,
        };
        let n = Numbering::from_ranges(vec![
            r(9_140_100_000, 9_140_199_999, "Приморский край"),
            r(9_140_000_000, 9_140_099_999, "Приморский край"),
            r(9_140_200_000, 9_140_299_999, "Камчатский край"),
            // Overlaps the one before: dropped.
            r(9_140_250_000, 9_140_259_999, "Чукотский АО"),
        ]);
        assert_eq!(
            n.ranges,
            vec![
                r(9_140_000_000, 9_140_199_999, "Приморский край"),
                r(9_140_200_000, 9_140_299_999, "Камчатский край"),
            ]
        );
        let text = n.to_table("test");
        assert_eq!(Numbering::parse_table(&text), Ok(n.clone()));
        assert!(Numbering::parse_table("9140000000\t9140199999\t0\n").is_err());
        assert!(Numbering::parse_table("@0\tНигдения\n").is_err());
        // An import of 9xx ranges replaces the shipped 9xx ranges and nothing else.
        let shipped = Numbering::shipped();
        let updated = shipped.updated_by(&n);
        assert_eq!(updated.len(), 2);
        let phone = PhoneNumber::parse("+7 914 020-00-00").unwrap();
        assert_eq!(
            updated.place(&phone).and_then(|p| p.region),
            Some("Камчатский край")
        );
    }
}
