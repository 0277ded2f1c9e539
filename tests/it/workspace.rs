//! The agent workspace on all three backends: folder counters kept by triggers, keyset
//! folder lists, conversation actions (line items, events), search, and the pages and
//! action routes of a running Postdesk.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use postdesk::conversations::actions::{self, ActionError};
use postdesk::conversations::folders::{self, Cursor, Folder};
use postdesk::db::schema::{
    attachments, conversation_counts, conversations, events, followers, mailboxes, message_ids,
    stars, threads, users,
};
use postdesk::db::types::{
    ConversationState, ConversationStatus, ConversationType, LineItemAction, MailboxAccess,
    ThreadType, UserRole,
};
use postdesk::db::{self, AnyConnection, Backend};
use postdesk::hooks::Registry;
use postdesk::models::{conversation, customer, mailbox, mailbox_user, thread, user};

use crate::app::{ADMIN_EMAIL, ADMIN_PASSWORD, Client, TestApp};
use crate::support::{BACKENDS, TestDb};

const ACTIVE: i16 = 1;
const PENDING: i16 = 2;
const CLOSED: i16 = 3;
const SPAM: i16 = 4;
const DRAFT: i16 = 1;
const PUBLISHED: i16 = 2;
const DELETED: i16 = 3;

fn new_mailbox(conn: &mut AnyConnection, name: &'static str, email: &'static str) -> i64 {
    let now = db::now();
    mailbox::create(
        conn,
        &mailbox::NewMailbox {
            name,
            email,
            created_at: now,
            updated_at: now,
        },
    )
    .expect("mailbox")
}

fn new_agent(conn: &mut AnyConnection, first: &str, email: &str) -> i64 {
    user::create(
        conn,
        &user::NewUser::active(first, "Agent", email, "", UserRole::Agent, db::now()),
    )
    .expect("user")
}

fn grant(conn: &mut AnyConnection, user_id: i64, grants: &[(i64, MailboxAccess)]) {
    mailbox_user::replace_grants(conn, user_id, grants, db::now()).expect("grant");
}

fn minutes(n: i64) -> NaiveDateTime {
    chrono::DateTime::from_timestamp(1_760_000_000 + n * 60, 0)
        .expect("time")
        .naive_utc()
}

/// What a test conversation looks like.
#[derive(Clone, Copy)]
struct Spec<'a> {
    mailbox_id: i64,
    status: i16,
    state: i16,
    assignee: Option<i64>,
    at: NaiveDateTime,
    subject: &'a str,
    customer_id: Option<i64>,
    email: &'a str,
    created_by: Option<i64>,
}

impl Spec<'_> {
    fn new(mailbox_id: i64, at: NaiveDateTime) -> Spec<'static> {
        Spec {
            mailbox_id,
            status: ACTIVE,
            state: PUBLISHED,
            assignee: None,
            at,
            subject: "Hello",
            customer_id: None,
            email: "someone@customer.test",
            created_by: None,
        }
    }
}

fn make(conn: &mut AnyConnection, s: Spec<'_>) -> i64 {
    let (id, _) = conversation::create(
        conn,
        &conversation::NewConversation {
            mailbox_id: s.mailbox_id,
            customer_id: s.customer_id,
            customer_email: s.email,
            created_by_user_id: s.created_by,
            conversation_type: ConversationType::Email,
            status: ConversationStatus::from_i16(s.status).expect("status"),
            state: ConversationState::from_i16(s.state).expect("state"),
            subject: s.subject,
            created_at: s.at,
        },
    )
    .expect("conversation");
    diesel::update(conversations::table.find(id))
        .set((
            conversations::user_id.eq(s.assignee),
            conversations::last_reply_at.eq(s.at),
        ))
        .execute(conn)
        .expect("assignee");
    id
}

fn add_message(
    conn: &mut AnyConnection,
    conversation_id: i64,
    text: &str,
    at: NaiveDateTime,
) -> i64 {
    thread::add(
        conn,
        &thread::NewThread {
            conversation_id,
            thread_type: ThreadType::Customer.as_i16(),
            status: ACTIVE,
            body_html: text,
            body_text: text,
            created_at: at,
            updated_at: at,
            ..Default::default()
        },
    )
    .expect("thread")
}

/// The counters (non-zero) and the real counts, each as (mailbox, state, status, user) → n.
type Tally = BTreeMap<(i64, i16, i16, i64), i64>;

fn counters(conn: &mut AnyConnection) -> Tally {
    conversation_counts::table
        .filter(conversation_counts::n.ne(0))
        .select((
            conversation_counts::mailbox_id,
            conversation_counts::state,
            conversation_counts::status,
            conversation_counts::user_id,
            conversation_counts::n,
        ))
        .load::<(i64, i16, i16, i64, i64)>(conn)
        .expect("counters")
        .into_iter()
        .map(|(m, st, s, u, n)| ((m, st, s, u), n))
        .collect()
}

fn real_counts(conn: &mut AnyConnection) -> Tally {
    let mut t = Tally::new();
    let rows: Vec<(i64, i16, i16, Option<i64>)> = conversations::table
        .select((
            conversations::mailbox_id,
            conversations::state,
            conversations::status,
            conversations::user_id,
        ))
        .load(conn)
        .expect("conversations");
    for (m, st, s, u) in rows {
        *t.entry((m, st, s, u.unwrap_or(0))).or_default() += 1;
    }
    t
}

fn assert_counts_exact(conn: &mut AnyConnection, backend: Backend, step: &str) {
    assert_eq!(
        counters(conn),
        real_counts(conn),
        "{backend:?} after {step}"
    );
}

/// (state, status, assignee) of a conversation.
type Row3 = (i16, i16, Option<i64>);
/// (id, state, status, assignee, last_reply_at) of a seeded conversation.
type Seeded = (i64, i16, i16, Option<i64>, NaiveDateTime);

/// A small deterministic pseudo-random sequence (no extra crate).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

#[test]
fn folder_counters_stay_exact_through_inserts_updates_and_deletes_on_every_backend() {
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let mut conn = db.migrated();
        let c = &mut conn;
        let m1 = new_mailbox(c, "One", "one@example.com");
        let m2 = new_mailbox(c, "Two", "two@example.com");
        let u1 = new_agent(c, "Uma", "uma@example.com");
        let u2 = new_agent(c, "Vic", "vic@example.com");
        let assignees = [None, Some(u1), Some(u2)];
        let mut rng = Lcg(7);
        let mut ids = Vec::new();
        for i in 0..60 {
            let mut s = Spec::new(if i % 3 == 0 { m2 } else { m1 }, minutes(i));
            s.status = 1 + rng.next(4) as i16;
            s.state = 1 + rng.next(3) as i16;
            s.assignee = assignees[rng.next(3) as usize];
            ids.push(make(c, s));
        }
        assert_counts_exact(c, backend, "inserts");
        for step in 0..80 {
            let id = ids[rng.next(ids.len() as u64) as usize];
            let target = conversations::table.find(id);
            let changed = match rng.next(5) {
                0 => diesel::update(target)
                    .set(conversations::status.eq(1 + rng.next(4) as i16))
                    .execute(c),
                1 => diesel::update(target)
                    .set(conversations::state.eq(1 + rng.next(3) as i16))
                    .execute(c),
                2 => diesel::update(target)
                    .set(conversations::user_id.eq(assignees[rng.next(3) as usize]))
                    .execute(c),
                3 => diesel::update(target)
                    .set((
                        conversations::mailbox_id.eq(if rng.next(2) == 0 { m1 } else { m2 }),
                        conversations::subject.eq("moved"),
                    ))
                    .execute(c),
                _ => diesel::delete(target).execute(c),
            };
            changed.expect("change");
            if step % 20 == 19 {
                assert_counts_exact(c, backend, &format!("change {step}"));
            }
        }
        // Columns the counters do not follow leave them alone; many rows at once count.
        diesel::update(conversations::table)
            .set(conversations::preview.eq("x"))
            .execute(c)
            .expect("preview");
        diesel::update(conversations::table.filter(conversations::user_id.eq(u1)))
            .set(conversations::status.eq(CLOSED))
            .execute(c)
            .expect("bulk close");
        assert_counts_exact(c, backend, "bulk update");
        // Foreign-key actions: a user removed for good (assignee set to NULL) and a
        // mailbox removed (its conversations go).
        diesel::delete(users::table.find(u2))
            .execute(c)
            .expect("delete user");
        assert_counts_exact(c, backend, "user deleted");
        diesel::delete(mailboxes::table.find(m2))
            .execute(c)
            .expect("delete mailbox");
        assert_counts_exact(c, backend, "mailbox deleted");

        // The folder counts a page shows agree with counting the rows.
        let all: Vec<Row3> = conversations::table
            .filter(conversations::mailbox_id.eq(m1))
            .select((
                conversations::state,
                conversations::status,
                conversations::user_id,
            ))
            .load(c)
            .expect("rows");
        let open = |s: i16| s == ACTIVE || s == PENDING;
        let count = |f: &dyn Fn(&Row3) -> bool| all.iter().filter(|r| f(r)).count() as i64;
        let expected = [
            (
                Folder::Unassigned,
                count(&|r| r.0 == PUBLISHED && open(r.1) && r.2.is_none()),
            ),
            (
                Folder::Mine,
                count(&|r| r.0 == PUBLISHED && open(r.1) && r.2 == Some(u1)),
            ),
            (
                Folder::Assigned,
                count(&|r| r.0 == PUBLISHED && open(r.1) && r.2.is_some()),
            ),
            (
                Folder::Closed,
                count(&|r| r.0 == PUBLISHED && r.1 == CLOSED),
            ),
            (Folder::Spam, count(&|r| r.0 == PUBLISHED && r.1 == SPAM)),
            (Folder::Deleted, count(&|r| r.0 == DELETED)),
        ];
        let got: BTreeMap<Folder, i64> = folders::counts(c, m1, u1)
            .expect("counts")
            .into_iter()
            .map(|fc| (fc.folder, fc.count))
            .collect();
        for (folder, n) in expected {
            assert_eq!(got[&folder], n, "{backend:?} {folder:?}");
        }
    }
}

/// Every page of `folder`, walked with the cursor `limit` rows at a time.
fn walk(
    c: &mut AnyConnection,
    mailbox_id: i64,
    folder: Folder,
    user_id: i64,
    limit: i64,
) -> Vec<(NaiveDateTime, i64)> {
    let mut seen = Vec::new();
    let mut after: Option<Cursor> = None;
    for _ in 0..100 {
        let (rows, next) =
            folders::list(c, mailbox_id, folder, user_id, after.as_ref(), limit).expect("list");
        assert!(rows.len() as i64 <= limit);
        seen.extend(rows.iter().map(|r| (r.last_reply_at, r.id)));
        match next {
            Some(n) => {
                assert_eq!(rows.len() as i64, limit, "a full page before a next one");
                // The cursor survives the URL.
                after = Cursor::from_param(&n.to_param());
            }
            None => return seen,
        }
    }
    panic!("pagination did not end");
}

#[test]
fn folder_lists_walk_every_page_newest_first_without_duplicates_on_every_backend() {
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let mut conn = db.migrated();
        let c = &mut conn;
        let m = new_mailbox(c, "Support", "support@example.com");
        let other_box = new_mailbox(c, "Other", "other@example.com");
        let me = new_agent(c, "Mia", "mia@example.com");
        let bob = new_agent(c, "Bob", "bob@example.com");
        let assignees = [None, Some(me), Some(bob)];
        let statuses = [ACTIVE, PENDING, CLOSED, SPAM, ACTIVE];
        let mut all: Vec<Seeded> = Vec::new();
        for i in 0..75_i64 {
            let mut s = Spec::new(m, minutes(i / 3)); // three rows share each time
            s.status = statuses[(i % 5) as usize];
            s.assignee = assignees[(i % 3) as usize];
            s.state = if i % 11 == 0 { DELETED } else { PUBLISHED };
            let id = make(c, s);
            all.push((id, s.state, s.status, s.assignee, s.at));
        }
        make(c, Spec::new(other_box, minutes(5)));
        // Stars, a draft conversation of mine, a draft reply of mine, and Bob's draft.
        let starred: Vec<i64> = all.iter().step_by(4).map(|r| r.0).collect();
        for id in &starred {
            actions::set_star(c, *id, me, true).expect("star");
        }
        let draft = make(
            c,
            Spec {
                state: DRAFT,
                created_by: Some(me),
                ..Spec::new(m, minutes(40))
            },
        );
        make(
            c,
            Spec {
                state: DRAFT,
                created_by: Some(bob),
                ..Spec::new(m, minutes(41))
            },
        );
        let with_reply_draft = all[3].0;
        // Written at the conversation's own time, so its place in the lists stays.
        let t = add_message(c, with_reply_draft, "draft text", all[3].4);
        diesel::update(threads::table.find(t))
            .set((
                threads::state.eq(DRAFT),
                threads::created_by_user_id.eq(Some(me)),
            ))
            .execute(c)
            .expect("draft reply");
        let with_reply_at: NaiveDateTime = conversations::table
            .find(with_reply_draft)
            .select(conversations::last_reply_at)
            .first(c)
            .expect("time");

        let open = |s: i16| s == ACTIVE || s == PENDING;
        let by_time = |mut v: Vec<(NaiveDateTime, i64)>| {
            v.sort_by(|a, b| b.cmp(a));
            v
        };
        let pick = |f: &dyn Fn(&Seeded) -> bool| {
            by_time(all.iter().filter(|r| f(r)).map(|r| (r.4, r.0)).collect())
        };
        let mut expected: BTreeMap<Folder, Vec<(NaiveDateTime, i64)>> = BTreeMap::new();
        expected.insert(
            Folder::Unassigned,
            pick(&|r| r.1 == PUBLISHED && open(r.2) && r.3.is_none()),
        );
        expected.insert(
            Folder::Mine,
            pick(&|r| r.1 == PUBLISHED && open(r.2) && r.3 == Some(me)),
        );
        expected.insert(
            Folder::Assigned,
            pick(&|r| r.1 == PUBLISHED && open(r.2) && r.3.is_some()),
        );
        expected.insert(Folder::Closed, pick(&|r| r.1 == PUBLISHED && r.2 == CLOSED));
        expected.insert(Folder::Spam, pick(&|r| r.1 == PUBLISHED && r.2 == SPAM));
        expected.insert(Folder::Deleted, pick(&|r| r.1 == DELETED));
        expected.insert(
            Folder::Starred,
            pick(&|r| r.1 == PUBLISHED && starred.contains(&r.0)),
        );
        expected.insert(
            Folder::Drafts,
            by_time(vec![
                (minutes(40), draft),
                (with_reply_at, with_reply_draft),
            ]),
        );
        let counts: BTreeMap<Folder, i64> = folders::counts(c, m, me)
            .expect("counts")
            .into_iter()
            .map(|fc| (fc.folder, fc.count))
            .collect();
        for folder in Folder::ALL {
            let want = &expected[folder];
            assert!(
                !want.is_empty(),
                "{folder:?} has rows to test against in this seed"
            );
            for limit in [4, 50] {
                let got = walk(c, m, *folder, me, limit);
                let unique: BTreeSet<i64> = got.iter().map(|k| k.1).collect();
                assert_eq!(
                    unique.len(),
                    got.len(),
                    "{backend:?} {folder:?}: duplicates"
                );
                assert_eq!(&got, want, "{backend:?} {folder:?} limit {limit}");
            }
            assert_eq!(
                counts[folder],
                want.len() as i64,
                "{backend:?} {folder:?} count"
            );
        }

        // Unread until read; a newer message makes it unread again.
        let id = expected[&Folder::Unassigned][0].1;
        let row = |c: &mut AnyConnection| {
            folders::list(c, m, Folder::Unassigned, me, None, 50)
                .expect("list")
                .0
                .into_iter()
                .find(|r| r.id == id)
                .expect("row")
        };
        assert!(row(c).unread);
        actions::mark_read(c, id, me).expect("read");
        assert!(!row(c).unread);
        assert!(row(c).starred == starred.contains(&id));
        add_message(
            c,
            id,
            "one more thing",
            db::now() + chrono::Duration::seconds(5),
        );
        let fresh = folders::list(c, m, Folder::Unassigned, me, None, 50)
            .expect("list")
            .0;
        assert_eq!(fresh[0].id, id, "the newest message moves it to the top");
        assert!(fresh[0].unread);
        assert_eq!(fresh[0].preview, "one more thing");
    }
}

fn line_items(c: &mut AnyConnection, conversation_id: i64) -> Vec<(i16, serde_json::Value)> {
    threads::table
        .filter(threads::conversation_id.eq(conversation_id))
        .filter(threads::thread_type.eq(ThreadType::LineItem.as_i16()))
        .order(threads::id)
        .select((threads::action_type, threads::action_data))
        .load::<(Option<i16>, String)>(c)
        .expect("line items")
        .into_iter()
        .map(|(a, d)| (a.unwrap_or(0), serde_json::from_str(&d).expect("json")))
        .collect()
}

fn event_kinds(c: &mut AnyConnection, conversation_id: i64) -> Vec<String> {
    events::table
        .filter(events::conversation_id.eq(conversation_id))
        .order(events::id)
        .select(events::kind)
        .load(c)
        .expect("events")
}

#[test]
fn actions_change_once_with_a_line_item_and_an_event_on_every_backend() {
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let pool = db::connect_pool(&db.url, 2).expect("pool");
        let mut conn = db.migrated();
        let hooks = Registry::empty(pool);
        let c = &mut conn;
        let m1 = new_mailbox(c, "Sales", "sales@example.com");
        let m2 = new_mailbox(c, "Billing", "billing@example.com");
        let anna = new_agent(c, "Anna", "anna@example.com");
        let boris = new_agent(c, "Boris", "boris@example.com");
        let stranger = new_agent(c, "Stan", "stan@example.com");
        grant(
            c,
            anna,
            &[(m1, MailboxAccess::Reply), (m2, MailboxAccess::Reply)],
        );
        grant(c, boris, &[(m1, MailboxAccess::View)]);
        let id = make(c, Spec::new(m1, minutes(0)));

        // Status: closed records who and when; the same status again changes nothing.
        assert!(
            actions::set_status(c, &hooks, id, ConversationStatus::Closed, anna).expect("close")
        );
        assert!(
            !actions::set_status(c, &hooks, id, ConversationStatus::Closed, anna).expect("again")
        );
        let (closed_at, closed_by): (Option<NaiveDateTime>, Option<i64>) = conversations::table
            .find(id)
            .select((conversations::closed_at, conversations::closed_by_user_id))
            .first(c)
            .expect("closed");
        assert!(closed_at.is_some());
        assert_eq!(closed_by, Some(anna));
        assert!(
            actions::set_status(c, &hooks, id, ConversationStatus::Active, anna).expect("reopen")
        );

        // Assign: only to someone who can see the mailbox; the line item names both.
        match actions::assign(c, id, Some(stranger), anna) {
            Err(ActionError::Invalid(_)) => {}
            other => panic!("{backend:?}: assigning to a stranger: {other:?}"),
        }
        assert!(actions::assign(c, id, Some(boris), anna).expect("assign"));
        assert!(!actions::assign(c, id, Some(boris), anna).expect("same"));
        let items = line_items(c, id);
        assert_eq!(items.len(), 3, "{items:?}");
        assert_eq!(items[0].0, LineItemAction::StatusChanged.as_i16());
        assert_eq!(items[0].1["status"], CLOSED);
        assert_eq!(items[0].1["by"]["name"], "Anna Agent");
        assert_eq!(items[2].0, LineItemAction::UserChanged.as_i16());
        assert_eq!(items[2].1["assignee"]["name"], "Boris Agent");
        assert!(items[2].1["previous"].is_null());
        assert_eq!(
            event_kinds(c, id),
            ["status_changed", "status_changed", "assigned"]
        );
        let count: i32 = conversations::table
            .find(id)
            .select(conversations::threads_count)
            .first(c)
            .expect("count");
        assert_eq!(count, 0, "line items are not messages");

        // Move: the message-id index follows, so replies keep threading.
        let t = add_message(c, id, "first", minutes(1));
        diesel::insert_into(message_ids::table)
            .values((
                message_ids::mailbox_id.eq(m1),
                message_ids::message_id.eq("first@customer.test"),
                message_ids::thread_id.eq(t),
                message_ids::conversation_id.eq(id),
                message_ids::created_at.eq(db::now()),
            ))
            .execute(c)
            .expect("message id");
        assert!(actions::move_to_mailbox(c, id, m2, anna).expect("move"));
        assert!(!actions::move_to_mailbox(c, id, m2, anna).expect("same mailbox"));
        match actions::move_to_mailbox(c, id, 999_999, anna) {
            Err(ActionError::Invalid(_)) => {}
            other => panic!("{backend:?}: moving to no mailbox: {other:?}"),
        }
        let indexed: (i64, i64) = message_ids::table
            .filter(message_ids::message_id.eq("first@customer.test"))
            .select((message_ids::mailbox_id, message_ids::conversation_id))
            .first(c)
            .expect("index");
        assert_eq!(indexed, (m2, id));
        let moved = line_items(c, id).pop().expect("move item");
        assert_eq!(moved.1["from_mailbox"]["name"], "Sales");
        assert_eq!(moved.1["to_mailbox"]["name"], "Billing");

        // Merge: threads, attachments, index and followers move; the source is deleted.
        let src = make(
            c,
            Spec {
                subject: "Second",
                ..Spec::new(m2, minutes(2))
            },
        );
        let st = add_message(c, src, "newer words", minutes(9));
        diesel::update(threads::table.find(st))
            .set(threads::has_attachments.eq(true))
            .execute(c)
            .expect("flag");
        diesel::insert_into(attachments::table)
            .values((
                attachments::thread_id.eq(st),
                attachments::conversation_id.eq(src),
                attachments::file_name.eq("a.txt"),
                attachments::sha256.eq("00"),
                attachments::created_at.eq(db::now()),
            ))
            .execute(c)
            .expect("attachment");
        actions::set_follow(c, src, boris, true).expect("follow");
        actions::set_follow(c, src, boris, true).expect("follow twice");
        match actions::merge(c, id, id, anna) {
            Err(ActionError::Invalid(_)) => {}
            other => panic!("{backend:?}: merging with itself: {other:?}"),
        }
        actions::merge(c, src, id, anna).expect("merge");
        let (state, count): (i16, i32) = conversations::table
            .find(src)
            .select((conversations::state, conversations::threads_count))
            .first(c)
            .expect("source");
        assert_eq!((state, count), (DELETED, 0));
        let (count, files, last, preview): (i32, bool, NaiveDateTime, String) =
            conversations::table
                .find(id)
                .select((
                    conversations::threads_count,
                    conversations::has_attachments,
                    conversations::last_reply_at,
                    conversations::preview,
                ))
                .first(c)
                .expect("target");
        assert_eq!((count, files, last), (2, true, minutes(9)));
        assert_eq!(preview, "newer words");
        let moved_files: i64 = attachments::table
            .filter(attachments::conversation_id.eq(id))
            .count()
            .get_result(c)
            .expect("attachments");
        assert_eq!(moved_files, 1);
        let follows: Vec<i64> = followers::table
            .filter(followers::conversation_id.eq(id))
            .select(followers::user_id)
            .load(c)
            .expect("followers");
        assert_eq!(follows, [boris]);
        assert_eq!(
            line_items(c, src).pop().expect("source item").1["into"]["id"],
            id
        );
        assert_eq!(
            event_kinds(c, id).last().map(String::as_str),
            Some("merged")
        );

        // Delete and restore; restore does nothing to a conversation not deleted.
        assert!(!actions::restore(c, id, anna).expect("not deleted"));
        assert!(actions::delete(c, id, anna).expect("delete"));
        assert!(!actions::delete(c, id, anna).expect("deleted already"));
        assert!(actions::restore(c, id, anna).expect("restore"));
        let kinds = event_kinds(c, id);
        assert_eq!(kinds[kinds.len() - 2..], ["deleted", "restored"]);

        // Stars are per user and idempotent.
        actions::set_star(c, id, anna, true).expect("star");
        actions::set_star(c, id, anna, true).expect("star twice");
        actions::set_star(c, id, boris, true).expect("star boris");
        actions::set_star(c, id, boris, false).expect("unstar boris");
        let starred: Vec<i64> = stars::table
            .filter(stars::conversation_id.eq(id))
            .select(stars::user_id)
            .load(c)
            .expect("stars");
        assert_eq!(starred, [anna]);
        assert!(matches!(
            actions::set_star(c, 999_999, anna, true),
            Err(ActionError::NotFound)
        ));
        assert_counts_exact(c, backend, "actions");
    }
}

#[test]
fn a_module_can_refuse_a_status_change() {
    let db = TestDb::new(Backend::Sqlite);
    let data = tempfile::tempdir().expect("data dir");
    crate::modules::install(
        data.path(),
        "misbehaving",
        "postdesk_test_misbehaving",
        "tests/fixtures/modules/misbehaving/module.toml",
    );
    let pool = db::connect_pool(&db.url, 2).expect("pool");
    let mut conn = db.migrated();
    let hooks = Registry::load(
        pool,
        data.path(),
        "",
        postdesk::hooks::HookOptions::default(),
    )
    .expect("modules");
    hooks
        .set_setting("misbehaving", "mode", &serde_json::json!("answer"))
        .expect("mode");
    hooks
        .set_setting(
            "misbehaving",
            "answer",
            &serde_json::json!(r#"{"allow": false, "reason": "needs a rating"}"#),
        )
        .expect("answer");
    let c = &mut conn;
    let m = new_mailbox(c, "Sales", "sales@example.com");
    let anna = new_agent(c, "Anna", "anna@example.com");
    let id = make(c, Spec::new(m, minutes(0)));
    match actions::set_status(c, &hooks, id, ConversationStatus::Closed, anna) {
        Err(ActionError::Vetoed { module, reason }) => {
            assert_eq!(
                (module.as_str(), reason.as_str()),
                ("misbehaving", "needs a rating")
            );
        }
        other => panic!("not vetoed: {other:?}"),
    }
    let status: i16 = conversations::table
        .find(id)
        .select(conversations::status)
        .first(c)
        .expect("status");
    assert_eq!(status, ACTIVE);
    assert!(line_items(c, id).is_empty() && event_kinds(c, id).is_empty());
}

#[test]
fn search_finds_by_number_email_name_subject_and_body_in_visible_mailboxes_only() {
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let mut conn = db.migrated();
        let c = &mut conn;
        let seen = new_mailbox(c, "Seen", "seen@example.com");
        let hidden = new_mailbox(c, "Hidden", "hidden@example.com");
        let agent_id = new_agent(c, "Ada", "ada@example.com");
        grant(c, agent_id, &[(seen, MailboxAccess::View)]);
        let agent = user::find(c, agent_id).expect("find").expect("agent");
        let now = db::now();
        let carol = customer::create_with_emails(
            c,
            &customer::NewCustomer {
                first_name: "Carol",
                last_name: "Danvers",
                company: "",
                created_at: now,
                updated_at: now,
            },
            &["carol@customer.test"],
        )
        .expect("customer");
        let spec = |mailbox_id, n: i64, subject| Spec {
            customer_id: Some(carol),
            email: "carol@customer.test",
            subject,
            ..Spec::new(mailbox_id, minutes(n))
        };
        let a = make(c, spec(seen, 1, "Refund for order 100%"));
        let b = make(c, spec(seen, 2, "Shipping question"));
        let h = make(c, spec(hidden, 3, "Refund too"));
        add_message(
            c,
            b,
            "The parcel never arrived, tracking says Zanzibar",
            minutes(4),
        );
        add_message(c, h, "Zanzibar as well", minutes(5));
        let numbers: BTreeMap<i64, i64> = conversations::table
            .select((conversations::id, conversations::number))
            .load::<(i64, i64)>(c)
            .expect("numbers")
            .into_iter()
            .collect();
        let ids = |c: &mut AnyConnection, q: &str| -> Vec<i64> {
            postdesk::search::search(c, &agent, q, None, 50)
                .expect("search")
                .0
                .into_iter()
                .map(|r| r.id)
                .collect()
        };
        assert_eq!(ids(c, &format!("#{}", numbers[&a])), [a], "{backend:?}");
        assert_eq!(ids(c, &numbers[&b].to_string()), [b]);
        assert!(
            ids(c, &format!("#{}", numbers[&h])).is_empty(),
            "hidden mailbox"
        );
        assert_eq!(ids(c, "Carol@Customer.test"), [b, a], "newest first");
        assert_eq!(ids(c, "carol"), [b, a], "first name");
        assert_eq!(ids(c, "carol danv"), [b, a], "first and last name");
        assert_eq!(ids(c, "refund"), [a], "subject, case-insensitive");
        assert_eq!(ids(c, "100%"), [a], "a literal percent sign");
        assert!(ids(c, "100_").is_empty(), "underscore is not a wildcard");
        assert_eq!(ids(c, "zanzibar"), [b], "body text");
        assert!(ids(c, "nothing like this").is_empty());
        assert!(ids(c, "   ").is_empty());
        // Pages: one row at a time, no duplicates.
        let (first, next) = postdesk::search::search(c, &agent, "carol", None, 1).expect("page 1");
        let (second, last) =
            postdesk::search::search(c, &agent, "carol", next.as_ref(), 1).expect("page 2");
        assert_eq!((first[0].id, second[0].id, last), (b, a, None));
    }
}

/// The number in `data-count` of a sidebar folder link.
fn sidebar_count(page: &str, mailbox_id: i64, slug: &str) -> i64 {
    let marker = format!("id=\"folder-{mailbox_id}-{slug}\"");
    let rest = page
        .split(&marker)
        .nth(1)
        .unwrap_or_else(|| panic!("no {marker} in page"));
    rest.split("data-count=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count after {marker}"))
}

/// Conversation ids listed on a page, in order.
fn listed(page: &str) -> Vec<i64> {
    page.split("<li class=\"ws-row")
        .skip(1)
        .filter_map(|r| {
            r.split("data-id=\"")
                .nth(1)?
                .split('"')
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

fn older_link(page: &str) -> Option<String> {
    let rest = page.split("id=\"older-link\"").next()?;
    if !page.contains("id=\"older-link\"") {
        return None;
    }
    let href = rest.rsplit("href=\"").next()?.split('"').next()?;
    Some(href.replace("&amp;", "&").replace("&#x2F;", "/"))
}

#[test]
fn pages_and_action_routes_work_for_every_folder_on_every_backend() {
    for backend in BACKENDS {
        pages_and_actions(backend);
    }
}

fn pages_and_actions(backend: Backend) {
    let app = TestApp::installed(backend);
    let mut conn = app.conn();
    let c = &mut conn;
    let a = new_mailbox(c, "Alpha", "alpha@example.com");
    let b = new_mailbox(c, "Beta", "beta@example.com");
    let hidden = new_mailbox(c, "Hidden", "hidden@example.com");
    let agent_id = crate::authz_matrix::add_user(&app, "agent@example.com", "agent");
    let viewer_id = crate::authz_matrix::add_user(&app, "viewer@example.com", "agent");
    grant(
        c,
        agent_id,
        &[(a, MailboxAccess::Reply), (b, MailboxAccess::Reply)],
    );
    grant(c, viewer_id, &[(a, MailboxAccess::View)]);
    let mut ids = Vec::new();
    for i in 0..60 {
        let s = Spec {
            subject: "Order question",
            ..Spec::new(a, minutes(i))
        };
        ids.push(make(c, s));
    }
    let secret = make(c, Spec::new(hidden, minutes(1)));
    let agent = Client::new(&app.base);
    assert_eq!(
        agent.login("agent@example.com", "blue-harbour-17").status,
        303
    );
    let viewer = Client::new(&app.base);
    assert_eq!(
        viewer.login("viewer@example.com", "blue-harbour-17").status,
        303
    );
    let admin = app.client();
    assert_eq!(admin.login(ADMIN_EMAIL, ADMIN_PASSWORD).status, 303);

    // Unassigned, two pages by cursor, newest first, nothing twice.
    let page_a = format!("/mailboxes/{a}");
    let first = agent.get(&page_a);
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(sidebar_count(&first.body, a, "unassigned"), 60);
    assert!(first.body.contains("id=\"folder-") && !first.body.contains("Hidden"));
    let mut seen = listed(&first.body);
    assert_eq!(seen.len(), 50);
    let next = older_link(&first.body).expect("older link");
    let second = agent.get(&next);
    assert_eq!(second.status, 200);
    seen.extend(listed(&second.body));
    assert!(older_link(&second.body).is_none());
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first, "{backend:?}");
    assert_eq!(agent.get(&format!("{page_a}?after=garbage")).status, 200);

    // Single actions through the routes, each visible in folders and as a line item.
    let conv = ids[59];
    let back = format!("{page_a}?folder=mine");
    let post = |client: &Client, action: &str, form: &[(&str, &str)]| {
        let mut f = vec![("return", back.as_str())];
        f.extend_from_slice(form);
        client.post_from(&page_a, &format!("/conversations/{conv}/{action}"), &f)
    };
    let agent_s = agent_id.to_string();
    let r = post(&agent, "assign", &[("user_id", &agent_s)]);
    assert_eq!((r.status, r.location.as_str()), (303, back.as_str()));
    let mine = agent.get(&back);
    assert_eq!(listed(&mine.body), [conv]);
    assert_eq!(sidebar_count(&mine.body, a, "mine"), 1);
    assert_eq!(sidebar_count(&mine.body, a, "unassigned"), 59);
    assert!(mine.body.contains("Test User"), "assignee name in the row");
    assert_eq!(post(&agent, "status", &[("status", "pending")]).status, 303);
    assert_eq!(post(&agent, "status", &[("status", "closed")]).status, 303);
    let closed = agent.get(&format!("{page_a}?folder=closed"));
    assert_eq!(listed(&closed.body), [conv]);
    assert_eq!(sidebar_count(&closed.body, a, "mine"), 0);
    assert_eq!(post(&agent, "status", &[("status", "spam")]).status, 303);
    assert_eq!(
        listed(&agent.get(&format!("{page_a}?folder=spam")).body),
        [conv]
    );
    assert_eq!(post(&agent, "status", &[("status", "active")]).status, 303);
    assert_eq!(post(&agent, "status", &[("status", "bogus")]).status, 400);
    assert_eq!(post(&agent, "star", &[("on", "1")]).status, 303);
    let starred = agent.get(&format!("{page_a}?folder=starred"));
    assert_eq!(listed(&starred.body), [conv]);
    assert!(starred.body.contains("ws-star"));
    assert_eq!(post(&agent, "follow", &[("on", "1")]).status, 303);
    assert_eq!(
        post(&agent, "move", &[("mailbox_id", &b.to_string())]).status,
        303
    );
    let in_b = agent.get(&format!("/mailboxes/{b}?folder=mine"));
    assert_eq!(listed(&in_b.body), [conv]);
    let hidden_s = hidden.to_string();
    assert_eq!(
        post(&agent, "move", &[("mailbox_id", &hidden_s)]).status,
        404,
        "no moving into a mailbox the agent cannot see"
    );
    // Back to Alpha, then merge the next one in by its number.
    assert_eq!(
        post(&agent, "move", &[("mailbox_id", &a.to_string())]).status,
        303
    );
    let other_number: i64 = conversations::table
        .find(ids[58])
        .select(conversations::number)
        .first(c)
        .expect("number");
    let n = format!("#{other_number}");
    assert_eq!(post(&agent, "merge", &[("other", &n)]).status, 303);
    let secret_id = secret.to_string();
    assert_eq!(
        post(&agent, "merge", &[("other", &secret_id)]).status,
        404,
        "no merging a conversation from a hidden mailbox"
    );
    let deleted = agent.get(&format!("{page_a}?folder=deleted"));
    assert_eq!(listed(&deleted.body), [ids[58]]);
    assert_eq!(post(&agent, "delete", &[]).status, 303);
    assert_eq!(
        listed(&agent.get(&format!("{page_a}?folder=deleted")).body),
        [conv, ids[58]]
    );
    assert_eq!(post(&agent, "restore", &[]).status, 303);
    let actions_done: Vec<Option<i16>> = threads::table
        .filter(threads::conversation_id.eq(conv))
        .filter(threads::thread_type.eq(ThreadType::LineItem.as_i16()))
        .order(threads::id)
        .select(threads::action_type)
        .load(c)
        .expect("line items");
    let action = |a: LineItemAction| Some(a.as_i16());
    assert_eq!(
        actions_done,
        [
            action(LineItemAction::UserChanged),
            action(LineItemAction::StatusChanged),
            action(LineItemAction::StatusChanged),
            action(LineItemAction::StatusChanged),
            action(LineItemAction::StatusChanged),
            action(LineItemAction::MovedFromMailbox),
            action(LineItemAction::MovedFromMailbox),
            action(LineItemAction::Merged),
            action(LineItemAction::Deleted),
            action(LineItemAction::Restored),
        ],
        "{backend:?}"
    );
    // A return address off this site is not followed.
    let r = agent.post_from(
        &page_a,
        &format!("/conversations/{conv}/star"),
        &[("on", "0"), ("return", "https://evil.example/")],
    );
    assert_eq!(r.location, format!("/conversations/{conv}"));

    // View access: star and follow only; no access: nothing, not even a hint.
    let vpost = |path: &str, form: &[(&str, &str)]| viewer.post_from(&page_a, path, form);
    assert_eq!(
        vpost(&format!("/conversations/{conv}/star"), &[("on", "1")]).status,
        303
    );
    assert_eq!(
        vpost(
            &format!("/conversations/{conv}/status"),
            &[("status", "closed")]
        )
        .status,
        403
    );
    assert_eq!(
        vpost(&format!("/conversations/{conv}/delete"), &[]).status,
        403
    );
    assert_eq!(
        vpost(&format!("/conversations/{secret}/star"), &[("on", "1")]).status,
        404
    );
    let vpage = viewer.get(&page_a);
    assert_eq!(vpage.status, 200);
    assert!(
        !vpage.body.contains("id=\"bulk-form\""),
        "no bulk form for view access"
    );
    assert_eq!(viewer.get(&format!("/mailboxes/{b}")).status, 404);

    // Bulk: assign, close, delete, restore, spam, move and merge several at once.
    let picked = [ids[0], ids[1], ids[2]];
    let picked_s: Vec<String> = picked.iter().map(|i| i.to_string()).collect();
    let bulk = |client: &Client, fields: &[(&str, &str)]| {
        let mut f: Vec<(&str, &str)> = fields.to_vec();
        f.push(("return", page_a.as_str()));
        for id in &picked_s {
            f.push(("ids[]", id));
        }
        client.post_from(&page_a, "/conversations/bulk", &f)
    };
    let r = bulk(&agent, &[("action", "assign"), ("user_id", &agent_s)]);
    assert_eq!((r.status, r.location.as_str()), (303, page_a.as_str()));
    let mine = agent.get(&format!("{page_a}?folder=mine"));
    assert_eq!(sidebar_count(&mine.body, a, "mine"), 4);
    assert_eq!(
        bulk(&agent, &[("action", "status"), ("status", "closed")]).status,
        303
    );
    assert_eq!(
        sidebar_count(&agent.get(&page_a).body, a, "closed"),
        3,
        "{backend:?}"
    );
    assert_eq!(bulk(&agent, &[("action", "spam")]).status, 303);
    assert_eq!(sidebar_count(&agent.get(&page_a).body, a, "spam"), 3);
    assert_eq!(bulk(&agent, &[("action", "delete")]).status, 303);
    assert_eq!(sidebar_count(&agent.get(&page_a).body, a, "deleted"), 4);
    assert_eq!(bulk(&agent, &[("action", "restore")]).status, 303);
    assert_eq!(sidebar_count(&agent.get(&page_a).body, a, "deleted"), 1);
    assert_eq!(bulk(&viewer, &[("action", "delete")]).status, 403);
    assert_eq!(
        bulk(
            &agent,
            &[("action", "move"), ("mailbox_id", &b.to_string())]
        )
        .status,
        303
    );
    assert_eq!(sidebar_count(&agent.get(&page_a).body, b, "spam"), 3);
    assert_eq!(bulk(&agent, &[("action", "merge")]).status, 303);
    let states: Vec<i16> = conversations::table
        .filter(conversations::id.eq_any(picked))
        .order(conversations::number)
        .select(conversations::state)
        .load(c)
        .expect("states");
    assert_eq!(
        states,
        [PUBLISHED, DELETED, DELETED],
        "merged into the lowest number"
    );
    assert_eq!(bulk(&agent, &[("action", "explode")]).status, 400);
    let none: Vec<(&str, &str)> = vec![("action", "delete"), ("return", "/")];
    assert_eq!(
        agent
            .post_from(&page_a, "/conversations/bulk", &none)
            .status,
        400
    );

    // Every folder page renders, in English and Russian.
    for folder in Folder::ALL {
        let path = format!("{page_a}?folder={}", folder.slug());
        let page = admin.get(&path);
        assert_eq!(page.status, 200, "{backend:?} {path}");
        assert!(page.body.contains("aria-current=\"page\""));
    }
    let mut russian = Client::new(&app.base);
    russian.language = "ru".into();
    assert_eq!(
        russian.login("agent@example.com", "blue-harbour-17").status,
        303
    );
    diesel::update(users::table.find(agent_id))
        .set(users::locale.eq("ru"))
        .execute(c)
        .expect("locale");
    assert!(russian.get(&page_a).body.contains("Не назначены"));

    // Search: by number and subject, only in visible mailboxes.
    let number: i64 = conversations::table
        .find(ids[10])
        .select(conversations::number)
        .first(c)
        .expect("number");
    let found = agent.get(&format!("/search?q=%23{number}"));
    assert_eq!((found.status, listed(&found.body)), (200, vec![ids[10]]));
    let secret_number: i64 = conversations::table
        .find(secret)
        .select(conversations::number)
        .first(c)
        .expect("number");
    assert!(listed(&agent.get(&format!("/search?q={secret_number}")).body).is_empty());
    let by_subject = agent.get("/search?q=order+question");
    assert_eq!(listed(&by_subject.body).len(), 50);
    let more = older_link(&by_subject.body).expect("a second page of results");
    assert!(!listed(&agent.get(&more).body).is_empty());
}
