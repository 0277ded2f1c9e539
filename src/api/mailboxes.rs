//! `/api/mailboxes`: the mailboxes the key's user may see, one of them, and its folders.
//! Postdesk has no folder table: the folders are FreeScout's fixed ones, numbered
//! `mailbox id × 1000 + folder type`, and counted from the conversations.

use actix_web::{HttpResponse, web};
use diesel::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::auth::ApiUser;
use super::error::{ApiError, run};
use super::input::{ApiQuery, Checks, int, paging};
use super::views::{MailboxView, Page, folder, iso};
use crate::AppState;
use crate::db::schema::{conversations, mailboxes, users};
use crate::db::types::ConversationStatus;
use crate::models::user::User;
use crate::permissions;

/// Query of `GET /api/mailboxes`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    /// Only mailboxes this user may access.
    #[schemars(with = "Option<i64>")]
    user_id: Option<String>,
    /// Page number, from 1.
    #[schemars(with = "Option<u32>")]
    page: Option<String>,
    /// Page size (default 50, at most 100).
    #[schemars(with = "Option<u32>")]
    page_size: Option<String>,
}

/// `_embedded` of a mailbox list.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Mailboxes {
    /// The mailboxes.
    mailboxes: Vec<MailboxView>,
}

/// A page of mailboxes.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MailboxList {
    /// The mailboxes.
    #[serde(rename = "_embedded")]
    embedded: Mailboxes,
    /// Paging.
    page: Page,
}

type MailboxRow = (
    i64,
    String,
    String,
    chrono::NaiveDateTime,
    chrono::NaiveDateTime,
);

fn view((id, name, email, created_at, updated_at): MailboxRow) -> MailboxView {
    MailboxView {
        id,
        name,
        email,
        created_at: iso(created_at),
        updated_at: iso(updated_at),
    }
}

fn rows(c: &mut crate::db::AnyConnection, ids: &[i64]) -> QueryResult<Vec<MailboxRow>> {
    mailboxes::table
        .filter(mailboxes::id.eq_any(ids))
        .order(mailboxes::id)
        .select((
            mailboxes::id,
            mailboxes::name,
            mailboxes::email,
            mailboxes::created_at,
            mailboxes::updated_at,
        ))
        .load(c)
}

/// `GET /api/mailboxes`, sorted by id.
pub async fn list(
    state: web::Data<AppState>,
    me: ApiUser,
    q: ApiQuery<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.0;
    let mut checks = Checks::default();
    let (number, size) = paging(&mut checks, &q.page, &q.page_size);
    let user_id = checks.keep(int("userId", &q.user_id)).flatten();
    checks.finish()?;
    let out = run(&state.pool, move |c| {
        let mut ids = permissions::visible_mailbox_ids(c, &me.user)?;
        if let Some(uid) = user_id {
            let other: Option<User> = users::table
                .find(uid)
                .select(User::as_select())
                .first(c)
                .optional()?;
            let theirs = match other {
                Some(u) => permissions::visible_mailbox_ids(c, &u)?,
                None => Vec::new(),
            };
            ids.retain(|id| theirs.contains(id));
        }
        ids.sort_unstable();
        let total = ids.len() as i64;
        let page: Vec<i64> = ids
            .into_iter()
            .skip(usize::try_from(Page::offset(number, size)).unwrap_or(usize::MAX))
            .take(usize::try_from(size).unwrap_or(0))
            .collect();
        Ok(MailboxList {
            embedded: Mailboxes {
                mailboxes: rows(c, &page)?.into_iter().map(view).collect(),
            },
            page: Page::new(number, size, total),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// `GET /api/mailboxes/{mailboxId}` (a Postdesk addition): 404 when not visible.
pub async fn get(
    state: web::Data<AppState>,
    me: ApiUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let found = run(&state.pool, move |c| {
        if !permissions::can_view_mailbox(c, &me.user, id)? {
            return Err(ApiError::NotFound);
        }
        Ok(rows(c, &[id])?.pop())
    })
    .await?
    .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(view(found)))
}

/// Query of `GET /api/mailboxes/{mailboxId}/folders`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FolderQuery {
    /// Only the folders of this user (Mine, Starred) and the shared ones.
    #[schemars(with = "Option<i64>")]
    user_id: Option<String>,
    /// Only this folder.
    #[schemars(with = "Option<i64>")]
    folder_id: Option<String>,
    /// Page size (default 50, at most 100).
    #[schemars(with = "Option<u32>")]
    page_size: Option<String>,
}

/// A folder.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FolderView {
    /// Id (`mailbox id × 1000 + type`).
    id: i64,
    /// Name.
    name: String,
    /// FreeScout's folder type: 1 Unassigned, 20 Mine, 25 Starred, 30 Drafts, 40
    /// Assigned, 60 Closed, 80 Spam, 110 Deleted.
    #[serde(rename = "type")]
    kind: i64,
    /// The user of a personal folder.
    user_id: Option<i64>,
    /// Conversations in it.
    total_count: i64,
    /// Active ones among them.
    active_count: i64,
    /// Extra data (none).
    meta: Option<serde_json::Value>,
}

/// `_embedded` of a folder list.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Folders {
    /// The folders.
    folders: Vec<FolderView>,
}

/// The folders of a mailbox.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FolderList {
    /// The folders.
    #[serde(rename = "_embedded")]
    embedded: Folders,
    /// Paging.
    page: Page,
}

fn folder_name(kind: i64) -> &'static str {
    match kind {
        folder::UNASSIGNED => "Unassigned",
        folder::MINE => "Mine",
        folder::STARRED => "Starred",
        folder::DRAFTS => "Drafts",
        folder::ASSIGNED => "Assigned",
        folder::CLOSED => "Closed",
        folder::SPAM => "Spam",
        _ => "Deleted",
    }
}

/// Counts `(total, active)` of one folder of one mailbox, for `user_id`'s personal folders.
fn count(
    c: &mut crate::db::AnyConnection,
    mailbox_id: i64,
    kind: i64,
    user_id: i64,
) -> QueryResult<(i64, i64)> {
    let active = ConversationStatus::Active.as_i16();
    let base = || {
        let q = conversations::table
            .filter(conversations::mailbox_id.eq(mailbox_id))
            .into_boxed();
        super::conversations::in_folder(q, kind, user_id)
    };
    let total: i64 = base().count().get_result(c)?;
    let active: i64 = base()
        .filter(conversations::status.eq(active))
        .count()
        .get_result(c)?;
    Ok((total, active))
}

/// `GET /api/mailboxes/{mailboxId}/folders`.
pub async fn folders(
    state: web::Data<AppState>,
    me: ApiUser,
    id: web::Path<i64>,
    q: ApiQuery<FolderQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.0;
    let mailbox_id = id.into_inner();
    let mut checks = Checks::default();
    let (_, size) = paging(&mut checks, &None, &q.page_size);
    let user_id = checks.keep(int("userId", &q.user_id)).flatten();
    let folder_id = checks.keep(int("folderId", &q.folder_id)).flatten();
    checks.finish()?;
    let out = run(&state.pool, move |c| {
        if !permissions::can_view_mailbox(c, &me.user, mailbox_id)? {
            return Err(ApiError::NotFound);
        }
        let owner = user_id.unwrap_or(me.user.id);
        let mut list = Vec::new();
        for kind in folder::ALL {
            let id = folder::id(mailbox_id, kind);
            if folder_id.is_some_and(|f| f != id) {
                continue;
            }
            let personal = kind == folder::MINE || kind == folder::STARRED;
            let (total_count, active_count) = count(c, mailbox_id, kind, owner)?;
            list.push(FolderView {
                id,
                name: folder_name(kind).into(),
                kind,
                user_id: personal.then_some(owner),
                total_count,
                active_count,
                meta: None,
            });
        }
        let total = list.len() as i64;
        list.truncate(usize::try_from(size).unwrap_or(0));
        Ok(FolderList {
            embedded: Folders { folders: list },
            page: Page::new(1, size, total),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(out))
}
