//! `/m/<module>/<path>`: HTTP requests handed to a module's route as JSON (see
//! `modules/README.md`). Public routes (declared `public = true` in the manifest) answer
//! anyone; every other route needs a logged-in user (401 `login_required` otherwise), and
//! a state-changing request to such a route must carry the session's CSRF token (form
//! field `csrf_token` or header `X-CSRF-Token`; 403 `csrf` otherwise). Public routes are
//! for customers, who have no session, so they carry no CSRF token.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use postdesk_module_api::RouteRequest;
use serde_json::json;

use crate::AppState;
use crate::hooks::RouteOutcome;
use crate::web::session::{CSRF_FIELD, MaybeUser};

/// Any method on `/m/{module}/{tail:.*}`.
pub async fn module_route(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    user: MaybeUser,
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
    let csrf_ok = |expected: &str| {
        let header = req
            .headers()
            .get("X-CSRF-Token")
            .and_then(|v| v.to_str().ok());
        let field = form.get(CSRF_FIELD).map(String::as_str);
        !expected.is_empty() && (header == Some(expected) || field == Some(expected))
    };
    let safe_method = matches!(req.method().as_str(), "GET" | "HEAD" | "OPTIONS");
    let csrf_passed = user
        .0
        .as_ref()
        .is_some_and(|u| safe_method || csrf_ok(&u.session.csrf_token));
    let user_json = user.0.as_ref().map(|u| {
        json!({
            "id": u.user.id,
            "email": u.user.email,
            "first_name": u.user.first_name,
            "last_name": u.user.last_name,
            "role": u.user.role,
        })
    });
    let request = RouteRequest {
        method: req.method().as_str().to_string(),
        path: tail,
        query,
        form,
        body: String::from_utf8_lossy(&body).into_owned(),
        user: user_json.unwrap_or(serde_json::Value::Null),
    };
    let hooks = state.hooks.clone();
    let logged_in = user.0.is_some();
    if logged_in && !csrf_passed && !hooks.is_public_route(&module, &request.path) {
        return error(StatusCode::FORBIDDEN, "csrf");
    }
    let outcome = web::block(move || hooks.route(&module, request, logged_in)).await;
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
