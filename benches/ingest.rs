//! The inbound path per message: parse + classify alone, and parse + classify + thread +
//! store into SQLite (a new conversation, then replies that thread into it).
//! Run: `cargo bench --bench ingest`. Figures go to docs/BENCHMARKS.md.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use postdesk::crypto::Secrets;
use postdesk::db;
use postdesk::mail::inbound::classify::classify;
use postdesk::mail::inbound::parse::parse;
use postdesk::mail::inbound::store::{InboundContext, Origin};
use postdesk::models::mailbox;
use postdesk::storage::FileStore;

fn corpus() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read(p).expect("read"))
        .collect()
}

fn message(n: u64, reply_to: Option<u64>) -> Vec<u8> {
    let mut m = format!(
        "From: Customer {c} <customer{c}@example.test>\r\nTo: support@company.test\r\nSubject: Order {n} did not arrive\r\nMessage-ID: <bench-{n}@example.test>\r\nDate: Mon, 6 Jan 2025 10:00:00 +0300\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b\"\r\n",
        c = n % 500
    );
    if let Some(r) = reply_to {
        m.push_str(&format!(
            "In-Reply-To: <bench-{r}@example.test>\r\nReferences: <bench-{r}@example.test>\r\n"
        ));
    }
    m.push_str("\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello, my order has not arrived yet. Could you check?\r\n\r\nOn Mon, Jan 6, 2025 at 10:00 AM Support wrote:\r\n> We shipped it yesterday.\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<div>Hello, my order has not arrived yet. Could you <b>check</b>?</div><div class=\"gmail_quote\"><div class=\"gmail_attr\">On Mon, Jan 6, 2025 at 10:00 AM Support wrote:</div><blockquote class=\"gmail_quote\">We shipped it yesterday.</blockquote></div>\r\n--b--\r\n");
    m.into_bytes()
}

fn parse_and_classify(c: &mut Criterion) {
    let corpus = corpus();
    let own = vec!["support@company.test".to_string()];
    let mut g = c.benchmark_group("inbound");
    g.throughput(Throughput::Elements(corpus.len() as u64));
    g.bench_function("parse+classify (corpus of 28)", |b| {
        b.iter(|| {
            for raw in &corpus {
                if let Ok(mail) = parse(black_box(raw)) {
                    black_box(classify(&mail, &own));
                }
            }
        })
    });
    g.finish();
}

fn store_sqlite(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let pool = db::connect_pool(&url, 2).expect("pool");
    let mut conn = pool.get().expect("conn");
    db::run_migrations(&mut conn).expect("migrate");
    let now = db::now();
    let id = mailbox::create(
        &mut conn,
        &mailbox::NewMailbox {
            name: "Support",
            email: "support@company.test",
            created_at: now,
            updated_at: now,
        },
    )
    .expect("mailbox");
    let settings = mailbox::inbound_settings(&mut conn, id)
        .expect("q")
        .expect("mailbox");
    let secrets = Secrets::from_bytes([3; 32]);
    let files = FileStore::new(dir.path());
    let own = vec!["support@company.test".to_string()];
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
        uid: 0,
        raw_path: "",
    };
    let counter = AtomicU64::new(0);
    let mut g = c.benchmark_group("inbound");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse+classify+thread+store, SQLite", |b| {
        b.iter(|| {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            // Every fourth message starts a conversation; the others reply to it.
            let raw = message(n, (!n.is_multiple_of(4)).then(|| n - n % 4));
            postdesk::mail::inbound::ingest(&mut conn, &ctx, &origin, &raw, |_| Ok(()))
                .expect("ingest");
        })
    });
    g.finish();
}

criterion_group!(benches, parse_and_classify, store_sqlite);
criterion_main!(benches);
