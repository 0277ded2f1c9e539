//! API errors in FreeScout's documented shape: `{"message", "errorCode", "_embedded":
//! {"errors": [{"path", "message", "source", "rejectedValue"?}]}}`. Field errors come only
//! with 400; every other status carries an empty list.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::db::DbError;
use crate::error::AppError;

/// One problem with one field of the request.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FieldError {
    /// The field (a JSON path such as `threads[0].type`, or a query parameter name).
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// The value that was refused, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected_value: Option<Value>,
    /// `JSON` for body fields, `QUERY` for query parameters.
    pub source: String,
}

impl FieldError {
    /// A problem with a body field.
    pub fn json(path: &str, message: impl Into<String>) -> FieldError {
        FieldError {
            path: path.to_string(),
            message: message.into(),
            rejected_value: None,
            source: "JSON".into(),
        }
    }

    /// A problem with a query parameter.
    pub fn query(path: &str, message: impl Into<String>) -> FieldError {
        FieldError {
            path: path.to_string(),
            message: message.into(),
            rejected_value: None,
            source: "QUERY".into(),
        }
    }

    /// The same problem, naming the refused value.
    pub fn rejecting(mut self, value: impl Into<Value>) -> FieldError {
        self.rejected_value = Some(value.into());
        self
    }

    /// "Expected one of these: 'a', 'b'" for an enumeration field.
    pub fn one_of(self, allowed: &[&str]) -> FieldError {
        let list: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
        FieldError {
            message: format!("Expected one of these: {}", list.join(", ")),
            ..self
        }
    }
}

/// The error body every failed call answers with.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorBody {
    /// What went wrong, in a few words.
    pub message: String,
    /// The status name in capitals, e.g. `BAD REQUEST`.
    #[serde(rename = "errorCode")]
    pub error_code: String,
    /// The field errors.
    #[serde(rename = "_embedded")]
    pub embedded: ErrorList,
}

/// `_embedded` of an error body.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorList {
    /// One entry per refused field (empty unless the status is 400).
    pub errors: Vec<FieldError>,
}

/// Why an API call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request does not meet the requirements; the list says which fields.
    #[error("Bad request")]
    BadRequest(Vec<FieldError>),
    /// No key, or a key that is not valid.
    #[error("API key is either not provided or not valid")]
    Unauthorized,
    /// The key is valid but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// No such resource, or one the key may not see.
    #[error("Not found")]
    NotFound,
    /// The path exists but not with this method.
    #[error("Method not allowed")]
    MethodNotAllowed,
    /// A conflicting resource exists.
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than the limit.
    #[error("Request entity too large")]
    TooLarge,
    /// The body is not JSON.
    #[error("Unsupported media type: send application/json")]
    UnsupportedMediaType,
    /// Too many calls with this key; retry after the given seconds.
    #[error("Too many requests")]
    RateLimited(u64),
    /// The server failed (logged, not shown).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A 400 with one field error.
    pub fn field(error: FieldError) -> ApiError {
        ApiError::BadRequest(vec![error])
    }

    /// The body this error answers with.
    pub fn body(&self) -> ErrorBody {
        let status = self.status_code();
        let message = if status.is_server_error() {
            "Whoops, looks like something went wrong on our end".to_string()
        } else {
            self.to_string()
        };
        let errors = match self {
            ApiError::BadRequest(list) => list.clone(),
            _ => Vec::new(),
        };
        ErrorBody {
            message,
            error_code: status.canonical_reason().unwrap_or("ERROR").to_uppercase(),
            embedded: ErrorList { errors },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(error = %cause, "API call failed");
        }
        let mut resp = HttpResponse::build(self.status_code());
        if let ApiError::RateLimited(secs) = self {
            resp.insert_header(("Retry-After", secs.to_string()));
        }
        if matches!(self, ApiError::Unauthorized) {
            resp.insert_header(("WWW-Authenticate", "Basic realm=\"api\""));
        }
        resp.json(self.body())
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => ApiError::NotFound,
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound => ApiError::NotFound,
            AppError::BadRequest(m) => ApiError::field(FieldError::json("", m)),
            AppError::Unauthorized | AppError::LoginRequired => ApiError::Unauthorized,
            AppError::Forbidden | AppError::CsrfRejected => ApiError::Forbidden(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// Runs blocking database work off the async runtime, with API errors.
pub async fn run<T, F>(pool: &crate::db::DbPool, work: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut crate::db::AnyConnection) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get().map_err(DbError::Pool)?;
        work(&mut conn)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("blocking task failed: {e}")))?
}
