//! A contact file as rows of text cells, whatever it came as: CSV in UTF-8 (with or without a
//! BOM), UTF-16 (Excel's "Unicode text") or Windows-1251, separated by `;`, `,` or tabs (found by
//! which one splits the first lines into the same number of columns); or a spreadsheet (XLSX,
//! XLS, ODS: the first sheet). Numbers a spreadsheet keeps as floats (7.9161234567E10) come out
//! as their digits.

use std::io::Cursor;

use calamine::{Data, Reader};

use crate::domain::text::decode_office_text;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TableError {
    #[error("the spreadsheet cannot be read: {0}")]
    Spreadsheet(String),
    #[error("the spreadsheet has no sheet")]
    NoSheet,
}

/// Whether `bytes` look like a spreadsheet (a ZIP container or an OLE2 file), not text.
pub fn is_spreadsheet(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0])
}

/// The rows of a file.
pub fn rows(bytes: &[u8]) -> Result<Vec<Vec<String>>, TableError> {
    if is_spreadsheet(bytes) {
        spreadsheet_rows(bytes)
    } else {
        Ok(csv_rows(&decode_office_text(bytes)))
    }
}

const SEPARATORS: [u8; 3] = [b';', b',', b'\t'];
/// Lines looked at to choose the separator.
const SAMPLE_LINES: usize = 20;

fn read_csv(text: &str, sep: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .delimiter(sep)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
}

/// The separator that splits the first lines into the most columns, the same number on most of
/// them.
pub fn separator(text: &str) -> u8 {
    let mut best = (b';', 0usize);
    for sep in SEPARATORS {
        let counts: Vec<usize> = read_csv(text, sep)
            .records()
            .take(SAMPLE_LINES)
            .filter_map(Result::ok)
            .map(|r| r.len())
            .filter(|n| *n > 0)
            .collect();
        let Some(&first) = counts.first() else {
            continue;
        };
        if first < 2 {
            continue;
        }
        // Most lines must agree with the first (a header) for the split to count.
        let agree = counts.iter().filter(|n| **n == first).count();
        let score = if agree * 10 >= counts.len() * 8 {
            first
        } else {
            0
        };
        if score > best.1 {
            best = (sep, score);
        }
    }
    best.0
}

fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let sep = separator(text);
    read_csv(text, sep)
        .records()
        .filter_map(Result::ok)
        .map(|r| r.iter().map(|c| c.trim().to_string()).collect())
        .collect()
}

/// A cell as text; a whole float (a phone number typed into a number cell) as its digits.
fn cell(d: &Data) -> String {
    match d {
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Empty => String::new(),
        other => other.to_string().trim().to_string(),
    }
}

fn spreadsheet_rows(bytes: &[u8]) -> Result<Vec<Vec<String>>, TableError> {
    let mut book = calamine::open_workbook_auto_from_rs(Cursor::new(bytes))
        .map_err(|e| TableError::Spreadsheet(e.to_string()))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or(TableError::NoSheet)?
        .map_err(|e| TableError::Spreadsheet(e.to_string()))?;
    Ok(range
        .rows()
        .map(|r| r.iter().map(cell).collect::<Vec<_>>())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_separator_is_the_one_that_splits_lines_alike() {
        assert_eq!(separator("Имя;Телефон\nИванов, Иван;+79161234567\n"), b';');
        assert_eq!(separator("name,phone\nIvan,+79161234567\n"), b',');
        assert_eq!(separator("name\tphone\tcity\nIvan\t+7916\tМосква\n"), b'\t');
        assert_eq!(
            separator("phone\n+79161234567\n"),
            b';',
            "one column: any will do"
        );
    }

    #[test]
    fn text_in_each_encoding_reads_the_same() {
        let text = "Имя;Телефон\nПётр;8 916 123-45-67\n";
        let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode(text);
        let bom = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        for bytes in [text.as_bytes().to_vec(), bom, cp1251.into_owned(), utf16] {
            assert_eq!(
                rows(&bytes).unwrap(),
                vec![
                    vec!["Имя".to_string(), "Телефон".to_string()],
                    vec!["Пётр".to_string(), "8 916 123-45-67".to_string()]
                ]
            );
        }
    }

    #[test]
    fn floats_of_a_spreadsheet_come_out_as_digits() {
        assert_eq!(cell(&Data::Float(79_161_234_567.0)), "79161234567");
        assert_eq!(cell(&Data::Float(1.5)), "1.5");
        assert_eq!(cell(&Data::Int(9_161_234_567)), "9161234567");
        assert_eq!(cell(&Data::String(" Москва ".into())), "Москва");
    }

    #[test]
    fn a_broken_spreadsheet_is_an_error_not_a_panic() {
        let mut junk = b"PK\x03\x04".to_vec();
        junk.extend_from_slice(&[0u8; 64]);
        assert!(matches!(rows(&junk), Err(TableError::Spreadsheet(_))));
    }
}
