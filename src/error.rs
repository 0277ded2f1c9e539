//! The application error: a stable snake_case code, an HTTP status, and the cause.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::db::DbError;

/// Errors a request can end with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The thing asked for does not exist (or the user may not see it).
    #[error("not found")]
    NotFound,
    /// The request was malformed; the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] DbError),
    /// Something else failed inside the server.
    #[error("internal error: {0}")]
    Internal(String),
    /// A page needs a logged-in user: the answer sends the browser to the login page.
    #[error("please log in")]
    LoginRequired,
    /// An API call without a valid session.
    #[error("authentication required")]
    Unauthorized,
    /// Logged in, but not allowed.
    #[error("you do not have permission to do this")]
    Forbidden,
    /// A state-changing request without the right CSRF token.
    #[error(
        "the form has expired or did not come from this site; go back, reload the page and try again"
    )]
    CsrfRejected,
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => AppError::NotFound,
            other => AppError::Database(DbError::Query(other)),
        }
    }
}

impl AppError {
    /// The stable code clients and logs see.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::NotFound => "not_found",
            AppError::BadRequest(_) => "bad_request",
            AppError::Database(_) => "database_error",
            AppError::Internal(_) => "internal_error",
            AppError::LoginRequired => "login_required",
            AppError::Unauthorized => "unauthorized",
            AppError::Forbidden => "forbidden",
            AppError::CsrfRejected => "csrf_rejected",
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Database(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::LoginRequired => StatusCode::SEE_OTHER,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden | AppError::CsrfRejected => StatusCode::FORBIDDEN,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            AppError::LoginRequired => {
                return HttpResponse::SeeOther()
                    .insert_header((actix_web::http::header::LOCATION, "/login"))
                    .finish();
            }
            AppError::Unauthorized => {
                return HttpResponse::Unauthorized()
                    .json(serde_json::json!({"error": self.code(), "message": self.to_string()}));
            }
            _ => {}
        }
        // Server-side causes are logged, not shown: they can carry paths and SQL.
        let shown = if status.is_server_error() {
            tracing::error!(error.code = self.code(), error = %self, "request failed");
            "Something went wrong on the server; the error has been logged.".to_string()
        } else {
            self.to_string()
        };
        let mut resp = HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(format!(
                "<!doctype html><meta charset=utf-8><title>{code}</title><h1>{status}</h1><p>{msg}</p><p><code>{code}</code></p>",
                code = self.code(),
                status = status,
                msg = html_escape(&shown),
            ));
        // Lets the web layer re-render this page in the user's language.
        resp.extensions_mut().insert(ErrorInfo {
            code: self.code(),
            message: shown,
        });
        resp
    }
}

/// What an error page says, kept on the response for [`crate::web`]'s error pages.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    /// The stable code.
    pub code: &'static str,
    /// The message shown to the user.
    pub message: String,
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}
