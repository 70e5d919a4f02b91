//! Parsing and validation of a Spin application manifest (`spin.toml`, version 2).
//!
//! The TOML shapes ([`RawManifest`] and friends) are kept apart from the validated
//! [`App`]: every check happens once, here, and the rest of the host only sees an
//! `App` whose routes parse, whose components exist and whose variables are declared.
//!
//! The host supports the subset of the manifest that tenantgate uses. Fields Spin
//! knows but this host does not implement (`files`, `sqlite_databases`, remote
//! sources, ...) are refused with an error naming them, never silently ignored.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::allowed_hosts::AllowedHosts;
use crate::routes::{Route, Router};
use crate::variables::{validate_variable_name, Template, VariableDecl};

/// Why a manifest could not be loaded. Messages name the offending item.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read manifest {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid manifest {path}: {message}")]
    Toml { path: PathBuf, message: String },
    #[error("invalid manifest: {0}")]
    Invalid(String),
}

fn invalid(msg: impl Into<String>) -> ManifestError {
    ManifestError::Invalid(msg.into())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    spin_manifest_version: toml::Value,
    application: RawApplication,
    #[serde(default)]
    variables: BTreeMap<String, RawVariable>,
    trigger: BTreeMap<String, Vec<toml::Value>>,
    #[serde(default)]
    component: BTreeMap<String, RawComponent>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApplication {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    authors: Vec<String>,
    #[serde(default)]
    trigger: Option<toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariable {
    #[serde(default)]
    default: Option<String>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    secret: bool,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttpTrigger {
    #[serde(default)]
    id: Option<String>,
    route: RawRoute,
    component: toml::Value,
    #[serde(default)]
    executor: Option<toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawRoute {
    Path(String),
    Private(RawPrivate),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrivate {
    private: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComponent {
    source: toml::Value,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    key_value_stores: Vec<String>,
    #[serde(default)]
    build: Option<toml::Table>,
    #[serde(default)]
    tool: Option<toml::Table>,
    // Known to Spin, not implemented by this host: refused with a clear message.
    #[serde(default)]
    files: Option<toml::Value>,
    #[serde(default)]
    exclude_files: Option<toml::Value>,
    #[serde(default)]
    sqlite_databases: Option<toml::Value>,
    #[serde(default)]
    ai_models: Option<toml::Value>,
    #[serde(default)]
    allowed_http_hosts: Option<toml::Value>,
    #[serde(default)]
    dependencies: Option<toml::Value>,
    #[serde(default)]
    dependencies_inherit_configuration: Option<toml::Value>,
}

/// A validated application.
#[derive(Debug, Clone)]
pub struct App {
    /// `[application] name`.
    pub name: String,
    /// `[application] version`, if given.
    pub version: Option<String>,
    /// Directory holding the manifest; relative paths resolve against it.
    pub base_dir: PathBuf,
    /// Application variables, by name.
    pub variables: BTreeMap<String, VariableDecl>,
    /// Components, by id.
    pub components: BTreeMap<String, ComponentSpec>,
    /// The HTTP routes of the app (public and private).
    pub router: Router,
}

/// One validated `[component.<id>]`.
#[derive(Debug, Clone)]
pub struct ComponentSpec {
    /// The component id (the key in `[component.<id>]`).
    pub id: String,
    /// Absolute path of the `.wasm` file.
    pub source: PathBuf,
    /// Component variables: name -> template over application variables.
    pub variables: BTreeMap<String, Template>,
    /// Environment variables visible to the guest.
    pub environment: BTreeMap<String, String>,
    /// Parsed `allowed_outbound_hosts` (templates already resolved at load time).
    pub allowed_outbound_hosts: Vec<String>,
    /// `key_value_stores` labels the component may open.
    pub key_value_stores: Vec<String>,
}

impl App {
    /// Reads and validates the manifest at `path`.
    pub fn load(path: &Path) -> Result<App, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let base_dir = if base_dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            base_dir
        };
        let base_dir = std::path::absolute(&base_dir).unwrap_or(base_dir);
        Self::parse(&text, &base_dir).map_err(|e| match e {
            ManifestError::Toml { message, .. } => ManifestError::Toml {
                path: path.to_owned(),
                message,
            },
            other => other,
        })
    }

    /// Parses and validates manifest text; relative sources resolve against `base_dir`.
    pub fn parse(text: &str, base_dir: &Path) -> Result<App, ManifestError> {
        let raw: RawManifest = toml::from_str(text).map_err(|e| ManifestError::Toml {
            path: PathBuf::from("spin.toml"),
            message: e.to_string(),
        })?;
        match raw.spin_manifest_version {
            toml::Value::Integer(2) => {}
            toml::Value::String(ref s) if s == "1" => {
                return Err(invalid(
                    "manifest version 1 is not supported; use `spin_manifest_version = 2`",
                ))
            }
            other => {
                return Err(invalid(format!(
                    "unsupported spin_manifest_version {other}; expected 2"
                )))
            }
        }
        let _ = (
            &raw.application.description,
            &raw.application.authors,
            &raw.application.version,
        );
        if raw.application.name.trim().is_empty() {
            return Err(invalid("[application] name must not be empty"));
        }
        check_base(raw.application.trigger.as_ref())?;

        let mut variables = BTreeMap::new();
        for (name, v) in raw.variables {
            validate_variable_name(&name)
                .map_err(|e| invalid(format!("application variable `{name}`: {e}")))?;
            if v.required && v.default.is_some() {
                return Err(invalid(format!(
                    "variable `{name}` cannot be both required and have a default"
                )));
            }
            if !v.required && v.default.is_none() {
                return Err(invalid(format!(
                    "variable `{name}` must be either required or have a default"
                )));
            }
            let _ = v.description;
            variables.insert(
                name,
                VariableDecl {
                    default: v.default,
                    secret: v.secret,
                },
            );
        }

        let mut components = BTreeMap::new();
        for (id, c) in raw.component {
            let spec = component_spec(&id, c, base_dir, &variables)?;
            components.insert(id, spec);
        }

        let mut routes = Vec::new();
        for (kind, triggers) in raw.trigger {
            if kind != "http" {
                return Err(invalid(format!(
                    "trigger type `{kind}` is not supported; this host runs `[[trigger.http]]` only"
                )));
            }
            let mut seen_ids = HashSet::new();
            for t in triggers {
                let t = RawHttpTrigger::deserialize(t)
                    .map_err(|e| invalid(format!("[[trigger.http]]: {e}")))?;
                let component = match t.component {
                    toml::Value::String(s) => s,
                    toml::Value::Table(_) => {
                        return Err(invalid(
                            "inline trigger components are not supported; declare the component as [component.<id>] and reference its id",
                        ))
                    }
                    other => {
                        return Err(invalid(format!(
                            "trigger `component` must be a component id string, found {other}"
                        )))
                    }
                };
                if !components.contains_key(&component) {
                    return Err(invalid(format!(
                        "trigger refers to component `{component}`, which is not defined in [component]"
                    )));
                }
                if let Some(id) = &t.id {
                    if !seen_ids.insert(id.clone()) {
                        return Err(invalid(format!("duplicate trigger id `{id}`")));
                    }
                }
                if let Some(exec) = &t.executor {
                    match exec.get("type").and_then(|v| v.as_str()) {
                        Some("spin") => {}
                        other => {
                            return Err(invalid(format!(
                                "trigger for `{component}`: executor {other:?} is not supported (only `spin`)"
                            )))
                        }
                    }
                }
                let route = match t.route {
                    RawRoute::Path(p) => Route::parse(&p)
                        .map_err(|e| invalid(format!("route for `{component}`: {e}")))?,
                    RawRoute::Private(RawPrivate { private: true }) => Route::Private,
                    RawRoute::Private(RawPrivate { private: false }) => {
                        return Err(invalid(format!(
                            "route must be a string pattern or '{{ private = true }}': '{component}' has {{ private = false }}"
                        )))
                    }
                };
                routes.push((route, component));
            }
        }
        let router = Router::build(routes).map_err(invalid)?;

        Ok(App {
            name: raw.application.name,
            version: raw.application.version,
            base_dir: base_dir.to_owned(),
            variables,
            components,
            router,
        })
    }
}

/// Checks a component id as Spin does (kebab case): `-`-separated words of ASCII
/// letters and digits, each starting with a letter and all lower- or all upper-case.
fn validate_component_id(id: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("invalid component id `{id}`: {why}"));
    if id.is_empty() {
        return bad("must not be empty");
    }
    if id.contains('_') {
        return bad("words must be separated with '-', not '_'");
    }
    for word in id.split('-') {
        if word.is_empty() {
            return bad("'-'-separated words must not be empty");
        }
        if !word.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return bad("'-'-separated words must start with an ASCII letter");
        }
        if !word.chars().all(|c| c.is_ascii_alphanumeric()) {
            return bad("words may only contain alphanumeric ASCII");
        }
        let lower = word.chars().all(|c| !c.is_ascii_uppercase());
        let upper = word.chars().all(|c| !c.is_ascii_lowercase());
        if !(lower || upper) {
            return bad("each word must be all lowercase or all UPPERCASE");
        }
    }
    Ok(())
}

fn component_spec(
    id: &str,
    c: RawComponent,
    base_dir: &Path,
    app_vars: &BTreeMap<String, VariableDecl>,
) -> Result<ComponentSpec, ManifestError> {
    validate_component_id(id).map_err(invalid)?;
    let unsupported = [
        ("files", c.files.is_some()),
        ("exclude_files", c.exclude_files.is_some()),
        ("sqlite_databases", c.sqlite_databases.is_some()),
        ("ai_models", c.ai_models.is_some()),
        ("allowed_http_hosts", c.allowed_http_hosts.is_some()),
        ("dependencies", c.dependencies.is_some()),
        (
            "dependencies_inherit_configuration",
            c.dependencies_inherit_configuration.is_some(),
        ),
    ];
    if let Some((field, _)) = unsupported.iter().find(|(_, present)| *present) {
        return Err(invalid(format!(
            "component `{id}`: `{field}` is not supported by the tenantgate host"
        )));
    }
    let _ = (&c.description, &c.build, &c.tool);
    let source = match c.source {
        toml::Value::String(s) => {
            let p = Path::new(&s);
            if p.is_absolute() {
                p.to_owned()
            } else {
                base_dir.join(p)
            }
        }
        toml::Value::Table(_) => {
            return Err(invalid(format!(
                "component `{id}`: remote sources (`{{ url, digest }}`) are not supported; build the component locally and give its path"
            )))
        }
        other => {
            return Err(invalid(format!(
                "component `{id}`: `source` must be a path string, found {other}"
            )))
        }
    };
    let mut variables = BTreeMap::new();
    for (name, tmpl) in c.variables {
        validate_variable_name(&name)
            .map_err(|e| invalid(format!("component `{id}` variable `{name}`: {e}")))?;
        let t = Template::parse(&tmpl)
            .map_err(|e| invalid(format!("component `{id}` variable `{name}`: {e}")))?;
        for r in t.references() {
            if !app_vars.contains_key(r) {
                return Err(invalid(format!(
                    "component `{id}` variable `{name}` refers to `{{{{ {r} }}}}`, which is not an application variable"
                )));
            }
        }
        variables.insert(name, t);
    }
    for entry in &c.allowed_outbound_hosts {
        AllowedHosts::check_entry(entry, app_vars)
            .map_err(|e| invalid(format!("component `{id}` allowed_outbound_hosts: {e}")))?;
    }
    for label in &c.key_value_stores {
        if label.is_empty() {
            return Err(invalid(format!(
                "component `{id}`: empty key_value_stores label"
            )));
        }
    }
    Ok(ComponentSpec {
        id: id.to_owned(),
        source,
        variables,
        environment: c.environment,
        allowed_outbound_hosts: c.allowed_outbound_hosts,
        key_value_stores: c.key_value_stores,
    })
}

/// `[application.trigger.http] base`: Spin accepts only `/` (deprecated); any other base
/// must be written into each route.
fn check_base(trigger: Option<&toml::Table>) -> Result<(), ManifestError> {
    let Some(t) = trigger else { return Ok(()) };
    for (k, v) in t {
        if k != "http" {
            return Err(invalid(format!(
                "[application.trigger.{k}] is not supported"
            )));
        }
        match v.get("base").map(|b| b.as_str()) {
            None | Some(Some("/")) => {}
            Some(_) => {
                return Err(invalid(
                    "this application uses the deprecated trigger `base` field; prepend the base to each [[trigger.http]] route instead",
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "spin_manifest_version = 2\n[application]\nname = \"t\"\n";

    fn parse(body: &str) -> Result<App, String> {
        App::parse(&format!("{HEAD}{body}"), Path::new("/app")).map_err(|e| e.to_string())
    }

    #[test]
    fn a_minimal_app_parses_and_resolves_sources() {
        let app = parse(
            "[[trigger.http]]\nroute = \"/...\"\ncomponent = \"web-x1\"\n[component.web-x1]\nsource = \"a.wasm\"\n",
        )
        .unwrap();
        assert_eq!(app.components["web-x1"].source, Path::new("/app/a.wasm"));
        assert_eq!(app.router.route("/x").unwrap().component, "web-x1");
    }

    #[test]
    fn component_ids_follow_spins_kebab_case() {
        for ok in ["a", "web", "web-api", "WEB-api", "a1-b2"] {
            assert!(validate_component_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1a", "a-1", "a_b", "a--b", "Web", "a.b", "-a"] {
            assert!(validate_component_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refusals_name_what_is_wrong() {
        let cases = [
            ("", "trigger"),
            (
                "[[trigger.http]]\nroute = { private = false }\ncomponent = \"a\"\n[component.a]\nsource = \"a.wasm\"\n",
                "private = true",
            ),
            (
                "[[trigger.http]]\nroute = \"/\"\ncomponent = \"a\"\n[component.a]\nsource = \"a.wasm\"\nfiles = [\"x\"]\n",
                "`files` is not supported",
            ),
            (
                "[[trigger.redis]]\nchannel = \"x\"\ncomponent = \"a\"\n[component.a]\nsource = \"a.wasm\"\n",
                "redis",
            ),
            (
                "[variables]\nx = { required = true, default = \"1\" }\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"a\"\n[component.a]\nsource = \"a.wasm\"\n",
                "`x`",
            ),
            (
                "[[trigger.http]]\nroute = \"/\"\ncomponent = \"a\"\n[component.a]\nsource = \"a.wasm\"\n[component.a.variables]\nk = \"{{ undeclared }}\"\n",
                "undeclared",
            ),
        ];
        for (body, expect) in cases {
            let err = parse(body)
                .err()
                .unwrap_or_else(|| panic!("accepted: {body}"));
            assert!(err.contains(expect), "expected {expect:?} in {err}");
        }
        let err = App::parse(
            "spin_manifest_version = 2\n[application]\nname = \"t\"\n[application.trigger.http]\nbase = \"/api\"\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"a\"\n[component.a]\nsource = \"a.wasm\"\n",
            Path::new("/"),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("base"), "{err}");
    }
}
