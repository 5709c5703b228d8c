//! A quality checklist kept in a Google Sheet, as CallQ keeps it: one criterion per row (its name,
//! then what it checks), and a row named «Инструкции» (or `instructions`) with extra instructions
//! for the model. A header row is skipped.

use serde::{Deserialize, Serialize};

/// One criterion: its name (also the key of its score) and what it checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Criterion {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checklist {
    pub criteria: Vec<Criterion>,
    pub instructions: Option<String>,
}

/// The most criteria one checklist may hold (each is a field the model must fill).
pub const MAX_CRITERIA: usize = 30;

const HEADERS: [&str; 5] = ["критерий", "criterion", "название", "name", "ключ"];
const INSTRUCTIONS: [&str; 3] = ["инструкции", "instructions", "указания"];

impl Checklist {
    /// Reads a sheet's rows; the error says what is wrong in a manager's words.
    pub fn from_rows(rows: &[Vec<String>]) -> Result<Self, String> {
        let mut criteria: Vec<Criterion> = Vec::new();
        let mut instructions = None;
        for (i, row) in rows.iter().enumerate() {
            let cell = |n: usize| row.get(n).map(|s| s.trim()).unwrap_or("");
            let name = cell(0);
            if name.is_empty() || (i == 0 && HEADERS.contains(&name.to_lowercase().as_str())) {
                continue;
            }
            if INSTRUCTIONS.contains(&name.to_lowercase().as_str()) {
                instructions = Some(cell(1).to_string()).filter(|s| !s.is_empty());
                continue;
            }
            if criteria.iter().any(|c| c.name.eq_ignore_ascii_case(name)) {
                return Err(format!(
                    "criterion {name:?} is written twice (row {})",
                    i + 1
                ));
            }
            criteria.push(Criterion {
                name: name.chars().take(60).collect(),
                description: cell(1).to_string(),
            });
        }
        if criteria.is_empty() {
            return Err(
                "the sheet names no criteria (column A: the criterion, B: what it checks)".into(),
            );
        }
        if criteria.len() > MAX_CRITERIA {
            return Err(format!(
                "{} criteria; at most {MAX_CRITERIA}",
                criteria.len()
            ));
        }
        Ok(Self {
            criteria,
            instructions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(r: &[&[&str]]) -> Vec<Vec<String>> {
        r.iter()
            .map(|row| row.iter().map(|s| s.to_string()).collect())
            .collect()
    }

    #[test]
    fn a_sheet_of_criteria_reads_with_its_instructions() {
        let c = Checklist::from_rows(&rows(&[
            &["Критерий", "Что проверяем"],
            &["Приветствие", "Поздоровался и назвал компанию"],
            &[""],
            &["Выявление потребности", "Задал вопросы о грузе и сроках"],
            &["Инструкции", "Оценивай строго"],
        ]))
        .unwrap();
        assert_eq!(c.criteria.len(), 2);
        assert_eq!(c.criteria[1].name, "Выявление потребности");
        assert_eq!(c.instructions.as_deref(), Some("Оценивай строго"));
        assert!(Checklist::from_rows(&rows(&[&["Критерий"]])).is_err());
        let twice = Checklist::from_rows(&rows(&[&["Вежливость", "a"], &["Вежливость", "b"]]));
        assert!(twice.unwrap_err().contains("twice"));
    }
}
