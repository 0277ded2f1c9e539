//! Customer pages on every backend: an agent sees only customers of mailboxes they may see;
//! search by name (Cyrillic in any case), address and company; editing with address
//! checks; merging two customers moves addresses and conversations.

use diesel::prelude::*;
use postdesk::db::schema::{conversations, customer_emails, customers};
use postdesk::db::types::{ConversationState, ConversationStatus, ConversationType, MailboxAccess};
use postdesk::db::{AnyConnection, Backend};
use postdesk::models::{conversation, customer, mailbox, mailbox_user};

use crate::app::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp};
use crate::authz_matrix::add_user;

fn new_customer(
    conn: &mut AnyConnection,
    first: &str,
    last: &str,
    company: &str,
    emails: &[&str],
) -> i64 {
    let now = postdesk::db::now();
    customer::create_with_emails(
        conn,
        &customer::NewCustomer {
            first_name: first,
            last_name: last,
            company,
            created_at: now,
            updated_at: now,
        },
        emails,
    )
    .expect("customer")
}

fn new_conversation(
    conn: &mut AnyConnection,
    mailbox_id: i64,
    customer_id: i64,
    subject: &str,
) -> i64 {
    conversation::create(
        conn,
        &conversation::NewConversation {
            mailbox_id,
            customer_id: Some(customer_id),
            customer_email: "",
            created_by_user_id: None,
            conversation_type: ConversationType::Email,
            status: ConversationStatus::Active,
            state: ConversationState::Published,
            subject,
            created_at: postdesk::db::now(),
        },
    )
    .expect("conversation")
    .0
}

fn customer_pages(backend: Backend) {
    let app = TestApp::installed(backend);
    let mut conn = app.conn();
    let now = postdesk::db::now();
    let mb = |name: &'static str, email: &'static str| mailbox::NewMailbox {
        name,
        email,
        created_at: now,
        updated_at: now,
    };
    let a = mailbox::create(&mut conn, &mb("Alpha", "alpha@example.com")).expect("A");
    let b = mailbox::create(&mut conn, &mb("Beta", "beta@example.com")).expect("B");
    let anna = new_customer(&mut conn, "Анна", "Петрова", "Ромашка", &["anna@shop.test"]);
    let bob = new_customer(&mut conn, "Bob", "Stone", "Acme", &["bob@acme.test"]);
    let anna2 = new_customer(&mut conn, "", "", "", &["anna.p@home.test"]);
    new_conversation(&mut conn, a, anna, "Заказ не пришёл");
    new_conversation(&mut conn, b, bob, "Invoice");
    new_conversation(&mut conn, a, anna2, "Second address");
    new_conversation(&mut conn, b, anna, "Hidden from the agent");
    let agent = add_user(&app, "agent@example.com", "agent");
    mailbox_user::replace_grants(&mut conn, agent, &[(a, MailboxAccess::Reply)], now)
        .expect("grant");

    let ag = app.client();
    assert_eq!(ag.login("agent@example.com", "blue-harbour-17").status, 303);
    let list = ag.get("/customers");
    assert_eq!(list.status, 200);
    assert!(list.body.contains("anna@shop.test"), "{}", list.body);
    assert!(
        !list.body.contains("bob@acme.test"),
        "agent sees only mailbox A's customers"
    );
    assert_eq!(ag.get(&format!("/customers/{bob}")).status, 404);

    // Search: lower-case Cyrillic finds the capitalised name; address and company too.
    let found = ag.get("/customers?q=%D0%B0%D0%BD%D0%BD%D0%B0"); // "анна"
    assert!(found.body.contains("anna@shop.test"), "{}", found.body);
    assert!(
        ag.get("/customers?q=shop.test")
            .body
            .contains("anna@shop.test")
    );
    assert!(
        ag.get("/customers?q=%D0%A0%D0%BE%D0%BC%D0%B0%D1%88")
            .body
            .contains("anna@shop.test")
    );
    let none = ag.get("/customers?q=zzz-nothing");
    assert!(none.body.contains("customers-empty"));
    // Wildcards in the query are literal.
    assert!(ag.get("/customers?q=%25").body.contains("customers-empty"));

    // The profile lists only conversations in visible mailboxes.
    let page = ag.get(&format!("/customers/{anna}"));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Заказ не пришёл"));
    assert!(!page.body.contains("Hidden from the agent"));

    // Editing: another customer's address is refused, naming it; nothing is changed.
    let path = format!("/customers/{anna}");
    let taken = ag.post_from(
        &path,
        &path,
        &[
            ("first_name", "Anna"),
            ("last_name", "P"),
            ("emails", "anna@shop.test\nbob@acme.test"),
        ],
    );
    assert_eq!(taken.status, 422);
    assert!(taken.body.contains("bob@acme.test"));
    let bad = ag.post_from(
        &path,
        &path,
        &[("first_name", "A"), ("emails", "not-an-address")],
    );
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("not-an-address"));
    let saved = ag.post_from(
        &path,
        &path,
        &[
            ("first_name", "Анна"),
            ("last_name", "Петрова"),
            ("company", "Ромашка"),
            ("job_title", "Buyer"),
            ("notes", "VIP"),
            ("emails", "ANNA@shop.test\nanna@work.test"),
        ],
    );
    assert_eq!(saved.status, 303, "{}", saved.body);
    let emails = customer::emails_of(&mut conn, anna).expect("emails");
    assert_eq!(emails, vec!["anna@shop.test", "anna@work.test"]);
    // The edit tells modules and webhooks, like an API update does.
    let updated: Vec<String> = postdesk::db::schema::events::table
        .filter(postdesk::db::schema::events::kind.eq("customer_updated"))
        .select(postdesk::db::schema::events::payload)
        .load(&mut conn)
        .expect("events");
    assert_eq!(updated.len(), 1, "{updated:?}");
    assert!(
        updated[0].contains(&format!("\"customer_id\":{anna}")),
        "{updated:?}"
    );

    // Merge: the second customer's address and conversation move to Anna.
    let merge = format!("{path}/merge");
    let unknown = ag.post_from(&path, &merge, &[("other", "bob@acme.test")]);
    assert_eq!(unknown.status, 422, "bob is not visible to the agent");
    let merged = ag.post_from(&path, &merge, &[("other", "anna.p@home.test")]);
    assert_eq!(merged.status, 303, "{}", merged.body);
    let gone: i64 = customers::table
        .filter(customers::id.eq(anna2))
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(gone, 0);
    let owner: i64 = customer_emails::table
        .filter(customer_emails::email.eq("anna.p@home.test"))
        .select(customer_emails::customer_id)
        .first(&mut conn)
        .expect("address");
    assert_eq!(owner, anna);
    let convs: i64 = conversations::table
        .filter(conversations::customer_id.eq(anna))
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(convs, 3);
    assert!(ag.get(&path).body.contains("Second address"));

    // Admins see everyone.
    let admin = app.client();
    assert_eq!(admin.login(ADMIN_EMAIL, ADMIN_PASSWORD).status, 303);
    assert!(admin.get("/customers").body.contains("bob@acme.test"));
}

#[test]
fn customer_pages_sqlite() {
    customer_pages(Backend::Sqlite);
}

#[test]
fn customer_pages_postgres() {
    customer_pages(Backend::Postgres);
}

#[test]
fn customer_pages_mysql() {
    customer_pages(Backend::Mysql);
}
