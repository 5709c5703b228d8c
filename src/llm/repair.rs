//! Repair of near-JSON answers: code fences and prose around the object are cut here; what is
//! left is repaired by `llm_json` (a port of json_repair): trailing commas, single-quoted or
//! unquoted keys, smart quotes used as quotes, Python literals (`True`, `None`), output cut off by
//! `max_tokens`. Quotes *inside* string values (`"ЖК «Солнечный»"`) stay as they are. Returns the
//! parsed object or why it could not be read.

use serde_json::Value;

/// Parses an LLM answer that should be one JSON object.
pub fn parse_near_json(text: &str) -> Result<Value, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("the answer is empty".into());
    }
    if let Ok(v) = serde_json::from_str::<Value>(trimmed) {
        return object_or_err(v);
    }
    let unfenced = strip_fences(trimmed);
    let Some(open) = unfenced.find('{') else {
        return Err("no JSON object found in the answer".into());
    };
    // To the last closing brace; an answer cut off by max_tokens has none after its start.
    let candidate = match unfenced.rfind('}') {
        Some(close) if close > open => &unfenced[open..=close],
        _ => &unfenced[open..],
    };
    if let Ok(v) = serde_json::from_str::<Value>(candidate) {
        return object_or_err(v);
    }
    if has_missing_value(candidate) {
        // A repairer would invent "" here; asking the model again is better.
        return Err("invalid JSON: a value is missing after a key".into());
    }
    let options = llm_json::RepairOptions {
        ensure_ascii: false,
        ..Default::default()
    };
    llm_json::loads(&outer_quotes_to_ascii(candidate), &options)
        .map_err(|e| format!("invalid JSON: {e}"))
        .and_then(object_or_err)
}

/// Typographic quotes used *as* JSON quotes (`{“a”: «b»}`) become ASCII ones; typographic quotes
/// inside an ASCII-quoted string are text and stay.
fn outer_quotes_to_ascii(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    // The closing quote of the string we are in, if any.
    let mut closing: Option<char> = None;
    let mut escaped = false;
    for c in s.chars() {
        match closing {
            Some(close) => {
                if escaped {
                    escaped = false;
                    out.push(c);
                } else if c == '\\' {
                    escaped = true;
                    out.push(c);
                } else if c == close {
                    closing = None;
                    out.push('"');
                } else if c == '"' && close != '"' {
                    // An ASCII quote inside a typographic string must not end it.
                    out.push_str("\\\"");
                } else {
                    out.push(c);
                }
            }
            None => {
                let close = match c {
                    '"' => Some('"'),
                    '\u{201c}' => Some('\u{201d}'),
                    '\u{00ab}' => Some('\u{00bb}'),
                    _ => None,
                };
                match close {
                    Some(close) => {
                        closing = Some(close);
                        out.push('"');
                    }
                    None => out.push(c),
                }
            }
        }
    }
    out
}

/// Whether a key is followed by no value at all (`"a": }` or `"a": ,`), outside strings.
fn has_missing_value(s: &str) -> bool {
    let mut in_str = false;
    let mut escaped = false;
    let mut after_colon = false;
    for c in s.chars() {
        if in_str {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                after_colon = false;
            }
            ':' => after_colon = true,
            ',' | '}' if after_colon => return true,
            c if c.is_whitespace() => {}
            _ => after_colon = false,
        }
    }
    false
}

fn object_or_err(v: Value) -> Result<Value, String> {
    match v {
        Value::Object(ref o) if o.is_empty() => Err("invalid JSON: nothing could be read".into()),
        Value::Object(_) => Ok(v),
        // A JSON string that itself holds the object (double-encoded).
        Value::String(s) if s.trim_start().starts_with('{') => parse_near_json(&s),
        other => Err(format!("expected a JSON object, got {}", kind(&other))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn strip_fences(s: &str) -> &str {
    if let Some(start) = s.find("```") {
        let after = &s[start + 3..];
        let body_start = after.find('\n').map_or(0, |i| i + 1);
        let body = &after[body_start..];
        if let Some(end) = body.find("```") {
            return &body[..end];
        }
        return body;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repairs_common_slips() {
        let cases = [
            ("{\"a\": 1}", json!({"a": 1})),
            ("```json\n{\"a\": 1}\n```", json!({"a": 1})),
            (
                "Вот анализ звонка:\n{\"a\": 1}\nНадеюсь, это поможет!",
                json!({"a": 1}),
            ),
            (
                "{\"a\": [1, 2,], \"b\": {\"c\": 3,},}",
                json!({"a": [1, 2], "b": {"c": 3}}),
            ),
            ("{\u{201c}a\u{201d}: 1}", json!({"a": 1})),
            ("\"{\\\"a\\\": 1}\"", json!({"a": 1})),
            ("{\"text\": \"a, }\"}", json!({"text": "a, }"})),
        ];
        for (input, want) in cases {
            assert_eq!(parse_near_json(input).unwrap(), want, "{input}");
        }
    }

    #[test]
    fn russian_quotes_inside_values_survive_a_repair() {
        let answer = "{\"agency_name\": \"ЖК «Солнечный»\", \"quote\": \"он сказал “дорого”\", \"rating\": 7,}";
        assert_eq!(
            parse_near_json(answer).unwrap(),
            json!({"agency_name": "ЖК «Солнечный»", "quote": "он сказал “дорого”", "rating": 7})
        );
        assert_eq!(
            parse_near_json("{“agency_name”: “ЖК «Солнечный»”, «rating»: 7,}").unwrap(),
            json!({"agency_name": "ЖК «Солнечный»", "rating": 7})
        );
    }

    #[test]
    fn keys_literals_and_cut_off_answers_are_repaired() {
        let cases = [
            (
                "{'lead_category': 'hot', 'interest_rating': 8}",
                json!({"lead_category": "hot", "interest_rating": 8}),
            ),
            (
                "{lead_category: \"warm\", interest_rating: 5}",
                json!({"lead_category": "warm", "interest_rating": 5}),
            ),
            (
                "{\"callback\": True, \"agency_name\": None, \"hot\": False}",
                json!({"callback": true, "agency_name": null, "hot": false}),
            ),
            (
                "{\"lead_category\": \"cold\", \"summary\": \"Клиент хочет двушку у метро",
                json!({"lead_category": "cold", "summary": "Клиент хочет двушку у метро"}),
            ),
            (
                "```json\n{\"objections\": [\"дорого\", \"далеко\"",
                json!({"objections": ["дорого", "далеко"]}),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parse_near_json(input).unwrap(), want, "{input}");
        }
    }

    #[test]
    fn hopeless_answers_say_why() {
        assert!(parse_near_json("").unwrap_err().contains("empty"));
        assert!(parse_near_json("Извините, я не могу помочь")
            .unwrap_err()
            .contains("no JSON"));
        assert!(parse_near_json("[1,2]").unwrap_err().contains("array"));
        assert!(parse_near_json("{\"a\": }")
            .unwrap_err()
            .contains("invalid JSON"));
    }
}
