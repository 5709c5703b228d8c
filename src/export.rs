//! Exports of calls with their analysis fields: XLSX (rust_xlsxwriter) and CSV.

use chrono_tz::Tz;

use crate::analysis::protocol::client_phone;
use crate::domain::{CallSummary, Direction};
use crate::i18n::{t, Lang};

const COLUMNS: [&str; 11] = [
    "column-id",
    "column-date",
    "column-direction",
    "column-phone",
    "column-duration",
    "column-status",
    "column-reason",
    "column-category",
    "column-rating",
    "column-priority",
    "column-agency",
];

/// One row of cells as text (numbers stay numbers in XLSX).
fn cells(lang: Lang, tz: Tz, c: &CallSummary) -> Vec<Cell> {
    let call = &c.call;
    vec![
        Cell::Num(call.id as f64),
        Cell::Text(
            call.started_at
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
        ),
        Cell::Text(t(
            lang,
            match call.direction {
                Direction::Incoming => "direction-incoming",
                Direction::Outgoing => "direction-outgoing",
            },
        )),
        Cell::Text(client_phone(call)),
        Cell::Num(call.duration_secs as f64),
        Cell::Text(call.status.as_str().to_string()),
        Cell::Text(call.reason.clone().unwrap_or_default()),
        Cell::Text(
            c.lead_category
                .map(|c| c.as_str().to_string())
                .unwrap_or_default(),
        ),
        c.interest_rating
            .map_or(Cell::Text(String::new()), |r| Cell::Num(f64::from(r))),
        Cell::Text(c.priority.clone().unwrap_or_default()),
        Cell::Text(c.agency_name.clone().unwrap_or_default()),
    ]
}

enum Cell {
    Text(String),
    Num(f64),
}

/// A text cell made safe for spreadsheets: a leading `= + - @` (or tab, CR) would make Excel or
/// LibreOffice run the cell as a formula, and transcripts and LLM text are untrusted.
fn defuse(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// A number as the spreadsheet of `lang` reads it (a decimal comma in Russian).
fn number(lang: Lang, n: f64) -> String {
    let s = if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    };
    match lang {
        Lang::Ru => s.replace('.', ","),
        Lang::En => s,
    }
}

/// CSV (UTF-8 with a BOM so Excel reads Cyrillic right). Russian Excel expects `;` between
/// columns and a decimal comma; English uses `,` and a point.
pub fn csv(lang: Lang, tz: Tz, rows: &[CallSummary]) -> Vec<u8> {
    let delimiter = match lang {
        Lang::Ru => b';',
        Lang::En => b',',
    };
    let mut out = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .from_writer("\u{feff}".as_bytes().to_vec());
    let header: Vec<String> = COLUMNS.iter().map(|k| t(lang, k)).collect();
    // Writing to memory cannot fail; a failed row is left out rather than the whole file.
    let _ = out.write_record(&header);
    for r in rows {
        let line: Vec<String> = cells(lang, tz, r)
            .into_iter()
            .map(|c| match c {
                Cell::Text(s) => defuse(&s),
                Cell::Num(n) => number(lang, n),
            })
            .collect();
        let _ = out.write_record(&line);
    }
    out.into_inner().unwrap_or_default()
}

/// An XLSX workbook with one sheet of calls.
pub fn xlsx(
    lang: Lang,
    tz: Tz,
    rows: &[CallSummary],
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    let sheet = book.add_worksheet();
    for (col, key) in COLUMNS.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, t(lang, key), &bold)?;
    }
    for (i, r) in rows.iter().enumerate() {
        let row = (i + 1) as u32;
        for (col, cell) in cells(lang, tz, r).into_iter().enumerate() {
            match cell {
                Cell::Text(s) => sheet.write_string(row, col as u16, s)?,
                Cell::Num(n) => sheet.write_number(row, col as u16, n)?,
            };
        }
    }
    sheet.autofit();
    book.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Call, CallStatus, LeadCategory};
    use chrono::TimeZone;
    use std::io::Read;

    fn rows() -> Vec<CallSummary> {
        (1..=3)
            .map(|i| CallSummary {
                call: Call {
                    id: i,
                    provider: "novofon".into(),
                    provider_call_id: format!("in_{i}"),
                    direction: Direction::Incoming,
                    caller: "+79161234567".into(),
                    called: "+74951234567".into(),
                    started_at: chrono::Utc
                        .with_ymd_and_hms(2026, 11, 20, 10, 0, 0)
                        .unwrap(),
                    duration_secs: 60 * i,
                    status: CallStatus::Analyzed,
                    reason: None,
                    recording_ref: None,
                    operator: None,
                },
                lead_category: Some(LeadCategory::Hot),
                interest_rating: Some(8),
                priority: Some("high".into()),
                agency_name: Some("Агентство \"Квартал\", СПб".into()),
            })
            .collect()
    }

    #[test]
    fn csv_quotes_and_has_every_row() {
        let text = String::from_utf8(csv(Lang::Ru, chrono_tz::Europe::Moscow, &rows())).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("\u{feff}") && lines[0].contains("Телефон"));
        assert_eq!(
            lines[0].matches(';').count(),
            COLUMNS.len() - 1,
            "Russian Excel splits on ;"
        );
        assert!(
            lines[1].contains("\"Агентство \"\"Квартал\"\", СПб\""),
            "{}",
            lines[1]
        );
        assert!(lines[1].contains("2026-11-20 13:00") && lines[1].contains("'+7 (916) 123-45-67"));
        let en = String::from_utf8(csv(Lang::En, chrono_tz::Europe::Moscow, &rows())).unwrap();
        let mut en_reader = ::csv::Reader::from_reader(en.as_bytes());
        assert_eq!(en_reader.headers().unwrap().len(), COLUMNS.len());
    }

    #[test]
    fn csv_cells_cannot_run_formulas_and_decimals_read_in_russian() {
        let mut r = rows();
        r[0].agency_name = Some("=HYPERLINK(\"http://evil\",\"x\")".into());
        r[1].agency_name = Some("@SUM(A1)".into());
        r[2].agency_name = Some("-2+3".into());
        let text = String::from_utf8(csv(Lang::Ru, chrono_tz::Europe::Moscow, &r)).unwrap();
        let mut reader = ::csv::ReaderBuilder::new()
            .delimiter(b';')
            .from_reader(text.as_bytes());
        let agencies: Vec<String> = reader
            .records()
            .map(|rec| rec.unwrap().get(10).unwrap().to_string())
            .collect();
        assert_eq!(
            agencies,
            ["'=HYPERLINK(\"http://evil\",\"x\")", "'@SUM(A1)", "'-2+3"]
        );
        assert_eq!(number(Lang::Ru, 7.5), "7,5");
        assert_eq!(number(Lang::En, 7.5), "7.5");
        assert_eq!(number(Lang::Ru, 60.0), "60");
    }

    #[test]
    fn xlsx_opens_and_has_the_rows() {
        let bytes = xlsx(Lang::Ru, chrono_tz::Europe::Moscow, &rows()).unwrap();
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut sheet = String::new();
        zip.by_name("xl/worksheets/sheet1.xml")
            .unwrap()
            .read_to_string(&mut sheet)
            .unwrap();
        assert_eq!(sheet.matches("<row ").count(), 4, "header + 3 rows");
        let mut strings = String::new();
        zip.by_name("xl/sharedStrings.xml")
            .unwrap()
            .read_to_string(&mut strings)
            .unwrap();
        assert!(strings.contains("Агентство") && strings.contains("+7 (916) 123-45-67"));
    }
}
