//! Application and component variables, as Spin resolves them.
//!
//! Application variables are declared in `[variables]` with a `default` or
//! `required = true`; their values come from `SPIN_VARIABLE_<NAME>` environment
//! variables (name upper-cased), falling back to the default. Component variables
//! (`[component.<id>.variables]`) are templates over application variables:
//! `"https://{{ region }}.example.com"`. Everything is resolved once at start-up;
//! a required variable without a value stops the host with its name.

use std::collections::BTreeMap;

/// Declaration of one application variable (`[variables] name = { ... }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableDecl {
    /// Value used when no provider supplies one; `None` means required.
    pub default: Option<String>,
    /// Secret values are never logged.
    pub secret: bool,
}

/// Checks a variable name as the manifest requires (Spin's lower snake case): words of
/// lower-case ASCII letters and digits separated by single `_`, each word starting with
/// a letter.
pub fn validate_variable_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("variable names must not be empty".into());
    }
    for word in name.split('_') {
        if !word.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(format!(
                "invalid variable name `{name}`: `_`-separated words must start with a lower-case letter"
            ));
        }
        if let Some(c) = word
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
        {
            return Err(format!(
                "invalid variable name `{name}`: invalid character {c:?}; use lower-case letters, digits and `_`"
            ));
        }
    }
    Ok(())
}

/// Checks a name a guest asks for at run time (Spin's looser key rules): `[a-z0-9_]`,
/// starting with a letter, ending with a letter or digit, no `__`.
pub fn validate_key(name: &str) -> Result<(), String> {
    let reason = if name.is_empty() {
        "must not be empty"
    } else if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        return Err(format!(
            "{name:?}: invalid character {c:?}. Variable names may contain only lower-case letters, numbers, and underscores."
        ));
    } else if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        "must start with a lower-case letter"
    } else if name.ends_with('_') {
        "must end with a letter or number"
    } else if name.contains("__") {
        "must not contain multiple consecutive underscores"
    } else {
        return Ok(());
    };
    Err(format!("{name:?}: {reason}"))
}

/// A parsed `{{ var }}` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Var(String),
}

impl Template {
    /// Parses `text`; `{{ name }}` is a reference (whitespace around the name is
    /// allowed), everything else is literal. An unclosed `{{` is an error.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Literal(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("unclosed `{{{{` in template `{text}`"))?;
            let name = after[..end].trim();
            validate_variable_name(name)?;
            parts.push(Part::Var(name.to_owned()));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    /// The variable names this template refers to.
    pub fn references(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(v.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Renders the template; `lookup` gives each referenced variable's value.
    pub fn render(&self, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Literal(l) => out.push_str(l),
                Part::Var(v) => {
                    out.push_str(&lookup(v).ok_or_else(|| format!("no value for variable `{v}`"))?)
                }
            }
        }
        Ok(out)
    }
}

/// Resolved application variable values.
#[derive(Debug, Clone, Default)]
pub struct ResolvedVariables {
    values: BTreeMap<String, String>,
}

/// A required variable with no value, or a template naming an unknown one.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("no provider resolved required variable `{name}`: set the environment variable {env}")]
pub struct MissingVariable {
    /// The variable's name.
    pub name: String,
    /// The environment variable that would supply it.
    pub env: String,
}

/// The environment variable that supplies application variable `name`.
pub fn env_name(name: &str) -> String {
    format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase())
}

impl ResolvedVariables {
    /// Resolves every declared variable from `env` (usually the process environment),
    /// then defaults. Fails on the first required variable left without a value.
    pub fn resolve(
        decls: &BTreeMap<String, VariableDecl>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<ResolvedVariables, MissingVariable> {
        let mut values = BTreeMap::new();
        for (name, decl) in decls {
            let key = env_name(name);
            let value = env(&key).or_else(|| decl.default.clone());
            match value {
                Some(v) => {
                    values.insert(name.clone(), v);
                }
                None => {
                    return Err(MissingVariable {
                        name: name.clone(),
                        env: key,
                    })
                }
            }
        }
        Ok(ResolvedVariables { values })
    }

    /// The value of application variable `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Renders `template` against these values.
    pub fn render(&self, template: &Template) -> Result<String, String> {
        template.render(|n| self.get(n).map(str::to_owned))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decls(items: &[(&str, Option<&str>)]) -> BTreeMap<String, VariableDecl> {
        items
            .iter()
            .map(|(n, d)| {
                (
                    n.to_string(),
                    VariableDecl {
                        default: d.map(str::to_owned),
                        secret: false,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn names_follow_spin_rules() {
        for ok in ["a", "apex", "db_url", "k2"] {
            assert!(validate_variable_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "A", "1a", "_a", "a__b", "a_", "a-b", "a.b", "é", "a_1"] {
            assert!(validate_variable_name(bad).is_err(), "{bad}");
        }
        assert!(validate_key("a_1").is_ok());
        for bad in ["", "A", "1a", "a__b", "a_", "a-b"] {
            assert!(validate_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn templates_render_and_list_references() {
        let t = Template::parse("https://{{ region }}.{{apex}}/x").unwrap();
        assert_eq!(t.references().collect::<Vec<_>>(), ["region", "apex"]);
        let out = t
            .render(|n| Some(if n == "region" { "eu" } else { "example.com" }.into()))
            .unwrap();
        assert_eq!(out, "https://eu.example.com/x");
        assert!(Template::parse("{{ open").is_err());
        assert!(Template::parse("{{ Bad }}").is_err());
        assert_eq!(
            Template::parse("plain").unwrap().render(|_| None).unwrap(),
            "plain"
        );
    }

    #[test]
    fn env_overrides_default_and_required_must_be_set() {
        let d = decls(&[("apex", Some("localhost")), ("key", None)]);
        let err = ResolvedVariables::resolve(&d, |_| None).unwrap_err();
        assert_eq!(err.name, "key");
        assert_eq!(err.env, "SPIN_VARIABLE_KEY");
        assert!(err.to_string().contains("`key`"));

        let r = ResolvedVariables::resolve(&d, |k| match k {
            "SPIN_VARIABLE_KEY" => Some("s3cret".into()),
            "SPIN_VARIABLE_APEX" => Some("app.example".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(r.get("apex"), Some("app.example"));
        assert_eq!(r.get("key"), Some("s3cret"));
    }
}
