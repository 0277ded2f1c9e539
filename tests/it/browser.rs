//! A real browser (headless Chromium over WebDriver; tests/run starts chromedriver):
//! complete the installer on SQLite, log in, and save a screenshot of every step under
//! target/test-artifacts/.

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use postdesk::db::Backend;

use crate::app::{ADMIN_PASSWORD, TestApp};

fn webdriver_url() -> String {
    std::env::var("POSTDESK_TEST_WEBDRIVER").unwrap_or_else(|_| "http://127.0.0.1:9515".into())
}

fn artifacts() -> PathBuf {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/target/test-artifacts"
    ));
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}

pub(crate) async fn browser(profile: &std::path::Path) -> Client {
    // Two rustls providers are compiled into the test binary; choose one (an error only
    // means another test chose already).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let caps = serde_json::json!({"browserName": "chrome", "goog:chromeOptions": {
        "binary": "/usr/bin/chromium",
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-quic", "--no-first-run", "--window-size=1100,900", "--lang=en-US",
                 format!("--user-data-dir={}", profile.display())]}});
    let caps = caps.as_object().cloned().expect("capabilities object");
    ClientBuilder::rustls()
        .expect("rustls connector")
        .capabilities(caps)
        .connect(&webdriver_url())
        .await
        .unwrap_or_else(|e| {
            panic!(
                "no WebDriver at {} (tests/run starts chromedriver): {e}",
                webdriver_url()
            )
        })
}

pub(crate) async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    std::fs::write(artifacts().join(format!("{name}.png")), png).expect("save screenshot");
}

pub(crate) async fn wait_for(c: &Client, id: &str) {
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id} did not appear: {e}"));
}

pub(crate) async fn click(c: &Client, id: &str) {
    c.find(Locator::Id(id))
        .await
        .expect(id)
        .click()
        .await
        .expect("click");
}

pub(crate) async fn fill(c: &Client, name: &str, value: &str) {
    let field = c
        .find(Locator::Css(&format!("[name='{name}']")))
        .await
        .unwrap_or_else(|e| panic!("field {name}: {e}"));
    field.clear().await.expect("clear");
    field.send_keys(value).await.expect("type");
}

#[test]
fn installer_and_login_in_a_real_browser() {
    let app = TestApp::fresh(Backend::Sqlite);
    let setup = app.setup_url();
    let base = app.base.clone();
    let profile = tempfile::tempdir().expect("browser profile");
    actix_web::rt::System::new().block_on(async move {
        let c = browser(profile.path()).await;

        // Without the token: refused.
        c.goto(&format!("{base}/install")).await.expect("open");
        wait_for(&c, "install-refused").await;
        shot(&c, "installer-0-refused").await;

        c.goto(&setup).await.expect("open setup URL");
        wait_for(&c, "step-requirements").await;
        shot(&c, "installer-1-requirements").await;
        click(&c, "continue").await;
        wait_for(&c, "step-database").await;
        shot(&c, "installer-2-database").await;
        click(&c, "test-connection").await;
        wait_for(&c, "db-ok").await;
        click(&c, "save-database").await;
        wait_for(&c, "step-migrations").await;
        shot(&c, "installer-3-migrations").await;
        click(&c, "run-migrations").await;
        wait_for(&c, "step-admin").await;
        shot(&c, "installer-4-admin").await;
        fill(&c, "name", "Ada Admin").await;
        fill(&c, "email", "ada@example.com").await;
        fill(&c, "password", ADMIN_PASSWORD).await;
        click(&c, "finish").await;
        wait_for(&c, "install-done").await;
        shot(&c, "installer-5-done").await;

        click(&c, "go-login").await;
        wait_for(&c, "login-form").await;
        shot(&c, "login-1-form").await;
        fill(&c, "email", "ada@example.com").await;
        fill(&c, "password", ADMIN_PASSWORD).await;
        c.find(Locator::Css("#login-form button[type=submit]"))
            .await
            .expect("login button")
            .click()
            .await
            .expect("submit");
        wait_for(&c, "logout").await;
        let heading = c
            .find(Locator::Css("main h1"))
            .await
            .expect("h1")
            .text()
            .await
            .expect("text");
        assert_eq!(heading, "Your mailboxes");
        let avatar = c
            .find(Locator::Css(".avatar"))
            .await
            .expect("avatar")
            .text()
            .await
            .expect("text");
        assert_eq!(avatar, "AA");
        shot(&c, "login-2-home").await;

        // On a phone-sized window nothing runs off the side of the page.
        c.set_window_size(390, 844).await.expect("phone size");
        c.goto(&format!("{base}/profile")).await.expect("profile");
        wait_for(&c, "profile-form").await;
        let overflow = c
            .execute(
                "return document.documentElement.scrollWidth - window.innerWidth;",
                vec![],
            )
            .await
            .expect("measure");
        assert!(
            overflow.as_i64().unwrap_or(1) <= 0,
            "horizontal overflow: {overflow}"
        );
        shot(&c, "login-3-profile-phone").await;

        // The installer is gone for good.
        c.goto(&format!("{base}/install")).await.expect("open");
        let source = c.source().await.expect("source");
        assert!(
            !source.contains("install-refused") && !source.contains("step-"),
            "{source}"
        );
        c.close().await.expect("close browser");
    });
    for name in [
        "installer-1-requirements",
        "installer-5-done",
        "login-2-home",
    ] {
        assert!(artifacts().join(format!("{name}.png")).exists());
    }
}
