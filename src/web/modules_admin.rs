//! Settings → Modules (admins only): every module found in `<data>/modules/` with its
//! version, description, author, status (active, inactive, disabled with the reason, or
//! failed to load with the error) and hooks; activate and deactivate at once, without a
//! restart; and each loaded module's settings form, rendered from its manifest.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use postdesk_module_api::manifest::SettingType;
use serde::Serialize;
use serde_json::Value;

use crate::AppState;
use crate::error::AppError;
use crate::hooks::{CallError, Registry};
use crate::models::activity::{self, Activity};
use crate::web::page::{render_status, see_other};
use crate::web::session::{AdminUser, CSRF_FIELD, CsrfForm, client_ip};

/// One module as the page shows it.
#[derive(Debug, Serialize)]
struct ModuleView {
    name: String,
    version: String,
    description: String,
    author: String,
    /// `active`, `inactive`, `disabled` (by the host, see `reason`) or `failed` (to load).
    state: &'static str,
    /// The load error or why the host disabled it.
    reason: String,
    hooks: Vec<String>,
    slots: Vec<String>,
    routes: Vec<String>,
    fields: Vec<FieldView>,
}

/// One input of a module's settings form.
#[derive(Debug, Serialize)]
struct FieldView {
    name: String,
    kind: SettingType,
    label: String,
    help: String,
    /// The text to show in the input (always empty for a secret).
    value: String,
    /// For a bool: whether the box is ticked.
    checked: bool,
    /// For a secret: whether one is stored.
    is_set: bool,
    /// Why the value sent was refused.
    error: Option<String>,
}

/// What the admin sent for one module, shown again with the errors.
struct Sent<'a> {
    module: &'a str,
    values: &'a BTreeMap<String, String>,
    errors: &'a BTreeMap<String, String>,
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn views(hooks: &Registry, sent: Option<&Sent<'_>>) -> Vec<ModuleView> {
    hooks
        .statuses()
        .into_iter()
        .map(|s| {
            let manifest = hooks.manifest(&s.name);
            let (state, reason) = if let Some(e) = &s.load_error {
                ("failed", e.clone())
            } else if s.active {
                ("active", String::new())
            } else if s.disabled_reason.is_empty() {
                ("inactive", String::new())
            } else {
                ("disabled", s.disabled_reason.clone())
            };
            let sent = sent.filter(|x| x.module == s.name);
            let fields = hooks
                .settings_form(&s.name)
                .into_iter()
                .map(|f| {
                    let secret = f.kind == SettingType::Secret;
                    let stored = as_text(&f.value);
                    let shown = match sent.and_then(|x| x.values.get(&f.name)) {
                        Some(v) if !secret => v.clone(),
                        _ if secret => String::new(),
                        _ => stored.clone(),
                    };
                    let checked = match sent {
                        Some(x) if f.kind == SettingType::Bool => x.values.contains_key(&f.name),
                        _ => f.value == Value::Bool(true),
                    };
                    FieldView {
                        error: sent.and_then(|x| x.errors.get(&f.name).cloned()),
                        name: f.name,
                        kind: f.kind,
                        label: f.label,
                        help: f.help,
                        value: shown,
                        checked,
                        is_set: secret && !stored.is_empty(),
                    }
                })
                .collect();
            ModuleView {
                version: s.version,
                description: s.description,
                author: manifest.map(|m| m.author.clone()).unwrap_or_default(),
                state,
                reason,
                hooks: manifest.map(|m| m.hooks.clone()).unwrap_or_default(),
                slots: manifest.map(|m| m.slots.clone()).unwrap_or_default(),
                routes: manifest
                    .map(|m| m.routes.iter().map(|r| r.path.clone()).collect())
                    .unwrap_or_default(),
                fields,
                name: s.name,
            }
        })
        .collect()
}

fn page(
    state: &AppState,
    req: &HttpRequest,
    admin: &AdminUser,
    sent: Option<&Sent<'_>>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let mut ctx = tera::Context::new();
    ctx.insert("modules", &views(&state.hooks, sent));
    if let Some(x) = sent {
        ctx.insert("failed_module", x.module);
    }
    render_status(
        state,
        req,
        Some(&admin.0),
        "settings/modules.html",
        ctx,
        status,
    )
}

/// `GET /settings/modules`.
pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: AdminUser,
) -> Result<HttpResponse, AppError> {
    let hooks = state.hooks.clone();
    // Reads each module's stored state again, so a change made with `postdesk module` or
    // by another server shows at once.
    web::block(move || hooks.refresh())
        .await
        .map_err(|e| AppError::Internal(format!("blocking task failed: {e}")))??;
    page(&state, &req, &admin, None, StatusCode::OK)
}

async fn record(
    state: &AppState,
    req: &HttpRequest,
    admin: &AdminUser,
    action: &'static str,
    name: String,
) -> Result<(), AppError> {
    let admin_id = admin.0.user.id;
    let ip = client_ip(req);
    crate::db::run(&state.pool, move |c| {
        activity::record(
            c,
            &Activity {
                user_id: Some(admin_id),
                action,
                subject_type: "module",
                details: &name,
                ip: &ip,
                ..Activity::default()
            },
            crate::db::now(),
        )?;
        Ok(())
    })
    .await
}

async fn switch(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: AdminUser,
    name: String,
    active: bool,
) -> Result<HttpResponse, AppError> {
    let hooks = state.hooks.clone();
    let module = name.clone();
    let outcome = web::block(move || hooks.set_active(&module, active))
        .await
        .map_err(|e| AppError::Internal(format!("blocking task failed: {e}")))?;
    match outcome {
        Ok(()) => {}
        Err(CallError::Inactive(_)) => return Err(AppError::NotFound),
        Err(e) => return Err(AppError::Internal(e.to_string())),
    }
    // The activity log's action is also the key of the notice shown after the redirect.
    let action = if active {
        "module_activated"
    } else {
        "module_deactivated"
    };
    record(&state, &req, &admin, action, name.clone()).await?;
    Ok(see_other(&format!(
        "/settings/modules?done={action}#module-{name}"
    )))
}

/// `POST /settings/modules/{name}/activate`: switches a loaded module on (a module the
/// host disabled after failures starts again with its failures and reason forgotten).
pub async fn activate(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: AdminUser,
    name: web::Path<String>,
    CsrfForm(_): CsrfForm<BTreeMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    switch(state, req, admin, name.into_inner(), true).await
}

/// `POST /settings/modules/{name}/deactivate`.
pub async fn deactivate(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: AdminUser,
    name: web::Path<String>,
    CsrfForm(_): CsrfForm<BTreeMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    switch(state, req, admin, name.into_inner(), false).await
}

/// `POST /settings/modules/{name}/settings`: every field of the module's form. A field
/// that is not sent keeps its value, except a bool (an unticked box is not sent: false);
/// an empty secret keeps the stored one. Nothing is stored unless every value fits its
/// type; otherwise the form comes back (422) with the module's message at each field.
pub async fn save_settings(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: AdminUser,
    name: web::Path<String>,
    CsrfForm(form): CsrfForm<BTreeMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    let name = name.into_inner();
    if state.hooks.module(&name).is_none() {
        return Err(AppError::NotFound);
    }
    let mut values: BTreeMap<String, String> = form;
    values.remove(CSRF_FIELD);
    let mut changes = Vec::new();
    let mut errors = BTreeMap::new();
    for field in state.hooks.settings_form(&name) {
        let raw = match (field.kind, values.get(&field.name)) {
            (SettingType::Bool, v) => Value::Bool(v.is_some_and(|v| v != "off" && v != "false")),
            (SettingType::Secret, Some(v)) if v.is_empty() => continue,
            (_, Some(v)) => Value::String(v.clone()),
            (_, None) => continue,
        };
        match state.hooks.check_setting(&name, &field.name, &raw) {
            Ok(value) => changes.push((field.name, value)),
            Err(message) => {
                errors.insert(field.name, message);
            }
        }
    }
    if !errors.is_empty() {
        let sent = Sent {
            module: &name,
            values: &values,
            errors: &errors,
        };
        return page(
            &state,
            &req,
            &admin,
            Some(&sent),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let hooks = state.hooks.clone();
    let module = name.clone();
    web::block(move || {
        changes
            .iter()
            .try_for_each(|(key, value)| hooks.set_setting(&module, key, value))
    })
    .await
    .map_err(|e| AppError::Internal(format!("blocking task failed: {e}")))?
    .map_err(AppError::Internal)?;
    record(
        &state,
        &req,
        &admin,
        "module_settings_changed",
        name.clone(),
    )
    .await?;
    Ok(see_other(&format!(
        "/settings/modules?done=saved#module-{name}"
    )))
}
