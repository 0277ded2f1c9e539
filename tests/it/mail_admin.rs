//! The mail admin pages and mail downloads over HTTP against the real binary: mailbox
//! settings with "Test connection" against the real Dovecot and "Send test email" into a
//! real capture SMTP server, the ingestion log's Retry, attachment and "Show original"
//! downloads with their safety headers and mailbox access.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use diesel::prelude::*;
use postdesk::crypto::Secrets;
use postdesk::db::schema::{attachments, conversations, mailboxes, users};
use postdesk::db::types::MailboxAccess;
use postdesk::db::{AnyConnection, Backend};
use postdesk::mail::inbound::ingest;
use postdesk::mail::inbound::store::{InboundContext, Origin, Stored};
use postdesk::models::{ingest_failure, mailbox, mailbox_user};
use postdesk::storage::FileStore;

use crate::app::{ADMIN_EMAIL, ADMIN_PASSWORD, Client, TestApp, csrf_in};
use crate::authz_matrix::add_user;
use crate::support::SmtpCapture;
use crate::support::{BACKENDS, ImapAccount, message};

/// The password agents made here use.
const PASSWORD: &str = "blue-harbour-17";

/// What [`seed_mail`] stored.
pub(crate) struct Seeded {
    pub thread_id: i64,
    pub raw: Vec<u8>,
    pub png_id: i64,
    pub svg_id: i64,
}

/// The PNG attachment's bytes (a PNG signature and some filler).
const PNG_BYTES: &[u8] = b"\x89PNG\r\n\x1a\nfake-png-bytes";

/// Takes in one customer message with a PNG (non-ASCII name) and an SVG attachment into
/// `mailbox_id`, exactly as fetching would (raw copy kept in the app's data directory).
pub(crate) fn seed_mail(
    conn: &mut AnyConnection,
    data_dir: &Path,
    mailbox_id: i64,
    tag: &str,
) -> Seeded {
    let raw = format!(
        "From: Carol <carol@customer.test>\r\nTo: box@example.com\r\nSubject: Invoice {tag}\r\n\
Message-ID: <{tag}@customer.test>\r\nDate: Mon, 6 Jan 2025 10:00:00 +0300\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlease see the attached files.\r\n\
--b1\r\nContent-Type: image/png; name=\"pic.png\"\r\n\
Content-Disposition: attachment; filename*=UTF-8''%D1%81%D1%87%D1%91%D1%82%20%E2%84%961.png\r\n\
Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgpmYWtlLXBuZy1ieXRlcw==\r\n\
--b1\r\nContent-Type: image/svg+xml; name=\"evil.svg\"\r\nContent-Disposition: attachment; filename=\"evil.svg\"\r\n\r\n\
<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>\r\n\
--b1--\r\n"
    )
    .into_bytes();
    let files = FileStore::new(data_dir);
    let secrets = Secrets::load_or_create(data_dir).expect("secret");
    let raw_path = files.put_raw(&raw).expect("raw copy");
    let settings = mailbox::inbound_settings(conn, mailbox_id)
        .expect("query")
        .expect("mailbox");
    let own = mailbox::own_addresses(conn).expect("own");
    let ctx = InboundContext {
        secrets: &secrets,
        files: &files,
        own_addresses: &own,
        reopen_within_days: 60,
        hooks: None,
    };
    let origin = Origin {
        mailbox: &settings,
        folder: "INBOX",
        uidvalidity: 1,
        uid: 1,
        raw_path: &raw_path,
    };
    let (conversation_id, thread_id) = match ingest(conn, &ctx, &origin, &raw, |_| Ok(())) {
        Ok(Stored::NewConversation {
            conversation_id,
            thread_id,
        }) => (conversation_id, thread_id),
        other => panic!("not stored as a new conversation: {other:?}"),
    };
    let rows: Vec<(i64, String)> = attachments::table
        .filter(attachments::conversation_id.eq(conversation_id))
        .select((attachments::id, attachments::mime_type))
        .load(conn)
        .expect("attachments");
    let id_of = |mime: &str| {
        rows.iter()
            .find(|(_, m)| m == mime)
            .unwrap_or_else(|| panic!("no {mime} attachment in {rows:?}"))
            .0
    };
    Seeded {
        thread_id,
        raw,
        png_id: id_of("image/png"),
        svg_id: id_of("image/svg+xml"),
    }
}

/// A raw GET with only the given session: status, headers (lower-case names), body bytes.
fn download(app: &TestApp, path: &str, session: &str) -> (u16, HashMap<String, String>, Vec<u8>) {
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let r = match agent
        .get(&format!("{}{path}", app.base))
        .set("Cookie", &format!("pd_session={session}"))
        .call()
    {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {path}: {e}"),
    };
    let status = r.status();
    let headers = r
        .headers_names()
        .into_iter()
        .map(|n| {
            let v = r.header(&n).unwrap_or_default().to_string();
            (n.to_ascii_lowercase(), v)
        })
        .collect();
    let mut body = Vec::new();
    r.into_reader().read_to_end(&mut body).expect("body");
    (status, headers, body)
}

fn session_of(c: &Client, email: &str, password: &str) -> String {
    c.login(email, password)
        .cookie("pd_session")
        .expect("session cookie")
}

pub(crate) fn new_mailbox(conn: &mut AnyConnection, name: &str, email: &str) -> i64 {
    let now = postdesk::db::now();
    mailbox::create(
        conn,
        &mailbox::NewMailbox {
            name,
            email,
            created_at: now,
            updated_at: now,
        },
    )
    .expect("mailbox")
}

/// The whole mailbox form, as a browser sends it.
fn form(fields: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = [
        ("name", "Support"),
        ("email", "support@company.test"),
        ("aliases", "help@company.test"),
        ("in_host", "127.0.0.1"),
        ("in_port", "143"),
        ("in_security", "none"),
        ("in_username", ""),
        ("in_password", ""),
        ("in_folders", "INBOX"),
        ("in_after_fetch", "leave"),
        ("in_move_folder", ""),
        ("fetch_interval", "60"),
        ("out_method", "smtp"),
        ("out_host", "127.0.0.1"),
        ("out_port", "25"),
        ("out_security", "none"),
        ("out_username", ""),
        ("out_password", ""),
        ("from_name_mode", "custom"),
        ("from_name_custom", "{agent} at {mailbox}"),
        ("signature", "<p>Thanks, the team</p>"),
        ("auto_reply_subject", "We got your mail"),
        ("auto_reply_body", "<p>We will answer soon.</p>"),
        ("auto_bcc", ""),
        ("status_after_reply", "pending"),
        ("assign_after_reply", "replier"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in fields {
        match f.iter_mut().find(|(fk, _)| fk == k) {
            Some(slot) => slot.1 = v.to_string(),
            None => f.push((k.to_string(), v.to_string())),
        }
    }
    f
}

fn post_form(c: &Client, from: &str, path: &str, fields: &[(String, String)]) -> crate::app::Resp {
    let token = csrf_in(&c.get(from).body);
    let mut all: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
    all.extend(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    c.post(path, &all)
}

#[test]
fn mailbox_form_saves_all_or_nothing_and_tests_imap_against_dovecot() {
    for backend in BACKENDS {
        mailbox_form_on(backend);
    }
}

fn mailbox_form_on(backend: Backend) {
    let app = TestApp::installed(backend);
    let account = ImapAccount::new();
    let admin = app.client();
    admin.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    let port = account.port.to_string();

    // Bad input: the form comes back with one message per field and nothing is written.
    let bad = post_form(
        &admin,
        "/settings/mailboxes/new",
        "/settings/mailboxes",
        &form(&[
            ("email", "not-an-address"),
            ("in_port", "99999"),
            ("in_after_fetch", "move"),
            ("in_username", &account.user),
            ("in_password", &account.password),
        ]),
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    for id in ["err-email", "err-in_port", "err-in_move_folder"] {
        assert!(
            bad.body.contains(&format!("id=\"{id}\"")),
            "{id}: {}",
            bad.body
        );
    }
    assert!(
        bad.body.contains("value=\"not-an-address\""),
        "typed values come back"
    );
    assert!(
        !bad.body.contains(&account.password),
        "a typed password is never sent back"
    );
    let count: i64 = mailboxes::table
        .count()
        .get_result(&mut app.conn())
        .expect("count");
    assert_eq!(count, 0, "nothing half-saved");

    // Create it with the right password.
    let created = post_form(
        &admin,
        "/settings/mailboxes/new",
        "/settings/mailboxes",
        &form(&[
            ("in_port", &port),
            ("in_username", &account.user),
            ("in_password", &account.password),
        ]),
    );
    assert_eq!(created.status, 303, "{}", created.body);
    let id: i64 = created
        .location
        .trim_start_matches("/settings/mailboxes/")
        .trim_end_matches("?done=saved")
        .parse()
        .expect("id in location");
    let page = admin.get(&format!("/settings/mailboxes/{id}"));
    assert_eq!(page.status, 200);
    let stored: String = mailboxes::table
        .find(id)
        .select(mailboxes::in_password)
        .first(&mut app.conn())
        .expect("stored");
    assert!(
        !stored.is_empty() && stored != account.password,
        "encrypted"
    );
    assert!(
        !page.body.contains(&account.password) && !page.body.contains(&stored),
        "the password is never rendered back: {}",
        page.body
    );
    assert!(page.body.contains("help@company.test") && page.body.contains("{agent} at {mailbox}"));
    let settings = mailbox::outbound_settings(&mut app.conn(), id)
        .expect("q")
        .expect("row");
    assert_eq!(settings.status_after_reply, 2, "Pending after a reply");
    assert!(!settings.auto_reply_enabled);

    let test_imap = |c: &Client| {
        let page = format!("/settings/mailboxes/{id}");
        let r = c.post_from(&page, &format!("{page}/test-imap"), &[]);
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    };
    let ok = test_imap(&admin);
    assert!(
        ok.contains("data-ok=\"true\"")
            && ok.contains("connected and logged in; INBOX: 0 messages"),
        "{ok}"
    );

    // An empty password field keeps the stored password.
    let kept = post_form(
        &admin,
        &format!("/settings/mailboxes/{id}"),
        &format!("/settings/mailboxes/{id}"),
        &form(&[
            ("name", "Support desk"),
            ("in_port", &port),
            ("in_username", &account.user),
        ]),
    );
    assert_eq!(kept.status, 303, "{}", kept.body);
    assert!(test_imap(&admin).contains("connected and logged in"));

    // A wrong password: Dovecot's own answer is shown.
    let wrong = post_form(
        &admin,
        &format!("/settings/mailboxes/{id}"),
        &format!("/settings/mailboxes/{id}"),
        &form(&[
            ("in_port", &port),
            ("in_username", &account.user),
            ("in_password", "not-the-password-9"),
        ]),
    );
    assert_eq!(wrong.status, 303, "{}", wrong.body);
    let refused = test_imap(&admin);
    assert!(
        refused.contains("data-ok=\"false\"")
            && refused.contains("login refused")
            && refused.contains("Authentication failed"),
        "{refused}"
    );
    assert!(!refused.contains("not-the-password-9"));

    // Bad input on edit changes nothing, not even the fields that were fine.
    let before = mailbox::inbound_settings(&mut app.conn(), id)
        .expect("q")
        .expect("row");
    let bad = post_form(
        &admin,
        &format!("/settings/mailboxes/{id}"),
        &format!("/settings/mailboxes/{id}"),
        &form(&[("name", "Renamed"), ("in_port", "x"), ("auto_bcc", "nope")]),
    );
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("id=\"err-in_port\"") && bad.body.contains("id=\"err-auto_bcc\""));
    let after = mailbox::inbound_settings(&mut app.conn(), id)
        .expect("q")
        .expect("row");
    assert_eq!((before.name, before.in_port), (after.name, after.in_port));

    // Another mailbox with the same address is refused on the field.
    let dup = post_form(
        &admin,
        "/settings/mailboxes/new",
        "/settings/mailboxes",
        &form(&[("name", "Copy")]),
    );
    assert_eq!(dup.status, 422, "{}", dup.body);
    assert!(dup.body.contains("id=\"err-email\""));

    let list = admin.get("/settings/mailboxes");
    assert!(list.body.contains("Support") && list.body.contains("id=\"settings-menu\""));
}

#[test]
fn send_test_email_reaches_a_real_smtp_server() {
    let app = TestApp::installed(Backend::Sqlite);
    let smtp = SmtpCapture::start();
    let admin = app.client();
    admin.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    let created = post_form(
        &admin,
        "/settings/mailboxes/new",
        "/settings/mailboxes",
        &form(&[("in_host", ""), ("out_port", &smtp.port.to_string())]),
    );
    assert_eq!(created.status, 303, "{}", created.body);
    let page = created.location.trim_end_matches("?done=saved").to_string();

    let bad = admin.post_from(&page, &format!("{page}/test-smtp"), &[("to", "nobody")]);
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("id=\"err-test_to\""), "{}", bad.body);

    let sent = admin.post_from(
        &page,
        &format!("{page}/test-smtp"),
        &[("to", "someone@example.net")],
    );
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert!(
        sent.body.contains("data-ok=\"true\"") && sent.body.contains("250"),
        "{}",
        sent.body
    );
    let mail = smtp.wait_for(1);
    assert!(
        mail.contains("Subject: Postdesk test message") && mail.contains("someone@example.net"),
        "{mail}"
    );

    // With no IMAP server set, "Test connection" says so.
    let none = admin.post_from(&page, &format!("{page}/test-imap"), &[]);
    assert!(
        none.body.contains("No incoming (IMAP) server"),
        "{}",
        none.body
    );
}

#[test]
fn agents_manage_only_the_mailboxes_granted_with_manage() {
    let app = TestApp::installed(Backend::Sqlite);
    let mut conn = app.conn();
    let a = new_mailbox(&mut conn, "Alpha", "alpha@example.com");
    let b = new_mailbox(&mut conn, "Beta", "beta@example.com");
    let c = new_mailbox(&mut conn, "Gamma", "gamma@example.com");
    let mgr = add_user(&app, "mgr@example.com", "agent");
    mailbox_user::replace_grants(
        &mut conn,
        mgr,
        &[(a, MailboxAccess::Manage), (b, MailboxAccess::Reply)],
        postdesk::db::now(),
    )
    .expect("grant");
    let agent = app.client();
    assert_eq!(agent.login("mgr@example.com", PASSWORD).status, 303);

    let list = agent.get("/settings/mailboxes");
    assert_eq!(list.status, 200);
    assert!(
        list.body.contains("Alpha") && !list.body.contains("Beta") && !list.body.contains("Gamma")
    );
    assert!(
        !list.body.contains("/settings/ingest"),
        "no admin-only links"
    );
    assert_eq!(agent.get(&format!("/settings/mailboxes/{a}")).status, 200);
    assert_eq!(agent.get(&format!("/settings/mailboxes/{b}")).status, 403);
    assert_eq!(agent.get(&format!("/settings/mailboxes/{c}")).status, 404);
    assert_eq!(agent.get("/settings/mailboxes/new").status, 403);
    assert!(
        agent
            .get(&format!("/mailboxes/{a}"))
            .body
            .contains(&format!("href=\"/settings/mailboxes/{a}\""))
    );

    let saved = post_form(
        &agent,
        &format!("/settings/mailboxes/{a}"),
        &format!("/settings/mailboxes/{a}"),
        &form(&[("name", "Alpha desk"), ("email", "alpha@example.com")]),
    );
    assert_eq!(saved.status, 303, "{}", saved.body);
    let renamed = mailbox::inbound_settings(&mut conn, a)
        .expect("q")
        .expect("row");
    assert_eq!(renamed.name, "Alpha desk");
    let refused = post_form(
        &agent,
        &format!("/settings/mailboxes/{a}"),
        &format!("/settings/mailboxes/{b}"),
        &form(&[("name", "Taken over"), ("email", "beta@example.com")]),
    );
    assert_eq!(refused.status, 403);
    let created = post_form(
        &agent,
        &format!("/settings/mailboxes/{a}"),
        "/settings/mailboxes",
        &form(&[("email", "new@example.com")]),
    );
    assert_eq!(created.status, 403);
    let names: Vec<String> = mailboxes::table
        .order(mailboxes::id)
        .select(mailboxes::name)
        .load(&mut conn)
        .expect("names");
    assert_eq!(names, ["Alpha desk", "Beta", "Gamma"]);

    // The same page in Russian for a Russian-speaking admin.
    let ru_admin = add_user(&app, "ru@example.com", "admin");
    diesel::update(users::table.find(ru_admin))
        .set(users::locale.eq("ru"))
        .execute(&mut conn)
        .expect("locale");
    let ru = app.client();
    ru.login("ru@example.com", PASSWORD);
    let body = ru.get(&format!("/settings/mailboxes/{a}")).body;
    assert!(body.contains("Входящая почта (IMAP)"), "{body}");
}

#[test]
fn the_ingestion_log_lists_a_failure_and_retry_takes_it_in() {
    let app = TestApp::installed(Backend::Sqlite);
    let mut conn = app.conn();
    let id = new_mailbox(&mut conn, "Support", "support@company.test");
    let files = FileStore::new(app.data.path());
    let raw = message("a@x.test", "Stuck", "stuck@x.test", None, "x");
    let raw_path = files.put_raw(&raw).expect("raw");
    ingest_failure::record(
        &mut conn,
        id,
        "INBOX",
        1,
        77,
        "database was locked",
        &raw_path,
    )
    .expect("log");
    let failure = ingest_failure::open(&mut conn, None).expect("open")[0].id;

    let admin = app.client();
    admin.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    let page = admin.get("/settings/ingest");
    assert_eq!(page.status, 200);
    for text in ["Support", "INBOX", "77", "database was locked", "/retry"] {
        assert!(page.body.contains(text), "{text}: {}", page.body);
    }
    let retried = admin.post_from(
        "/settings/ingest",
        &format!("/settings/ingest/{failure}/retry"),
        &[],
    );
    assert_eq!(retried.status, 200, "{}", retried.body);
    assert!(
        retried
            .body
            .contains("The message was taken in: stored as new conversation"),
        "{}",
        retried.body
    );
    assert!(retried.body.contains("id=\"ingest-empty\""));
    assert!(
        ingest_failure::open(&mut conn, None)
            .expect("open")
            .is_empty()
    );
    let stored: i64 = conversations::table
        .filter(conversations::mailbox_id.eq(id))
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(stored, 1);
    let again = admin.post_from(
        "/settings/ingest",
        &format!("/settings/ingest/{failure}/retry"),
        &[],
    );
    assert!(again.body.contains("taken in already"), "{}", again.body);
}

#[test]
fn downloads_are_safe_and_only_for_the_mailbox_s_users() {
    for backend in BACKENDS {
        downloads_on(backend);
    }
}

fn downloads_on(backend: Backend) {
    let app = TestApp::installed(backend);
    let mut conn = app.conn();
    let a = new_mailbox(&mut conn, "Alpha", "alpha@example.com");
    let b = new_mailbox(&mut conn, "Beta", "beta@example.com");
    let in_a = seed_mail(&mut conn, app.data.path(), a, "one");
    let in_b = seed_mail(&mut conn, app.data.path(), b, "two");
    let viewer = add_user(&app, "viewer@example.com", "agent");
    mailbox_user::replace_grants(
        &mut conn,
        viewer,
        &[(a, MailboxAccess::View)],
        postdesk::db::now(),
    )
    .expect("grant");
    let agent = session_of(&app.client(), "viewer@example.com", PASSWORD);
    let admin = session_of(&app.client(), ADMIN_EMAIL, ADMIN_PASSWORD);

    let safe = |h: &HashMap<String, String>| {
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["content-security-policy"], "default-src 'none'; sandbox");
    };
    let (status, h, body) = download(&app, &format!("/attachments/{}", in_a.png_id), &agent);
    assert_eq!(status, 200);
    assert_eq!(body, PNG_BYTES);
    safe(&h);
    let disposition = &h["content-disposition"];
    assert!(
        disposition.starts_with("attachment; filename=\"")
            && disposition.contains("; filename*=UTF-8''%D1%81%D1%87%D1%91%D1%82"),
        "{disposition}"
    );
    let (_, h, _) = download(
        &app,
        &format!("/attachments/{}?inline=1", in_a.png_id),
        &agent,
    );
    assert!(h["content-disposition"].starts_with("inline;"), "{h:?}");
    assert_eq!(h["content-type"], "image/png");
    safe(&h);

    // SVG can carry script: never inline, never served as an image.
    let (status, h, body) = download(
        &app,
        &format!("/attachments/{}?inline=1", in_a.svg_id),
        &agent,
    );
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("<svg"));
    assert!(h["content-disposition"].starts_with("attachment;"), "{h:?}");
    assert_eq!(h["content-type"], "application/octet-stream");
    safe(&h);

    // Another mailbox's attachment or message: 404, exactly as an id that does not exist.
    for path in [
        format!("/attachments/{}", in_b.png_id),
        format!("/threads/{}/original", in_b.thread_id),
        "/attachments/999999".to_string(),
    ] {
        assert_eq!(download(&app, &path, &agent).0, 404, "{path}");
    }
    assert_eq!(
        download(&app, &format!("/attachments/{}", in_b.png_id), &admin).0,
        200
    );

    // Show original: the raw bytes, as plain text.
    let (status, h, body) = download(
        &app,
        &format!("/threads/{}/original", in_a.thread_id),
        &agent,
    );
    assert_eq!(status, 200);
    assert_eq!(body, in_a.raw);
    assert_eq!(h["content-type"], "text/plain; charset=utf-8");
    safe(&h);
    let (_, _, body) = download(
        &app,
        &format!("/threads/{}/original", in_b.thread_id),
        &admin,
    );
    assert_eq!(body, in_b.raw);

    // Anonymous: to the login page.
    let anon = app.client().get(&format!("/attachments/{}", in_a.png_id));
    assert_eq!((anon.status, anon.location.as_str()), (303, "/login"));
}

#[test]
fn a_mailbox_is_created_in_a_real_browser_and_the_pages_fit_a_phone() {
    use crate::browser::{browser, click, fill, shot, wait_for};
    use fantoccini::Locator;

    let app = TestApp::installed(Backend::Sqlite);
    let base = app.base.clone();
    let profile = tempfile::tempdir().expect("browser profile");
    let id = actix_web::rt::System::new().block_on(async move {
        let c = browser(profile.path()).await;
        c.goto(&format!("{base}/login")).await.expect("open");
        wait_for(&c, "login-form").await;
        fill(&c, "email", ADMIN_EMAIL).await;
        fill(&c, "password", ADMIN_PASSWORD).await;
        c.find(Locator::Css("#login-form button[type=submit]"))
            .await
            .expect("login button")
            .click()
            .await
            .expect("submit");
        wait_for(&c, "logout").await;

        // From the settings menu to a new mailbox.
        c.goto(&format!("{base}/settings/mail"))
            .await
            .expect("settings");
        wait_for(&c, "settings-menu").await;
        c.find(Locator::Css("#settings-menu a[href='/settings/mailboxes']"))
            .await
            .expect("menu link")
            .click()
            .await
            .expect("click");
        wait_for(&c, "new-mailbox").await;
        click(&c, "new-mailbox").await;
        wait_for(&c, "mailbox-form").await;
        fill(&c, "name", "Browser desk").await;
        fill(&c, "email", "desk@company.test").await;
        fill(&c, "in_host", "imap.company.test").await;
        fill(&c, "in_password", "typed-in-browser-1").await;
        c.find(Locator::Css("[name='subject_token']"))
            .await
            .expect("checkbox")
            .click()
            .await
            .expect("tick");
        c.find(Locator::Css("[name='out_method'][value='sendmail']"))
            .await
            .expect("radio")
            .click()
            .await
            .expect("choose");
        shot(&c, "mailbox-1-new").await;
        c.find(Locator::Css("#mailbox-form button[type=submit]"))
            .await
            .expect("save")
            .click()
            .await
            .expect("submit");
        wait_for(&c, "mailbox-tests").await;
        let url = c.current_url().await.expect("url").to_string();
        let source = c.source().await.expect("source");
        assert!(
            !source.contains("typed-in-browser-1"),
            "password not shown back"
        );
        shot(&c, "mailbox-2-saved").await;

        // Phone-sized: nothing runs off the side of the settings pages.
        c.set_window_size(390, 844).await.expect("phone size");
        for page in [url.as_str(), &format!("{base}/settings/ingest")] {
            c.goto(page).await.expect("open");
            wait_for(&c, "settings-menu").await;
            let overflow = c
                .execute(
                    "return document.documentElement.scrollWidth - window.innerWidth;",
                    vec![],
                )
                .await
                .expect("measure");
            assert!(
                overflow.as_i64().unwrap_or(1) <= 0,
                "{page}: horizontal overflow {overflow}"
            );
        }
        shot(&c, "mailbox-3-ingest-phone").await;
        c.close().await.expect("close browser");
        url.rsplit('/')
            .next()
            .and_then(|last| last.split('?').next())
            .and_then(|n| n.parse::<i64>().ok())
            .expect("mailbox id in URL")
    });
    let saved = mailbox::inbound_settings(&mut app.conn(), id)
        .expect("q")
        .expect("row");
    assert_eq!(saved.name, "Browser desk");
    assert!(saved.subject_token_threading);
    let out = mailbox::outbound_settings(&mut app.conn(), id)
        .expect("q")
        .expect("row");
    assert_eq!(
        out.out_method,
        postdesk::db::types::OutMethod::Sendmail.as_i16()
    );
}

#[test]
fn the_cli_refuses_what_the_page_refuses() {
    let app = TestApp::installed(Backend::Sqlite);
    let data = app.data.path();
    let (ok, _, err) =
        crate::app::run_cli(data, &["mailbox", "add", "--name", "X", "--email", "nope"]);
    assert!(
        !ok && err.contains("--email: Enter a valid email address."),
        "{err}"
    );
    let (ok, _, err) = crate::app::run_cli(
        data,
        &[
            "mailbox",
            "add",
            "--name",
            "X",
            "--email",
            "x@company.test",
            "--aliases",
            "a@b.test, junk",
        ],
    );
    assert!(!ok && err.contains("--aliases:"), "{err}");
    let (ok, _, err) = crate::app::run_cli(
        data,
        &[
            "mailbox",
            "add",
            "--name",
            "X",
            "--email",
            "x@company.test",
            "--imap-port",
            "0",
        ],
    );
    assert!(
        !ok && err.contains("--imap-port: The port must be"),
        "{err}"
    );
    let count: i64 = mailboxes::table
        .count()
        .get_result(&mut app.conn())
        .expect("count");
    assert_eq!(count, 0);
}
