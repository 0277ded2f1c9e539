//! `/healthz`: is the process up and the database answering?

use actix_web::{HttpResponse, web};
use diesel::connection::SimpleConnection;

use crate::AppState;
use crate::db::dialect;

/// 200 with the backend name when a database query works, 503 with the reason otherwise.
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let pool = state.pool.clone();
    let checked = web::block(move || -> Result<&'static str, String> {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        conn.batch_execute("SELECT 1").map_err(|e| e.to_string())?;
        Ok(dialect::backend(&conn).name())
    })
    .await;
    match checked {
        Ok(Ok(backend)) => {
            HttpResponse::Ok().json(serde_json::json!({"status": "ok", "database": backend}))
        }
        Ok(Err(cause)) => {
            tracing::warn!(error = %cause, "health check: database unavailable");
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({"status": "error", "error": "database_unavailable"}))
        }
        Err(_) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({"status": "error", "error": "overloaded"})),
    }
}
