//! IMAP IDLE watchers: one thread per mailbox whose server supports IDLE, waiting on the
//! first folder and waking the fetch loop the moment new mail arrives, so it appears
//! within seconds instead of at the next fetch interval.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::Duration;

use imap::extensions::idle::{WaitOutcome, stop_on_any};

use crate::crypto::Secrets;
use crate::mail::inbound::fetch::connect;
use crate::models::mailbox::InboundSettings;

/// How long one IDLE lasts before the watcher checks whether it should stop.
const IDLE_SLICE: Duration = Duration::from_secs(120);
/// Wait before reconnecting after an error.
const RECONNECT_AFTER: Duration = Duration::from_secs(30);

struct Watcher {
    fingerprint: String,
    stop: Arc<AtomicBool>,
}

/// The running watchers, kept in step with the mailboxes' settings.
#[derive(Default)]
pub struct IdleWatchers {
    running: HashMap<i64, Watcher>,
}

impl IdleWatchers {
    /// Starts watchers for new or changed mailboxes and stops those of removed or changed
    /// ones. `wake` receives a mailbox id when its server reports new mail.
    pub fn sync(&mut self, mailboxes: &[InboundSettings], secrets: &Secrets, wake: &Sender<i64>) {
        let wanted: HashMap<i64, (&InboundSettings, String)> = mailboxes
            .iter()
            .filter(|m| !m.in_host.trim().is_empty())
            .map(|m| (m.id, (m, fingerprint(m))))
            .collect();
        self.running.retain(|id, w| {
            let keep = wanted.get(id).is_some_and(|(_, f)| *f == w.fingerprint);
            if !keep {
                w.stop.store(true, Ordering::SeqCst);
            }
            keep
        });
        for (id, (settings, fingerprint)) in wanted {
            if self.running.contains_key(&id) {
                continue;
            }
            let stop = Arc::new(AtomicBool::new(false));
            let (settings, secrets, wake, flag) = (
                settings.clone(),
                secrets.clone(),
                wake.clone(),
                stop.clone(),
            );
            let spawned = std::thread::Builder::new()
                .name(format!("idle-{id}"))
                .spawn(move || watch(&settings, &secrets, &flag, &wake));
            match spawned {
                Ok(_) => {
                    self.running.insert(id, Watcher { fingerprint, stop });
                }
                Err(e) => {
                    tracing::warn!(mailbox.id = id, error = %e, "cannot start the IDLE watcher")
                }
            }
        }
    }
}

fn fingerprint(m: &InboundSettings) -> String {
    format!(
        "{}|{}|{}|{}|{}|{}",
        m.in_host, m.in_port, m.in_security, m.in_username, m.in_password, m.in_folders
    )
}

fn watch(settings: &InboundSettings, secrets: &Secrets, stop: &AtomicBool, wake: &Sender<i64>) {
    let folder = settings
        .folders()
        .into_iter()
        .next()
        .unwrap_or_else(|| "INBOX".into());
    while !stop.load(Ordering::SeqCst) {
        match idle_until_stopped(settings, secrets, &folder, stop, wake) {
            Ok(IdleEnd::Stopped) => return,
            Ok(IdleEnd::Unsupported) => {
                tracing::info!(
                    mailbox.id = settings.id,
                    "the IMAP server has no IDLE; polling only"
                );
                return;
            }
            Err(e) => {
                tracing::debug!(mailbox.id = settings.id, error = %e, "IDLE connection lost; reconnecting");
                std::thread::sleep(RECONNECT_AFTER);
            }
        }
    }
}

enum IdleEnd {
    Stopped,
    Unsupported,
}

fn idle_until_stopped(
    settings: &InboundSettings,
    secrets: &Secrets,
    folder: &str,
    stop: &AtomicBool,
    wake: &Sender<i64>,
) -> Result<IdleEnd, String> {
    let password = secrets
        .decrypt(&settings.in_password)
        .map_err(|e| e.to_string())?;
    let mut session = connect(settings, &password).map_err(|e| e.to_string())?;
    let caps = session.capabilities().map_err(|e| e.to_string())?;
    if !caps.has_str("IDLE") {
        let _ = session.logout();
        return Ok(IdleEnd::Unsupported);
    }
    session.examine(folder).map_err(|e| e.to_string())?;
    while !stop.load(Ordering::SeqCst) {
        let outcome = session
            .idle()
            .timeout(IDLE_SLICE)
            .keepalive(false)
            .wait_while(stop_on_any)
            .map_err(|e| e.to_string())?;
        if outcome == WaitOutcome::MailboxChanged && wake.send(settings.id).is_err() {
            return Ok(IdleEnd::Stopped);
        }
    }
    let _ = session.logout();
    Ok(IdleEnd::Stopped)
}
