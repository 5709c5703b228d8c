//! The dialog rules a live call and a rehearsal share, written once: every caller turn is
//! counted; the script's opt-out phrases end the call with its opt-out goodbye; the turn limit
//! closes it with the limit goodbye; otherwise the model answers, asked with the script's system
//! prompt built from the call's state. (The duration limit needs a clock: the live engine keeps
//! it, from the same [`super::DialogSettings`].)

use serde_json::{json, Value};

use super::script::Script;
use super::state::{CallState, EndReason};

/// What follows a caller's turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnRule {
    /// The model answers.
    Answer,
    /// The callee asked not to be called again: say this goodbye and end.
    OptOut(String),
    /// The turn limit is reached: say this goodbye and end.
    TurnLimit(String),
}

/// Counts a caller's turn of `text` and applies the rules, marking the state's end when the call
/// is to end.
pub fn caller_turn(state: &mut CallState, script: &Script, text: &str, max_turns: u32) -> TurnRule {
    state.turns += 1;
    if script.is_opt_out(text) {
        state.opt_out();
        return TurnRule::OptOut(script.goodbye_opt_out.clone());
    }
    if state.turns >= max_turns {
        state.ending = Some(EndReason::MaxTurns);
        return TurnRule::TurnLimit(script.goodbye_limit.clone());
    }
    TurnRule::Answer
}

/// Takes back a counted turn whose answer failed (a rehearsal lets the manager send it again).
pub fn take_back_turn(state: &mut CallState) {
    state.turns = state.turns.saturating_sub(1);
}

/// What the model is asked with: the system prompt from the script and the state, then the
/// conversation so far.
pub fn model_messages(script: &Script, state: &CallState, history: &[Value]) -> Vec<Value> {
    let mut messages = vec![json!({"role": "system", "content": script.system_prompt(state)})];
    messages.extend(history.iter().cloned());
    messages
}

/// A manager's hint as the model reads it: for the next reply, never to be read out.
pub fn coaching_note(hint: &str) -> Value {
    json!({
        "role": "system",
        "content": format!(
            "Подсказка руководителя, который слушает звонок (учти её в следующей реплике; не говори собеседнику, что получил подсказку): {hint}"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::Scripts;

    fn script() -> Script {
        Scripts::load(None)
            .unwrap()
            .get("realty_cold")
            .unwrap()
            .clone()
    }

    #[test]
    fn turns_are_counted_and_the_limit_closes_the_call() {
        let s = script();
        let mut st = CallState::default();
        assert_eq!(
            caller_turn(&mut st, &s, "Алло, слушаю", 3),
            TurnRule::Answer
        );
        assert_eq!(
            caller_turn(&mut st, &s, "Да, интересно", 3),
            TurnRule::Answer
        );
        assert_eq!(
            caller_turn(&mut st, &s, "Расскажите ещё", 3),
            TurnRule::TurnLimit(s.goodbye_limit.clone())
        );
        assert_eq!(
            (st.turns, st.ending.clone()),
            (3, Some(EndReason::MaxTurns))
        );
        take_back_turn(&mut st);
        assert_eq!(st.turns, 2);
    }

    #[test]
    fn an_opt_out_phrase_ends_the_call_before_the_limit() {
        let s = script();
        let mut st = CallState::default();
        let rule = caller_turn(&mut st, &s, "Больше не звоните мне", 1);
        assert_eq!(rule, TurnRule::OptOut(s.goodbye_opt_out.clone()));
        assert!(st.opted_out);
        assert_eq!(st.ending, Some(EndReason::OptOut));
    }

    #[test]
    fn the_model_gets_the_system_prompt_then_the_history() {
        let s = script();
        let st = CallState::default();
        let history = vec![json!({"role": "user", "content": "Алло"})];
        let m = model_messages(&s, &st, &history);
        assert_eq!(m[0]["role"], "system");
        assert_eq!(m[0]["content"], s.system_prompt(&st));
        assert_eq!(m[1], history[0]);
    }
}
