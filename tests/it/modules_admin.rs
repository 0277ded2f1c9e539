//! Settings → Modules over HTTP against the real binary: the two bundled modules, the
//! misbehaving test module and a wrong-ABI copy of it are installed into the data
//! directory before the server starts; the admin sees them with their versions, hooks and
//! errors, switches them off and on (seen by `postdesk module list` at once), re-enables
//! one the host disabled after failures, and saves settings from the form the host renders
//! from each manifest (bad values come back with the module's message; secrets are never
//! shown again). Agents get 403 and a POST without the CSRF token is refused.

use postdesk::db::Backend;
use postdesk::hooks::store;
use serde_json::{Value, json};

use crate::app::{ADMIN_EMAIL, ADMIN_PASSWORD, Client, TestApp, csrf_in, run_cli};
use crate::authz_matrix::add_user;

const PASSWORD: &str = "blue-harbour-17";
const RUNNING: &str = "Postdesk is running: open http://";

/// The `<section>` of one module on the page.
fn section<'a>(page: &'a str, name: &str) -> &'a str {
    let start = page
        .find(&format!("id=\"module-{name}\""))
        .unwrap_or_else(|| panic!("no section for {name}: {page}"));
    let rest = &page[start..];
    &rest[..rest.find("</section>").unwrap_or(rest.len())]
}

fn module_line(app: &TestApp, name: &str) -> String {
    let (ok, out, err) = run_cli(app.data.path(), &["module", "list"]);
    assert!(ok, "{out}{err}");
    out.lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no line for {name}: {out}"))
        .to_string()
}

fn stored(app: &TestApp, name: &str) -> (bool, String, Value) {
    let state = store::find_state(&mut app.conn(), name)
        .expect("query")
        .expect("state row");
    let settings = serde_json::from_str(&state.settings).expect("settings JSON");
    (state.active, state.disabled_reason, settings)
}

fn post(c: &Client, path: &str, form: &[(&str, &str)]) -> crate::app::Resp {
    c.post_from("/settings/modules", path, form)
}

#[test]
fn admin_sees_switches_and_configures_modules() {
    let app = TestApp::installed(Backend::Sqlite);
    crate::modules::install_all(app.data.path());
    let app = app.restart(RUNNING);
    add_user(&app, "agent@example.com", "agent");
    let admin = app.client();
    assert_eq!(admin.login(ADMIN_EMAIL, ADMIN_PASSWORD).status, 303);
    let agent = app.client();
    assert_eq!(agent.login("agent@example.com", PASSWORD).status, 303);
    let anon = app.client();

    // Who may open it.
    let anon_page = anon.get("/settings/modules");
    assert_eq!(
        (anon_page.status, anon_page.location.as_str()),
        (303, "/login")
    );
    assert_eq!(agent.get("/settings/modules").status, 403);
    assert!(
        !agent
            .get("/settings/mailboxes")
            .body
            .contains("/settings/modules"),
        "agents get no link to it"
    );
    let token = csrf_in(&agent.get("/profile").body);
    for path in [
        "/settings/modules/webhooks/deactivate",
        "/settings/modules/webhooks/activate",
        "/settings/modules/webhooks/settings",
    ] {
        let got = agent.post(path, &[("csrf_token", &token), ("max_attempts", "1")]);
        assert_eq!(got.status, 403, "agent POST {path}");
    }

    // The page: every module with version, description, author, status and hooks.
    let page = admin.get("/settings/modules");
    assert_eq!(page.status, 200, "{}", page.body);
    let body = page.body;
    assert!(body.contains("href=\"/settings/modules\""), "menu link");
    let hooks = section(&body, "webhooks");
    assert!(hooks.contains("data-state=\"active\""), "{hooks}");
    assert!(hooks.contains("0.1.0"), "{hooks}");
    assert!(hooks.contains("signed with HMAC-SHA256"), "{hooks}");
    assert!(hooks.contains("Author: Postdesk"), "{hooks}");
    assert!(
        hooks.contains("<code>conversation_after_created</code>"),
        "{hooks}"
    );
    assert!(hooks.contains("id=\"deactivate-webhooks\""), "{hooks}");
    assert!(
        hooks.contains("name=\"max_attempts\" value=\"6\""),
        "{hooks}"
    );
    assert!(hooks.contains("<textarea name=\"endpoints\""), "{hooks}");
    let ratings = section(&body, "satisfaction-ratings");
    assert!(
        ratings.contains("<code>conversation_sidebar</code>"),
        "{ratings}"
    );
    assert!(
        ratings.contains("<code>/m/satisfaction-ratings/rate</code>"),
        "{ratings}"
    );
    assert!(ratings.contains("name=\"question\" value=\"How did we do?\""));
    let bad = section(&body, "misbehaving");
    assert!(
        bad.contains("0.0.1") && bad.contains("data-state=\"active\""),
        "{bad}"
    );
    assert!(bad.contains("type=\"checkbox\" name=\"verbose\""), "{bad}");
    assert!(
        bad.contains("type=\"password\" name=\"api_key\" value=\"\""),
        "{bad}"
    );
    let wrong = section(&body, "wrong-abi");
    assert!(wrong.contains("data-state=\"failed\""), "{wrong}");
    assert!(wrong.contains("id=\"reason-wrong-abi\""), "{wrong}");
    assert!(wrong.contains("built for module ABI 2"), "{wrong}");
    assert!(
        !wrong.contains("id=\"activate-wrong-abi\"") && !wrong.contains("<form"),
        "a module that failed to load has no buttons and no form: {wrong}"
    );
    assert_eq!(
        post(&admin, "/settings/modules/wrong-abi/activate", &[]).status,
        404
    );
    assert_eq!(
        post(&admin, "/settings/modules/nothing-here/settings", &[]).status,
        404
    );

    // No CSRF token, no change.
    let got = admin.post("/settings/modules/webhooks/deactivate", &[]);
    assert_eq!(got.status, 403);
    let got = admin.post(
        "/settings/modules/webhooks/settings",
        &[("csrf_token", "forged"), ("max_attempts", "2")],
    );
    assert_eq!(got.status, 403);
    assert!(stored(&app, "webhooks").0);
    assert_eq!(stored(&app, "webhooks").2, json!({}));

    // Deactivate, then activate: at once, persisted, seen by `postdesk module list`.
    let got = post(&admin, "/settings/modules/webhooks/deactivate", &[]);
    assert_eq!(got.status, 303);
    assert!(
        got.location
            .starts_with("/settings/modules?done=module_deactivated")
    );
    assert!(module_line(&app, "webhooks").ends_with("inactive"));
    let page = admin.get(&got.location).body;
    assert!(page.contains("The module was deactivated."), "{page}");
    let hooks = section(&page, "webhooks");
    assert!(hooks.contains("data-state=\"inactive\""), "{hooks}");
    assert!(hooks.contains("id=\"activate-webhooks\""), "{hooks}");
    let got = post(&admin, "/settings/modules/webhooks/activate", &[]);
    assert_eq!(got.status, 303);
    assert!(module_line(&app, "webhooks").ends_with("active"));
    assert!(!module_line(&app, "webhooks").ends_with("inactive"));
    assert!(
        section(&admin.get("/settings/modules").body, "webhooks").contains("data-state=\"active\"")
    );
    // A change made with the command line shows on the page at once.
    let (ok, out, err) = run_cli(
        app.data.path(),
        &["module", "deactivate", "satisfaction-ratings"],
    );
    assert!(ok, "{out}{err}");
    let page = admin.get("/settings/modules").body;
    assert!(section(&page, "satisfaction-ratings").contains("data-state=\"inactive\""));
    assert_eq!(
        post(
            &admin,
            "/settings/modules/satisfaction-ratings/activate",
            &[]
        )
        .status,
        303
    );
    assert!(module_line(&app, "satisfaction-ratings").ends_with("active"));

    // Settings: saved, typed, and shown again.
    let got = post(
        &admin,
        "/settings/modules/webhooks/settings",
        &[
            ("endpoints", "https://example.com/hook *"),
            ("secret", "s3cret-signing-key"),
            ("max_attempts", "9"),
            ("retry_base_secs", "30"),
            ("timeout_ms", "2500"),
        ],
    );
    assert_eq!(got.status, 303, "{}", got.body);
    assert!(got.location.starts_with("/settings/modules?done=saved"));
    let (_, _, settings) = stored(&app, "webhooks");
    assert_eq!(settings["max_attempts"], json!(9));
    assert_eq!(settings["timeout_ms"], json!(2500));
    assert_eq!(settings["endpoints"], json!("https://example.com/hook *"));
    assert_eq!(settings["secret"], json!("s3cret-signing-key"));
    let page = admin.get(&got.location).body;
    assert!(section(&page, "webhooks").contains("name=\"max_attempts\" value=\"9\""));
    assert!(
        !page.contains("s3cret-signing-key"),
        "the signing secret is never shown again"
    );
    assert!(page.contains("Saved."));

    // A bad value: the form comes back with the module's message at the field, with what
    // was typed, and nothing is stored (not even the good fields of the same form).
    let got = post(
        &admin,
        "/settings/modules/webhooks/settings",
        &[("max_attempts", "lots"), ("timeout_ms", "1234")],
    );
    assert_eq!(got.status, 422, "{}", got.body);
    let hooks = section(&got.body, "webhooks");
    assert!(
        hooks.contains("id=\"err-webhooks-max_attempts\""),
        "{hooks}"
    );
    assert!(
        hooks.contains("is not a valid Integer for max_attempts"),
        "{hooks}"
    );
    assert!(
        hooks.contains("name=\"max_attempts\" value=\"lots\""),
        "{hooks}"
    );
    assert!(hooks.contains("Nothing was saved"), "{hooks}");
    assert!(!hooks.contains("id=\"err-webhooks-timeout_ms\""), "{hooks}");
    let (_, _, settings) = stored(&app, "webhooks");
    assert_eq!(settings["max_attempts"], json!(9));
    assert_eq!(settings["timeout_ms"], json!(2500));

    // A secret is stored but never rendered back; an empty field keeps it. A bool is
    // the checkbox: sent means true, not sent means false.
    let got = post(
        &admin,
        "/settings/modules/misbehaving/settings",
        &[("api_key", "hunter2-secret-key"), ("verbose", "on")],
    );
    assert_eq!(got.status, 303, "{}", got.body);
    let (_, _, settings) = stored(&app, "misbehaving");
    assert_eq!(settings["api_key"], json!("hunter2-secret-key"));
    assert_eq!(settings["verbose"], json!(true));
    let page = admin.get("/settings/modules").body;
    assert!(
        !page.contains("hunter2-secret-key"),
        "a secret is never shown"
    );
    let bad = section(&page, "misbehaving");
    assert!(bad.contains("placeholder=\"(unchanged)\""), "{bad}");
    assert!(
        bad.contains("name=\"verbose\" value=\"on\" checked"),
        "{bad}"
    );
    let got = post(
        &admin,
        "/settings/modules/misbehaving/settings",
        &[("api_key", ""), ("sleep_ms", "x")],
    );
    assert_eq!(got.status, 422);
    assert!(!got.body.contains("hunter2-secret-key"));
    let got = post(
        &admin,
        "/settings/modules/misbehaving/settings",
        &[("api_key", "")],
    );
    assert_eq!(got.status, 303);
    let (_, _, settings) = stored(&app, "misbehaving");
    assert_eq!(settings["api_key"], json!("hunter2-secret-key"), "kept");
    assert_eq!(settings["verbose"], json!(false), "unticked");

    // A module the host disabled after failures shows why; activating it forgets that.
    let got = post(
        &admin,
        "/settings/modules/misbehaving/settings",
        &[("mode", "panic")],
    );
    assert_eq!(got.status, 303);
    for _ in 0..3 {
        assert_eq!(anon.get("/m/misbehaving/boom").status, 502);
    }
    assert_eq!(anon.get("/m/misbehaving/boom").status, 404, "disabled");
    let page = admin.get("/settings/modules").body;
    let bad = section(&page, "misbehaving");
    assert!(bad.contains("data-state=\"disabled\""), "{bad}");
    assert!(bad.contains("id=\"reason-misbehaving\""), "{bad}");
    assert!(bad.contains("disabled after 3 failures in a row"), "{bad}");
    assert!(bad.contains("id=\"activate-misbehaving\""), "{bad}");
    assert!(module_line(&app, "misbehaving").contains("inactive: disabled after 3 failures"));
    assert_eq!(
        post(
            &admin,
            "/settings/modules/misbehaving/settings",
            &[("mode", "ok")]
        )
        .status,
        303
    );
    assert_eq!(
        post(&admin, "/settings/modules/misbehaving/activate", &[]).status,
        303
    );
    let (active, reason, _) = stored(&app, "misbehaving");
    assert!(active && reason.is_empty(), "{reason}");
    assert!(module_line(&app, "misbehaving").ends_with("active"));
    let bad = section(&admin.get("/settings/modules").body, "misbehaving").to_string();
    assert!(bad.contains("data-state=\"active\"") && !bad.contains("reason-misbehaving"));
    assert_eq!(anon.get("/m/misbehaving/boom").status, 200, "called again");

    // Every change is in the activity log.
    let log = admin.get("/activity").body;
    for action in [
        "module_activated",
        "module_deactivated",
        "module_settings_changed",
    ] {
        assert!(log.contains(action), "{action}: {log}");
    }
}

#[test]
fn the_page_is_in_russian_and_says_when_there_are_no_modules() {
    let app = TestApp::installed(Backend::Sqlite);
    let admin = app.client();
    assert_eq!(admin.login(ADMIN_EMAIL, ADMIN_PASSWORD).status, 303);
    let page = admin.get("/settings/modules");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"no-modules\""), "{}", page.body);
    assert!(page.body.contains("No modules are installed."));
    let got = admin.post_from(
        "/profile",
        "/profile",
        &[
            ("first_name", "Ada"),
            ("last_name", "Admin"),
            ("email", ADMIN_EMAIL),
            ("timezone", "UTC"),
            ("locale", "ru"),
            ("time_format", "24"),
        ],
    );
    assert_eq!(got.status, 303, "{}", got.body);
    let page = admin.get("/settings/modules").body;
    assert!(page.contains("<h1>Модули</h1>"), "{page}");
    assert!(page.contains("Модули не установлены."), "{page}");
}
