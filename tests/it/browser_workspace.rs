//! The agent workspace in a real browser (headless Chromium over WebDriver): log in, open
//! the mailbox and a conversation, write a reply with bold text and a pasted image in the
//! rich-text editor and send it (the built mail carries both), add a note, assign, close;
//! the same at a 375×667 phone viewport; screenshots of the main pages in English and
//! Russian; and hostile customer HTML that must not run or cover the page, checked in the
//! live DOM.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use fantoccini::{Client, Locator};
use postdesk::db::Backend;
use postdesk::db::schema::{attachments, conversations, outbox, threads, users};
use postdesk::db::types::{ConversationStatus, ThreadType};

use crate::app::{ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::browser::{browser, click, fill, shot, wait_for};
use crate::conversation_page::{PNG, admin_id, fixture, insert_hostile};

async fn css(c: &Client, selector: &str) {
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(selector))
        .await
        .unwrap_or_else(|e| panic!("{selector} did not appear: {e}"));
}

async fn js(c: &Client, script: &str) -> serde_json::Value {
    c.execute(script, vec![]).await.expect("script runs")
}

/// Pastes a PNG into the editor as a browser paste event would deliver it.
async fn paste_png(c: &Client) {
    let bytes: Vec<String> = PNG.iter().map(u8::to_string).collect();
    let script = format!(
        "const file = new File([new Uint8Array([{}])], 'screenshot.png', {{type: 'image/png'}});
         const dt = new DataTransfer(); dt.items.add(file);
         const root = document.getElementById('reply-editor'); root.focus();
         root.dispatchEvent(new ClipboardEvent('paste', {{clipboardData: dt, bubbles: true, cancelable: true}}));
         return true;",
        bytes.join(",")
    );
    js(c, &script).await;
    css(c, "#reply-editor img[src^='/uploads/']").await;
}

/// Writes a reply in the editor: `plain` then `bold` in bold, and a pasted image.
async fn write_reply(c: &Client, plain: &str, bold: &str) {
    css(c, "#reply-editor").await;
    let editor = c.find(Locator::Id("reply-editor")).await.expect("editor");
    editor.click().await.expect("focus editor");
    editor.send_keys(plain).await.expect("type");
    c.find(Locator::Css("#reply-toolbar [data-cmd=bold]"))
        .await
        .expect("bold button")
        .click()
        .await
        .expect("bold");
    editor.send_keys(bold).await.expect("type bold");
    paste_png(c).await;
}

async fn login(c: &Client, base: &str) {
    c.goto(&format!("{base}/login")).await.expect("login page");
    wait_for(c, "login-form").await;
    fill(c, "email", ADMIN_EMAIL).await;
    fill(c, "password", ADMIN_PASSWORD).await;
    c.find(Locator::Css("#login-form button[type=submit]"))
        .await
        .expect("login button")
        .click()
        .await
        .expect("submit");
    wait_for(c, "logout").await;
}

/// The MIME the outbox built for a thread (it builds before sending, then keeps it).
fn built_mail(app: &crate::app::TestApp, thread_id: i64) -> String {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let mime: Option<Option<Vec<u8>>> = outbox::table
            .filter(outbox::thread_id.eq(thread_id))
            .select(outbox::mime)
            .first(&mut app.conn())
            .optional()
            .expect("outbox row");
        if let Some(Some(m)) = mime {
            return String::from_utf8_lossy(&m).replace("=\r\n", "");
        }
        assert!(
            Instant::now() < deadline,
            "the outbox never built thread {thread_id}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Waits until the conversation's status and assignee satisfy `ok` (a form posted by the
/// page's script has landed).
async fn until(
    app: &crate::app::TestApp,
    conversation_id: i64,
    ok: impl Fn(i16, Option<i64>) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, assignee): (i16, Option<i64>) = conversations::table
            .find(conversation_id)
            .select((conversations::status, conversations::user_id))
            .first(&mut app.conn())
            .expect("conversation");
        if ok(status, assignee) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the conversation did not change: {status} {assignee:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
}

fn latest_reply(app: &crate::app::TestApp, conversation_id: i64) -> (i64, String) {
    threads::table
        .filter(threads::conversation_id.eq(conversation_id))
        .filter(threads::thread_type.eq(ThreadType::Message.as_i16()))
        .order(threads::id.desc())
        .select((threads::id, threads::body_html))
        .first(&mut app.conn())
        .expect("a reply thread")
}

#[test]
fn agent_workspace_in_a_real_browser() {
    let f = fixture(Backend::Sqlite);
    let hostile = insert_hostile(&mut f.app.conn(), f.conversation_id);
    let admin = admin_id(&mut f.app.conn());
    let base = f.app.base.clone();
    let conv_url = format!("{base}/conversations/{}", f.conversation_id);
    let profile = tempfile::tempdir().expect("browser profile");
    let app = &f.app;
    actix_web::rt::System::new().block_on(async {
        let c = browser(profile.path()).await;
        login(&c, &base).await;
        c.goto(&format!("{base}/mailboxes/{}", f.mailbox_id)).await.expect("mailbox");
        shot(&c, "workspace-mailbox-desktop-en").await;

        // Open the conversation from the mailbox's list.
        let link = format!("a[href='/conversations/{}']", f.conversation_id);
        css(&c, &link).await;
        c.find(Locator::Css(&link))
            .await
            .expect("conversation link")
            .click()
            .await
            .expect("open conversation");
        wait_for(&c, "conversation").await;
        // The hostile message: nothing ran, nothing framed, nothing covers the page.
        let verdict = js(
            &c,
            &format!(
                "const t = document.getElementById('thread-{hostile}');
                 const body = t.querySelector('.thread-body');
                 const fixed = [...body.querySelectorAll('*')].some(e => getComputedStyle(e).position === 'fixed');
                 const center = document.elementFromPoint(innerWidth / 2, innerHeight / 2);
                 return {{
                   pwned: window.pwned === undefined ? null : window.pwned,
                   title: document.title,
                   frames: document.querySelectorAll('iframe, frame, object, embed').length,
                   svg: document.querySelectorAll('svg').length,
                   scripts: body.querySelectorAll('script, style').length,
                   handlers: [...body.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
                   jsLinks: [...body.querySelectorAll('a')].filter(a => (a.getAttribute('href') || '').toLowerCase().includes('javascript')).length,
                   fixed: fixed,
                   overlayOnTop: center ? body.contains(center) : false,
                   text: body.textContent.includes('Hello')
                 }};"
            ),
        )
        .await;
        assert_eq!(verdict["pwned"], serde_json::Value::Null, "{verdict}");
        assert!(!verdict["title"].as_str().unwrap_or_default().contains("pwned"), "{verdict}");
        for key in ["frames", "svg", "scripts", "handlers", "jsLinks"] {
            assert_eq!(verdict[key], 0, "{key}: {verdict}");
        }
        assert_eq!(verdict["fixed"], false, "{verdict}");
        assert_eq!(verdict["overlayOnTop"], false, "{verdict}");
        assert_eq!(verdict["text"], true, "the harmless text stays: {verdict}");
        shot(&c, "workspace-conversation-desktop-en").await;
        // Page weight: the CSS and JavaScript a first load of this page fetches.
        let weight = js(
            &c,
            "return performance.getEntriesByType('resource')
               .filter(e => /\\.(css|js)$/.test(new URL(e.name).pathname))
               .reduce((n, e) => n + e.decodedBodySize, 0);",
        )
        .await;
        let bytes = weight.as_u64().unwrap_or(u64::MAX);
        println!("conversation page CSS+JS: {bytes} bytes uncompressed");
        assert!(bytes > 50_000 && bytes < 150 * 1024, "CSS+JS of the conversation page: {bytes} bytes");

        // Reply with bold text and a pasted image.
        write_reply(&c, "Thanks for writing. ", "This part is bold").await;
        shot(&c, "workspace-reply-editor-desktop-en").await;
        click(&c, "send-reply").await;
        css(&c, ".delivery").await;
        let (reply_id, html) = latest_reply(app, f.conversation_id);
        assert!(html.contains("<b>This part is bold"), "{html}");
        let mail = built_mail(app, reply_id);
        assert!(mail.contains("<b>This part is bold"), "bold in the mail: {mail}");
        assert!(mail.contains("cid:upload-") && mail.contains("Content-ID: <upload-"), "the image goes inline: {mail}");
        let inline: i64 = attachments::table
            .filter(attachments::thread_id.eq(reply_id))
            .filter(attachments::is_inline.eq(true))
            .count()
            .get_result(&mut app.conn())
            .expect("count");
        assert_eq!(inline, 1);

        // A note, then assign to me and close, from the header.
        let note = c.find(Locator::Id("note-body")).await.expect("note box");
        note.send_keys("Customer is a reseller").await.expect("type note");
        click(&c, "save-note").await;
        css(&c, ".thread.note").await;
        let page = c.source().await.expect("source");
        assert!(page.contains("Customer is a reseller"));
        // Replying assigned the conversation to the replier; hand it to a colleague.
        let colleague: i64 = users::table
            .filter(users::email.eq("viewer@example.com"))
            .select(users::id)
            .first(&mut app.conn())
            .expect("colleague");
        c.find(Locator::Id("assign-select"))
            .await
            .expect("assignee")
            .select_by_value(&colleague.to_string())
            .await
            .expect("assign");
        until(app, f.conversation_id, |_, assignee| assignee == Some(colleague)).await;
        c.goto(&conv_url).await.expect("conversation");
        wait_for(&c, "status-select").await;
        c.find(Locator::Id("status-select"))
            .await
            .expect("status")
            .select_by_value("closed")
            .await
            .expect("close");
        until(app, f.conversation_id, |status, _| status == ConversationStatus::Closed.as_i16()).await;
        c.goto(&conv_url).await.expect("conversation");
        wait_for(&c, "conversation").await;
        let closed = c.source().await.expect("source");
        assert!(closed.contains("changed the status to Closed"), "the change shows as a line");
        shot(&c, "workspace-conversation-closed-desktop-en").await;
        c.goto(&format!("{base}/mailboxes/{}/new", f.mailbox_id)).await.expect("new");
        wait_for(&c, "new-conversation").await;
        shot(&c, "workspace-new-conversation-desktop-en").await;

        // The same flow on a phone.
        c.set_window_size(375, 667).await.expect("phone size");
        c.goto(&conv_url).await.expect("conversation");
        wait_for(&c, "conversation").await;
        let overflow = js(&c, "return document.documentElement.scrollWidth - window.innerWidth;").await;
        assert!(overflow.as_i64().unwrap_or(1) <= 0, "horizontal overflow: {overflow}");
        shot(&c, "workspace-conversation-phone-en").await;
        write_reply(&c, "From my phone. ", "Bold on mobile").await;
        click(&c, "send-reply").await;
        css(&c, ".delivery").await;
        let (phone_reply, phone_html) = latest_reply(app, f.conversation_id);
        assert_ne!(phone_reply, reply_id);
        assert!(phone_html.contains("<b>Bold on mobile"), "{phone_html}");
        let note = c.find(Locator::Id("note-body")).await.expect("note box");
        note.send_keys("Noted on the phone").await.expect("type note");
        click(&c, "save-note").await;
        css(&c, ".thread.note").await;
        c.find(Locator::Id("status-select"))
            .await
            .expect("status")
            .select_by_value("active")
            .await
            .expect("reopen");
        until(app, f.conversation_id, |status, _| status == ConversationStatus::Active.as_i16()).await;
        c.goto(&conv_url).await.expect("conversation");
        wait_for(&c, "conversation").await;
        shot(&c, "workspace-conversation-after-phone-en").await;
        c.goto(&format!("{base}/mailboxes/{}/new", f.mailbox_id)).await.expect("new");
        wait_for(&c, "new-conversation").await;
        shot(&c, "workspace-new-conversation-phone-en").await;

        // Russian, phone and desktop.
        diesel::update(users::table.find(admin))
            .set(users::locale.eq("ru"))
            .execute(&mut app.conn())
            .expect("switch to Russian");
        c.goto(&conv_url).await.expect("conversation");
        wait_for(&c, "conversation").await;
        let source = c.source().await.expect("source");
        assert!(source.contains("Отправить") && source.contains("Клиент"), "the page is in Russian");
        shot(&c, "workspace-conversation-phone-ru").await;
        c.goto(&format!("{base}/mailboxes/{}/new", f.mailbox_id)).await.expect("new");
        wait_for(&c, "new-conversation").await;
        shot(&c, "workspace-new-conversation-phone-ru").await;
        c.set_window_size(1280, 900).await.expect("desktop size");
        c.goto(&conv_url).await.expect("conversation");
        wait_for(&c, "conversation").await;
        shot(&c, "workspace-conversation-desktop-ru").await;
        c.goto(&format!("{base}/mailboxes/{}", f.mailbox_id)).await.expect("mailbox");
        shot(&c, "workspace-mailbox-desktop-ru").await;
        c.close().await.expect("close browser");
    });
}
