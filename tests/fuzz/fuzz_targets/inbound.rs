//! Malformed mail through the whole inbound path: parse → classify → sanitize and fold
//! quotes → thread and store into an in-memory SQLite database. Nothing may panic.
#![no_main]

use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use postdesk::crypto::Secrets;
use postdesk::db::{self, AnyConnection};
use postdesk::mail::inbound::store::{InboundContext, Origin};
use postdesk::mail::inbound::{classify, ingest, parse, quotes};
use postdesk::models::mailbox;
use postdesk::storage::FileStore;

struct World {
    conn: AnyConnection,
    settings: mailbox::InboundSettings,
    files: FileStore,
    secrets: Secrets,
}

fn world() -> &'static Mutex<World> {
    static WORLD: OnceLock<Mutex<World>> = OnceLock::new();
    WORLD.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("postdesk-fuzz-{}", std::process::id()));
        let mut conn = db::establish("sqlite://:memory:").expect("in-memory SQLite");
        db::run_migrations(&mut conn).expect("migrations");
        let now = db::now();
        let id = mailbox::create(
            &mut conn,
            &mailbox::NewMailbox { name: "Fuzz", email: "support@company.test", created_at: now, updated_at: now },
        )
        .expect("mailbox");
        let settings = mailbox::inbound_settings(&mut conn, id).expect("query").expect("mailbox");
        Mutex::new(World { conn, settings, files: FileStore::new(&dir), secrets: Secrets::from_bytes([9; 32]) })
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(mail) = parse::parse(data) else { return };
    let _ = classify::classify(&mail, &["support@company.test".to_string()]);
    if let Some(html) = &mail.html {
        let _ = quotes::mark_quoted_html(&postdesk::sanitize::clean_email_html(html));
    }
    let _ = quotes::text_to_html(&mail.text);
    let Ok(mut w) = world().lock() else { return };
    let w = &mut *w;
    let own = vec!["support@company.test".to_string()];
    let ctx = InboundContext { secrets: &w.secrets, files: &w.files, own_addresses: &own, reopen_within_days: 60, hooks: None };
    let origin = Origin { mailbox: &w.settings, folder: "INBOX", uidvalidity: 1, uid: 1, raw_path: "" };
    // Store errors are fine (they go to the ingestion log); panics are not.
    let _ = ingest(&mut w.conn, &ctx, &origin, data, |_| Ok(()));
});
