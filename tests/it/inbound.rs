//! Inbound mail against a real Dovecot and real databases: fetch, dedupe, crash safety,
//! UIDVALIDITY, the ingestion log, TLS, and the threading rules.

use std::process::Command;

use diesel::prelude::*;
use postdesk::crypto::Secrets;
use postdesk::db::schema::{conversations, customers, events, outbox, threads};
use postdesk::db::types::{ConversationStatus, MailSecurity, OutboxStatus, ThreadType};
use postdesk::db::{self, AnyConnection, Backend, DbPool};
use postdesk::mail::inbound::fetch::{FetchReport, Fetcher};
use postdesk::mail::inbound::store::{InboundContext, Origin, Stored};
use postdesk::mail::inbound::{ingest, retry_failure};
use postdesk::models::mailbox::{self, InboundChanges};
use postdesk::models::{ingest_failure, message_id as mid, thread};
use postdesk::storage::FileStore;

use crate::support::{BACKENDS, ImapAccount, TestDb, message};

pub(crate) struct Env {
    pub db: TestDb,
    pub data: tempfile::TempDir,
    pub pool: DbPool,
    pub account: ImapAccount,
    pub mailbox_id: i64,
    pub secrets: Secrets,
}

impl Env {
    pub fn new(backend: Backend) -> Env {
        let db = TestDb::new(backend);
        let data = tempfile::tempdir().expect("data dir");
        let pool = db::connect_pool(&db.url, 4).expect("pool");
        let mut conn = pool.get().expect("conn");
        db::run_migrations(&mut conn).expect("migrate");
        let secrets = Secrets::load_or_create(data.path()).expect("secret");
        let account = ImapAccount::new();
        let now = db::now();
        let mailbox_id = mailbox::create(
            &mut conn,
            &mailbox::NewMailbox {
                name: "Support",
                email: "support@company.test",
                created_at: now,
                updated_at: now,
            },
        )
        .expect("mailbox");
        mailbox::update(
            &mut conn,
            mailbox_id,
            InboundChanges {
                in_host: Some("127.0.0.1".into()),
                in_port: Some(i32::from(account.port)),
                in_security: Some(MailSecurity::None.as_i16()),
                in_username: Some(account.user.clone()),
                in_password: Some(secrets.encrypt(&account.password)),
                ..InboundChanges::default()
            },
        )
        .expect("settings");
        drop(conn);
        Env {
            db,
            data,
            pool,
            account,
            mailbox_id,
            secrets,
        }
    }

    pub fn fetcher(&self) -> Fetcher {
        Fetcher {
            pool: self.pool.clone(),
            secrets: self.secrets.clone(),
            files: FileStore::new(self.data.path()),
            reopen_within_days: 60,
            worker: "test-worker".into(),
            hooks: None,
        }
    }

    pub fn fetch(&self) -> FetchReport {
        self.fetcher()
            .fetch_mailbox(self.mailbox_id, &|_| {})
            .expect("fetch")
    }

    pub fn conn(&self) -> diesel::r2d2::PooledConnection<postdesk::db::ConnectionManager> {
        self.pool.get().expect("conn")
    }

    pub fn set(&self, changes: InboundChanges) {
        mailbox::update(&mut self.conn(), self.mailbox_id, changes).expect("update mailbox");
    }

    /// Runs the real binary against this environment's database and data directory.
    pub fn cli(&self, args: &[&str], extra_env: &[(&str, &str)]) -> std::process::Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_postdesk"));
        cmd.args(["--data", &self.data.path().display().to_string()])
            .args(args)
            .env("POSTDESK_DATABASE_URL", &self.db.url)
            .env_remove("POSTDESK_CRASH_AT");
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        cmd.output().expect("run postdesk")
    }
}

pub(crate) fn count_threads(conn: &mut AnyConnection, kind: ThreadType) -> i64 {
    threads::table
        .filter(threads::thread_type.eq(kind.as_i16()))
        .count()
        .get_result(conn)
        .expect("count")
}

fn count_conversations(conn: &mut AnyConnection) -> i64 {
    conversations::table
        .count()
        .get_result(conn)
        .expect("count")
}

pub(crate) fn conversation_of(conn: &mut AnyConnection, message_id: &str) -> i64 {
    threads::table
        .filter(threads::message_id.eq(message_id))
        .select(threads::conversation_id)
        .first(conn)
        .unwrap_or_else(|e| panic!("no thread for {message_id}: {e}"))
}

#[test]
fn fetch_threads_replies_and_never_duplicates() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        env.account.append(
            "INBOX",
            &[
                message(
                    "Anna <anna@customer.test>",
                    "Printer on fire",
                    "a1@customer.test",
                    None,
                    "It burns.",
                ),
                message(
                    "Bob <bob@other.test>",
                    "Help",
                    "b1@other.test",
                    None,
                    "Help me.",
                ),
                message(
                    "Anna <anna@customer.test>",
                    "Re: Printer on fire",
                    "a2@customer.test",
                    Some("a1@customer.test"),
                    "Still burning.",
                ),
                message(
                    "Carol <carol@third.test>",
                    "Help",
                    "c1@third.test",
                    None,
                    "Me too.",
                ),
            ],
        );
        let r = env.fetch();
        assert_eq!((r.stored, r.duplicates, r.failed), (4, 0, 0), "{backend:?}");
        let mut conn = env.conn();
        assert_eq!(
            count_conversations(&mut conn),
            3,
            "{backend:?}: a bare subject never threads"
        );
        assert_eq!(
            conversation_of(&mut conn, "a1@customer.test"),
            conversation_of(&mut conn, "a2@customer.test"),
            "{backend:?}: In-Reply-To threads"
        );
        assert_ne!(
            conversation_of(&mut conn, "b1@other.test"),
            conversation_of(&mut conn, "c1@third.test")
        );
        let n: i64 = customers::table
            .count()
            .get_result(&mut conn)
            .expect("customers");
        assert_eq!(n, 3, "{backend:?}: one customer per sender");
        let created: i64 = events::table
            .filter(events::kind.eq("conversation_created"))
            .count()
            .get_result(&mut conn)
            .expect("events");
        assert_eq!(
            created, 3,
            "{backend:?}: events are written with the messages"
        );

        // Nothing new: nothing happens. The same message delivered again is skipped.
        assert_eq!(env.fetch(), FetchReport::default(), "{backend:?}");
        env.account.append(
            "INBOX",
            &[message(
                "Anna <anna@customer.test>",
                "Printer on fire",
                "a1@customer.test",
                None,
                "It burns.",
            )],
        );
        let r = env.fetch();
        assert_eq!((r.stored, r.duplicates), (0, 1), "{backend:?}");
        // A different message reusing a Message-ID (broken sender) is kept.
        env.account.append(
            "INBOX",
            &[message(
                "Anna <anna@customer.test>",
                "Another thing",
                "a1@customer.test",
                None,
                "New text.",
            )],
        );
        assert_eq!(env.fetch().stored, 1, "{backend:?}");
        assert_eq!(
            count_threads(&mut conn, ThreadType::Customer),
            5,
            "{backend:?}"
        );
        // Left on the server untouched (the default): nothing was marked seen.
        assert!(
            env.account.seen_uids("INBOX").is_empty(),
            "{backend:?}: BODY.PEEK must not set \\Seen"
        );
    }
}

#[test]
fn a_crash_at_any_point_loses_nothing_and_duplicates_nothing() {
    // The real binary, killed by fault injection at each point, then run again.
    let cases: Vec<(Backend, &str)> = vec![
        (Backend::Sqlite, "before_commit:1"),
        (Backend::Sqlite, "before_commit:3"),
        (Backend::Sqlite, "after_commit:1"),
        (Backend::Sqlite, "after_commit:2"),
        (Backend::Sqlite, "after_commit:5"),
        (Backend::Postgres, "before_commit:2"),
        (Backend::Postgres, "after_commit:3"),
        (Backend::Mysql, "before_commit:4"),
        (Backend::Mysql, "after_commit:2"),
    ];
    for (backend, point) in cases {
        let env = Env::new(backend);
        env.set(InboundChanges {
            in_after_fetch: Some(postdesk::db::types::AfterFetch::MarkSeen.as_i16()),
            ..Default::default()
        });
        let msgs: Vec<Vec<u8>> = (1..=5)
            .map(|i| {
                message(
                    "Anna <anna@customer.test>",
                    &format!("Case {i}"),
                    &format!("m{i}@customer.test"),
                    None,
                    "x",
                )
            })
            .collect();
        env.account.append("INBOX", &msgs);
        let crashed = env.cli(&["fetch", "--once"], &[("POSTDESK_CRASH_AT", point)]);
        assert!(
            !crashed.status.success(),
            "{backend:?} {point}: the fault must stop the process"
        );
        let again = env.cli(&["fetch", "--once"], &[]);
        assert!(
            again.status.success(),
            "{backend:?} {point}: {}",
            String::from_utf8_lossy(&again.stderr)
        );
        let mut conn = env.conn();
        assert_eq!(
            count_threads(&mut conn, ThreadType::Customer),
            5,
            "{backend:?} {point}: every message exactly once"
        );
        assert_eq!(count_conversations(&mut conn), 5, "{backend:?} {point}");
        assert_eq!(
            env.account.seen_uids("INBOX"),
            vec![1, 2, 3, 4, 5],
            "{backend:?} {point}: flagged once stored"
        );
    }
}

#[test]
fn flags_and_moves_happen_only_for_stored_mail() {
    let env = Env::new(Backend::Sqlite);
    env.set(InboundChanges {
        in_after_fetch: Some(postdesk::db::types::AfterFetch::Move.as_i16()),
        in_move_folder: Some("Processed".into()),
        ..Default::default()
    });
    env.account.append("Processed", &[]);
    env.account.append(
        "INBOX",
        &[
            message("a@x.test", "One", "one@x.test", None, "1"),
            message("b@x.test", "Two", "two@x.test", None, "2"),
        ],
    );
    assert_eq!(env.fetch().stored, 2);
    assert_eq!(env.account.count("INBOX"), 0);
    assert_eq!(env.account.count("Processed"), 2);
    assert_eq!(env.fetch(), FetchReport::default());
}

#[test]
fn uidvalidity_change_rescans_without_duplicates() {
    let env = Env::new(Backend::Sqlite);
    env.set(InboundChanges {
        in_folders: Some(r#"["Support"]"#.into()),
        ..Default::default()
    });
    let first: Vec<Vec<u8>> = (1..=3)
        .map(|i| {
            message(
                "a@x.test",
                &format!("S{i}"),
                &format!("s{i}@x.test"),
                None,
                "x",
            )
        })
        .collect();
    env.account.append("Support", &first);
    assert_eq!(env.fetch().stored, 3);
    // Re-creating the folder gives it a new UIDVALIDITY and renumbers the same mail.
    let mut s = env.account.session();
    s.delete("Support").expect("delete folder");
    let _ = s.logout();
    let mut again = first.clone();
    again.push(message("a@x.test", "S4", "s4@x.test", None, "new"));
    env.account.append("Support", &again);
    let r = env.fetch();
    assert_eq!((r.stored, r.duplicates), (1, 3));
    assert_eq!(count_threads(&mut env.conn(), ThreadType::Customer), 4);
}

#[test]
fn a_week_old_backlog_is_fetched_completely() {
    let env = Env::new(Backend::Sqlite);
    env.account.append(
        "INBOX",
        &[message("a@x.test", "Before", "before@x.test", None, "x")],
    );
    assert_eq!(env.fetch().stored, 1);
    // A week offline: mail with old dates arrives meanwhile; the UID checkpoint finds all.
    let mut s = env.account.session();
    let week_ago = chrono::Utc::now().fixed_offset() - chrono::Duration::days(8);
    for i in 0..5 {
        let m = message(
            "a@x.test",
            &format!("Old {i}"),
            &format!("old{i}@x.test"),
            None,
            "x",
        );
        s.append("INBOX", &m)
            .internal_date(week_ago)
            .finish()
            .expect("append");
    }
    let _ = s.logout();
    assert_eq!(env.fetch().stored, 5);
}

#[test]
fn a_corrupt_message_is_logged_and_the_fetch_goes_on() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        env.account.append(
            "INBOX",
            &[
                message("a@x.test", "Good one", "g1@x.test", None, "x"),
                b"\r\n\r\n\x00\x01garbage without any header".to_vec(),
                message("b@x.test", "Good two", "g2@x.test", None, "y"),
            ],
        );
        let r = env.fetch();
        assert_eq!((r.stored, r.failed), (2, 1), "{backend:?}");
        let mut conn = env.conn();
        let open = ingest_failure::open(&mut conn, Some(env.mailbox_id)).expect("log");
        assert_eq!(open.len(), 1, "{backend:?}");
        assert_eq!(open[0].uid, 2);
        assert!(open[0].error.contains("cannot parse"), "{}", open[0].error);
        // The raw copy is kept; a retry fails again and says so, counting the attempt.
        let files = FileStore::new(env.data.path());
        assert!(retry_failure(&mut conn, &env.secrets, &files, 60, open[0].id).is_err());
        let after = ingest_failure::find(&mut conn, open[0].id)
            .expect("q")
            .expect("entry");
        assert_eq!(after.attempts, 2);
        let listed = env.cli(&["ingest", "list"], &[]);
        assert!(
            String::from_utf8_lossy(&listed.stdout).contains("uid 2"),
            "{listed:?}"
        );
        // The fetch ended in an error-free state and does not re-read the bad message.
        assert_eq!(env.fetch(), FetchReport::default());
    }
}

#[test]
fn retry_from_the_log_stores_the_message_once() {
    let env = Env::new(Backend::Sqlite);
    let mut conn = env.conn();
    let raw = message("a@x.test", "Stuck", "stuck@x.test", None, "x");
    let files = FileStore::new(env.data.path());
    let raw_path = files.put_raw(&raw).expect("raw");
    ingest_failure::record(
        &mut conn,
        env.mailbox_id,
        "INBOX",
        1,
        7,
        "database was locked",
        &raw_path,
    )
    .expect("log");
    let id = ingest_failure::open(&mut conn, None).expect("open")[0].id;
    let stored = retry_failure(&mut conn, &env.secrets, &files, 60, id).expect("retry works");
    assert!(matches!(stored, Stored::NewConversation { .. }));
    assert!(
        ingest_failure::open(&mut conn, None)
            .expect("open")
            .is_empty()
    );
    assert!(
        retry_failure(&mut conn, &env.secrets, &files, 60, id).is_err(),
        "resolved once"
    );
}

#[test]
fn cli_manages_mailboxes_and_fetches_over_tls_and_starttls() {
    let env = Env::new(Backend::Sqlite);
    let account = ImapAccount::new();
    account.append(
        "INBOX",
        &[message("a@x.test", "Over TLS", "tls1@x.test", None, "x")],
    );
    let pw = env.data.path().join("imap-password");
    std::fs::write(&pw, format!("{}\n", account.password)).expect("pw file");
    let tls_port = account.tls_port.to_string();
    let out = env.cli(
        &[
            "mailbox",
            "add",
            "--name",
            "Sales",
            "--email",
            "sales@company.test",
            "--imap-host",
            "localhost",
            "--imap-port",
            &tls_port,
            "--imap-security",
            "tls",
            "--imap-user",
            &account.user,
            "--imap-password-file",
            &pw.display().to_string(),
            "--imap-folder",
            "INBOX",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(id.parse::<i64>().is_ok(), "mailbox add prints the id: {id}");
    let cert = [("SSL_CERT_FILE", account.cert.as_str())];
    let fetched = env.cli(&["fetch", "--mailbox", &id, "--once"], &cert);
    assert!(
        fetched.status.success(),
        "{}",
        String::from_utf8_lossy(&fetched.stderr)
    );
    assert!(
        String::from_utf8_lossy(&fetched.stdout).contains("stored 1"),
        "{fetched:?}"
    );

    // STARTTLS on the plain port, with certificate verification.
    account.append(
        "INBOX",
        &[message(
            "a@x.test",
            "Over STARTTLS",
            "tls2@x.test",
            None,
            "x",
        )],
    );
    let port = account.port.to_string();
    let up = env.cli(
        &[
            "mailbox",
            "update",
            &id,
            "--imap-port",
            &port,
            "--imap-security",
            "starttls",
        ],
        &[],
    );
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let fetched = env.cli(&["fetch", "--mailbox", &id, "--once"], &cert);
    assert!(
        String::from_utf8_lossy(&fetched.stdout).contains("stored 1"),
        "{fetched:?}"
    );

    // A wrong password fails loudly with the server's answer, and the list shows the state.
    std::fs::write(&pw, "wrong").expect("pw");
    env.cli(
        &[
            "mailbox",
            "update",
            &id,
            "--imap-password-file",
            &pw.display().to_string(),
        ],
        &[],
    );
    let bad = env.cli(&["fetch", "--mailbox", &id, "--once"], &cert);
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("login refused") && stderr.contains("Authentication failed"),
        "{stderr}"
    );
    let list = env.cli(&["mailbox", "list"], &[]);
    let listing = String::from_utf8_lossy(&list.stdout);
    assert!(
        listing.contains("sales@company.test") && listing.contains("INBOX uid 2"),
        "{listing}"
    );
    assert!(
        !listing.contains("wrong") && !listing.contains(&account.password),
        "passwords are never shown"
    );

    let missing = env.cli(&["mailbox", "update", "999", "--name", "X"], &[]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("mailbox 999 does not exist"));
}

/// Stores raw messages directly (no IMAP) to check the threading rules.
struct Direct {
    env: Env,
    own: Vec<String>,
}

impl Direct {
    fn new(backend: Backend) -> Direct {
        let env = Env::new(backend);
        let own = mailbox::own_addresses(&mut env.conn()).expect("own");
        Direct { env, own }
    }

    fn put(&self, raw: &[u8]) -> Stored {
        let mut conn = self.env.conn();
        let settings = mailbox::inbound_settings(&mut conn, self.env.mailbox_id)
            .expect("q")
            .expect("mailbox");
        let files = FileStore::new(self.env.data.path());
        let ctx = InboundContext {
            secrets: &self.env.secrets,
            files: &files,
            own_addresses: &self.own,
            reopen_within_days: 60,
            hooks: None,
        };
        let origin = Origin {
            mailbox: &settings,
            folder: "",
            uidvalidity: 0,
            uid: 0,
            raw_path: "",
        };
        ingest(&mut conn, &ctx, &origin, raw, |_| Ok(())).expect("ingest")
    }
}

fn conv_id(s: Stored) -> i64 {
    match s {
        Stored::NewConversation {
            conversation_id, ..
        }
        | Stored::Appended {
            conversation_id, ..
        } => conversation_id,
        other => panic!("not stored: {other:?}"),
    }
}

#[test]
fn threading_rules() {
    for backend in BACKENDS {
        let d = Direct::new(backend);
        let first = conv_id(d.put(&message(
            "Anna <anna@customer.test>",
            "Printer",
            "t1@customer.test",
            None,
            "x",
        )));

        // Closed recently: a reply reopens it.
        let mut conn = d.env.conn();
        diesel::update(conversations::table.find(first))
            .set((
                conversations::status.eq(ConversationStatus::Closed.as_i16()),
                conversations::closed_at.eq(Some(db::now())),
            ))
            .execute(&mut conn)
            .expect("close");
        let s = d.put(&message(
            "anna@customer.test",
            "Re: Printer",
            "t2@customer.test",
            Some("t1@customer.test"),
            "again",
        ));
        assert!(matches!(s, Stored::Appended { .. }), "{backend:?}: {s:?}");
        let status: i16 = conversations::table
            .find(first)
            .select(conversations::status)
            .first(&mut conn)
            .expect("status");
        assert_eq!(
            status,
            ConversationStatus::Active.as_i16(),
            "{backend:?}: reopened"
        );

        // Closed long ago: a new conversation, linked by a line item.
        let old = db::now() - chrono::Duration::days(61);
        diesel::update(conversations::table.find(first))
            .set((
                conversations::status.eq(ConversationStatus::Closed.as_i16()),
                conversations::closed_at.eq(Some(old)),
            ))
            .execute(&mut conn)
            .expect("close");
        let s = d.put(&message(
            "anna@customer.test",
            "Re: Printer",
            "t3@customer.test",
            Some("t2@customer.test"),
            "months later",
        ));
        let follow = match s {
            Stored::NewConversation {
                conversation_id, ..
            } => conversation_id,
            other => panic!("{backend:?}: expected a follow-up, got {other:?}"),
        };
        assert_eq!(
            count_threads(&mut conn, ThreadType::LineItem),
            1,
            "{backend:?}: linked to #{first}"
        );
        let _ = follow;

        // A CC'd colleague answering joins, shown with the real sender.
        let cc = "From: Boris <boris@customer.test>\r\nTo: support@company.test\r\nCc: anna@customer.test\r\nSubject: Re: Printer\r\nMessage-ID: <t4@customer.test>\r\nIn-Reply-To: <t3@customer.test>\r\n\r\nI am Anna's colleague.\r\n";
        let s = d.put(cc.as_bytes());
        assert_eq!(conv_id(s), follow, "{backend:?}");
        let from: String = threads::table
            .filter(threads::message_id.eq("t4@customer.test"))
            .select(threads::from_email)
            .first(&mut conn)
            .expect("t4");
        assert_eq!(from, "boris@customer.test");

        // A forged id in our own format does not thread; a genuine one does.
        diesel::update(conversations::table.find(first))
            .set((
                conversations::status.eq(ConversationStatus::Pending.as_i16()),
                conversations::closed_at.eq(None::<chrono::NaiveDateTime>),
            ))
            .execute(&mut conn)
            .expect("pending");
        let t1_thread: i64 = threads::table
            .filter(threads::message_id.eq("t1@customer.test"))
            .select(threads::id)
            .first(&mut conn)
            .expect("t1");
        let ours = postdesk::mail::message_id::generate(&d.env.secrets, t1_thread, "company.test");
        let reply_thread = thread::add(
            &mut conn,
            &thread::NewThread {
                conversation_id: first,
                thread_type: ThreadType::Message.as_i16(),
                message_id: &ours,
                created_at: db::now(),
                updated_at: db::now(),
                ..Default::default()
            },
        )
        .expect("our reply");
        mid::record(
            &mut conn,
            &mid::NewMessageId {
                mailbox_id: d.env.mailbox_id,
                message_id: &ours,
                thread_id: reply_thread,
                conversation_id: first,
                created_at: db::now(),
            },
        )
        .expect("index");
        let forged = ours.replacen("pd.", "pd.9", 1);
        mid::record(
            &mut conn,
            &mid::NewMessageId {
                mailbox_id: d.env.mailbox_id,
                message_id: &forged,
                thread_id: reply_thread,
                conversation_id: first,
                created_at: db::now(),
            },
        )
        .expect("index forged");
        let s = d.put(&message(
            "eve@evil.test",
            "Re: x",
            "e1@evil.test",
            Some(&forged),
            "inject",
        ));
        assert!(
            matches!(s, Stored::NewConversation { .. }),
            "{backend:?}: forged ids never thread"
        );
        let s = d.put(&message(
            "anna@customer.test",
            "Re: Printer",
            "t5@customer.test",
            Some(&ours),
            "answer to the agent",
        ));
        assert_eq!(conv_id(s), first, "{backend:?}: our signed id threads");

        // A copy of our own reply coming back is not stored again.
        let own_copy = message(
            "support@company.test",
            "Re: Printer",
            &ours,
            None,
            "our text",
        );
        assert_eq!(d.put(&own_copy), Stored::OwnMessage, "{backend:?}");

        // A bounce of our reply marks it failed and joins its conversation.
        diesel::insert_into(outbox::table)
            .values((
                outbox::thread_id.eq(reply_thread),
                outbox::conversation_id.eq(first),
                outbox::mailbox_id.eq(d.env.mailbox_id),
                outbox::status.eq(OutboxStatus::Sent.as_i16()),
                outbox::due_at.eq(db::now()),
                outbox::created_at.eq(db::now()),
                outbox::updated_at.eq(db::now()),
            ))
            .execute(&mut conn)
            .expect("outbox row");
        let bounce = format!(
            "From: MAILER-DAEMON@mx.customer.test\r\nTo: support@company.test\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn1@mx.customer.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.customer.test\r\n\r\nFinal-Recipient: rfc822; anna@customer.test\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: support@company.test\r\nMessage-ID: <{ours}>\r\nSubject: Re: Printer\r\n--B--\r\n"
        );
        assert_eq!(conv_id(d.put(bounce.as_bytes())), first, "{backend:?}");
        let (status, error): (i16, String) = outbox::table
            .filter(outbox::thread_id.eq(reply_thread))
            .select((outbox::status, outbox::last_error))
            .first(&mut conn)
            .expect("outbox");
        assert_eq!(status, OutboxStatus::Failed.as_i16(), "{backend:?}");
        assert!(error.contains("550 5.1.1"), "{error}");
        let failed: i64 = events::table
            .filter(events::kind.eq("send_failed"))
            .count()
            .get_result(&mut conn)
            .expect("events");
        assert_eq!(failed, 1);
    }
}

#[test]
fn subject_token_threads_only_for_participants() {
    let d = Direct::new(Backend::Sqlite);
    d.env.set(InboundChanges {
        subject_token_threading: Some(true),
        ..Default::default()
    });
    let first = conv_id(d.put(&message(
        "anna@customer.test",
        "Printer",
        "s1@customer.test",
        None,
        "x",
    )));
    let number: i64 = conversations::table
        .find(first)
        .select(conversations::number)
        .first(&mut d.env.conn())
        .expect("n");
    let subject = format!("Re: Printer [#{number}]");
    assert_eq!(
        conv_id(d.put(&message(
            "anna@customer.test",
            &subject,
            "s2@customer.test",
            None,
            "by token"
        ))),
        first
    );
    let s = d.put(&message(
        "mallory@evil.test",
        &subject,
        "s3@evil.test",
        None,
        "not a participant",
    ));
    assert!(matches!(s, Stored::NewConversation { .. }), "{s:?}");
}

#[test]
fn serve_fetches_new_mail_within_seconds_through_idle() {
    let env = Env::new(Backend::Sqlite);
    // An hour between polls: only IDLE can bring the second message in quickly.
    env.set(InboundChanges {
        fetch_interval_secs: Some(3600),
        ..Default::default()
    });
    env.account.append(
        "INBOX",
        &[message(
            "a@x.test",
            "Before start",
            "idle0@x.test",
            None,
            "x",
        )],
    );
    let addr = format!(
        "127.0.0.1:{}",
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_postdesk"))
        .args(["--data", &env.data.path().display().to_string(), "serve"])
        .env("POSTDESK_DATABASE_URL", &env.db.url)
        .env("POSTDESK_LISTEN", &addr)
        .env("POSTDESK_INSTALLED", "true")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start serve");
    let wait_for = |id: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let n: i64 = threads::table
                .filter(threads::message_id.eq(id))
                .count()
                .get_result(&mut env.conn())
                .unwrap_or(0);
            if n == 1 {
                return Some(std::time::Instant::now());
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    let first = wait_for("idle0@x.test");
    // Give the IDLE watcher a moment to connect, then deliver.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let sent = std::time::Instant::now();
    env.account.append(
        "INBOX",
        &[message(
            "b@x.test",
            "While running",
            "idle1@x.test",
            None,
            "y",
        )],
    );
    let arrived = wait_for("idle1@x.test");
    let _ = child.kill();
    let _ = child.wait();
    assert!(first.is_some(), "serve fetches at start");
    let took = arrived
        .expect("the new message arrives while serve runs")
        .duration_since(sent);
    assert!(
        took < std::time::Duration::from_secs(15),
        "new mail took {took:?}; IDLE should wake the fetch"
    );
    assert_eq!(count_threads(&mut env.conn(), ThreadType::Customer), 2);
}

/// Another writer committing all the time (as `serve`'s other workers do) must not make the
/// fetch fail with "database is locked": each fetch chunk takes SQLite's write lock up front
/// instead of upgrading a read snapshot another commit has made stale.
#[test]
fn a_fetch_beside_a_busy_writer_stores_everything() {
    let env = Env::new(Backend::Sqlite);
    let messages: Vec<Vec<u8>> = (0..600)
        .map(|i| {
            message(
                &format!("c{}@x.test", i % 50),
                &format!("Busy {i}"),
                &format!("busy-{i}@x.test"),
                None,
                "hello",
            )
        })
        .collect();
    env.account.append("INBOX", &messages);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let pool = env.pool.clone();
        let id = env.mailbox_id;
        std::thread::spawn(move || {
            let mut conn = pool.get().expect("conn");
            let mut commits = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                diesel::update(postdesk::db::schema::mailboxes::table.find(id))
                    .set(postdesk::db::schema::mailboxes::updated_at.eq(db::now()))
                    .execute(&mut conn)
                    .expect("the other writer");
                commits += 1;
            }
            commits
        })
    };
    let report = env.fetcher().fetch_mailbox(env.mailbox_id, &|_| {});
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let commits = writer.join().expect("writer thread");
    let report = report.expect("the fetch must not fail beside another writer");
    assert!(commits > 0, "the other writer never committed");
    assert_eq!((report.stored, report.failed), (600, 0), "{report:?}");
    let stored: i64 = threads::table
        .count()
        .get_result(&mut env.conn())
        .expect("count");
    assert_eq!(stored, 600);
}
