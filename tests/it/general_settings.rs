//! Settings → General: the company name shows in the top bar at once, the default
//! language is used for visitors whose browser asks for none we have, a bad app URL is
//! refused and a good one is written to the config file for the next start.

use postdesk::db::Backend;

use crate::app::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp};

#[test]
fn general_settings_apply_and_the_app_url_goes_to_the_config_file() {
    let app = TestApp::installed(Backend::Sqlite);
    let admin = app.client();
    assert_eq!(admin.login(ADMIN_EMAIL, ADMIN_PASSWORD).status, 303);
    let page = admin.get("/settings/general");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"general-settings-form\""));

    let bad = admin.post_from(
        "/settings/general",
        "/settings/general",
        &[
            ("company_name", "Ромашка"),
            ("app_url", "javascript:alert(1)"),
            ("default_language", "ru"),
            ("timezone", "Europe/Moscow"),
        ],
    );
    assert_eq!(bad.status, 422);
    assert!(
        bad.body.contains("javascript:alert(1)"),
        "named: {}",
        bad.body
    );
    let visitor = app.client();
    assert!(
        !visitor.get("/login").body.contains("Ромашка"),
        "nothing saved from the refused form"
    );

    let saved = admin.post_from(
        "/settings/general",
        "/settings/general",
        &[
            ("company_name", "Ромашка"),
            ("app_url", "https://help.romashka.example/"),
            ("default_language", "ru"),
            ("timezone", "Europe/Moscow"),
        ],
    );
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(saved.location, "/settings/general?done=app_url_restart");
    let config =
        std::fs::read_to_string(app.data.path().join("postdesk.toml")).expect("config file");
    assert!(
        config.contains("app_url = \"https://help.romashka.example\""),
        "{config}"
    );
    assert!(
        config.contains("installed = true"),
        "other keys kept: {config}"
    );
    let page = admin.get("/settings/general");
    assert!(page.body.contains("class=\"brand\" href=\"/\">Ромашка</a>"));
    assert!(
        page.body
            .contains("value=\"https:&#x2F;&#x2F;help.romashka.example\""),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("<option value=\"Europe&#x2F;Moscow\" selected>")
    );

    // A visitor whose browser asks for French gets the default language (Russian); one
    // asking for English still gets English.
    let mut french = app.client();
    french.language = "fr-FR,fr;q=0.9".into();
    assert!(french.get("/login").body.contains("Вход"));
    let english = app.client();
    assert!(!english.get("/login").body.contains("Вход"));

    // Saving again without changing the URL just saves.
    let again = admin.post_from(
        "/settings/general",
        "/settings/general",
        &[
            ("company_name", "Romashka"),
            ("app_url", "https://help.romashka.example"),
            ("default_language", "en"),
            ("timezone", "UTC"),
        ],
    );
    assert_eq!(again.location, "/settings/general?done=saved");
}
