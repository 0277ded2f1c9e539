//! System-wide settings kept in the `options` table: the SMTP server Postdesk uses for its
//! own mail (password resets, invitations).

use diesel::prelude::*;

use crate::db::schema::options;
use crate::db::{AnyConnection, dialect};

/// How to talk to the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Plain SMTP (only for a relay on the same machine or network).
    None,
    /// STARTTLS, required.
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

impl SmtpSecurity {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SmtpSecurity::None => "none",
            SmtpSecurity::Starttls => "starttls",
            SmtpSecurity::Tls => "tls",
        }
    }

    /// Parses the stored spelling; unknown text is STARTTLS.
    pub fn parse(s: &str) -> SmtpSecurity {
        match s {
            "none" => SmtpSecurity::None,
            "tls" => SmtpSecurity::Tls,
            _ => SmtpSecurity::Starttls,
        }
    }
}

/// The system SMTP settings.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SmtpSettings {
    /// Server host; empty means not configured.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Transport security.
    pub security: SmtpSecurity,
    /// Login user (empty: no login).
    pub username: String,
    /// Login password.
    pub password: String,
    /// Sender address of system mail.
    pub from_email: String,
    /// Sender name of system mail.
    pub from_name: String,
}

impl SmtpSettings {
    /// True when mail can be sent.
    pub fn is_configured(&self) -> bool {
        !self.host.is_empty() && !self.from_email.is_empty() && self.port > 0
    }
}

const PREFIX: &str = "system_smtp.";

/// Reads the settings (defaults where unset).
pub fn load_smtp(conn: &mut AnyConnection) -> QueryResult<SmtpSettings> {
    let rows: Vec<(String, String)> = options::table
        .filter(options::name.like(format!("{PREFIX}%")))
        .select((options::name, options::value))
        .load(conn)?;
    let mut s = SmtpSettings {
        port: 587,
        ..SmtpSettings::default()
    };
    for (name, value) in rows {
        match name.trim_start_matches(PREFIX) {
            "host" => s.host = value,
            "port" => s.port = value.parse().unwrap_or(587),
            "security" => s.security = SmtpSecurity::parse(&value),
            "username" => s.username = value,
            "password" => s.password = value,
            "from_email" => s.from_email = value,
            "from_name" => s.from_name = value,
            _ => {}
        }
    }
    Ok(s)
}

/// Saves the settings in one transaction.
pub fn save_smtp(
    conn: &mut AnyConnection,
    s: &SmtpSettings,
    now: chrono::NaiveDateTime,
) -> QueryResult<()> {
    let port = s.port.to_string();
    let pairs = [
        ("host", s.host.as_str()),
        ("port", port.as_str()),
        ("security", s.security.as_str()),
        ("username", s.username.as_str()),
        ("password", s.password.as_str()),
        ("from_email", s.from_email.as_str()),
        ("from_name", s.from_name.as_str()),
    ];
    crate::db::dialect::write_transaction(&mut *conn, |c| {
        for (key, value) in pairs {
            dialect::upsert_option(c, &format!("{PREFIX}{key}"), value, now)?;
        }
        Ok(())
    })
}

/// Settings → General: how the helpdesk presents itself and what new accounts start with.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct General {
    /// Shown in the top bar and page titles (empty: "Postdesk").
    pub company_name: String,
    /// Language of new accounts, and of pages for visitors whose browser asks for none
    /// we have.
    pub default_language: String,
    /// Time zone of new accounts.
    pub timezone: String,
}

impl Default for General {
    fn default() -> Self {
        General {
            company_name: String::new(),
            default_language: crate::i18n::DEFAULT_LANGUAGE.to_string(),
            timezone: "UTC".to_string(),
        }
    }
}

const GENERAL_PREFIX: &str = "general.";

/// Reads the general settings (defaults where unset).
pub fn load_general(conn: &mut AnyConnection) -> QueryResult<General> {
    let rows: Vec<(String, String)> = options::table
        .filter(options::name.like(format!("{GENERAL_PREFIX}%")))
        .select((options::name, options::value))
        .load(conn)?;
    let mut g = General::default();
    for (name, value) in rows {
        match name.trim_start_matches(GENERAL_PREFIX) {
            "company_name" => g.company_name = value,
            "default_language" => g.default_language = crate::i18n::supported(&value).into(),
            "timezone" => g.timezone = value,
            _ => {}
        }
    }
    Ok(g)
}

/// Saves the general settings in one transaction and makes them this process's cached
/// copy ([`general`]).
pub fn save_general(
    conn: &mut AnyConnection,
    g: &General,
    now: chrono::NaiveDateTime,
) -> QueryResult<()> {
    let pairs = [
        ("company_name", g.company_name.as_str()),
        ("default_language", g.default_language.as_str()),
        ("timezone", g.timezone.as_str()),
    ];
    crate::db::dialect::write_transaction(&mut *conn, |c| {
        for (key, value) in pairs {
            dialect::upsert_option(c, &format!("{GENERAL_PREFIX}{key}"), value, now)?;
        }
        QueryResult::Ok(())
    })?;
    remember_general(g.clone());
    Ok(())
}

fn general_cache() -> &'static std::sync::RwLock<General> {
    static CACHE: std::sync::OnceLock<std::sync::RwLock<General>> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| std::sync::RwLock::new(General::default()))
}

/// The general settings as this process last loaded or saved them. Pages read this copy so
/// rendering needs no query; another process's change shows after its restart.
pub fn general() -> General {
    general_cache()
        .read()
        .map(|g| g.clone())
        .unwrap_or_default()
}

/// Replaces the cached copy (at start, and after a save).
pub fn remember_general(g: General) {
    if let Ok(mut slot) = general_cache().write() {
        *slot = g;
    }
}
