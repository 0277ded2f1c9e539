//! Accounts against the real binary: login, sessions, throttling, CSRF, disabling and
//! deleting users, password reset and invitations through a real SMTP server.

use diesel::prelude::*;
use postdesk::db::Backend;
use postdesk::db::schema::{activity_log, conversations, sessions, users};
use postdesk::models::{conversation, mailbox};

use crate::app::{ADMIN_EMAIL, ADMIN_PASSWORD, Client, TestApp, link_in};
use crate::support::SmtpCapture;

const AGENT_PASSWORD: &str = "blue-harbour-17";

/// Adds an agent through the admin's own command line and returns its id.
fn add_agent(app: &TestApp, email: &str) -> i64 {
    let pw = crate::app::password_file(app.data.path(), AGENT_PASSWORD);
    let (ok, out, err) = crate::app::run_cli(
        app.data.path(),
        &[
            "user",
            "add",
            "--email",
            email,
            "--name",
            "Boris Agent",
            "--role",
            "agent",
            "--password-file",
            &pw.display().to_string(),
        ],
    );
    assert!(ok, "{out}{err}");
    let mut conn = app.conn();
    users::table
        .filter(users::email.eq(email))
        .select(users::id)
        .first(&mut conn)
        .expect("agent id")
}

fn activity_count(app: &TestApp, action: &str) -> i64 {
    activity_log::table
        .filter(activity_log::action.eq(action))
        .count()
        .get_result(&mut app.conn())
        .expect("count")
}

#[test]
fn login_rotation_remember_me_and_logout() {
    let app = TestApp::installed(Backend::Sqlite);
    let c = app.client();
    assert_eq!(c.get("/").location, "/login");
    assert_eq!(c.get("/api/me").status, 401);

    // Unknown email and wrong password get the same answer.
    let unknown = c.login("nobody@example.com", ADMIN_PASSWORD);
    let wrong = c.login(ADMIN_EMAIL, "wrong-password-1");
    assert_eq!((unknown.status, wrong.status), (401, 401));
    assert!(unknown.body.contains("Wrong email or password."));
    assert_eq!(
        unknown.body.replace("nobody@example.com", ""),
        wrong.body.replace(ADMIN_EMAIL, ""),
        "identical pages apart from the echoed email"
    );
    assert_eq!(activity_count(&app, "login_failed"), 2);

    // A good login sets an HttpOnly, SameSite=Lax session cookie that ends with the browser.
    let ok = c.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    assert_eq!((ok.status, ok.location.as_str()), (303, "/"));
    let first = ok.cookie("pd_session").expect("session cookie");
    let header = ok
        .cookies
        .iter()
        .find(|h| h.starts_with("pd_session="))
        .expect("header");
    assert!(
        header.contains("HttpOnly") && header.contains("SameSite=Lax"),
        "{header}"
    );
    assert!(!header.contains("Secure"), "plain-HTTP app URL: {header}");
    assert!(
        !header.contains("Max-Age"),
        "session cookie without remember me: {header}"
    );
    assert_eq!(c.get("/").status, 200);
    assert_eq!(activity_count(&app, "login"), 1);

    // Logging in again (remember me) gives a new id and ends the old session at once.
    let again = c.post_from(
        "/",
        "/login",
        &[
            ("email", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
            ("remember", "1"),
        ],
    );
    let second = again.cookie("pd_session").expect("new session cookie");
    assert_ne!(first, second, "a new session id at login");
    let header = again
        .cookies
        .iter()
        .find(|h| h.starts_with("pd_session="))
        .expect("header");
    assert!(
        header.contains("Max-Age=2592000"),
        "remember me lasts 30 days: {header}"
    );
    assert_eq!(
        c.get_with_session("/", &first).status,
        303,
        "old id is dead"
    );
    assert_eq!(c.get_with_session("/", &second).status, 200);
    let stored: Vec<String> = sessions::table
        .select(sessions::token_hash)
        .load(&mut app.conn())
        .expect("sessions");
    assert_eq!(stored.len(), 1);
    assert!(!stored.contains(&second), "only a hash of the id is stored");

    // A session id planted before login is not kept.
    let planted = app.client();
    planted.get("/login");
    let r = planted.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    assert_ne!(r.cookie("pd_session"), None);

    // Logout ends the session on the server.
    let out = c.post_from("/", "/logout", &[]);
    assert_eq!((out.status, out.location.as_str()), (303, "/login"));
    assert_eq!(c.get_with_session("/", &second).status, 303);
    assert_eq!(c.get_with_session("/api/me", &second).status, 401);
}

#[test]
fn throttling_per_account_and_per_address() {
    let app = TestApp::installed(Backend::Postgres);
    let c = app.client();
    for _ in 0..5 {
        assert_eq!(c.login(ADMIN_EMAIL, "not-the-password").status, 401);
    }
    // Locked: even the right password is refused, with a clear wait time.
    let locked = c.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert!(
        locked.body.contains("Try again in 15 minutes."),
        "{}",
        locked.body
    );
    assert!(activity_count(&app, "login_locked") >= 1);
    // In Russian too.
    let mut ru = Client::new(&app.base);
    ru.language = "ru-RU,ru;q=0.9".into();
    let r = ru.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    assert!(
        r.body.contains("Попробуйте снова через 15 мин."),
        "{}",
        r.body
    );

    // Per address: many failures on other accounts lock this address for everyone.
    let agent = "boris@example.com";
    add_agent(&app, agent);
    for i in 0..15 {
        c.login(&format!("guess{i}@example.com"), "whatever-123");
    }
    let r = c.login(agent, AGENT_PASSWORD);
    assert_eq!(
        r.status, 429,
        "20 failures from one address lock it: {}",
        r.body
    );
}

#[test]
fn csrf_token_is_required_and_bound_to_the_session() {
    let app = TestApp::installed(Backend::Sqlite);
    let c = app.client();
    // Login without the token, and with a made-up one.
    let r = c.post(
        "/login",
        &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
    );
    assert_eq!(r.status, 403);
    let r = c.post(
        "/login",
        &[
            ("csrf_token", &"0".repeat(64)),
            ("email", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
        ],
    );
    assert_eq!(r.status, 403);
    assert!(r.body.contains("This form has expired"), "{}", r.body);
    let mut ru = Client::new(&app.base);
    ru.language = "ru".into();
    let r = ru.post(
        "/login",
        &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
    );
    assert_eq!(r.status, 403);
    assert!(
        r.body.contains("Форма устарела"),
        "error pages speak Russian too: {}",
        r.body
    );
    assert_eq!(c.login(ADMIN_EMAIL, ADMIN_PASSWORD).status, 303);

    // Another session's token is worthless here.
    let other = app.client();
    other.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    let foreign = crate::app::csrf_in(&other.get("/profile").body);
    let form = [
        ("first_name", "Mallory"),
        ("last_name", ""),
        ("email", ADMIN_EMAIL),
        ("timezone", "UTC"),
        ("locale", "en"),
        ("time_format", "24"),
    ];
    let mut with_foreign = vec![("csrf_token", foreign.as_str())];
    with_foreign.extend_from_slice(&form);
    assert_eq!(c.post("/profile", &with_foreign).status, 403);
    assert_eq!(c.post("/profile", &form).status, 403);
    let name: String = users::table
        .filter(users::email.eq(ADMIN_EMAIL))
        .select(users::first_name)
        .first(&mut app.conn())
        .expect("name");
    assert_eq!(name, "Ada", "nothing changed");
    // The right token works, as a form field or as the X-CSRF-Token header of a script.
    let ok = c.post_from("/profile", "/profile", &form);
    assert_eq!(
        (ok.status, ok.location.as_str()),
        (303, "/profile?done=saved")
    );
    let own = crate::app::csrf_in(&c.get("/profile").body);
    assert_eq!(c.post_with_header("/profile", &own, &form).status, 303);
    assert_eq!(c.post_with_header("/profile", &foreign, &form).status, 403);
}

#[test]
fn disabling_ends_sessions_at_once_and_deleting_keeps_history() {
    let app = TestApp::installed(Backend::Mysql);
    let agent_id = add_agent(&app, "boris@example.com");
    let agent = app.client();
    assert_eq!(agent.login("boris@example.com", AGENT_PASSWORD).status, 303);
    assert_eq!(agent.get("/").status, 200);
    let admin = app.client();
    admin.login(ADMIN_EMAIL, ADMIN_PASSWORD);

    let page = format!("/users/{agent_id}");
    let r = admin.post_from(&page, &format!("/users/{agent_id}/disable"), &[]);
    assert_eq!(r.status, 303);
    assert_eq!(
        agent.get("/").location,
        "/login",
        "the session ended at once"
    );
    assert_eq!(agent.get("/api/me").status, 401);
    let refused = agent.login("boris@example.com", AGENT_PASSWORD);
    assert_eq!(refused.status, 401);
    assert!(refused.body.contains("Wrong email or password."));
    assert_eq!(activity_count(&app, "user_disabled"), 1);

    admin.post_from(&page, &format!("/users/{agent_id}/enable"), &[]);
    assert_eq!(agent.login("boris@example.com", AGENT_PASSWORD).status, 303);

    // An admin cannot disable themselves.
    let me: i64 = users::table
        .filter(users::email.eq(ADMIN_EMAIL))
        .select(users::id)
        .first(&mut app.conn())
        .expect("admin id");
    let r = admin.post_from("/users", &format!("/users/{me}/disable"), &[]);
    assert_eq!(r.status, 400);

    // Deleting: assigned conversations become unassigned, the name stays in history.
    let mut conn = app.conn();
    let now = postdesk::db::now();
    let mb = mailbox::create(
        &mut conn,
        &mailbox::NewMailbox {
            name: "Support",
            email: "support@example.com",
            created_at: now,
            updated_at: now,
        },
    )
    .expect("mailbox");
    let (conv, _) = conversation::create(
        &mut conn,
        &conversation::NewConversation {
            mailbox_id: mb,
            customer_id: None,
            customer_email: "c@example.org",
            created_by_user_id: None,
            conversation_type: postdesk::db::types::ConversationType::Email,
            status: postdesk::db::types::ConversationStatus::Active,
            state: postdesk::db::types::ConversationState::Published,
            subject: "Printer on fire",
            created_at: now,
        },
    )
    .expect("conversation");
    diesel::update(conversations::table.find(conv))
        .set(conversations::user_id.eq(Some(agent_id)))
        .execute(&mut conn)
        .expect("assign");
    let r = admin.post_from(&page, &format!("/users/{agent_id}/delete"), &[]);
    assert_eq!(
        (r.status, r.location.as_str()),
        (303, "/users?done=deleted")
    );
    let assignee: Option<i64> = conversations::table
        .find(conv)
        .select(conversations::user_id)
        .first(&mut conn)
        .expect("conversation");
    assert_eq!(assignee, None);
    assert_eq!(agent.get("/").status, 303);
    assert_eq!(agent.login("boris@example.com", AGENT_PASSWORD).status, 401);
    let activity = admin.get("/activity").body;
    assert!(activity.contains("Boris Agent"), "history keeps the name");
    assert!(!admin.get("/users").body.contains("boris@example.com"));
    assert_eq!(admin.get(&page).status, 404);
}

#[test]
fn password_reset_and_invitation_by_mail() {
    let app = TestApp::installed(Backend::Postgres);
    let smtp = SmtpCapture::start();
    add_agent(&app, "boris@example.com");
    let anon = app.client();
    let forgot = anon.get("/password/forgot");
    assert!(
        forgot.body.contains("id=\"mail-not-configured\""),
        "{}",
        forgot.body
    );
    let admin = app.client();
    admin.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    let r = admin.post_from(
        "/users",
        "/users/invite",
        &[("email", "x@example.com"), ("name", "X"), ("role", "agent")],
    );
    assert_eq!(r.status, 422);
    assert!(r.body.contains("set up outgoing mail first"), "{}", r.body);

    // The admin sets the system SMTP server.
    let port = smtp.port.to_string();
    let r = admin.post_from(
        "/settings/mail",
        "/settings/mail",
        &[
            ("host", "127.0.0.1"),
            ("port", &port),
            ("security", "none"),
            ("username", ""),
            ("password", ""),
            ("from_email", "helpdesk@example.com"),
            ("from_name", "Postdesk"),
        ],
    );
    assert_eq!(r.status, 303);

    // Reset: the mail carries a single-use link; unknown emails get the same page, no mail.
    let sent = anon.post_from(
        "/password/forgot",
        "/password/forgot",
        &[("email", "nobody@example.com")],
    );
    assert!(sent.body.contains("id=\"reset-sent\""));
    let sent = anon.post_from(
        "/password/forgot",
        "/password/forgot",
        &[("email", "Boris@Example.com")],
    );
    assert!(sent.body.contains("id=\"reset-sent\""));
    let mail = smtp.wait_for(1);
    assert_eq!(smtp.messages().len(), 1, "no mail for an unknown address");
    assert!(mail.contains("To: boris@example.com"), "{mail}");
    assert!(
        mail.contains("Subject: Reset your Postdesk password"),
        "{mail}"
    );
    let link = link_in(&mail, "/password/reset/");
    assert_eq!(anon.get(&link).status, 200);
    let weak = anon.post_from(
        &link,
        &link,
        &[("password", "short"), ("password_confirm", "short")],
    );
    assert_eq!(weak.status, 422);
    let new_pw = "green-lantern-88";
    let done = anon.post_from(
        &link,
        &link,
        &[("password", new_pw), ("password_confirm", new_pw)],
    );
    assert_eq!(
        (done.status, done.location.as_str()),
        (303, "/login?done=password_reset")
    );
    assert_eq!(anon.get(&link).status, 410, "used up");
    assert_eq!(anon.login("boris@example.com", AGENT_PASSWORD).status, 401);
    assert_eq!(anon.login("boris@example.com", new_pw).status, 303);

    // Invitation: the link sets the password and logs the new agent in.
    let r = admin.post_from(
        "/users",
        "/users/invite",
        &[
            ("email", "Vera@Example.com"),
            ("name", "Vera Agent"),
            ("role", "agent"),
        ],
    );
    assert_eq!(
        (r.status, r.location.as_str()),
        (303, "/users?done=invited")
    );
    let mail = smtp.wait_for(2);
    assert!(
        mail.contains("To: vera@example.com") && mail.contains("Subject: Your Postdesk invitation"),
        "{mail}"
    );
    let link = link_in(&mail, "/invite/");
    let vera = app.client();
    assert_eq!(
        vera.login("vera@example.com", "").status,
        401,
        "no password before the link"
    );
    let page = vera.get(&link);
    assert!(
        page.body.contains("id=\"set-password-form\""),
        "{}",
        page.body
    );
    let pw = "silver-comet-2024";
    let r = vera.post_from(&link, &link, &[("password", pw), ("password_confirm", pw)]);
    assert_eq!((r.status, r.location.as_str()), (303, "/"));
    assert_eq!(vera.get("/").status, 200);
    assert_eq!(vera.get(&link).status, 410);
    assert_eq!(activity_count(&app, "invite_accepted"), 1);

    // The admin grants one of two mailboxes on the user page; Vera sees only that one.
    let mut conn = app.conn();
    let now = postdesk::db::now();
    let new_box = |name: &'static str, email: &'static str| mailbox::NewMailbox {
        name,
        email,
        created_at: now,
        updated_at: now,
    };
    let granted = mailbox::create(&mut conn, &new_box("Sales", "sales@example.com")).expect("mb");
    let other = mailbox::create(&mut conn, &new_box("Billing", "billing@example.com")).expect("mb");
    assert!(vera.get("/").body.contains("id=\"no-mailboxes\""));
    let vera_id: i64 = users::table
        .filter(users::email.eq("vera@example.com"))
        .select(users::id)
        .first(&mut conn)
        .expect("vera");
    let page = format!("/users/{vera_id}");
    let field = format!("access_{granted}");
    let none_field = format!("access_{other}");
    let r = admin.post_from(
        &page,
        &page,
        &[("role", "agent"), (&field, "reply"), (&none_field, "none")],
    );
    assert_eq!(r.status, 303);
    assert!(admin.get(&page).body.contains("value=\"reply\" selected"));
    let home = vera.get("/").body;
    assert!(
        home.contains("Sales") && !home.contains("Billing"),
        "{home}"
    );
    assert_eq!(vera.get(&format!("/mailboxes/{granted}")).status, 200);
    assert_eq!(vera.get(&format!("/mailboxes/{other}")).status, 404);
    assert_eq!(activity_count(&app, "user_changed"), 1);
}

#[test]
fn profile_language_clock_and_password_change() {
    let app = TestApp::installed(Backend::Sqlite);
    let c = app.client();
    c.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    let r = c.post_from(
        "/profile",
        "/profile",
        &[
            ("first_name", "Ada"),
            ("last_name", "Lovelace"),
            ("email", ADMIN_EMAIL),
            ("timezone", "Europe/Moscow"),
            ("locale", "ru"),
            ("time_format", "12"),
        ],
    );
    assert_eq!(r.status, 303);
    let page = c.get("/profile").body;
    assert!(
        page.contains("Ваш профиль") && page.contains(">AL<"),
        "{page}"
    );
    assert!(
        page.contains("value=\"Europe&#x2F;Moscow\" selected"),
        "{page}"
    );
    assert!(page.contains("value=\"12\" selected"));

    let wrong = c.post_from(
        "/profile",
        "/profile/password",
        &[
            ("current_password", "nope-nope-nope"),
            ("new_password", "amber-falcon-55"),
            ("new_password_confirm", "amber-falcon-55"),
        ],
    );
    assert_eq!(wrong.status, 422);
    assert!(wrong.body.contains("Текущий пароль указан неверно."));
    let other = app.client();
    other.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    let ok = c.post_from(
        "/profile",
        "/profile/password",
        &[
            ("current_password", ADMIN_PASSWORD),
            ("new_password", "amber-falcon-55"),
            ("new_password_confirm", "amber-falcon-55"),
        ],
    );
    assert_eq!(ok.status, 303);
    assert_eq!(
        c.get("/profile").status,
        200,
        "this browser stays logged in"
    );
    assert_eq!(other.get("/profile").status, 303, "other sessions end");
    assert_eq!(
        app.client().login(ADMIN_EMAIL, "amber-falcon-55").status,
        303
    );
}

#[test]
fn session_cookie_is_secure_behind_https_and_expired_sessions_end() {
    let app = TestApp::installed(Backend::Sqlite);
    let config = app.data.path().join("postdesk.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    let https = text.replace("app_url = \"http://", "app_url = \"https://");
    assert_ne!(text, https);
    std::fs::write(&config, https).expect("write config");
    let app = app.restart("Postdesk is running: open https://");
    let c = app.client();
    let r = c.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    let header = r
        .cookies
        .iter()
        .find(|h| h.starts_with("pd_session="))
        .expect("cookie");
    assert!(
        header.contains("Secure") && header.contains("HttpOnly"),
        "{header}"
    );

    // A session past its end is refused even with the right cookie.
    let token = r.cookie("pd_session").expect("token");
    assert_eq!(c.get_with_session("/api/me", &token).status, 200);
    diesel::update(sessions::table)
        .set(sessions::expires_at.eq(postdesk::db::now() - chrono::Duration::minutes(1)))
        .execute(&mut app.conn())
        .expect("expire");
    assert_eq!(c.get_with_session("/api/me", &token).status, 401);
}
