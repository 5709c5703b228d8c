//! Departments: a team's calls split by our numbers or by operator, each with its own chat and
//! analysis profile, and the operators' names («Менеджер: Анна (101)»). Read from `callops.toml`
//! (`[[departments]]` tables) or `DEPARTMENTS` (the same as JSON).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::PhoneNumber;

/// One department as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Department {
    pub name: String,
    /// Our numbers whose calls are the department's.
    pub numbers: Vec<PhoneNumber>,
    /// The department's operators: the PBX's name for them (an extension, an operator id) → a
    /// person's name.
    pub operators: BTreeMap<String, String>,
    /// Where its protocols go (else the team chat).
    pub chat: Option<i64>,
    /// The forum topic of that chat (a supergroup with topics) its protocols go to.
    pub topic: Option<i32>,
    /// Its analysis profile (else by number, else the default).
    pub profile: Option<String>,
}

/// A department as written in the configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDepartment {
    name: String,
    #[serde(default)]
    numbers: Vec<String>,
    #[serde(default)]
    operators: BTreeMap<String, String>,
    #[serde(default)]
    chat: Option<i64>,
    #[serde(default)]
    topic: Option<i32>,
    #[serde(default)]
    profile: Option<String>,
}

/// Every department, in the order configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Departments(Vec<Department>);

impl Departments {
    pub fn new(list: Vec<Department>) -> Self {
        Self(list)
    }

    /// Reads the JSON form (`[{"name": …, "numbers": […], "operators": {"101": "Анна"}, …}]`);
    /// errors name the department and the field.
    pub fn parse_json(s: &str) -> Result<Self, String> {
        if s.trim().is_empty() {
            return Ok(Self::default());
        }
        let raw: Vec<RawDepartment> =
            serde_json::from_str(s).map_err(|e| format!("departments: {e}"))?;
        let mut out = Vec::new();
        for d in raw {
            if d.name.trim().is_empty() {
                return Err("a department has no name".into());
            }
            let numbers = d
                .numbers
                .iter()
                .map(|n| {
                    PhoneNumber::parse(n)
                        .map_err(|e| format!("department {:?}: number {n:?}: {e}", d.name))
                })
                .collect::<Result<Vec<_>, _>>()?;
            out.push(Department {
                name: d.name.trim().to_string(),
                numbers,
                operators: d
                    .operators
                    .into_iter()
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .collect(),
                chat: d.chat,
                topic: d.topic,
                profile: d.profile.filter(|p| !p.trim().is_empty()),
            });
        }
        Ok(Self(out))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn list(&self) -> &[Department] {
        &self.0
    }

    /// A call's department: the one its operator belongs to, else the one of our number.
    pub fn of_call(
        &self,
        ours: Option<&PhoneNumber>,
        operator: Option<&str>,
    ) -> Option<&Department> {
        operator
            .and_then(|op| self.0.iter().find(|d| d.operators.contains_key(op)))
            .or_else(|| ours.and_then(|n| self.0.iter().find(|d| d.numbers.contains(n))))
    }

    /// The department whose own chat `chat` is (its digest covers its calls only).
    pub fn with_chat(&self, chat: i64) -> Option<&Department> {
        self.0.iter().find(|d| d.chat == Some(chat))
    }

    /// How a protocol names the operator: «Анна (101)» when named, else the PBX's name alone.
    pub fn operator_label(&self, operator: &str) -> String {
        match self.0.iter().find_map(|d| d.operators.get(operator)) {
            Some(name) if !name.is_empty() => format!("{name} ({operator})"),
            _ => operator.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &str = r#"[
        {"name": "Продажи", "numbers": ["+7 (495) 123-45-67"], "operators": {"101": "Анна", "102": "Игорь"}, "chat": -1001, "profile": "realty_lead"},
        {"name": "Контроль качества", "numbers": ["84957654321"], "operators": {"op-7": "Ольга"}, "chat": -1002, "profile": "qa_checklist"}
    ]"#;

    #[test]
    fn a_call_belongs_to_its_operator_first_then_to_our_number() {
        let d = Departments::parse_json(JSON).unwrap();
        let sales: PhoneNumber = PhoneNumber::parse("74951234567").unwrap();
        let qa: PhoneNumber = PhoneNumber::parse("+74957654321").unwrap();
        assert_eq!(d.of_call(Some(&sales), None).unwrap().name, "Продажи");
        assert_eq!(d.of_call(Some(&qa), Some("101")).unwrap().name, "Продажи");
        assert_eq!(
            d.of_call(Some(&sales), Some("op-7")).unwrap().chat,
            Some(-1002)
        );
        assert_eq!(d.of_call(None, Some("999")), None);
        assert_eq!(d.operator_label("101"), "Анна (101)");
        assert_eq!(d.operator_label("999"), "999");
    }

    #[test]
    fn mistakes_are_named() {
        let e = Departments::parse_json(r#"[{"name": "Склад", "numbers": ["abc"]}]"#).unwrap_err();
        assert!(e.contains("Склад") && e.contains("abc"), "{e}");
        let e = Departments::parse_json(r#"[{"name": "Склад", "chats": 1}]"#).unwrap_err();
        assert!(e.contains("chats"), "{e}");
        assert!(Departments::parse_json("").unwrap().is_empty());
    }
}
