//! Round trips through the data layer on every backend.

use diesel::prelude::*;
use postdesk::db::schema::{conversations, customers, options};
use postdesk::db::types::{ConversationState, ConversationStatus, ConversationType, ThreadType};
use postdesk::db::{self, AnyConnection, dialect};
use postdesk::models::{conversation, customer, mailbox, message_id, thread, user};

use crate::support::{BACKENDS, TestDb};

fn new_mailbox(conn: &mut AnyConnection, email: &str) -> i64 {
    let now = db::now();
    mailbox::create(
        conn,
        &mailbox::NewMailbox {
            name: "Support",
            email,
            created_at: now,
            updated_at: now,
        },
    )
    .expect("mailbox created")
}

fn new_conversation(conn: &mut AnyConnection, mailbox_id: i64, subject: &str) -> (i64, i64) {
    conversation::create(
        conn,
        &conversation::NewConversation {
            mailbox_id,
            customer_id: None,
            customer_email: "anna@customer.test",
            created_by_user_id: None,
            conversation_type: ConversationType::Email,
            status: ConversationStatus::Active,
            state: ConversationState::Published,
            subject,
            created_at: db::now(),
        },
    )
    .expect("conversation created")
}

fn thread_row<'a>(
    conversation_id: i64,
    kind: ThreadType,
    body: &'a str,
    message_id: &'a str,
) -> thread::NewThread<'a> {
    let now = db::now();
    thread::NewThread {
        conversation_id,
        thread_type: kind.as_i16(),
        body_html: body,
        body_text: body,
        subject: "Printer on fire",
        from_email: "anna@customer.test",
        message_id,
        created_at: now,
        updated_at: now,
        ..Default::default()
    }
}

#[test]
fn customer_with_several_emails_round_trips() {
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let mut conn = db.migrated();
        let now = db::now();
        let new = customer::NewCustomer {
            first_name: "Анна",
            last_name: "Петрова",
            company: "ООО Ромашка ✓",
            created_at: now,
            updated_at: now,
        };
        let id = customer::create_with_emails(
            &mut conn,
            &new,
            &["Anna@Customer.test", "anna.p@home.test"],
        )
        .expect("customer created");
        let found = customer::find_by_email(&mut conn, "ANNA@customer.TEST")
            .expect("query")
            .unwrap_or_else(|| panic!("{backend:?}: customer not found by email"));
        assert_eq!(found.id, id);
        assert_eq!(found.first_name, "Анна", "{backend:?}");
        assert_eq!(found.company, "ООО Ромашка ✓", "{backend:?}");
        assert_eq!(
            found.created_at, now,
            "{backend:?}: timestamp must round-trip exactly"
        );
        assert_eq!(
            customer::emails_of(&mut conn, id).expect("emails"),
            vec![
                "anna@customer.test".to_string(),
                "anna.p@home.test".to_string()
            ]
        );
        // An address belongs to one customer only, and the failed insert leaves nothing behind.
        let again =
            customer::create_with_emails(&mut conn, &new, &["new@x.test", "anna@customer.test"]);
        assert!(
            matches!(
                again,
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _
                ))
            ),
            "{backend:?}: {again:?}"
        );
        let count: i64 = customers::table
            .count()
            .get_result(&mut conn)
            .expect("count");
        assert_eq!(
            count, 1,
            "{backend:?}: the failed customer must be rolled back"
        );
        assert!(
            customer::find_by_email(&mut conn, "new@x.test")
                .expect("query")
                .is_none()
        );
    }
}

#[test]
fn conversation_with_threads_round_trips() {
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let mut conn = db.migrated();
        let mb = new_mailbox(&mut conn, "Support@Company.test");
        let (first, n1) = new_conversation(&mut conn, mb, "Принтер горит ✓");
        let (second, n2) = new_conversation(&mut conn, mb, "Second");
        assert_eq!(n2, n1 + 1, "{backend:?}: numbers are sequential");
        assert_ne!(first, second);

        thread::add(
            &mut conn,
            &thread_row(
                first,
                ThreadType::Customer,
                "It   is\non fire",
                "a1@customer.test",
            ),
        )
        .expect("customer thread");
        thread::add(
            &mut conn,
            &thread_row(
                first,
                ThreadType::Message,
                "We are on it",
                "r1@helpdesk.test",
            ),
        )
        .expect("reply thread");
        thread::add(
            &mut conn,
            &thread_row(first, ThreadType::Note, "internal: call them", ""),
        )
        .expect("note");

        let conv = conversation::find(&mut conn, first)
            .expect("query")
            .expect("conversation exists");
        assert_eq!(conv.subject, "Принтер горит ✓", "{backend:?}");
        assert_eq!(conv.threads_count, 3, "{backend:?}");
        assert_eq!(
            conv.preview, "We are on it",
            "{backend:?}: a note never becomes the preview"
        );
        assert_eq!(conv.status(), Some(ConversationStatus::Active));
        assert_eq!(conv.state, 2);
        let threads = thread::list_for_conversation(&mut conn, first).expect("threads");
        let kinds: Vec<i16> = threads.iter().map(|t| t.thread_type).collect();
        assert_eq!(
            kinds,
            vec![1, 2, 3],
            "{backend:?}: oldest first, FreeScout numbers"
        );
        assert_eq!(threads[0].body_text, "It   is\non fire");
        assert!(
            thread::list_for_conversation(&mut conn, second)
                .expect("threads")
                .is_empty()
        );

        // Status is a small integer with FreeScout's numbers.
        diesel::update(conversations::table.find(first))
            .set(conversations::status.eq(ConversationStatus::Closed.as_i16()))
            .execute(&mut conn)
            .expect("close");
        let raw: i16 = conversations::table
            .find(first)
            .select(conversations::status)
            .first(&mut conn)
            .expect("status");
        assert_eq!(raw, 3);

        // Deleting a conversation removes its threads (foreign keys are on, SQLite included).
        diesel::delete(conversations::table.find(first))
            .execute(&mut conn)
            .expect("delete");
        assert!(
            thread::list_for_conversation(&mut conn, first)
                .expect("threads")
                .is_empty(),
            "{backend:?}"
        );
    }
}

#[test]
fn message_id_guard_is_unique_per_mailbox() {
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let mut conn = db.migrated();
        let mb1 = new_mailbox(&mut conn, "one@company.test");
        let mb2 = new_mailbox(&mut conn, "two@company.test");
        let (conv1, _) = new_conversation(&mut conn, mb1, "A");
        let (conv2, _) = new_conversation(&mut conn, mb2, "B");
        let t1 = thread::add(
            &mut conn,
            &thread_row(conv1, ThreadType::Customer, "x", "ABC@x.test"),
        )
        .expect("t1");
        let t2 = thread::add(
            &mut conn,
            &thread_row(conv2, ThreadType::Customer, "x", "ABC@x.test"),
        )
        .expect("t2");
        let row = |mailbox_id, id, thread_id, conversation_id| message_id::NewMessageId {
            mailbox_id,
            message_id: id,
            thread_id,
            conversation_id,
            created_at: db::now(),
        };
        assert!(message_id::record(&mut conn, &row(mb1, "ABC@x.test", t1, conv1)).expect("first"));
        assert!(
            !message_id::record(&mut conn, &row(mb1, "ABC@x.test", t1, conv1)).expect("dup"),
            "{backend:?}: the same id twice in one mailbox is refused"
        );
        assert!(
            message_id::record(&mut conn, &row(mb2, "ABC@x.test", t2, conv2))
                .expect("other mailbox")
        );
        // Message-IDs are case-sensitive (MySQL's default collation would fold them).
        assert!(
            message_id::record(&mut conn, &row(mb1, "abc@x.test", t1, conv1)).expect("case"),
            "{backend:?}"
        );
        assert_eq!(
            message_id::find_conversation(&mut conn, mb1, &["nope@x", "ABC@x.test"]).expect("find"),
            Some(conv1)
        );
        assert_eq!(
            message_id::find_conversation(&mut conn, mb2, &["ABC@x.test"]).expect("find"),
            Some(conv2)
        );
        assert_eq!(
            message_id::find_conversation(&mut conn, mb2, &["other@x"]).expect("find"),
            None
        );
        assert_eq!(
            message_id::find_conversation(&mut conn, mb2, &[]).expect("find"),
            None
        );
    }
}

#[test]
fn options_upsert_and_users_round_trip() {
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let mut conn = db.migrated();
        dialect::upsert_option(&mut conn, "company_name", "Acme", db::now()).expect("insert");
        dialect::upsert_option(&mut conn, "company_name", "Ромашка", db::now()).expect("update");
        let rows: Vec<(String, String)> = options::table
            .select((options::name, options::value))
            .load(&mut conn)
            .expect("options");
        assert_eq!(
            rows,
            vec![("company_name".to_string(), "Ромашка".to_string())],
            "{backend:?}"
        );

        let now = db::now();
        let new = user::NewUser {
            first_name: "Anna",
            last_name: "Admin",
            email: "Anna@Company.test",
            password_hash: "$argon2id$placeholder",
            role: postdesk::db::types::UserRole::Admin.as_i16(),
            status: postdesk::db::types::UserStatus::Active.as_i16(),
            locale: "ru",
            timezone: "Europe/Moscow",
            created_at: now,
            updated_at: now,
        };
        let id = user::create(&mut conn, &new).expect("user");
        let u = user::find_by_email(&mut conn, "anna@company.TEST")
            .expect("q")
            .expect("found");
        assert_eq!(
            (u.id, u.email.as_str(), u.locale.as_str()),
            (id, "anna@company.test", "ru")
        );
        assert_eq!(u.role(), Some(postdesk::db::types::UserRole::Admin));
        assert!(
            user::create(&mut conn, &new).is_err(),
            "{backend:?}: emails are unique"
        );
        assert_eq!(mailbox::list(&mut conn).expect("list").len(), 0);
    }
}
