//! Client-error pages (400, 403, 404, 405…) in the app's look and the user's language.
//! `AppError` renders a plain page without knowing the request; this middleware handler
//! replaces it (and actix's empty 404) for pages, and leaves the API's JSON alone.

use actix_web::body::EitherBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpMessage, web};

use crate::AppState;
use crate::error::ErrorInfo;
use crate::web::page::render_status;
use crate::web::session::CurrentUser;

/// The `ErrorHandlers` handler for 4xx answers.
pub fn localized<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let info = res.response().extensions().get::<ErrorInfo>().cloned();
    let bare_404 = res.status() == actix_web::http::StatusCode::NOT_FOUND
        && info.is_none()
        && !res.headers().contains_key(CONTENT_TYPE);
    let keep = res.request().path().starts_with("/api/") || (info.is_none() && !bare_404);
    let state = res.request().app_data::<web::Data<AppState>>().cloned();
    let (Some(state), false) = (state, keep) else {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    };
    let user: Option<CurrentUser> = res
        .request()
        .extensions()
        .get::<Option<CurrentUser>>()
        .cloned()
        .flatten();
    let status = res.status();
    let code = info.as_ref().map_or("not_found", |i| i.code);
    let mut ctx = tera::Context::new();
    ctx.insert("status", &status.as_u16());
    ctx.insert("code", code);
    ctx.insert("detail", &info.map(|i| i.message).unwrap_or_default());
    let rendered = render_status(
        &state,
        res.request(),
        user.as_ref(),
        "error.html",
        ctx,
        status,
    );
    Ok(ErrorHandlerResponse::Response(match rendered {
        Ok(page) => {
            let (req, _) = res.into_parts();
            ServiceResponse::new(req, page).map_into_right_body()
        }
        Err(e) => {
            tracing::error!(error = %e, "error page could not be rendered");
            res.map_body(|_, b| EitherBody::left(b))
        }
    }))
}
