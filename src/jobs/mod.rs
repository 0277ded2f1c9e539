//! Background work that runs inside `serve`: each kind in a file of its own.

pub mod events;
pub mod fetch;
pub mod idle;
pub mod notifications;
pub mod outbox;

/// Starts the background workers `serve` runs, as the configuration asks.
pub fn start_background(state: &crate::AppState) -> Result<(), crate::StartError> {
    let config = &state.config;
    let secrets = crate::crypto::Secrets::load_or_create(&config.data_dir)
        .map_err(|e| crate::StartError::Server(std::io::Error::other(e.to_string())))?;
    let files = crate::storage::FileStore::new(&config.data_dir);
    if config.inbound.fetch_in_background {
        fetch::spawn(crate::mail::inbound::fetch::Fetcher {
            pool: state.pool.clone(),
            secrets: secrets.clone(),
            files: files.clone(),
            reopen_within_days: config.inbound.reopen_within_days,
            worker: crate::lease::worker_name(),
            hooks: Some(state.hooks.clone()),
        })?;
    }
    if config.outbox.workers > 0 {
        let sender = outbox::Sender {
            pool: state.pool.clone(),
            secrets: secrets.clone(),
            files,
            worker: crate::lease::worker_name(),
            hooks: Some(state.hooks.clone()),
        };
        outbox::spawn(sender, config.outbox.workers)?;
    }
    notifications::spawn(notifications::Notifier {
        pool: state.pool.clone(),
        secrets,
        worker: crate::lease::worker_name(),
        app_url: config.app_url.clone(),
    })?;
    events::spawn(
        state.hooks.clone(),
        state.pool.clone(),
        crate::lease::worker_name(),
    )?;
    crate::api::webhooks::spawn(state.pool.clone(), crate::lease::worker_name())?;
    Ok(())
}
