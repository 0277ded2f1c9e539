//! `postdesk seed` on every backend: the shape of what it writes, a second run on top of
//! the first, the normal write paths afterwards, and the refusal of an unmigrated database.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use postdesk::crypto::Secrets;
use postdesk::db::schema::{
    attachments, conversations, customer_emails, customers, message_ids, threads, users,
};
use postdesk::db::types::{
    ConversationState, ConversationStatus, ConversationType, ThreadType, UserRole,
};
use postdesk::db::{self, AnyConnection};
use postdesk::models::{conversation, customer, message_id, thread};
use postdesk::seed::{self, SeedContext, SeedError, SeedOptions, SeedReport};
use postdesk::storage::FileStore;

use crate::support::{BACKENDS, TestDb};

fn options(conversations: u64, seed: u64) -> SeedOptions {
    SeedOptions {
        conversations,
        mailboxes: 2,
        agents: 3,
        seed,
        agent_password_hash: String::new(),
    }
}

fn run(conn: &mut AnyConnection, files: &FileStore, opts: &SeedOptions) -> SeedReport {
    let secrets = Secrets::from_bytes([9; 32]);
    let ctx = SeedContext {
        secrets: &secrets,
        files,
    };
    let mut calls = 0;
    let report = seed::run(conn, &ctx, opts, |_| calls += 1).expect("seed runs");
    assert!(calls >= 1, "progress is reported at least once");
    report
}

/// Checks counts and consistency of everything in the database (all of it seeded).
fn check_shape(conn: &mut AnyConnection, files: &FileStore, expected: &SeedReport, label: &str) {
    let convs: Vec<(i64, i16, i16, i32, chrono::NaiveDateTime, Option<i64>)> = conversations::table
        .select((
            conversations::id,
            conversations::status,
            conversations::state,
            conversations::threads_count,
            conversations::created_at,
            conversations::customer_id,
        ))
        .load(conn)
        .expect("conversations");
    assert_eq!(convs.len() as u64, expected.conversations, "{label}");
    let thread_rows: Vec<(i64, i16, String)> = threads::table
        .select((
            threads::conversation_id,
            threads::thread_type,
            threads::message_id,
        ))
        .load(conn)
        .expect("threads");
    assert_eq!(thread_rows.len() as u64, expected.threads, "{label}");
    let mut per_conversation: HashMap<i64, i32> = HashMap::new();
    for (conversation_id, _, _) in &thread_rows {
        *per_conversation.entry(*conversation_id).or_default() += 1;
    }
    for (id, _, _, threads_count, _, _) in &convs {
        assert_eq!(
            per_conversation.get(id).copied().unwrap_or(0),
            *threads_count,
            "{label}: threads_count of conversation {id} matches its threads"
        );
        assert!(
            *threads_count >= 1,
            "{label}: conversation {id} has threads"
        );
    }
    let longest = convs.iter().map(|c| c.3).max().unwrap_or(0);
    assert!(
        longest >= 6,
        "{label}: some conversations are long ({longest})"
    );

    // Two years of dates, oldest to newest.
    let first = convs.iter().map(|c| c.4).min().expect("dates");
    let last = convs.iter().map(|c| c.4).max().expect("dates");
    assert!(
        (last - first).num_days() > 600,
        "{label}: dates spread over two years ({first} .. {last})"
    );

    // Statuses like a real helpdesk: mostly closed, the rest spread.
    let closed = convs
        .iter()
        .filter(|c| c.1 == ConversationStatus::Closed.as_i16())
        .count();
    assert!(closed * 2 > convs.len(), "{label}: most are closed");
    let statuses: HashSet<i16> = convs.iter().map(|c| c.1).collect();
    assert!(
        statuses.len() >= 3,
        "{label}: statuses spread: {statuses:?}"
    );
    assert!(
        convs
            .iter()
            .all(|c| ConversationState::from_i16(c.2).is_some()),
        "{label}: states are known values"
    );
    let kinds: HashSet<i16> = thread_rows.iter().map(|t| t.1).collect();
    for kind in [ThreadType::Customer, ThreadType::Message, ThreadType::Note] {
        assert!(kinds.contains(&kind.as_i16()), "{label}: {kind:?} threads");
    }

    // Every customer has an address; some have several; every conversation has a customer.
    let customer_count: i64 = customers::table
        .count()
        .get_result(conn)
        .expect("customers");
    assert_eq!(customer_count as u64, expected.customers, "{label}");
    let owners: Vec<i64> = customer_emails::table
        .select(customer_emails::customer_id)
        .load(conn)
        .expect("emails");
    assert_eq!(owners.len() as u64, expected.customer_emails, "{label}");
    let mut addresses: HashMap<i64, usize> = HashMap::new();
    for owner in owners {
        *addresses.entry(owner).or_default() += 1;
    }
    assert_eq!(
        addresses.len() as i64,
        customer_count,
        "{label}: every customer has an address"
    );
    assert!(
        addresses.values().any(|n| *n >= 2),
        "{label}: several addresses"
    );
    assert!(
        convs.iter().all(|c| c.5.is_some()),
        "{label}: customers set"
    );
    assert!(
        (customer_count as usize) < convs.len(),
        "{label}: some customers write again"
    );

    // Every message has its message_ids row; replies thread through them.
    let with_id = thread_rows.iter().filter(|t| !t.2.is_empty()).count();
    let index: Vec<(i64, String, i64)> = message_ids::table
        .select((
            message_ids::mailbox_id,
            message_ids::message_id,
            message_ids::conversation_id,
        ))
        .load(conn)
        .expect("message ids");
    assert_eq!(index.len(), with_id, "{label}");
    let (mailbox_id, id, conversation_id) = index.last().expect("an id").clone();
    assert_eq!(
        message_id::find_conversation(conn, mailbox_id, &[&id]).expect("lookup"),
        Some(conversation_id),
        "{label}: a reply to a seeded message finds its conversation"
    );

    // Attachments point at files that exist.
    let shas: Vec<String> = attachments::table
        .select(attachments::sha256)
        .load(conn)
        .expect("attachments");
    assert_eq!(shas.len() as u64, expected.attachments, "{label}");
    assert!(!shas.is_empty(), "{label}: some attachments");
    for sha in shas.iter().collect::<HashSet<_>>() {
        assert!(files.get_attachment(sha).is_ok(), "{label}: file {sha}");
    }
}

fn add(a: &SeedReport, b: &SeedReport) -> SeedReport {
    SeedReport {
        conversations: a.conversations + b.conversations,
        threads: a.threads + b.threads,
        customers: a.customers + b.customers,
        customer_emails: a.customer_emails + b.customer_emails,
        attachments: a.attachments + b.attachments,
        elapsed: a.elapsed + b.elapsed,
    }
}

#[test]
fn seed_writes_a_realistic_consistent_helpdesk_on_every_backend() {
    for backend in BACKENDS {
        let label = backend.name();
        let test_db = TestDb::new(backend);
        let mut conn = test_db.migrated();
        let dir = tempfile::tempdir().expect("dir");
        let files = FileStore::new(dir.path());

        let first = run(&mut conn, &files, &options(300, 7));
        assert_eq!(first.conversations, 300, "{label}");
        check_shape(&mut conn, &files, &first, label);

        // A second run adds to the first: ids, numbers and addresses stay unique, and the
        // mailboxes and agents are found again rather than duplicated.
        let second = run(&mut conn, &files, &options(120, 8));
        check_shape(&mut conn, &files, &add(&first, &second), label);
        let agents: i64 = users::table
            .filter(users::role.eq(UserRole::Agent.as_i16()))
            .count()
            .get_result(&mut conn)
            .expect("agents");
        assert_eq!(agents, 3, "{label}");

        // The normal write paths still get fresh ids (PostgreSQL sequences were moved on).
        let mailbox_id: i64 = conversations::table
            .select(conversations::mailbox_id)
            .first(&mut conn)
            .expect("a mailbox");
        let now = db::now();
        let customer_id = customer::create_with_emails(
            &mut conn,
            &customer::NewCustomer {
                first_name: "After",
                last_name: "Seed",
                company: "",
                created_at: now,
                updated_at: now,
            },
            &["after.seed@customer.test"],
        )
        .expect("customer after seeding");
        let (conversation_id, number) = conversation::create(
            &mut conn,
            &conversation::NewConversation {
                mailbox_id,
                customer_id: Some(customer_id),
                customer_email: "after.seed@customer.test",
                created_by_user_id: None,
                conversation_type: ConversationType::Email,
                status: ConversationStatus::Active,
                state: ConversationState::Published,
                subject: "After the seed",
                created_at: now,
            },
        )
        .expect("conversation after seeding");
        assert_eq!(number, 421, "{label}: numbers continue");
        thread::add(
            &mut conn,
            &thread::NewThread {
                conversation_id,
                thread_type: ThreadType::Customer.as_i16(),
                body_text: "hello",
                created_at: now,
                updated_at: now,
                ..Default::default()
            },
        )
        .expect("thread after seeding");
    }
}

#[test]
fn seed_refuses_a_database_that_is_not_migrated() {
    for backend in BACKENDS {
        let test_db = TestDb::new(backend);
        let mut conn = db::establish(&test_db.url).expect("connect");
        let dir = tempfile::tempdir().expect("dir");
        let files = FileStore::new(dir.path());
        let secrets = Secrets::from_bytes([9; 32]);
        let ctx = SeedContext {
            secrets: &secrets,
            files: &files,
        };
        let err = seed::run(&mut conn, &ctx, &options(10, 1), |_| {})
            .expect_err("an empty database is refused");
        assert!(matches!(err, SeedError::NotMigrated(_)), "{err}");
        assert!(
            err.to_string().contains("postdesk migrate"),
            "{}: the message says what to do: {err}",
            backend.name()
        );
    }
}
