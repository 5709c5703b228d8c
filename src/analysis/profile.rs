//! Analysis profiles: `prompts/<name>.toml` declares the prompt, the JSON schema of the answer and
//! how the protocol renders each field. The shipped profiles are compiled in; a `PROMPTS_DIR` with
//! files of the same name overrides them, and new files add profiles.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// How a field is rendered in the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    Text,
    Paragraph,
    List,
    Bool,
    Number,
    Rating,
    Category,
    Priority,
    Outcome,
    Scores,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FieldSpec {
    pub field: String,
    pub kind: FieldKind,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Section {
    pub id: String,
    pub emoji: String,
    pub fields: Vec<FieldSpec>,
}

/// One analysis profile.
#[derive(Debug, Clone, Deserialize)]
pub struct Profile {
    pub name: String,
    pub system: String,
    pub instructions: String,
    #[serde(deserialize_with = "schema_from_str")]
    pub schema: serde_json::Value,
    #[serde(rename = "section", default)]
    pub sections: Vec<Section>,
    /// The field holding a lead category (hot/warm/cold/refusal), when the profile has one.
    #[serde(default)]
    pub category_field: Option<String>,
}

impl Profile {
    /// This profile with a team's own checklist (from a Google Sheet): its criteria replace the
    /// built-in ones in the prompt and in the `scores` of the answer's schema, each scored with a
    /// reason; the sheet's instructions are added to the prompt.
    pub fn with_checklist(&self, checklist: &crate::domain::Checklist) -> Profile {
        let mut p = self.clone();
        let criteria: Vec<String> = checklist
            .criteria
            .iter()
            .map(|c| format!("- {}: {};", c.name, c.description))
            .collect();
        p.system.push_str(&format!(
            "\n\nЧек-лист этой команды заменяет критерии выше. Оцени каждый критерий от 0 до 10 с \
             причиной (ключи scores — названия критериев, как написано):\n{}\n",
            criteria.join("\n")
        ));
        if let Some(extra) = &checklist.instructions {
            p.system
                .push_str(&format!("\nДополнительные указания команды:\n{extra}\n"));
        }
        let criterion = serde_json::json!({
            "type": "object", "additionalProperties": false, "required": ["score", "reason"],
            "properties": {
                "score": {"type": "integer", "minimum": 0, "maximum": 10},
                "reason": {"type": "string"}
            }
        });
        let names: Vec<&str> = checklist.criteria.iter().map(|c| c.name.as_str()).collect();
        if let Some(scores) = p.schema.pointer_mut("/properties/scores") {
            *scores = serde_json::json!({
                "type": "object",
                "additionalProperties": false,
                "required": names,
                "properties": names
                    .iter()
                    .map(|n| (n.to_string(), criterion.clone()))
                    .collect::<serde_json::Map<_, _>>(),
            });
        }
        p
    }
}

fn schema_from_str<'de, D: serde::Deserializer<'de>>(d: D) -> Result<serde_json::Value, D::Error> {
    let text = String::deserialize(d)?;
    serde_json::from_str(&text).map_err(serde::de::Error::custom)
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("profile {file}: {message}")]
    Invalid { file: String, message: String },
    #[error("cannot read {0}: {1}")]
    Io(String, std::io::Error),
}

const BUILTIN: &[(&str, &str)] = &[
    (
        "realty_lead",
        include_str!("../../prompts/realty_lead.toml"),
    ),
    (
        "qa_checklist",
        include_str!("../../prompts/qa_checklist.toml"),
    ),
    ("cold_call", include_str!("../../prompts/cold_call.toml")),
];

/// All profiles by name.
#[derive(Debug, Clone)]
pub struct Profiles(BTreeMap<String, Profile>);

impl Profiles {
    /// The compiled-in profiles, overridden and extended by `dir` when given.
    pub fn load(dir: Option<&Path>) -> Result<Self, ProfileError> {
        let mut map = BTreeMap::new();
        for (file, text) in BUILTIN {
            let p = parse(file, text)?;
            map.insert(p.name.clone(), p);
        }
        if let Some(dir) = dir.filter(|d| d.is_dir()) {
            let entries = std::fs::read_dir(dir)
                .map_err(|e| ProfileError::Io(dir.display().to_string(), e))?;
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().and_then(|e| e.to_str()) != Some("toml") {
                    continue;
                }
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| ProfileError::Io(path.display().to_string(), e))?;
                let p = parse(&path.display().to_string(), &text)?;
                map.insert(p.name.clone(), p);
            }
        }
        Ok(Self(map))
    }

    pub fn get(&self, name: &str) -> Option<&Profile> {
        self.0.get(name)
    }

    pub fn names(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }
}

fn parse(file: &str, text: &str) -> Result<Profile, ProfileError> {
    let p: Profile = toml::from_str(text).map_err(|e| ProfileError::Invalid {
        file: file.to_string(),
        message: e.message().to_string(),
    })?;
    let props = p.schema["properties"]
        .as_object()
        .ok_or_else(|| ProfileError::Invalid {
            file: file.to_string(),
            message: "schema has no properties".into(),
        })?;
    for s in &p.sections {
        for f in &s.fields {
            if !props.contains_key(&f.field) {
                return Err(ProfileError::Invalid {
                    file: file.to_string(),
                    message: format!(
                        "section {} renders {}, which the schema lacks",
                        s.id, f.field
                    ),
                });
            }
        }
    }
    if !p.instructions.contains("{transcript}") {
        return Err(ProfileError::Invalid {
            file: file.to_string(),
            message: "instructions must contain {transcript}".into(),
        });
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_profiles_load_and_are_strict() {
        let all = Profiles::load(None).unwrap();
        assert_eq!(
            all.names(),
            vec!["cold_call", "qa_checklist", "realty_lead"]
        );
        for name in all.names() {
            let p = all.get(&name).unwrap();
            let props: Vec<&String> = p.schema["properties"].as_object().unwrap().keys().collect();
            let required: Vec<&str> = p.schema["required"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|v| v.as_str())
                .collect();
            assert_eq!(
                props.len(),
                required.len(),
                "{name}: strict mode needs every property required"
            );
            assert_eq!(p.schema["additionalProperties"], false, "{name}");
        }
        let realty = all.get("realty_lead").unwrap();
        assert_eq!(realty.category_field.as_deref(), Some("lead_category"));
        for field in [
            "agency_name",
            "interest_rating",
            "rating_reasons",
            "buyers_count",
            "clients_budget",
            "deal_timeframe",
            "agency_commission",
            "key_interests",
            "competitors",
            "next_steps",
            "recommended_actions",
            "summary",
        ] {
            assert!(realty.schema["properties"].get(field).is_some(), "{field}");
        }
    }

    #[test]
    fn a_directory_overrides_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let custom = BUILTIN[0].1.replace("Ты — опытный", "Ты — очень опытный");
        std::fs::write(dir.path().join("realty_lead.toml"), custom).unwrap();
        let all = Profiles::load(Some(dir.path())).unwrap();
        assert!(all
            .get("realty_lead")
            .unwrap()
            .system
            .contains("очень опытный"));
        std::fs::write(dir.path().join("broken.toml"), "name = 1").unwrap();
        let err = Profiles::load(Some(dir.path())).unwrap_err().to_string();
        assert!(err.contains("broken.toml"), "{err}");
    }
}
