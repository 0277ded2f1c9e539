//! `postdesk seed`: realistic helpdesk data for benchmarks and demos, written straight
//! through the data layer in large transactions of multi-row INSERTs.
//!
//! What it makes: mailboxes and agents (found again by address on a second run), customers
//! with one to three addresses (three in ten conversations come from an earlier customer),
//! and conversations spread evenly over the last two years, each of 1–30 messages and
//! notes (most 2–5): customer mail and agent replies with quoted history, internal notes,
//! plus "assigned" and "closed" line items, some attachments pointing at a few shared
//! files in the file store, and a `message_ids` row for every message so replies thread.
//! Old conversations are mostly closed; recent ones are active or pending; a few are spam,
//! deleted or drafts.
//!
//! Ids are written explicitly (from the current maximum up), so the load needs no
//! round trip per row; run it while nothing else writes to the database.

pub mod content;

use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use crate::crypto::Secrets;
use crate::db::schema::{
    attachments, conversations, customer_emails, customers, message_ids, threads,
};
use crate::db::types::{
    ConversationState, ConversationStatus, ConversationType, LineItemAction, MailboxAccess,
    ThreadType, UserRole,
};
use crate::db::{self, AnyConnection, dialect};
use crate::models::{mailbox, mailbox_user, thread, user};
use crate::storage::FileStore;
use content::{Body, Person, Rng, TOPICS, Topic};

/// What to seed.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    /// How many conversations to add.
    pub conversations: u64,
    /// How many mailboxes to spread them over (created if missing).
    pub mailboxes: u32,
    /// How many agents answer them (created if missing).
    pub agents: u32,
    /// Seed of the random generator: the same seed gives the same data.
    pub seed: u64,
    /// Password hash for newly created agents ("" leaves them unable to log in).
    pub agent_password_hash: String,
}

/// Counts of what a seed run wrote, and how long it took.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeedReport {
    /// Conversations added.
    pub conversations: u64,
    /// Threads added.
    pub threads: u64,
    /// Customers added.
    pub customers: u64,
    /// Customer addresses added.
    pub customer_emails: u64,
    /// Attachment rows added.
    pub attachments: u64,
    /// Time since the start of the run.
    pub elapsed: Duration,
}

/// Why seeding stopped.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The database lacks tables: not installed, or older than this binary.
    #[error(
        "the database is not installed or not migrated ({} migration(s) pending: {}); run `postdesk install` or `postdesk migrate` first",
        .0.len(),
        .0.join(", ")
    )]
    NotMigrated(Vec<String>),
    /// A statement failed.
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    /// The database layer failed (migration state could not be read).
    #[error(transparent)]
    Database(#[from] db::DbError),
    /// The shared attachment files could not be written.
    #[error("cannot write attachment files: {0}")]
    Files(#[from] std::io::Error),
    /// An option is out of range.
    #[error("{0}")]
    Invalid(String),
}

/// Where seeded files go and what signs our Message-IDs.
pub struct SeedContext<'a> {
    /// Signs the Message-IDs of agent replies, so replies to them thread like real ones.
    pub secrets: &'a Secrets,
    /// Holds the shared attachment files.
    pub files: &'a FileStore,
}

/// Conversations per transaction.
const BATCH: u64 = 1000;
/// Bind parameters per INSERT: under SQLite's 32,766 and the 65,535 of the servers.
const MAX_BINDS: usize = 30_000;
/// The span of conversation dates, back from now.
const SPAN_DAYS: i64 = 730;
/// Where seeded mailboxes and agents have their addresses.
const SEED_DOMAIN: &str = "shop.example";
/// Tables whose ids the load writes itself.
const TABLES: &[&str] = &[
    "customers",
    "customer_emails",
    "conversations",
    "threads",
    "message_ids",
    "attachments",
];

/// Adds `opts.conversations` conversations, calling `progress` at every tenth of the way.
/// Refuses a database with pending migrations.
pub fn run(
    conn: &mut AnyConnection,
    ctx: &SeedContext<'_>,
    opts: &SeedOptions,
    mut progress: impl FnMut(&SeedReport),
) -> Result<SeedReport, SeedError> {
    let pending = db::pending_migrations(conn)?;
    if !pending.is_empty() {
        return Err(SeedError::NotMigrated(pending));
    }
    if opts.mailboxes == 0 || opts.agents == 0 {
        return Err(SeedError::Invalid(
            "--mailboxes and --agents must be at least 1".into(),
        ));
    }
    let started = Instant::now();
    let now = db::now();
    let start = now - TimeDelta::days(SPAN_DAYS);
    let team = Team::find_or_create(conn, opts, start)?;
    let blobs = shared_files(ctx.files)?;
    dialect::begin_bulk_load(conn)?;
    let result = (|| {
        let mut generator = Generator {
            rng: Rng::new(opts.seed),
            seed: opts.seed,
            ctx,
            team: &team,
            blobs: &blobs,
            next: NextIds::read(conn)?,
            customers: Vec::new(),
            start,
            now,
            total: opts.conversations.max(1),
            batch: Batch::default(),
            report: SeedReport::default(),
        };
        let mut tenth_reported = 0;
        let mut done = 0;
        while done < opts.conversations {
            let upto = (done + BATCH).min(opts.conversations);
            for i in done..upto {
                generator.conversation(i);
            }
            let batch = std::mem::take(&mut generator.batch);
            crate::db::dialect::write_transaction(conn, |c| batch.insert(c))?;
            done = upto;
            generator.report.elapsed = started.elapsed();
            let tenth = done * 10 / opts.conversations;
            if tenth > tenth_reported {
                tenth_reported = tenth;
                progress(&generator.report);
            }
        }
        Ok::<_, SeedError>(generator.report)
    })();
    let ended = dialect::end_bulk_load(conn, TABLES);
    let mut report = result?;
    ended?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// The seeded mailboxes and agents.
struct Team {
    /// `(id, address)` of each mailbox.
    mailboxes: Vec<(i64, String)>,
    /// `(id, full name)` of each agent.
    agents: Vec<(i64, String)>,
}

const MAILBOX_NAMES: &[&str] = &[
    "Support", "Sales", "Billing", "Returns", "Partners", "Press",
];

impl Team {
    fn find_or_create(
        conn: &mut AnyConnection,
        opts: &SeedOptions,
        created_at: NaiveDateTime,
    ) -> Result<Team, SeedError> {
        let existing = mailbox::list(conn)?;
        let mut mailboxes = Vec::new();
        for k in 0..opts.mailboxes as usize {
            let base = MAILBOX_NAMES[k % MAILBOX_NAMES.len()];
            let round = k / MAILBOX_NAMES.len();
            let (name, local) = if round == 0 {
                (base.to_string(), base.to_lowercase())
            } else {
                (
                    format!("{base} {}", round + 1),
                    format!("{}{}", base.to_lowercase(), round + 1),
                )
            };
            let email = format!("{local}@{SEED_DOMAIN}");
            let id = match existing.iter().find(|m| m.email == email) {
                Some(m) => m.id,
                None => mailbox::create(
                    conn,
                    &mailbox::NewMailbox {
                        name: &name,
                        email: &email,
                        created_at,
                        updated_at: created_at,
                    },
                )?,
            };
            mailboxes.push((id, email));
        }
        let grants: Vec<(i64, MailboxAccess)> = mailboxes
            .iter()
            .map(|(id, _)| (*id, MailboxAccess::Reply))
            .collect();
        let mut agents = Vec::new();
        for k in 0..opts.agents as usize {
            let (first, last) = content::agent_name(k);
            let email = format!("{}{}@{SEED_DOMAIN}", first.to_lowercase(), k + 1);
            let id = match user::find_by_email(conn, &email)? {
                Some(u) => u.id,
                None => {
                    let new = user::NewUser::active(
                        first,
                        last,
                        &email,
                        &opts.agent_password_hash,
                        UserRole::Agent,
                        created_at,
                    );
                    user::create(conn, &new)?
                }
            };
            mailbox_user::replace_grants(conn, id, &grants, created_at)?;
            agents.push((id, format!("{first} {last}")));
        }
        Ok(Team { mailboxes, agents })
    }
}

/// One of the few files every seeded attachment points at.
struct Blob {
    /// File name pattern; `{n}` becomes the conversation number.
    name: &'static str,
    mime: &'static str,
    sha256: String,
    size: i64,
}

/// A 1×1 PNG image.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0,
    0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// Writes the shared files (a no-op when they exist: the store is content-addressed).
fn shared_files(files: &FileStore) -> Result<Vec<Blob>, SeedError> {
    let receipt = "%PDF-1.4\n% Postdesk seed receipt\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
    let order: String = (1..=40)
        .map(|i| {
            format!(
                "Item {i}: widget, quantity {}, price {}.00\n",
                i % 4 + 1,
                i * 3
            )
        })
        .collect();
    let export: String = std::iter::once("date,order,amount\n".to_string())
        .chain((1..=300).map(|i| format!("2025-01-{:02},{},{}.50\n", i % 28 + 1, 50_000 + i, i)))
        .collect();
    let sources: [(&'static str, &'static str, &[u8]); 4] = [
        ("photo-{n}.png", "image/png", PNG),
        ("receipt-{n}.pdf", "application/pdf", receipt.as_bytes()),
        ("order-{n}.txt", "text/plain", order.as_bytes()),
        ("export-{n}.csv", "text/csv", export.as_bytes()),
    ];
    sources
        .into_iter()
        .map(|(name, mime, bytes)| {
            Ok(Blob {
                name,
                mime,
                sha256: files.put_attachment(bytes)?,
                size: bytes.len() as i64,
            })
        })
        .collect()
}

/// The next free id of each table the load writes, and the next conversation number.
struct NextIds {
    customer: i64,
    email: i64,
    conversation: i64,
    number: i64,
    thread: i64,
    message_id: i64,
    attachment: i64,
}

impl NextIds {
    fn read(conn: &mut AnyConnection) -> QueryResult<NextIds> {
        use diesel::dsl::max;
        let next = |v: Option<i64>| v.unwrap_or(0) + 1;
        Ok(NextIds {
            customer: next(customers::table.select(max(customers::id)).first(conn)?),
            email: next(
                customer_emails::table
                    .select(max(customer_emails::id))
                    .first(conn)?,
            ),
            conversation: next(
                conversations::table
                    .select(max(conversations::id))
                    .first(conn)?,
            ),
            number: next(
                conversations::table
                    .select(max(conversations::number))
                    .first(conn)?,
            ),
            thread: next(threads::table.select(max(threads::id)).first(conn)?),
            message_id: next(
                message_ids::table
                    .select(max(message_ids::id))
                    .first(conn)?,
            ),
            attachment: next(
                attachments::table
                    .select(max(attachments::id))
                    .first(conn)?,
            ),
        })
    }
}

fn take(counter: &mut i64) -> i64 {
    let id = *counter;
    *counter += 1;
    id
}

#[derive(Insertable)]
#[diesel(table_name = customers, treat_none_as_default_value = false)]
struct CustomerRow {
    id: i64,
    first_name: &'static str,
    last_name: &'static str,
    company: &'static str,
    job_title: &'static str,
    notes: &'static str,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = customer_emails, treat_none_as_default_value = false)]
struct EmailRow {
    id: i64,
    customer_id: i64,
    email: String,
    email_type: i16,
    created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = conversations, treat_none_as_default_value = false)]
struct ConversationRow {
    id: i64,
    number: i64,
    mailbox_id: i64,
    customer_id: Option<i64>,
    customer_email: String,
    user_id: Option<i64>,
    created_by_user_id: Option<i64>,
    conversation_type: i16,
    status: i16,
    state: i16,
    subject: String,
    preview: String,
    threads_count: i32,
    has_attachments: bool,
    cc: &'static str,
    bcc: &'static str,
    last_reply_at: NaiveDateTime,
    last_reply_from: i16,
    closed_at: Option<NaiveDateTime>,
    closed_by_user_id: Option<i64>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = threads, treat_none_as_default_value = false)]
struct ThreadRow {
    id: i64,
    conversation_id: i64,
    thread_type: i16,
    status: i16,
    state: i16,
    action_type: Option<i16>,
    action_data: String,
    body_html: String,
    body_text: String,
    subject: String,
    from_email: String,
    from_name: String,
    to_list: String,
    cc_list: &'static str,
    bcc_list: &'static str,
    message_id: String,
    in_reply_to: String,
    references_list: String,
    content_hash: String,
    headers: &'static str,
    raw_path: &'static str,
    customer_id: Option<i64>,
    created_by_user_id: Option<i64>,
    user_id: Option<i64>,
    has_attachments: bool,
    opened_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = message_ids, treat_none_as_default_value = false)]
struct MessageIdRow {
    id: i64,
    mailbox_id: i64,
    message_id: String,
    thread_id: i64,
    conversation_id: i64,
    created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = attachments, treat_none_as_default_value = false)]
struct AttachmentRow {
    id: i64,
    thread_id: i64,
    conversation_id: i64,
    file_name: String,
    mime_type: &'static str,
    size_bytes: i64,
    sha256: String,
    content_id: &'static str,
    is_inline: bool,
    created_at: NaiveDateTime,
}

/// The rows of one transaction.
#[derive(Default)]
struct Batch {
    customers: Vec<CustomerRow>,
    emails: Vec<EmailRow>,
    conversations: Vec<ConversationRow>,
    threads: Vec<ThreadRow>,
    message_ids: Vec<MessageIdRow>,
    attachments: Vec<AttachmentRow>,
}

/// Inserts `rows` into `table` with as many rows per statement as the bind limit allows.
macro_rules! insert_in_chunks {
    ($conn:expr, $table:expr, $rows:expr, $columns:expr) => {
        for chunk in $rows.chunks(MAX_BINDS / $columns) {
            dialect::insert_rows!($conn, $table, chunk)?;
        }
    };
}

impl Batch {
    /// Parents first, so the rows are valid whenever foreign keys are checked.
    fn insert(&self, conn: &mut AnyConnection) -> QueryResult<()> {
        insert_in_chunks!(conn, customers::table, self.customers, 8);
        insert_in_chunks!(conn, customer_emails::table, self.emails, 5);
        insert_in_chunks!(conn, conversations::table, self.conversations, 22);
        insert_in_chunks!(conn, threads::table, self.threads, 28);
        insert_in_chunks!(conn, message_ids::table, self.message_ids, 6);
        insert_in_chunks!(conn, attachments::table, self.attachments, 10);
        Ok(())
    }
}

/// Makes conversations one after another, oldest first.
struct Generator<'a> {
    rng: Rng,
    seed: u64,
    ctx: &'a SeedContext<'a>,
    team: &'a Team,
    blobs: &'a [Blob],
    next: NextIds,
    /// Every customer made so far as `(id, number of addresses)`, to write in again.
    customers: Vec<(i64, u8)>,
    start: NaiveDateTime,
    now: NaiveDateTime,
    total: u64,
    batch: Batch,
    report: SeedReport,
}

/// Who wrote a thread.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Customer,
    Agent,
    Note,
    Assigned,
    Closed,
}

/// How a conversation ends up.
struct Fate {
    status: ConversationStatus,
    state: ConversationState,
    assignee: Option<usize>,
    threads: usize,
}

impl Generator<'_> {
    /// When the `i`-th conversation starts: evenly over the span, oldest first.
    fn created_at(&mut self, i: u64) -> NaiveDateTime {
        let span = (self.now - self.start).num_seconds() as f64;
        let offset = span * (i as f64 + self.rng.unit()) / self.total as f64;
        self.start + TimeDelta::seconds(offset as i64)
    }

    /// Status, state, assignee and length, spread like a real helpdesk's.
    fn fate(&mut self, created: NaiveDateTime) -> Fate {
        let rng = &mut self.rng;
        let recent = (self.now - created).num_days() < 30;
        let u = rng.unit();
        let mut status = match (recent, u) {
            (_, u) if u < 0.03 => ConversationStatus::Spam,
            (true, u) if u < 0.38 => ConversationStatus::Active,
            (true, u) if u < 0.58 => ConversationStatus::Pending,
            (false, u) if u < 0.05 => ConversationStatus::Active,
            (false, u) if u < 0.07 => ConversationStatus::Pending,
            _ => ConversationStatus::Closed,
        };
        let state = if rng.chance(0.015) {
            ConversationState::Deleted
        } else if status != ConversationStatus::Spam && rng.chance(0.003) {
            ConversationState::Draft
        } else {
            ConversationState::Published
        };
        if state == ConversationState::Draft {
            status = ConversationStatus::Active;
        }
        let assigned_share = match status {
            ConversationStatus::Closed => 0.9,
            ConversationStatus::Pending => 0.85,
            ConversationStatus::Active => 0.6,
            ConversationStatus::Spam => 0.0,
        };
        let assignee =
            (state == ConversationState::Draft || rng.chance(assigned_share)).then(|| {
                // Some agents carry more than others.
                let agents = self.team.agents.len() as f64;
                ((rng.unit().powf(1.4) * agents) as usize).min(self.team.agents.len() - 1)
            });
        let threads = if status == ConversationStatus::Spam || state == ConversationState::Draft {
            1
        } else {
            let u = rng.unit();
            if u < 0.10 {
                1
            } else if u < 0.75 {
                rng.between(2, 5) as usize
            } else if u < 0.93 {
                rng.between(6, 10) as usize
            } else {
                rng.between(11, 30) as usize
            }
        };
        Fate {
            status,
            state,
            assignee,
            threads,
        }
    }

    /// A customer for a new conversation: `(id, which address)`.
    fn customer(&mut self, created: NaiveDateTime) -> (i64, usize) {
        if !self.customers.is_empty() && self.rng.chance(0.3) {
            let (id, addresses) =
                self.customers[self.rng.below(self.customers.len() as u64) as usize];
            return (id, self.rng.below(u64::from(addresses)) as usize);
        }
        let id = take(&mut self.next.customer);
        let person = Person::of(self.seed, id);
        let u = self.rng.unit();
        let addresses: u8 = if u < 0.6 {
            1
        } else if u < 0.9 {
            2
        } else {
            3
        };
        self.batch.customers.push(CustomerRow {
            id,
            first_name: person.first,
            last_name: person.last,
            company: person.company,
            job_title: "",
            notes: "",
            created_at: created,
            updated_at: created,
        });
        for k in 0..usize::from(addresses) {
            self.batch.emails.push(EmailRow {
                id: take(&mut self.next.email),
                customer_id: id,
                email: person.email(id, k),
                email_type: 1,
                created_at: created,
            });
        }
        self.customers.push((id, addresses));
        self.report.customers += 1;
        self.report.customer_emails += u64::from(addresses);
        (id, 0)
    }

    /// The order of a conversation's threads: `fate.threads` messages and notes, customer
    /// and agent taking turns, plus an "assigned" line item after the first message for
    /// half the assigned conversations and a "closed" one at the end of some closed ones.
    fn plan(&mut self, fate: &Fate) -> Vec<Kind> {
        if fate.state == ConversationState::Draft {
            return vec![Kind::Agent];
        }
        let mut kinds = Vec::with_capacity(fate.threads + 2);
        let mut next_message = Kind::Customer;
        for pos in 0..fate.threads {
            if pos > 0 && self.rng.chance(0.08) {
                kinds.push(Kind::Note);
            } else {
                kinds.push(next_message);
                next_message = if next_message == Kind::Customer {
                    Kind::Agent
                } else {
                    Kind::Customer
                };
            }
        }
        if fate.threads >= 2 {
            if fate.assignee.is_some() && self.rng.chance(0.5) {
                kinds.insert(1, Kind::Assigned);
            }
            if fate.status == ConversationStatus::Closed && self.rng.chance(0.4) {
                kinds.push(Kind::Closed);
            }
        }
        kinds
    }

    /// Adds the `i`-th conversation with its customer, threads and attachments.
    fn conversation(&mut self, i: u64) {
        let created = self.created_at(i);
        let fate = self.fate(created);
        let conversation_id = take(&mut self.next.conversation);
        let number = take(&mut self.next.number);
        let mailbox_k = ((self.rng.unit().powi(2) * self.team.mailboxes.len() as f64) as usize)
            .min(self.team.mailboxes.len() - 1);
        let (mailbox_id, mailbox_email) = self.team.mailboxes[mailbox_k].clone();
        let (customer_id, address) = self.customer(created);
        let person = Person::of(self.seed, customer_id);
        let customer_email = person.email(customer_id, address);
        let customer_name = person.full_name();
        let topic: &Topic = self.rng.pick(TOPICS);
        let subject = content::subject(topic, number);
        let assignee = fate.assignee.map(|k| self.team.agents[k].clone());

        let mut time = created;
        let mut previous: Option<(Body, String, NaiveDateTime)> = None;
        let mut references: Vec<String> = Vec::new();
        let mut last_message: Option<(String, NaiveDateTime, i16)> = None;
        let mut has_attachments = false;
        let kinds = self.plan(&fate);
        for (pos, kind) in kinds.iter().copied().enumerate() {
            if pos > 0 {
                let (lo, hi) = match kind {
                    Kind::Agent => (600, 93_600),
                    Kind::Customer => (3_600, 259_200),
                    Kind::Note => (120, 3_600),
                    Kind::Assigned | Kind::Closed => (60, 600),
                };
                time = (time + TimeDelta::seconds(self.rng.between(lo, hi))).min(self.now);
            }
            let thread_id = take(&mut self.next.thread);
            let agent = assignee
                .clone()
                .unwrap_or_else(|| self.rng.pick(&self.team.agents).clone());
            let mut row = ThreadRow {
                id: thread_id,
                conversation_id,
                thread_type: ThreadType::Customer.as_i16(),
                status: fate.status.as_i16(),
                state: ConversationState::Published.as_i16(),
                action_type: None,
                action_data: String::new(),
                body_html: String::new(),
                body_text: String::new(),
                subject: if pos == 0 {
                    subject.clone()
                } else {
                    format!("Re: {subject}")
                },
                from_email: String::new(),
                from_name: String::new(),
                to_list: "[]".into(),
                cc_list: "[]",
                bcc_list: "[]",
                message_id: String::new(),
                in_reply_to: references.last().cloned().unwrap_or_default(),
                references_list: "[]".into(),
                content_hash: String::new(),
                headers: "",
                raw_path: "",
                customer_id: None,
                created_by_user_id: None,
                user_id: assignee.as_ref().map(|a| a.0),
                has_attachments: false,
                opened_at: None,
                created_at: time,
                updated_at: time,
            };
            match kind {
                Kind::Customer => {
                    let own =
                        content::customer_message(&mut self.rng, topic, person.first, pos > 0);
                    let body = self.with_quote(&own, previous.as_ref());
                    row.body_text = body.text;
                    row.body_html = body.html;
                    row.from_email = customer_email.clone();
                    row.from_name = customer_name.clone();
                    row.to_list = json_list(&[&mailbox_email]);
                    row.customer_id = Some(customer_id);
                    row.message_id = format!(
                        "{:016x}.{thread_id}@{}",
                        self.rng.next_u64(),
                        customer_email.rsplit('@').next().unwrap_or("example.com")
                    );
                    row.content_hash = format!(
                        "{:016x}{:016x}{:016x}{:016x}",
                        self.rng.next_u64(),
                        self.rng.next_u64(),
                        self.rng.next_u64(),
                        self.rng.next_u64()
                    );
                    previous = Some((own, format!("{customer_name} <{customer_email}>"), time));
                }
                Kind::Agent => {
                    let own = content::agent_reply(&mut self.rng, topic, person.first, &agent.1);
                    let body = self.with_quote(&own, previous.as_ref());
                    row.thread_type = ThreadType::Message.as_i16();
                    row.body_text = body.text;
                    row.body_html = body.html;
                    row.from_email = mailbox_email.clone();
                    row.from_name = agent.1.clone();
                    row.to_list = json_list(&[&customer_email]);
                    row.created_by_user_id = Some(agent.0);
                    if fate.state == ConversationState::Draft {
                        row.state = ConversationState::Draft.as_i16();
                    } else {
                        let domain = mailbox_email.rsplit('@').next().unwrap_or(SEED_DOMAIN);
                        row.message_id =
                            crate::mail::message_id::generate(self.ctx.secrets, thread_id, domain);
                    }
                    previous = Some((own, format!("{} <{mailbox_email}>", agent.1), time));
                }
                Kind::Note => {
                    let body = content::note(&mut self.rng, number);
                    row.thread_type = ThreadType::Note.as_i16();
                    row.body_text = body.text;
                    row.body_html = body.html;
                    row.from_name = agent.1.clone();
                    row.created_by_user_id = Some(agent.0);
                }
                Kind::Assigned | Kind::Closed => {
                    row.thread_type = ThreadType::LineItem.as_i16();
                    let (action, data) = if kind == Kind::Assigned {
                        (
                            LineItemAction::UserChanged,
                            format!("{{\"assignee\":{}}}", agent.0),
                        )
                    } else {
                        (
                            LineItemAction::StatusChanged,
                            format!("{{\"status\":{}}}", ConversationStatus::Closed.as_i16()),
                        )
                    };
                    row.action_type = Some(action.as_i16());
                    row.action_data = data;
                    row.created_by_user_id = Some(agent.0);
                }
            }
            if matches!(kind, Kind::Customer | Kind::Agent) {
                let files = match kind {
                    Kind::Customer if self.rng.chance(0.10) => self.rng.between(1, 2),
                    Kind::Agent if self.rng.chance(0.03) => 1,
                    _ => 0,
                };
                for _ in 0..files {
                    let blob = self.rng.pick(self.blobs);
                    self.batch.attachments.push(AttachmentRow {
                        id: take(&mut self.next.attachment),
                        thread_id,
                        conversation_id,
                        file_name: blob.name.replace("{n}", &number.to_string()),
                        mime_type: blob.mime,
                        size_bytes: blob.size,
                        sha256: blob.sha256.clone(),
                        content_id: "",
                        is_inline: false,
                        created_at: time,
                    });
                    self.report.attachments += 1;
                }
                row.has_attachments = files > 0;
                has_attachments |= files > 0;
                row.references_list = json_list(&references);
                if !row.message_id.is_empty() {
                    self.batch.message_ids.push(MessageIdRow {
                        id: take(&mut self.next.message_id),
                        mailbox_id,
                        message_id: row.message_id.clone(),
                        thread_id,
                        conversation_id,
                        created_at: time,
                    });
                    references.push(row.message_id.clone());
                }
                let from = if kind == Kind::Customer { 1 } else { 2 };
                last_message = Some((thread::preview_of(&row.body_text), time, from));
            }
            self.batch.threads.push(row);
        }
        let (preview, last_reply_at, last_reply_from) =
            last_message.unwrap_or((String::new(), created, 1));
        let closed = fate.status == ConversationStatus::Closed;
        self.batch.conversations.push(ConversationRow {
            id: conversation_id,
            number,
            mailbox_id,
            customer_id: Some(customer_id),
            customer_email,
            user_id: assignee.as_ref().map(|a| a.0),
            created_by_user_id: (fate.state == ConversationState::Draft)
                .then(|| assignee.as_ref().map(|a| a.0))
                .flatten(),
            conversation_type: ConversationType::Email.as_i16(),
            status: fate.status.as_i16(),
            state: fate.state.as_i16(),
            subject,
            preview,
            threads_count: kinds.len() as i32,
            has_attachments,
            cc: "[]",
            bcc: "[]",
            last_reply_at,
            last_reply_from,
            closed_at: closed.then_some(time),
            closed_by_user_id: if closed {
                assignee.as_ref().map(|a| a.0)
            } else {
                None
            },
            created_at: created,
            updated_at: time,
        });
        self.report.conversations += 1;
        self.report.threads += kinds.len() as u64;
    }

    /// `own` with the previous message quoted under it, as most replies carry (seven in ten).
    fn with_quote(&mut self, own: &Body, previous: Option<&(Body, String, NaiveDateTime)>) -> Body {
        match previous {
            Some((quoted, who, when)) if self.rng.chance(0.7) => own.quoting(
                quoted,
                who,
                &when.format("%a, %-d %b %Y at %H:%M").to_string(),
            ),
            _ => own.clone(),
        }
    }
}

/// A JSON array of strings.
fn json_list<S: AsRef<str>>(items: &[S]) -> String {
    serde_json::Value::from(items.iter().map(|s| s.as_ref()).collect::<Vec<_>>()).to_string()
}
