//! The one place that decides what a user may see and do. Pages, the API, search,
//! attachment URLs and live events all ask these functions; nothing else reads
//! `mailbox_users` to decide access.

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::{mailbox_users, mailboxes};
use crate::db::types::MailboxAccess;
use crate::models::mailbox::Mailbox;
use crate::models::mailbox_user;
use crate::models::user::User;

/// What `user` may do in `mailbox_id`: admins manage every mailbox; an agent has what an
/// admin granted, or nothing. Inactive accounts have no access at all.
pub fn mailbox_access(
    conn: &mut AnyConnection,
    user: &User,
    mailbox_id: i64,
) -> QueryResult<Option<MailboxAccess>> {
    if !user.is_active() {
        return Ok(None);
    }
    if user.is_admin() {
        let exists: i64 = mailboxes::table
            .filter(mailboxes::id.eq(mailbox_id))
            .count()
            .get_result(conn)?;
        return Ok((exists > 0).then_some(MailboxAccess::Manage));
    }
    mailbox_user::access(conn, user.id, mailbox_id)
}

/// True when `user` may see `mailbox_id` and its conversations.
pub fn can_view_mailbox(
    conn: &mut AnyConnection,
    user: &User,
    mailbox_id: i64,
) -> QueryResult<bool> {
    Ok(mailbox_access(conn, user, mailbox_id)?.is_some())
}

/// True when `user` may change `mailbox_id`'s settings.
pub fn can_manage_mailbox(
    conn: &mut AnyConnection,
    user: &User,
    mailbox_id: i64,
) -> QueryResult<bool> {
    Ok(mailbox_access(conn, user, mailbox_id)? == Some(MailboxAccess::Manage))
}

/// Ids of every mailbox `user` may see; filter lists and searches with it.
pub fn visible_mailbox_ids(conn: &mut AnyConnection, user: &User) -> QueryResult<Vec<i64>> {
    Ok(visible_mailboxes(conn, user)?
        .into_iter()
        .map(|m| m.id)
        .collect())
}

/// The mailboxes `user` may see, by name.
pub fn visible_mailboxes(conn: &mut AnyConnection, user: &User) -> QueryResult<Vec<Mailbox>> {
    if !user.is_active() {
        return Ok(Vec::new());
    }
    let mut query = mailboxes::table
        .order((mailboxes::name, mailboxes::id))
        .select(Mailbox::as_select())
        .into_boxed();
    if !user.is_admin() {
        let granted = mailbox_users::table
            .filter(mailbox_users::user_id.eq(user.id))
            .select(mailbox_users::mailbox_id);
        query = query.filter(mailboxes::id.eq_any(granted));
    }
    query.load(conn)
}

/// The mailboxes whose settings `user` may change, by name: every one for admins, those
/// granted with "manage" for agents.
pub fn manageable_mailboxes(conn: &mut AnyConnection, user: &User) -> QueryResult<Vec<Mailbox>> {
    if !user.is_active() {
        return Ok(Vec::new());
    }
    let mut query = mailboxes::table
        .order((mailboxes::name, mailboxes::id))
        .select(Mailbox::as_select())
        .into_boxed();
    if !user.is_admin() {
        let managed = mailbox_users::table
            .filter(mailbox_users::user_id.eq(user.id))
            .filter(mailbox_users::access.eq(MailboxAccess::Manage.as_i16()))
            .select(mailbox_users::mailbox_id);
        query = query.filter(mailboxes::id.eq_any(managed));
    }
    query.load(conn)
}

/// The active users who may see `mailbox_id` (every admin, and the agents granted any
/// access), by name: the people a conversation there may be assigned to.
pub fn mailbox_members(conn: &mut AnyConnection, mailbox_id: i64) -> QueryResult<Vec<User>> {
    use crate::db::schema::users;
    use crate::db::types::{UserRole, UserStatus};
    let granted = mailbox_users::table
        .filter(mailbox_users::mailbox_id.eq(mailbox_id))
        .select(mailbox_users::user_id);
    users::table
        .filter(users::status.eq(UserStatus::Active.as_i16()))
        .filter(
            users::role
                .eq(UserRole::Admin.as_i16())
                .or(users::id.eq_any(granted)),
        )
        .order((users::first_name, users::last_name, users::id))
        .select(User::as_select())
        .load(conn)
}
