//! Analyses of calls, lead categories and the team's feedback on them.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The real-estate lead categories the team rates calls with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeadCategory {
    Hot,
    Warm,
    Cold,
    Refusal,
}

impl LeadCategory {
    /// Whether a protocol of this category should make the chat buzz: hot and warm leads do;
    /// cold ones and refusals arrive silently.
    pub fn buzzes(self) -> bool {
        matches!(self, LeadCategory::Hot | LeadCategory::Warm)
    }

    pub const ALL: [LeadCategory; 4] = [
        LeadCategory::Hot,
        LeadCategory::Warm,
        LeadCategory::Cold,
        LeadCategory::Refusal,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            LeadCategory::Hot => "hot",
            LeadCategory::Warm => "warm",
            LeadCategory::Cold => "cold",
            LeadCategory::Refusal => "refusal",
        }
    }
    pub fn emoji(self) -> &'static str {
        match self {
            LeadCategory::Hot => "🔥",
            LeadCategory::Warm => "☀️",
            LeadCategory::Cold => "❄️",
            LeadCategory::Refusal => "⛔",
        }
    }
}

impl fmt::Display for LeadCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LeadCategory {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_lowercase().as_str() {
            "hot" | "горячий" | "горячие" | "горячая" | "горячих" => {
                Ok(LeadCategory::Hot)
            }
            "warm" | "тёплый" | "теплый" | "тёплые" | "теплые" | "тёплая" | "теплая" | "тёплых"
            | "теплых" => Ok(LeadCategory::Warm),
            "cold" | "холодный" | "холодные" | "холодная" | "холодных" => {
                Ok(LeadCategory::Cold)
            }
            "refusal" | "отказ" | "отказы" | "отказов" => {
                Ok(LeadCategory::Refusal)
            }
            other => Err(format!("unknown lead category {other:?}")),
        }
    }
}

/// A stored analysis of a call by one profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    pub id: i64,
    pub call_id: i64,
    pub profile: String,
    pub result: serde_json::Value,
    pub lead_category: Option<LeadCategory>,
    pub interest_rating: Option<i32>,
    pub priority: Option<String>,
    pub agency_name: Option<String>,
    pub model: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// An analysis to store (the promoted columns are taken from `result` by the caller).
#[derive(Debug, Clone, PartialEq)]
pub struct NewAnalysis {
    pub call_id: i64,
    pub profile: String,
    pub result: serde_json::Value,
    pub lead_category: Option<LeadCategory>,
    pub interest_rating: Option<i32>,
    pub priority: Option<String>,
    pub agency_name: Option<String>,
    pub model: Option<String>,
}

/// A team member's verdict on an analysis: `confirm` or a category.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Feedback {
    pub call_id: i64,
    pub user_id: i64,
    pub user_name: Option<String>,
    pub choice: super::FeedbackChoice,
    pub created_at: DateTime<Utc>,
}
