//! `/api/conversations`: list with FreeScout's filters and sorting, get (with `embed=threads`),
//! create (including imported conversations with their own dates), update and delete.
//! Only conversations in mailboxes the key's user may see exist for it; writing needs
//! reply access to the mailbox.

use actix_web::{HttpResponse, web};
use diesel::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::auth::ApiUser;
use super::error::{ApiError, FieldError, run};
use super::input::{
    ApiJson, ApiQuery, Checks, ascending, date, enum_list, int, int_list, one_of, paging,
    parse_date,
};
use super::threads::{self, ThreadInput};
use super::views::{self, ConversationRow, ConversationView, Page, folder};
use crate::AppState;
use crate::conversations::actions::{self, ActionError};
use crate::db::AnyConnection;
use crate::db::schema::{conversations, customer_emails, stars};
use crate::db::types::{ConversationState, ConversationStatus, ConversationType, MailboxAccess};
use crate::models::conversation::{self, NewConversation};
use crate::models::user::User;
use crate::permissions;

type Db = <AnyConnection as diesel::Connection>::Backend;
/// A conversations query being built.
pub type Boxed<'a> = conversations::BoxedQuery<'a, Db>;

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// Status names the API accepts.
pub const STATUSES: [&str; 4] = ["active", "pending", "closed", "spam"];
const STATES: [&str; 3] = ["draft", "published", "deleted"];
const TYPES: [&str; 3] = ["email", "phone", "chat"];
const SORT_FIELDS: [&str; 6] = [
    "createdAt",
    "mailboxId",
    "number",
    "subject",
    "updatedAt",
    "waitingSince",
];

/// The status named `name`.
pub fn status_named(name: &str) -> Option<ConversationStatus> {
    serde_json::from_value(serde_json::Value::String(name.into())).ok()
}

/// Query of `GET /api/conversations`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    /// `threads` to include each conversation's threads.
    embed: Option<String>,
    /// Mailbox ids, comma-separated.
    mailbox_id: Option<String>,
    /// A folder id (see the mailbox folders).
    #[schemars(with = "Option<i64>")]
    folder_id: Option<String>,
    /// Statuses, comma-separated: active (default), pending, closed, spam.
    status: Option<String>,
    /// draft, published (default) or deleted.
    state: Option<String>,
    /// email, phone or chat.
    #[serde(rename = "type")]
    kind: Option<String>,
    /// Assignee id; empty for unassigned conversations.
    assigned_to: Option<String>,
    /// Customer email.
    customer_email: Option<String>,
    /// Customer phone (phones are not kept: no conversation matches).
    customer_phone: Option<String>,
    /// Customer id.
    #[schemars(with = "Option<i64>")]
    customer_id: Option<String>,
    /// Conversation number.
    #[schemars(with = "Option<i64>")]
    number: Option<String>,
    /// Text the subject contains.
    subject: Option<String>,
    /// Tag (tags are not kept: no conversation matches).
    tag: Option<String>,
    /// The user who created it.
    #[schemars(with = "Option<i64>")]
    created_by_user_id: Option<String>,
    /// The customer who created it.
    #[schemars(with = "Option<i64>")]
    created_by_customer_id: Option<String>,
    /// Created after this date-time.
    #[schemars(extend("format" = "date-time"))]
    created_since: Option<String>,
    /// Changed after this date-time.
    #[schemars(extend("format" = "date-time"))]
    updated_since: Option<String>,
    /// createdAt (default), mailboxId, number, subject, updatedAt, waitingSince.
    sort_field: Option<String>,
    /// desc (default) or asc.
    sort_order: Option<String>,
    /// Page number, from 1.
    #[schemars(with = "Option<u32>")]
    page: Option<String>,
    /// Page size (default 50, at most 100).
    #[schemars(with = "Option<u32>")]
    page_size: Option<String>,
}

/// Query of `GET /api/conversations/{conversationId}`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetQuery {
    /// Extra data, comma-separated: threads (default).
    embed: Option<String>,
}

/// `_embedded` of a conversation list.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Conversations {
    /// The conversations.
    conversations: Vec<ConversationView>,
}

/// A page of conversations.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ConversationList {
    /// The conversations.
    #[serde(rename = "_embedded")]
    embedded: Conversations,
    /// Paging.
    page: Page,
}

/// The body of a 201 (the id is also in the `Resource-ID` header).
#[derive(Debug, Serialize, JsonSchema)]
pub struct Created {
    /// The new resource's id.
    pub id: i64,
}

/// A 201 with `Resource-ID`.
pub fn created(id: i64) -> HttpResponse {
    HttpResponse::Created()
        .insert_header(("Resource-ID", id.to_string()))
        .json(Created { id })
}

/// Narrows `q` to one folder type; `user_id` owns the personal folders.
pub fn in_folder(q: Boxed<'static>, kind: i64, user_id: i64) -> Boxed<'static> {
    let published = conversations::state.eq(ConversationState::Published.as_i16());
    let open = conversations::status.eq_any([
        ConversationStatus::Active.as_i16(),
        ConversationStatus::Pending.as_i16(),
    ]);
    match kind {
        folder::UNASSIGNED => q
            .filter(published)
            .filter(open)
            .filter(conversations::user_id.is_null()),
        folder::MINE => q
            .filter(published)
            .filter(open)
            .filter(conversations::user_id.eq(user_id)),
        folder::STARRED => q.filter(published).filter(
            conversations::id.eq_any(
                stars::table
                    .filter(stars::user_id.eq(user_id))
                    .select(stars::conversation_id),
            ),
        ),
        folder::DRAFTS => q.filter(conversations::state.eq(ConversationState::Draft.as_i16())),
        folder::ASSIGNED => q
            .filter(published)
            .filter(open)
            .filter(conversations::user_id.is_not_null()),
        folder::CLOSED => q
            .filter(published)
            .filter(conversations::status.eq(ConversationStatus::Closed.as_i16())),
        folder::SPAM => q
            .filter(published)
            .filter(conversations::status.eq(ConversationStatus::Spam.as_i16())),
        folder::DELETED => q.filter(conversations::state.eq(ConversationState::Deleted.as_i16())),
        _ => q.filter(conversations::id.eq(-1)),
    }
}

/// The checked filters of a list call.
#[derive(Debug, Clone, Default)]
struct Filters {
    mailboxes: Vec<i64>,
    folder: Option<(i64, i64)>,
    statuses: Vec<i16>,
    state: i16,
    kind: Option<i16>,
    assigned_to: Option<Option<i64>>,
    customer_email: Option<String>,
    customer_id: Option<i64>,
    number: Option<i64>,
    subject: Option<String>,
    nothing: bool,
    created_by_user: Option<i64>,
    created_by_customer: Option<i64>,
    created_since: Option<chrono::NaiveDateTime>,
    updated_since: Option<chrono::NaiveDateTime>,
}

impl Filters {
    fn query(&self, user_id: i64) -> Boxed<'static> {
        let mut q = conversations::table
            .filter(conversations::mailbox_id.eq_any(self.mailboxes.clone()))
            .into_boxed();
        if self.nothing {
            q = q.filter(conversations::id.eq(-1));
        }
        if let Some((mailbox, kind)) = self.folder {
            q = in_folder(
                q.filter(conversations::mailbox_id.eq(mailbox)),
                kind,
                user_id,
            );
        } else {
            q = q.filter(conversations::state.eq(self.state));
            if !self.statuses.is_empty() {
                q = q.filter(conversations::status.eq_any(self.statuses.clone()));
            }
        }
        if let Some(k) = self.kind {
            q = q.filter(conversations::conversation_type.eq(k));
        }
        match self.assigned_to {
            Some(Some(u)) => q = q.filter(conversations::user_id.eq(u)),
            Some(None) => q = q.filter(conversations::user_id.is_null()),
            None => {}
        }
        if let Some(e) = &self.customer_email {
            let owners = customer_emails::table
                .filter(customer_emails::email.eq(e.clone()))
                .select(customer_emails::customer_id);
            q = q.filter(
                conversations::customer_email
                    .eq(e.clone())
                    .or(conversations::customer_id.eq_any(owners.nullable())),
            );
        }
        if let Some(id) = self.customer_id {
            q = q.filter(conversations::customer_id.eq(id));
        }
        if let Some(n) = self.number {
            q = q.filter(conversations::number.eq(n));
        }
        if let Some(s) = &self.subject {
            let escaped = s
                .to_lowercase()
                .replace('\\', "")
                .replace('%', "")
                .replace('_', "");
            q = q.filter(lower(conversations::subject).like(format!("%{escaped}%")));
        }
        if let Some(u) = self.created_by_user {
            q = q.filter(conversations::created_by_user_id.eq(u));
        }
        if let Some(cu) = self.created_by_customer {
            q = q
                .filter(conversations::created_by_user_id.is_null())
                .filter(conversations::customer_id.eq(cu));
        }
        if let Some(t) = self.created_since {
            q = q.filter(conversations::created_at.gt(t));
        }
        if let Some(t) = self.updated_since {
            q = q.filter(conversations::updated_at.gt(t));
        }
        q
    }
}

fn sorted(q: Boxed<'static>, field: &str, asc: bool) -> Boxed<'static> {
    use conversations::dsl as c;
    macro_rules! by {
        ($col:expr) => {
            if asc {
                q.order(($col.asc(), c::id.asc()))
            } else {
                q.order(($col.desc(), c::id.desc()))
            }
        };
    }
    match field {
        "mailboxId" => by!(c::mailbox_id),
        "number" => by!(c::number),
        "subject" => by!(c::subject),
        "updatedAt" => by!(c::updated_at),
        "waitingSince" => by!(c::last_reply_at),
        _ => by!(c::created_at),
    }
}

fn wants_threads(embed: &Option<String>, default: bool) -> bool {
    match embed.as_deref() {
        None => default,
        Some(e) => e.split(',').any(|p| p.trim() == "threads"),
    }
}

/// `GET /api/conversations`.
pub async fn list(
    state: web::Data<AppState>,
    me: ApiUser,
    q: ApiQuery<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.0;
    let mut checks = Checks::default();
    let (number, size) = paging(&mut checks, &q.page, &q.page_size);
    let asc = ascending(&mut checks, &q.sort_order);
    let sort = checks
        .keep(one_of("sortField", &q.sort_field, &SORT_FIELDS))
        .flatten()
        .unwrap_or_else(|| "createdAt".into());
    let mut f = Filters::default();
    let mailbox_ids = checks
        .keep(int_list("mailboxId", &q.mailbox_id))
        .unwrap_or_default();
    f.folder = checks
        .keep(int("folderId", &q.folder_id))
        .flatten()
        .map(|id| (id.div_euclid(folder::SPAN), id.rem_euclid(folder::SPAN)));
    let statuses = checks
        .keep(enum_list("status", &q.status, &STATUSES))
        .unwrap_or_default();
    f.statuses = if statuses.is_empty() {
        vec![ConversationStatus::Active.as_i16()]
    } else {
        statuses
            .iter()
            .filter_map(|s| status_named(s))
            .map(|s| s.as_i16())
            .collect()
    };
    f.state = checks
        .keep(one_of("state", &q.state, &STATES))
        .flatten()
        .and_then(|s| {
            serde_json::from_value::<ConversationState>(serde_json::Value::String(s)).ok()
        })
        .unwrap_or(ConversationState::Published)
        .as_i16();
    f.kind = checks
        .keep(one_of("type", &q.kind, &TYPES))
        .flatten()
        .and_then(|s| serde_json::from_value::<ConversationType>(serde_json::Value::String(s)).ok())
        .map(ConversationType::as_i16);
    f.assigned_to = match &q.assigned_to {
        None => None,
        Some(v) if v.trim().is_empty() => Some(None),
        Some(_) => checks.keep(int("assignedTo", &q.assigned_to)),
    };
    f.customer_email = q
        .customer_email
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty());
    f.customer_id = checks.keep(int("customerId", &q.customer_id)).flatten();
    f.number = checks.keep(int("number", &q.number)).flatten();
    f.subject = q.subject.filter(|s| !s.trim().is_empty());
    f.nothing =
        q.tag.is_some_and(|t| !t.is_empty()) || q.customer_phone.is_some_and(|p| !p.is_empty());
    f.created_by_user = checks
        .keep(int("createdByUserId", &q.created_by_user_id))
        .flatten();
    f.created_by_customer = checks
        .keep(int("createdByCustomerId", &q.created_by_customer_id))
        .flatten();
    f.created_since = checks
        .keep(date("createdSince", &q.created_since))
        .flatten();
    f.updated_since = checks
        .keep(date("updatedSince", &q.updated_since))
        .flatten();
    checks.finish()?;
    let with_threads = wants_threads(&q.embed, false);
    let out = run(&state.pool, move |c| {
        let visible = permissions::visible_mailbox_ids(c, &me.user)?;
        f.mailboxes = if mailbox_ids.is_empty() {
            visible
        } else {
            mailbox_ids
                .into_iter()
                .filter(|m| visible.contains(m))
                .collect()
        };
        let total: i64 = f.query(me.user.id).count().get_result(c)?;
        let rows: Vec<ConversationRow> = sorted(f.query(me.user.id), &sort, asc)
            .offset(Page::offset(number, size))
            .limit(size)
            .select(ConversationRow::as_select())
            .load(c)?;
        Ok(ConversationList {
            embedded: Conversations {
                conversations: views::conversation_views(c, rows, with_threads)?,
            },
            page: Page::new(number, size, total),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// The conversation `id` if `user` may see it (else 404), with their access.
pub fn visible(
    c: &mut AnyConnection,
    user: &User,
    id: i64,
) -> Result<(ConversationRow, MailboxAccess), ApiError> {
    let row = views::conversation_row(c, id)?.ok_or(ApiError::NotFound)?;
    let access = permissions::mailbox_access(c, user, row.mailbox_id)?.ok_or(ApiError::NotFound)?;
    Ok((row, access))
}

/// Refuses users who may only read the mailbox.
pub fn require_reply(access: MailboxAccess) -> Result<(), ApiError> {
    if access == MailboxAccess::View {
        return Err(ApiError::Forbidden(
            "this user may only view this mailbox, not change its conversations".into(),
        ));
    }
    Ok(())
}

/// `GET /api/conversations/{conversationId}`.
pub async fn get(
    state: web::Data<AppState>,
    me: ApiUser,
    id: web::Path<i64>,
    q: ApiQuery<GetQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let with_threads = wants_threads(&q.0.embed, true);
    let view = run(&state.pool, move |c| {
        let (row, _) = visible(c, &me.user, id)?;
        Ok(views::conversation_views(c, vec![row], with_threads)?.pop())
    })
    .await?
    .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(view))
}

/// A customer named in a request: by id, else by email (created when new), else (phone
/// conversations) by name or phone.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerRef {
    /// An existing customer's id.
    pub id: Option<i64>,
    /// Email: looked up, or a new customer is made.
    pub email: Option<String>,
    /// Given name for a new customer.
    pub first_name: Option<String>,
    /// Family name for a new customer.
    pub last_name: Option<String>,
    /// Phone (not kept).
    pub phone: Option<String>,
}

/// Body of `POST /api/conversations`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateConversation {
    /// email, phone or chat.
    #[serde(rename = "type")]
    #[schemars(extend("enum" = ["email", "phone", "chat"]))]
    pub kind: String,
    /// The mailbox.
    pub mailbox_id: i64,
    /// Subject.
    pub subject: String,
    /// The customer.
    pub customer: CustomerRef,
    /// At least one thread, newest first.
    pub threads: Vec<ThreadInput>,
    /// True: no mail or notification goes out, and the given dates are kept.
    #[serde(default)]
    pub imported: bool,
    /// Assignee's user id.
    pub assign_to: Option<i64>,
    /// active, pending or closed.
    #[schemars(extend("enum" = ["active", "pending", "closed", null]))]
    pub status: Option<String>,
    /// When it was created (ISO 8601).
    #[schemars(extend("format" = "date-time"))]
    pub created_at: Option<String>,
    /// When it was closed (imported conversations only).
    #[schemars(extend("format" = "date-time"))]
    pub closed_at: Option<String>,
}

/// `POST /api/conversations`.
pub async fn create(
    state: web::Data<AppState>,
    me: ApiUser,
    body: ApiJson<CreateConversation>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let mut checks = Checks::default();
    let kind = match b.kind.as_str() {
        "email" => Some(ConversationType::Email),
        "phone" => Some(ConversationType::Phone),
        "chat" => Some(ConversationType::Chat),
        other => {
            checks.push(FieldError::json("type", "").one_of(&TYPES).rejecting(other));
            None
        }
    };
    if b.subject.trim().is_empty() {
        checks.push(FieldError::json("subject", "may not be empty"));
    }
    if b.threads.is_empty() {
        checks.push(FieldError::json(
            "threads",
            "there has to be at least one thread",
        ));
    }
    let status = match b.status.as_deref() {
        None => None,
        Some(s) => match status_named(s).filter(|s| *s != ConversationStatus::Spam) {
            Some(st) => Some(st),
            None => {
                checks.push(
                    FieldError::json("status", "")
                        .one_of(&STATUSES[..3])
                        .rejecting(s),
                );
                None
            }
        },
    };
    let created_at = b.created_at.as_deref().and_then(|s| {
        let d = parse_date(s);
        if d.is_none() {
            checks
                .push(FieldError::json("createdAt", "must be an ISO 8601 date-time").rejecting(s));
        }
        d
    });
    let closed_at = b.closed_at.as_deref().and_then(|s| {
        let d = parse_date(s);
        if d.is_none() {
            checks.push(FieldError::json("closedAt", "must be an ISO 8601 date-time").rejecting(s));
        }
        d
    });
    let mut threads = threads::check_all(&mut checks, "threads", &b.threads);
    threads::check_customer(
        &mut checks,
        "customer",
        &b.customer,
        kind == Some(ConversationType::Phone),
    );
    checks.finish()?;
    let kind = kind.unwrap_or(ConversationType::Email);
    let ctx = threads::Context::of(&state)?;
    let id = run(&state.pool, move |c| {
        let access = permissions::mailbox_access(c, &me.user, b.mailbox_id)?.ok_or_else(|| {
            ApiError::field(
                FieldError::json("mailboxId", "no such mailbox").rejecting(b.mailbox_id),
            )
        })?;
        require_reply(access)?;
        if let Some(a) = b.assign_to {
            threads::check_assignee(c, a, b.mailbox_id, "assignTo")?;
        }
        for t in threads.iter_mut() {
            threads::settle_user(c, &me.user, t, b.mailbox_id)?;
        }
        let now = crate::db::now();
        let started = if b.imported {
            created_at.unwrap_or(now)
        } else {
            now
        };
        let (customer_id, email, _) =
            threads::resolve_customer(c, &b.customer, "customer", now, !b.imported)?;
        let (id, _) = conversation::create(
            c,
            &NewConversation {
                mailbox_id: b.mailbox_id,
                customer_id: Some(customer_id),
                customer_email: &email,
                created_by_user_id: threads.last().and_then(|t| t.user),
                conversation_type: kind,
                status: ConversationStatus::Active,
                state: ConversationState::Published,
                subject: b.subject.trim(),
                created_at: started,
            },
        )?;
        // Oldest first, so each thread sees the ones before it.
        for (i, t) in threads.iter().rev().enumerate() {
            threads::add(c, &ctx, id, t, b.imported, i == 0)?;
        }
        if let Some(a) = b.assign_to {
            actions::assign(c, id, Some(a), me.user.id)?;
        }
        let closed = closed_at.filter(|_| b.imported);
        if status.is_some() || closed.is_some() {
            let st = status.unwrap_or(ConversationStatus::Closed);
            let closed_at = (st == ConversationStatus::Closed).then(|| closed.unwrap_or(now));
            diesel::update(conversations::table.find(id))
                .set((
                    conversations::status.eq(st.as_i16()),
                    conversations::closed_at.eq(closed_at),
                ))
                .execute(c)?;
        }
        Ok(id)
    })
    .await?;
    Ok(created(id))
}

/// Body of `PUT /api/conversations/{conversationId}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateConversation {
    /// The user making the change (default: the key's user; must be them unless the key
    /// is an admin's).
    pub by_user: Option<i64>,
    /// active, pending, closed or spam.
    #[schemars(extend("enum" = ["active", "pending", "closed", "spam", null]))]
    pub status: Option<String>,
    /// New assignee's user id.
    pub assign_to: Option<i64>,
    /// Move to this mailbox.
    pub mailbox_id: Option<i64>,
    /// New customer's id.
    pub customer_id: Option<i64>,
    /// New subject.
    pub subject: Option<String>,
}

/// `PUT /api/conversations/{conversationId}`.
pub async fn update(
    state: web::Data<AppState>,
    me: ApiUser,
    id: web::Path<i64>,
    body: ApiJson<UpdateConversation>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let b = body.0;
    let mut checks = Checks::default();
    let status = b.status.as_deref().and_then(|s| {
        let st = status_named(s);
        if st.is_none() {
            checks.push(
                FieldError::json("status", "")
                    .one_of(&STATUSES)
                    .rejecting(s),
            );
        }
        st
    });
    if b.subject.as_deref().is_some_and(|s| s.trim().is_empty()) {
        checks.push(FieldError::json("subject", "may not be empty"));
    }
    checks.finish()?;
    let hooks = state.hooks.clone();
    run(&state.pool, move |c| {
        let (row, access) = visible(c, &me.user, id)?;
        require_reply(access)?;
        let by = acting_user(c, &me.user, b.by_user)?;
        if let Some(st) = status {
            actions::set_status(c, &hooks, id, st, by)?;
        }
        if let Some(a) = b.assign_to {
            threads::check_assignee(c, a, row.mailbox_id, "assignTo")?;
            actions::assign(c, id, Some(a), by)?;
        }
        if let Some(m) = b.mailbox_id.filter(|m| *m != row.mailbox_id) {
            let target = permissions::mailbox_access(c, &me.user, m)?.ok_or_else(|| {
                ApiError::field(FieldError::json("mailboxId", "no such mailbox").rejecting(m))
            })?;
            require_reply(target)?;
            actions::move_to_mailbox(c, id, m, by)?;
        }
        if let Some(cid) = b.customer_id {
            threads::check_customer_exists(c, cid, "customerId")?;
            let email = crate::models::customer::emails_of(c, cid)?
                .into_iter()
                .next()
                .unwrap_or_default();
            diesel::update(conversations::table.find(id))
                .set((
                    conversations::customer_id.eq(Some(cid)),
                    conversations::customer_email.eq(email),
                    conversations::updated_at.eq(crate::db::now()),
                ))
                .execute(c)?;
        }
        if let Some(s) = &b.subject {
            diesel::update(conversations::table.find(id))
                .set((
                    conversations::subject.eq(s.trim()),
                    conversations::updated_at.eq(crate::db::now()),
                ))
                .execute(c)?;
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The user a change is made as: `by_user` when given (only an admin's key may act as
/// someone else), else the key's user.
fn acting_user(c: &mut AnyConnection, me: &User, by_user: Option<i64>) -> Result<i64, ApiError> {
    match by_user {
        None => Ok(me.id),
        Some(id) if id == me.id => Ok(id),
        Some(id) if me.is_admin() => {
            let exists = crate::models::user::find(c, id)?.is_some_and(|u| u.is_active());
            if exists {
                Ok(id)
            } else {
                Err(ApiError::field(
                    FieldError::json("byUser", "no such user").rejecting(id),
                ))
            }
        }
        Some(_) => Err(ApiError::Forbidden(
            "only an admin's key may act as another user".into(),
        )),
    }
}

/// `DELETE /api/conversations/{conversationId}`.
pub async fn delete(
    state: web::Data<AppState>,
    me: ApiUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    run(&state.pool, move |c| {
        let (_, access) = visible(c, &me.user, id)?;
        require_reply(access)?;
        actions::delete(c, id, me.user.id)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

impl From<ActionError> for ApiError {
    fn from(e: ActionError) -> Self {
        match e {
            ActionError::NotFound => ApiError::NotFound,
            ActionError::Invalid(m) => ApiError::field(FieldError::json("", m)),
            ActionError::Vetoed { module, reason } => {
                ApiError::Forbidden(format!("the module {module} refused: {reason}"))
            }
            ActionError::Db(e) => e.into(),
        }
    }
}
