//! `module.toml`: what a module is, what it was built for, which hooks, slots and routes
//! it handles, and which settings it declares. The host reads it before loading the
//! library, so a module that does not fit is refused without running any of its code.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The parsed `module.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The module's name: lowercase letters, digits and `-`; also its folder name and the
    /// `<module>` in `/m/<module>/…`.
    pub name: String,
    /// The module's own version.
    pub version: String,
    /// One line for the admin.
    #[serde(default)]
    pub description: String,
    /// Who wrote it.
    #[serde(default)]
    pub author: String,
    /// The ABI version it was built for (see [`crate::ABI_VERSION`]).
    pub abi_version: u32,
    /// The oldest Postdesk version it works with (`major.minor.patch`).
    pub min_postdesk_version: String,
    /// The library file in the module's folder; defaults to the platform's name for a
    /// crate called `postdesk-<name>` (`libpostdesk_<name>.so` on Linux).
    #[serde(default)]
    pub library: Option<String>,
    /// The action and filter hooks it handles (`conversation_after_created`, …).
    #[serde(default)]
    pub hooks: Vec<String>,
    /// The page slots it fills (`conversation_sidebar`, …).
    #[serde(default)]
    pub slots: Vec<String>,
    /// Its routes under `/m/<name>/`.
    #[serde(default)]
    pub routes: Vec<RouteSpec>,
    /// Its settings, by name.
    #[serde(default)]
    pub settings: BTreeMap<String, SettingSpec>,
}

/// One route a module serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    /// The path below `/m/<name>/`; a trailing `*` matches any rest (`rate/*`).
    pub path: String,
    /// Reachable without logging in (for customers, e.g. a rating link). Off by default.
    #[serde(default)]
    pub public: bool,
}

/// The type of a setting; the host renders the settings form from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingType {
    /// One line of text.
    String,
    /// Several lines of text.
    Text,
    /// A whole number.
    Integer,
    /// On or off.
    Bool,
    /// One line of text the admin page never shows again (a password, a token); an
    /// empty field in the form keeps the stored value.
    Secret,
}

/// One declared setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingSpec {
    /// Its type.
    #[serde(rename = "type")]
    pub kind: SettingType,
    /// The label in the settings form.
    #[serde(default)]
    pub label: String,
    /// A line of help below the field.
    #[serde(default)]
    pub help: String,
    /// The value until the admin sets one (must fit the type).
    pub default: toml::Value,
}

/// Why a manifest was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError(pub String);

impl std::fmt::Display for ManifestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ManifestError {}

impl Manifest {
    /// Parses and checks a `module.toml`.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let m: Manifest = toml::from_str(text).map_err(|e| ManifestError(e.to_string()))?;
        let name_ok = !m.name.is_empty()
            && m.name.len() <= 64
            && m.name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !name_ok {
            return Err(ManifestError(format!(
                "name {:?} must be 1-64 lowercase letters, digits or '-'",
                m.name
            )));
        }
        if parse_version(&m.min_postdesk_version).is_none() {
            return Err(ManifestError(format!(
                "min_postdesk_version {:?} is not major.minor.patch",
                m.min_postdesk_version
            )));
        }
        for (name, spec) in &m.settings {
            if spec.json_default().is_none() {
                return Err(ManifestError(format!(
                    "setting {name}: the default does not fit type {:?}",
                    spec.kind
                )));
            }
        }
        Ok(m)
    }

    /// The library file name in the module's folder.
    pub fn library_file(&self) -> String {
        self.library.clone().unwrap_or_else(|| {
            format!(
                "{}postdesk_{}{}",
                std::env::consts::DLL_PREFIX,
                self.name.replace('-', "_"),
                std::env::consts::DLL_SUFFIX
            )
        })
    }

    /// Whether this module can run on ABI `abi` and Postdesk `postdesk_version`; the
    /// error says what does not fit, for the admin.
    pub fn check_fits(&self, abi: u32, postdesk_version: &str) -> Result<(), ManifestError> {
        if self.abi_version != abi {
            return Err(ManifestError(format!(
                "built for module ABI {}, but this Postdesk speaks ABI {abi}; \
                 rebuild the module against postdesk-module-api {abi}",
                self.abi_version
            )));
        }
        match (
            parse_version(&self.min_postdesk_version),
            parse_version(postdesk_version),
        ) {
            (Some(need), Some(have)) if need > have => Err(ManifestError(format!(
                "needs Postdesk {} or newer; this is {postdesk_version}",
                self.min_postdesk_version
            ))),
            _ => Ok(()),
        }
    }

    /// The route spec that serves `path`, if any.
    pub fn route_for(&self, path: &str) -> Option<&RouteSpec> {
        self.routes.iter().find(|r| match r.path.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => r.path == path,
        })
    }

    /// The settings with their defaults, as JSON.
    pub fn default_settings(&self) -> serde_json::Map<String, Value> {
        self.settings
            .iter()
            .filter_map(|(k, s)| s.json_default().map(|v| (k.clone(), v)))
            .collect()
    }
}

impl SettingSpec {
    /// The default as JSON, or `None` if it does not fit the type.
    pub fn json_default(&self) -> Option<Value> {
        self.coerce(&match &self.default {
            toml::Value::String(s) => Value::String(s.clone()),
            toml::Value::Integer(i) => Value::from(*i),
            toml::Value::Boolean(b) => Value::Bool(*b),
            _ => return None,
        })
    }

    /// `value` converted to this setting's type (form fields arrive as text), or `None`.
    pub fn coerce(&self, value: &Value) -> Option<Value> {
        match (self.kind, value) {
            (SettingType::String | SettingType::Text | SettingType::Secret, Value::String(_)) => {
                Some(value.clone())
            }
            (SettingType::Integer, Value::Number(n)) if n.is_i64() => Some(value.clone()),
            (SettingType::Integer, Value::String(s)) => {
                s.trim().parse::<i64>().ok().map(Value::from)
            }
            (SettingType::Bool, Value::Bool(_)) => Some(value.clone()),
            (SettingType::Bool, Value::String(s)) => match s.as_str() {
                "true" | "on" | "1" => Some(Value::Bool(true)),
                "false" | "off" | "0" | "" => Some(Value::Bool(false)),
                _ => None,
            },
            _ => None,
        }
    }
}

/// `major.minor.patch` as numbers (a pre-release suffix after `-` is ignored).
pub fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let core = v.trim().split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let out = (parts.next()??, parts.next()??, parts.next()??);
    if parts.next().is_some() {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "satisfaction-ratings"
version = "0.1.0"
description = "Asks customers how we did"
author = "Postdesk"
abi_version = 1
min_postdesk_version = "0.1.0"
hooks = ["reply_before_enqueue"]
slots = ["conversation_sidebar"]
routes = [{ path = "rate", public = true }, { path = "report" }]

[settings.question]
type = "string"
label = "Question"
default = "How did we do?"

[settings.enabled]
type = "bool"
default = true
"#;

    #[test]
    fn reads_a_manifest_and_checks_what_fits() {
        let m = Manifest::parse(GOOD).expect("parse");
        assert_eq!(m.library_file(), "libpostdesk_satisfaction_ratings.so");
        assert!(m.route_for("rate").is_some_and(|r| r.public));
        assert!(m.route_for("report").is_some_and(|r| !r.public));
        assert!(m.route_for("other").is_none());
        assert_eq!(m.default_settings()["question"], "How did we do?");
        assert!(m.check_fits(1, "0.1.0").is_ok());
        let abi = m.check_fits(2, "0.1.0").expect_err("abi");
        assert!(abi.0.contains("built for module ABI 1"), "{abi}");
        let mut newer = m.clone();
        newer.min_postdesk_version = "0.3.0".into();
        let old = newer.check_fits(1, "0.2.9").expect_err("version");
        assert!(old.0.contains("needs Postdesk 0.3.0 or newer"), "{old}");
    }

    #[test]
    fn refuses_bad_manifests_with_a_reason() {
        let bad_name = GOOD.replace("satisfaction-ratings", "Bad Name");
        assert!(Manifest::parse(&bad_name).is_err());
        let bad_default = GOOD.replace("default = true", "default = \"yes\"");
        let e = Manifest::parse(&bad_default).expect_err("default");
        assert!(e.0.contains("setting enabled"), "{e}");
        assert!(Manifest::parse("name = \"x\"").is_err());
        assert_eq!(parse_version("1.2.3-beta"), Some((1, 2, 3)));
        assert_eq!(parse_version("1.2"), None);
    }
}
