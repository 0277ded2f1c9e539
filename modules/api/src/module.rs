//! The safe layer: the [`Module`] trait a module implements, and the [`Context`] through
//! which it reads its settings and asks the host for storage and HTTP.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::abi::HostHandle;
use crate::{CallKind, HookCall, HookReply, HostInfo, HostReply, HostRequest};

/// A Postdesk module. Every method has a default that does nothing, so a module
/// implements only the hooks it declares in its `module.toml`. Returning `Err` (or
/// panicking) counts towards the host disabling the module; say why in the message.
pub trait Module: Send + Sync + 'static {
    /// An `<entity>_after_<action>` hook: something happened (see `modules/README.md`
    /// for each payload). Delivered at least once: the same event may come again after a
    /// crash, so be idempotent (the payload's `event_id` identifies it).
    fn action(&self, ctx: &Context, hook: &str, payload: &Value) -> Result<(), String> {
        let _ = (ctx, hook, payload);
        Ok(())
    }

    /// An `<entity>_before_<action>` hook: return `Some(new value)` to change it, `None`
    /// to leave it alone. The value's shape is the payload's, per hook.
    fn filter(&self, ctx: &Context, hook: &str, value: &Value) -> Result<Option<Value>, String> {
        let _ = (ctx, hook, value);
        Ok(None)
    }

    /// An HTML fragment for a slot in a page, or `None`. The host sanitizes it.
    fn slot(&self, ctx: &Context, slot: &str, data: &Value) -> Result<Option<String>, String> {
        let _ = (ctx, slot, data);
        Ok(None)
    }

    /// An HTTP request under `/m/<module>/…`.
    fn route(&self, ctx: &Context, request: &RouteRequest) -> Result<RouteResponse, String> {
        let _ = (ctx, request);
        Ok(RouteResponse::text(404, "not found"))
    }
}

/// An HTTP request handed to a module's route.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RouteRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path below `/m/<module>/`, without a leading slash.
    pub path: String,
    /// Query parameters (the last value wins for a repeated name).
    pub query: BTreeMap<String, String>,
    /// Form fields of an `application/x-www-form-urlencoded` body.
    pub form: BTreeMap<String, String>,
    /// The raw body as text (JSON bodies arrive here).
    pub body: String,
    /// The logged-in user (`{"id":…,"email":…,"role":…}`), or null on a public route.
    pub user: Value,
}

/// A module's answer to a route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteResponse {
    /// HTTP status.
    pub status: u16,
    /// `application/json`, `text/html; charset=utf-8`, …
    pub content_type: String,
    /// The body.
    pub body: String,
}

impl RouteResponse {
    /// A JSON answer.
    pub fn json(status: u16, value: &Value) -> RouteResponse {
        RouteResponse {
            status,
            content_type: "application/json".into(),
            body: value.to_string(),
        }
    }

    /// An HTML page (served under the host's strict Content-Security-Policy).
    pub fn html(status: u16, body: impl Into<String>) -> RouteResponse {
        RouteResponse {
            status,
            content_type: "text/html; charset=utf-8".into(),
            body: body.into(),
        }
    }

    /// Plain text.
    pub fn text(status: u16, body: impl Into<String>) -> RouteResponse {
        RouteResponse {
            status,
            content_type: "text/plain; charset=utf-8".into(),
            body: body.into(),
        }
    }
}

/// The answer to [`Context::http_post`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpResponse {
    /// HTTP status.
    pub status: u16,
    /// The body (cut to 64 KiB by the host).
    pub body: String,
}

/// What a module sees during one call: its settings, the host's facts, and host services.
pub struct Context {
    host: HostHandle,
    settings: Value,
    info: HostInfo,
}

impl Context {
    pub(crate) fn new(host: HostHandle, call: &HookCall) -> Context {
        Context {
            host,
            settings: call.settings.clone(),
            info: call.host.clone(),
        }
    }

    /// All settings (defaults from the manifest overlaid with the admin's values).
    pub fn settings(&self) -> &Value {
        &self.settings
    }

    /// One setting as text ("" when missing; numbers and booleans are written out).
    pub fn setting(&self, name: &str) -> String {
        match self.settings.get(name) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        }
    }

    /// The instance's public base URL, without a trailing slash.
    pub fn public_url(&self) -> &str {
        &self.info.public_url
    }

    /// The Postdesk version.
    pub fn host_version(&self) -> &str {
        &self.info.version
    }

    fn ask(&self, request: &HostRequest) -> Result<Value, String> {
        let input = serde_json::to_vec(request).map_err(|e| e.to_string())?;
        let out = self.host.request(&input);
        match serde_json::from_slice::<HostReply>(&out) {
            Ok(HostReply::Ok { value }) => Ok(value),
            Ok(HostReply::Error { message }) => Err(message),
            Err(e) => Err(format!("unreadable host reply: {e}")),
        }
    }

    /// Reads a key of this module's storage.
    pub fn storage_get(&self, key: &str) -> Result<Option<String>, String> {
        let v = self.ask(&HostRequest::StorageGet { key: key.into() })?;
        Ok(v.as_str().map(str::to_string))
    }

    /// Writes a key of this module's storage.
    pub fn storage_set(&self, key: &str, value: &str) -> Result<(), String> {
        self.ask(&HostRequest::StorageSet {
            key: key.into(),
            value: value.into(),
        })
        .map(|_| ())
    }

    /// Removes a key of this module's storage.
    pub fn storage_delete(&self, key: &str) -> Result<(), String> {
        self.ask(&HostRequest::StorageDelete { key: key.into() })
            .map(|_| ())
    }

    /// The `(key, value)` pairs whose key starts with `prefix`, in key order.
    pub fn storage_list(&self, prefix: &str) -> Result<Vec<(String, String)>, String> {
        let v = self.ask(&HostRequest::StorageList {
            prefix: prefix.into(),
        })?;
        serde_json::from_value(v).map_err(|e| format!("unreadable storage list: {e}"))
    }

    /// Sends an HTTP POST through the host. A non-2xx status is an `Ok` answer; only a
    /// failure to get any answer is an `Err`.
    pub fn http_post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: &str,
        timeout_ms: u64,
    ) -> Result<HttpResponse, String> {
        let v = self.ask(&HostRequest::HttpPost {
            url: url.into(),
            headers: headers.to_vec(),
            body: body.into(),
            timeout_ms,
        })?;
        serde_json::from_value(v).map_err(|e| format!("unreadable HTTP answer: {e}"))
    }
}

/// Runs the module method that answers `call`.
pub(crate) fn dispatch(module: &dyn Module, ctx: &Context, call: &HookCall) -> HookReply {
    let fail = |message: String| HookReply::Error { message };
    match call.kind {
        CallKind::Action => match module.action(ctx, &call.hook, &call.payload) {
            Ok(()) => HookReply::Unchanged,
            Err(e) => fail(e),
        },
        CallKind::Filter => match module.filter(ctx, &call.hook, &call.payload) {
            Ok(Some(value)) => HookReply::Replace { value },
            Ok(None) => HookReply::Unchanged,
            Err(e) => fail(e),
        },
        CallKind::Slot => match module.slot(ctx, &call.hook, &call.payload) {
            Ok(Some(html)) => HookReply::Replace {
                value: Value::String(html),
            },
            Ok(None) => HookReply::Unchanged,
            Err(e) => fail(e),
        },
        CallKind::Route => {
            let request = match serde_json::from_value::<RouteRequest>(call.payload.clone()) {
                Ok(r) => r,
                Err(e) => return fail(format!("unreadable route request: {e}")),
            };
            match module.route(ctx, &request) {
                Ok(response) => match serde_json::to_value(response) {
                    Ok(value) => HookReply::Replace { value },
                    Err(e) => fail(e.to_string()),
                },
                Err(e) => fail(e),
            }
        }
    }
}
