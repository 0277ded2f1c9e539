//! Fetch: read new messages from each mailbox folder over IMAP by UID and take each one in
//! with the checkpoint moved in the same transaction. Server flags (seen, move) are touched
//! only after that commit, so a crash at any point loses nothing and a re-run duplicates
//! nothing. The IMAP client is blocking; callers run this on a thread of its own.

use std::time::Duration;

use imap::{ClientBuilder, ConnectionMode, TlsKind};

use crate::crypto::Secrets;
use crate::db::types::{AfterFetch, MailSecurity};
use crate::db::{DbError, DbPool};
use crate::mail::inbound::store::{InboundContext, Origin, Stored};
use crate::mail::inbound::{self, IngestError};
use crate::models::{fetch_state, ingest_failure, mailbox};
use crate::storage::FileStore;

/// How many messages one UID FETCH asks for, at most.
const CHUNK: usize = 200;
/// How many bytes of mail one UID FETCH asks for, at most (a single larger message is
/// fetched alone): with [`CHUNK`] this bounds memory on a large backlog.
const CHUNK_BYTES: u64 = 16 << 20;

/// Why a fetch stopped.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No such mailbox.
    #[error("mailbox {0} does not exist")]
    NoMailbox(i64),
    /// The mailbox has no IMAP server set.
    #[error("mailbox {0} has no incoming (IMAP) server configured")]
    NotConfigured(i64),
    /// Connecting or logging in failed; the server's own words are kept.
    #[error("IMAP {host}:{port}: {cause}")]
    Imap {
        /// Server.
        host: String,
        /// Port.
        port: i32,
        /// What the server or the network said.
        cause: String,
    },
    /// The database failed; nothing after the last committed message was consumed.
    #[error(transparent)]
    Database(#[from] DbError),
    /// The stored password cannot be decrypted.
    #[error(transparent)]
    Secret(#[from] crate::crypto::CryptoError),
    /// The raw copy could not be written (disk full?); the message stays on the server.
    #[error("cannot keep the raw message: {0}")]
    Disk(std::io::Error),
}

impl From<diesel::result::Error> for FetchError {
    fn from(e: diesel::result::Error) -> Self {
        FetchError::Database(DbError::Query(e))
    }
}

/// What one fetch of one mailbox did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FetchReport {
    /// Messages stored (new conversations plus replies).
    pub stored: usize,
    /// Messages seen before and skipped.
    pub duplicates: usize,
    /// Messages recorded in the ingestion log.
    pub failed: usize,
    /// Folders skipped because another process holds their lease.
    pub busy_folders: usize,
}

/// Progress of a fetch, for the command line.
#[derive(Debug, Clone)]
pub enum Progress<'a> {
    /// A folder has this many new messages.
    Folder {
        /// Folder name.
        folder: &'a str,
        /// New messages.
        total: usize,
    },
    /// This many of them are done.
    Done {
        /// Folder name.
        folder: &'a str,
        /// Done so far.
        done: usize,
        /// New messages in all.
        total: usize,
    },
}

/// Everything a fetch needs; cheap to clone into a worker thread.
#[derive(Debug, Clone)]
pub struct Fetcher {
    /// The database.
    pub pool: DbPool,
    /// The instance secret.
    pub secrets: Secrets,
    /// Attachment and raw-message files.
    pub files: FileStore,
    /// See [`InboundContext::reopen_within_days`].
    pub reopen_within_days: i64,
    /// This process's lease owner name.
    pub worker: String,
    /// Modules whose `message_before_threading` filters see each message.
    pub hooks: Option<std::sync::Arc<crate::hooks::Registry>>,
}

/// A logged-in IMAP session.
pub type ImapSession = imap::Session<imap::Connection>;

/// Opens and logs in an IMAP session with the mailbox's settings; errors carry the
/// server's real answer.
pub fn connect(
    settings: &mailbox::InboundSettings,
    password: &str,
) -> Result<ImapSession, FetchError> {
    let err = |cause: String| FetchError::Imap {
        host: settings.in_host.clone(),
        port: settings.in_port,
        cause,
    };
    let port =
        u16::try_from(settings.in_port).map_err(|_| err("the port must be 1-65535".into()))?;
    let mode = match settings.security() {
        MailSecurity::Tls => ConnectionMode::Tls,
        MailSecurity::StartTls => ConnectionMode::StartTls,
        MailSecurity::None => ConnectionMode::Plaintext,
    };
    let client = ClientBuilder::new(settings.in_host.as_str(), port)
        .mode(mode)
        .tls_kind(TlsKind::Rust)
        .connect()
        .map_err(|e| err(format!("cannot connect: {e}")))?;
    client
        .login(&settings.in_username, password)
        .map_err(|(e, _)| err(format!("login refused: {e}")))
}

/// Connects, logs in, lists folders and logs out: the "test connection" answer.
pub fn test_connection(
    settings: &mailbox::InboundSettings,
    secrets: &Secrets,
) -> Result<String, FetchError> {
    let password = secrets.decrypt(&settings.in_password)?;
    let mut session = connect(settings, &password)?;
    let mut found = Vec::new();
    for folder in settings.folders() {
        let mbox = session.examine(&folder).map_err(|e| FetchError::Imap {
            host: settings.in_host.clone(),
            port: settings.in_port,
            cause: format!("folder {folder:?}: {e}"),
        })?;
        found.push(format!("{folder}: {} messages", mbox.exists));
    }
    let _ = session.logout();
    Ok(format!("connected and logged in; {}", found.join(", ")))
}

impl Fetcher {
    /// Fetches every folder of one mailbox once.
    pub fn fetch_mailbox(
        &self,
        mailbox_id: i64,
        progress: &dyn Fn(Progress<'_>),
    ) -> Result<FetchReport, FetchError> {
        let mut conn = self.pool.get().map_err(DbError::Pool)?;
        let settings = mailbox::inbound_settings(&mut conn, mailbox_id)?
            .ok_or(FetchError::NoMailbox(mailbox_id))?;
        if settings.in_host.trim().is_empty() {
            return Err(FetchError::NotConfigured(mailbox_id));
        }
        let own = mailbox::own_addresses(&mut conn)?;
        let password = self.secrets.decrypt(&settings.in_password)?;
        let mut session = connect(&settings, &password)?;
        let ctx = InboundContext {
            secrets: &self.secrets,
            files: &self.files,
            own_addresses: &own,
            reopen_within_days: self.reopen_within_days,
            hooks: self.hooks.as_deref(),
        };
        let mut report = FetchReport::default();
        for folder in settings.folders() {
            let Some(state) = fetch_state::claim(&mut conn, mailbox_id, &folder, &self.worker)?
            else {
                report.busy_folders += 1;
                continue;
            };
            let result = self.fetch_folder(
                &mut conn,
                &mut session,
                &ctx,
                &settings,
                &state,
                &mut report,
                progress,
            );
            let error = match &result {
                Ok(()) => String::new(),
                Err(e) => e.to_string(),
            };
            fetch_state::release(&mut conn, state.id, &self.worker, &error)?;
            if let Err(e) = result {
                let _ = session.logout();
                return Err(e);
            }
        }
        let _ = session.logout();
        Ok(report)
    }

    #[allow(clippy::too_many_arguments)]
    fn fetch_folder(
        &self,
        conn: &mut crate::db::PooledConn,
        session: &mut ImapSession,
        ctx: &InboundContext<'_>,
        settings: &mailbox::InboundSettings,
        state: &fetch_state::FetchState,
        report: &mut FetchReport,
        progress: &dyn Fn(Progress<'_>),
    ) -> Result<(), FetchError> {
        let folder = state.folder.as_str();
        let imap_err = |cause: String| FetchError::Imap {
            host: settings.in_host.clone(),
            port: settings.in_port,
            cause: format!("folder {folder:?}: {cause}"),
        };
        let mbox = session
            .select(folder)
            .map_err(|e| imap_err(format!("cannot select: {e}")))?;
        let uidvalidity = i64::from(mbox.uid_validity.unwrap_or(0));
        let mut last_uid = state.last_uid;
        if state.uidvalidity != 0 && state.uidvalidity != uidvalidity {
            // The server renumbered the folder: read it again from the start; what we
            // already have is recognised as duplicate by content.
            tracing::warn!(
                mailbox.id = settings.id,
                folder,
                old = state.uidvalidity,
                new = uidvalidity,
                "UIDVALIDITY changed; re-scanning the folder"
            );
            last_uid = 0;
            fetch_state::advance(conn, state.id, uidvalidity, 0)?;
            fetch_state::flagged(conn, state.id, 0)?;
        } else if state.flagged_uid < last_uid {
            // Stored before a crash but not yet flagged or moved: finish that first.
            after_commit(
                session,
                settings,
                &format!("{}:{last_uid}", state.flagged_uid + 1),
            )
            .map_err(imap_err)?;
            fetch_state::flagged(conn, state.id, last_uid)?;
        }
        let found = session
            .uid_search(format!("UID {}:*", last_uid + 1))
            .map_err(|e| imap_err(format!("UID SEARCH failed: {e}")))?;
        // `n:*` always matches the highest UID, even when it is below n.
        let mut uids: Vec<u32> = found
            .into_iter()
            .filter(|u| i64::from(*u) > last_uid)
            .collect();
        uids.sort_unstable();
        let total = uids.len();
        progress(Progress::Folder { folder, total });
        let mut done = 0;
        for chunk in chunks(&uids, &message_sizes(session, &uids).map_err(imap_err)?) {
            let chunk = chunk.as_slice();
            let set = uid_set(chunk);
            let fetches = session
                .uid_fetch(&set, "(UID BODY.PEEK[])")
                .map_err(|e| imap_err(format!("UID FETCH failed: {e}")))?;
            let mut messages: Vec<(u32, &[u8])> = fetches
                .iter()
                .filter_map(|f| Some((f.uid?, f.body()?)))
                .collect();
            messages.sort_by_key(|(uid, _)| *uid);
            // Parse each message and ask the modules first, outside the transaction (a
            // module writing its storage would wait on the chunk's write lock). Then one
            // write transaction per chunk, a savepoint per message: every message still
            // commits together with the checkpoint that covers it, and a failed one rolls
            // back alone; committing a chunk at a time saves a WAL commit per message.
            let mut prepared = Vec::with_capacity(messages.len());
            for (uid, raw) in messages {
                let raw_path = self.files.put_raw(raw).map_err(FetchError::Disk)?;
                let origin = Origin {
                    mailbox: settings,
                    folder,
                    uidvalidity,
                    uid: i64::from(uid),
                    raw_path: &raw_path,
                };
                let ready = match inbound::prepare(conn, ctx, &origin, raw) {
                    Err(e) if is_database_down(&e) => return Err(into_fetch_error(e)),
                    other => other,
                };
                prepared.push((uid, raw_path, ready));
            }
            let handled = crate::db::dialect::write_transaction(conn, |c| {
                let mut handled = Vec::with_capacity(prepared.len());
                for (uid, raw_path, ready) in &prepared {
                    let uid = *uid;
                    crate::fault::crash_point("before_commit");
                    let origin = Origin {
                        mailbox: settings,
                        folder,
                        uidvalidity,
                        uid: i64::from(uid),
                        raw_path,
                    };
                    let checkpoint = |c: &mut crate::db::AnyConnection| {
                        fetch_state::advance(c, state.id, uidvalidity, i64::from(uid))
                    };
                    let failure = match ready {
                        Ok(p) => match inbound::store_prepared(c, ctx, &origin, p, checkpoint) {
                            Ok(Stored::Duplicate | Stored::OwnMessage) => {
                                report.duplicates += 1;
                                handled.push(uid);
                                continue;
                            }
                            Ok(_) => {
                                report.stored += 1;
                                handled.push(uid);
                                continue;
                            }
                            Err(e) if is_database_down(&e) => return Err(into_fetch_error(e)),
                            Err(e) => e.to_string(),
                        },
                        Err(e) => e.to_string(),
                    };
                    tracing::error!(mailbox.id = settings.id, folder, message.uid = uid, error = %failure, "message recorded in the ingestion log");
                    crate::db::dialect::write_transaction(c, |c| {
                        ingest_failure::record(
                            c,
                            settings.id,
                            folder,
                            uidvalidity,
                            i64::from(uid),
                            &failure,
                            raw_path,
                        )?;
                        checkpoint(c)
                    })?;
                    report.failed += 1;
                    handled.push(uid);
                }
                Ok::<_, FetchError>(handled)
            })?;
            for _ in &handled {
                crate::fault::crash_point("after_commit");
            }
            if let Some(&highest) = handled.last() {
                after_commit(session, settings, &uid_set(&handled)).map_err(imap_err)?;
                fetch_state::flagged(conn, state.id, i64::from(highest))?;
            }
            done += chunk.len();
            progress(Progress::Done {
                folder,
                done,
                total,
            });
            fetch_state::renew(conn, state.id, &self.worker)?;
        }
        Ok(())
    }
}

/// Flags or moves messages on the server once they are safely stored.
fn after_commit(
    session: &mut ImapSession,
    settings: &mailbox::InboundSettings,
    set: &str,
) -> Result<(), String> {
    match settings.after_fetch() {
        AfterFetch::Leave => Ok(()),
        AfterFetch::MarkSeen => session
            .uid_store(set, "+FLAGS.SILENT (\\Seen)")
            .map(|_| ())
            .map_err(|e| format!("cannot mark messages seen: {e}")),
        AfterFetch::Move => {
            let target = settings.in_move_folder.trim();
            if target.is_empty() {
                return Err("\"move after fetch\" is set but no folder is named".into());
            }
            session
                .uid_mv(set, target)
                .map_err(|e| format!("cannot move messages to {target:?}: {e}"))
        }
    }
}

/// The size of each message in `uids` (RFC822.SIZE), asked 5,000 at a time.
fn message_sizes(
    session: &mut ImapSession,
    uids: &[u32],
) -> Result<std::collections::HashMap<u32, u64>, String> {
    let mut sizes = std::collections::HashMap::with_capacity(uids.len());
    for part in uids.chunks(5000) {
        let fetches = session
            .uid_fetch(uid_set(part), "(UID RFC822.SIZE)")
            .map_err(|e| format!("UID FETCH RFC822.SIZE failed: {e}"))?;
        for f in fetches.iter() {
            if let (Some(uid), Some(size)) = (f.uid, f.size) {
                sizes.insert(uid, u64::from(size));
            }
        }
    }
    Ok(sizes)
}

/// Splits sorted `uids` into fetch chunks of at most [`CHUNK`] messages and
/// [`CHUNK_BYTES`] bytes (a message of unknown size counts as 64 KiB).
fn chunks(uids: &[u32], sizes: &std::collections::HashMap<u32, u64>) -> Vec<Vec<u32>> {
    let mut out: Vec<Vec<u32>> = Vec::new();
    let mut current: Vec<u32> = Vec::new();
    let mut bytes = 0;
    for &uid in uids {
        let size = sizes.get(&uid).copied().unwrap_or(64 << 10);
        if !current.is_empty() && (current.len() == CHUNK || bytes + size > CHUNK_BYTES) {
            out.push(std::mem::take(&mut current));
            bytes = 0;
        }
        current.push(uid);
        bytes += size;
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// A compact UID set: `1:5,8,10:12`.
pub fn uid_set(sorted: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    parts.join(",")
}

fn is_database_down(e: &IngestError) -> bool {
    use crate::mail::inbound::store::StoreError;
    matches!(
        e,
        IngestError::Store(StoreError::Database(
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ClosedConnection,
                _
            ) | diesel::result::Error::BrokenTransactionManager
        ))
    )
}

fn into_fetch_error(e: IngestError) -> FetchError {
    match e {
        IngestError::Store(crate::mail::inbound::store::StoreError::Database(d)) => {
            FetchError::from(d)
        }
        other => FetchError::Database(DbError::Migration(other.to_string())),
    }
}

/// How long the background worker waits between looks at which mailboxes are due.
pub const POLL_EVERY: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_bounded_by_count_and_bytes() {
        let uids: Vec<u32> = (1..=450).collect();
        let small: std::collections::HashMap<u32, u64> = uids.iter().map(|&u| (u, 2_000)).collect();
        let lens: Vec<usize> = chunks(&uids, &small).iter().map(Vec::len).collect();
        assert_eq!(lens, vec![200, 200, 50]);
        // 5 MB each: three fit in 16 MiB; a 40 MB message goes alone.
        let mut big: std::collections::HashMap<u32, u64> =
            (1..=7).map(|u| (u, 5_000_000)).collect();
        big.insert(4, 40_000_000);
        let split = chunks(&[1, 2, 3, 4, 5, 6, 7], &big);
        assert_eq!(split, vec![vec![1, 2, 3], vec![4], vec![5, 6, 7]]);
        assert!(chunks(&[], &big).is_empty());
    }

    #[test]
    fn uid_sets_are_compact() {
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(uid_set(&[4]), "4");
        assert_eq!(uid_set(&[]), "");
    }
}
