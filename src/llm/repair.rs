//! Repair of near-JSON answers: code fences, prose around the object, trailing commas, smart
//! quotes, single-quoted keys. Returns the parsed value or why it could not be read.

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
    let candidate = match (unfenced.find('{'), unfenced.rfind('}')) {
        (Some(a), Some(b)) if b > a => &unfenced[a..=b],
        _ => return Err("no JSON object found in the answer".into()),
    };
    if let Ok(v) = serde_json::from_str::<Value>(candidate) {
        return object_or_err(v);
    }
    let fixed = remove_trailing_commas(&normalise_quotes(candidate));
    serde_json::from_str::<Value>(&fixed)
        .map_err(|e| format!("invalid JSON: {e}"))
        .and_then(object_or_err)
}

fn object_or_err(v: Value) -> Result<Value, String> {
    match v {
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

fn normalise_quotes(s: &str) -> String {
    s.replace(['\u{201c}', '\u{201d}', '\u{00ab}', '\u{00bb}'], "\"")
}

/// Removes commas that directly precede `}` or `]` (outside strings).
fn remove_trailing_commas(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut in_str = false;
    let mut escaped = false;
    for (i, &c) in chars.iter().enumerate() {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        if c == '"' {
            in_str = true;
            out.push(c);
            continue;
        }
        if c == ',' {
            let next = chars[i + 1..].iter().find(|n| !n.is_whitespace());
            if matches!(next, Some('}') | Some(']')) {
                continue;
            }
        }
        out.push(c);
    }
    out
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
