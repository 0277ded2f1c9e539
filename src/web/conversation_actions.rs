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

/// One single-conversation action: checks access, runs `work`, answers.
async fn single<F>(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    id: i64,
    form: Form,
    needs: Needs,
    work: F,
) -> Result<HttpResponse, AppError>
where
    F: FnOnce(&mut AnyConnection, &AppState, &User) -> Result<Outcome, AppError> + Send + 'static,
{
    let user = me.user.clone();
    let st = state.get_ref().clone();
    let outcome = crate::db::run(&state.pool, move |c| {
        check(c, &user, id, needs)?;
        work(c, &st, &user)
    })
    .await?;
    let to = back(&form, format!("/conversations/{id}"));
    answer(&state, &req, &me, outcome, to)
}

/// `POST /conversations/{id}/status` (`status` = active|pending|closed|spam).
pub async fn status(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<Form>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let wanted = parse_status(field(&form, "status"))?;
    single(state, req, me, id, form, Needs::Reply, move |c, st, u| {
        Ok(match status_of(c, &st.hooks, id, wanted, u.id)? {
            None => Outcome::Done,
            Some(refused) => Outcome::Refused(vec![refused]),
        })
    })
    .await
}

/// `POST /conversations/{id}/assign` (`user_id`, empty for nobody).
pub async fn assign(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<Form>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let assignee = parse_assignee(field(&form, "user_id"))?;
    single(state, req, me, id, form, Needs::Reply, move |c, _, u| {
        actions::assign(c, id, assignee, u.id).map_err(app_error)?;
        Ok(Outcome::Done)
    })
    .await
}

/// `POST /conversations/{id}/move` (`mailbox_id`; reply access there too).
pub async fn move_to(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<Form>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let target = parse_id(field(&form, "mailbox_id"), "mailbox_id")?;
    single(state, req, me, id, form, Needs::Reply, move |c, _, u| {
        check_mailbox(c, u, target, Needs::Reply)?;
        actions::move_to_mailbox(c, id, target, u.id).map_err(app_error)?;
        Ok(Outcome::Done)
    })
    .await
}

/// `POST /conversations/{id}/merge` (`other`: the number, or id, of the conversation to
/// merge into this one; reply access to both).
pub async fn merge(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<Form>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let other = field(&form, "other").to_string();
    single(state, req, me, id, form, Needs::Reply, move |c, _, u| {
        let source = resolve(c, &other)?;
        check(c, u, source, Needs::Reply)?;
        actions::merge(c, source, id, u.id).map_err(app_error)?;
        Ok(Outcome::Done)
    })
    .await
}

/// `on` = 1 (or absent) turns a mark on; 0 turns it off.
fn parse_on(form: &Form) -> bool {
    field(form, "on") != "0"
}

/// `POST /conversations/{id}/star` (`on` = 1|0).
pub async fn star(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<Form>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let on = parse_on(&form);
    single(state, req, me, id, form, Needs::View, move |c, _, u| {
        actions::set_star(c, id, u.id, on).map_err(app_error)?;
        Ok(Outcome::Done)
    })
    .await
}

/// `POST /conversations/{id}/follow` (`on` = 1|0).
pub async fn follow(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<Form>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let on = parse_on(&form);
    single(state, req, me, id, form, Needs::View, move |c, _, u| {
        actions::set_follow(c, id, u.id, on).map_err(app_error)?;
        Ok(Outcome::Done)
    })
    .await
}

/// `POST /conversations/{id}/delete`: to Deleted.
pub async fn delete(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<Form>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    single(state, req, me, id, form, Needs::Reply, move |c, _, u| {
        actions::delete(c, id, u.id).map_err(app_error)?;
        Ok(Outcome::Done)
    })
    .await
}

/// `POST /conversations/{id}/restore`: back from Deleted.
pub async fn restore(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<Form>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    single(state, req, me, id, form, Needs::Reply, move |c, _, u| {
        actions::restore(c, id, u.id).map_err(app_error)?;
        Ok(Outcome::Done)
    })
    .await
}

/// A bulk action's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bulk {
    Assign,
    Status,
    Move,
    Delete,
    Spam,
    Merge,
    Restore,
}

fn parse_bulk(s: &str) -> Result<Bulk, AppError> {
    Ok(match s {
        "assign" => Bulk::Assign,
        "status" => Bulk::Status,
        "move" => Bulk::Move,
        "delete" => Bulk::Delete,
        "spam" => Bulk::Spam,
        "merge" => Bulk::Merge,
        "restore" => Bulk::Restore,
        _ => {
            return Err(AppError::BadRequest(
                "action must be assign, status, move, delete, spam, merge or restore".into(),
            ));
        }
    })
}

/// Most conversations one bulk request may change.
const BULK_MAX: usize = 500;

/// `POST /conversations/bulk`: `action` (assign|status|move|delete|spam|merge|restore) on
/// every `ids[]`, with `user_id`, `status` or `mailbox_id` as the action needs. Access is
/// checked for every conversation (reply access) before anything changes. Merge puts all
/// of them into the one with the lowest number.
pub async fn bulk(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    CsrfForm(form): CsrfForm<Form>,
) -> Result<HttpResponse, AppError> {
    let action = parse_bulk(field(&form, "action"))?;
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
    let status = match action {
        Bulk::Status => Some(parse_status(field(&form, "status"))?),
        Bulk::Spam => Some(ConversationStatus::Spam),
        _ => None,
    };
    let assignee = match action {
        Bulk::Assign => parse_assignee(field(&form, "user_id"))?,
        _ => None,
    };
    let target = match action {
        Bulk::Move => Some(parse_id(field(&form, "mailbox_id"), "mailbox_id")?),
        _ => None,
    };
    let user = me.user.clone();
    let st = state.get_ref().clone();
    let outcome = crate::db::run(&state.pool, move |c| {
        for id in &ids {
            check(c, &user, *id, Needs::Reply)?;
        }
        if let Some(mailbox) = target {
            check_mailbox(c, &user, mailbox, Needs::Reply)?;
        }
        let mut refused = Vec::new();
        match action {
            Bulk::Merge => {
                let into: i64 = conversations::table
                    .filter(conversations::id.eq_any(&ids))
                    .order(conversations::number)
                    .select(conversations::id)
                    .first(c)?;
                for id in ids.iter().filter(|id| **id != into) {
                    actions::merge(c, *id, into, user.id).map_err(app_error)?;
                }
            }
            _ => {
                for id in &ids {
                    match action {
                        Bulk::Assign => {
                            actions::assign(c, *id, assignee, user.id).map_err(app_error)?;
                        }
                        Bulk::Move => {
                            if let Some(mailbox) = target {
                                actions::move_to_mailbox(c, *id, mailbox, user.id)
                                    .map_err(app_error)?;
                            }
                        }
                        Bulk::Delete => {
                            actions::delete(c, *id, user.id).map_err(app_error)?;
                        }
                        Bulk::Restore => {
                            actions::restore(c, *id, user.id).map_err(app_error)?;
                        }
                        Bulk::Status | Bulk::Spam | Bulk::Merge => {
                            if let Some(s) = status {
                                refused.extend(status_of(c, &st.hooks, *id, s, user.id)?);
                            }
                        }
                    }
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
        assert!(parse_bulk("explode").is_err());
    }
}
