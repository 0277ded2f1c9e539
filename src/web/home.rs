//! The start page: the mailboxes the user may see.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::AppState;
use crate::error::AppError;
use crate::models::mailbox;
use crate::permissions;
use crate::web::page::render;
use crate::web::session::CurrentUser;

/// `GET /`: the mailboxes the user may see.
pub async fn home(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let user = me.user.clone();
    let boxes = crate::db::run(&state.pool, move |c| {
        Ok(permissions::visible_mailboxes(c, &user)?)
    })
    .await?;
    let mut ctx = tera::Context::new();
    ctx.insert("mailboxes", &views(boxes));
    render(&state, &req, Some(&me), "home.html", ctx)
}

/// A mailbox as pages and the API show it.
#[derive(Debug, serde::Serialize)]
pub struct MailboxView {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Address.
    pub email: String,
}

/// Mailboxes as views.
pub fn views(boxes: Vec<mailbox::Mailbox>) -> Vec<MailboxView> {
    boxes
        .into_iter()
        .map(|m| MailboxView {
            id: m.id,
            name: m.name,
            email: m.email,
        })
        .collect()
}
