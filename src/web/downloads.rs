//! Downloads of stored mail: attachments and a message's original source. Both answer 404
//! (never 403) when the user may not see the conversation's mailbox, so ids cannot be
//! probed, and both are served so a browser never runs them: `nosniff`, a sandboxing CSP,
//! and `attachment` disposition except for a short list of raster image types.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::AppState;
use crate::error::AppError;
use crate::models::{attachment, thread};
use crate::permissions;
use crate::storage::FileStore;
use crate::web::session::CurrentUser;

/// The policy on every download: nothing loads, scripts never run.
pub const DOWNLOAD_CSP: &str = "default-src 'none'; sandbox";

/// Types a browser may show in place (raster images only: SVG and HTML can carry script).
pub(super) const INLINE_TYPES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

/// `filename*` per RFC 5987: UTF-8, percent-encoded except for `attr-char`.
pub fn rfc5987(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A plain-ASCII `filename` for old clients: anything else becomes `_`.
fn ascii_fallback(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The `Content-Disposition` value for `name`.
pub fn disposition(kind: &str, name: &str) -> String {
    let name = if name.trim().is_empty() {
        "attachment"
    } else {
        name
    };
    format!(
        "{kind}; filename=\"{}\"; filename*=UTF-8''{}",
        ascii_fallback(name),
        rfc5987(name)
    )
}

fn wants_inline(req: &HttpRequest) -> bool {
    req.query_string()
        .split('&')
        .any(|p| p == "inline=1" || p == "inline=true")
}

pub(super) fn safe_response(
    content_type: &str,
    disposition: String,
) -> actix_web::HttpResponseBuilder {
    let mut resp = HttpResponse::Ok();
    resp.insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CONTENT_DISPOSITION, disposition))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_SECURITY_POLICY, DOWNLOAD_CSP))
        .insert_header((header::CACHE_CONTROL, "private, no-store"));
    resp
}

/// `GET /attachments/{id}` (`?inline=1` shows PNG, JPEG, GIF and WebP in place).
pub async fn attachment(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let user = me.user.clone();
    let files = FileStore::new(&state.config.data_dir);
    let (found, bytes) = crate::db::run(&state.pool, move |c| {
        let (found, mailbox_id) =
            attachment::find_with_mailbox(c, id)?.ok_or(AppError::NotFound)?;
        if !permissions::can_view_mailbox(c, &user, mailbox_id)? {
            return Err(AppError::NotFound);
        }
        let bytes = files.get_attachment(&found.sha256).map_err(|e| {
            tracing::error!(attachment.id = id, error = %e, "attachment file missing");
            AppError::NotFound
        })?;
        Ok((found, bytes))
    })
    .await?;
    let mime = found.mime_type.trim().to_ascii_lowercase();
    let raster = INLINE_TYPES.contains(&mime.as_str());
    let kind = if raster && wants_inline(&req) {
        "inline"
    } else {
        "attachment"
    };
    let content_type = if raster {
        mime.as_str()
    } else {
        "application/octet-stream"
    };
    Ok(safe_response(content_type, disposition(kind, &found.file_name)).body(bytes))
}

/// `GET /threads/{id}/original`: the message exactly as it was received, as plain text.
pub async fn original(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let user = me.user.clone();
    let files = FileStore::new(&state.config.data_dir);
    let raw = crate::db::run(&state.pool, move |c| {
        let (raw_path, mailbox_id) = thread::raw_source(c, id)?.ok_or(AppError::NotFound)?;
        if !permissions::can_view_mailbox(c, &user, mailbox_id)? || raw_path.is_empty() {
            return Err(AppError::NotFound);
        }
        files.get_raw(&raw_path).map_err(|e| {
            tracing::error!(thread.id = id, error = %e, "raw message missing");
            AppError::NotFound
        })
    })
    .await?;
    Ok(safe_response(
        "text/plain; charset=utf-8",
        disposition("inline", &format!("message-{id}.eml")),
    )
    .body(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_encoded_per_rfc5987() {
        assert_eq!(rfc5987("a b.txt"), "a%20b.txt");
        assert_eq!(rfc5987("счёт.pdf"), "%D1%81%D1%87%D1%91%D1%82.pdf");
        assert_eq!(rfc5987("x\"y;z"), "x%22y%3Bz");
        assert_eq!(
            disposition("attachment", "отчёт \"1\".pdf"),
            "attachment; filename=\"_____ _1_.pdf\"; filename*=UTF-8''%D0%BE%D1%82%D1%87%D1%91%D1%82%20%221%22.pdf"
        );
    }
}
