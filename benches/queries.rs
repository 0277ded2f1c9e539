//! The read queries behind the agent's pages, against a seeded SQLite database: the folder
//! counts of the sidebar, a folder's list (first page, and a page deep in Closed), the
//! conversation page (one conversation, its threads and attachments, its customer) and
//! search (by word, address and number).
//! Run: `cargo bench --bench queries`. `POSTDESK_BENCH_CONVERSATIONS` sets the size
//! (default 20,000); the database is seeded once into `target/bench-data/` and reused.
//! Figures go to docs/BENCHMARKS.md.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use diesel::prelude::*;
use postdesk::conversations::folders::{self, Cursor, Folder};
use postdesk::crypto::Secrets;
use postdesk::db::schema::{conversations, customer_emails};
use postdesk::db::types::{ConversationState, ConversationStatus, UserRole};
use postdesk::db::{self, AnyConnection};
use postdesk::models::user::{self, User};
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

/// The first seeded agent (every agent sees every seeded mailbox) and the busiest mailbox.
fn agent_and_mailbox(conn: &mut AnyConnection) -> (User, i64) {
    let agent = user::list(conn)
        .expect("users")
        .into_iter()
        .find(|u| u.role == UserRole::Agent.as_i16())
        .expect("a seeded agent");
    let mailbox_id = conversations::table
        .group_by(conversations::mailbox_id)
        .select(conversations::mailbox_id)
        .order(diesel::dsl::count_star().desc())
        .first(conn)
        .expect("a mailbox");
    (agent, mailbox_id)
}

/// Where a page halfway down the Closed folder starts.
fn deep_closed_cursor(conn: &mut AnyConnection, mailbox_id: i64) -> Cursor {
    let closed = conversations::table
        .filter(conversations::mailbox_id.eq(mailbox_id))
        .filter(conversations::state.eq(ConversationState::Published.as_i16()))
        .filter(conversations::status.eq(ConversationStatus::Closed.as_i16()));
    let n: i64 = closed.count().get_result(conn).expect("count");
    let (last_reply_at, id) = closed
        .order((
            conversations::last_reply_at.desc(),
            conversations::id.desc(),
        ))
        .select((conversations::last_reply_at, conversations::id))
        .offset(n / 2)
        .first(conn)
        .expect("a row halfway");
    Cursor { last_reply_at, id }
}

fn folders_and_search(c: &mut Criterion) {
    let mut conn = seeded();
    let (agent, mailbox_id) = agent_and_mailbox(&mut conn);
    let deep = deep_closed_cursor(&mut conn, mailbox_id);
    let address: String = customer_emails::table
        .select(customer_emails::email)
        .order(customer_emails::id.desc())
        .first(&mut conn)
        .expect("an address");
    let number: i64 = conversations::table
        .select(conversations::number)
        .order(conversations::id)
        .first(&mut conn)
        .expect("a number");
    let page = 50;
    c.bench_function("folder counts (sidebar, one mailbox)", |b| {
        b.iter(|| black_box(folders::counts(&mut conn, mailbox_id, agent.id).expect("counts")))
    });
    for folder in [Folder::Unassigned, Folder::Mine, Folder::Closed] {
        c.bench_function(&format!("folder list, first page of 50: {folder:?}"), |b| {
            b.iter(|| {
                black_box(
                    folders::list(&mut conn, mailbox_id, folder, agent.id, None, page)
                        .expect("list"),
                )
            })
        });
    }
    c.bench_function("folder list, page of 50 halfway down Closed", |b| {
        b.iter(|| {
            black_box(
                folders::list(
                    &mut conn,
                    mailbox_id,
                    Folder::Closed,
                    agent.id,
                    Some(&deep),
                    page,
                )
                .expect("list"),
            )
        })
    });
    for (what, query) in [
        ("a word", "refund".to_string()),
        ("an address", address),
        ("a number", format!("#{number}")),
    ] {
        c.bench_function(&format!("search, first page: {what}"), |b| {
            b.iter(|| {
                black_box(
                    postdesk::search::search(&mut conn, &agent, &query, None, page)
                        .expect("search"),
                )
            })
        });
    }
}

criterion_group!(benches, folders_and_search, conversation_page);
criterion_main!(benches);
