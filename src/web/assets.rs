//! `/static/…`: public files, embedded or overridden from `<data>/public`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::AppState;
use crate::error::AppError;

/// Serves one public file.
pub async fn public_file(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let dir = state.config.data_dir.join("public");
    let (bytes, mime) = crate::assets::public_file(&dir, &path).ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, mime))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(bytes))
}
