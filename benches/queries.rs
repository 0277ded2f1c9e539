//! The read queries behind the agent's pages, against a seeded SQLite database: the
//! conversation page (one conversation, its threads and attachments, its customer).
//! Run: `cargo bench --bench queries`. `POSTDESK_BENCH_CONVERSATIONS` sets the size
//! (default 20,000); the database is seeded once into `target/bench-data/` and reused.
//! Figures go to docs/BENCHMARKS.md.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use diesel::prelude::*;
use postdesk::crypto::Secrets;
use postdesk::db::schema::conversations;
use postdesk::db::{self, AnyConnection};
use postdesk::models::{attachment, conversation, customer, thread};
use postdesk::seed::{self, SeedContext, SeedOptions};
use postdesk::storage::FileStore;

/// How many conversations the bench database holds.
fn size() -> u64 {
    std::env::var("POSTDESK_BENCH_CONVERSATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000)
}

/// A connection to the seeded database, seeding it first when missing or outdated.
fn seeded() -> AnyConnection {
    let n = size();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/bench-data")
        .join(format!("sqlite-{n}"));
    let url = format!("sqlite://{}", dir.join("postdesk.db").display());
    let marker = dir.join("seeded");
    if marker.exists() {
        let mut conn = db::establish(&url).expect("open the bench database");
        if db::pending_migrations(&mut conn)
            .expect("migrations")
            .is_empty()
        {
            return conn;
        }
    }
    // Absent, half-written or older than the schema: seed afresh.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench data folder");
    let mut conn = db::establish(&url).expect("create the bench database");
    db::run_migrations(&mut conn).expect("migrate");
    let secrets = Secrets::from_bytes([1; 32]);
    let files = FileStore::new(&dir);
    let ctx = SeedContext {
        secrets: &secrets,
        files: &files,
    };
    let opts = SeedOptions {
        conversations: n,
        mailboxes: 3,
        agents: 8,
        seed: 1,
        agent_password_hash: String::new(),
    };
    eprintln!("seeding {n} conversations into {}", dir.display());
    let report = seed::run(&mut conn, &ctx, &opts, |r| {
        eprintln!("  {} conversations, {} threads", r.conversations, r.threads)
    })
    .expect("seed");
    eprintln!(
        "seeded {} threads in {:.1} s",
        report.threads,
        report.elapsed.as_secs_f64()
    );
    std::fs::write(&marker, b"").expect("marker");
    conn
}

/// Conversation ids spread over the whole table, to visit in turn.
fn sample_ids(conn: &mut AnyConnection) -> Vec<i64> {
    let ids: Vec<i64> = conversations::table
        .select(conversations::id)
        .order(conversations::id)
        .load(conn)
        .expect("ids");
    let step = (ids.len() / 1000).max(1);
    ids.into_iter().step_by(step).collect()
}

fn conversation_page(c: &mut Criterion) {
    let mut conn = seeded();
    let ids = sample_ids(&mut conn);
    let mut next = ids.iter().cycle();
    c.bench_function(
        "conversation page: conversation + threads + attachments + customer",
        |b| {
            b.iter(|| {
                let id = *next.next().expect("ids");
                let conv = conversation::find(&mut conn, id)
                    .expect("query")
                    .expect("exists");
                let threads = thread::list_for_conversation(&mut conn, id).expect("threads");
                for t in &threads {
                    black_box(attachment::list_for_thread(&mut conn, t.id).expect("files"));
                }
                if let Some(customer_id) = conv.customer_id {
                    black_box(customer::emails_of(&mut conn, customer_id).expect("emails"));
                }
                black_box((conv, threads))
            })
        },
    );
}

criterion_group!(benches, conversation_page);
criterion_main!(benches);
