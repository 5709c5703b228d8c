//! `callops bench contacts --rows 10000`: how long reading a contact list takes, from the file's
//! bytes to contacts with their zones: an XLSX as Excel writes it (phones in number cells) and
//! the same list as a Windows-1251 CSV with `;`; then writing the list as a campaign into a
//! SQLite database file (one transaction), per contact.

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

pub async fn run(rows: usize) -> anyhow::Result<()> {
    // The shipped registry is read once per process; not part of an import.
    let t = Instant::now();
    let n = Numbering::shipped().len();
    println!(
        "numbering registry: {n} ranges loaded in {:.0} ms (once per process)",
        t.elapsed().as_secs_f64() * 1000.0
    );
    let book = xlsx(rows)?;
    time_read("XLSX", &book, rows)?;
    time_read("CSV (cp1251, ;)", &csv_cp1251(rows), rows)?;
    write_campaign(&book).await
}

/// Writes the list as a campaign into a fresh SQLite file and prints the time per contact.
async fn write_campaign(book: &[u8]) -> anyhow::Result<()> {
    use crate::domain::{NewCampaign, NewCampaignContact};
    use crate::outbound::campaign::ab::variant;
    let list = contacts::read(book, Numbering::shipped())?;
    let path =
        std::env::temp_dir().join(format!("callops-bench-contacts-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let url = format!("sqlite://{}", path.display());
    let store = crate::store::connect(&url).await?;
    store.migrate().await?;
    let new: Vec<NewCampaignContact> = list
        .contacts
        .iter()
        .map(|c| NewCampaignContact {
            line: c.line as i64,
            phone: c.phone.clone(),
            variables: serde_json::Value::Object(c.variables.clone()),
            zone: c.zone,
            consent: c.consent.clone(),
            source: c.source.clone(),
            variant: variant("bench", &c.phone, 2) as i64,
            skip: None,
        })
        .collect();
    let campaign = NewCampaign {
        plan: Default::default(),
        name: "bench".into(),
        scripts: vec!["realty_cold".into(), "logistics_cold".into()],
        chat_id: None,
        created_by: None,
        zone: chrono_tz::Europe::Moscow,
        concurrency: 10,
        priority: 0,
    };
    let t = Instant::now();
    let created = store.create_campaign(&campaign, &new).await?;
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    let stored = store.campaign_counts(created.id).await?.total();
    println!(
        "writing the campaign: {ms:.0} ms for {stored} contacts = {:.3} ms per contact (SQLite file, one transaction)",
        ms / stored.max(1) as f64
    );
    store.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    Ok(())
}
