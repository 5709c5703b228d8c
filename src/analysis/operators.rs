//! Figures per operator for `/stats`: calls taken, the average checklist score, and the weakest
//! criteria of `qa_checklist` (the lowest average scores), each operator named as protocols name
//! them.

use std::collections::BTreeMap;

use serde_json::Value;

use super::protocol::criterion_score;
use crate::domain::Departments;
use crate::store::ChartRow;

/// One operator's figures in a period.
#[derive(Debug, Clone, PartialEq)]
pub struct OperatorFigures {
    /// «Анна (101)», or the PBX's name alone.
    pub label: String,
    pub calls: usize,
    /// The average checklist total, when the operator has checklist analyses.
    pub qa_avg: Option<f64>,
    /// The criteria with the lowest average score (at most two), lowest first.
    pub weakest: Vec<(String, f64)>,
}

/// The figures of every operator with calls in `rows`, busiest first. `qa` holds the operator and
/// the `qa_checklist` result of each analysed call of the same period.
pub fn operator_figures(
    rows: &[ChartRow],
    qa: &[(Option<String>, Value)],
    departments: &Departments,
) -> Vec<OperatorFigures> {
    let mut calls: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rows {
        if let Some(op) = r.operator.as_deref().filter(|o| !o.is_empty()) {
            *calls.entry(op).or_default() += 1;
        }
    }
    let mut totals: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    let mut criteria: BTreeMap<&str, BTreeMap<String, (f64, f64)>> = BTreeMap::new();
    for (op, result) in qa {
        let Some(op) = op.as_deref().filter(|o| !o.is_empty()) else {
            continue;
        };
        if let Some(total) = result["total"].as_f64() {
            let e = totals.entry(op).or_default();
            e.0 += total;
            e.1 += 1.0;
        }
        for (name, v) in result["scores"].as_object().into_iter().flatten() {
            if let Some(score) = criterion_score(v) {
                let e = criteria
                    .entry(op)
                    .or_default()
                    .entry(name.clone())
                    .or_default();
                e.0 += score as f64;
                e.1 += 1.0;
            }
        }
    }
    let mut out: Vec<OperatorFigures> = calls
        .into_iter()
        .map(|(op, n)| {
            let mut weakest: Vec<(String, f64)> = criteria
                .get(op)
                .map(|c| c.iter().map(|(k, (sum, n))| (k.clone(), sum / n)).collect())
                .unwrap_or_default();
            weakest.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
            weakest.truncate(2);
            OperatorFigures {
                label: departments.operator_label(op),
                calls: n,
                qa_avg: totals.get(op).map(|(sum, n)| sum / n),
                weakest,
            }
        })
        .collect();
    out.sort_by(|a, b| b.calls.cmp(&a.calls).then_with(|| a.label.cmp(&b.label)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use serde_json::json;

    fn row(op: Option<&str>) -> ChartRow {
        ChartRow {
            started_at: Utc::now(),
            duration_secs: 60,
            status: "analyzed".into(),
            direction: "incoming".into(),
            caller: "+79161234567".into(),
            called: "+74951234567".into(),
            profile: Some("qa_checklist".into()),
            category: None,
            rating: None,
            last_feedback: None,
            posted_at: None,
            operator: op.map(str::to_string),
        }
    }

    #[test]
    fn each_operator_with_their_score_and_weakest_criteria() {
        let d = Departments::parse_json(r#"[{"name": "Продажи", "operators": {"101": "Анна"}}]"#)
            .unwrap();
        let rows = vec![
            row(Some("101")),
            row(Some("101")),
            row(Some("102")),
            row(None),
        ];
        let qa = vec![
            (
                Some("101".to_string()),
                json!({"total": 8, "scores": {"greeting": {"score": 9, "reason": "…"}, "next_step": {"score": 4, "reason": "…"}, "objection_handling": 6}}),
            ),
            (
                Some("101".to_string()),
                json!({"total": 6, "scores": {"greeting": 7, "next_step": 6, "objection_handling": 4}}),
            ),
            (None, json!({"total": 1, "scores": {"greeting": 0}})),
        ];
        let f = operator_figures(&rows, &qa, &d);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].label, "Анна (101)");
        assert_eq!(f[0].calls, 2);
        assert_eq!(f[0].qa_avg, Some(7.0));
        assert_eq!(
            f[0].weakest,
            vec![
                ("next_step".to_string(), 5.0),
                ("objection_handling".to_string(), 5.0)
            ]
        );
        assert_eq!(f[1].label, "102");
        assert_eq!((f[1].calls, f[1].qa_avg), (1, None));
        assert!(f[1].weakest.is_empty());
    }
}
