//! The background fetch: fetch each mailbox whose interval has passed, and at once when
//! an IDLE watcher reports new mail. Runs on a thread of its own (the IMAP client is
//! blocking). Leases on `fetch_state` keep several Postdesk processes from fetching the
//! same folder at once.

use std::collections::HashMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::idle::IdleWatchers;
use crate::mail::inbound::fetch::{FetchError, Fetcher, POLL_EVERY};
use crate::models::mailbox;

/// Starts the background fetch thread.
pub fn spawn(fetcher: Fetcher) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("fetch".into())
        .spawn(move || run(&fetcher))
}

fn run(fetcher: &Fetcher) {
    let (wake, woken) = mpsc::channel::<i64>();
    let mut watchers = IdleWatchers::default();
    let mut last_run: HashMap<i64, Instant> = HashMap::new();
    loop {
        match pass(fetcher, &mut last_run, &mut watchers, &wake) {
            Ok(()) => {}
            Err(e) => tracing::error!(error = %e, "background fetch: cannot read mailboxes"),
        }
        match woken.recv_timeout(POLL_EVERY) {
            // New mail: make the mailbox due now (and any others that woke meanwhile).
            Ok(id) => {
                last_run.remove(&id);
                for other in woken.try_iter() {
                    last_run.remove(&other);
                }
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {}
        }
    }
}

fn pass(
    fetcher: &Fetcher,
    last_run: &mut HashMap<i64, Instant>,
    watchers: &mut IdleWatchers,
    wake: &mpsc::Sender<i64>,
) -> Result<(), FetchError> {
    let mailboxes = {
        let mut conn = fetcher.pool.get().map_err(crate::db::DbError::Pool)?;
        mailbox::all_inbound_settings(&mut conn)?
    };
    watchers.sync(&mailboxes, &fetcher.secrets, wake);
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
