//! What a live call has established so far: the stage, the captured contact, a callback time,
//! the outcome, an opt-out, and why it ended. The LLM changes it only through tool calls, each
//! checked here.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::telephony::line::HangupCause;

pub use crate::domain::Stage;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub name: Option<String>,
    pub role: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The agent said goodbye (`end_call`).
    Completed(String),
    OptOut,
    /// Nobody answered the reprompts.
    Silence,
    MaxDuration,
    MaxTurns,
    /// The line went down before the agent ended the call (see the cause).
    Hangup(HangupCause),
    /// A provider failed for good.
    Failure(String),
    /// Asked from outside to hang up (a goodbye was said).
    Stopped,
    /// A voicemail answered; whether the script's message was left after the beep.
    Voicemail {
        message_left: bool,
    },
    /// An IVR menu answered: nobody to talk to.
    Ivr,
}

impl EndReason {
    pub fn code(&self) -> &'static str {
        match self {
            EndReason::Completed(_) => "completed",
            EndReason::OptOut => "opt_out",
            EndReason::Silence => "silence",
            EndReason::MaxDuration => "max_duration",
            EndReason::MaxTurns => "max_turns",
            EndReason::Hangup(_) => "hangup",
            EndReason::Failure(_) => "failure",
            EndReason::Stopped => "stopped",
            EndReason::Voicemail {
                message_left: false,
            } => "voicemail",
            EndReason::Voicemail { message_left: true } => "voicemail_message",
            EndReason::Ivr => "ivr",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CallState {
    pub stage: Stage,
    pub contact: Contact,
    pub callback: Option<String>,
    /// `(category, reason)` as the agent judged it.
    pub outcome: Option<(Outcome, String)>,
    pub opted_out: bool,
    /// Set when the agent decided to end (the goodbye may still be playing).
    pub ending: Option<EndReason>,
    /// Caller turns so far.
    pub turns: u32,
    /// Who answered, once told (live calls with screening on).
    #[serde(default)]
    pub answered_by: Option<crate::domain::AnsweredBy>,
    /// Every stage the call went through, in the order first entered (the greeting is implied).
    #[serde(default)]
    pub visited: Vec<Stage>,
}

/// How the conversation ended for the business, as the agent judges it (`set_outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Interested,
    Callback,
    NotInterested,
    WrongPerson,
    NoConversation,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::Interested,
        Outcome::Callback,
        Outcome::NotInterested,
        Outcome::WrongPerson,
        Outcome::NoConversation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Interested => "interested",
            Outcome::Callback => "callback",
            Outcome::NotInterested => "not_interested",
            Outcome::WrongPerson => "wrong_person",
            Outcome::NoConversation => "no_conversation",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s.trim())
    }
}

impl PartialEq<&str> for Outcome {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// The outcome names offered to the model.
pub fn outcome_names() -> Vec<&'static str> {
    Outcome::ALL.iter().map(|o| o.as_str()).collect()
}

/// What a tool call did.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    /// The JSON text returned to the model.
    pub content: String,
    /// The call should end after the current reply is spoken.
    pub ends_call: bool,
    pub opted_out: bool,
    /// The checked call, for the state's owner to apply (`None` when it was refused).
    pub call: Option<ToolCall>,
}

fn text_arg(args: &Value, key: &str) -> Option<String> {
    args.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(200).collect())
}

impl CallState {
    /// The callee asked not to be called again (by a tool or by the words of the script's opt-out
    /// phrases): one rule for live calls and rehearsals.
    pub fn opt_out(&mut self) {
        self.opted_out = true;
        self.outcome = Some((Outcome::NotInterested, "просит больше не звонить".into()));
        self.ending = Some(EndReason::OptOut);
    }

    /// One line for the system prompt.
    pub fn summary(&self) -> String {
        let mut parts = vec![format!("этап {}", self.stage.as_str())];
        let c = &self.contact;
        let captured: Vec<String> = [
            ("имя", &c.name),
            ("должность", &c.role),
            ("телефон", &c.phone),
            ("почта", &c.email),
        ]
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}: {v}")))
        .collect();
        if !captured.is_empty() {
            parts.push(format!("контакт — {}", captured.join(", ")));
        }
        if let Some(cb) = &self.callback {
            parts.push(format!("перезвонить: {cb}"));
        }
        if let Some((cat, _)) = &self.outcome {
            parts.push(format!("исход: {}", cat.as_str()));
        }
        parts.push(format!("реплик собеседника: {}", self.turns));
        parts.join("; ")
    }

    /// Applies a tool call from the model. Bad arguments get an error the model can read; a
    /// valid call is returned in the result so the call's single owner of the state can apply
    /// the same change (see [`ToolCall`]).
    pub fn apply(&mut self, name: &str, arguments: &str) -> ToolResult {
        match ToolCall::parse(name, arguments) {
            Ok(call) => {
                let content = self.apply_call(&call);
                ToolResult {
                    content: content.to_string(),
                    ends_call: call.ends_call(),
                    opted_out: call == ToolCall::OptOut,
                    call: Some(call),
                }
            }
            Err(error) => ToolResult {
                content: json!({"ok": false, "error": error}).to_string(),
                ends_call: false,
                opted_out: false,
                call: None,
            },
        }
    }

    /// Moves to `stage`, remembering it was reached.
    fn enter(&mut self, stage: Stage) {
        self.stage = stage;
        if !self.visited.contains(&stage) {
            self.visited.push(stage);
        }
    }

    /// The furthest stage reached, in funnel order.
    pub fn furthest(&self) -> Stage {
        self.visited
            .iter()
            .copied()
            .chain([self.stage])
            .max()
            .unwrap_or_default()
    }

    /// Applies a checked tool call; returns what the model is told.
    pub fn apply_call(&mut self, call: &ToolCall) -> Value {
        match call {
            ToolCall::SaveContact(given) => {
                let c = Contact {
                    name: given.name.clone().or(self.contact.name.clone()),
                    role: given.role.clone().or(self.contact.role.clone()),
                    phone: given.phone.clone().or(self.contact.phone.clone()),
                    email: given.email.clone().or(self.contact.email.clone()),
                };
                self.contact = c;
                if matches!(
                    self.stage,
                    Stage::Greeting
                        | Stage::Qualification
                        | Stage::Presentation
                        | Stage::Objections
                ) {
                    self.enter(Stage::Contact);
                }
                json!({"ok": true, "saved": self.contact})
            }
            ToolCall::ScheduleCallback(when) => {
                self.callback = Some(when.clone());
                if self.outcome.is_none() {
                    self.outcome = Some((Outcome::Callback, format!("просит перезвонить: {when}")));
                }
                json!({"ok": true, "callback": when})
            }
            ToolCall::SetOutcome(outcome, reason) => {
                self.outcome = Some((*outcome, reason.clone()));
                json!({"ok": true, "outcome": outcome.as_str()})
            }
            ToolCall::SetStage(stage) => {
                self.enter(*stage);
                json!({"ok": true, "stage": stage.as_str()})
            }
            ToolCall::OptOut => {
                self.opt_out();
                json!({"ok": true, "note": "say a short polite goodbye"})
            }
            ToolCall::EndCall(reason) => {
                self.enter(Stage::Closing);
                if self.ending.is_none() {
                    self.ending = Some(EndReason::Completed(reason.clone()));
                }
                json!({"ok": true})
            }
        }
    }
}

/// A tool call of the model, checked: the only ways the model changes a call's state.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolCall {
    /// Contact fields given (the others are kept).
    SaveContact(Contact),
    ScheduleCallback(String),
    SetOutcome(Outcome, String),
    SetStage(Stage),
    OptOut,
    EndCall(String),
}

impl ToolCall {
    /// Reads a tool call; the error is for the model to read.
    pub fn parse(name: &str, arguments: &str) -> Result<Self, String> {
        let args: Value = serde_json::from_str(arguments).unwrap_or(Value::Null);
        match name {
            "save_contact" => {
                let c = Contact {
                    name: text_arg(&args, "name"),
                    role: text_arg(&args, "role"),
                    phone: text_arg(&args, "phone"),
                    email: text_arg(&args, "email"),
                };
                if c == Contact::default() {
                    return Err("no contact fields given".into());
                }
                Ok(ToolCall::SaveContact(c))
            }
            "schedule_callback" => text_arg(&args, "when")
                .map(ToolCall::ScheduleCallback)
                .ok_or_else(|| "`when` is required".into()),
            "set_outcome" => {
                let category = text_arg(&args, "category").unwrap_or_default();
                let outcome = Outcome::parse(&category)
                    .ok_or_else(|| format!("category must be one of {:?}", outcome_names()))?;
                Ok(ToolCall::SetOutcome(
                    outcome,
                    text_arg(&args, "reason").unwrap_or_default(),
                ))
            }
            "set_stage" => text_arg(&args, "stage")
                .and_then(|s| Stage::parse(&s))
                .map(ToolCall::SetStage)
                .ok_or_else(|| "unknown stage".into()),
            "opt_out" => Ok(ToolCall::OptOut),
            "end_call" => Ok(ToolCall::EndCall(
                text_arg(&args, "reason").unwrap_or_else(|| "разговор завершён".into()),
            )),
            other => Err(format!("unknown tool {other}")),
        }
    }

    /// The call should end after the current reply is spoken.
    pub fn ends_call(&self) -> bool {
        matches!(self, ToolCall::OptOut | ToolCall::EndCall(_))
    }
}

/// The tool definitions sent with every request (OpenAI `tools`).
pub fn tool_definitions() -> Value {
    let f = |name: &str, description: &str, properties: Value, required: Value| {
        json!({"type": "function", "function": {
            "name": name, "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required}
        }})
    };
    let s = json!({"type": "string"});
    json!([
        f(
            "save_contact",
            "Сохранить контакт собеседника или ответственного лица.",
            json!({"name": s, "role": s, "phone": s, "email": s}),
            json!([])
        ),
        f(
            "schedule_callback",
            "Договорились перезвонить: когда (как сказал собеседник).",
            json!({"when": s}),
            json!(["when"])
        ),
        f(
            "set_outcome",
            "Исход звонка.",
            json!({"category": {"type": "string", "enum": outcome_names()}, "reason": s}),
            json!(["category"])
        ),
        f(
            "set_stage",
            "Перейти к этапу разговора.",
            json!({"stage": {"type": "string", "enum": ["greeting","qualification","presentation","objections","contact","closing"]}}),
            json!(["stage"])
        ),
        f(
            "opt_out",
            "Собеседник просит больше не звонить.",
            json!({}),
            json!([])
        ),
        f(
            "end_call",
            "Завершить звонок после прощания.",
            json!({"reason": s}),
            json!([])
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_round_trip_and_serialise_as_before() {
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
            assert_eq!(serde_json::to_value(o).unwrap(), json!(o.as_str()));
        }
        assert_eq!(Outcome::parse("great"), None);
        // A rehearsal saved before the enum existed still loads.
        let old: (Outcome, String) =
            serde_json::from_value(json!(["not_interested", "просит больше не звонить"])).unwrap();
        assert_eq!(old.0, Outcome::NotInterested);
    }

    #[test]
    fn tools_change_the_state_and_bad_arguments_are_explained() {
        let mut st = CallState::default();
        let r = st.apply(
            "save_contact",
            r#"{"name":"Иван","role":"директор","phone":"+79161234567"}"#,
        );
        assert!(r.content.contains("\"ok\":true"));
        assert_eq!(st.contact.name.as_deref(), Some("Иван"));
        assert_eq!(st.stage, Stage::Contact);
        let r = st.apply("save_contact", r#"{"email":"ivan@example.ru"}"#);
        assert!(!r.ends_call);
        assert_eq!(st.contact.name.as_deref(), Some("Иван"));
        assert_eq!(st.contact.email.as_deref(), Some("ivan@example.ru"));
        assert!(st
            .apply("set_outcome", r#"{"category":"great"}"#)
            .content
            .contains("must be one of"));
        assert!(st
            .apply("schedule_callback", "not json")
            .content
            .contains("required"));
        st.apply("schedule_callback", r#"{"when":"завтра в 10"}"#);
        assert_eq!(st.outcome.as_ref().unwrap().0, "callback");
        let r = st.apply("opt_out", "{}");
        assert!(r.ends_call && r.opted_out && st.opted_out);
        assert_eq!(st.ending, Some(EndReason::OptOut));
        assert!(st
            .apply("launch_rocket", "{}")
            .content
            .contains("unknown tool"));
        assert_eq!(tool_definitions().as_array().unwrap().len(), 6);
    }
}
