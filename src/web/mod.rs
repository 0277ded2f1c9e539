//! The web server: every route is listed here; handlers live in one file per area.

mod assets;
mod health;
mod home;
mod modules;

use actix_web::middleware::{Compress, DefaultHeaders};
use actix_web::{App, HttpServer, web};

use crate::{AppState, StartError};

/// The Content-Security-Policy every response carries: no inline script, nothing remote.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
    object-src 'none'; frame-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Registers every route and the shared state.
pub fn configure(state: AppState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(state))
            .route("/healthz", web::get().to(health::healthz))
            .route("/static/{path:.*}", web::get().to(assets::public_file))
            .route("/", web::get().to(home::home))
            .route(
                "/m/{module}/{tail:.*}",
                web::route().to(modules::module_route),
            );
    }
}

/// Headers added to every response.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("X-Frame-Options", "DENY"))
}

/// Binds the listen address and serves until the process is stopped.
pub async fn serve(state: AppState) -> Result<(), StartError> {
    let addr = state.config.listen.clone();
    let url = state.config.public_url();
    let server = HttpServer::new(move || {
        App::new()
            .wrap(security_headers())
            .wrap(Compress::default())
            .wrap(tracing_actix())
            .configure(configure(state.clone()))
    })
    .bind(&addr)
    .map_err(|cause| StartError::Bind {
        addr: addr.clone(),
        cause,
    })?;
    println!("Postdesk is running: open {url}/");
    tracing::info!(listen = %addr, "serving");
    server.run().await?;
    Ok(())
}

fn tracing_actix() -> actix_web::middleware::Logger {
    actix_web::middleware::Logger::new("%s %r %Dms").log_target("postdesk::http")
}
