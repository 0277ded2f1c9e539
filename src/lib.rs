//! Postdesk: a self-hosted shared-inbox email helpdesk. `main.rs` only parses the command
//! line; everything else lives in this library so tests drive the same code.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod accounts_cli;
pub mod api;
pub mod assets;
pub mod auth;
pub mod cli;
pub mod config;
pub mod conversations;
pub mod crypto;
pub mod db;
pub mod error;
pub mod fault;
pub mod hooks;
pub mod i18n;
pub mod installer;
pub mod jobs;
pub mod lease;
pub mod mail;
pub mod models;
pub mod permissions;
pub mod sanitize;
pub mod search;
pub mod seed;
pub mod storage;
pub mod system_mail;
pub mod web;

use std::sync::Arc;

pub use config::Config;

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The loaded configuration.
    pub config: Arc<Config>,
    /// The database pool.
    pub pool: db::DbPool,
    /// Page templates (embedded, overridable from `<data>/templates`).
    pub templates: Arc<tera::Tera>,
    /// Which catalog messages each template needs.
    pub catalog_use: Arc<assets::CatalogUse>,
    /// The modules found in `<data>/modules` and their hooks.
    pub hooks: Arc<hooks::Registry>,
}

impl AppState {
    /// Connects to the database, runs pending migrations and loads templates.
    pub fn start(config: Config) -> Result<AppState, StartError> {
        let pool = open_database(&config)?;
        {
            let mut conn = pool.get().map_err(db::DbError::Pool)?;
            let general =
                models::system_settings::load_general(&mut conn).map_err(db::DbError::Query)?;
            models::system_settings::remember_general(general);
        }
        let sources = assets::template_sources(&config.data_dir.join("templates"))?;
        let catalog_use = assets::CatalogUse::of(&sources);
        let templates = assets::build_templates(sources)?;
        let hooks = hooks::Registry::load(
            pool.clone(),
            &config.data_dir,
            &config.public_url(),
            hooks::HookOptions::default(),
        )?;
        Ok(AppState {
            config: Arc::new(config),
            pool,
            templates: Arc::new(templates),
            catalog_use: Arc::new(catalog_use),
            hooks: Arc::new(hooks),
        })
    }
}

/// Connects to the configured database and applies pending migrations.
pub fn open_database(config: &Config) -> Result<db::DbPool, StartError> {
    let pool = db::connect_pool(&config.database_url(), config.database.pool_size)?;
    let mut conn = pool.get().map_err(db::DbError::Pool)?;
    let applied = db::run_migrations(&mut conn)?;
    if applied > 0 {
        tracing::info!(migrations.applied = applied, "database migrated");
    }
    Ok(pool)
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The database could not be reached or migrated.
    #[error(transparent)]
    Database(#[from] db::DbError),
    /// A template (built-in or override) failed to parse.
    #[error("template error: {0}")]
    Template(#[from] assets::TemplateError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {cause} (is another program using it? set POSTDESK_LISTEN)")]
    Bind {
        /// The address.
        addr: String,
        /// The OS error.
        cause: std::io::Error,
    },
    /// The installer could not start or failed.
    #[error("install failed: {0}")]
    Installer(String),
    /// A command-line account command failed.
    #[error("{0}")]
    Command(String),
    /// The web server stopped with an error.
    #[error("web server failed: {0}")]
    Server(#[from] std::io::Error),
}
