//! Charts as pure functions: rows of a period -> PNG bytes (plotters, one theme, the bundled
//! DejaVu Sans so Cyrillic renders the same in any container). Empty data gives a chart that
//! says so, never an error.

mod render;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate, Timelike};
use chrono_tz::Tz;

use crate::domain::period::Period;
use crate::domain::{Direction, LeadCategory, PhoneNumber};
use crate::i18n::{t, t_args, Lang};
use crate::store::ChartRow;

pub use render::{draw, png_size, ChartError, HEIGHT, WIDTH};

/// The charts `/chart` draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    Leads,
    Funnel,
    Ratings,
    Operators,
    Agreement,
    Volume,
    Latency,
}

impl ChartKind {
    pub const ALL: [ChartKind; 7] = [
        ChartKind::Leads,
        ChartKind::Funnel,
        ChartKind::Ratings,
        ChartKind::Operators,
        ChartKind::Agreement,
        ChartKind::Volume,
        ChartKind::Latency,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ChartKind::Leads => "leads",
            ChartKind::Funnel => "funnel",
            ChartKind::Ratings => "ratings",
            ChartKind::Operators => "operators",
            ChartKind::Agreement => "agreement",
            ChartKind::Volume => "volume",
            ChartKind::Latency => "latency",
        }
    }
}

impl fmt::Display for ChartKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChartKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_lowercase();
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown chart {s:?}"))
    }
}

/// Labels in the reader's language.
#[derive(Debug, Clone)]
pub struct Labels {
    pub title: String,
    pub empty: String,
    /// Series or axis names the chart needs (category names, stage names...).
    pub names: Vec<String>,
}

/// Series computed from rows; [`render`] draws them.
#[derive(Debug, Clone, PartialEq)]
pub enum Series {
    /// Per day: counts of hot, warm, cold, refusal.
    StackedByDay(Vec<(NaiveDate, [i64; 4])>),
    /// Named bars (funnel stages, operators).
    Bars(Vec<(String, f64)>),
    /// Counts of ratings 1..=10.
    Histogram([i64; 10]),
    /// One or two lines per day (agreement %, latency p50/p95 in seconds).
    Lines(Vec<(NaiveDate, Vec<f64>)>),
    /// Calls by weekday (0 = Monday) and hour.
    Heatmap(Box<[[i64; 24]; 7]>),
}

impl Series {
    pub fn is_empty(&self) -> bool {
        match self {
            Series::StackedByDay(v) => v.iter().all(|(_, c)| c.iter().all(|n| *n == 0)),
            Series::Bars(v) => v.iter().all(|(_, n)| *n == 0.0),
            Series::Histogram(h) => h.iter().all(|n| *n == 0),
            Series::Lines(v) => v.is_empty(),
            Series::Heatmap(h) => h.iter().all(|r| r.iter().all(|n| *n == 0)),
        }
    }
}

fn cat_index(c: &str) -> Option<usize> {
    ["hot", "warm", "cold", "refusal"]
        .iter()
        .position(|k| *k == c)
}

fn days(first: NaiveDate, last: NaiveDate) -> Vec<NaiveDate> {
    first.iter_days().take_while(|d| *d <= last).collect()
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[(((v.len() - 1) as f64) * p).round() as usize]
}

/// Puts the operators' names on rows («Анна (101)»), for the operators chart.
pub fn label_operators(rows: &mut [ChartRow], departments: &crate::domain::Departments) {
    for r in rows {
        if let Some(op) = &r.operator {
            r.operator = Some(departments.operator_label(op));
        }
    }
}

/// Computes the series of `kind` over the days `first..=last` in `tz`.
pub fn series(
    kind: ChartKind,
    rows: &[ChartRow],
    tz: Tz,
    first: NaiveDate,
    last: NaiveDate,
) -> Series {
    let day = |r: &ChartRow| r.started_at.with_timezone(&tz).date_naive();
    match kind {
        ChartKind::Leads => {
            let mut by: BTreeMap<NaiveDate, [i64; 4]> =
                days(first, last).into_iter().map(|d| (d, [0; 4])).collect();
            for r in rows {
                if let (Some(i), Some(slot)) = (
                    r.category.as_deref().and_then(cat_index),
                    by.get_mut(&day(r)),
                ) {
                    slot[i] += 1;
                }
            }
            Series::StackedByDay(by.into_iter().collect())
        }
        ChartKind::Funnel => {
            let calls = rows.len() as f64;
            // Unanswered calls have no talk time.
            let answered = rows.iter().filter(|r| r.duration_secs > 0).count() as f64;
            let analysed = rows.iter().filter(|r| r.status == "analyzed").count() as f64;
            let warm_hot = rows
                .iter()
                .filter(|r| matches!(r.category.as_deref(), Some("hot" | "warm")))
                .count() as f64;
            Series::Bars(vec![
                ("calls".into(), calls),
                ("answered".into(), answered),
                ("analysed".into(), analysed),
                ("warm_hot".into(), warm_hot),
            ])
        }
        ChartKind::Ratings => {
            let mut h = [0i64; 10];
            for r in rows
                .iter()
                .filter(|r| r.profile.as_deref() != Some("qa_checklist"))
            {
                if let Some(v) = r.rating.filter(|v| (1..=10).contains(v)) {
                    h[(v - 1) as usize] += 1;
                }
            }
            Series::Histogram(h)
        }
        ChartKind::Operators => {
            let mut by: BTreeMap<String, (f64, f64)> = BTreeMap::new();
            for r in rows
                .iter()
                .filter(|r| r.profile.as_deref() == Some("qa_checklist"))
            {
                let Some(score) = r.rating else { continue };
                // The operator when the PBX named one, else our number of the call.
                let ours = if r.direction == Direction::Outgoing.as_str() {
                    &r.caller
                } else {
                    &r.called
                };
                let name = match &r.operator {
                    Some(op) => op.clone(),
                    None => PhoneNumber::parse(ours)
                        .map(|p| p.pretty())
                        .unwrap_or_else(|_| ours.clone()),
                };
                let e = by.entry(name).or_insert((0.0, 0.0));
                e.0 += f64::from(score);
                e.1 += 1.0;
            }
            Series::Bars(by.into_iter().map(|(k, (sum, n))| (k, sum / n)).collect())
        }
        ChartKind::Agreement => {
            let mut by: BTreeMap<NaiveDate, (f64, f64)> = BTreeMap::new();
            for r in rows {
                let (Some(ai), Some(fb)) = (&r.category, &r.last_feedback) else {
                    continue;
                };
                let e = by.entry(day(r)).or_insert((0.0, 0.0));
                e.1 += 1.0;
                if fb == "confirm" || fb == ai {
                    e.0 += 1.0;
                }
            }
            Series::Lines(
                by.into_iter()
                    .map(|(d, (ok, n))| (d, vec![ok * 100.0 / n]))
                    .collect(),
            )
        }
        ChartKind::Volume => {
            let mut h = [[0i64; 24]; 7];
            for r in rows {
                let local = r.started_at.with_timezone(&tz);
                h[local.weekday().num_days_from_monday() as usize][local.hour() as usize] += 1;
            }
            Series::Heatmap(Box::new(h))
        }
        ChartKind::Latency => {
            let mut by: BTreeMap<NaiveDate, Vec<f64>> = BTreeMap::new();
            for r in rows {
                let Some(posted) = r.posted_at else { continue };
                let ended = r.started_at + chrono::Duration::seconds(r.duration_secs);
                let secs = (posted - ended).num_milliseconds() as f64 / 1000.0;
                by.entry(day(r)).or_default().push(secs.max(0.0));
            }
            Series::Lines(
                by.into_iter()
                    .map(|(d, mut v)| {
                        let p50 = percentile(&mut v, 0.5);
                        let p95 = percentile(&mut v, 0.95);
                        (d, vec![p50, p95])
                    })
                    .collect(),
            )
        }
    }
}

/// Draws `kind` for the rows as a PNG.
pub fn chart_png(
    kind: ChartKind,
    rows: &[ChartRow],
    tz: Tz,
    first: NaiveDate,
    last: NaiveDate,
    labels: &Labels,
) -> Result<Vec<u8>, ChartError> {
    render::draw(&series(kind, rows, tz, first, last), labels)
}

/// The labels of a chart in `lang`.
pub fn labels(lang: Lang, kind: ChartKind, period: &Period) -> Labels {
    let names = match kind {
        ChartKind::Leads => LeadCategory::ALL
            .iter()
            .map(|c| t(lang, &format!("category-{}", c.as_str())))
            .collect(),
        ChartKind::Funnel => [
            "funnel-calls",
            "funnel-answered",
            "funnel-analysed",
            "funnel-warm-hot",
        ]
        .iter()
        .map(|k| t(lang, k))
        .collect(),
        ChartKind::Agreement => vec![t(lang, "series-agreement")],
        ChartKind::Latency => vec!["p50".into(), "p95".into()],
        ChartKind::Volume => t(lang, "weekdays").split(',').map(str::to_string).collect(),
        ChartKind::Ratings | ChartKind::Operators => Vec::new(),
    };
    Labels {
        title: t_args(
            lang,
            &format!("chart-title-{kind}"),
            &[("period", period.label().into())],
        ),
        empty: t(lang, "chart-empty"),
        names,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn rows() -> Vec<ChartRow> {
        let cats = ["hot", "warm", "cold", "refusal", "warm", "cold"];
        (0..60)
            .map(|i| {
                let started = Utc
                    .with_ymd_and_hms(2026, 11, 16 + (i % 7) as u32, 6 + (i % 10) as u32, 0, 0)
                    .unwrap();
                ChartRow {
                    started_at: started,
                    duration_secs: if i % 9 == 0 { 0 } else { 120 },
                    status: if i % 9 == 0 {
                        "skipped".into()
                    } else {
                        "analyzed".into()
                    },
                    direction: "incoming".into(),
                    caller: "+79161234567".into(),
                    called: if i % 2 == 0 {
                        "+74951234567".into()
                    } else {
                        "+74957654321".into()
                    },
                    profile: Some(if i % 5 == 0 {
                        "qa_checklist".into()
                    } else {
                        "realty_lead".into()
                    }),
                    category: Some(cats[i % cats.len()].into()),
                    rating: Some((i % 10 + 1) as i32),
                    last_feedback: (i % 3 == 0).then(|| {
                        if i % 2 == 0 {
                            "confirm".to_string()
                        } else {
                            "hot".to_string()
                        }
                    }),
                    posted_at: Some(
                        started + chrono::Duration::seconds(120 + 60 + (i % 7) as i64 * 10),
                    ),
                    operator: None,
                }
            })
            .collect()
    }

    fn non_white_share(png_bytes: &[u8]) -> f64 {
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        let px = &buf[..info.buffer_size()];
        let non_white = px.chunks(3).filter(|p| p.iter().any(|c| *c < 240)).count();
        non_white as f64 / (px.len() / 3) as f64
    }

    fn labels() -> Labels {
        Labels {
            title: "Лиды по дням — тест".into(),
            empty: "Нет данных за период".into(),
            names: vec![
                "Горячие".into(),
                "Тёплые".into(),
                "Холодные".into(),
                "Отказы".into(),
                "Пт".into(),
                "Сб".into(),
                "Вс".into(),
            ],
        }
    }

    #[test]
    fn every_chart_renders_a_non_blank_png_of_the_expected_size() {
        let (first, last) = (
            NaiveDate::from_ymd_opt(2026, 11, 16).unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
        );
        let dir = std::env::temp_dir().join("callops-charts");
        let _ = std::fs::create_dir_all(&dir);
        for kind in ChartKind::ALL {
            let png = chart_png(
                kind,
                &rows(),
                chrono_tz::Europe::Moscow,
                first,
                last,
                &labels(),
            )
            .unwrap();
            assert_eq!(png_size(&png), Some((WIDTH, HEIGHT)), "{kind}");
            let share = non_white_share(&png);
            assert!(
                share > 0.02,
                "{kind}: only {share:.3} of the picture is drawn"
            );
            let _ = std::fs::write(dir.join(format!("{kind}.png")), &png);
            let empty =
                chart_png(kind, &[], chrono_tz::Europe::Moscow, first, last, &labels()).unwrap();
            assert_eq!(png_size(&empty), Some((WIDTH, HEIGHT)));
            assert!(
                non_white_share(&empty) > 0.001,
                "{kind}: the empty chart still says so"
            );
        }
    }

    #[test]
    fn series_are_computed_right() {
        let (first, last) = (
            NaiveDate::from_ymd_opt(2026, 11, 16).unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
        );
        let tz = chrono_tz::Europe::Moscow;
        let Series::StackedByDay(days) = series(ChartKind::Leads, &rows(), tz, first, last) else {
            panic!()
        };
        assert_eq!(days.len(), 7);
        assert_eq!(
            days.iter().map(|(_, c)| c.iter().sum::<i64>()).sum::<i64>(),
            60
        );
        let Series::Bars(funnel) = series(ChartKind::Funnel, &rows(), tz, first, last) else {
            panic!()
        };
        assert_eq!(
            funnel.iter().map(|(_, v)| *v as i64).collect::<Vec<_>>(),
            vec![60, 53, 53, 30]
        );
        let Series::Bars(ops) = series(ChartKind::Operators, &rows(), tz, first, last) else {
            panic!()
        };
        assert_eq!(ops.len(), 2, "one bar per our number");
        let mut named = rows();
        for (i, r) in named.iter_mut().enumerate() {
            r.operator = Some(if i % 3 == 0 { "101" } else { "102" }.into());
        }
        label_operators(
            &mut named,
            &crate::domain::Departments::parse_json(
                r#"[{"name": "Продажи", "operators": {"101": "Анна"}}]"#,
            )
            .unwrap(),
        );
        let Series::Bars(ops) = series(ChartKind::Operators, &named, tz, first, last) else {
            panic!()
        };
        let names: Vec<&str> = ops.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            vec!["102", "Анна (101)"],
            "one bar per operator, named"
        );
        let Series::Heatmap(h) = series(ChartKind::Volume, &rows(), tz, first, last) else {
            panic!()
        };
        assert_eq!(h.iter().flatten().sum::<i64>(), 60);
        let Series::Lines(lat) = series(ChartKind::Latency, &rows(), tz, first, last) else {
            panic!()
        };
        assert!(lat.iter().all(|(_, v)| v[0] >= 60.0 && v[1] >= v[0]));
        assert_eq!("volume".parse::<ChartKind>().unwrap(), ChartKind::Volume);
        assert!("pie".parse::<ChartKind>().is_err());
    }
}
