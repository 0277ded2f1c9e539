//! The JSON shapes of the API (FreeScout's field names and nesting) and the queries that
//! fill them. The same structs feed `/api/openapi.json`, so the document describes what
//! is sent.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::db::AnyConnection;
use crate::db::schema::{attachments, conversations, customer_emails, customers, threads, users};
use crate::db::types::{
    ConversationState, ConversationStatus, ConversationType, ThreadType, UserRole,
};

/// `YYYY-MM-DDThh:mm:ssZ`, the API's date format.
pub fn iso(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A page of a list.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    /// Page size asked for.
    pub size: i64,
    /// Items in all pages.
    pub total_elements: i64,
    /// Number of pages.
    pub total_pages: i64,
    /// This page's number, from 1.
    pub number: i64,
}

impl Page {
    /// The page `number` of `size` items out of `total`.
    pub fn new(number: i64, size: i64, total: i64) -> Page {
        Page {
            size,
            total_elements: total,
            total_pages: (total + size - 1) / size.max(1),
            number,
        }
    }

    /// Rows to skip.
    pub fn offset(number: i64, size: i64) -> i64 {
        (number - 1).saturating_mul(size)
    }
}

/// A user or customer as other objects refer to them.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    /// Id.
    pub id: i64,
    /// `user` or `customer`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Photo (none are kept: always null).
    pub photo_url: Option<String>,
    /// Email address.
    pub email: String,
}

/// A user as the API shows it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    /// Id.
    pub id: i64,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Login email.
    pub email: String,
    /// `admin` or `user`.
    pub role: String,
    /// Other addresses, comma-separated (none are kept).
    pub alternate_emails: String,
    /// Job title.
    pub job_title: String,
    /// Phone.
    pub phone: String,
    /// IANA time zone.
    pub timezone: String,
    /// Photo (none are kept: always null).
    pub photo_url: Option<String>,
    /// Interface language.
    pub language: String,
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
}

/// The user columns the API reads.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    id: i64,
    first_name: String,
    last_name: String,
    email: String,
    role: i16,
    locale: String,
    timezone: String,
    job_title: String,
    phone: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl UserRow {
    /// The full view.
    pub fn view(&self) -> UserView {
        UserView {
            id: self.id,
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            email: self.email.clone(),
            role: if UserRole::from_i16(self.role) == Some(UserRole::Admin) {
                "admin".into()
            } else {
                "user".into()
            },
            alternate_emails: String::new(),
            job_title: self.job_title.clone(),
            phone: self.phone.clone(),
            timezone: self.timezone.clone(),
            photo_url: None,
            language: self.locale.clone(),
            created_at: iso(self.created_at),
            updated_at: iso(self.updated_at),
        }
    }

    /// As a reference.
    pub fn person(&self) -> Person {
        Person {
            id: self.id,
            kind: "user".into(),
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            photo_url: None,
            email: self.email.clone(),
        }
    }
}

/// Users by id.
pub fn users_by_id(conn: &mut AnyConnection, ids: &[i64]) -> QueryResult<HashMap<i64, UserRow>> {
    let rows: Vec<UserRow> = users::table
        .filter(users::id.eq_any(ids))
        .select(UserRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(|u| (u.id, u)).collect())
}

/// A mailbox as the API shows it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MailboxView {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// The shared address.
    pub email: String,
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
}

/// One customer email entry.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct EmailEntry {
    /// Id.
    pub id: i64,
    /// The address.
    pub value: String,
    /// `work`, `home` or `other`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// A phone, social profile or website entry (none are kept: the lists are empty).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ValueEntry {
    /// Id.
    pub id: i64,
    /// The value.
    pub value: String,
    /// Kind of entry.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// A postal address (not kept: every field is null).
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Address {
    /// City.
    pub city: Option<String>,
    /// State.
    pub state: Option<String>,
    /// Postal code.
    pub zip: Option<String>,
    /// Two-letter country code.
    pub country: Option<String>,
    /// Street address.
    pub address: Option<String>,
}

/// `_embedded` of a customer.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CustomerEmbedded {
    /// Addresses.
    pub emails: Vec<EmailEntry>,
    /// Phones.
    pub phones: Vec<ValueEntry>,
    /// Social profiles.
    pub social_profiles: Vec<ValueEntry>,
    /// Websites.
    pub websites: Vec<ValueEntry>,
    /// Address.
    pub address: Address,
}

/// A customer as the API shows it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerView {
    /// Id.
    pub id: i64,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Company.
    pub company: String,
    /// Job title.
    pub job_title: String,
    /// Photo kind (`unknown`: no photos are kept).
    pub photo_type: String,
    /// Photo (always null).
    pub photo_url: Option<String>,
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
    /// Agents' notes.
    pub notes: String,
    /// Custom customer fields (none yet).
    pub customer_fields: Vec<Value>,
    /// Contact entries.
    #[serde(rename = "_embedded")]
    pub embedded: CustomerEmbedded,
}

/// The customer columns the API reads.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = customers)]
pub struct CustomerRow {
    /// Id.
    pub id: i64,
    first_name: String,
    last_name: String,
    company: String,
    job_title: String,
    notes: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

fn email_type(n: i16) -> &'static str {
    match n {
        2 => "home",
        3 => "other",
        _ => "work",
    }
}

/// Each customer's emails, oldest first.
fn emails_of(conn: &mut AnyConnection, ids: &[i64]) -> QueryResult<HashMap<i64, Vec<EmailEntry>>> {
    let rows: Vec<(i64, i64, String, i16)> = customer_emails::table
        .filter(customer_emails::customer_id.eq_any(ids))
        .order(customer_emails::id)
        .select((
            customer_emails::id,
            customer_emails::customer_id,
            customer_emails::email,
            customer_emails::email_type,
        ))
        .load(conn)?;
    let mut out: HashMap<i64, Vec<EmailEntry>> = HashMap::new();
    for (id, customer, value, kind) in rows {
        out.entry(customer).or_default().push(EmailEntry {
            id,
            value,
            kind: email_type(kind).into(),
        });
    }
    Ok(out)
}

/// Full views of the given customer rows, in their order.
pub fn customer_views(
    conn: &mut AnyConnection,
    rows: Vec<CustomerRow>,
) -> QueryResult<Vec<CustomerView>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut emails = emails_of(conn, &ids)?;
    Ok(rows
        .into_iter()
        .map(|r| CustomerView {
            id: r.id,
            first_name: r.first_name,
            last_name: r.last_name,
            company: r.company,
            job_title: r.job_title,
            photo_type: "unknown".into(),
            photo_url: None,
            created_at: iso(r.created_at),
            updated_at: iso(r.updated_at),
            notes: r.notes,
            customer_fields: Vec::new(),
            embedded: CustomerEmbedded {
                emails: emails.remove(&r.id).unwrap_or_default(),
                phones: Vec::new(),
                social_profiles: Vec::new(),
                websites: Vec::new(),
                address: Address::default(),
            },
        })
        .collect())
}

/// One customer's full view.
pub fn customer_view(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<CustomerView>> {
    let row: Option<CustomerRow> = customers::table
        .find(id)
        .select(CustomerRow::as_select())
        .first(conn)
        .optional()?;
    Ok(match row {
        Some(r) => customer_views(conn, vec![r])?.pop(),
        None => None,
    })
}

/// Customers as references (first email), by id.
fn customer_people(conn: &mut AnyConnection, ids: &[i64]) -> QueryResult<HashMap<i64, Person>> {
    let rows: Vec<(i64, String, String)> = customers::table
        .filter(customers::id.eq_any(ids))
        .select((customers::id, customers::first_name, customers::last_name))
        .load(conn)?;
    let mut emails = emails_of(conn, ids)?;
    Ok(rows
        .into_iter()
        .map(|(id, first_name, last_name)| {
            let email = emails
                .remove(&id)
                .and_then(|l| l.into_iter().next())
                .map(|e| e.value)
                .unwrap_or_default();
            let p = Person {
                id,
                kind: "customer".into(),
                first_name,
                last_name,
                photo_url: None,
                email,
            };
            (id, p)
        })
        .collect())
}

/// When the customer has been waiting since.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WaitingSince {
    /// The time of the latest reply.
    pub time: String,
    /// The same, in words ("3 hours ago").
    pub friendly: String,
    /// `customer` or `user`.
    pub latest_reply_from: String,
}

/// Where a conversation or thread came from.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Source {
    /// `email`, `phone`, `chat` or `api`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `customer` or `user`.
    pub via: String,
}

/// A line item's action.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThreadAction {
    /// What happened, e.g. `changed-ticket-status`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The same in words.
    pub text: String,
    /// Related entities (none).
    pub associated_entities: Vec<Value>,
}

/// An attachment of a thread.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentView {
    /// Id.
    pub id: i64,
    /// File name.
    pub file_name: String,
    /// Where to download it (needs a session or key with access).
    pub file_url: String,
    /// `type/subtype`.
    pub mime_type: String,
    /// Bytes.
    pub size: i64,
}

/// `_embedded` of a thread.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ThreadEmbedded {
    /// Attachments.
    pub attachments: Vec<AttachmentView>,
}

/// A thread as the API shows it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThreadView {
    /// Id.
    pub id: i64,
    /// `customer`, `message`, `note` or `lineitem`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The conversation's status when the thread was added.
    pub status: String,
    /// `draft`, `published` or `deleted`.
    pub state: String,
    /// For line items: what happened.
    pub action: Option<ThreadAction>,
    /// HTML body.
    pub body: String,
    /// Where it came from.
    pub source: Source,
    /// The customer of a customer thread.
    pub customer: Option<Person>,
    /// Who wrote it.
    pub created_by: Option<Person>,
    /// Assignee when written (not kept: null).
    pub assigned_to: Option<Person>,
    /// To.
    pub to: Vec<String>,
    /// Cc.
    pub cc: Vec<String>,
    /// Bcc.
    pub bcc: Vec<String>,
    /// Written.
    pub created_at: String,
    /// First opened by the customer (not tracked: null).
    pub opened_at: Option<String>,
    /// Attachments.
    #[serde(rename = "_embedded")]
    pub embedded: ThreadEmbedded,
}

/// `_embedded` of a conversation.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ConversationEmbedded {
    /// Threads, newest first (only with `embed=threads`).
    pub threads: Vec<ThreadView>,
}

/// A conversation as the API shows it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationView {
    /// Id.
    pub id: i64,
    /// The number agents and customers see.
    pub number: i64,
    /// Threads in it.
    pub threads_count: i32,
    /// `email`, `phone` or `chat`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The folder it is in (see the mailbox folders).
    pub folder_id: i64,
    /// `active`, `pending`, `closed` or `spam`.
    pub status: String,
    /// `draft`, `published` or `deleted`.
    pub state: String,
    /// Subject.
    pub subject: String,
    /// Start of the latest message.
    pub preview: String,
    /// Mailbox.
    pub mailbox_id: i64,
    /// Assignee.
    pub assignee: Option<Person>,
    /// Who started it.
    pub created_by: Option<Person>,
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
    /// Id of the user who closed it.
    pub closed_by: Option<i64>,
    /// The user who closed it.
    pub closed_by_user: Option<Person>,
    /// When it was closed.
    pub closed_at: Option<String>,
    /// Last changed by a user.
    pub user_updated_at: String,
    /// The latest reply.
    pub customer_waiting_since: WaitingSince,
    /// Where it came from.
    pub source: Source,
    /// Cc.
    pub cc: Vec<String>,
    /// Bcc.
    pub bcc: Vec<String>,
    /// The customer.
    pub customer: Option<Person>,
    /// Custom fields (none yet).
    pub custom_fields: Vec<Value>,
    /// Threads.
    #[serde(rename = "_embedded")]
    pub embedded: ConversationEmbedded,
}

/// The conversation columns the API reads.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = conversations)]
pub struct ConversationRow {
    /// Id.
    pub id: i64,
    number: i64,
    /// Mailbox.
    pub mailbox_id: i64,
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
    cc: String,
    bcc: String,
    last_reply_at: NaiveDateTime,
    last_reply_from: i16,
    closed_at: Option<NaiveDateTime>,
    closed_by_user_id: Option<i64>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// FreeScout's folder types, as the folders list numbers them.
pub mod folder {
    /// Unassigned.
    pub const UNASSIGNED: i64 = 1;
    /// Mine (per user).
    pub const MINE: i64 = 20;
    /// Starred (per user).
    pub const STARRED: i64 = 25;
    /// Drafts.
    pub const DRAFTS: i64 = 30;
    /// Assigned.
    pub const ASSIGNED: i64 = 40;
    /// Closed.
    pub const CLOSED: i64 = 60;
    /// Spam.
    pub const SPAM: i64 = 80;
    /// Deleted.
    pub const DELETED: i64 = 110;
    /// Every type, in list order.
    pub const ALL: [i64; 8] = [
        UNASSIGNED, MINE, STARRED, DRAFTS, ASSIGNED, CLOSED, SPAM, DELETED,
    ];
    /// Folder ids are `mailbox id × SPAN + type`.
    pub const SPAN: i64 = 1000;

    /// The folder id of `kind` in `mailbox_id`.
    pub fn id(mailbox_id: i64, kind: i64) -> i64 {
        mailbox_id.saturating_mul(SPAN).saturating_add(kind)
    }
}

/// The enumeration's API name.
fn name_of<T: Serialize>(v: Option<T>) -> String {
    v.and_then(|v| serde_json::to_value(v).ok())
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn list_of(json: &str) -> Vec<String> {
    let parsed: Vec<String> = serde_json::from_str(json).unwrap_or_default();
    if parsed.is_empty() && !json.trim_start().starts_with('[') {
        return json
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
    }
    parsed
}

fn friendly(since: NaiveDateTime, now: NaiveDateTime) -> String {
    let secs = (now - since).num_seconds().max(0);
    let (n, unit) = match secs {
        s if s < 60 => return "just now".into(),
        s if s < 3600 => (s / 60, "minute"),
        s if s < 86_400 => (s / 3600, "hour"),
        s => (s / 86_400, "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

impl ConversationRow {
    /// The folder type this conversation shows in.
    pub fn folder_kind(&self) -> i64 {
        match (
            ConversationState::from_i16(self.state),
            ConversationStatus::from_i16(self.status),
        ) {
            (Some(ConversationState::Deleted), _) => folder::DELETED,
            (Some(ConversationState::Draft), _) => folder::DRAFTS,
            (_, Some(ConversationStatus::Spam)) => folder::SPAM,
            (_, Some(ConversationStatus::Closed)) => folder::CLOSED,
            _ if self.user_id.is_some() => folder::ASSIGNED,
            _ => folder::UNASSIGNED,
        }
    }
}

/// The thread columns the API reads.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = threads)]
pub struct ThreadRow {
    id: i64,
    conversation_id: i64,
    thread_type: i16,
    status: i16,
    state: i16,
    action_type: Option<i16>,
    action_data: String,
    body_html: String,
    from_email: String,
    to_list: String,
    cc_list: String,
    bcc_list: String,
    customer_id: Option<i64>,
    created_by_user_id: Option<i64>,
    created_at: NaiveDateTime,
}

fn action_of(kind: Option<i16>, data: &str) -> Option<ThreadAction> {
    use crate::db::types::LineItemAction as A;
    let kind = A::from_i16(kind?)?;
    let name = match kind {
        A::StatusChanged => "changed-ticket-status",
        A::UserChanged => "changed-ticket-assignee",
        A::MovedFromMailbox => "moved-from-mailbox",
        A::Merged => "merged",
        A::Deleted => "deleted-ticket",
        A::Restored => "restore-ticket",
        A::FollowUpOf => "follow-up",
    };
    let text = serde_json::from_str::<Value>(data)
        .ok()
        .and_then(|v| v.get("text").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| name.replace('-', " "));
    Some(ThreadAction {
        kind: name.into(),
        text,
        associated_entities: Vec::new(),
    })
}

/// Full views of conversations, in the given order; threads (newest first) when
/// `with_threads`.
pub fn conversation_views(
    conn: &mut AnyConnection,
    rows: Vec<ConversationRow>,
    with_threads: bool,
) -> QueryResult<Vec<ConversationView>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut thread_rows: Vec<ThreadRow> = if with_threads {
        threads::table
            .filter(threads::conversation_id.eq_any(&ids))
            .order((threads::created_at.desc(), threads::id.desc()))
            .select(ThreadRow::as_select())
            .load(conn)?
    } else {
        Vec::new()
    };
    let mut user_ids: Vec<i64> = rows
        .iter()
        .flat_map(|r| [r.user_id, r.created_by_user_id, r.closed_by_user_id])
        .flatten()
        .collect();
    user_ids.extend(thread_rows.iter().filter_map(|t| t.created_by_user_id));
    let mut customer_ids: Vec<i64> = rows.iter().filter_map(|r| r.customer_id).collect();
    customer_ids.extend(thread_rows.iter().filter_map(|t| t.customer_id));
    let users = users_by_id(conn, &user_ids)?;
    let people = customer_people(conn, &customer_ids)?;
    let thread_ids: Vec<i64> = thread_rows.iter().map(|t| t.id).collect();
    let files: Vec<(i64, i64, String, String, i64)> = if thread_ids.is_empty() {
        Vec::new()
    } else {
        attachments::table
            .filter(attachments::thread_id.eq_any(&thread_ids))
            .order(attachments::id)
            .select((
                attachments::id,
                attachments::thread_id,
                attachments::file_name,
                attachments::mime_type,
                attachments::size_bytes,
            ))
            .load(conn)?
    };
    let mut files_of: HashMap<i64, Vec<AttachmentView>> = HashMap::new();
    for (id, thread_id, file_name, mime_type, size) in files {
        files_of.entry(thread_id).or_default().push(AttachmentView {
            id,
            file_name,
            file_url: format!("/attachments/{id}"),
            mime_type,
            size,
        });
    }
    let person_of_user = |id: Option<i64>| id.and_then(|i| users.get(&i)).map(UserRow::person);
    let now = crate::db::now();
    let mut threads_of: HashMap<i64, Vec<ThreadView>> = HashMap::new();
    for t in thread_rows.drain(..) {
        let kind = ThreadType::from_i16(t.thread_type);
        let by_customer = kind == Some(ThreadType::Customer);
        let customer = t.customer_id.and_then(|i| people.get(&i)).cloned();
        let view = ThreadView {
            id: t.id,
            kind: match kind {
                Some(ThreadType::LineItem) => "lineitem".into(),
                other => name_of(other),
            },
            status: name_of(ConversationStatus::from_i16(t.status)),
            state: name_of(ConversationState::from_i16(t.state)),
            action: action_of(t.action_type, &t.action_data),
            body: t.body_html,
            source: Source {
                kind: if t.from_email.is_empty() && !by_customer {
                    "web".into()
                } else {
                    "email".into()
                },
                via: if by_customer { "customer" } else { "user" }.into(),
            },
            created_by: if by_customer {
                customer.clone()
            } else {
                person_of_user(t.created_by_user_id)
            },
            customer,
            assigned_to: None,
            to: list_of(&t.to_list),
            cc: list_of(&t.cc_list),
            bcc: list_of(&t.bcc_list),
            created_at: iso(t.created_at),
            opened_at: None,
            embedded: ThreadEmbedded {
                attachments: files_of.remove(&t.id).unwrap_or_default(),
            },
        };
        threads_of.entry(t.conversation_id).or_default().push(view);
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let customer = r
                .customer_id
                .and_then(|i| people.get(&i))
                .cloned()
                .map(|mut p| {
                    if !r.customer_email.is_empty() {
                        p.email = r.customer_email.clone();
                    }
                    p
                });
            let by_user = r.created_by_user_id.is_some();
            ConversationView {
                id: r.id,
                number: r.number,
                threads_count: r.threads_count,
                kind: name_of(ConversationType::from_i16(r.conversation_type)),
                folder_id: folder::id(r.mailbox_id, r.folder_kind()),
                status: name_of(ConversationStatus::from_i16(r.status)),
                state: name_of(ConversationState::from_i16(r.state)),
                subject: r.subject.clone(),
                preview: r.preview.clone(),
                mailbox_id: r.mailbox_id,
                assignee: person_of_user(r.user_id),
                created_by: if by_user {
                    person_of_user(r.created_by_user_id)
                } else {
                    customer.clone()
                },
                created_at: iso(r.created_at),
                updated_at: iso(r.updated_at),
                closed_by: r.closed_by_user_id,
                closed_by_user: person_of_user(r.closed_by_user_id),
                closed_at: r.closed_at.map(iso),
                user_updated_at: iso(r.updated_at),
                customer_waiting_since: WaitingSince {
                    time: iso(r.last_reply_at),
                    friendly: friendly(r.last_reply_at, now),
                    latest_reply_from: if r.last_reply_from == 2 {
                        "user"
                    } else {
                        "customer"
                    }
                    .into(),
                },
                source: Source {
                    kind: name_of(ConversationType::from_i16(r.conversation_type)),
                    via: if by_user { "user" } else { "customer" }.into(),
                },
                cc: list_of(&r.cc),
                bcc: list_of(&r.bcc),
                customer,
                custom_fields: Vec::new(),
                embedded: ConversationEmbedded {
                    threads: threads_of.remove(&r.id).unwrap_or_default(),
                },
            }
        })
        .collect())
}

/// One conversation's row.
pub fn conversation_row(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<ConversationRow>> {
    conversations::table
        .find(id)
        .select(ConversationRow::as_select())
        .first(conn)
        .optional()
}
