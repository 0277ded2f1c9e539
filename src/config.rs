//! Typed configuration. Layers, each overriding the one before: built-in defaults, then
//! `<data>/postdesk.toml`, then `POSTDESK_*` environment variables. Every key is listed in
//! [`KEYS`] with its documentation; `docs/postdesk.example.toml` is generated from it and
//! a test fails when that file is stale.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The name of the config file inside the data directory.
pub const CONFIG_FILE: &str = "postdesk.toml";

/// All settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address and port the web server listens on.
    pub listen: String,
    /// The public URL agents open; empty means guessed from `listen`.
    pub app_url: String,
    /// Set by the installer once setup is complete; until then `serve` runs the installer.
    pub installed: bool,
    /// Database settings.
    pub database: DatabaseConfig,
    /// Incoming mail settings.
    pub inbound: InboundConfig,
    /// Outgoing mail settings.
    pub outbox: OutboxConfig,
    /// Where the data lives; set from `--data`, never read from the file.
    #[serde(skip)]
    pub data_dir: PathBuf,
}

/// `[database]` settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://FILE` (relative to the data directory), `postgres://…` or `mysql://…`.
    pub url: String,
    /// Most connections the pool opens.
    pub pool_size: u32,
}

/// `[inbound]` settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct InboundConfig {
    /// A customer reply to a conversation closed longer ago than this starts a new one.
    pub reopen_within_days: i64,
    /// Run the background fetch in `serve`.
    pub fetch_in_background: bool,
}

impl Default for InboundConfig {
    fn default() -> Self {
        InboundConfig {
            reopen_within_days: 60,
            fetch_in_background: true,
        }
    }
}

/// `[outbox]` settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxConfig {
    /// Seconds a reply waits before sending, during which "Undo" takes it back.
    pub undo_seconds: u32,
    /// Sending threads in `serve` (0: this process sends nothing).
    pub workers: u32,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            undo_seconds: 10,
            workers: 2,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            app_url: String::new(),
            installed: false,
            database: DatabaseConfig::default(),
            inbound: InboundConfig::default(),
            outbox: OutboxConfig::default(),
            data_dir: PathBuf::from("data"),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite://postdesk.db".into(),
            pool_size: 10,
        }
    }
}

/// Every config key (dotted path into the file) with its documentation. The environment
/// variable is `POSTDESK_` plus the key in capitals with dots as underscores.
pub const KEYS: &[(&str, &str)] = &[
    (
        "listen",
        "Address and port the web server listens on. Use 0.0.0.0:8080 to accept\n\
         connections from other machines (put HTTPS in front of it).",
    ),
    (
        "app_url",
        "The public address agents open, used in links inside emails, e.g.\n\
         https://help.example.com. Empty: http://<listen>/.",
    ),
    (
        "installed",
        "Written as true by the installer (web or `postdesk install`) when setup is\n\
         complete. While false, `serve` runs the web installer instead of the app.",
    ),
    (
        "database.url",
        "sqlite://FILE (relative paths are inside the data directory),\n\
         postgres://USER:PASSWORD@HOST:5432/DB or mysql://USER:PASSWORD@HOST:3306/DB.",
    ),
    (
        "database.pool_size",
        "Most database connections kept open (SQLite uses at most 8).",
    ),
    (
        "inbound.reopen_within_days",
        "A customer reply reopens a closed conversation if it was closed less than this\n\
         many days ago; otherwise it starts a new conversation linked to the old one.",
    ),
    (
        "inbound.fetch_in_background",
        "Fetch mail in the background while `serve` runs. Set to false when a cron job\n\
         runs `postdesk fetch --once` instead.",
    ),
    (
        "outbox.undo_seconds",
        "Seconds an agent's reply waits before it is sent; \"Undo\" during that time\n\
         turns it back into a draft. 0 sends at once.",
    ),
    (
        "outbox.workers",
        "Threads sending mail in `serve`. 0: this process sends nothing (another does).",
    ),
];

/// A configuration problem, naming the file or variable, the key and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but could not be read.
    #[error("cannot read {path}: {cause}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        cause: String,
    },
    /// The file is not valid TOML.
    #[error("{path} is not valid TOML: {cause}")]
    Syntax {
        /// The file.
        path: String,
        /// The parser's message with line and column.
        cause: String,
    },
    /// A key has the wrong type or an invalid value, or is unknown.
    #[error("{source_name}: key `{key}`: {problem}")]
    Key {
        /// The file path or environment variable.
        source_name: String,
        /// The dotted key.
        key: String,
        /// What was expected.
        problem: String,
    },
}

/// The environment variable for a dotted key.
pub fn env_var_for(key: &str) -> String {
    format!("POSTDESK_{}", key.to_ascii_uppercase().replace('.', "_"))
}

impl Config {
    /// Loads the config for `data_dir` from the file (if any) and the process environment.
    pub fn load(data_dir: &Path) -> Result<Config, ConfigError> {
        Self::load_with_env(data_dir, |name| std::env::var(name).ok())
    }

    /// As [`Config::load`], with the environment supplied by `env` (for tests).
    pub fn load_with_env(
        data_dir: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let defaults = toml::Value::try_from(Config::default()).map_err(|e| ConfigError::Key {
            source_name: "built-in defaults".into(),
            key: String::new(),
            problem: e.to_string(),
        })?;
        let mut merged = defaults.clone();
        let path = data_dir.join(CONFIG_FILE);
        let path_name = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let table: toml::Table =
                    text.parse()
                        .map_err(|e: toml::de::Error| ConfigError::Syntax {
                            path: path_name.clone(),
                            cause: e.to_string().trim().to_string(),
                        })?;
                merge_file(
                    &mut merged,
                    &defaults,
                    &toml::Value::Table(table),
                    "",
                    &path_name,
                )?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(ConfigError::Read {
                    path: path_name,
                    cause: e.to_string(),
                });
            }
        }
        for (key, _) in KEYS {
            let var = env_var_for(key);
            if let Some(raw) = env(&var) {
                let expected = lookup(&defaults, key).ok_or_else(|| ConfigError::Key {
                    source_name: var.clone(),
                    key: key.to_string(),
                    problem: "not a known key".into(),
                })?;
                let value = value_from_env(expected, &raw).map_err(|problem| ConfigError::Key {
                    source_name: var.clone(),
                    key: key.to_string(),
                    problem,
                })?;
                set(&mut merged, key, value);
            }
        }
        let mut config: Config =
            merged
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Key {
                    source_name: path_name.clone(),
                    key: String::new(),
                    problem: e.to_string().trim().to_string(),
                })?;
        config.data_dir = data_dir.to_path_buf();
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, problem: String| ConfigError::Key {
            source_name: "configuration".into(),
            key: key.into(),
            problem,
        };
        if self
            .listen
            .rsplit_once(':')
            .is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
        {
            return Err(bad(
                "listen",
                format!(
                    "expected HOST:PORT such as 127.0.0.1:8080, found {:?}",
                    self.listen
                ),
            ));
        }
        let app_url_ok = self.app_url.is_empty()
            || self.app_url.starts_with("http://")
            || self.app_url.starts_with("https://");
        if !app_url_ok {
            return Err(bad(
                "app_url",
                format!(
                    "expected an http:// or https:// address, found {:?}",
                    self.app_url
                ),
            ));
        }
        let url = self.database.url.to_ascii_lowercase();
        let known = [
            "sqlite:",
            "postgres://",
            "postgresql://",
            "mysql://",
            "mariadb://",
        ];
        if !known.iter().any(|s| url.starts_with(s)) {
            return Err(bad(
                "database.url",
                format!(
                    "expected sqlite://FILE, postgres://… or mysql://…, found {:?}",
                    crate::db::redact_url(&self.database.url)
                ),
            ));
        }
        if self.inbound.reopen_within_days < 0 {
            return Err(bad(
                "inbound.reopen_within_days",
                "expected 0 or more days".into(),
            ));
        }
        if self.database.pool_size == 0 {
            return Err(bad("database.pool_size", "expected at least 1".into()));
        }
        Ok(())
    }

    /// The database URL with a relative SQLite path resolved inside the data directory.
    pub fn database_url(&self) -> String {
        let url = &self.database.url;
        if crate::db::Backend::from_url(url) != crate::db::Backend::Sqlite {
            return url.clone();
        }
        let path = Path::new(crate::db::sqlite_path(url));
        if path.is_absolute() {
            format!("sqlite://{}", path.display())
        } else {
            format!("sqlite://{}", self.data_dir.join(path).display())
        }
    }

    /// The address agents open: `app_url`, or one made from `listen`.
    pub fn public_url(&self) -> String {
        if !self.app_url.is_empty() {
            return self.app_url.trim_end_matches('/').to_string();
        }
        let listen = self
            .listen
            .replace("0.0.0.0", "127.0.0.1")
            .replace("[::]", "[::1]");
        format!("http://{listen}")
    }

    /// A complete, commented config file with every key at its default value.
    pub fn example_toml() -> String {
        let defaults = toml::Value::try_from(Config::default())
            .unwrap_or(toml::Value::Table(toml::Table::new()));
        let mut out = String::from(
            "# Postdesk configuration: <data>/postdesk.toml\n\
             # Every key is optional; shown here at its default. Each key can also be set by\n\
             # an environment variable: POSTDESK_ plus the key in capitals, dots as underscores\n\
             # (database.url -> POSTDESK_DATABASE_URL). The environment wins over this file.\n\
             # Generated from src/config.rs (KEYS); a test fails when this file is stale.\n",
        );
        let mut section = "";
        for (key, doc) in KEYS {
            let (sect, name) = key.rsplit_once('.').unwrap_or(("", key));
            if sect != section {
                out.push_str(&format!("\n[{sect}]\n"));
                section = sect;
            } else {
                out.push('\n');
            }
            for line in doc.lines() {
                out.push_str(&format!("# {}\n", line.trim()));
            }
            out.push_str(&format!("# env: {}\n", env_var_for(key)));
            let value = lookup(&defaults, key)
                .map(|v| v.to_string())
                .unwrap_or_default();
            out.push_str(&format!("{name} = {value}\n"));
        }
        out
    }
}

fn lookup<'a>(value: &'a toml::Value, key: &str) -> Option<&'a toml::Value> {
    key.split('.').try_fold(value, |v, part| v.get(part))
}

fn set(value: &mut toml::Value, key: &str, new: toml::Value) {
    let mut parts: Vec<&str> = key.split('.').collect();
    let Some(last) = parts.pop() else { return };
    let mut cur = value;
    for part in parts {
        let Some(next) = cur.get_mut(part) else {
            return;
        };
        cur = next;
    }
    if let Some(table) = cur.as_table_mut() {
        table.insert(last.to_string(), new);
    }
}

fn type_name(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a number",
        toml::Value::Boolean(_) => "true or false",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "a list",
        toml::Value::Table(_) => "a section",
    }
}

/// Copies the file's values over the defaults, checking each key is known and typed right.
fn merge_file(
    merged: &mut toml::Value,
    defaults: &toml::Value,
    file: &toml::Value,
    prefix: &str,
    path: &str,
) -> Result<(), ConfigError> {
    let Some(table) = file.as_table() else {
        return Ok(());
    };
    for (name, value) in table {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        let Some(expected) = lookup(defaults, &key) else {
            let known: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
            return Err(ConfigError::Key {
                source_name: path.into(),
                key,
                problem: format!("unknown key (known keys: {})", known.join(", ")),
            });
        };
        if std::mem::discriminant(expected) != std::mem::discriminant(value) {
            return Err(ConfigError::Key {
                source_name: path.into(),
                key,
                problem: format!(
                    "expected {}, found {}",
                    type_name(expected),
                    type_name(value)
                ),
            });
        }
        if value.is_table() {
            merge_file(merged, defaults, value, &key, path)?;
        } else {
            set(merged, &key, value.clone());
        }
    }
    Ok(())
}

fn value_from_env(expected: &toml::Value, raw: &str) -> Result<toml::Value, String> {
    match expected {
        toml::Value::Integer(_) => raw
            .trim()
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| format!("expected an integer, found {raw:?}")),
        toml::Value::Boolean(_) => match raw.trim() {
            "true" | "1" | "yes" => Ok(toml::Value::Boolean(true)),
            "false" | "0" | "no" => Ok(toml::Value::Boolean(false)),
            _ => Err(format!("expected true or false, found {raw:?}")),
        },
        _ => Ok(toml::Value::String(raw.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: Option<&str>, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().expect("temp dir");
        if let Some(text) = text {
            std::fs::write(dir.path().join(CONFIG_FILE), text).expect("write config");
        }
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load_with_env(dir.path(), move |name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn missing_file_gives_defaults() {
        let c = load(None, &[]).expect("defaults load");
        assert_eq!(c.listen, "127.0.0.1:8080");
        assert_eq!(c.database.url, "sqlite://postdesk.db");
        assert!(c.database_url().ends_with("postdesk.db"));
        assert_eq!(c.public_url(), "http://127.0.0.1:8080");
    }

    #[test]
    fn file_then_env_override_defaults() {
        let c = load(
            Some("listen = \"0.0.0.0:9000\"\n[database]\npool_size = 3\n"),
            &[
                ("POSTDESK_DATABASE_URL", "postgres://u:p@h/db"),
                ("POSTDESK_DATABASE_POOL_SIZE", "4"),
            ],
        )
        .expect("load");
        assert_eq!(c.listen, "0.0.0.0:9000");
        assert_eq!(c.database.url, "postgres://u:p@h/db");
        assert_eq!(c.database.pool_size, 4);
        assert_eq!(c.public_url(), "http://127.0.0.1:9000");
    }

    #[test]
    fn malformed_file_names_file_and_line() {
        let err = load(Some("listen = \"x\n"), &[])
            .expect_err("bad toml")
            .to_string();
        assert!(err.contains(CONFIG_FILE) && err.contains("line 1"), "{err}");
    }

    #[test]
    fn wrong_type_names_key_and_expectation() {
        let err = load(Some("[database]\npool_size = \"ten\"\n"), &[])
            .expect_err("type")
            .to_string();
        assert!(err.contains("`database.pool_size`"), "{err}");
        assert!(err.contains("expected an integer, found a string"), "{err}");
    }

    #[test]
    fn unknown_key_is_reported() {
        let err = load(Some("lisen = \"a:1\"\n"), &[])
            .expect_err("unknown")
            .to_string();
        assert!(
            err.contains("`lisen`") && err.contains("unknown key"),
            "{err}"
        );
    }

    #[test]
    fn bad_env_names_variable() {
        let err = load(None, &[("POSTDESK_DATABASE_POOL_SIZE", "many")])
            .expect_err("env")
            .to_string();
        assert!(
            err.contains("POSTDESK_DATABASE_POOL_SIZE") && err.contains("integer"),
            "{err}"
        );
    }

    #[test]
    fn invalid_values_are_rejected() {
        let err = load(Some("listen = \"8080\"\n"), &[])
            .expect_err("listen")
            .to_string();
        assert!(
            err.contains("`listen`") && err.contains("HOST:PORT"),
            "{err}"
        );
        let err = load(None, &[("POSTDESK_DATABASE_URL", "oracle://x")])
            .expect_err("url")
            .to_string();
        assert!(err.contains("`database.url`"), "{err}");
        let err = load(Some("[database]\npool_size = -1\n"), &[])
            .expect_err("neg")
            .to_string();
        assert!(err.contains("-1"), "{err}");
    }

    #[test]
    fn every_key_is_documented_and_every_doc_is_a_key() {
        fn leaves(v: &toml::Value, prefix: &str, out: &mut Vec<String>) {
            if let Some(t) = v.as_table() {
                for (k, v) in t {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    leaves(v, &key, out);
                }
            } else {
                out.push(prefix.to_string());
            }
        }
        let mut found = Vec::new();
        leaves(
            &toml::Value::try_from(Config::default()).expect("serialize"),
            "",
            &mut found,
        );
        let mut documented: Vec<String> = KEYS.iter().map(|(k, _)| k.to_string()).collect();
        found.sort();
        documented.sort();
        assert_eq!(found, documented);
    }

    #[test]
    fn example_config_is_current_and_loads() {
        let generated = Config::example_toml();
        let committed = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/postdesk.example.toml"),
        )
        .unwrap_or_default();
        assert!(
            generated == committed,
            "docs/postdesk.example.toml is stale; regenerate it with `postdesk config-example > docs/postdesk.example.toml`"
        );
        let c = load(Some(&generated), &[]).expect("example loads");
        assert_eq!(
            c,
            Config {
                data_dir: c.data_dir.clone(),
                ..Config::default()
            }
        );
    }
}
