//! The web server: every route is listed here; handlers live in one file per area.

mod account;
mod api;
mod assets;
mod clock;
mod compose;
mod conversation;
mod conversation_actions;
mod customers;
mod downloads;
mod error_pages;
mod general;
mod health;
mod home;
mod ingest_log;
mod mailbox_view;
mod mailboxes;
mod modules;
mod modules_admin;
mod notifications;
pub mod page;
pub mod profile;
mod search;
pub mod session;
mod settings;
mod uploads;
mod users;

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
            // Accounts (issue 3).
            .route("/login", web::get().to(account::login_page))
            .route("/login", web::post().to(account::login))
            .route("/logout", web::post().to(account::logout))
            .route("/password/forgot", web::get().to(account::forgot_page))
            .route("/password/forgot", web::post().to(account::forgot))
            .route("/password/reset/{token}", web::get().to(account::link_page))
            .route(
                "/password/reset/{token}",
                web::post().to(account::complete_link),
            )
            .route("/invite/{token}", web::get().to(account::link_page))
            .route("/invite/{token}", web::post().to(account::complete_link))
            .route("/profile", web::get().to(profile::page))
            .route("/profile", web::post().to(profile::save))
            .route(
                "/profile/password",
                web::post().to(profile::change_password),
            )
            // Agent notifications (issue 5).
            .route(
                "/profile/notifications",
                web::post().to(notifications::save_prefs),
            )
            .route("/notifications", web::get().to(notifications::list))
            .route(
                "/notifications/read",
                web::post().to(notifications::mark_all_read),
            )
            .route(
                "/notifications/{id}/read",
                web::post().to(notifications::mark_read),
            )
            .route("/users", web::get().to(users::list))
            .route("/users/invite", web::post().to(users::invite))
            .route("/users/{id}", web::get().to(users::edit))
            .route("/users/{id}", web::post().to(users::save))
            .route("/users/{id}/disable", web::post().to(users::disable))
            .route("/users/{id}/enable", web::post().to(users::enable))
            .route("/users/{id}/delete", web::post().to(users::delete))
            .route("/settings/general", web::get().to(general::show))
            .route("/settings/general", web::post().to(general::save))
            .route("/settings/mail", web::get().to(settings::mail_page))
            .route("/settings/mail", web::post().to(settings::save_mail))
            .route("/activity", web::get().to(settings::activity_page))
            // Mail settings and mail downloads (issue: mail admin pages).
            .route("/settings/mailboxes", web::get().to(mailboxes::list))
            .route("/settings/mailboxes", web::post().to(mailboxes::create))
            .route(
                "/settings/mailboxes/new",
                web::get().to(mailboxes::new_page),
            )
            .route("/settings/mailboxes/{id}", web::get().to(mailboxes::edit))
            .route("/settings/mailboxes/{id}", web::post().to(mailboxes::save))
            .route(
                "/settings/mailboxes/{id}/test-imap",
                web::post().to(mailboxes::test_imap),
            )
            .route(
                "/settings/mailboxes/{id}/test-smtp",
                web::post().to(mailboxes::test_smtp),
            )
            .route("/settings/ingest", web::get().to(ingest_log::list))
            .route(
                "/settings/ingest/{id}/retry",
                web::post().to(ingest_log::retry),
            )
            // Customers (issue 6): list and search, profile, edit, merge.
            .route("/customers", web::get().to(customers::list))
            .route("/customers/{id}", web::get().to(customers::profile))
            .route("/customers/{id}", web::post().to(customers::save))
            .route("/customers/{id}/merge", web::post().to(customers::merge))
            .route("/attachments/{id}", web::get().to(downloads::attachment))
            .route("/threads/{id}/original", web::get().to(downloads::original))
            // Conversation page, reply editor and compose forms (issues 5 and 6).
            .route("/conversations/{id}", web::get().to(conversation::page))
            .route(
                "/conversations/{id}/reply",
                web::post().to(conversation::reply),
            )
            .route(
                "/conversations/{id}/note",
                web::post().to(conversation::note),
            )
            .route(
                "/conversations/{id}/draft",
                web::post().to(conversation::save_draft),
            )
            .route(
                "/conversations/{id}/forward",
                web::post().to(compose::forward),
            )
            .route("/threads/{id}/undo", web::post().to(conversation::undo))
            .route("/threads/{id}/retry", web::post().to(conversation::retry))
            .route(
                "/preferences/thread-order",
                web::post().to(conversation::thread_order),
            )
            .route("/uploads", web::post().to(uploads::create))
            .route("/uploads/{id}", web::get().to(uploads::show))
            .route("/mailboxes/{id}/new", web::get().to(compose::new_page))
            .route("/mailboxes/{id}/new", web::post().to(compose::create))
            .route("/mailboxes/{id}/phone", web::post().to(compose::log_phone))
            // REST API (issue 8): the routes are listed in src/api/mod.rs (they feed
            // /api/openapi.json); the settings page for API keys is here.
            .configure(crate::api::configure)
            .route("/settings/api-keys", web::get().to(api::keys_page))
            .route("/settings/api-keys", web::post().to(api::create_key))
            .route(
                "/settings/api-keys/{id}/revoke",
                web::post().to(api::revoke_key),
            )
            // Agent workspace (issue 6): the mailbox view, conversation actions, search.
            .route("/mailboxes/{id}", web::get().to(mailbox_view::page))
            .route(
                "/conversations/bulk",
                web::post().to(conversation_actions::bulk),
            )
            .route(
                "/conversations/{id}/status",
                web::post().to(conversation_actions::status),
            )
            .route(
                "/conversations/{id}/assign",
                web::post().to(conversation_actions::assign),
            )
            .route(
                "/conversations/{id}/move",
                web::post().to(conversation_actions::move_to),
            )
            .route(
                "/conversations/{id}/merge",
                web::post().to(conversation_actions::merge),
            )
            .route(
                "/conversations/{id}/star",
                web::post().to(conversation_actions::star),
            )
            .route(
                "/conversations/{id}/follow",
                web::post().to(conversation_actions::follow),
            )
            .route(
                "/conversations/{id}/delete",
                web::post().to(conversation_actions::delete),
            )
            .route(
                "/conversations/{id}/restore",
                web::post().to(conversation_actions::restore),
            )
            .route("/search", web::get().to(search::page))
            // Modules (issue 7): the admin page, then module routes.
            .route("/settings/modules", web::get().to(modules_admin::list))
            .route(
                "/settings/modules/{name}/activate",
                web::post().to(modules_admin::activate),
            )
            .route(
                "/settings/modules/{name}/deactivate",
                web::post().to(modules_admin::deactivate),
            )
            .route(
                "/settings/modules/{name}/settings",
                web::post().to(modules_admin::save_settings),
            )
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
    let listener = bind(&state.config.listen)?;
    serve_on(listener, state).await
}

fn bind(addr: &str) -> Result<std::net::TcpListener, StartError> {
    std::net::TcpListener::bind(addr).map_err(|cause| StartError::Bind {
        addr: addr.to_string(),
        cause,
    })
}

/// Runs the web installer on the listen address until installing succeeds, then serves
/// the app on the same socket: connections that arrive during the switch wait in its
/// queue, and the process never restarts.
/// `on_installed` runs once with the new app state before the app serves (the caller
/// starts its background workers there).
pub async fn serve_installer(
    config: crate::Config,
    on_installed: impl FnOnce(&AppState) -> Result<(), StartError>,
) -> Result<(), StartError> {
    let listener = bind(&config.listen)?;
    let (tx, rx) = std::sync::mpsc::channel();
    let data_dir = config.data_dir.clone();
    let installer = crate::installer::Installer::new(config, tx)?;
    let setup_url = installer.setup_url();
    let server = HttpServer::new(move || {
        App::new()
            .wrap(security_headers())
            .wrap(tracing_actix())
            .configure(crate::installer::configure(
                installer.clone(),
                data_dir.clone(),
            ))
    })
    .workers(2)
    .listen(listener.try_clone()?)?
    .run();
    let handle = server.handle();
    let running = actix_web::rt::spawn(server);
    println!("Postdesk is not installed yet: open {setup_url} to set it up");
    let state = loop {
        match rx.try_recv() {
            Ok(state) => break state,
            Err(std::sync::mpsc::TryRecvError::Empty) if !running.is_finished() => {
                actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            // The installer stopped (a signal) before it finished.
            Err(_) => {
                return running
                    .await
                    .map_err(|e| StartError::Installer(e.to_string()))?
                    .map_err(StartError::Server);
            }
        }
    };
    on_installed(&state)?;
    // The app starts accepting on the same socket before the installer stops; meanwhile the
    // installer answers 307 to the same address, so no request is lost in the switch.
    let app = actix_web::rt::spawn(serve_on(listener, state));
    handle.stop(true).await;
    let _ = running.await;
    tracing::info!("installed; serving the app");
    app.await
        .map_err(|e| StartError::Installer(e.to_string()))?
}

async fn serve_on(listener: std::net::TcpListener, state: AppState) -> Result<(), StartError> {
    let addr = state.config.listen.clone();
    let url = state.config.public_url();
    // Nearly every blocking task needs a pooled connection, so more blocking threads than
    // connections only wait in the pool; actix's default (512 per process) let a burst of
    // requests start dozens of threads, each keeping an allocator arena's worth of freed
    // memory (docs/BENCHMARKS.md, memory).
    let blocking_threads = usize::try_from(state.config.database.pool_size)
        .unwrap_or(10)
        .max(2);
    let server = HttpServer::new(move || {
        App::new()
            .wrap(
                actix_web::middleware::ErrorHandlers::new()
                    .default_handler_client(error_pages::localized),
            )
            .wrap(security_headers())
            .wrap(Compress::default())
            .wrap(tracing_actix())
            .configure(configure(state.clone()))
    })
    .worker_max_blocking_threads(blocking_threads)
    .listen(listener)
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
