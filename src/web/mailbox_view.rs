//! `GET /mailboxes/{id}`: the agent's main page. Left, the user's mailboxes with their
//! folders and counts; centre, one folder's conversations, newest first, a page at a time
//! (`?folder=<slug>&after=<cursor>`), with bulk actions on the selected ones.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDateTime;

use crate::AppState;
use crate::conversations::folders::{self, Cursor, Folder, ListRow};
use crate::db::types::{ConversationStatus, MailboxAccess};
use crate::error::AppError;
use crate::i18n;
use crate::permissions;
use crate::web::clock::Clock;
use crate::web::page::render;
use crate::web::session::CurrentUser;

/// Conversations per page.
pub const PAGE_SIZE: i64 = 50;

/// One folder in the sidebar.
#[derive(Debug, serde::Serialize)]
struct SideFolder {
    slug: &'static str,
    label: String,
    count: i64,
    current: bool,
}

/// One mailbox in the sidebar.
#[derive(Debug, serde::Serialize)]
struct SideMailbox {
    id: i64,
    name: String,
    current: bool,
    folders: Vec<SideFolder>,
}

/// One row of a conversation list as templates show it.
#[derive(Debug, serde::Serialize)]
pub struct RowView {
    id: i64,
    number: i64,
    subject: String,
    preview: String,
    customer: String,
    customer_email: String,
    threads_count: i32,
    has_attachments: bool,
    assignee: String,
    status: &'static str,
    status_label: String,
    ago: String,
    full_date: String,
    iso_date: String,
    unread: bool,
    starred: bool,
}

/// The slug of a status number (`active`, `pending`, `closed`, `spam`).
pub fn status_slug(status: i16) -> &'static str {
    match ConversationStatus::from_i16(status) {
        Some(ConversationStatus::Pending) => "pending",
        Some(ConversationStatus::Closed) => "closed",
        Some(ConversationStatus::Spam) => "spam",
        _ => "active",
    }
}

/// "3 min ago"-style text for `at`, in `lang`; the date itself after a week.
fn ago(lang: &str, clock: &Clock, at: NaiveDateTime, now: NaiveDateTime) -> String {
    let secs = (now - at).num_seconds().max(0);
    let with = |key: &str, n: i64| i18n::t(lang, key).replace("{n}", &n.to_string());
    match secs {
        0..60 => i18n::t(lang, "ws_ago_now"),
        60..3_600 => with("ws_ago_minutes", secs / 60),
        3_600..86_400 => with("ws_ago_hours", secs / 3_600),
        86_400..604_800 => with("ws_ago_days", secs / 86_400),
        _ => clock.date(at),
    }
}

/// List rows as templates show them.
pub fn row_views(lang: &str, clock: &Clock, rows: Vec<ListRow>) -> Vec<RowView> {
    let now = crate::db::now();
    rows.into_iter()
        .map(|r| RowView {
            id: r.id,
            number: r.number,
            ago: ago(lang, clock, r.last_reply_at, now),
            full_date: clock.date_time(r.last_reply_at),
            iso_date: r.last_reply_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            customer: if r.customer_name.is_empty() {
                r.customer_email.clone()
            } else {
                r.customer_name
            },
            customer_email: r.customer_email,
            subject: r.subject,
            preview: r.preview,
            threads_count: r.threads_count,
            has_attachments: r.has_attachments,
            assignee: r.assignee_name,
            status: status_slug(r.status),
            status_label: i18n::t(lang, &format!("ws_status_{}", status_slug(r.status))),
            unread: r.unread,
            starred: r.starred,
        })
        .collect()
}

/// A `key=value` of the query string, decoded.
pub fn query_value(req: &HttpRequest, key: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .ok()?
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// An agent the conversation may be assigned to.
#[derive(Debug, serde::Serialize)]
struct Member {
    id: i64,
    name: String,
}

/// `GET /mailboxes/{id}`: 404 when the user may not see the mailbox (no hint it exists).
/// An unknown folder shows Unassigned; a malformed cursor shows the first page.
pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let folder = query_value(&req, "folder")
        .and_then(|s| Folder::from_slug(&s))
        .unwrap_or(Folder::Unassigned);
    let after = query_value(&req, "after").and_then(|s| Cursor::from_param(&s));
    let user = me.user.clone();
    let (access, boxes, counts, (rows, next), members) = crate::db::run(&state.pool, move |c| {
        let access = permissions::mailbox_access(c, &user, id)?.ok_or(AppError::NotFound)?;
        let boxes = permissions::visible_mailboxes(c, &user)?;
        let ids: Vec<i64> = boxes.iter().map(|m| m.id).collect();
        let counts = folders::counts_for(c, &ids, user.id)?;
        let page = folders::list(c, id, folder, user.id, after.as_ref(), PAGE_SIZE)?;
        let members = permissions::mailbox_members(c, id)?;
        Ok((access, boxes, counts, page, members))
    })
    .await?;
    let lang = crate::web::page::language(&req, Some(&me));
    let current = boxes
        .iter()
        .find(|m| m.id == id)
        .ok_or(AppError::NotFound)?;
    let mut ctx = tera::Context::new();
    ctx.insert(
        "mailbox",
        &crate::web::home::views(vec![current.clone()]).pop(),
    );
    ctx.insert("access", &access);
    ctx.insert(
        "can_change",
        &(access.as_i16() >= MailboxAccess::Reply.as_i16()),
    );
    let side: Vec<SideMailbox> = boxes
        .iter()
        .map(|m| SideMailbox {
            id: m.id,
            name: m.name.clone(),
            current: m.id == id,
            folders: counts
                .get(&m.id)
                .map(|list| {
                    list.iter()
                        .map(|fc| SideFolder {
                            slug: fc.folder.slug(),
                            label: i18n::t(lang, &format!("ws_folder_{}", fc.folder.slug())),
                            count: fc.count,
                            current: m.id == id && fc.folder == folder,
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    ctx.insert("sidebar", &side);
    ctx.insert("folder", folder.slug());
    ctx.insert(
        "folder_label",
        &i18n::t(lang, &format!("ws_folder_{}", folder.slug())),
    );
    ctx.insert("rows", &row_views(lang, &Clock::of(&me.user), rows));
    ctx.insert(
        "next_url",
        &next.map(|c| {
            format!(
                "/mailboxes/{id}?folder={}&after={}",
                folder.slug(),
                c.to_param()
            )
        }),
    );
    ctx.insert("first_page", &after.is_none());
    let first_url = format!("/mailboxes/{id}?folder={}", folder.slug());
    ctx.insert("first_url", &first_url);
    ctx.insert("return_to", &first_url);
    ctx.insert(
        "members",
        &members
            .into_iter()
            .map(|u| Member {
                id: u.id,
                name: u.full_name(),
            })
            .collect::<Vec<_>>(),
    );
    ctx.insert(
        "move_targets",
        &crate::web::home::views(boxes.into_iter().filter(|m| m.id != id).collect()),
    );
    ctx.insert("bulk", &true);
    render(&state, &req, Some(&me), "mailbox.html", ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_ago_then_as_dates() {
        let now = chrono::DateTime::from_timestamp(1_764_000_000, 0)
            .unwrap()
            .naive_utc();
        let before = |s: i64| now - chrono::Duration::seconds(s);
        let utc = Clock::new("UTC", 24);
        assert_eq!(ago("en", &utc, before(5), now), "just now");
        assert_eq!(ago("en", &utc, before(180), now), "3 min ago");
        assert_eq!(ago("ru", &utc, before(7_200), now), "2 ч назад");
        assert_eq!(ago("en", &utc, before(3 * 86_400), now), "3 d ago");
        assert_eq!(ago("en", &utc, before(30 * 86_400), now), "2025-10-25");
        // Old dates are the user's local date.
        let tokyo = Clock::new("Asia/Tokyo", 24);
        let late = before(30 * 86_400) + chrono::Duration::hours(4);
        assert_eq!(ago("en", &utc, late, now), "2025-10-25");
        assert_eq!(ago("en", &tokyo, late, now), "2025-10-26");
        // A clock ahead of ours reads as now, not as negative time.
        assert_eq!(
            ago("en", &utc, now + chrono::Duration::seconds(90), now),
            "just now"
        );
    }
}
