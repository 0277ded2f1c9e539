//! Writing mail from the web: what the reply editor sends (its HTML, pasted images and
//! attached uploads turned into files), the forward form, and the "New conversation" page
//! with its "log a phone call" form.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::AppState;
use crate::conversations::outgoing;
use crate::conversations::reply::{NewFile, ReplyError, SendContext};
use crate::crypto::Secrets;
use crate::db::AnyConnection;
use crate::db::types::MailboxAccess;
use crate::error::{AppError, html_escape};
use crate::i18n;
use crate::models::{mailbox, upload, user::User};
use crate::permissions;
use crate::storage::FileStore;
use crate::web::page::{render, render_status, see_other};
use crate::web::session::{CsrfForm, CurrentUser};

/// A form as name/value pairs (fields such as `upload` repeat).
pub(super) type Pairs = Vec<(String, String)>;

/// The first value of a field ("" when missing).
pub(super) fn field(form: &Pairs, name: &str) -> String {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// Every id given in a repeated numeric field; anything else is ignored.
pub(super) fn ids(form: &Pairs, name: &str) -> Vec<i64> {
    let mut out: Vec<i64> = form
        .iter()
        .filter(|(k, _)| k == name)
        .filter_map(|(_, v)| v.trim().parse().ok())
        .collect();
    out.dedup();
    out
}

/// Addresses typed in one box, separated by commas, semicolons or spaces.
pub(super) fn addresses(value: &str) -> Vec<String> {
    value
        .split([',', ';', ' ', '\n', '\r', '\t'])
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect()
}

/// Plain text (a textarea without the editor) as HTML paragraphs.
pub(super) fn text_to_html(text: &str) -> String {
    text.replace("\r\n", "\n")
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| format!("<p>{}</p>", html_escape(p).replace('\n', "<br>")))
        .collect()
}

/// The Content-ID a pasted image goes out with.
pub(super) fn upload_cid(id: i64) -> String {
    format!("upload-{id}@postdesk")
}

/// The editor's body made ready to store: plain text becomes paragraphs (`format` is
/// "html" only when the rich editor ran), pasted images (`src="/uploads/N"`) point at
/// their Content-ID, and the result passes the sanitizer. Returns the HTML and the upload
/// ids of the pasted images.
pub(super) fn editor_html(body: &str, format: &str) -> (String, Vec<i64>) {
    let html = if format == "html" {
        body.to_string()
    } else {
        text_to_html(body)
    };
    let mut inline = Vec::new();
    let mut out = String::with_capacity(html.len());
    let mut rest = html.as_str();
    const MARK: &str = "\"/uploads/";
    while let Some(at) = rest.find(MARK) {
        let after = &rest[at + MARK.len()..];
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        let closes = after[digits.len()..].starts_with('"');
        match digits.parse::<i64>() {
            Ok(id) if closes => {
                out.push_str(&rest[..at]);
                out.push_str(&format!("\"cid:{}\"", upload_cid(id)));
                if !inline.contains(&id) {
                    inline.push(id);
                }
                rest = &after[digits.len() + 1..];
            }
            _ => {
                out.push_str(&rest[..at + MARK.len()]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    (crate::sanitize::clean_email_html(&out), inline)
}

/// The reverse of [`editor_html`] for a saved draft going back into the editor.
pub(super) fn html_for_editor(stored: &str) -> String {
    let mut out = String::with_capacity(stored.len());
    let mut rest = stored;
    const MARK: &str = "\"cid:upload-";
    while let Some(at) = rest.find(MARK) {
        let after = &rest[at + MARK.len()..];
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        match after[digits.len()..].strip_prefix("@postdesk\"") {
            Some(tail) if !digits.is_empty() => {
                out.push_str(&rest[..at]);
                out.push_str(&format!("\"/uploads/{digits}\""));
                rest = tail;
            }
            _ => {
                out.push_str(&rest[..at + MARK.len()]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The agent's uploads as files for a message: pasted images inline under their
/// Content-ID, the rest attached. Uploads of other users are ignored.
pub(super) fn files_from_uploads(
    c: &mut AnyConnection,
    store: &FileStore,
    user_id: i64,
    inline: &[i64],
    attached: &[i64],
) -> Result<Vec<NewFile>, AppError> {
    let mut files = Vec::new();
    for (list, is_inline) in [(inline, true), (attached, false)] {
        for u in upload::owned(c, user_id, list)? {
            let data = store.get_attachment(&u.sha256).map_err(|e| {
                tracing::error!(upload.id = u.id, error = %e, "uploaded file missing");
                AppError::NotFound
            })?;
            files.push(NewFile {
                file_name: u.file_name,
                mime_type: u.mime_type,
                data,
                content_id: if is_inline {
                    upload_cid(u.id)
                } else {
                    String::new()
                },
            });
        }
    }
    Ok(files)
}

/// What sending from a web request needs; build it with [`Sending::of`] and lend it out
/// with [`Sending::context`].
pub(super) struct Sending {
    secrets: Secrets,
    /// The file store.
    pub files: FileStore,
    undo_seconds: u32,
    hooks: std::sync::Arc<crate::hooks::Registry>,
}

impl Sending {
    /// Loads the signing secret and names the file store.
    pub fn of(state: &AppState) -> Result<Sending, AppError> {
        Ok(Sending {
            secrets: Secrets::load_or_create(&state.config.data_dir)
                .map_err(|e| AppError::Internal(e.to_string()))?,
            files: FileStore::new(&state.config.data_dir),
            undo_seconds: state.config.outbox.undo_seconds,
            hooks: state.hooks.clone(),
        })
    }

    /// The context the domain functions take.
    pub fn context(&self) -> SendContext<'_> {
        SendContext {
            secrets: &self.secrets,
            files: &self.files,
            undo_seconds: self.undo_seconds,
            hooks: Some(&self.hooks),
        }
    }
}

/// A reply error the agent can fix, as a message in `lang`; other errors pass through.
pub(super) fn problem(lang: &str, e: ReplyError) -> Result<String, AppError> {
    match e {
        ReplyError::Empty => Ok(i18n::t(lang, "conv_error_empty")),
        ReplyError::BadAddress(a) if a.is_empty() => Ok(i18n::t(lang, "conv_error_no_recipient")),
        ReplyError::BadAddress(a) => {
            Ok(i18n::t(lang, "conv_error_bad_address").replace("{address}", &a))
        }
        ReplyError::NotFound => Err(AppError::NotFound),
        ReplyError::Database(d) => Err(d.into()),
        ReplyError::File(f) => Err(AppError::Internal(f.to_string())),
    }
}

/// Whether an access level lets an agent write (reply, note, forward, start mail).
pub(super) fn may_write(access: MailboxAccess) -> bool {
    matches!(access, MailboxAccess::Reply | MailboxAccess::Manage)
}

/// The mailbox `id` when `user` may write in it: 404 when they may not see it, 403 when
/// they may only read it.
fn writable_mailbox(
    c: &mut AnyConnection,
    user: &User,
    id: i64,
) -> Result<mailbox::Mailbox, AppError> {
    let access = permissions::mailbox_access(c, user, id)?.ok_or(AppError::NotFound)?;
    if !may_write(access) {
        return Err(AppError::Forbidden);
    }
    mailbox::list(c)?
        .into_iter()
        .find(|m| m.id == id)
        .ok_or(AppError::NotFound)
}

/// `POST /conversations/{id}/forward`: `to`, `note` (text), `thread_id` (empty: the latest
/// message).
pub async fn forward(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<Pairs>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let user = me.user.clone();
    let lang = i18n::supported(&me.user.locale);
    let sending = Sending::of(&state)?;
    let to = addresses(&field(&form, "to"));
    let note = text_to_html(&field(&form, "note"));
    let thread_id = field(&form, "thread_id").trim().parse::<i64>().ok();
    let outcome = crate::db::run(&state.pool, move |c| {
        super::conversation::writable(c, &user, id)?;
        match outgoing::forward(c, &sending.context(), id, thread_id, user.id, &to, &note) {
            Ok(_) => Ok(None),
            Err(e) => problem(lang, e).map(Some),
        }
    })
    .await?;
    super::conversation::back_to_page(&state, &req, &me, id, outcome, "conv_forwarded").await
}

/// `GET /mailboxes/{id}/new`: the "New conversation" page and the "Log a phone call" form.
pub async fn new_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let user = me.user.clone();
    let mb = crate::db::run(&state.pool, move |c| writable_mailbox(c, &user, id)).await?;
    render(
        &state,
        &req,
        Some(&me),
        "compose/new.html",
        new_page_context(mb),
    )
}

/// What the "New conversation" page shows for `mb`.
fn new_page_context(mb: mailbox::Mailbox) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert("mailbox", &super::home::views(vec![mb]).pop());
    ctx.insert("upload_limit", &super::uploads::UPLOAD_LIMIT);
    ctx
}

/// The form of the "New conversation" page, shown again after a mistake.
#[derive(Debug, Default, serde::Serialize)]
struct NewForm {
    to: String,
    cc: String,
    subject: String,
    body: String,
    one_each: bool,
}

/// `POST /mailboxes/{id}/new`: `to` (one or several), `cc`, `subject`, `body`, `format`,
/// `one_each`, repeated `upload`; goes to the (first) new conversation.
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<Pairs>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let user = me.user.clone();
    let lang = i18n::supported(&me.user.locale);
    let sending = Sending::of(&state)?;
    let shown = NewForm {
        to: field(&form, "to"),
        cc: field(&form, "cc"),
        subject: field(&form, "subject"),
        body: field(&form, "body"),
        one_each: !field(&form, "one_each").is_empty(),
    };
    let (body_html, inline) = editor_html(&shown.body, &field(&form, "format"));
    let attached = ids(&form, "upload");
    let input = outgoing::NewOutgoing {
        mailbox_id: id,
        user_id: me.user.id,
        to: addresses(&shown.to),
        cc: addresses(&shown.cc),
        subject: shown.subject.trim().to_string(),
        body_html,
        one_each: shown.one_each,
        files: Vec::new(),
    };
    let outcome = crate::db::run(&state.pool, move |c| {
        let mb = writable_mailbox(c, &user, id)?;
        let mut input = input;
        if input.subject.is_empty() {
            return Ok(Err((mb, i18n::t(lang, "conv_error_subject"))));
        }
        input.files = files_from_uploads(c, &sending.files, user.id, &inline, &attached)?;
        match outgoing::start_conversation(c, &sending.context(), &input) {
            Ok(ids) => Ok(Ok(ids)),
            Err(e) => problem(lang, e).map(|msg| Err((mb, msg))),
        }
    })
    .await?;
    match outcome {
        Ok(ids) => {
            let first = ids.first().copied().ok_or(AppError::NotFound)?;
            Ok(see_other(&format!(
                "/conversations/{first}?done=conv_started"
            )))
        }
        Err((mb, msg)) => {
            let mut ctx = new_page_context(mb);
            ctx.insert("form", &shown);
            ctx.insert("error", &msg);
            render_status(
                &state,
                &req,
                Some(&me),
                "compose/new.html",
                ctx,
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
}

/// `POST /mailboxes/{id}/phone`: `email`, `name`, `subject`, `note`; the call becomes a
/// phone conversation (never emailed).
pub async fn log_phone(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<Pairs>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let user = me.user.clone();
    let lang = i18n::supported(&me.user.locale);
    let email = field(&form, "email");
    let name = field(&form, "name");
    let subject = field(&form, "subject").trim().to_string();
    let note = text_to_html(&field(&form, "note"));
    let outcome = crate::db::run(&state.pool, move |c| {
        let mb = writable_mailbox(c, &user, id)?;
        if subject.is_empty() {
            return Ok(Err((mb, i18n::t(lang, "conv_error_subject"))));
        }
        match outgoing::log_phone(c, id, user.id, &email, &name, &subject, &note) {
            Ok(conv) => Ok(Ok(conv)),
            Err(e) => problem(lang, e).map(|msg| Err((mb, msg))),
        }
    })
    .await?;
    match outcome {
        Ok(conv) => Ok(see_other(&format!(
            "/conversations/{conv}?done=conv_phone_logged"
        ))),
        Err((mb, msg)) => {
            let mut ctx = new_page_context(mb);
            ctx.insert("error", &msg);
            render_status(
                &state,
                &req,
                Some(&me),
                "compose/new.html",
                ctx,
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_images_become_content_ids_and_come_back() {
        let (html, inline) = editor_html(
            r#"<p><b>Hi</b><img src="/uploads/12"><img src="/uploads/x"><img src="/uploads/12"></p>"#,
            "html",
        );
        assert_eq!(inline, vec![12]);
        assert!(html.contains(r#"src="cid:upload-12@postdesk""#), "{html}");
        assert!(
            !html.contains("/uploads/x"),
            "relative URLs are dropped: {html}"
        );
        let back = html_for_editor(&html);
        assert!(back.contains(r#"src="/uploads/12""#), "{back}");
    }

    #[test]
    fn plain_text_becomes_escaped_paragraphs() {
        assert_eq!(
            text_to_html("Hello <b>\nthere\n\n\nBye"),
            "<p>Hello &lt;b&gt;<br>there</p><p>Bye</p>"
        );
        let (html, _) = editor_html("<script>x</script>", "text");
        assert_eq!(html, "<p>&lt;script&gt;x&lt;/script&gt;</p>");
    }

    #[test]
    fn address_boxes_split_on_commas_and_spaces() {
        assert_eq!(
            addresses(" a@x.test, b@y.test;c@z.test\n"),
            vec!["a@x.test", "b@y.test", "c@z.test"]
        );
    }
}
