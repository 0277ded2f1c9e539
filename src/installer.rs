//! The first-run installer: requirement checks, database choice and test, migrations,
//! the first admin and the config file. The web installer (served until the instance is
//! installed, templates from `installer/`) and `postdesk install` share [`install`].
//!
//! Safety: the web installer answers only to the holder of a random token printed on the
//! console. Nothing is half-done after a failure: migrations are idempotent, the admin is
//! created or updated by email, and the config file (the "installed" mark) is written last,
//! atomically, with mode 0600.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use rust_embed::RustEmbed;
use serde::Deserialize;

use crate::auth::{password, token};
use crate::config::{CONFIG_FILE, Config};
use crate::db::types::{UserRole, UserStatus};
use crate::db::{self, AnyConnection, Backend, DbError, dialect};
use crate::error::AppError;
use crate::i18n;
use crate::models::activity::{self, Activity};
use crate::models::user;
use crate::web::profile::{TIMEZONES, known_timezone, looks_like_email};
use crate::{AppState, StartError};

/// The installer's own templates (`installer/`).
#[derive(RustEmbed)]
#[folder = "installer/"]
struct InstallerFiles;

/// Least free space in the data directory we are happy with.
const MIN_FREE_BYTES: u64 = 200 * 1024 * 1024;

/// Everything needed to install.
#[derive(Debug, Clone)]
pub struct InstallRequest {
    /// Database URL (`sqlite://…` relative to the data directory, `postgres://…`, `mysql://…`).
    pub database_url: String,
    /// The public address agents open.
    pub app_url: String,
    /// First admin's email.
    pub admin_email: String,
    /// First admin's password.
    pub admin_password: String,
    /// First admin's name.
    pub admin_name: String,
    /// `en` or `ru`.
    pub language: String,
    /// IANA time zone.
    pub timezone: String,
}

/// Why installing failed; each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// A value is missing or wrong.
    #[error("{0}")]
    Invalid(String),
    /// The database could not be reached, is too old, or a migration failed.
    #[error(transparent)]
    Database(#[from] DbError),
    /// The config file could not be written.
    #[error("cannot write the config file {path}: {cause}")]
    ConfigWrite {
        /// The file.
        path: String,
        /// The OS error.
        cause: String,
    },
    /// The instance is installed already.
    #[error("Postdesk is already installed in {0} (installed = true in its config file)")]
    AlreadyInstalled(String),
}

impl From<diesel::result::Error> for InstallError {
    fn from(e: diesel::result::Error) -> Self {
        InstallError::Database(DbError::Query(e))
    }
}

/// The URL the app will use for `url`: relative SQLite paths resolved in the data directory.
fn resolved_url(base: &Config, url: &str) -> String {
    let mut c = base.clone();
    c.database.url = url.to_string();
    c.database_url()
}

/// Connects to `url`, reads the server version and refuses servers that are too old.
/// Returns the version text.
pub fn test_database(base: &Config, url: &str) -> Result<String, DbError> {
    let resolved = resolved_url(base, url);
    let mut conn = db::establish(&resolved)?;
    let version = dialect::server_version(&mut conn)?;
    if let Some(problem) = too_old(dialect::backend(&conn), &version) {
        return Err(DbError::Connect {
            backend: dialect::backend(&conn).name(),
            url: db::redact_url(&resolved),
            cause: problem,
        });
    }
    Ok(version)
}

/// A message when the server is older than Postdesk supports (PostgreSQL 12, MySQL 8,
/// MariaDB 10.5).
fn too_old(backend: Backend, version: &str) -> Option<String> {
    // `server_version` prefixes the backend name; only the server's own text counts.
    let own = version.trim_start_matches("MySQL/MariaDB ");
    let numbers: Vec<u32> = own
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .take(2)
        .filter_map(|s| s.parse().ok())
        .collect();
    let (major, minor) = (
        numbers.first().copied().unwrap_or(0),
        numbers.get(1).copied().unwrap_or(0),
    );
    let ok = match backend {
        Backend::Sqlite => true,
        Backend::Postgres => major >= 12,
        Backend::Mysql if own.to_ascii_lowercase().contains("mariadb") => (major, minor) >= (10, 5),
        Backend::Mysql => major >= 8,
    };
    (!ok).then(|| {
        format!(
            "server too old: {version}; Postdesk needs PostgreSQL 12+, MySQL 8+ or MariaDB 10.5+"
        )
    })
}

/// Runs pending migrations on `url` and returns the names applied, in order.
pub fn migrate(base: &Config, url: &str) -> Result<Vec<String>, DbError> {
    let mut conn = db::establish(&resolved_url(base, url))?;
    let pending = db::pending_migrations(&mut conn)?;
    db::run_migrations(&mut conn)?;
    Ok(pending)
}

/// Checks the first admin's fields; the message key names the problem.
fn check_admin(req: &InstallRequest) -> Result<(), &'static str> {
    if !looks_like_email(&req.admin_email.trim().to_lowercase()) {
        return Err("install_bad_email");
    }
    if req.admin_name.trim().is_empty() {
        return Err("install_bad_name");
    }
    if !(req.app_url.starts_with("http://") || req.app_url.starts_with("https://")) {
        return Err("install_bad_app_url");
    }
    password::check_strength(&req.admin_password, &req.admin_email).map_err(|w| w.message_key())
}

/// Creates the first admin, or updates the account with that email (a re-run after a
/// failure continues where it stopped).
fn upsert_admin(conn: &mut AnyConnection, req: &InstallRequest) -> Result<i64, InstallError> {
    let hash = password::hash(&req.admin_password).map_err(InstallError::Invalid)?;
    let (first, last) = user::split_name(&req.admin_name);
    let now = db::now();
    crate::db::dialect::write_transaction(&mut *conn, |c| {
        let id = match user::find_by_email(c, &req.admin_email)? {
            Some(existing) => {
                user::update_profile(
                    c,
                    existing.id,
                    &user::ProfileChanges {
                        first_name: first.clone(),
                        last_name: last.clone(),
                        email: existing.email.clone(),
                        timezone: req.timezone.clone(),
                        locale: req.language.clone(),
                        time_format: existing.time_format,
                        updated_at: now,
                    },
                )?;
                user::set_password(c, existing.id, &hash, now)?;
                user::set_role(c, existing.id, UserRole::Admin, now)?;
                user::set_status(c, existing.id, UserStatus::Active, now)?;
                existing.id
            }
            None => user::create(
                c,
                &user::NewUser {
                    locale: &req.language,
                    timezone: &req.timezone,
                    ..user::NewUser::active(
                        &first,
                        &last,
                        &req.admin_email,
                        &hash,
                        UserRole::Admin,
                        now,
                    )
                },
            )?,
        };
        activity::record(
            c,
            &Activity {
                user_id: Some(id),
                action: "installed",
                subject_type: "user",
                subject_id: Some(id),
                ..Activity::default()
            },
            now,
        )?;
        Ok(id)
    })
}

/// Writes `<data>/postdesk.toml` with the database URL, app URL and `installed = true`,
/// keeping any other keys already in the file. Atomic (temp file, fsync, rename), mode 0600.
pub fn write_config(
    data_dir: &Path,
    database_url: &str,
    app_url: &str,
) -> Result<PathBuf, InstallError> {
    update_config(data_dir, |table| {
        table.insert(
            "app_url".into(),
            toml::Value::String(app_url.trim_end_matches('/').into()),
        );
        table.insert("installed".into(), toml::Value::Boolean(true));
        let database = table
            .entry("database")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let Some(d) = database.as_table_mut() {
            d.insert("url".into(), toml::Value::String(database_url.into()));
        }
    })
}

/// Sets `app_url` in `<data>/postdesk.toml`, keeping every other key (Settings → General;
/// the running server keeps its address until restarted).
pub fn set_app_url(data_dir: &Path, app_url: &str) -> Result<PathBuf, InstallError> {
    update_config(data_dir, |table| {
        table.insert(
            "app_url".into(),
            toml::Value::String(app_url.trim_end_matches('/').into()),
        );
    })
}

/// Reads `<data>/postdesk.toml` (empty if missing), lets `change` edit it, and writes it
/// back atomically (temp file, fsync, rename), mode 0600.
fn update_config(
    data_dir: &Path,
    change: impl FnOnce(&mut toml::Table),
) -> Result<PathBuf, InstallError> {
    let path = data_dir.join(CONFIG_FILE);
    let fail = |cause: String| InstallError::ConfigWrite {
        path: path.display().to_string(),
        cause,
    };
    std::fs::create_dir_all(data_dir).map_err(|e| fail(e.to_string()))?;
    let mut table: toml::Table = match std::fs::read_to_string(&path) {
        Ok(text) => text
            .parse()
            .map_err(|e: toml::de::Error| fail(e.to_string()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => toml::Table::new(),
        Err(e) => return Err(fail(e.to_string())),
    };
    change(&mut table);
    let text = format!(
        "# Written by the Postdesk installer. Every key: docs/postdesk.example.toml\n{}",
        toml::to_string(&table).map_err(|e| fail(e.to_string()))?
    );
    let tmp = data_dir.join(format!(".{CONFIG_FILE}.tmp"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| fail(e.to_string()))?;
    file.write_all(text.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| fail(e.to_string()))?;
    drop(file);
    std::fs::rename(&tmp, &path).map_err(|e| fail(e.to_string()))?;
    Ok(path)
}

/// Installs: checks everything, tests the database, runs migrations, creates the first
/// admin, and writes the config file last. Returns the loaded, installed config.
pub fn install(data_dir: &Path, req: &InstallRequest) -> Result<Config, InstallError> {
    let base = Config::load(data_dir).map_err(|e| InstallError::Invalid(e.to_string()))?;
    if base.installed {
        return Err(InstallError::AlreadyInstalled(
            data_dir.display().to_string(),
        ));
    }
    let mut req = req.clone();
    req.language = i18n::supported(&req.language).to_string();
    req.timezone = known_timezone(&req.timezone).to_string();
    req.admin_email = req.admin_email.trim().to_lowercase();
    check_admin(&req).map_err(|key| InstallError::Invalid(i18n::t("en", key)))?;
    test_database(&base, &req.database_url)?;
    migrate(&base, &req.database_url)?;
    let mut conn = db::establish(&resolved_url(&base, &req.database_url))?;
    upsert_admin(&mut conn, &req)?;
    drop(conn);
    write_config(data_dir, &req.database_url, &req.app_url)?;
    Config::load(data_dir).map_err(|e| InstallError::Invalid(e.to_string()))
}

/// What the web installer has done so far.
#[derive(Debug, Clone, Default, serde::Serialize)]
struct Progress {
    requirements_ok: bool,
    database_url: Option<String>,
    database_version: String,
    migrated: Option<Vec<String>>,
}

/// The web installer's shared state.
#[derive(Clone)]
pub struct Installer {
    base: Arc<Config>,
    token: Arc<String>,
    progress: Arc<Mutex<Progress>>,
    templates: Arc<tera::Tera>,
    finished: Arc<Mutex<Option<std::sync::mpsc::Sender<AppState>>>>,
}

const INSTALL_COOKIE: &str = "pd_install";

impl Installer {
    /// A new installer for `base` with a fresh token; `finished` receives the app state
    /// once installing succeeded.
    pub fn new(
        base: Config,
        finished: std::sync::mpsc::Sender<AppState>,
    ) -> Result<Installer, StartError> {
        let token = token::random_token().map_err(StartError::Installer)?;
        let mut sources = Vec::new();
        for name in InstallerFiles::iter().filter(|n| n.ends_with(".html")) {
            if let Some(file) = InstallerFiles::get(&name) {
                sources.push((
                    name.to_string(),
                    String::from_utf8_lossy(&file.data).into_owned(),
                ));
            }
        }
        let mut templates = tera::Tera::default();
        templates.autoescape_on(vec![".html"]);
        templates
            .add_raw_templates(sources)
            .map_err(|e| StartError::Installer(crate::assets::describe_tera_error(&e)))?;
        Ok(Installer {
            base: Arc::new(base),
            token: Arc::new(token),
            progress: Arc::new(Mutex::new(Progress::default())),
            templates: Arc::new(templates),
            finished: Arc::new(Mutex::new(Some(finished))),
        })
    }

    /// The one-time setup URL to print on the console.
    pub fn setup_url(&self) -> String {
        format!("{}/install?token={}", self.base.public_url(), self.token)
    }

    fn progress(&self) -> Progress {
        self.progress.lock().map(|p| p.clone()).unwrap_or_default()
    }

    fn update(&self, f: impl FnOnce(&mut Progress)) {
        if let Ok(mut p) = self.progress.lock() {
            f(&mut p);
        }
    }

    /// While the server hands over to the app, the installer sends every request back to
    /// the same address (307), so it lands on the app.
    fn handing_over(&self, req: &HttpRequest) -> Option<HttpResponse> {
        let finished = self.finished.lock().map(|f| f.is_none()).unwrap_or(true);
        finished.then(|| {
            HttpResponse::TemporaryRedirect()
                .insert_header((actix_web::http::header::LOCATION, req.uri().to_string()))
                .insert_header((actix_web::http::header::RETRY_AFTER, "1"))
                .finish()
        })
    }

    fn authorized(&self, req: &HttpRequest) -> bool {
        req.cookie(INSTALL_COOKIE)
            .is_some_and(|c| token::constant_time_eq(c.value(), &self.token))
    }

    fn form_authorized(&self, req: &HttpRequest, field: &str) -> bool {
        self.authorized(req) && token::constant_time_eq(field, &self.token)
    }
}

/// Registers the install-mode routes: `/install…`, `/healthz`, `/static/…`; everything
/// else redirects to `/install`.
pub fn configure(installer: Installer, data_dir: PathBuf) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(installer))
            .app_data(web::Data::new(data_dir))
            .route("/healthz", web::get().to(healthz))
            .route("/static/{path:.*}", web::get().to(public_file))
            .route("/install", web::get().to(page))
            .route("/install/requirements", web::post().to(requirements_done))
            .route("/install/database", web::post().to(database))
            .route("/install/migrate", web::post().to(run_migrations))
            .route("/install/admin", web::post().to(admin))
            .default_service(web::to(to_install));
    }
}

async fn to_install(inst: web::Data<Installer>, req: HttpRequest) -> HttpResponse {
    inst.handing_over(&req).unwrap_or_else(|| {
        HttpResponse::SeeOther()
            .insert_header((actix_web::http::header::LOCATION, "/install"))
            .finish()
    })
}

async fn healthz(inst: web::Data<Installer>, req: HttpRequest) -> HttpResponse {
    if let Some(r) = inst.handing_over(&req) {
        return r;
    }
    HttpResponse::Ok().json(serde_json::json!({
        "status": "not_installed",
        "message": "Postdesk is not installed yet: open the setup URL printed on the console",
    }))
}

async fn public_file(
    data_dir: web::Data<PathBuf>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (bytes, mime) =
        crate::assets::public_file(&data_dir.join("public"), &path).ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CONTENT_TYPE, mime))
        .body(bytes))
}

/// One requirement line on the first step.
#[derive(Debug, serde::Serialize)]
struct Check {
    label: String,
    value: String,
    ok: bool,
}

fn requirements(base: &Config, req: &HttpRequest, lang: &str) -> Vec<Check> {
    let dir = &base.data_dir;
    let writable = std::fs::create_dir_all(dir).is_ok() && {
        let probe = dir.join(".postdesk-write-test");
        let ok = std::fs::write(&probe, b"ok").is_ok();
        let _ = std::fs::remove_file(&probe);
        ok
    };
    let free = rustix::fs::statvfs(dir.as_path())
        .map(|s| s.f_bavail.saturating_mul(s.f_frsize))
        .ok();
    vec![
        Check {
            label: i18n::t(lang, "install_req_data_dir"),
            value: std::fs::canonicalize(dir)
                .unwrap_or_else(|_| dir.clone())
                .display()
                .to_string(),
            ok: writable,
        },
        Check {
            label: i18n::t(lang, "install_req_disk"),
            value: free.map_or_else(|| "?".into(), |b| format!("{} MB", b / 1024 / 1024)),
            ok: free.is_some_and(|b| b >= MIN_FREE_BYTES),
        },
        Check {
            label: i18n::t(lang, "install_req_listen"),
            value: base.listen.clone(),
            ok: true,
        },
        Check {
            label: i18n::t(lang, "install_req_app_url"),
            value: guess_app_url(base, req),
            ok: true,
        },
    ]
}

fn guess_app_url(base: &Config, req: &HttpRequest) -> String {
    if !base.app_url.is_empty() {
        return base.public_url();
    }
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

fn lang_of(req: &HttpRequest) -> &'static str {
    i18n::from_accept_language(
        req.headers()
            .get(actix_web::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default(),
    )
}

fn render(
    inst: &Installer,
    req: &HttpRequest,
    template: &str,
    mut ctx: tera::Context,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let lang = lang_of(req);
    ctx.insert("lang", lang);
    ctx.insert("t", i18n::catalog(lang));
    ctx.insert("install_token", inst.token.as_str());
    let html = inst
        .templates
        .render(template, &ctx)
        .map_err(|e| AppError::Internal(crate::assets::describe_tera_error(&e)))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(html))
}

fn refused(inst: &Installer, req: &HttpRequest) -> Result<HttpResponse, AppError> {
    render(
        inst,
        req,
        "refused.html",
        tera::Context::new(),
        StatusCode::FORBIDDEN,
    )
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// `GET /install`: with `?token=` (the console URL) sets the installer cookie; then shows
/// the current step.
async fn page(
    inst: web::Data<Installer>,
    req: HttpRequest,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, AppError> {
    if let Some(r) = inst.handing_over(&req) {
        return Ok(r);
    }
    if let Some(t) = &query.token {
        if !token::constant_time_eq(t, &inst.token) {
            return refused(&inst, &req);
        }
        let cookie = Cookie::build(INSTALL_COOKIE, inst.token.as_str().to_string())
            .path("/")
            .http_only(true)
            .same_site(SameSite::Strict)
            .finish();
        return Ok(HttpResponse::SeeOther()
            .cookie(cookie)
            .insert_header((actix_web::http::header::LOCATION, "/install"))
            .finish());
    }
    if !inst.authorized(&req) {
        return refused(&inst, &req);
    }
    step_page(&inst, &req, tera::Context::new(), StatusCode::OK).await
}

async fn step_page(
    inst: &Installer,
    req: &HttpRequest,
    mut ctx: tera::Context,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let p = inst.progress();
    let lang = lang_of(req);
    let step = if !p.requirements_ok {
        1
    } else if p.database_url.is_none() {
        2
    } else if p.migrated.is_none() {
        3
    } else {
        4
    };
    ctx.insert("step", &step);
    ctx.insert("progress", &p);
    if step == 1 {
        let checks = requirements(&inst.base, req, lang);
        ctx.insert("all_ok", &checks.iter().all(|c| c.ok));
        ctx.insert("checks", &checks);
    }
    if step == 2 && !ctx.contains_key("database_url") {
        ctx.insert("kind", "sqlite");
        ctx.insert("database_url", "");
    }
    ctx.insert(
        "sqlite_path",
        &inst.base.data_dir.join("postdesk.db").display().to_string(),
    );
    if step == 3 {
        let url = p.database_url.clone().unwrap_or_default();
        let base = inst.base.clone();
        let pending = web::block(move || {
            db::establish(&resolved_url(&base, &url))
                .and_then(|mut c| db::pending_migrations(&mut c))
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .unwrap_or_default();
        ctx.insert("pending", &pending);
    }
    if step == 4 {
        ctx.insert("timezones", TIMEZONES);
        ctx.insert("languages", i18n::LANGUAGES);
        if !ctx.contains_key("app_url") {
            ctx.insert("app_url", &guess_app_url(&inst.base, req));
            ctx.insert("language", lang);
        }
    }
    render(inst, req, "install.html", ctx, status)
}

#[derive(Debug, Deserialize)]
struct TokenForm {
    install_token: String,
}

/// `POST /install/requirements`: continue when every check passed.
async fn requirements_done(
    inst: web::Data<Installer>,
    req: HttpRequest,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, AppError> {
    if let Some(r) = inst.handing_over(&req) {
        return Ok(r);
    }
    if !inst.form_authorized(&req, &form.install_token) {
        return refused(&inst, &req);
    }
    let ok = requirements(&inst.base, &req, "en").iter().all(|c| c.ok);
    inst.update(|p| p.requirements_ok = ok);
    step_page(&inst, &req, tera::Context::new(), StatusCode::OK).await
}

#[derive(Debug, Deserialize)]
struct DatabaseForm {
    install_token: String,
    kind: String,
    url: String,
    action: String,
}

/// `POST /install/database`: "test" reports the result; "save" also moves on when the
/// connection works.
async fn database(
    inst: web::Data<Installer>,
    req: HttpRequest,
    form: web::Form<DatabaseForm>,
) -> Result<HttpResponse, AppError> {
    if let Some(r) = inst.handing_over(&req) {
        return Ok(r);
    }
    if !inst.form_authorized(&req, &form.install_token) {
        return refused(&inst, &req);
    }
    let url = if form.kind == "sqlite" {
        "sqlite://postdesk.db".to_string()
    } else {
        form.url.trim().to_string()
    };
    let expected = match form.kind.as_str() {
        "postgres" => Some(Backend::Postgres),
        "mysql" => Some(Backend::Mysql),
        _ => None,
    };
    let lang = lang_of(&req);
    let base = inst.base.clone();
    let test_url = url.clone();
    let result = match expected {
        Some(b) if Backend::from_url(&url) != b => Err(i18n::t(lang, "install_db_bad_scheme")),
        _ => web::block(move || test_database(&base, &test_url))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
            .map_err(|e| e.to_string()),
    };
    let mut ctx = tera::Context::new();
    ctx.insert("kind", &form.kind);
    ctx.insert("database_url", &form.url);
    match result {
        Ok(version) => {
            if form.action == "save" {
                inst.update(|p| {
                    p.database_url = Some(url.clone());
                    p.database_version = version.clone();
                    p.migrated = None;
                });
                return step_page(&inst, &req, tera::Context::new(), StatusCode::OK).await;
            }
            ctx.insert("db_ok", &version);
            step_page(&inst, &req, ctx, StatusCode::OK).await
        }
        Err(e) => {
            ctx.insert("db_error", &e);
            step_page(&inst, &req, ctx, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

/// `POST /install/migrate`: runs the migrations and lists each one applied.
async fn run_migrations(
    inst: web::Data<Installer>,
    req: HttpRequest,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, AppError> {
    if let Some(r) = inst.handing_over(&req) {
        return Ok(r);
    }
    if !inst.form_authorized(&req, &form.install_token) {
        return refused(&inst, &req);
    }
    let Some(url) = inst.progress().database_url else {
        return step_page(&inst, &req, tera::Context::new(), StatusCode::OK).await;
    };
    let base = inst.base.clone();
    let result = web::block(move || migrate(&base, &url))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    match result {
        Ok(applied) => {
            inst.update(|p| p.migrated = Some(applied));
            step_page(&inst, &req, tera::Context::new(), StatusCode::OK).await
        }
        Err(e) => {
            let mut ctx = tera::Context::new();
            ctx.insert("migrate_error", &e.to_string());
            step_page(&inst, &req, ctx, StatusCode::INTERNAL_SERVER_ERROR).await
        }
    }
}

#[derive(Debug, Deserialize)]
struct AdminForm {
    install_token: String,
    name: String,
    email: String,
    password: String,
    language: String,
    timezone: String,
    app_url: String,
}

/// `POST /install/admin`: the last step. Runs [`install`] (the same path as the command
/// line), then hands the running server over to the app.
async fn admin(
    inst: web::Data<Installer>,
    req: HttpRequest,
    form: web::Form<AdminForm>,
) -> Result<HttpResponse, AppError> {
    if let Some(r) = inst.handing_over(&req) {
        return Ok(r);
    }
    if !inst.form_authorized(&req, &form.install_token) {
        return refused(&inst, &req);
    }
    let lang = lang_of(&req);
    let Some(url) = inst.progress().database_url else {
        return step_page(&inst, &req, tera::Context::new(), StatusCode::OK).await;
    };
    let form = form.into_inner();
    let request = InstallRequest {
        database_url: url,
        app_url: form.app_url.trim().to_string(),
        admin_email: form.email.clone(),
        admin_password: form.password,
        admin_name: form.name.clone(),
        language: form.language.clone(),
        timezone: form.timezone.clone(),
    };
    let mut ctx = tera::Context::new();
    ctx.insert("name", &form.name);
    ctx.insert("email", &form.email);
    ctx.insert("language", &form.language);
    ctx.insert("timezone", &form.timezone);
    ctx.insert("app_url", &form.app_url);
    if let Err(key) = check_admin(&InstallRequest {
        admin_email: request.admin_email.trim().to_lowercase(),
        ..request.clone()
    }) {
        ctx.insert("admin_error", &i18n::t(lang, key));
        return step_page(&inst, &req, ctx, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let data_dir = inst.base.data_dir.clone();
    let started = web::block(move || -> Result<AppState, String> {
        let config = install(&data_dir, &request).map_err(|e| e.to_string())?;
        AppState::start(config).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?;
    match started {
        Ok(state) => {
            let app_url = state.config.public_url();
            if let Some(tx) = inst.finished.lock().ok().and_then(|mut f| f.take()) {
                let _ = tx.send(state);
            }
            let mut ctx = tera::Context::new();
            ctx.insert("app_url", &app_url);
            render(&inst, &req, "done.html", ctx, StatusCode::OK)
        }
        Err(e) => {
            ctx.insert("admin_error", &e);
            step_page(&inst, &req, ctx, StatusCode::INTERNAL_SERVER_ERROR).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn config_is_written_atomically_private_and_keeps_other_keys() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "listen = \"127.0.0.1:9999\"\n",
        )
        .expect("write");
        let path = write_config(
            dir.path(),
            "sqlite://postdesk.db",
            "https://help.example.com/",
        )
        .expect("write config");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let c = Config::load_with_env(dir.path(), |_| None).expect("loads");
        assert!(c.installed);
        assert_eq!(c.listen, "127.0.0.1:9999");
        assert_eq!(c.app_url, "https://help.example.com");
        assert!(!dir.path().join(format!(".{CONFIG_FILE}.tmp")).exists());
    }

    #[test]
    fn old_servers_are_refused() {
        assert!(too_old(Backend::Postgres, "PostgreSQL 11.2 on x86").is_some());
        assert!(too_old(Backend::Postgres, "PostgreSQL 15.4 (Debian)").is_none());
        assert!(too_old(Backend::Mysql, "MySQL/MariaDB 10.3.1-MariaDB").is_some());
        assert!(too_old(Backend::Mysql, "MySQL/MariaDB 10.11.6-MariaDB-0+deb12u1").is_none());
        assert!(too_old(Backend::Mysql, "MySQL/MariaDB 5.7.1").is_some());
    }
}
