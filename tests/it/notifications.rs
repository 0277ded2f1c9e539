//! Agent notifications against real servers: mail fetched from Dovecot, replies refused by
//! a real capture SMTP server (550), notification mail captured by it, the web pages of a
//! running Postdesk, and delivery that survives a killed process.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use postdesk::conversations::assign::assign;
use postdesk::conversations::reply::{self, ReplyInput, SendContext};
use postdesk::db::schema::{conversations, event_cursors, notifications, threads};
use postdesk::db::types::{MailSecurity, MailboxAccess, OutMethod, UserRole};
use postdesk::db::{self, AnyConnection, Backend};
use postdesk::jobs::notifications::{CONSUMER, Notifier};
use postdesk::jobs::outbox::Sender;
use postdesk::mail::outbound::transport::Transports;
use postdesk::models::mailbox::OutboundChanges;
use postdesk::models::notification::{self, Kind};
use postdesk::models::system_settings::{self, SmtpSecurity, SmtpSettings};
use postdesk::models::{mailbox, mailbox_user, user};
use postdesk::storage::FileStore;

use crate::app::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, csrf_in};
use crate::authz_matrix::add_user;
use crate::inbound::{Env, conversation_of};
use crate::support::{SmtpCapture, message};

fn new_user(conn: &mut AnyConnection, first: &str, email: &str) -> i64 {
    let now = db::now();
    user::create(
        conn,
        &user::NewUser::active(first, "Agent", email, "", UserRole::Agent, now),
    )
    .expect("user")
}

fn grant(conn: &mut AnyConnection, user_id: i64, mailbox_id: i64) {
    mailbox_user::replace_grants(
        conn,
        user_id,
        &[(mailbox_id, MailboxAccess::Reply)],
        db::now(),
    )
    .expect("grant");
}

fn notifier(env: &Env, worker: &str) -> Notifier {
    Notifier {
        pool: env.pool.clone(),
        secrets: env.secrets.clone(),
        worker: worker.into(),
        app_url: "http://postdesk.test".into(),
    }
}

/// `(kind, in_app, email_status)` of every notification of `user_id`, oldest first.
fn of_user(conn: &mut AnyConnection, user_id: i64) -> Vec<(String, bool, i16)> {
    notifications::table
        .filter(notifications::user_id.eq(user_id))
        .order(notifications::id)
        .select((
            notifications::kind,
            notifications::in_app,
            notifications::email_status,
        ))
        .load(conn)
        .expect("notifications")
}

fn kinds(conn: &mut AnyConnection, user_id: i64) -> Vec<String> {
    of_user(conn, user_id).into_iter().map(|n| n.0).collect()
}

fn system_smtp(conn: &mut AnyConnection, port: u16) {
    system_settings::save_smtp(
        conn,
        &SmtpSettings {
            host: "127.0.0.1".into(),
            port,
            security: SmtpSecurity::None,
            from_email: "postdesk@company.test".into(),
            from_name: "Postdesk".into(),
            ..SmtpSettings::default()
        },
        db::now(),
    )
    .expect("system smtp");
}

fn header(raw: &[u8], name: &str) -> String {
    let parsed = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("parse captured mail");
    parsed
        .header_raw(name)
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Compares a notification mail (date and ids redacted) with
/// tests/fixtures/outgoing/NAME.eml; `POSTDESK_BLESS=1` writes it.
fn snapshot(name: &str, raw: &[u8]) {
    let text = String::from_utf8_lossy(raw).replace("\r\n", "\n");
    let mut ids: Vec<String> = Vec::new();
    let mut got = String::new();
    for line in text.lines() {
        let mut line = if line.starts_with("Date: ") {
            "Date: <date>".to_string()
        } else {
            line.to_string()
        };
        let mut from = 0;
        while let Some(start) = line[from..].find("<pdn.").map(|i| from + i) {
            let end = line[start..]
                .find('>')
                .map_or(line.len(), |e| start + e + 1);
            let id = line[start..end].to_string();
            let n = match ids.iter().position(|i| *i == id) {
                Some(n) => n + 1,
                None => {
                    ids.push(id);
                    ids.len()
                }
            };
            let label = format!("<ID{n}>");
            line.replace_range(start..end, &label);
            from = start + label.len();
        }
        got.push_str(&line);
        got.push('\n');
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/fixtures/outgoing/{name}.eml"));
    if std::env::var("POSTDESK_BLESS").is_ok() {
        std::fs::write(&path, &got).expect("write snapshot");
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        got,
        want,
        "snapshot differs from {}; run with POSTDESK_BLESS=1 after checking",
        path.display()
    );
}

#[test]
fn fetched_mail_notifies_users_with_access_as_they_chose() {
    for backend in [Backend::Sqlite, Backend::Mysql] {
        let env = Env::new(backend);
        let mut conn = env.conn();
        let anna = new_user(&mut conn, "Anna", "anna@company.test");
        let boris = new_user(&mut conn, "Boris", "boris@company.test");
        let carl = new_user(&mut conn, "Carl", "carl@company.test");
        let quiet = new_user(&mut conn, "Quiet", "quiet@company.test");
        grant(&mut conn, anna, env.mailbox_id);
        grant(&mut conn, boris, env.mailbox_id);
        grant(&mut conn, quiet, env.mailbox_id);
        // Boris wants mail about new conversations too; Quiet turned everything off.
        let mut chosen: Vec<(Kind, bool, bool)> = Kind::ALL
            .into_iter()
            .map(|k| {
                let (e, i) = k.default_pref();
                (k, e, i)
            })
            .collect();
        chosen[0] = (Kind::NewConversation, true, true);
        notification::save_prefs(&mut conn, boris, &chosen, db::now()).expect("prefs");
        let off: Vec<(Kind, bool, bool)> =
            Kind::ALL.into_iter().map(|k| (k, false, false)).collect();
        notification::save_prefs(&mut conn, quiet, &off, db::now()).expect("prefs off");

        env.account.append(
            "INBOX",
            &[message(
                "cust@customer.test",
                "Broken kettle",
                "k1@customer.test",
                None,
                "It leaks.",
            )],
        );
        env.fetch();
        let n = notifier(&env, "test-notifier");
        assert_eq!(n.deliver_round().expect("deliver"), 2, "{backend:?}");
        assert_eq!(
            of_user(&mut conn, anna),
            vec![("new_conversation".into(), true, notification::EMAIL_NONE)]
        );
        assert_eq!(
            of_user(&mut conn, boris),
            vec![("new_conversation".into(), true, notification::EMAIL_PENDING)]
        );
        assert!(
            kinds(&mut conn, carl).is_empty(),
            "no access, no notification"
        );
        assert!(
            kinds(&mut conn, quiet).is_empty(),
            "preferences off: nothing"
        );
        let summary: String = notifications::table
            .filter(notifications::user_id.eq(anna))
            .select(notifications::summary)
            .first(&mut conn)
            .expect("summary");
        assert!(summary.contains("It leaks."), "{summary}");

        // Unassigned → "replied to unassigned"; assigned to Anna by Boris → "assigned to
        // me" for Anna only; then "mine" for Anna and "other's" for Boris.
        let conv = conversation_of(&mut conn, "k1@customer.test");
        env.account.append(
            "INBOX",
            &[message(
                "cust@customer.test",
                "Re: Broken kettle",
                "k2@customer.test",
                Some("k1@customer.test"),
                "Still.",
            )],
        );
        env.fetch();
        assert!(assign(&mut conn, conv, Some(anna), Some(boris)).expect("assign"));
        env.account.append(
            "INBOX",
            &[message(
                "cust@customer.test",
                "Re: Broken kettle",
                "k3@customer.test",
                Some("k2@customer.test"),
                "Hello?",
            )],
        );
        env.fetch();
        n.deliver_round().expect("deliver");
        assert_eq!(
            kinds(&mut conn, anna),
            vec![
                "new_conversation",
                "customer_replied_unassigned",
                "assigned_to_me",
                "customer_replied_mine"
            ]
        );
        assert_eq!(
            kinds(&mut conn, boris),
            vec![
                "new_conversation",
                "customer_replied_unassigned",
                "customer_replied_other"
            ],
            "the one who assigned is not told"
        );
        assert!(kinds(&mut conn, carl).is_empty());
        assert!(kinds(&mut conn, quiet).is_empty());
        // Delivering again changes nothing (the cursor moved; the key guards repeats).
        assert_eq!(n.deliver_round().expect("again"), 0);
    }
}

#[test]
fn notes_mentioning_an_agent_notify_only_those_with_access() {
    let env = Env::new(Backend::Postgres);
    let mut conn = env.conn();
    let anna = new_user(&mut conn, "Anna", "anna@company.test");
    let boris = new_user(&mut conn, "Boris", "boris@company.test");
    let carl = new_user(&mut conn, "Carl", "carl@company.test");
    let dora = new_user(&mut conn, "Dora", "dora@company.test");
    grant(&mut conn, anna, env.mailbox_id);
    grant(&mut conn, boris, env.mailbox_id);
    grant(&mut conn, dora, env.mailbox_id);
    env.account.append(
        "INBOX",
        &[message(
            "cust@customer.test",
            "Refund",
            "r1@customer.test",
            None,
            "Money back",
        )],
    );
    env.fetch();
    let conv = conversation_of(&mut conn, "r1@customer.test");
    let n = notifier(&env, "test-notifier");
    n.deliver_round().expect("deliver");
    reply::note(
        &mut conn,
        conv,
        boris,
        "<p>@anna please check; cc @carl@company.test and @Boris. Mail dora@company.test</p>",
    )
    .expect("note");
    n.deliver_round().expect("deliver");
    assert_eq!(
        kinds(&mut conn, anna),
        vec!["new_conversation", "mentioned"]
    );
    assert_eq!(
        kinds(&mut conn, boris),
        vec!["new_conversation"],
        "the author mentioning himself is not told"
    );
    assert!(
        kinds(&mut conn, carl).is_empty(),
        "no access to the mailbox"
    );
    assert_eq!(
        kinds(&mut conn, dora),
        vec!["new_conversation"],
        "an address in the text is no mention"
    );
}

#[test]
fn a_refused_reply_notifies_its_author() {
    let env = Env::new(Backend::Sqlite);
    let smtp = SmtpCapture::start();
    let mut conn = env.conn();
    mailbox::update_outbound(
        &mut conn,
        env.mailbox_id,
        OutboundChanges {
            out_method: Some(OutMethod::Smtp.as_i16()),
            out_host: Some("127.0.0.1".into()),
            out_port: Some(i32::from(smtp.port)),
            out_security: Some(MailSecurity::None.as_i16()),
            ..OutboundChanges::default()
        },
    )
    .expect("smtp settings");
    let anna = new_user(&mut conn, "Anna", "anna@company.test");
    let boris = new_user(&mut conn, "Boris", "boris@company.test");
    grant(&mut conn, anna, env.mailbox_id);
    grant(&mut conn, boris, env.mailbox_id);
    env.account.append(
        "INBOX",
        &[message(
            "reject-me@customer.test",
            "Bad address",
            "f1@customer.test",
            None,
            "x",
        )],
    );
    env.fetch();
    let conv = conversation_of(&mut conn, "f1@customer.test");
    let files = FileStore::new(env.data.path());
    reply::reply(
        &mut conn,
        &SendContext {
            secrets: &env.secrets,
            files: &files,
            undo_seconds: 0,
            hooks: None,
        },
        &ReplyInput {
            conversation_id: conv,
            user_id: anna,
            body_html: "<p>Hi</p>".into(),
            ..ReplyInput::default()
        },
    )
    .expect("reply");
    Sender {
        pool: env.pool.clone(),
        secrets: env.secrets.clone(),
        files: FileStore::new(env.data.path()),
        worker: "test-sender".into(),
        hooks: None,
    }
    .process_due(&mut Transports::default(), 10)
    .expect("send");
    assert!(smtp.messages().is_empty(), "the server refused it (550)");
    notifier(&env, "test-notifier")
        .deliver_round()
        .expect("deliver");
    let failed: Vec<(String, String)> = notifications::table
        .filter(notifications::kind.eq("reply_failed"))
        .select((notifications::kind, notifications::summary))
        .load(&mut conn)
        .expect("rows");
    assert_eq!(failed.len(), 1, "only the author: {failed:?}");
    assert!(failed[0].1.contains("550"), "{failed:?}");
    assert!(kinds(&mut conn, anna).contains(&"reply_failed".to_string()));
    assert!(!kinds(&mut conn, boris).contains(&"reply_failed".to_string()));
}

#[test]
fn notification_mail_is_grouped_per_conversation_and_retried() {
    let env = Env::new(Backend::Sqlite);
    let mut conn = env.conn();
    let anna = new_user(&mut conn, "Anna", "anna@company.test");
    grant(&mut conn, anna, env.mailbox_id);
    let all_mail: Vec<(Kind, bool, bool)> =
        Kind::ALL.into_iter().map(|k| (k, true, true)).collect();
    notification::save_prefs(&mut conn, anna, &all_mail, db::now()).expect("prefs");
    // First the system SMTP server is down: the mail waits and is retried.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    system_smtp(&mut conn, port);
    env.account.append(
        "INBOX",
        &[message(
            "cust@customer.test",
            "Printer on fire",
            "m1@customer.test",
            None,
            "Help!",
        )],
    );
    env.fetch();
    let n = notifier(&env, "test-notifier");
    n.deliver_round().expect("deliver");
    assert_eq!(n.send_due().expect("send"), 0);
    let (status, attempts, next, error, mid): (
        i16,
        i32,
        Option<chrono::NaiveDateTime>,
        String,
        String,
    ) = notifications::table
        .select((
            notifications::email_status,
            notifications::email_attempts,
            notifications::email_next_at,
            notifications::email_error,
            notifications::message_id,
        ))
        .first(&mut conn)
        .expect("row");
    assert_eq!(
        (status, attempts),
        (notification::EMAIL_PENDING, 1),
        "{error}"
    );
    assert!(next.is_some() && !error.is_empty() && mid.starts_with("pdn."));
    assert_eq!(n.send_due().expect("not due yet"), 0);
    // The server comes up; the retry is due.
    let smtp = SmtpCapture::start_on(port);
    diesel::update(notifications::table)
        .set(notifications::email_next_at.eq(Some(db::now())))
        .execute(&mut conn)
        .expect("make due");
    assert_eq!(n.send_due().expect("send"), 1);
    // A customer reply: a second mail about the same conversation.
    env.account.append(
        "INBOX",
        &[message(
            "cust@customer.test",
            "Re: Printer on fire",
            "m2@customer.test",
            Some("m1@customer.test"),
            "Worse now.",
        )],
    );
    env.fetch();
    n.deliver_round().expect("deliver");
    assert_eq!(n.send_due().expect("send"), 1);
    let mails = smtp.messages();
    assert_eq!(mails.len(), 2);
    let number: i64 = conversations::table
        .find(conversation_of(&mut conn, "m1@customer.test"))
        .select(conversations::number)
        .first(&mut conn)
        .expect("number");
    let first_id = header(&mails[0], "Message-ID");
    let second_id = header(&mails[1], "Message-ID");
    assert_eq!(
        first_id,
        format!("<{mid}>"),
        "the id fixed before the first attempt"
    );
    assert_ne!(first_id, second_id);
    for raw in &mails {
        assert_eq!(
            header(raw, "Subject"),
            format!("[#{number}] Printer on fire")
        );
        assert_eq!(header(raw, "To"), "anna@company.test");
        assert!(header(raw, "From").contains("postdesk@company.test"));
        assert_eq!(header(raw, "Auto-Submitted"), "auto-generated");
    }
    let root = header(&mails[0], "In-Reply-To");
    assert!(
        root.starts_with("<pdn.c") && root.ends_with("@company.test>"),
        "{root}"
    );
    assert_eq!(
        header(&mails[1], "In-Reply-To"),
        root,
        "grouped per conversation"
    );
    assert_eq!(header(&mails[0], "References"), root);
    assert_eq!(header(&mails[1], "References"), root);
    let body = String::from_utf8_lossy(&mails[1]);
    assert!(body.contains("Worse now."), "{body}");
    assert!(
        body.contains("http://postdesk.test/notifications"),
        "{body}"
    );
    snapshot("notification", &mails[1]);
    // Nothing pending is left, and nothing is sent twice.
    assert_eq!(n.send_due().expect("idle"), 0);
    assert_eq!(smtp.messages().len(), 2);
}

#[test]
fn a_crash_mid_delivery_loses_no_event_and_duplicates_none() {
    let env = Env::new(Backend::Sqlite);
    let mut conn = env.conn();
    let anna = new_user(&mut conn, "Anna", "anna@company.test");
    grant(&mut conn, anna, env.mailbox_id);
    env.account.append(
        "INBOX",
        &[
            message("a@customer.test", "One", "c1@customer.test", None, "1"),
            message("b@customer.test", "Two", "c2@customer.test", None, "2"),
        ],
    );
    env.fetch();
    notifier(&env, "first").deliver_round().expect("deliver");
    assert_eq!(kinds(&mut conn, anna).len(), 2);
    env.account.append(
        "INBOX",
        &[message(
            "c@customer.test",
            "Three",
            "c3@customer.test",
            None,
            "3",
        )],
    );
    env.fetch();
    // A process died holding the cursor, after writing notifications it had not yet
    // moved the cursor past: the cursor is back at 0 and leased by a dead process.
    let mut child = std::process::Command::new("true").spawn().expect("spawn");
    let dead_pid = child.id();
    child.wait().expect("wait");
    let me = postdesk::lease::worker_name();
    let host = me.rsplitn(3, '/').nth(2).expect("host").to_string();
    let dead = format!("{host}/{dead_pid}/abcdef");
    diesel::update(event_cursors::table.filter(event_cursors::consumer.eq(CONSUMER)))
        .set((
            event_cursors::last_event_id.eq(0),
            event_cursors::locked_by.eq(Some(dead)),
            event_cursors::locked_until.eq(Some(db::now() + chrono::Duration::minutes(10))),
        ))
        .execute(&mut conn)
        .expect("simulate the crash");
    notifier(&env, "second")
        .deliver_round()
        .expect("after the crash");
    assert_eq!(
        kinds(&mut conn, anna),
        vec!["new_conversation", "new_conversation", "new_conversation"],
        "the missed event is delivered and the repeated ones are not doubled"
    );
}

/// `assign` from the test's own SQLite connection while the running app also writes:
/// a deferred transaction whose snapshot went stale gets SQLITE_BUSY at once (the busy
/// timeout does not apply), so the test retries like a client would.
fn assign_retrying(conn: &mut AnyConnection, conv: i64, to: Option<i64>, by: i64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match assign(conn, conv, to, Some(by)) {
            Ok(done) => return done,
            Err(e) if e.to_string().contains("locked") && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("assign: {e}"),
        }
    }
}

fn wait_for_count(conn: &mut AnyConnection, user_id: i64, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while kinds(conn, user_id).len() < n {
        assert!(Instant::now() < deadline, "notification {n} did not arrive");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_running_app_lists_notifications_saves_preferences_and_survives_a_restart() {
    let mut app = TestApp::installed(Backend::Sqlite);
    let mut conn = app.conn();
    let now = db::now();
    let mb = mailbox::create(
        &mut conn,
        &mailbox::NewMailbox {
            name: "Alpha",
            email: "alpha@example.com",
            created_at: now,
            updated_at: now,
        },
    )
    .expect("mailbox");
    let agent = add_user(&app, "agent@example.com", "agent");
    grant(&mut conn, agent, mb);
    let only_assigned: Vec<(Kind, bool, bool)> = Kind::ALL
        .into_iter()
        .map(|k| (k, false, k == Kind::AssignedToMe))
        .collect();
    notification::save_prefs(&mut conn, agent, &only_assigned, now).expect("prefs");
    crate::mail_admin::seed_mail(&mut conn, app.data.path(), mb, "n1");
    crate::mail_admin::seed_mail(&mut conn, app.data.path(), mb, "n2");
    let conv_of = |conn: &mut AnyConnection, tag: &str| -> i64 {
        threads::table
            .filter(threads::message_id.eq(format!("{tag}@customer.test")))
            .select(threads::conversation_id)
            .first(conn)
            .expect("conversation")
    };
    let c1 = conv_of(&mut conn, "n1");
    let c2 = conv_of(&mut conn, "n2");
    let admin_id: i64 = user::find_by_email(&mut conn, ADMIN_EMAIL)
        .expect("q")
        .expect("admin")
        .id;
    assert!(assign_retrying(&mut conn, c1, Some(agent), admin_id));
    wait_for_count(&mut conn, agent, 1);

    let client = app.client();
    assert_eq!(
        client.login("agent@example.com", "blue-harbour-17").status,
        303
    );
    let page = client.get("/notifications");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("A conversation was assigned to you"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Invoice n1"), "{}", page.body);
    assert!(
        page.body.contains("id=\"unread-count\">1<"),
        "{}",
        page.body
    );

    // Someone else's notification cannot be marked; one's own can.
    let token = csrf_in(&page.body);
    let id: i64 = notifications::table
        .filter(notifications::user_id.eq(agent))
        .select(notifications::id)
        .first(&mut conn)
        .expect("id");
    let admin = app.client();
    assert_eq!(admin.login(ADMIN_EMAIL, ADMIN_PASSWORD).status, 303);
    let admin_token = csrf_in(&admin.get("/notifications").body);
    let path = format!("/notifications/{id}/read");
    assert_eq!(
        admin.post(&path, &[("csrf_token", &admin_token)]).status,
        404
    );
    assert_eq!(client.post(&path, &[]).status, 403, "no CSRF token");
    assert_eq!(client.post(&path, &[("csrf_token", &token)]).status, 303);
    let page = client.get("/notifications");
    assert!(
        page.body.contains("id=\"no-notifications\""),
        "{}",
        page.body
    );
    assert!(!page.body.contains("id=\"unread-count\""));

    // Preferences: the profile shows the checkboxes; turning "assigned to me" off in the
    // app and on by mail stores a mail-only notification.
    let profile = client.get("/profile");
    assert!(
        profile.body.contains("name=\"in_app_assigned_to_me\""),
        "{}",
        profile.body
    );
    let token = csrf_in(&profile.body);
    let saved = client.post(
        "/profile/notifications",
        &[("csrf_token", &token), ("email_assigned_to_me", "1")],
    );
    assert_eq!(saved.status, 303);
    let prefs = notification::prefs(&mut conn, agent).expect("prefs");
    assert!(
        prefs
            .iter()
            .all(|p| (p.kind == "assigned_to_me") == p.email && !p.in_app)
    );

    // The server is killed and started again: the new process takes the cursor over at
    // once and delivers what happened meanwhile.
    app = app.restart("Postdesk is running: open http://");
    assert!(assign_retrying(&mut conn, c2, Some(agent), admin_id));
    wait_for_count(&mut conn, agent, 2);
    let rows = of_user(&mut conn, agent);
    assert_eq!(rows[1].0, "assigned_to_me");
    assert!(!rows[1].1, "not shown in the app");
    // No system mail is configured in this app: the mail is given up at once, not retried.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, error): (i16, String) = notifications::table
            .filter(notifications::user_id.eq(agent))
            .order(notifications::id.desc())
            .select((notifications::email_status, notifications::email_error))
            .first(&mut conn)
            .expect("row");
        if status == notification::EMAIL_FAILED {
            assert_eq!(error, postdesk::jobs::notifications::NOT_CONFIGURED);
            break;
        }
        assert!(Instant::now() < deadline, "mail still {status}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let client = app.client();
    client.login("agent@example.com", "blue-harbour-17");
    assert!(
        client
            .get("/notifications")
            .body
            .contains("id=\"no-notifications\"")
    );
}
