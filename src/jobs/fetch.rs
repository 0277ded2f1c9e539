//! The background fetch: every few seconds, fetch each mailbox whose interval has passed.
//! Runs on a thread of its own (the IMAP client is blocking). Leases on `fetch_state`
//! keep several Postdesk processes from fetching the same folder at once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::mail::inbound::fetch::{FetchError, Fetcher, POLL_EVERY};
use crate::models::mailbox;

/// Starts the background fetch thread.
pub fn spawn(fetcher: Fetcher) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("fetch".into())
        .spawn(move || run(&fetcher))
}

fn run(fetcher: &Fetcher) {
    let mut last_run: HashMap<i64, Instant> = HashMap::new();
    loop {
        if let Err(e) = pass(fetcher, &mut last_run) {
            tracing::error!(error = %e, "background fetch: cannot read mailboxes");
        }
        std::thread::sleep(POLL_EVERY);
    }
}

fn pass(fetcher: &Fetcher, last_run: &mut HashMap<i64, Instant>) -> Result<(), FetchError> {
    let mailboxes = {
        let mut conn = fetcher.pool.get().map_err(crate::db::DbError::Pool)?;
        mailbox::all_inbound_settings(&mut conn)?
    };
    for m in mailboxes.iter().filter(|m| !m.in_host.trim().is_empty()) {
        let every = Duration::from_secs(u64::try_from(m.fetch_interval_secs.max(10)).unwrap_or(60));
        if last_run.get(&m.id).is_some_and(|at| at.elapsed() < every) {
            continue;
        }
        last_run.insert(m.id, Instant::now());
        match fetcher.fetch_mailbox(m.id, &|_| {}) {
            Ok(r) if r.stored + r.failed > 0 => {
                tracing::info!(
                    mailbox.id = m.id,
                    stored = r.stored,
                    failed = r.failed,
                    duplicates = r.duplicates,
                    "fetched"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(mailbox.id = m.id, error = %e, "fetch failed; will retry"),
        }
    }
    Ok(())
}
