//! The conversation action routes (POST, CSRF-checked), for the conversation page's
//! buttons and the list's bulk form. Each one redirects back: to the `return` field when
//! it is a path on this site, else to the conversation page.
//!
//! Who may do what, per mailbox (see `crate::permissions::mailbox_access`):
//! - no access: 404, nothing about the conversation is told;
//! - view: star and follow only (403 for the rest);
//! - reply or manage: status, assign, move, merge, delete and restore. Move and merge need
//!   reply access in both mailboxes.
//!
//! A status change a module refuses answers 409 with the module's reason.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::AppState;
use crate::conversations::actions::{self, ActionError};
use crate::db::AnyConnection;
use crate::db::schema::conversations;
use crate::db::types::{ConversationStatus, MailboxAccess};
use crate::error::AppError;
use crate::models::user::User;
use crate::permissions;
use crate::web::page::{render_status, see_other};
use crate::web::session::{CsrfForm, CurrentUser};
use diesel::prelude::*;

/// A posted form, as pairs.
type Form = Vec<(String, String)>;

/// The value of one form field ("" when absent).
fn field<'a>(form: &'a Form, name: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// Where to go after the action: `return` when it is a path on this site.
fn back(form: &Form, fallback: String) -> String {
    let to = field(form, "return");
    let local = to.starts_with('/')
        && !to.starts_with("//")
        && !to.contains('\\')
        && !to.chars().any(char::is_control);
    if local { to.to_string() } else { fallback }
}

/// What an action route needs from the user in a conversation's mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    View,
    Reply,
}

/// Checks that `user` may act on `conversation_id` as `needs` says: 404 without any
/// access (or no such conversation), 403 with too little. Returns its mailbox.
fn check(
    c: &mut AnyConnection,
    user: &User,
    conversation_id: i64,
    needs: Needs,
) -> Result<i64, AppError> {
    let mailbox_id: i64 = conversations::table
        .find(conversation_id)
        .select(conversations::mailbox_id)
        .first(c)
        .optional()?
        .ok_or(AppError::NotFound)?;
    check_mailbox(c, user, mailbox_id, needs)?;
    Ok(mailbox_id)
}

fn check_mailbox(
    c: &mut AnyConnection,
    user: &User,
    mailbox_id: i64,
    needs: Needs,
) -> Result<(), AppError> {
    let access = permissions::mailbox_access(c, user, mailbox_id)?.ok_or(AppError::NotFound)?;
    if needs == Needs::Reply && access.as_i16() < MailboxAccess::Reply.as_i16() {
        return Err(AppError::Forbidden);
    }
    Ok(())
}

/// How an action ended, for the answer.
enum Outcome {
    Done,
    /// Modules refused these changes: (conversation number, module, reason).
    Refused(Vec<(i64, String, String)>),
}

fn app_error(e: ActionError) -> AppError {
    match e {
        ActionError::NotFound => AppError::NotFound,
        ActionError::Invalid(msg) => AppError::BadRequest(msg),
        ActionError::Db(e) => e.into(),
        // Callers turn vetoes into an Outcome first.
        ActionError::Vetoed { module, reason } => {
            AppError::BadRequest(format!("{module}: {reason}"))
        }
    }
}

/// The answer: a redirect to `to`, or the page naming the refusals.
fn answer(
    state: &AppState,
    req: &HttpRequest,
    me: &CurrentUser,
    outcome: Outcome,
    to: String,
) -> Result<HttpResponse, AppError> {
    match outcome {
        Outcome::Done => Ok(see_other(&to)),
        Outcome::Refused(list) => {
            #[derive(serde::Serialize)]
            struct Refusal {
                number: i64,
                module: String,
                reason: String,
            }
            let list: Vec<Refusal> = list
                .into_iter()
                .map(|(number, module, reason)| Refusal {
                    number,
                    module,
                    reason,
                })
                .collect();
            let mut ctx = tera::Context::new();
            ctx.insert("refusals", &list);
            ctx.insert("back", &to);
            render_status(
                state,
                req,
                Some(me),
                "refused.html",
                ctx,
                StatusCode::CONFLICT,
            )
        }
    }
}

fn parse_status(s: &str) -> Result<ConversationStatus, AppError> {
    match s {
        "active" => Ok(ConversationStatus::Active),
        "pending" => Ok(ConversationStatus::Pending),
        "closed" => Ok(ConversationStatus::Closed),
        "spam" => Ok(ConversationStatus::Spam),
        _ => Err(AppError::BadRequest(
            "status must be active, pending, closed or spam".into(),
        )),
    }
}

fn parse_id(s: &str, what: &str) -> Result<i64, AppError> {
    s.trim()
        .trim_start_matches('#')
        .parse()
        .map_err(|_| AppError::BadRequest(format!("{what} must be a number")))
}

/// The assignee a form names: "" is nobody.
fn parse_assignee(s: &str) -> Result<Option<i64>, AppError> {
    if s.trim().is_empty() {
        Ok(None)
    } else {
        parse_id(s, "user_id").map(Some)
    }
}

/// Sets the status, turning a module's refusal into an [`Outcome`].
fn status_of(
    c: &mut AnyConnection,
    hooks: &crate::hooks::Registry,
    id: i64,
    status: ConversationStatus,
    by: i64,
) -> Result<Option<(i64, String, String)>, AppError> {
    match actions::set_status(c, hooks, id, status, by) {
        Ok(_) => Ok(None),
        Err(ActionError::Vetoed { module, reason }) => {
            let number: i64 = conversations::table
                .find(id)
                .select(conversations::number)
                .first(c)?;
            Ok(Some((number, module, reason)))
        }
        Err(e) => Err(app_error(e)),
    }
}

/// The conversation `other` names, by number first, then by id.
fn resolve(c: &mut AnyConnection, other: &str) -> Result<i64, AppError> {
    let n = parse_id(other, "other")?;
    let by_number: Option<i64> = conversations::table
        .filter(conversations::number.eq(n))
        .select(conversations::id)
        .first(c)
        .optional()?;
    match by_number {
        Some(id) => Ok(id),
        None => conversations::table
            .find(n)
            .select(conversations::id)
            .first(c)
            .optional()?
            .ok_or(AppError::NotFound),
    }
}

/// One change to one conversation, as a route or the bulk form asks for it.
#[derive(Debug, Clone)]
enum Action {
    Status(ConversationStatus),
    Assign(Option<i64>),
    Move(i64),
    /// Merge the conversation this names (number or id) into the one acted on.
    MergeIn(String),
    /// Merge the conversation with this id into the one acted on.
    MergeFrom(i64),
    Star(bool),
    Follow(bool),
    Delete,
    Restore,
}

impl Action {
    /// View access is enough for the user's own marks; the rest changes the conversation.
    fn needs(&self) -> Needs {
        match self {
            Action::Star(_) | Action::Follow(_) => Needs::View,
            _ => Needs::Reply,
        }
    }
}

/// Applies `action` to conversation `id` for `user`, whose access to it is checked. A
/// module's refusal of a status change comes back as `Some((number, module, reason))`.
fn apply(
    c: &mut AnyConnection,
    st: &AppState,
    user: &User,
    id: i64,
    action: &Action,
) -> Result<Option<(i64, String, String)>, AppError> {
    check(c, user, id, action.needs())?;
    let done = match action {
        Action::Status(status) => return status_of(c, &st.hooks, id, *status, user.id),
        Action::Assign(assignee) => actions::assign(c, id, *assignee, user.id).map(drop),
        Action::Move(mailbox_id) => {
            check_mailbox(c, user, *mailbox_id, Needs::Reply)?;
            actions::move_to_mailbox(c, id, *mailbox_id, user.id).map(drop)
        }
        Action::MergeIn(other) => {
            let source = resolve(c, other)?;
            return merge_into(c, user, source, id);
        }
        Action::MergeFrom(source) => return merge_into(c, user, *source, id),
        Action::Star(on) => actions::set_star(c, id, user.id, *on),
        Action::Follow(on) => actions::set_follow(c, id, user.id, *on),
        Action::Delete => actions::delete(c, id, user.id).map(drop),
        Action::Restore => actions::restore(c, id, user.id).map(drop),
    };
    done.map_err(app_error)?;
    Ok(None)
}

/// Merges `source` into `target` once the user's access to `source` is checked too.
fn merge_into(
    c: &mut AnyConnection,
    user: &User,
    source: i64,
    target: i64,
) -> Result<Option<(i64, String, String)>, AppError> {
    check(c, user, source, Needs::Reply)?;
    actions::merge(c, source, target, user.id).map_err(app_error)?;
    Ok(None)
}

/// A single-conversation route: applies the action, answers.
async fn single(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    id: i64,
    form: Form,
    action: Action,
) -> Result<HttpResponse, AppError> {
    let user = me.user.clone();
    let st = state.get_ref().clone();
    let refused = crate::db::run(&state.pool, move |c| apply(c, &st, &user, id, &action)).await?;
    let outcome = match refused {
        None => Outcome::Done,
        Some(r) => Outcome::Refused(vec![r]),
    };
    answer(
        &state,
        &req,
        &me,
        outcome,
        back(&form, format!("/conversations/{id}")),
    )
}

/// `on` = 1 (or absent) turns a mark on; 0 turns it off.
fn parse_on(form: &Form) -> bool {
    field(form, "on") != "0"
}

/// Declares a `POST /conversations/{id}/<name>` handler that reads its [`Action`] from
/// the form with `$read`.
macro_rules! action_route {
    ($(#[$doc:meta])* $name:ident, $read:expr) => {
        $(#[$doc])*
        pub async fn $name(
            state: web::Data<AppState>,
            req: HttpRequest,
            me: CurrentUser,
            path: web::Path<i64>,
            CsrfForm(form): CsrfForm<Form>,
        ) -> Result<HttpResponse, AppError> {
            let read: fn(&Form) -> Result<Action, AppError> = $read;
            let action = read(&form)?;
            single(state, req, me, path.into_inner(), form, action).await
        }
    };
}

action_route!(
    /// `POST /conversations/{id}/status` (`status` = active|pending|closed|spam).
    status,
    |f| parse_status(field(f, "status")).map(Action::Status)
);
action_route!(
    /// `POST /conversations/{id}/assign` (`user_id`, empty for nobody).
    assign,
    |f| parse_assignee(field(f, "user_id")).map(Action::Assign)
);
action_route!(
    /// `POST /conversations/{id}/move` (`mailbox_id`; reply access there too).
    move_to,
    |f| parse_id(field(f, "mailbox_id"), "mailbox_id").map(Action::Move)
);
action_route!(
    /// `POST /conversations/{id}/merge` (`other`: the number, or id, of the conversation to
    /// merge into this one; reply access to both).
    merge,
    |f| Ok(Action::MergeIn(field(f, "other").to_string()))
);
action_route!(
    /// `POST /conversations/{id}/star` (`on` = 1|0).
    star,
    |f| Ok(Action::Star(parse_on(f)))
);
action_route!(
    /// `POST /conversations/{id}/follow` (`on` = 1|0).
    follow,
    |f| Ok(Action::Follow(parse_on(f)))
);
action_route!(
    /// `POST /conversations/{id}/delete`: to Deleted.
    delete,
    |_| Ok(Action::Delete)
);
action_route!(
    /// `POST /conversations/{id}/restore`: back from Deleted.
    restore,
    |_| Ok(Action::Restore)
);

/// Most conversations one bulk request may change.
const BULK_MAX: usize = 500;

/// `POST /conversations/bulk`: `action` (assign|status|move|delete|spam|merge|restore) on
/// every `ids[]`, with `user_id`, `status` or `mailbox_id` as the action needs. Access is
/// checked for every conversation (reply access) before anything changes; each
/// conversation then changes in its own transaction. Merge puts all of them into the one
/// with the lowest number.
pub async fn bulk(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    CsrfForm(form): CsrfForm<Form>,
) -> Result<HttpResponse, AppError> {
    let action = match field(&form, "action") {
        "assign" => Some(Action::Assign(parse_assignee(field(&form, "user_id"))?)),
        "status" => Some(Action::Status(parse_status(field(&form, "status"))?)),
        "spam" => Some(Action::Status(ConversationStatus::Spam)),
        "move" => Some(Action::Move(parse_id(
            field(&form, "mailbox_id"),
            "mailbox_id",
        )?)),
        "delete" => Some(Action::Delete),
        "restore" => Some(Action::Restore),
        // Merge: the target is chosen once the ids are known.
        "merge" => None,
        _ => {
            return Err(AppError::BadRequest(
                "action must be assign, status, move, delete, spam, merge or restore".into(),
            ));
        }
    };
    let mut ids: Vec<i64> = form
        .iter()
        .filter(|(k, _)| k == "ids[]" || k == "ids")
        .map(|(_, v)| parse_id(v, "ids[]"))
        .collect::<Result<_, _>>()?;
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() || ids.len() > BULK_MAX {
        return Err(AppError::BadRequest(format!(
            "select between 1 and {BULK_MAX} conversations"
        )));
    }
    let user = me.user.clone();
    let st = state.get_ref().clone();
    let outcome = crate::db::run(&state.pool, move |c| {
        for id in &ids {
            check(c, &user, *id, Needs::Reply)?;
        }
        if let Some(Action::Move(mailbox_id)) = &action {
            check_mailbox(c, &user, *mailbox_id, Needs::Reply)?;
        }
        let mut refused = Vec::new();
        match &action {
            Some(each) => {
                for id in &ids {
                    refused.extend(apply(c, &st, &user, *id, each)?);
                }
            }
            None => {
                let into: i64 = conversations::table
                    .filter(conversations::id.eq_any(&ids))
                    .order(conversations::number)
                    .select(conversations::id)
                    .first(c)?;
                for id in ids.iter().filter(|id| **id != into) {
                    apply(c, &st, &user, into, &Action::MergeFrom(*id))?;
                }
            }
        }
        Ok(if refused.is_empty() {
            Outcome::Done
        } else {
            Outcome::Refused(refused)
        })
    })
    .await?;
    answer(&state, &req, &me, outcome, back(&form, "/".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Form {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn only_local_paths_are_followed_back() {
        let fallback = || "/conversations/1".to_string();
        assert_eq!(
            back(&form(&[("return", "/mailboxes/2?folder=mine")]), fallback()),
            "/mailboxes/2?folder=mine"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil",
            "",
            "mailboxes",
        ] {
            assert_eq!(
                back(&form(&[("return", bad)]), fallback()),
                fallback(),
                "{bad}"
            );
        }
    }

    #[test]
    fn form_values_are_checked() {
        assert!(parse_status("closed").is_ok());
        assert!(parse_status("archived").is_err());
        assert_eq!(parse_assignee("").ok(), Some(None));
        assert_eq!(parse_assignee("7").ok(), Some(Some(7)));
        assert!(parse_assignee("x").is_err());
        assert_eq!(parse_id("#12", "other").ok(), Some(12));
    }
}
