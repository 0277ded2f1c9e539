//! The start page.

use actix_web::{HttpResponse, web};

use crate::AppState;
use crate::assets::describe_tera_error;
use crate::error::AppError;

/// Renders the start page.
pub async fn home(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let mut ctx = tera::Context::new();
    ctx.insert("app_url", &state.config.public_url());
    let html = state
        .templates
        .render("home.html", &ctx)
        .map_err(|e| AppError::Internal(describe_tera_error(&e)))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}
