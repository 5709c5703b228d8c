//! The official open-data files of the Russian numbering plan («Российская система и план
//! нумерации», Минцифры: `ABC-3xx.csv`, `ABC-4xx.csv`, `ABC-8xx.csv`, `DEF-9xx.csv`) read into
//! number ranges with their region. The files are `;`-separated with a header
//! (`АВС/ DEF;От;До;Емкость;Оператор;Регион;…`), in UTF-8 (with a BOM) or, in older years,
//! Windows-1251 ([`decode_office_text`]); the columns are found by their header, and rows that
//! cannot be read are counted, not fatal.

use super::regions::recognise;
use super::Range;
use crate::domain::text::decode_office_text;

/// What could not be used in a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadReport {
    pub rows: usize,
    /// Rows whose numbers could not be read.
    pub malformed: usize,
    /// Rows whose region names no one region («Российская Федерация»).
    pub no_region: usize,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegistryError {
    #[error("not a numbering plan file: no header with the code, from, to and region columns")]
    NoHeader,
}

fn column(header: &[String], names: &[&str]) -> Option<usize> {
    header.iter().position(|h| {
        let h: String = h
            .to_lowercase()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        names.iter().any(|n| h == *n)
    })
}

/// The ranges of one file, in file order.
pub fn read(bytes: &[u8]) -> Result<(Vec<Range>, ReadReport), RegistryError> {
    let text = decode_office_text(bytes);
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = rdr.records();
    let header: Vec<String> = match records.next() {
        Some(Ok(r)) => r.iter().map(str::to_string).collect(),
        _ => return Err(RegistryError::NoHeader),
    };
    // «АВС» is written with Cyrillic letters in the official files; Latin ones are accepted too.
    let code = column(&header, &["авс/def", "abc/def", "авс", "abc", "def", "код"]);
    let from = column(&header, &["от", "from"]);
    let to = column(&header, &["до", "to"]);
    let region = column(&header, &["регион", "region"]);
    let (Some(code), Some(from), Some(to), Some(region)) = (code, from, to, region) else {
        return Err(RegistryError::NoHeader);
    };
    let mut report = ReadReport::default();
    let mut ranges = Vec::new();
    for rec in records {
        report.rows += 1;
        let Ok(rec) = rec else {
            report.malformed += 1;
            continue;
        };
        let number = |i: usize| -> Option<u64> {
            let s = rec.get(i)?.trim();
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        let (Some(c), Some(f), Some(t)) = (number(code), number(from), number(to)) else {
            report.malformed += 1;
            continue;
        };
        if !(100..=999).contains(&c) || f > t || t > 9_999_999 {
            report.malformed += 1;
            continue;
        }
        let Some((name, _)) = rec.get(region).and_then(recognise) else {
            report.no_region += 1;
            continue;
        };
        ranges.push(Range {
            first: c * 10_000_000 + f,
            last: c * 10_000_000 + t,
            region: name,
        });
    }
    Ok((ranges, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "АВС/ DEF;От;До;Емкость;Оператор;Регион;Территория ГАР;ИНН\n\
        900;0000000;0061999;62000;ООО \"Т2 МОБАЙЛ\";Краснодарский край;Краснодарский край;7743895280\n\
        900;1400000;1599999;200000;ООО \"Т2 Мобайл\";г. Москва * Московская область;Город Москва;7743895280\n\
        914;0000000;0999999;1000000;ПАО \"МТС\";Приморский край;Приморский край;7740000076\n\
        958;0000000;0099999;100000;ООО \"X\";Российская Федерация;;1\n\
        9x9;0;1;2;bad;Москва;;\n";

    #[test]
    fn reads_the_official_layout_in_utf8_with_a_bom_and_in_windows_1251() {
        let utf8 = [b"\xEF\xBB\xBF".as_slice(), SAMPLE.as_bytes()].concat();
        let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode(SAMPLE);
        for bytes in [utf8, cp1251.into_owned()] {
            let (ranges, report) = read(&bytes).unwrap();
            assert_eq!(
                report,
                ReadReport {
                    rows: 5,
                    malformed: 1,
                    no_region: 1
                }
            );
            assert_eq!(
                ranges,
                vec![
                    Range {
                        first: 9_000_000_000,
                        last: 9_000_061_999,
                        region: "Краснодарский край"
                    },
                    Range {
                        first: 9_001_400_000,
                        last: 9_001_599_999,
                        region: "Москва и Московская обл."
                    },
                    Range {
                        first: 9_140_000_000,
                        last: 9_140_999_999,
                        region: "Приморский край"
                    },
                ]
            );
        }
    }

    #[test]
    fn a_file_without_the_columns_is_refused() {
        assert_eq!(read(b"a;b;c\n1;2;3\n"), Err(RegistryError::NoHeader));
        assert_eq!(read(b""), Err(RegistryError::NoHeader));
    }
}
