//! Reading requests: a JSON body (at most [`BODY_LIMIT`] bytes, else 413; unknown fields
//! ignored; a refused field named by its JSON path), query parameters, and the checks
//! shared by every resource (numbers, dates, enumerations, paging).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use chrono::NaiveDateTime;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use super::error::{ApiError, FieldError};

/// The largest body accepted (attachments travel base64-encoded inside the JSON).
pub const BODY_LIMIT: usize = 20 * 1024 * 1024;

/// Default and largest page size.
pub const PAGE_SIZE: i64 = 50;
/// Largest page size.
pub const PAGE_SIZE_MAX: i64 = 100;

/// A JSON body of type `T`.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<ApiJson<T>, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let declared = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let json = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|v| {
                v.trim()
                    .to_ascii_lowercase()
                    .starts_with("application/json")
            });
        let mut payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|n| n > BODY_LIMIT) {
                return Err(ApiError::TooLarge);
            }
            if !json {
                return Err(ApiError::UnsupportedMediaType);
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk =
                    chunk.map_err(|_| ApiError::field(FieldError::json("", "unreadable body")))?;
                if body.len() + chunk.len() > BODY_LIMIT {
                    return Err(ApiError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            parse_json(&body).map(ApiJson)
        })
    }
}

/// Parses a JSON body, naming the refused field.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::field(FieldError::json(
            "",
            "the body is empty; send a JSON object",
        )));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let inner = e.into_inner().to_string();
        // "missing field `x`" names the field in the message, not the path.
        let path = match inner.split_once("missing field `") {
            Some((_, rest)) => {
                let field = rest.split('`').next().unwrap_or_default();
                if path.is_empty() {
                    field.to_string()
                } else {
                    format!("{path}.{field}")
                }
            }
            None => path,
        };
        let message = inner
            .split(" at line ")
            .next()
            .unwrap_or(&inner)
            .to_string();
        ApiError::field(FieldError::json(&path, message))
    })
}

/// Query parameters of type `T` (whose fields are strings, checked by the handler).
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiQuery<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<ApiQuery<T>, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            serde_urlencoded::from_str::<T>(req.query_string())
                .map(ApiQuery)
                .map_err(|e| ApiError::field(FieldError::query("", e.to_string()))),
        )
    }
}

/// Collects field errors while a handler checks its input.
#[derive(Debug, Default)]
pub struct Checks {
    errors: Vec<FieldError>,
}

impl Checks {
    /// Records an error.
    pub fn push(&mut self, e: FieldError) {
        self.errors.push(e);
    }

    /// A result: keeps the value, or records the error and gives `None`.
    pub fn keep<V>(&mut self, r: Result<V, FieldError>) -> Option<V> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.errors.push(e);
                None
            }
        }
    }

    /// Ok when nothing was refused, else the 400.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::BadRequest(self.errors))
        }
    }
}

/// A whole number from a query parameter; `None` when absent or empty.
pub fn int(name: &str, raw: &Option<String>) -> Result<Option<i64>, FieldError> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .map(Some)
            .map_err(|_| FieldError::query(name, "must be a whole number").rejecting(v)),
    }
}

/// A comma-separated list of whole numbers.
pub fn int_list(name: &str, raw: &Option<String>) -> Result<Vec<i64>, FieldError> {
    let Some(v) = raw.as_deref() else {
        return Ok(Vec::new());
    };
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i64>().map_err(|_| {
                FieldError::query(name, "must be whole numbers separated by commas").rejecting(v)
            })
        })
        .collect()
}

/// A comma-separated list of enumeration values, each one of `allowed`.
pub fn enum_list(
    name: &str,
    raw: &Option<String>,
    allowed: &[&str],
) -> Result<Vec<String>, FieldError> {
    let Some(v) = raw.as_deref() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for s in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !allowed.contains(&s) {
            return Err(FieldError::query(name, "").one_of(allowed).rejecting(s));
        }
        out.push(s.to_string());
    }
    Ok(out)
}

/// One enumeration value from a query parameter.
pub fn one_of(
    name: &str,
    raw: &Option<String>,
    allowed: &[&str],
) -> Result<Option<String>, FieldError> {
    let mut list = enum_list(name, raw, allowed)?;
    if list.len() > 1 {
        return Err(FieldError::query(name, "")
            .one_of(allowed)
            .rejecting(raw.clone().unwrap_or_default()));
    }
    Ok(list.pop())
}

/// An ISO 8601 date-time (`2020-01-02T23:00:00Z`, any offset) as UTC.
pub fn parse_date(value: &str) -> Option<NaiveDateTime> {
    chrono::DateTime::parse_from_rfc3339(value.trim())
        .ok()
        .map(|d| d.naive_utc())
}

/// A date-time query parameter.
pub fn date(name: &str, raw: &Option<String>) -> Result<Option<NaiveDateTime>, FieldError> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => parse_date(v).map(Some).ok_or_else(|| {
            FieldError::query(
                name,
                "must be an ISO 8601 date-time, e.g. 2020-01-02T23:00:00Z",
            )
            .rejecting(v)
        }),
    }
}

/// The page asked for: `(number, size)`, 1-based, size at most [`PAGE_SIZE_MAX`].
pub fn paging(
    checks: &mut Checks,
    page: &Option<String>,
    page_size: &Option<String>,
) -> (i64, i64) {
    let number = checks.keep(int("page", page)).flatten().unwrap_or(1);
    let size = checks
        .keep(int("pageSize", page_size))
        .flatten()
        .unwrap_or(PAGE_SIZE);
    if number < 1 {
        checks.push(FieldError::query("page", "must be 1 or more").rejecting(number));
    }
    if !(1..=PAGE_SIZE_MAX).contains(&size) {
        checks.push(
            FieldError::query("pageSize", format!("must be from 1 to {PAGE_SIZE_MAX}"))
                .rejecting(size),
        );
    }
    (number.max(1), size.clamp(1, PAGE_SIZE_MAX))
}

/// The sort order: `desc` (default) or `asc`; true for ascending.
pub fn ascending(checks: &mut Checks, raw: &Option<String>) -> bool {
    checks
        .keep(one_of("sortOrder", raw, &["desc", "asc"]))
        .flatten()
        .is_some_and(|o| o == "asc")
}
