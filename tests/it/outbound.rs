//! Outbound mail against a real capture SMTP server, a real Dovecot and real databases:
//! the reply round trip, undo, retries, permanent failures, crash safety, auto-replies.

use std::process::Command;

use diesel::prelude::*;
use postdesk::conversations::reply::{self, ReplyInput, SendContext};
use postdesk::db::schema::{conversations, events, outbox, send_log, threads};
use postdesk::db::types::{ConversationStatus, MailSecurity, OutMethod, OutboxStatus, ThreadType};
use postdesk::db::{self, AnyConnection, Backend};
use postdesk::jobs::outbox::Sender;
use postdesk::mail::inbound::parse::parse;
use postdesk::mail::outbound::transport::Transports;
use postdesk::models::mailbox::OutboundChanges;
use postdesk::models::{mailbox, outbox as queue, user};
use postdesk::storage::FileStore;

use crate::inbound::{Env, conversation_of};
use crate::support::{BACKENDS, SmtpCapture, message};

fn use_smtp(env: &Env, port: u16) {
    mailbox::update_outbound(
        &mut env.conn(),
        env.mailbox_id,
        OutboundChanges {
            out_method: Some(OutMethod::Smtp.as_i16()),
            out_host: Some("127.0.0.1".into()),
            out_port: Some(i32::from(port)),
            out_security: Some(MailSecurity::None.as_i16()),
            signature: Some("<p>-- <br>{agent_name}, {mailbox_name}</p>".into()),
            ..OutboundChanges::default()
        },
    )
    .expect("smtp settings");
}

fn agent(conn: &mut AnyConnection) -> i64 {
    let now = db::now();
    user::create(
        conn,
        &user::NewUser {
            first_name: "Boris",
            last_name: "Agent",
            email: "boris@company.test",
            password_hash: "",
            role: 1,
            status: 1,
            locale: "en",
            timezone: "UTC",
            created_at: now,
            updated_at: now,
        },
    )
    .expect("agent")
}

/// A customer's message fetched into a new conversation, and an agent to answer it:
/// `(conversation, agent)`.
fn customer_wrote(env: &Env, from: &str, subject: &str, id: &str, body: &str) -> (i64, i64) {
    env.account
        .append("INBOX", &[message(from, subject, id, None, body)]);
    env.fetch();
    let mut conn = env.conn();
    (conversation_of(&mut conn, id), agent(&mut conn))
}

fn sender(env: &Env) -> Sender {
    Sender {
        pool: env.pool.clone(),
        secrets: env.secrets.clone(),
        files: FileStore::new(env.data.path()),
        worker: "test-sender".into(),
        hooks: None,
    }
}

fn ctx<'a>(env: &'a Env, files: &'a FileStore, undo_seconds: u32) -> SendContext<'a> {
    SendContext {
        secrets: &env.secrets,
        files,
        undo_seconds,
        hooks: None,
    }
}

fn header(raw: &[u8], name: &str) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut value = String::new();
    let mut lines = text.split("\r\n").peekable();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            break;
        }
        if let Some((n, v)) = line.split_once(':')
            && n.eq_ignore_ascii_case(name)
        {
            value = v.trim().to_string();
            while let Some(next) = lines.peek() {
                if next.starts_with(' ') || next.starts_with('\t') {
                    value.push(' ');
                    value.push_str(next.trim());
                    lines.next();
                } else {
                    break;
                }
            }
        }
    }
    value
}

fn status_of(conn: &mut AnyConnection, conversation_id: i64) -> i16 {
    conversations::table
        .find(conversation_id)
        .select(conversations::status)
        .first(conn)
        .expect("status")
}

#[test]
fn reply_round_trip_threads_back_and_reopens() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        let smtp = SmtpCapture::start();
        use_smtp(&env, smtp.port);
        env.account.append(
            "INBOX",
            &[message(
                "Anna <anna@customer.test>",
                "Printer on fire",
                "rt1@customer.test",
                None,
                "Help!",
            )],
        );
        assert_eq!(env.fetch().stored, 1);
        let mut conn = env.conn();
        let conv = conversation_of(&mut conn, "rt1@customer.test");
        let agent_id = agent(&mut conn);
        let files = FileStore::new(env.data.path());
        let saved = reply::reply(
            &mut conn,
            &ctx(&env, &files, 0),
            &ReplyInput {
                conversation_id: conv,
                user_id: agent_id,
                body_html: "<p>We are on it.</p><script>alert(1)</script>".into(),
                ..ReplyInput::default()
            },
        )
        .expect("reply saved");
        assert_eq!(
            sender(&env)
                .process_due(&mut Transports::default(), 10)
                .expect("send"),
            1,
            "{backend:?}"
        );
        let sent = smtp.messages();
        assert_eq!(sent.len(), 1, "{backend:?}");
        let raw = &sent[0];
        let mid = header(raw, "Message-ID");
        assert!(
            mid.starts_with("<pd.") && mid.ends_with("@company.test>"),
            "{mid}"
        );
        assert_eq!(header(raw, "In-Reply-To"), "<rt1@customer.test>");
        assert!(header(raw, "References").contains("<rt1@customer.test>"));
        assert_eq!(header(raw, "Subject"), "Re: Printer on fire");
        assert!(header(raw, "From").contains("support@company.test"));
        assert!(header(raw, "To").contains("anna@customer.test"));
        let parsed = parse(raw).expect("captured mail parses");
        let html = parsed.html.clone().unwrap_or_default();
        assert!(
            html.contains("We are on it.") && !html.contains("<script"),
            "sanitized: {html}"
        );
        assert!(
            parsed.text.contains("Boris Agent, Support"),
            "signature with variables: {}",
            parsed.text
        );
        // The conversation waits for the customer and belongs to the replying agent.
        assert_eq!(
            status_of(&mut conn, conv),
            ConversationStatus::Pending.as_i16()
        );
        let owner: Option<i64> = conversations::table
            .find(conv)
            .select(conversations::user_id)
            .first(&mut conn)
            .expect("owner");
        assert_eq!(owner, Some(agent_id));
        let row = queue::for_thread(&mut conn, saved.thread_id)
            .expect("q")
            .expect("row");
        assert_eq!(row.status, OutboxStatus::Sent.as_i16());
        let logged: Vec<String> = send_log::table
            .select(send_log::smtp_response)
            .load(&mut conn)
            .expect("log");
        assert!(logged.iter().any(|l| l.starts_with("250")), "{logged:?}");

        // The customer answers from a mail client; it threads back and reopens.
        let answer = format!(
            "From: Anna <anna@customer.test>\r\nTo: support@company.test\r\nSubject: Re: Printer on fire\r\nMessage-ID: <rt2@customer.test>\r\nIn-Reply-To: {mid}\r\nReferences: <rt1@customer.test> {mid}\r\n\r\nStill burning.\r\n"
        );
        env.account.append("INBOX", &[answer.into_bytes()]);
        assert_eq!(env.fetch().stored, 1);
        assert_eq!(
            conversation_of(&mut conn, "rt2@customer.test"),
            conv,
            "{backend:?}: threads back"
        );
        assert_eq!(
            status_of(&mut conn, conv),
            ConversationStatus::Active.as_i16(),
            "{backend:?}: reopened"
        );
    }
}

#[test]
fn undo_within_the_window_sends_nothing() {
    let env = Env::new(Backend::Sqlite);
    let smtp = SmtpCapture::start();
    use_smtp(&env, smtp.port);
    let (conv, agent_id) = customer_wrote(
        &env,
        "anna@customer.test",
        "Undo me",
        "u1@customer.test",
        "x",
    );
    let mut conn = env.conn();
    let files = FileStore::new(env.data.path());
    let input = ReplyInput {
        conversation_id: conv,
        user_id: agent_id,
        body_html: "<p>Oops</p>".into(),
        ..ReplyInput::default()
    };
    let saved = reply::reply(&mut conn, &ctx(&env, &files, 60), &input).expect("reply");
    assert_eq!(
        sender(&env)
            .process_due(&mut Transports::default(), 10)
            .expect("send"),
        0,
        "not due yet"
    );
    assert!(reply::undo(&mut conn, saved.thread_id).expect("undo"));
    let state: i16 = threads::table
        .find(saved.thread_id)
        .select(threads::state)
        .first(&mut conn)
        .expect("state");
    assert_eq!(
        state,
        postdesk::db::types::ConversationState::Draft.as_i16(),
        "back to an editable draft"
    );
    diesel::update(outbox::table)
        .set(outbox::due_at.eq(db::now()))
        .execute(&mut conn)
        .expect("make due");
    assert_eq!(
        sender(&env)
            .process_due(&mut Transports::default(), 10)
            .expect("send"),
        0
    );
    assert!(smtp.messages().is_empty(), "nothing is sent after undo");
    // Without a delay there is nothing to undo.
    let now = reply::reply(&mut conn, &ctx(&env, &files, 0), &input).expect("reply");
    assert!(
        !reply::undo(&mut conn, now.thread_id).expect("undo"),
        "too late"
    );
}

#[test]
fn a_server_that_is_down_gets_the_same_message_once_it_is_up() {
    let env = Env::new(Backend::Sqlite);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    use_smtp(&env, port);
    let (conv, agent_id) =
        customer_wrote(&env, "anna@customer.test", "Down", "d1@customer.test", "x");
    let mut conn = env.conn();
    let files = FileStore::new(env.data.path());
    let saved = reply::reply(
        &mut conn,
        &ctx(&env, &files, 0),
        &ReplyInput {
            conversation_id: conv,
            user_id: agent_id,
            body_html: "<p>Hello</p>".into(),
            ..ReplyInput::default()
        },
    )
    .expect("reply");
    let mut transports = Transports::default();
    assert_eq!(
        sender(&env).process_due(&mut transports, 10).expect("send"),
        1
    );
    let row = queue::for_thread(&mut conn, saved.thread_id)
        .expect("q")
        .expect("row");
    assert_eq!(row.status, OutboxStatus::Retrying.as_i16());
    assert!(
        row.due_at > db::now() + chrono::Duration::seconds(50),
        "backs off"
    );
    assert!(
        !row.last_error.is_empty(),
        "the error is kept for the thread"
    );
    let first_mime = row.mime.clone().expect("built once");
    // The server comes up; the back-off passes.
    let smtp = SmtpCapture::start_on(port);
    diesel::update(outbox::table)
        .set(outbox::due_at.eq(db::now()))
        .execute(&mut conn)
        .expect("due");
    assert_eq!(
        sender(&env)
            .process_due(&mut Transports::default(), 10)
            .expect("send"),
        1
    );
    let sent = smtp.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        header(&sent[0], "Message-ID"),
        format!("<{}>", row.message_id)
    );
    let row = queue::for_thread(&mut conn, saved.thread_id)
        .expect("q")
        .expect("row");
    assert_eq!(row.status, OutboxStatus::Sent.as_i16());
    assert_eq!(
        row.mime.as_deref(),
        Some(first_mime.as_slice()),
        "retries send the same bytes"
    );
    assert_eq!(row.attempts, 2);
}

#[test]
fn a_permanent_refusal_fails_visibly_and_can_be_retried() {
    let env = Env::new(Backend::Sqlite);
    let smtp = SmtpCapture::start();
    use_smtp(&env, smtp.port);
    let (conv, agent_id) = customer_wrote(
        &env,
        "reject-me@customer.test",
        "Bad address",
        "p1@customer.test",
        "x",
    );
    let mut conn = env.conn();
    let files = FileStore::new(env.data.path());
    let saved = reply::reply(
        &mut conn,
        &ctx(&env, &files, 0),
        &ReplyInput {
            conversation_id: conv,
            user_id: agent_id,
            body_html: "<p>Hi</p>".into(),
            ..ReplyInput::default()
        },
    )
    .expect("reply");
    sender(&env)
        .process_due(&mut Transports::default(), 10)
        .expect("send");
    let row = queue::for_thread(&mut conn, saved.thread_id)
        .expect("q")
        .expect("row");
    assert_eq!(row.status, OutboxStatus::Failed.as_i16());
    assert!(row.last_error.contains("550"), "{}", row.last_error);
    let failed: i64 = events::table
        .filter(events::kind.eq("send_failed"))
        .count()
        .get_result(&mut conn)
        .expect("events");
    assert_eq!(failed, 1, "the agent is told");
    assert!(smtp.messages().is_empty());
    assert!(queue::retry_now(&mut conn, saved.thread_id).expect("retry"));
    let row = queue::for_thread(&mut conn, saved.thread_id)
        .expect("q")
        .expect("row");
    assert_eq!(row.status, OutboxStatus::Queued.as_i16());
}

#[test]
fn a_crash_between_claim_and_send_sends_exactly_once() {
    let env = Env::new(Backend::Sqlite);
    let smtp = SmtpCapture::start();
    use_smtp(&env, smtp.port);
    let (conv, agent_id) =
        customer_wrote(&env, "anna@customer.test", "Crash", "c1@customer.test", "x");
    let mut conn = env.conn();
    let files = FileStore::new(env.data.path());
    reply::reply(
        &mut conn,
        &ctx(&env, &files, 0),
        &ReplyInput {
            conversation_id: conv,
            user_id: agent_id,
            body_html: "<p>Once</p>".into(),
            ..ReplyInput::default()
        },
    )
    .expect("reply");
    let serve = |crash: Option<&str>| {
        let addr = format!(
            "127.0.0.1:{}",
            std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("port")
                .port()
        );
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_postdesk"));
        cmd.args(["--data", &env.data.path().display().to_string(), "serve"])
            .env("POSTDESK_DATABASE_URL", &env.db.url)
            .env("POSTDESK_LISTEN", &addr)
            .env("POSTDESK_INSTALLED", "true")
            .env("POSTDESK_INBOUND_FETCH_IN_BACKGROUND", "false")
            .env("POSTDESK_OUTBOX_WORKERS", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if let Some(c) = crash {
            cmd.env("POSTDESK_CRASH_AT", c);
        }
        cmd.spawn().expect("serve")
    };
    let mut crashed = serve(Some("after_claim:1"));
    let status = crashed.wait().expect("wait");
    assert!(
        !status.success(),
        "the fault stops the process after the claim"
    );
    assert!(smtp.messages().is_empty());
    let row_status: i16 = outbox::table
        .select(outbox::status)
        .first(&mut conn)
        .expect("row");
    assert_eq!(
        row_status,
        OutboxStatus::Sending.as_i16(),
        "claimed by the dead process"
    );
    let mut again = serve(None);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while smtp.messages().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    let _ = again.kill();
    let _ = again.wait();
    assert_eq!(
        smtp.messages().len(),
        1,
        "sent exactly once after the restart"
    );
}

#[test]
fn auto_replies_go_to_people_once_an_hour() {
    let env = Env::new(Backend::Sqlite);
    let smtp = SmtpCapture::start();
    use_smtp(&env, smtp.port);
    mailbox::update_outbound(
        &mut env.conn(),
        env.mailbox_id,
        OutboundChanges {
            auto_reply_enabled: Some(true),
            auto_reply_subject: Some("We got your message [#{conversation_number}]".into()),
            auto_reply_body: Some("<p>Hello {customer_name}, we will answer soon.</p>".into()),
            ..OutboundChanges::default()
        },
    )
    .expect("auto-reply settings");
    let ooo = b"From: Bob <bob@other.test>\r\nTo: support@company.test\r\nSubject: Out of office\r\nMessage-ID: <ooo1@other.test>\r\nAuto-Submitted: auto-replied\r\n\r\nI am away.\r\n".to_vec();
    env.account.append(
        "INBOX",
        &[
            message(
                "Anna Petrova <anna@customer.test>",
                "First",
                "ar1@customer.test",
                None,
                "x",
            ),
            message(
                "Anna Petrova <anna@customer.test>",
                "Second",
                "ar2@customer.test",
                None,
                "y",
            ),
            ooo,
            b"From: News <list@news.test>\r\nTo: support@company.test\r\nSubject: News\r\nMessage-ID: <n1@news.test>\r\nList-Id: <news.news.test>\r\n\r\nNews.\r\n".to_vec(),
        ],
    );
    env.fetch();
    sender(&env)
        .process_due(&mut Transports::default(), 10)
        .expect("send");
    let sent = smtp.messages();
    assert_eq!(
        sent.len(),
        1,
        "one auto-reply: not twice within the hour, never to an auto-reply"
    );
    let raw = &sent[0];
    assert_eq!(header(raw, "Auto-Submitted"), "auto-replied");
    assert_eq!(header(raw, "In-Reply-To"), "<ar1@customer.test>");
    let parsed = parse(raw).expect("parses");
    assert!(
        parsed.subject.starts_with("We got your message [#"),
        "{}",
        parsed.subject
    );
    let text = parsed.text;
    assert!(text.contains("Hello Anna Petrova"), "{text}");
    let mut conn = env.conn();
    let ours: i64 = threads::table
        .filter(threads::thread_type.eq(ThreadType::Message.as_i16()))
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(
        ours, 1,
        "the auto-reply is shown in its conversation; list mail gets none"
    );
}

#[test]
fn agents_start_conversations_forward_and_log_calls() {
    use postdesk::conversations::outgoing::{self, NewOutgoing};
    let env = Env::new(Backend::Sqlite);
    let smtp = SmtpCapture::start();
    use_smtp(&env, smtp.port);
    let mut conn = env.conn();
    let agent_id = agent(&mut conn);
    let files = FileStore::new(env.data.path());
    let c = ctx(&env, &files, 0);
    let each = outgoing::start_conversation(
        &mut conn,
        &c,
        &NewOutgoing {
            mailbox_id: env.mailbox_id,
            user_id: agent_id,
            to: vec!["one@customer.test".into(), "two@customer.test".into()],
            subject: "Welcome aboard".into(),
            body_html: "<p>Hello!</p>".into(),
            one_each: true,
            ..NewOutgoing::default()
        },
    )
    .expect("start");
    assert_eq!(each.len(), 2, "one conversation each");
    let shared = outgoing::start_conversation(
        &mut conn,
        &c,
        &NewOutgoing {
            mailbox_id: env.mailbox_id,
            user_id: agent_id,
            to: vec!["one@customer.test".into(), "two@customer.test".into()],
            subject: "Both of you".into(),
            body_html: "<p>Hi all</p>".into(),
            ..NewOutgoing::default()
        },
    )
    .expect("start shared");
    assert_eq!(shared.len(), 1);
    sender(&env)
        .process_due(&mut Transports::default(), 10)
        .expect("send");
    let sent = smtp.messages();
    assert_eq!(sent.len(), 3);
    assert_eq!(
        header(&sent[0], "Subject"),
        "Welcome aboard",
        "no Re: on a new conversation"
    );
    assert!(header(&sent[0], "In-Reply-To").is_empty());
    assert!(
        header(&sent[2], "To").contains("one@customer.test")
            && header(&sent[2], "To").contains("two@customer.test")
    );

    // Forward to a colleague elsewhere; their answer threads back.
    let fwd = outgoing::forward(
        &mut conn,
        &c,
        each[0],
        None,
        agent_id,
        &["colleague@partner.test".into()],
        "<p>Can you help?</p>",
    )
    .expect("forward");
    sender(&env)
        .process_due(&mut Transports::default(), 10)
        .expect("send");
    let sent = smtp.messages();
    assert_eq!(sent.len(), 4);
    let forwarded = &sent[3];
    assert_eq!(header(forwarded, "Subject"), "Fwd: Welcome aboard");
    let text = parse(forwarded).expect("parses").text;
    assert!(
        text.contains("Can you help?")
            && text.contains("Forwarded message")
            && text.contains("Hello!"),
        "{text}"
    );
    let fwd_id = header(forwarded, "Message-ID");
    let answer = format!(
        "From: colleague@partner.test\r\nTo: support@company.test\r\nSubject: Re: Fwd: Welcome aboard\r\nMessage-ID: <col1@partner.test>\r\nIn-Reply-To: {fwd_id}\r\n\r\nSure.\r\n"
    );
    env.account.append("INBOX", &[answer.into_bytes()]);
    env.fetch();
    assert_eq!(conversation_of(&mut conn, "col1@partner.test"), each[0]);
    let _ = fwd;

    // A phone call is stored and never emailed.
    let before: i64 = outbox::table.count().get_result(&mut conn).expect("count");
    let phone = outgoing::log_phone(
        &mut conn,
        env.mailbox_id,
        agent_id,
        "caller@customer.test",
        "Carl Caller",
        "Called about the invoice",
        "<p>Wants a copy</p>",
    )
    .expect("phone");
    let after: i64 = outbox::table.count().get_result(&mut conn).expect("count");
    assert_eq!(before, after);
    let kind: i16 = conversations::table
        .find(phone)
        .select(conversations::conversation_type)
        .first(&mut conn)
        .expect("type");
    assert_eq!(kind, postdesk::db::types::ConversationType::Phone.as_i16());
}

/// Replaces what changes between runs (dates, our ids, MIME boundaries) with stable names.
fn redact(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw).replace("\r\n", "\n");
    let mut names: Vec<(String, String)> = Vec::new();
    let mut out = String::new();
    for line in text.lines() {
        let mut line = line.to_string();
        if line.starts_with("Date: ") {
            line = "Date: <date>".into();
        }
        for marker in ["boundary=\"", "<pd."] {
            while let Some(start) = line.find(marker) {
                let from = start + marker.len();
                let end = line[from..]
                    .find(['"', '>'])
                    .map(|e| from + e)
                    .unwrap_or(line.len());
                let value = line[from..end].to_string();
                if value.starts_with("BOUNDARY") || value.starts_with("ID") {
                    break;
                }
                let label = match names.iter().find(|(v, _)| *v == value) {
                    Some((_, l)) => l.clone(),
                    None => {
                        let l = format!(
                            "{}{}",
                            if marker == "<pd." { "ID" } else { "BOUNDARY" },
                            names.len() + 1
                        );
                        names.push((value.clone(), l.clone()));
                        l
                    }
                };
                line.replace_range(from..end, &label);
            }
        }
        for (value, label) in &names {
            if line.starts_with("--") {
                line = line.replace(value.as_str(), label);
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[test]
fn outgoing_mail_snapshots() {
    use postdesk::conversations::outgoing;
    use postdesk::mail::outbound::compose::compose;
    let env = Env::new(Backend::Sqlite);
    let mut conn = env.conn();
    mailbox::update_outbound(
        &mut conn,
        env.mailbox_id,
        OutboundChanges {
            auto_reply_enabled: Some(true),
            auto_reply_subject: Some("Received: #{conversation_number}".into()),
            auto_reply_body: Some("<p>Thanks, {customer_name}. We answer within a day.</p>".into()),
            signature: Some("<p>{agent_name}<br>{mailbox_name}</p>".into()),
            ..OutboundChanges::default()
        },
    )
    .expect("settings");
    env.account.append(
        "INBOX",
        &[message(
            "Anna Petrova <anna@customer.test>",
            "Printer on fire",
            "snap1@customer.test",
            None,
            "It burns.",
        )],
    );
    env.fetch();
    let conv = conversation_of(&mut conn, "snap1@customer.test");
    let agent_id = agent(&mut conn);
    let files = FileStore::new(env.data.path());
    let c = ctx(&env, &files, 0);
    reply::reply(
        &mut conn,
        &c,
        &ReplyInput {
            conversation_id: conv,
            user_id: agent_id,
            body_html: "<p>We are <b>on it</b>.</p>".into(),
            ..ReplyInput::default()
        },
    )
    .expect("reply");
    outgoing::forward(
        &mut conn,
        &c,
        conv,
        None,
        agent_id,
        &["colleague@partner.test".into()],
        "<p>FYI</p>",
    )
    .expect("forward");
    outgoing::start_conversation(
        &mut conn,
        &c,
        &outgoing::NewOutgoing {
            mailbox_id: env.mailbox_id,
            user_id: agent_id,
            to: vec!["new@customer.test".into()],
            subject: "Your invoice".into(),
            body_html: "<p>Attached.</p>".into(),
            files: vec![reply::NewFile {
                file_name: "invoice.txt".into(),
                mime_type: "text/plain".into(),
                data: b"Total: 10 EUR".to_vec(),
                content_id: String::new(),
            }],
            ..outgoing::NewOutgoing::default()
        },
    )
    .expect("new conversation");
    let rows: Vec<postdesk::models::outbox::OutboxRow> = outbox::table
        .order(outbox::id)
        .select(postdesk::models::outbox::OutboxRow::as_select())
        .load(&mut conn)
        .expect("rows");
    let names = ["auto_reply", "reply", "forward", "new_conversation"];
    assert_eq!(rows.len(), names.len());
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/outgoing");
    let bless = std::env::var("POSTDESK_BLESS").is_ok();
    let mut problems = Vec::new();
    for (row, name) in rows.iter().zip(names) {
        let composed = compose(&mut conn, &files, row).expect("compose");
        let got = redact(&composed.mime);
        let path = dir.join(format!("{name}.eml"));
        if bless {
            std::fs::create_dir_all(&dir).expect("dir");
            std::fs::write(&path, &got).expect("write snapshot");
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if got != want {
            problems.push(format!("{name}: snapshot differs from {}; run with POSTDESK_BLESS=1 after checking:\n{got}", path.display()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn module_filters_change_the_reply_that_is_sent() {
    let env = Env::new(Backend::Sqlite);
    let smtp = SmtpCapture::start();
    use_smtp(&env, smtp.port);
    crate::modules::install(
        env.data.path(),
        "satisfaction-ratings",
        "postdesk_satisfaction_ratings",
        "modules/satisfaction-ratings/module.toml",
    );
    let registry = postdesk::hooks::Registry::load(
        env.pool.clone(),
        env.data.path(),
        "https://desk.example.test",
        postdesk::hooks::HookOptions::default(),
    )
    .expect("modules load");
    let (conv, agent_id) = customer_wrote(
        &env,
        "anna@customer.test",
        "Rate us",
        "rate1@customer.test",
        "x",
    );
    let mut conn = env.conn();
    let files = FileStore::new(env.data.path());
    let c = SendContext {
        secrets: &env.secrets,
        files: &files,
        undo_seconds: 0,
        hooks: None,
    };
    reply::reply(
        &mut conn,
        &c,
        &ReplyInput {
            conversation_id: conv,
            user_id: agent_id,
            body_html: "<p>Fixed it.</p>".into(),
            ..ReplyInput::default()
        },
    )
    .expect("reply");
    let with_modules = Sender {
        hooks: Some(std::sync::Arc::new(registry)),
        ..sender(&env)
    };
    with_modules
        .process_due(&mut Transports::default(), 10)
        .expect("send");
    let sent = smtp.messages();
    assert_eq!(sent.len(), 1);
    let html = parse(&sent[0]).expect("parses").html.unwrap_or_default();
    assert!(
        html.contains("Fixed it.") && html.contains("How did we do?"),
        "{html}"
    );
    assert!(
        html.contains("https://desk.example.test/m/satisfaction-ratings/rate?"),
        "{html}"
    );
}

#[test]
fn a_module_can_veto_the_status_a_reply_would_set() {
    let env = Env::new(Backend::Sqlite);
    crate::modules::install(
        env.data.path(),
        "misbehaving",
        "postdesk_test_misbehaving",
        "tests/fixtures/modules/misbehaving/module.toml",
    );
    let registry = postdesk::hooks::Registry::load(
        env.pool.clone(),
        env.data.path(),
        "https://desk.example.test",
        postdesk::hooks::HookOptions::default(),
    )
    .expect("modules load");
    registry
        .set_setting("misbehaving", "mode", &serde_json::json!("answer"))
        .expect("mode");
    registry
        .set_setting(
            "misbehaving",
            "answer",
            &serde_json::json!(r#"{"allow":false,"reason":"frozen"}"#),
        )
        .expect("answer");
    let (conv, agent_id) = customer_wrote(
        &env,
        "anna@customer.test",
        "Keep open",
        "veto1@customer.test",
        "x",
    );
    let mut conn = env.conn();
    let files = FileStore::new(env.data.path());
    let input = ReplyInput {
        conversation_id: conv,
        user_id: agent_id,
        body_html: "<p>Closing this.</p>".into(),
        status_after: Some(ConversationStatus::Closed),
        ..ReplyInput::default()
    };
    let with_modules = SendContext {
        secrets: &env.secrets,
        files: &files,
        undo_seconds: 0,
        hooks: Some(&registry),
    };
    let saved = reply::reply(&mut conn, &with_modules, &input).expect("the reply itself is saved");
    assert_eq!(
        status_of(&mut conn, conv),
        ConversationStatus::Active.as_i16(),
        "the module kept it open"
    );
    assert!(
        queue::for_thread(&mut conn, saved.thread_id)
            .expect("q")
            .is_some(),
        "and the reply is queued"
    );
    reply::reply(&mut conn, &ctx(&env, &files, 0), &input).expect("reply without modules");
    assert_eq!(
        status_of(&mut conn, conv),
        ConversationStatus::Closed.as_i16()
    );
}

/// Runs `postdesk mailbox test-smtp` against `capture` with the given security and
/// trust; returns the command's output.
fn test_smtp(
    env: &Env,
    capture: &SmtpCapture,
    security: &str,
    password: &str,
    trust: &[(&str, &str)],
) -> std::process::Output {
    let pw = env.data.path().join("smtp-password");
    std::fs::write(&pw, format!("{password}\n")).expect("password file");
    let id = env.mailbox_id.to_string();
    let port = capture.port.to_string();
    let up = env.cli(
        &[
            "mailbox",
            "update",
            &id,
            "--smtp-host",
            "localhost",
            "--smtp-port",
            &port,
            "--smtp-security",
            security,
            "--smtp-user",
            "agent",
            "--smtp-password-file",
            &pw.display().to_string(),
        ],
        &[],
    );
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    env.cli(
        &["mailbox", "test-smtp", &id, "--to", "admin@customer.test"],
        trust,
    )
}

#[test]
fn sends_over_tls_and_starttls_with_authentication() {
    let env = Env::new(Backend::Sqlite);
    let cert = std::env::var("POSTDESK_TEST_IMAP_CERT").expect("tests/run sets the test CA");
    let trust = [("SSL_CERT_FILE", cert.as_str())];
    for mode in ["tls", "starttls"] {
        let capture = SmtpCapture::start_secure(mode);
        let out = test_smtp(&env, &capture, mode, "secret", &trust);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.starts_with("sent: 250"),
            "{mode}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mail = capture.wait_for(1);
        assert!(
            mail.contains("Subject: Postdesk test message"),
            "{mode}: {mail}"
        );

        // A wrong password: the server's refusal, named; nothing captured.
        let out = test_smtp(&env, &capture, mode, "wrong", &trust);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{mode}: a wrong password must fail");
        assert!(stderr.contains("535"), "{mode}: {stderr}");
        assert!(stderr.contains("not sent"), "{mode}: {stderr}");

        // A certificate nobody vouches for: refused before the password is sent.
        let empty = env.data.path().join("no-such-ca.pem");
        let untrusted = [("SSL_CERT_FILE", empty.to_str().expect("utf-8"))];
        let out = test_smtp(&env, &capture, mode, "secret", &untrusted);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{mode}: an untrusted certificate must fail"
        );
        assert!(
            stderr.to_lowercase().contains("certificate"),
            "{mode}: {stderr}"
        );
        assert_eq!(
            capture.messages().len(),
            1,
            "{mode}: only the good send arrived"
        );
    }
}
