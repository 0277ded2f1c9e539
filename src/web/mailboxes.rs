//! Settings → Mailboxes: list, create, edit (identity, incoming IMAP, outgoing mail,
//! auto-reply), "Test connection" and "Send test email". Admins manage every mailbox; an
//! agent with "manage" access manages that mailbox only ([`crate::permissions`] decides).
//! Stored passwords are never sent back to the browser: an empty password field keeps the
//! stored one.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::crypto::Secrets;
use crate::db::AnyConnection;
use crate::db::types::{
    AfterFetch, AssignAfterReply, ConversationStatus, FromNameMode, MailSecurity, MailboxAccess,
    OutMethod,
};
use crate::error::AppError;
use crate::i18n;
use crate::models::activity::{self, Activity};
use crate::models::mailbox::{
    self, InboundChanges, InboundSettings, Invalid, OutboundChanges, OutboundSettings,
};
use crate::permissions;
use crate::web::account::EmptyForm;
use crate::web::home::views;
use crate::web::page::{render, render_status, see_other};
use crate::web::session::{CsrfForm, CurrentUser, client_ip};

/// The mailbox form as typed; every field is text so a bad value can be shown back.
/// Passwords are write-only: they are never filled in when the page is shown.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct MailboxForm {
    name: String,
    email: String,
    aliases: String,
    in_host: String,
    in_port: String,
    in_security: String,
    in_username: String,
    #[serde(skip_serializing)]
    in_password: String,
    in_folders: String,
    in_after_fetch: String,
    in_move_folder: String,
    fetch_interval: String,
    subject_token: Option<String>,
    out_method: String,
    out_host: String,
    out_port: String,
    out_security: String,
    out_username: String,
    #[serde(skip_serializing)]
    out_password: String,
    from_name_mode: String,
    from_name_custom: String,
    signature: String,
    auto_reply_enabled: Option<String>,
    auto_reply_subject: String,
    auto_reply_body: String,
    auto_bcc: String,
    status_after_reply: String,
    assign_after_reply: String,
}

fn security_name(n: i16) -> &'static str {
    match MailSecurity::from_i16(n) {
        Some(MailSecurity::StartTls) => "starttls",
        Some(MailSecurity::None) => "none",
        _ => "tls",
    }
}

fn parse_security(s: &str) -> Option<MailSecurity> {
    match s {
        "tls" => Some(MailSecurity::Tls),
        "starttls" => Some(MailSecurity::StartTls),
        "none" => Some(MailSecurity::None),
        _ => None,
    }
}

fn on(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|v| !v.is_empty() && v != "0")
}

impl MailboxForm {
    /// The form for a new mailbox: the usual ports, leave mail alone, Pending after reply.
    fn blank() -> MailboxForm {
        MailboxForm {
            in_port: "993".into(),
            in_security: "tls".into(),
            in_folders: "INBOX".into(),
            in_after_fetch: "leave".into(),
            fetch_interval: "60".into(),
            out_method: "smtp".into(),
            out_port: "587".into(),
            out_security: "starttls".into(),
            from_name_mode: "mailbox".into(),
            from_name_custom: "{agent} at {mailbox}".into(),
            status_after_reply: "pending".into(),
            assign_after_reply: "replier".into(),
            ..MailboxForm::default()
        }
    }

    /// The stored settings as a form (passwords left out).
    fn from_settings(i: &InboundSettings, o: &OutboundSettings) -> MailboxForm {
        MailboxForm {
            name: i.name.clone(),
            email: i.email.clone(),
            aliases: i.aliases.clone(),
            in_host: i.in_host.clone(),
            in_port: i.in_port.to_string(),
            in_security: security_name(i.in_security).into(),
            in_username: i.in_username.clone(),
            in_password: String::new(),
            in_folders: i.folders().join("\n"),
            in_after_fetch: match i.after_fetch() {
                AfterFetch::Leave => "leave",
                AfterFetch::MarkSeen => "seen",
                AfterFetch::Move => "move",
            }
            .into(),
            in_move_folder: i.in_move_folder.clone(),
            fetch_interval: i.fetch_interval_secs.to_string(),
            subject_token: i.subject_token_threading.then(|| "on".into()),
            out_method: match OutMethod::from_i16(o.out_method) {
                Some(OutMethod::Sendmail) => "sendmail",
                _ => "smtp",
            }
            .into(),
            out_host: o.out_host.clone(),
            out_port: o.out_port.to_string(),
            out_security: security_name(o.out_security).into(),
            out_username: o.out_username.clone(),
            out_password: String::new(),
            from_name_mode: match FromNameMode::from_i16(o.from_name_mode) {
                Some(FromNameMode::Agent) => "agent",
                Some(FromNameMode::Custom) => "custom",
                _ => "mailbox",
            }
            .into(),
            from_name_custom: o.from_name_custom.clone(),
            signature: o.signature.clone(),
            auto_reply_enabled: o.auto_reply_enabled.then(|| "on".into()),
            auto_reply_subject: o.auto_reply_subject.clone(),
            auto_reply_body: o.auto_reply_body.clone(),
            auto_bcc: o.auto_bcc.clone(),
            status_after_reply: match ConversationStatus::from_i16(o.status_after_reply) {
                Some(ConversationStatus::Active) => "active",
                Some(ConversationStatus::Closed) => "closed",
                _ => "pending",
            }
            .into(),
            assign_after_reply: match AssignAfterReply::from_i16(o.assign_after_reply) {
                Some(AssignAfterReply::Keep) => "keep",
                _ => "replier",
            }
            .into(),
        }
    }

    /// Checks every field and builds the changes; an empty password keeps the stored one.
    /// Every problem is reported at once, one per field.
    fn to_changes(
        &self,
        secrets: &Secrets,
    ) -> Result<(InboundChanges, OutboundChanges), Vec<Invalid>> {
        let mut bad = Vec::new();
        let mut check = |r: Result<(), Invalid>| {
            if let Err(e) = r {
                bad.push(e);
            }
        };
        let name = self.name.trim().to_string();
        if name.is_empty() {
            check(Err(Invalid {
                field: "name",
                key: "mb_err_name",
            }));
        }
        let email = mailbox::check_address("email", &self.email);
        check(email.as_ref().map(|_| ()).map_err(|e| *e));
        let aliases = mailbox::check_aliases(&self.aliases);
        check(aliases.as_ref().map(|_| ()).map_err(|e| *e));
        let port = |field: &'static str, v: &str, default: i64| {
            let v = v.trim();
            if v.is_empty() {
                return mailbox::check_port(field, default);
            }
            v.parse::<i64>()
                .map_err(|_| Invalid {
                    field,
                    key: "mb_err_port",
                })
                .and_then(|p| mailbox::check_port(field, p))
        };
        let in_security = parse_security(&self.in_security).ok_or(Invalid {
            field: "in_security",
            key: "mb_err_choice",
        });
        check(in_security.map(|_| ()));
        let in_port = port(
            "in_port",
            &self.in_port,
            if self.in_security == "tls" { 993 } else { 143 },
        );
        check(in_port.map(|_| ()));
        let after = match self.in_after_fetch.as_str() {
            "leave" => Ok(AfterFetch::Leave),
            "seen" => Ok(AfterFetch::MarkSeen),
            "move" => Ok(AfterFetch::Move),
            _ => Err(Invalid {
                field: "in_after_fetch",
                key: "mb_err_choice",
            }),
        };
        check(after.map(|_| ()));
        if let Ok(a) = after {
            check(mailbox::check_move_folder(a, &self.in_move_folder));
        }
        let interval = self.fetch_interval.trim();
        let interval = if interval.is_empty() {
            Ok(60)
        } else {
            interval.parse::<i64>().map_err(|_| Invalid {
                field: "fetch_interval",
                key: "mb_err_number",
            })
        };
        check(interval.map(|_| ()));
        let out_method = match self.out_method.as_str() {
            "smtp" => Ok(OutMethod::Smtp),
            "sendmail" => Ok(OutMethod::Sendmail),
            _ => Err(Invalid {
                field: "out_method",
                key: "mb_err_choice",
            }),
        };
        check(out_method.map(|_| ()));
        let out_security = parse_security(&self.out_security).ok_or(Invalid {
            field: "out_security",
            key: "mb_err_choice",
        });
        check(out_security.map(|_| ()));
        let out_port = port(
            "out_port",
            &self.out_port,
            match self.out_security.as_str() {
                "tls" => 465,
                "none" => 25,
                _ => 587,
            },
        );
        check(out_port.map(|_| ()));
        let from_mode = match self.from_name_mode.as_str() {
            "mailbox" => Ok(FromNameMode::Mailbox),
            "agent" => Ok(FromNameMode::Agent),
            "custom" => Ok(FromNameMode::Custom),
            _ => Err(Invalid {
                field: "from_name_mode",
                key: "mb_err_choice",
            }),
        };
        check(from_mode.map(|_| ()));
        if from_mode == Ok(FromNameMode::Custom) && self.from_name_custom.trim().is_empty() {
            check(Err(Invalid {
                field: "from_name_custom",
                key: "mb_err_from_pattern",
            }));
        }
        let auto_reply = on(&self.auto_reply_enabled);
        if auto_reply && self.auto_reply_body.trim().is_empty() {
            check(Err(Invalid {
                field: "auto_reply_body",
                key: "mb_err_auto_reply",
            }));
        }
        let bcc = if self.auto_bcc.trim().is_empty() {
            Ok(String::new())
        } else {
            mailbox::check_address("auto_bcc", &self.auto_bcc)
        };
        check(bcc.as_ref().map(|_| ()).map_err(|e| *e));
        let status = match self.status_after_reply.as_str() {
            "active" => Ok(ConversationStatus::Active),
            "pending" => Ok(ConversationStatus::Pending),
            "closed" => Ok(ConversationStatus::Closed),
            _ => Err(Invalid {
                field: "status_after_reply",
                key: "mb_err_choice",
            }),
        };
        check(status.map(|_| ()));
        let assign = match self.assign_after_reply.as_str() {
            "replier" => Ok(AssignAfterReply::ReplierIfUnassigned),
            "keep" => Ok(AssignAfterReply::Keep),
            _ => Err(Invalid {
                field: "assign_after_reply",
                key: "mb_err_choice",
            }),
        };
        check(assign.map(|_| ()));
        if !bad.is_empty() {
            return Err(bad);
        }
        // Every value was checked above; the fallbacks below are never used.
        let password = |p: &str| (!p.is_empty()).then(|| secrets.encrypt(p));
        let folders: Vec<String> = self
            .in_folders
            .split(['\n', ','])
            .map(|f| f.trim().to_string())
            .collect();
        let inbound = InboundChanges {
            name: Some(name),
            email: email.ok(),
            aliases: aliases.ok(),
            in_host: Some(self.in_host.trim().to_string()),
            in_port: in_port.ok(),
            in_security: in_security.ok().map(MailSecurity::as_i16),
            in_username: Some(self.in_username.trim().to_string()),
            in_password: password(&self.in_password),
            in_folders: Some(mailbox::folders_json(&folders)),
            in_after_fetch: after.ok().map(AfterFetch::as_i16),
            in_move_folder: Some(self.in_move_folder.trim().to_string()),
            fetch_interval_secs: interval.ok().map(mailbox::clamp_fetch_interval),
            subject_token_threading: Some(on(&self.subject_token)),
            updated_at: None,
        };
        let outbound = OutboundChanges {
            out_method: out_method.ok().map(OutMethod::as_i16),
            out_host: Some(self.out_host.trim().to_string()),
            out_port: out_port.ok(),
            out_security: out_security.ok().map(MailSecurity::as_i16),
            out_username: Some(self.out_username.trim().to_string()),
            out_password: password(&self.out_password),
            from_name_mode: from_mode.ok().map(FromNameMode::as_i16),
            from_name_custom: Some(self.from_name_custom.trim().to_string()),
            signature: Some(self.signature.clone()),
            auto_reply_enabled: Some(auto_reply),
            auto_reply_subject: Some(self.auto_reply_subject.trim().to_string()),
            auto_reply_body: Some(self.auto_reply_body.clone()),
            auto_bcc: bcc.ok(),
            status_after_reply: status.ok().map(ConversationStatus::as_i16),
            assign_after_reply: assign.ok().map(AssignAfterReply::as_i16),
        };
        Ok((inbound, outbound))
    }
}

/// What a test button found, shown on the edit page.
#[derive(Debug, Serialize)]
struct TestResult {
    /// Which test: `imap` or `smtp`.
    kind: &'static str,
    ok: bool,
    /// The server's answer or the error.
    message: String,
}

/// Everything the edit page shows besides the form.
#[derive(Debug, Default)]
struct EditExtras {
    errors: BTreeMap<String, String>,
    test: Option<TestResult>,
    test_to: String,
}

/// The edit (or new) page. `id` None is the new-mailbox form.
#[allow(clippy::too_many_arguments)]
fn edit_page(
    state: &AppState,
    req: &HttpRequest,
    me: &CurrentUser,
    id: Option<i64>,
    form: &MailboxForm,
    passwords: (bool, bool),
    extras: EditExtras,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let mut ctx = tera::Context::new();
    ctx.insert("mailbox_id", &id);
    ctx.insert("form", form);
    ctx.insert("in_password_set", &passwords.0);
    ctx.insert("out_password_set", &passwords.1);
    ctx.insert("field_errors", &extras.errors);
    ctx.insert("test", &extras.test);
    ctx.insert("test_to", &extras.test_to);
    if !extras.errors.is_empty() {
        ctx.insert("error", &i18n::t(page_lang(req, me), "mb_err_fix_fields"));
    }
    render_status(
        state,
        req,
        Some(me),
        "settings/mailbox_edit.html",
        ctx,
        status,
    )
}

fn page_lang(req: &HttpRequest, me: &CurrentUser) -> &'static str {
    crate::web::page::language(req, Some(me))
}

fn field_errors(lang: &str, bad: &[Invalid]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for b in bad {
        out.entry(b.field.to_string())
            .or_insert_with(|| i18n::t(lang, b.key));
    }
    out
}

/// 404 when the user may not see the mailbox (no hint that it exists), 403 when they
/// may see it but not change it.
fn require_manage(conn: &mut AnyConnection, me: &CurrentUser, id: i64) -> Result<(), AppError> {
    match permissions::mailbox_access(conn, &me.user, id)? {
        None => Err(AppError::NotFound),
        Some(MailboxAccess::Manage) => Ok(()),
        Some(_) => Err(AppError::Forbidden),
    }
}

type Stored = (InboundSettings, OutboundSettings);

fn load_settings(conn: &mut AnyConnection, id: i64) -> Result<Stored, AppError> {
    let i = mailbox::inbound_settings(conn, id)?.ok_or(AppError::NotFound)?;
    let o = mailbox::outbound_settings(conn, id)?.ok_or(AppError::NotFound)?;
    Ok((i, o))
}

fn has_passwords((i, o): &Stored) -> (bool, bool) {
    (!i.in_password.is_empty(), !o.out_password.is_empty())
}

fn secrets(state: &AppState) -> Result<Secrets, AppError> {
    Secrets::load_or_create(&state.config.data_dir).map_err(|e| AppError::Internal(e.to_string()))
}

/// `GET /settings/mailboxes`: the mailboxes the user may manage.
pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let user = me.user.clone();
    let boxes = crate::db::run(&state.pool, move |c| {
        Ok(permissions::manageable_mailboxes(c, &user)?)
    })
    .await?;
    if boxes.is_empty() && !me.user.is_admin() {
        return Err(AppError::Forbidden);
    }
    let mut ctx = tera::Context::new();
    ctx.insert("mailboxes", &views(boxes));
    render(&state, &req, Some(&me), "settings/mailboxes.html", ctx)
}

/// `GET /settings/mailboxes/new` (admins).
pub async fn new_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
) -> Result<HttpResponse, AppError> {
    if !me.user.is_admin() {
        return Err(AppError::Forbidden);
    }
    edit_page(
        &state,
        &req,
        &me,
        None,
        &MailboxForm::blank(),
        (false, false),
        EditExtras::default(),
        StatusCode::OK,
    )
}

/// A unique-key violation: the address belongs to another mailbox.
fn taken(e: &AppError) -> bool {
    matches!(
        e,
        AppError::Database(crate::db::DbError::Query(
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            )
        ))
    )
}

const EMAIL_TAKEN: Invalid = Invalid {
    field: "email",
    key: "mb_err_email_taken",
};

/// `POST /settings/mailboxes` (admins): creates the mailbox with every setting in one
/// transaction.
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    CsrfForm(form): CsrfForm<MailboxForm>,
) -> Result<HttpResponse, AppError> {
    if !me.user.is_admin() {
        return Err(AppError::Forbidden);
    }
    let lang = page_lang(&req, &me);
    let invalid = |bad: &[Invalid]| {
        edit_page(
            &state,
            &req,
            &me,
            None,
            &form,
            (false, false),
            EditExtras {
                errors: field_errors(lang, bad),
                ..EditExtras::default()
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let (inbound, outbound) = match form.to_changes(&secrets(&state)?) {
        Ok(c) => c,
        Err(bad) => return invalid(&bad),
    };
    let admin_id = me.user.id;
    let ip = client_ip(&req);
    let name = inbound.name.clone().unwrap_or_default();
    let email = inbound.email.clone().unwrap_or_default();
    let created = crate::db::run(&state.pool, move |c| {
        crate::db::dialect::write_transaction(&mut *c, |c| {
            let now = crate::db::now();
            let id = mailbox::create(
                c,
                &mailbox::NewMailbox {
                    name: &name,
                    email: &email,
                    created_at: now,
                    updated_at: now,
                },
            )?;
            mailbox::update(c, id, inbound)?;
            mailbox::update_outbound(c, id, outbound)?;
            activity::record(
                c,
                &Activity {
                    user_id: Some(admin_id),
                    action: "mailbox_created",
                    subject_type: "mailbox",
                    subject_id: Some(id),
                    details: &email,
                    ip: &ip,
                },
                now,
            )?;
            Ok::<_, AppError>(id)
        })
    })
    .await;
    match created {
        Ok(id) => Ok(see_other(&format!("/settings/mailboxes/{id}?done=saved"))),
        Err(e) if taken(&e) => invalid(&[EMAIL_TAKEN]),
        Err(e) => Err(e),
    }
}

/// `GET /settings/mailboxes/{id}`.
pub async fn edit(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let who = me.clone();
    let stored = crate::db::run(&state.pool, move |c| {
        require_manage(c, &who, id)?;
        load_settings(c, id)
    })
    .await?;
    edit_page(
        &state,
        &req,
        &me,
        Some(id),
        &MailboxForm::from_settings(&stored.0, &stored.1),
        has_passwords(&stored),
        EditExtras::default(),
        StatusCode::OK,
    )
}

/// `POST /settings/mailboxes/{id}`: saves every setting in one transaction, or none.
pub async fn save(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<MailboxForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let who = me.clone();
    let stored = crate::db::run(&state.pool, move |c| {
        require_manage(c, &who, id)?;
        load_settings(c, id)
    })
    .await?;
    let lang = page_lang(&req, &me);
    let invalid = |bad: &[Invalid]| {
        edit_page(
            &state,
            &req,
            &me,
            Some(id),
            &form,
            has_passwords(&stored),
            EditExtras {
                errors: field_errors(lang, bad),
                ..EditExtras::default()
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let (inbound, outbound) = match form.to_changes(&secrets(&state)?) {
        Ok(c) => c,
        Err(bad) => return invalid(&bad),
    };
    let who = me.clone();
    let ip = client_ip(&req);
    let saved = crate::db::run(&state.pool, move |c| {
        crate::db::dialect::write_transaction(&mut *c, |c| {
            // Checked again inside the transaction: access may have changed meanwhile.
            require_manage(c, &who, id)?;
            let email = inbound.email.clone().unwrap_or_default();
            if !mailbox::update(c, id, inbound)? || !mailbox::update_outbound(c, id, outbound)? {
                return Err(AppError::NotFound);
            }
            activity::record(
                c,
                &Activity {
                    user_id: Some(who.user.id),
                    action: "mailbox_changed",
                    subject_type: "mailbox",
                    subject_id: Some(id),
                    details: &email,
                    ip: &ip,
                },
                crate::db::now(),
            )?;
            Ok(())
        })
    })
    .await;
    match saved {
        Ok(()) => Ok(see_other(&format!("/settings/mailboxes/{id}?done=saved"))),
        Err(e) if taken(&e) => invalid(&[EMAIL_TAKEN]),
        Err(e) => Err(e),
    }
}

/// Re-shows the saved settings with a test's result.
async fn show_result(
    state: &AppState,
    req: &HttpRequest,
    me: &CurrentUser,
    id: i64,
    stored: &Stored,
    extras: EditExtras,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    edit_page(
        state,
        req,
        me,
        Some(id),
        &MailboxForm::from_settings(&stored.0, &stored.1),
        has_passwords(stored),
        extras,
        status,
    )
}

/// `POST /settings/mailboxes/{id}/test-imap`: logs in to the saved IMAP server on a
/// blocking thread and shows the server's own answer.
pub async fn test_imap(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    id: web::Path<i64>,
    _form: CsrfForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let who = me.clone();
    let stored = crate::db::run(&state.pool, move |c| {
        require_manage(c, &who, id)?;
        load_settings(c, id)
    })
    .await?;
    let settings = stored.0.clone();
    let secrets = secrets(&state)?;
    let lang = page_lang(&req, &me);
    let outcome = web::block(move || {
        if settings.in_host.trim().is_empty() {
            return Err(i18n::t(lang, "mb_test_no_imap"));
        }
        crate::mail::inbound::fetch::test_connection(&settings, &secrets).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| AppError::Internal(format!("blocking task failed: {e}")))?;
    let test = match outcome {
        Ok(message) => TestResult {
            kind: "imap",
            ok: true,
            message,
        },
        Err(message) => TestResult {
            kind: "imap",
            ok: false,
            message,
        },
    };
    show_result(
        &state,
        &req,
        &me,
        id,
        &stored,
        EditExtras {
            test: Some(test),
            ..EditExtras::default()
        },
        StatusCode::OK,
    )
    .await
}

/// The "send test email" form.
#[derive(Debug, Deserialize)]
pub struct TestMailForm {
    #[serde(default)]
    to: String,
}

/// `POST /settings/mailboxes/{id}/test-smtp`: sends a test message to the typed address
/// through the saved outgoing settings on a blocking thread; shows the server's answer.
pub async fn test_smtp(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<TestMailForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let who = me.clone();
    let stored = crate::db::run(&state.pool, move |c| {
        require_manage(c, &who, id)?;
        load_settings(c, id)
    })
    .await?;
    let lang = page_lang(&req, &me);
    let to = match mailbox::check_address("test_to", &form.to) {
        Ok(to) => to,
        Err(bad) => {
            return show_result(
                &state,
                &req,
                &me,
                id,
                &stored,
                EditExtras {
                    errors: field_errors(lang, &[bad]),
                    test_to: form.to.clone(),
                    ..EditExtras::default()
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let settings = stored.1.clone();
    let secrets = secrets(&state)?;
    let target = to.clone();
    let outcome = web::block(move || {
        crate::mail::outbound::transport::send_test(&settings, &secrets, &target)
    })
    .await
    .map_err(|e| AppError::Internal(format!("blocking task failed: {e}")))?;
    let test = match outcome {
        Ok(answer) => TestResult {
            kind: "smtp",
            ok: true,
            message: answer,
        },
        Err(e) => TestResult {
            kind: "smtp",
            ok: false,
            message: e.message,
        },
    };
    show_result(
        &state,
        &req,
        &me,
        id,
        &stored,
        EditExtras {
            test: Some(test),
            test_to: to,
            ..EditExtras::default()
        },
        StatusCode::OK,
    )
    .await
}
