//! `callops bench contacts --rows 10000`: how long reading a contact list takes, from the file's
//! bytes to contacts with their zones: an XLSX as Excel writes it (phones in number cells) and
//! the same list as a Windows-1251 CSV with `;`.

use std::time::Instant;

use crate::domain::numbering::Numbering;
use crate::outbound::contacts;

const HEADER: [&str; 4] = ["Имя", "Телефон", "Компания", "Город"];
const CITIES: [&str; 4] = ["Москва", "Владивосток", "Новосибирск", "Казань"];

fn phone(i: usize) -> f64 {
    // Mobile numbers spread over codes 900–999, so the registry is asked across its range.
    79_000_000_000.0 + ((i * 7_919_993) % 999_999_999) as f64
}

/// An XLSX of `rows` contacts, phones in number cells (7.9E10), as Excel saves them.
pub fn xlsx(rows: usize) -> anyhow::Result<Vec<u8>> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in HEADER.iter().enumerate() {
        sheet.write_string(0, c as u16, *h)?;
    }
    for i in 0..rows {
        let r = u32::try_from(i + 1)?;
        sheet.write_string(r, 0, format!("Клиент {i}"))?;
        sheet.write_number(r, 1, phone(i))?;
        sheet.write_string(r, 2, "ООО «Север»")?;
        sheet.write_string(r, 3, CITIES[i % CITIES.len()])?;
    }
    Ok(book.save_to_buffer()?)
}

/// The same list as a Windows-1251 CSV with `;` and a `8 (9xx) …` number format.
pub fn csv_cp1251(rows: usize) -> Vec<u8> {
    let mut text = HEADER.join(";");
    text.push_str("\r\n");
    for i in 0..rows {
        let digits = format!("{}", phone(i) as i64);
        text.push_str(&format!(
            "Клиент {i};8 ({}) {}-{}-{};ООО «Север»;{}\r\n",
            &digits[1..4],
            &digits[4..7],
            &digits[7..9],
            &digits[9..11],
            CITIES[i % CITIES.len()]
        ));
    }
    encoding_rs::WINDOWS_1251.encode(&text).0.into_owned()
}

fn time_read(what: &str, bytes: &[u8], rows: usize) -> anyhow::Result<()> {
    let numbering = Numbering::shipped();
    let mut best = f64::MAX;
    let mut list = None;
    for _ in 0..3 {
        let t = Instant::now();
        let l = contacts::read(bytes, numbering)?;
        best = best.min(t.elapsed().as_secs_f64() * 1000.0);
        list = Some(l);
    }
    let Some(list) = list else { return Ok(()) };
    println!(
        "import of {rows}-row {what}: {best:.0} ms (best of 3; {} KB; {} contacts, {} invalid, {} duplicates, {} with no known zone)",
        bytes.len() / 1024,
        list.contacts.len(),
        list.invalid.len(),
        list.duplicates.len(),
        list.unknown_zone()
    );
    Ok(())
}

pub fn run(rows: usize) -> anyhow::Result<()> {
    // The shipped registry is read once per process; not part of an import.
    let t = Instant::now();
    let n = Numbering::shipped().len();
    println!(
        "numbering registry: {n} ranges loaded in {:.0} ms (once per process)",
        t.elapsed().as_secs_f64() * 1000.0
    );
    time_read("XLSX", &xlsx(rows)?, rows)?;
    time_read("CSV (cp1251, ;)", &csv_cp1251(rows), rows)?;
    Ok(())
}
