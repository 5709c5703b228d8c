//! Validation of an answer against the JSON-schema subset profiles use (object, array, string,
//! integer, number, boolean, null unions, enum, required, minimum/maximum), with coercion of the
//! usual slips: numbers as strings ("8", "8/10"), booleans as words, enum case, a lone value where
//! a list is expected.

use serde_json::{Map, Value};

/// Validates and coerces `value` in place; returns every problem found, with its path.
pub fn validate(value: &mut Value, schema: &Value) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    check(value, schema, "$", &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn types_of(schema: &Value) -> Vec<&str> {
    match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn check(v: &mut Value, schema: &Value, path: &str, errors: &mut Vec<String>) {
    let types = types_of(schema);
    if v.is_null() {
        if types.is_empty() || types.contains(&"null") {
            return;
        }
        errors.push(format!("{path}: must not be null"));
        return;
    }
    let main = types.iter().copied().find(|t| *t != "null").unwrap_or("");
    match main {
        "object" => check_object(v, schema, path, errors),
        "array" => {
            if !v.is_array() {
                let single = v.take();
                *v = if single.as_str().is_some_and(|s| s.trim().is_empty()) {
                    Value::Array(Vec::new())
                } else {
                    Value::Array(vec![single])
                };
            }
            if let Value::Array(items) = v {
                for (i, item) in items.iter_mut().enumerate() {
                    check(item, &schema["items"], &format!("{path}[{i}]"), errors);
                }
            }
        }
        "integer" | "number" => {
            let n = match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => leading_number(s),
                _ => None,
            };
            match n {
                Some(n) => {
                    if let Some(min) = schema["minimum"].as_f64() {
                        if n < min {
                            errors.push(format!("{path}: {n} is below the minimum {min}"));
                        }
                    }
                    if let Some(max) = schema["maximum"].as_f64() {
                        if n > max {
                            errors.push(format!("{path}: {n} is above the maximum {max}"));
                        }
                    }
                    *v = if main == "integer" {
                        Value::from(n.round() as i64)
                    } else {
                        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
                    };
                }
                None => errors.push(format!("{path}: must be a {main}, got {v}")),
            }
        }
        "boolean" => {
            let b = match v {
                Value::Bool(b) => Some(*b),
                Value::String(s) => match s.trim().to_lowercase().as_str() {
                    "true" | "yes" | "да" => Some(true),
                    "false" | "no" | "нет" => Some(false),
                    _ => None,
                },
                Value::Number(n) => n.as_i64().map(|n| n != 0),
                _ => None,
            };
            match b {
                Some(b) => *v = Value::Bool(b),
                None => errors.push(format!("{path}: must be true or false, got {v}")),
            }
        }
        "string" => {
            if !v.is_string() {
                if v.is_number() || v.is_boolean() {
                    *v = Value::String(v.to_string());
                } else {
                    errors.push(format!("{path}: must be a string"));
                    return;
                }
            }
            if let Some(options) = schema["enum"].as_array() {
                let s = v.as_str().unwrap_or_default().trim().to_lowercase();
                match options
                    .iter()
                    .find(|o| o.as_str().is_some_and(|o| o.to_lowercase() == s))
                {
                    Some(o) => *v = o.clone(),
                    None => errors.push(format!(
                        "{path}: {v} is not one of {}",
                        options
                            .iter()
                            .map(Value::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                }
            }
        }
        _ => {}
    }
}

fn check_object(v: &mut Value, schema: &Value, path: &str, errors: &mut Vec<String>) {
    let Value::Object(map) = v else {
        errors.push(format!("{path}: must be an object"));
        return;
    };
    let empty = Map::new();
    let props = schema["properties"].as_object().unwrap_or(&empty);
    for req in schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !map.contains_key(req) {
            let nullable = types_of(&props[req]).contains(&"null");
            if nullable {
                map.insert(req.to_string(), Value::Null);
            } else {
                errors.push(format!("{path}.{req}: is missing"));
            }
        }
    }
    for (key, prop) in props {
        if let Some(child) = map.get_mut(key) {
            check(child, prop, &format!("{path}.{key}"), errors);
        }
    }
    if schema["additionalProperties"] == Value::Bool(false) {
        map.retain(|k, _| props.contains_key(k));
    }
}

/// The number at the start of a string: "8", "8/10", " 7.5 баллов", "1 000 000".
fn leading_number(s: &str) -> Option<f64> {
    let compact: String = s
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}'))
        .collect();
    let num: String = compact
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',' || *c == '-')
        .map(|c| if c == ',' { '.' } else { c })
        .collect();
    num.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["category", "rating", "has_buyers", "reasons", "agency"],
            "properties": {
                "category": {"type": "string", "enum": ["hot", "warm", "cold", "refusal"]},
                "rating": {"type": "integer", "minimum": 1, "maximum": 10},
                "has_buyers": {"type": "boolean"},
                "reasons": {"type": "array", "items": {"type": "string"}},
                "agency": {"type": ["string", "null"]}
            }
        })
    }

    #[test]
    fn coerces_slips() {
        let mut v = json!({"category": "HOT", "rating": "8/10", "has_buyers": "да", "reasons": "нужна ипотека", "extra": 1});
        validate(&mut v, &schema()).unwrap();
        assert_eq!(
            v,
            json!({"category": "hot", "rating": 8, "has_buyers": true, "reasons": ["нужна ипотека"], "agency": null})
        );
    }

    #[test]
    fn reports_every_problem_with_its_path() {
        let mut v =
            json!({"category": "lukewarm", "rating": 14, "has_buyers": "maybe", "reasons": [1]});
        let errs = validate(&mut v, &schema()).unwrap_err();
        let all = errs.join("\n");
        assert!(
            all.contains("$.category") && all.contains("lukewarm"),
            "{all}"
        );
        assert!(
            all.contains("$.rating: 14 is above the maximum 10"),
            "{all}"
        );
        assert!(all.contains("$.has_buyers"), "{all}");
        assert_eq!(
            v["reasons"],
            json!(["1"]),
            "numbers in a string list become strings"
        );
        let mut missing = json!({"agency": "Этажи"});
        let errs = validate(&mut missing, &schema()).unwrap_err();
        assert_eq!(errs.len(), 4, "{errs:?}");
    }
}
