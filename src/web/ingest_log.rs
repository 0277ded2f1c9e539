//! Settings → Ingestion log (admins): messages that could not be taken in, with a Retry
//! button that runs [`crate::mail::inbound::retry_failure`] on the kept raw copy.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::AppState;
use crate::crypto::Secrets;
use crate::error::AppError;
use crate::i18n;
use crate::mail::inbound::{RetryError, retry_failure};
use crate::models::{ingest_failure, mailbox};
use crate::storage::FileStore;
use crate::web::account::EmptyForm;
use crate::web::page::render;
use crate::web::session::{AdminUser, CsrfForm};

/// One row of the log as the page shows it.
#[derive(Debug, serde::Serialize)]
struct FailureView {
    id: i64,
    mailbox: String,
    folder: String,
    uid: i64,
    error: String,
    attempts: i32,
    when: String,
}

fn rows(conn: &mut crate::db::AnyConnection) -> Result<Vec<FailureView>, AppError> {
    let boxes = mailbox::list(conn)?;
    Ok(ingest_failure::open(conn, None)?
        .into_iter()
        .map(|f| FailureView {
            id: f.id,
            mailbox: boxes
                .iter()
                .find(|m| m.id == f.mailbox_id)
                .map(|m| format!("{} <{}>", m.name, m.email))
                .unwrap_or_else(|| f.mailbox_id.to_string()),
            folder: f.folder,
            uid: f.uid,
            error: f.error,
            attempts: f.attempts,
            when: f.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        })
        .collect())
}

async fn page(
    state: &AppState,
    req: &HttpRequest,
    admin: &AdminUser,
    outcome: Option<(bool, String)>,
) -> Result<HttpResponse, AppError> {
    let failures = crate::db::run(&state.pool, rows).await?;
    let mut ctx = tera::Context::new();
    ctx.insert("failures", &failures);
    match outcome {
        Some((true, msg)) => ctx.insert("notice", &msg),
        Some((false, msg)) => ctx.insert("error", &msg),
        None => {}
    }
    render(state, req, Some(&admin.0), "settings/ingest.html", ctx)
}

/// `GET /settings/ingest`: unresolved failures, newest first.
pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: AdminUser,
) -> Result<HttpResponse, AppError> {
    page(&state, &req, &admin, None).await
}

/// `POST /settings/ingest/{id}/retry`: takes the message in again from its raw copy and
/// shows what happened.
pub async fn retry(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: AdminUser,
    id: web::Path<i64>,
    _form: CsrfForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let data_dir = state.config.data_dir.clone();
    let reopen = state.config.inbound.reopen_within_days;
    let lang = i18n::supported(&admin.0.user.locale);
    let outcome = crate::db::run(&state.pool, move |c| {
        let secrets =
            Secrets::load_or_create(&data_dir).map_err(|e| AppError::Internal(e.to_string()))?;
        let files = FileStore::new(&data_dir);
        Ok(match retry_failure(c, &secrets, &files, reopen, id) {
            Ok(stored) => (true, format!("{} {stored}", i18n::t(lang, "ingest_retry_ok"))),
            Err(RetryError::NotFound) => return Err(AppError::NotFound),
            Err(RetryError::AlreadyResolved) => (true, i18n::t(lang, "ingest_retry_done_before")),
            Err(RetryError::Database(e)) => return Err(e.into()),
            Err(e) => {
                tracing::warn!(ingest_failure.id = id, error = %e, "retry from the ingestion log failed");
                (false, format!("{} {e}", i18n::t(lang, "ingest_retry_failed")))
            }
        })
    })
    .await?;
    page(&state, &req, &admin, Some(outcome)).await
}
