//! Walks every route of the app (pages and API) as anonymous, an agent without access, an
//! agent with access to one mailbox, and an admin, and checks each answer. A route added
//! to src/web/mod.rs or to the API's route table (src/api/mod.rs) without a row here
//! fails the test. API reads are also tried with the browser session; API writes need a
//! key, so they are tried with each role's key.

use std::collections::BTreeSet;

use diesel::prelude::*;
use postdesk::db::Backend;
use postdesk::db::schema::{threads, users};
use postdesk::db::types::MailboxAccess;
use postdesk::models::{mailbox, mailbox_user};

use crate::app::{ADMIN_EMAIL, ADMIN_PASSWORD, Client, TestApp, csrf_in, password_file, run_cli};

const PASSWORD: &str = "blue-harbour-17";

/// Role order in every row: anonymous, agent without access, agent with access, admin.
type Expect = [u16; 4];

struct Row {
    method: &'static str,
    route: &'static str,
    path: String,
    form: Vec<(&'static str, &'static str)>,
    expect: Expect,
}

fn row(method: &'static str, route: &'static str, path: &str, expect: Expect) -> Row {
    Row {
        method,
        route,
        path: path.to_string(),
        form: Vec::new(),
        expect,
    }
}

/// Every `(METHOD, path)` registered in src/web/mod.rs and the API's route table.
fn registered_routes() -> BTreeSet<(String, String)> {
    let mut all = web_routes();
    all.extend(
        postdesk::api::routes()
            .into_iter()
            .map(|r| (r.method.as_str().to_string(), r.path.to_string())),
    );
    all
}

fn web_routes() -> BTreeSet<(String, String)> {
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/web/mod.rs"))
        .expect("read src/web/mod.rs");
    let compact: String = source.chars().filter(|c| !c.is_whitespace()).collect();
    compact
        .split(".route(\"")
        .skip(1)
        .filter_map(|piece| {
            let (path, rest) = piece.split_once('"')?;
            let method = rest.strip_prefix(",web::")?.split("()").next()?;
            Some((method.to_uppercase(), path.to_string()))
        })
        .collect()
}

pub(crate) fn add_user(app: &TestApp, email: &str, role: &str) -> i64 {
    let pw = password_file(app.data.path(), PASSWORD);
    let (ok, out, err) = run_cli(
        app.data.path(),
        &[
            "user",
            "add",
            "--email",
            email,
            "--name",
            "Test User",
            "--role",
            role,
            "--password-file",
            &pw.display().to_string(),
        ],
    );
    assert!(ok, "{out}{err}");
    users::table
        .filter(users::email.eq(email))
        .select(users::id)
        .first(&mut app.conn())
        .expect("user id")
}

#[test]
fn every_route_answers_each_role_as_it_should() {
    let app = TestApp::installed(Backend::Postgres);
    let mut conn = app.conn();
    let now = postdesk::db::now();
    let new_box = |name: &'static str, email: &'static str| mailbox::NewMailbox {
        name,
        email,
        created_at: now,
        updated_at: now,
    };
    let a = mailbox::create(&mut conn, &new_box("Alpha", "alpha@example.com")).expect("mailbox A");
    let b = mailbox::create(&mut conn, &new_box("Beta", "beta@example.com")).expect("mailbox B");
    add_user(&app, "none@example.com", "agent");
    let with_id = add_user(&app, "with@example.com", "agent");
    let target = add_user(&app, "target@example.com", "agent");
    mailbox_user::replace_grants(&mut conn, with_id, &[(a, MailboxAccess::View)], now)
        .expect("grant");
    let seeded = crate::mail_admin::seed_mail(&mut conn, app.data.path(), a, "matrix");

    let anon = app.client();
    let none = app.client();
    let with = app.client();
    let admin = app.client();
    assert_eq!(none.login("none@example.com", PASSWORD).status, 303);
    assert_eq!(with.login("with@example.com", PASSWORD).status, 303);
    assert_eq!(admin.login(ADMIN_EMAIL, ADMIN_PASSWORD).status, 303);
    let clients: [&Client; 4] = [&anon, &none, &with, &admin];

    let mb_a = format!("/mailboxes/{a}");
    let api_a = format!("/api/mailboxes/{a}");
    let user_t = format!("/users/{target}");
    let set_a = format!("/settings/mailboxes/{a}");
    let att_a = format!("/attachments/{}", seeded.png_id);
    let orig_a = format!("/threads/{}/original", seeded.thread_id);
    let (conv_a, customer_a): (i64, Option<i64>) = postdesk::db::schema::threads::table
        .find(seeded.thread_id)
        .select((
            postdesk::db::schema::threads::conversation_id,
            postdesk::db::schema::threads::customer_id,
        ))
        .first(&mut conn)
        .expect("seeded thread");
    let customer_a = customer_a.expect("seeded customer");
    let api_conv = format!("/api/conversations/{conv_a}");
    let api_customer = format!("/api/customers/{customer_a}");
    let api_user = format!("/api/users/{target}");
    let conv: i64 = threads::table
        .find(seeded.thread_id)
        .select(threads::conversation_id)
        .first(&mut conn)
        .expect("seeded conversation");
    let conv_a = format!("/conversations/{conv}");
    // Form values must live as long as the rows.
    let conv_id: &'static str = Box::leak(conv.to_string().into_boxed_str());
    let box_a: &'static str = Box::leak(a.to_string().into_boxed_str());
    let conv_page = conv_a.clone();
    let thread_a = format!("/threads/{}", seeded.thread_id);
    let new_a = format!("{mb_a}/new");
    let mut rows = vec![
        row("GET", "/healthz", "/healthz", [200, 200, 200, 200]),
        row(
            "GET",
            "/static/{path:.*}",
            "/static/css/app.css",
            [200, 200, 200, 200],
        ),
        row("GET", "/", "/", [303, 200, 200, 200]),
        row("GET", "/login", "/login", [200, 303, 303, 303]),
        row(
            "GET",
            "/password/forgot",
            "/password/forgot",
            [200, 200, 200, 200],
        ),
        row(
            "GET",
            "/password/reset/{token}",
            "/password/reset/bogus",
            [410, 410, 410, 410],
        ),
        row(
            "GET",
            "/invite/{token}",
            "/invite/bogus",
            [410, 410, 410, 410],
        ),
        row("GET", "/mailboxes/{id}", &mb_a, [303, 404, 200, 200]),
        row("GET", "/profile", "/profile", [303, 200, 200, 200]),
        row("GET", "/users", "/users", [303, 403, 403, 200]),
        row("GET", "/users/{id}", &user_t, [303, 403, 403, 200]),
        row(
            "GET",
            "/settings/mail",
            "/settings/mail",
            [303, 403, 403, 200],
        ),
        row("GET", "/activity", "/activity", [303, 403, 403, 200]),
        // Mail settings pages and mail downloads.
        row(
            "GET",
            "/settings/mailboxes",
            "/settings/mailboxes",
            [303, 403, 403, 200],
        ),
        row(
            "GET",
            "/settings/mailboxes/new",
            "/settings/mailboxes/new",
            [303, 403, 403, 200],
        ),
        row(
            "GET",
            "/settings/mailboxes/{id}",
            &set_a,
            [303, 404, 403, 200],
        ),
        row(
            "GET",
            "/settings/ingest",
            "/settings/ingest",
            [303, 403, 403, 200],
        ),
        row("GET", "/attachments/{id}", &att_a, [303, 404, 200, 200]),
        row(
            "GET",
            "/threads/{id}/original",
            &orig_a,
            [303, 404, 200, 200],
        ),
        // REST API reads with the browser session (writes: see `api_rows` below).
        row(
            "GET",
            "/api/openapi.json",
            "/api/openapi.json",
            [200, 200, 200, 200],
        ),
        row("GET", "/api/me", "/api/me", [401, 200, 200, 200]),
        row(
            "GET",
            "/api/mailboxes",
            "/api/mailboxes",
            [401, 200, 200, 200],
        ),
        row(
            "GET",
            "/api/mailboxes/{mailboxId}",
            &api_a,
            [401, 404, 200, 200],
        ),
        row(
            "GET",
            "/api/mailboxes/{mailboxId}/folders",
            &format!("{api_a}/folders"),
            [401, 404, 200, 200],
        ),
        row(
            "GET",
            "/api/conversations",
            "/api/conversations",
            [401, 200, 200, 200],
        ),
        row(
            "GET",
            "/api/conversations/{conversationId}",
            &api_conv,
            [401, 404, 200, 200],
        ),
        row(
            "GET",
            "/api/customers",
            "/api/customers",
            [401, 200, 200, 200],
        ),
        row(
            "GET",
            "/api/customers/{customerId}",
            &api_customer,
            [401, 200, 200, 200],
        ),
        row("GET", "/api/users", "/api/users", [401, 200, 200, 200]),
        row(
            "GET",
            "/api/users/{userId}",
            &api_user,
            [401, 200, 200, 200],
        ),
        // Settings → API keys.
        row(
            "GET",
            "/settings/api-keys",
            "/settings/api-keys",
            [303, 403, 403, 200],
        ),
        Row {
            form: vec![("name", ""), ("user_id", "0"), ("rate", "1")],
            ..row(
                "POST",
                "/settings/api-keys",
                "/settings/api-keys",
                [303, 403, 403, 422],
            )
        },
        row(
            "POST",
            "/settings/api-keys/{id}/revoke",
            "/settings/api-keys/999999/revoke",
            [303, 403, 403, 404],
        ),
        // POSTs with a valid CSRF token; forms that would change a real user are invalid on
        // purpose (422) so the check is of access, not of side effects.
        Row {
            form: vec![("email", "x@example.com"), ("password", "wrong-wrong-1")],
            ..row("POST", "/login", "/login", [401, 401, 401, 401])
        },
        Row {
            form: vec![("email", "x@example.com")],
            ..row(
                "POST",
                "/password/forgot",
                "/password/forgot",
                [200, 200, 200, 200],
            )
        },
        Row {
            form: vec![("password", "a"), ("password_confirm", "a")],
            ..row(
                "POST",
                "/password/reset/{token}",
                "/password/reset/bogus",
                [410, 410, 410, 410],
            )
        },
        Row {
            form: vec![("password", "a"), ("password_confirm", "a")],
            ..row(
                "POST",
                "/invite/{token}",
                "/invite/bogus",
                [410, 410, 410, 410],
            )
        },
        Row {
            form: vec![
                ("first_name", ""),
                ("last_name", ""),
                ("email", "bad"),
                ("timezone", "UTC"),
                ("locale", "en"),
                ("time_format", "24"),
            ],
            ..row("POST", "/profile", "/profile", [303, 422, 422, 422])
        },
        Row {
            form: vec![
                ("current_password", "wrong-wrong-1"),
                ("new_password", "x"),
                ("new_password_confirm", "x"),
            ],
            ..row(
                "POST",
                "/profile/password",
                "/profile/password",
                [303, 422, 422, 422],
            )
        },
        Row {
            form: vec![
                ("email", "new@example.com"),
                ("name", "New"),
                ("role", "agent"),
            ],
            ..row(
                "POST",
                "/users/invite",
                "/users/invite",
                [303, 403, 403, 422],
            )
        },
        Row {
            form: vec![("role", "agent")],
            ..row("POST", "/users/{id}", &user_t, [303, 403, 403, 303])
        },
        row(
            "POST",
            "/users/{id}/disable",
            &format!("{user_t}/disable"),
            [303, 403, 403, 303],
        ),
        row(
            "POST",
            "/users/{id}/enable",
            &format!("{user_t}/enable"),
            [303, 403, 403, 303],
        ),
        Row {
            form: vec![
                ("host", ""),
                ("port", "587"),
                ("security", "starttls"),
                ("username", ""),
                ("password", ""),
                ("from_email", ""),
                ("from_name", ""),
            ],
            ..row(
                "POST",
                "/settings/mail",
                "/settings/mail",
                [303, 403, 403, 303],
            )
        },
        // Mail settings: invalid forms (422) so the check is of access, not of side effects.
        Row {
            form: vec![("name", "")],
            ..row(
                "POST",
                "/settings/mailboxes",
                "/settings/mailboxes",
                [303, 403, 403, 422],
            )
        },
        Row {
            form: vec![("name", "")],
            ..row(
                "POST",
                "/settings/mailboxes/{id}",
                &set_a,
                [303, 404, 403, 422],
            )
        },
        row(
            "POST",
            "/settings/mailboxes/{id}/test-imap",
            &format!("{set_a}/test-imap"),
            [303, 404, 403, 200],
        ),
        Row {
            form: vec![("to", "not-an-address")],
            ..row(
                "POST",
                "/settings/mailboxes/{id}/test-smtp",
                &format!("{set_a}/test-smtp"),
                [303, 404, 403, 422],
            )
        },
        row(
            "POST",
            "/settings/ingest/{id}/retry",
            "/settings/ingest/999999/retry",
            [303, 403, 403, 404],
        ),
        row(
            "POST",
            "/users/{id}/delete",
            &format!("{user_t}/delete"),
            [303, 403, 403, 303],
        ),
        // Settings → Modules; no module is installed here, so an admin's POST finds none.
        row(
            "GET",
            "/settings/modules",
            "/settings/modules",
            [303, 403, 403, 200],
        ),
        row(
            "POST",
            "/settings/modules/{name}/activate",
            "/settings/modules/nonexistent/activate",
            [303, 403, 403, 404],
        ),
        row(
            "POST",
            "/settings/modules/{name}/deactivate",
            "/settings/modules/nonexistent/deactivate",
            [303, 403, 403, 404],
        ),
        Row {
            form: vec![("max_attempts", "3")],
            ..row(
                "POST",
                "/settings/modules/{name}/settings",
                "/settings/modules/nonexistent/settings",
                [303, 403, 403, 404],
            )
        },
        // Agent notifications: each user sees and changes only their own.
        row(
            "GET",
            "/notifications",
            "/notifications",
            [303, 200, 200, 200],
        ),
        row(
            "POST",
            "/notifications/read",
            "/notifications/read",
            [303, 303, 303, 303],
        ),
        row(
            "POST",
            "/notifications/{id}/read",
            "/notifications/999999/read",
            [303, 404, 404, 404],
        ),
        row(
            "POST",
            "/profile/notifications",
            "/profile/notifications",
            [303, 303, 303, 303],
        ),
        // The conversation page and its forms: writing needs reply access (the agent
        // with access here may only view); empty forms are refused (422) for the admin.
        row(
            "GET",
            "/conversations/{id}",
            &conv_page,
            [303, 404, 200, 200],
        ),
        row(
            "POST",
            "/conversations/{id}/reply",
            &format!("{conv_page}/reply"),
            [303, 404, 403, 422],
        ),
        row(
            "POST",
            "/conversations/{id}/note",
            &format!("{conv_page}/note"),
            [303, 404, 403, 422],
        ),
        row(
            "POST",
            "/conversations/{id}/draft",
            &format!("{conv_page}/draft"),
            [303, 404, 403, 204],
        ),
        row(
            "POST",
            "/conversations/{id}/forward",
            &format!("{conv_page}/forward"),
            [303, 404, 403, 422],
        ),
        // Undo is for the reply's author only; a customer message has nothing to retry.
        row(
            "POST",
            "/threads/{id}/undo",
            &format!("{thread_a}/undo"),
            [303, 404, 403, 403],
        ),
        row(
            "POST",
            "/threads/{id}/retry",
            &format!("{thread_a}/retry"),
            [303, 404, 403, 404],
        ),
        Row {
            form: vec![("newest_first", "0"), ("return", "/")],
            ..row(
                "POST",
                "/preferences/thread-order",
                "/preferences/thread-order",
                [303, 303, 303, 303],
            )
        },
        // Uploads take the CSRF token in the X-CSRF-Token header only (a form field is
        // refused); each upload is visible to its uploader alone.
        row("POST", "/uploads", "/uploads", [303, 403, 403, 403]),
        row(
            "GET",
            "/uploads/{id}",
            "/uploads/999999",
            [303, 404, 404, 404],
        ),
        row("GET", "/mailboxes/{id}/new", &new_a, [303, 404, 403, 200]),
        row("POST", "/mailboxes/{id}/new", &new_a, [303, 404, 403, 422]),
        row(
            "POST",
            "/mailboxes/{id}/phone",
            &format!("{mb_a}/phone"),
            [303, 404, 403, 422],
        ),
        // Agent workspace: view access may star and follow; changes need reply access.
        // Forms change nothing (same status, assignee, mailbox) or undo themselves
        // (delete, then restore); merging a conversation with itself is refused (400).
        row("GET", "/search", "/search?q=invoice", [303, 200, 200, 200]),
        Row {
            form: vec![("status", "active")],
            ..row(
                "POST",
                "/conversations/{id}/status",
                &format!("{conv_a}/status"),
                [303, 404, 403, 303],
            )
        },
        Row {
            form: vec![("user_id", "")],
            ..row(
                "POST",
                "/conversations/{id}/assign",
                &format!("{conv_a}/assign"),
                [303, 404, 403, 303],
            )
        },
        Row {
            form: vec![("mailbox_id", box_a)],
            ..row(
                "POST",
                "/conversations/{id}/move",
                &format!("{conv_a}/move"),
                [303, 404, 403, 303],
            )
        },
        Row {
            form: vec![("other", conv_id)],
            ..row(
                "POST",
                "/conversations/{id}/merge",
                &format!("{conv_a}/merge"),
                [303, 404, 403, 400],
            )
        },
        Row {
            form: vec![("on", "1")],
            ..row(
                "POST",
                "/conversations/{id}/star",
                &format!("{conv_a}/star"),
                [303, 404, 303, 303],
            )
        },
        Row {
            form: vec![("on", "0")],
            ..row(
                "POST",
                "/conversations/{id}/follow",
                &format!("{conv_a}/follow"),
                [303, 404, 303, 303],
            )
        },
        row(
            "POST",
            "/conversations/{id}/delete",
            &format!("{conv_a}/delete"),
            [303, 404, 403, 303],
        ),
        row(
            "POST",
            "/conversations/{id}/restore",
            &format!("{conv_a}/restore"),
            [303, 404, 403, 303],
        ),
        Row {
            form: vec![
                ("action", "status"),
                ("status", "active"),
                ("ids[]", conv_id),
            ],
            ..row(
                "POST",
                "/conversations/bulk",
                "/conversations/bulk",
                [303, 404, 403, 303],
            )
        },
        // A module route (any method); with no module installed every path is unknown.
        row(
            "ROUTE",
            "/m/{module}/{tail:.*}",
            "/m/nonexistent/page",
            [404, 404, 404, 404],
        ),
        row("POST", "/logout", "/logout", [303, 303, 303, 303]),
    ];

    // API writes, tried with each role's key (no key, then the three users' keys).
    let keys: Vec<Option<String>> = vec![
        None,
        Some(crate::api::key_for(&app, "none@example.com")),
        Some(crate::api::key_for(&app, "with@example.com")),
        Some(crate::api::key_for(&app, ADMIN_EMAIL)),
    ];
    let new_conversation = serde_json::json!({
        "type": "email", "mailboxId": a, "subject": "Matrix",
        "customer": {"email": "matrix@example.org"},
        "threads": [{"type": "customer", "text": "Hello"}]
    });
    let api_rows: Vec<(&str, &str, String, serde_json::Value, Expect)> = vec![
        (
            "POST",
            "/api/conversations",
            "/api/conversations".into(),
            new_conversation,
            [401, 400, 403, 201],
        ),
        (
            "PUT",
            "/api/conversations/{conversationId}",
            api_conv.clone(),
            serde_json::json!({"subject": "Renamed"}),
            [401, 404, 403, 204],
        ),
        (
            "POST",
            "/api/conversations/{conversationId}/threads",
            format!("{api_conv}/threads"),
            serde_json::json!({"type": "note", "text": "n"}),
            [401, 404, 403, 201],
        ),
        (
            "POST",
            "/api/customers",
            "/api/customers".into(),
            serde_json::json!({"firstName": "M"}),
            [401, 201, 201, 201],
        ),
        (
            "PUT",
            "/api/customers/{customerId}",
            api_customer.clone(),
            serde_json::json!({"notes": "n"}),
            [401, 204, 204, 204],
        ),
        (
            "POST",
            "/api/webhooks",
            "/api/webhooks".into(),
            serde_json::json!({"url": "http://127.0.0.1:9/h", "events": ["convo.created"]}),
            [401, 403, 403, 201],
        ),
        (
            "DELETE",
            "/api/webhooks/{webhookId}",
            "/api/webhooks/999999".into(),
            serde_json::Value::Null,
            [401, 403, 403, 404],
        ),
        (
            "DELETE",
            "/api/conversations/{conversationId}",
            api_conv.clone(),
            serde_json::Value::Null,
            [401, 404, 403, 204],
        ),
    ];
    for (method, _, path, body, expect) in &api_rows {
        for (role, key) in keys.iter().enumerate() {
            let auth = match key {
                Some(k) => crate::api::Auth::Header(k),
                None => crate::api::Auth::None,
            };
            let body = (!body.is_null()).then_some(body);
            let got = crate::api::call(&app.base, method, path, auth, body);
            assert_eq!(
                got.status, expect[role],
                "{method} {path} with role {role}'s key: {:?}",
                got.body
            );
        }
    }

    // Every registered route has a row, and every row is a registered route.
    let mut covered: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r.method.to_string(), r.route.to_string()))
        .collect();
    covered.extend(
        api_rows
            .iter()
            .map(|(m, r, ..)| (m.to_string(), r.to_string())),
    );
    assert_eq!(
        covered,
        registered_routes(),
        "the matrix must cover exactly the app's routes"
    );

    // First: no POST succeeds without the CSRF token, for any role.
    for r in rows.iter().filter(|r| r.method == "POST") {
        for (role, c) in clients.iter().enumerate() {
            let got = c.post(&r.path, &r.form);
            let refused =
                got.status == 403 || (role == 0 && got.status == 303 && got.location == "/login");
            assert!(
                refused,
                "POST {} without CSRF as role {role}: {} {}",
                r.path, got.status, got.location
            );
        }
    }
    // Then the matrix itself (logout last: it ends the sessions).
    for r in rows.iter_mut() {
        for (role, c) in clients.iter().enumerate() {
            let got = if r.method == "GET" {
                c.get(&r.path)
            } else {
                let page = if role == 0 { "/login" } else { "/profile" };
                let token = csrf_in(&c.get(page).body);
                let mut form = vec![("csrf_token", token.as_str())];
                form.extend_from_slice(&r.form);
                c.post(&r.path, &form)
            };
            assert_eq!(
                got.status, r.expect[role],
                "{} {} as role {role} (0 anonymous, 1 agent without access, 2 agent with access, 3 admin): {}",
                r.method, r.path, got.body
            );
            if got.status == 303 && r.expect[role] == 303 && role == 0 && r.path != "/logout" {
                assert_eq!(got.location, "/login", "{} {}", r.method, r.path);
            }
        }
    }

    // What the lists show: each role sees exactly its mailboxes, never another's.
    let none = app.client();
    none.login("none@example.com", PASSWORD);
    let with = app.client();
    with.login("with@example.com", PASSWORD);
    let admin = app.client();
    admin.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    assert!(none.get("/api/mailboxes").body.contains("\"mailboxes\":[]"));
    let seen = with.get("/api/mailboxes").body;
    assert!(
        seen.contains("alpha@example.com") && !seen.contains("beta@example.com"),
        "{seen}"
    );
    let home = with.get("/").body;
    assert!(home.contains("Alpha") && !home.contains("Beta"), "{home}");
    let hidden = with.get(&format!("/mailboxes/{b}"));
    assert_eq!(hidden.status, 404);
    assert!(
        hidden.body.contains("id=\"error-page\"") && hidden.body.contains("id=\"logout\""),
        "a 404 in the app's look, with the user's menu: {}",
        hidden.body
    );
    assert!(
        !hidden.body.contains("Beta"),
        "nothing about the hidden mailbox leaks"
    );
    assert_eq!(with.get(&format!("/api/mailboxes/{b}")).status, 404);
    let all = admin.get("/api/mailboxes").body;
    assert!(
        all.contains("alpha@example.com") && all.contains("beta@example.com"),
        "{all}"
    );
    assert!(
        !with.get("/").body.contains("href=\"/users\""),
        "agents get no admin links"
    );
}
