//! The crate Postdesk module authors depend on. A module is a `cdylib` that the host
//! loads at start; host and module talk only through a versioned C ABI that carries JSON,
//! so a module built with another compiler version still loads.
//!
//! This crate defines, once, what both sides agree on: the ABI version, the name of the
//! exported entry symbol, the JSON messages that cross the boundary and the manifest
//! format. The host (`src/hooks/` in Postdesk) depends on this crate too (with the `host`
//! feature), so there is never a second copy.
//!
//! A module author implements [`Module`] and calls [`export_module!`]; they never write
//! `unsafe`. See `modules/README.md` for the hook points and their payloads.

pub mod abi;
#[cfg(feature = "host")]
pub mod host;
pub mod manifest;
mod module;
pub mod payloads;

/// Escapes text for HTML element content and attribute values (modules build their slot
/// and page HTML with it; the host sanitizes slots again anyway).
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

pub use module::{Context, HttpResponse, Module, RouteRequest, RouteResponse};

use serde::{Deserialize, Serialize};

/// The ABI version this crate describes. The host refuses a module built for another one.
pub const ABI_VERSION: u32 = 1;

/// The symbol every module exports; it returns the module's function table.
pub const ENTRY_SYMBOL: &str = "postdesk_module_entry";

/// The kind of call: which method of [`Module`] answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallKind {
    /// Told after the fact (`<entity>_after_<action>`), from the `events` table.
    Action,
    /// Asked to change or veto a value (`<entity>_before_<action>`).
    Filter,
    /// Asked for an HTML fragment at a named place in a page.
    Slot,
    /// An HTTP request under `/m/<module>/…`.
    Route,
}

/// What the host knows about itself, sent with every call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    /// The public base URL of the instance, without a trailing slash.
    pub public_url: String,
    /// The Postdesk version.
    pub version: String,
}

/// What the host sends a module: which hook fired and its payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookCall {
    /// Which method answers.
    pub kind: CallKind,
    /// The hook, slot or route name; hooks are shaped `<entity>_<before|after>_<action>`.
    pub hook: String,
    /// The hook's payload; its shape is documented per hook in `modules/README.md`.
    pub payload: serde_json::Value,
    /// The module's settings: the manifest's defaults overlaid with the admin's values.
    #[serde(default)]
    pub settings: serde_json::Value,
    /// About the host.
    #[serde(default)]
    pub host: HostInfo,
}

/// What a module answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum HookReply {
    /// Nothing to change (or, for a slot, nothing to show).
    Unchanged,
    /// The answer: for filters the new value, for slots the HTML string, for routes a
    /// [`RouteResponse`].
    Replace {
        /// The new value.
        value: serde_json::Value,
    },
    /// The module failed; the host logs it and counts it towards disabling the module.
    Error {
        /// What went wrong, for the admin.
        message: String,
    },
}

/// A service a module asks of the host during a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum HostRequest {
    /// Reads one key of the module's storage.
    StorageGet {
        /// The key.
        key: String,
    },
    /// Writes one key of the module's storage.
    StorageSet {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// Removes one key of the module's storage.
    StorageDelete {
        /// The key.
        key: String,
    },
    /// Lists the keys (and values) of the module's storage that start with `prefix`,
    /// in key order.
    StorageList {
        /// The prefix ("" for all).
        prefix: String,
    },
    /// Sends an HTTP POST and waits for the answer (the host owns the TLS stack).
    HttpPost {
        /// An `http://` or `https://` URL.
        url: String,
        /// Extra request headers.
        headers: Vec<(String, String)>,
        /// The request body.
        body: String,
        /// Give up after this long.
        timeout_ms: u64,
    },
}

/// The host's answer to a [`HostRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum HostReply {
    /// Done; `value` depends on the request (a string or null for `storage_get`, a list of
    /// `[key, value]` pairs for `storage_list`, an [`HttpResponse`] for `http_post`).
    Ok {
        /// The answer.
        value: serde_json::Value,
    },
    /// Refused or failed.
    Error {
        /// Why.
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_a_stable_json_shape() {
        let call = HookCall {
            kind: CallKind::Action,
            hook: "conversation_after_created".into(),
            payload: serde_json::json!({"id": 7}),
            settings: serde_json::Value::Null,
            host: HostInfo::default(),
        };
        let text = serde_json::to_string(&call).expect("serialize");
        assert_eq!(
            text,
            r#"{"kind":"action","hook":"conversation_after_created","payload":{"id":7},"settings":null,"host":{"public_url":"","version":""}}"#
        );
        let reply: HookReply =
            serde_json::from_str(r#"{"result":"replace","value":"<p>x</p>"}"#).expect("parse");
        assert_eq!(
            reply,
            HookReply::Replace {
                value: serde_json::json!("<p>x</p>")
            }
        );
        assert!(serde_json::from_str::<HookReply>(r#"{"result":"explode"}"#).is_err());
        let req: HostRequest =
            serde_json::from_str(r#"{"op":"storage_get","key":"k"}"#).expect("parse");
        assert_eq!(req, HostRequest::StorageGet { key: "k".into() });
    }
}
