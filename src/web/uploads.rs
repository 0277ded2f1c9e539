//! Uploads from the reply editor: a pasted or dropped image, or a file attached by button
//! or drop, is stored before the message is sent (`POST /uploads`), shown back to its
//! uploader only (`GET /uploads/{id}`), and turned into the message's files on send.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::AppState;
use crate::auth::token::constant_time_eq;
use crate::error::AppError;
use crate::models::upload;
use crate::storage::FileStore;
use crate::web::downloads::{INLINE_TYPES, disposition, safe_response};
use crate::web::session::CurrentUser;

/// The largest file accepted (the limit many mail servers put on a whole message is
/// 25 MB; base64 adds a third).
pub const UPLOAD_LIMIT: usize = 15 * 1024 * 1024;

/// What the editor gets back.
#[derive(Debug, serde::Serialize)]
struct Uploaded {
    id: i64,
    url: String,
    name: String,
    size: i64,
    mime: String,
}

fn header_value(req: &HttpRequest, name: &str) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// `POST /uploads`: the file as the raw body, its type in `Content-Type`, its name
/// percent-encoded in `X-File-Name`, the session's CSRF token in `X-CSRF-Token`. Answers
/// JSON `{id, url, name, size, mime}`; 413 over [`UPLOAD_LIMIT`].
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    body: web::Payload,
) -> Result<HttpResponse, AppError> {
    if !constant_time_eq(&me.session.csrf_token, &header_value(&req, "x-csrf-token")) {
        tracing::warn!(path = %req.path(), "upload refused: CSRF token missing or wrong");
        return Err(AppError::CsrfRejected);
    }
    let declared: usize = header_value(&req, "content-length").parse().unwrap_or(0);
    if declared > UPLOAD_LIMIT {
        return Ok(too_large());
    }
    let data = match body.to_bytes_limited(UPLOAD_LIMIT).await {
        Ok(read) => {
            read.map_err(|e| AppError::BadRequest(format!("cannot read the upload: {e}")))?
        }
        Err(_) => return Ok(too_large()),
    };
    if data.is_empty() {
        return Err(AppError::BadRequest("the file is empty".into()));
    }
    let raw_name = header_value(&req, "x-file-name");
    let decoded: String =
        serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("n={raw_name}"))
            .ok()
            .and_then(|v| v.into_iter().next().map(|(_, n)| n))
            .unwrap_or_default();
    let name = crate::mail::inbound::parse::sanitize_file_name(&decoded, "file");
    let declared_type = header_value(&req, "content-type").to_ascii_lowercase();
    let mime = match declared_type.split(';').next().map(str::trim) {
        Some(t) if t.contains('/') && !t.is_empty() => t.to_string(),
        _ => mime_guess::from_path(&name)
            .first_or_octet_stream()
            .essence_str()
            .to_string(),
    };
    let user_id = me.user.id;
    let store = FileStore::new(&state.config.data_dir);
    let size = data.len() as i64;
    let (id, name, mime) = crate::db::run(&state.pool, move |c| {
        let sha = store
            .put_attachment(&data)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let id = upload::create(
            c,
            &upload::NewUpload {
                user_id,
                file_name: &name,
                mime_type: &mime,
                size_bytes: size,
                sha256: &sha,
                created_at: crate::db::now(),
            },
        )?;
        Ok((id, name, mime))
    })
    .await?;
    Ok(HttpResponse::Created().json(Uploaded {
        id,
        url: format!("/uploads/{id}"),
        name,
        size,
        mime,
    }))
}

fn too_large() -> HttpResponse {
    HttpResponse::PayloadTooLarge().json(serde_json::json!({
        "error": "too_large",
        "limit": UPLOAD_LIMIT,
    }))
}

/// `GET /uploads/{id}`: the file, to its uploader only (404 for anyone else); raster
/// images in place, everything else as a download.
pub async fn show(
    state: web::Data<AppState>,
    me: CurrentUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let user_id = me.user.id;
    let store = FileStore::new(&state.config.data_dir);
    let (found, bytes) = crate::db::run(&state.pool, move |c| {
        let found = upload::owned(c, user_id, &[id])?
            .pop()
            .ok_or(AppError::NotFound)?;
        let bytes = store.get_attachment(&found.sha256).map_err(|e| {
            tracing::error!(upload.id = id, error = %e, "uploaded file missing");
            AppError::NotFound
        })?;
        Ok((found, bytes))
    })
    .await?;
    let raster = INLINE_TYPES.contains(&found.mime_type.as_str());
    let (content_type, kind) = if raster {
        (found.mime_type.as_str(), "inline")
    } else {
        ("application/octet-stream", "attachment")
    };
    let mut resp = safe_response(content_type, disposition(kind, &found.file_name));
    resp.insert_header((header::CACHE_CONTROL, "private, max-age=86400"));
    Ok(resp.body(bytes))
}
