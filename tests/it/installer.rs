//! The installer: web (over HTTP, on every backend) and `postdesk install`.

use std::os::unix::fs::PermissionsExt;

use postdesk::db::Backend;

use crate::app::{ADMIN_PASSWORD, Client, TestApp, password_file, run_cli};
use crate::support::{BACKENDS, mysql_admin_url};

fn migration_count() -> usize {
    std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .expect("migrations dir")
        .count()
}

fn token_of(setup_url: &str) -> String {
    setup_url.split("token=").nth(1).expect("token").to_string()
}

/// A database URL the real driver refuses, and the words its error must contain.
fn wrong_credentials(backend: Backend, good: &str) -> (String, &'static str, String) {
    match backend {
        // SQLite has no credentials: the wrong choice is a PostgreSQL server nobody runs.
        Backend::Sqlite => (
            format!(
                "postgres://pd:secret@127.0.0.1:{}/x",
                crate::app::free_port()
            ),
            "postgres",
            "refused".into(),
        ),
        // The test server trusts every password, so the wrong credential is the user.
        Backend::Postgres => (
            good.replacen("postgres://postgres@", "postgres://nosuchuser:pw@", 1),
            "postgres",
            "nosuchuser".into(),
        ),
        Backend::Mysql => (
            good.replacen("mysql://root@", "mysql://root:wrongpassword@", 1),
            "mysql",
            "Access denied".into(),
        ),
    }
}

/// Polls /healthz until the app (not the installer) answers; returns its body.
fn wait_for_app(c: &Client) -> String {
    for _ in 0..100 {
        let h = c.get("/healthz");
        if h.status == 200 && h.body.contains("\"ok\"") {
            return h.body;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the app did not take over from the installer");
}

fn step(resp: &crate::app::Resp, id: &str) {
    assert!(
        resp.body.contains(&format!("id=\"{id}\"")),
        "expected step {id}, got {}: {}",
        resp.status,
        resp.body
    );
}

#[test]
fn web_installer_end_to_end_on_every_backend() {
    for backend in BACKENDS {
        let app = TestApp::fresh(backend);
        let c = app.client();
        let token = token_of(&app.setup_url());

        // Install mode: alive, everything leads to /install, and nothing opens without the token.
        let health = c.get("/healthz");
        assert_eq!(health.status, 200);
        assert!(health.body.contains("not installed yet"), "{}", health.body);
        let home = c.get("/");
        assert_eq!((home.status, home.location.as_str()), (303, "/install"));
        for path in ["/install", "/install?token=0000"] {
            let r = c.get(path);
            assert_eq!(r.status, 403, "{path}");
            assert!(r.body.contains("install-refused"));
        }
        let forged = c.post(
            "/install/database",
            &[
                ("install_token", "x"),
                ("kind", "sqlite"),
                ("url", ""),
                ("action", "save"),
            ],
        );
        assert_eq!(forged.status, 403);

        // The console link sets the installer cookie; the form field must carry the token too.
        let opened = c.get(&format!("/install?token={token}"));
        assert_eq!((opened.status, opened.location.as_str()), (303, "/install"));
        step(&c.get("/install"), "step-requirements");
        let no_field = c.post("/install/requirements", &[("install_token", "nope")]);
        assert_eq!(no_field.status, 403);
        step(
            &c.post("/install/requirements", &[("install_token", &token)]),
            "step-database",
        );

        // A wrong database login shows the driver's own error; the retry works.
        let (kind, good_url) = match backend {
            Backend::Sqlite => ("sqlite", String::new()),
            Backend::Postgres => ("postgres", app.db.url.clone()),
            Backend::Mysql => ("mysql", app.db.url.clone()),
        };
        let (bad_url, bad_kind, words) = wrong_credentials(backend, &app.db.url);
        let bad = c.post(
            "/install/database",
            &[
                ("install_token", &token),
                ("kind", bad_kind),
                ("url", &bad_url),
                ("action", "test"),
            ],
        );
        assert_eq!(bad.status, 422, "{backend:?}: {}", bad.body);
        assert!(bad.body.contains("id=\"db-error\""), "{}", bad.body);
        assert!(bad.body.contains(&words), "{backend:?}: {}", bad.body);
        let shown = bad.body.split("id=\"db-error\"").nth(1).unwrap_or_default();
        let shown = shown.split("</p>").next().unwrap_or_default();
        assert!(
            !shown.contains("wrongpassword"),
            "passwords are hidden: {shown}"
        );
        let tested = c.post(
            "/install/database",
            &[
                ("install_token", &token),
                ("kind", kind),
                ("url", &good_url),
                ("action", "test"),
            ],
        );
        assert!(
            tested.body.contains("id=\"db-ok\""),
            "{backend:?}: {}",
            tested.body
        );
        let saved = c.post(
            "/install/database",
            &[
                ("install_token", &token),
                ("kind", kind),
                ("url", &good_url),
                ("action", "save"),
            ],
        );
        step(&saved, "step-migrations");

        // Migrations with visible progress.
        let migrated = c.post("/install/migrate", &[("install_token", &token)]);
        step(&migrated, "step-admin");
        let n = migration_count();
        assert!(
            migrated.body.contains(&format!("[{n}/{n}]")),
            "{}",
            migrated.body
        );

        // A weak password is refused and nothing is written.
        let admin = |password: &str| {
            c.post(
                "/install/admin",
                &[
                    ("install_token", &token),
                    ("name", "Ada Admin"),
                    ("email", "Ada@Example.com"),
                    ("password", password),
                    ("language", "en"),
                    ("timezone", "Europe/Berlin"),
                    ("app_url", &app.base),
                ],
            )
        };
        let weak = admin("short");
        assert_eq!(weak.status, 422);
        assert!(weak.body.contains("id=\"admin-error\""));
        let config = app.data.path().join("postdesk.toml");
        assert!(!config.exists(), "a failed step leaves no config behind");

        let done = admin(ADMIN_PASSWORD);
        assert_eq!(done.status, 200, "{backend:?}: {}", done.body);
        assert!(done.body.contains("id=\"install-done\""), "{}", done.body);
        let mode = std::fs::metadata(&config)
            .expect("config written")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "config file mode");
        let text = std::fs::read_to_string(&config).expect("read config");
        assert!(text.contains("installed = true"), "{text}");

        // The same process now serves the app; the installer is gone for good.
        let mut health = c.get("/healthz");
        for _ in 0..50 {
            if health.body.contains(backend.name()) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
            health = c.get("/healthz");
        }
        assert!(
            health.body.contains(backend.name()),
            "{backend:?}: {}",
            health.body
        );
        for path in ["/install".to_string(), format!("/install?token={token}")] {
            assert_eq!(c.get(&path).status, 404, "{path} after install");
        }
        let again = c.post("/install/admin", &[("install_token", &token)]);
        assert_eq!(again.status, 404);
        let login = c.login("ada@example.com", ADMIN_PASSWORD);
        assert_eq!(
            (login.status, login.location.as_str()),
            (303, "/"),
            "{backend:?}"
        );
        assert_eq!(c.get("/users").status, 200);

        // After a restart the app starts directly (no installer, no new token).
        let app = app.restart("Postdesk is running: open http://");
        assert_eq!(Client::new(&app.base).get("/install").status, 404);
    }
}

#[test]
fn installer_continues_cleanly_after_a_crash_between_steps() {
    let app = TestApp::fresh(Backend::Postgres);
    let c = app.client();
    let token = token_of(&app.setup_url());
    c.get(&format!("/install?token={token}"));
    c.post("/install/requirements", &[("install_token", &token)]);
    let url = app.db.url.clone();
    c.post(
        "/install/database",
        &[
            ("install_token", &token),
            ("kind", "postgres"),
            ("url", &url),
            ("action", "save"),
        ],
    );
    step(
        &c.post("/install/migrate", &[("install_token", &token)]),
        "step-admin",
    );

    // The process dies before the admin step: the old token is worthless, a new one works.
    let app = app.restart("Postdesk is not installed yet: open http://");
    let c = app.client();
    let new_token = token_of(&app.setup_url());
    assert_ne!(token, new_token);
    assert_eq!(c.get(&format!("/install?token={token}")).status, 403);
    c.get(&format!("/install?token={new_token}"));
    c.post("/install/requirements", &[("install_token", &new_token)]);
    c.post(
        "/install/database",
        &[
            ("install_token", &new_token),
            ("kind", "postgres"),
            ("url", &url),
            ("action", "save"),
        ],
    );
    let migrated = c.post("/install/migrate", &[("install_token", &new_token)]);
    step(&migrated, "step-admin");
    let done = c.post(
        "/install/admin",
        &[
            ("install_token", &new_token),
            ("name", "Ada Admin"),
            ("email", "ada@example.com"),
            ("password", ADMIN_PASSWORD),
            ("language", "ru"),
            ("timezone", "Europe/Moscow"),
            ("app_url", &app.base),
        ],
    );
    assert!(done.body.contains("id=\"install-done\""), "{}", done.body);
    wait_for_app(&c);
    assert_eq!(c.login("ada@example.com", ADMIN_PASSWORD).status, 303);
    let home = c.get("/");
    assert!(
        home.body.contains("Ваши почтовые ящики"),
        "the admin's language: {}",
        home.body
    );
}

#[test]
fn command_line_install_and_user_commands() {
    let data = tempfile::tempdir().expect("data dir");
    let d = data.path();
    let good = password_file(d, ADMIN_PASSWORD);
    let weak = password_file(d, "abc");
    let base_args = |pw: &std::path::Path| {
        vec![
            "install".to_string(),
            "--admin-email".into(),
            "root@example.com".into(),
            "--admin-password-file".into(),
            pw.display().to_string(),
            "--app-url".into(),
            "https://help.example.com".into(),
        ]
    };
    let run = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        run_cli(d, &refs)
    };

    let (ok, _, err) = run(base_args(&weak));
    assert!(!ok && err.contains("at least 10 characters"), "{err}");
    let mut bad_db = base_args(&good);
    bad_db.extend([
        "--database-url".into(),
        format!("{}/nosuchdb_{}", mysql_admin_url(), std::process::id()),
    ]);
    let (ok, _, err) = run(bad_db);
    assert!(!ok && err.contains("Unknown database"), "{err}");
    assert!(
        !d.join("postdesk.toml").exists(),
        "nothing written after a failure"
    );

    // Without --database-url: SQLite in the data directory.
    let (ok, out, err) = run(base_args(&good));
    assert!(ok, "{out}{err}");
    assert!(d.join("postdesk.db").exists());
    let mode = std::fs::metadata(d.join("postdesk.toml"))
        .expect("config")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let (ok, _, err) = run(base_args(&good));
    assert!(!ok && err.contains("already installed"), "{err}");

    let agent_pw = password_file(d, "blue-harbour-17");
    let pw = agent_pw.display().to_string();
    let add = |email: &str, role: &str| {
        run_cli(
            d,
            &[
                "user",
                "add",
                "--email",
                email,
                "--name",
                "Boris Agent",
                "--role",
                role,
                "--password-file",
                &pw,
            ],
        )
    };
    let (ok, out, err) = add("boris@example.com", "agent");
    assert!(ok, "{out}{err}");
    let (ok, _, err) = add("boris@example.com", "agent");
    assert!(!ok && err.contains("exists already"), "{err}");
    let (ok, _, err) = run_cli(
        d,
        &[
            "user",
            "add",
            "--email",
            "x@example.com",
            "--name",
            "X",
            "--role",
            "agent",
            "--password-file",
            &weak.display().to_string(),
        ],
    );
    assert!(!ok && err.contains("at least 10"), "{err}");
    let (ok, list, _) = run_cli(d, &["user", "list"]);
    assert!(ok);
    assert!(
        list.contains("root@example.com") && list.contains("admin"),
        "{list}"
    );
    assert!(
        list.contains("boris@example.com") && list.contains("agent"),
        "{list}"
    );
    assert!(list.contains("Boris Agent"), "{list}");
}
