//! `/m/<module>/<path>`: HTTP requests handed to a module's route as JSON (see
//! `modules/README.md`). Public routes (declared `public = true` in the manifest) answer
//! anyone; every other route needs a logged-in user, and until the session layer lands
//! nobody is logged in, so they answer 401 `login_required`.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use postdesk_module_api::RouteRequest;
use serde_json::json;

use crate::AppState;
use crate::hooks::RouteOutcome;

/// Any method on `/m/{module}/{tail:.*}`.
pub async fn module_route(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (module, tail) = path.into_inner();
    let query: BTreeMap<String, String> =
        web::Query::<BTreeMap<String, String>>::from_query(req.query_string())
            .map(web::Query::into_inner)
            .unwrap_or_default();
    let is_form = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let form: BTreeMap<String, String> = if is_form {
        web::Query::<BTreeMap<String, String>>::from_query(&String::from_utf8_lossy(&body))
            .map(web::Query::into_inner)
            .unwrap_or_default()
    } else {
        BTreeMap::new()
    };
    let request = RouteRequest {
        method: req.method().as_str().to_string(),
        path: tail,
        query,
        form,
        body: String::from_utf8_lossy(&body).into_owned(),
        // No session layer yet: nobody is logged in.
        user: serde_json::Value::Null,
    };
    let hooks = state.hooks.clone();
    let outcome = web::block(move || hooks.route(&module, request, false)).await;
    match outcome {
        Ok(RouteOutcome::Response(r)) => {
            HttpResponse::build(StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK))
                .content_type(r.content_type)
                .body(r.body)
        }
        Ok(RouteOutcome::NotFound) => error(StatusCode::NOT_FOUND, "not_found"),
        Ok(RouteOutcome::LoginRequired) => error(StatusCode::UNAUTHORIZED, "login_required"),
        Ok(RouteOutcome::Failed) | Err(_) => error(StatusCode::BAD_GATEWAY, "module_failed"),
    }
}

fn error(status: StatusCode, code: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": code }))
}
