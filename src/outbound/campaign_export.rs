//! A campaign as an XLSX workbook: one row per contact with its state, outcome, attempts, the
//! contact the agent captured, the callback time asked for, the conversation's length and stage,
//! and the id of the stored call whose protocol was posted; then its variables.

use chrono_tz::Tz;

use crate::domain::{Campaign, CampaignContact};
use crate::i18n::{t, Lang};

const COLUMNS: [&str; 14] = [
    "campaign-col-line",
    "campaign-col-phone",
    "campaign-col-state",
    "campaign-col-outcome",
    "campaign-col-attempts",
    "campaign-col-captured",
    "campaign-col-callback",
    "campaign-col-next",
    "campaign-col-duration",
    "campaign-col-stage",
    "campaign-col-protocol",
    "campaign-col-variant",
    "campaign-col-consent",
    "campaign-col-source",
];

enum Cell {
    Text(String),
    Num(f64),
    Empty,
}

fn text(s: Option<String>) -> Cell {
    s.map_or(Cell::Empty, Cell::Text)
}

fn cells(lang: Lang, c: &Campaign, k: &CampaignContact) -> Vec<Cell> {
    let tz: Tz = k.zone.unwrap_or(c.zone);
    let conv = k.conversation.as_ref();
    vec![
        Cell::Num(k.line as f64),
        Cell::Text(k.phone.as_str().to_string()),
        Cell::Text(match k.skip {
            Some(s) => t(lang, &format!("campaign-skip-{}", s.as_str())),
            None => t(lang, &format!("campaign-state-{}", k.state.as_str())),
        }),
        text(
            k.outcome
                .map(|o| t(lang, &format!("campaign-outcome-{}", o.as_str()))),
        ),
        Cell::Num(k.attempts as f64),
        text(conv.and_then(|c| c.captured.clone())),
        text(conv.and_then(|c| c.callback.clone())),
        text(
            k.next_at
                .filter(|_| !k.state.is_final())
                .map(|at| at.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()),
        ),
        conv.map_or(Cell::Empty, |c| Cell::Num((c.duration_ms / 1000) as f64)),
        text(conv.map(|c| t(lang, &format!("campaign-stage-{}", c.stage.as_str())))),
        conv.and_then(|c| c.call_id)
            .map_or(Cell::Empty, |id| Cell::Num(id as f64)),
        Cell::Text(
            c.scripts
                .get(usize::try_from(k.variant).unwrap_or(0))
                .cloned()
                .unwrap_or_default(),
        ),
        text(k.consent.clone()),
        text(k.source.clone()),
    ]
}

/// The workbook; the variables' columns follow the fixed ones, in the order first seen.
pub fn xlsx(
    lang: Lang,
    c: &Campaign,
    contacts: &[CampaignContact],
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut variables: Vec<String> = Vec::new();
    for k in contacts {
        if let Some(map) = k.variables.as_object() {
            for key in map.keys() {
                if !variables.contains(key) {
                    variables.push(key.clone());
                }
            }
        }
    }
    let mut book = rust_xlsxwriter::Workbook::new();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    let sheet = book.add_worksheet();
    let header = COLUMNS
        .iter()
        .map(|k| t(lang, k))
        .chain(variables.iter().cloned());
    for (col, name) in header.enumerate() {
        sheet.write_string_with_format(0, col as u16, name, &bold)?;
    }
    for (i, k) in contacts.iter().enumerate() {
        let row = (i + 1) as u32;
        let vars = variables.iter().map(|v| {
            text(
                k.variables
                    .get(v)
                    .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string)),
            )
        });
        for (col, cell) in cells(lang, c, k).into_iter().chain(vars).enumerate() {
            match cell {
                Cell::Text(s) => sheet.write_string(row, col as u16, s)?,
                Cell::Num(n) => sheet.write_number(row, col as u16, n)?,
                Cell::Empty => sheet,
            };
        }
    }
    sheet.autofit();
    book.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        CampaignPlan, CampaignStatus, ContactOutcome, ContactState, Conversation, PhoneNumber,
        Stage,
    };
    use calamine::Reader;

    #[test]
    fn one_row_per_contact_with_what_the_call_came_to() {
        let c = Campaign {
            id: 3,
            name: "Склады".into(),
            scripts: vec!["logistics_cold".into()],
            status: CampaignStatus::Finished,
            chat_id: None,
            created_by: None,
            zone: chrono_tz::Europe::Moscow,
            concurrency: 2,
            priority: 0,
            plan: CampaignPlan::default(),
            created_at: chrono::Utc::now(),
            status_message_id: None,
            finished_at: None,
        };
        let contact = |i: i64, outcome, conversation| CampaignContact {
            id: i,
            campaign_id: 3,
            line: i + 1,
            phone: PhoneNumber::parse(&format!("+7916000000{i}")).unwrap(),
            variables: serde_json::json!({"name": format!("Клиент {i}"), "company": "=cmd"}),
            zone: None,
            consent: Some("да".into()),
            source: None,
            variant: 0,
            state: ContactState::Done,
            skip: None,
            outcome: Some(outcome),
            attempts: 2,
            next_at: None,
            outbound_id: Some(i),
            conversation,
            last_at: None,
        };
        let rows = vec![
            contact(
                1,
                ContactOutcome::Converted,
                Some(Conversation {
                    stage: Stage::Contact,
                    objections: Some(true),
                    duration_ms: 95_400,
                    callback: None,
                    captured: Some("Иван, директор, +79161112233".into()),
                    call_id: Some(42),
                }),
            ),
            contact(2, ContactOutcome::Busy, None),
        ];
        let bytes = xlsx(Lang::Ru, &c, &rows).unwrap();
        let mut book: calamine::Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
        let sheet = book.worksheet_range_at(0).unwrap().unwrap();
        let cell = |r: u32, col: u32| {
            sheet
                .get_value((r, col))
                .map(|v| v.to_string())
                .unwrap_or_default()
        };
        assert_eq!(sheet.height(), 3);
        assert_eq!(cell(0, 3), "Исход");
        assert_eq!(cell(1, 1), "+79160000001");
        assert_eq!(cell(1, 3), "цель достигнута");
        assert_eq!(cell(1, 4), "2");
        assert_eq!(cell(1, 5), "Иван, директор, +79161112233");
        assert_eq!(cell(1, 8), "95");
        assert_eq!(cell(1, 10), "42");
        assert_eq!(cell(2, 3), "занято");
        assert_eq!(
            (cell(0, 14), cell(0, 15)),
            ("company".into(), "name".into())
        );
        assert_eq!(cell(1, 15), "Клиент 1");
        assert_eq!(cell(1, 14), "=cmd", "kept as text, never a formula");
    }
}
