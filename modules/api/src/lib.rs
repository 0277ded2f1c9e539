//! The crate Postdesk module authors depend on. A module is a `cdylib` that the host
//! loads at start; host and module talk only through a versioned C ABI that carries JSON,
//! so a module built with another compiler version still loads.
//!
//! This crate defines, once, what both sides agree on: the ABI version, the name of the
//! exported entry symbol, and the JSON messages that cross the boundary. The host
//! (`src/hooks/` in Postdesk) depends on this crate too, so there is never a second copy.

use serde::{Deserialize, Serialize};

/// The ABI version this crate describes. The host refuses a module built for another one.
pub const ABI_VERSION: u32 = 1;

/// The symbol every module exports; it returns the module's function table.
pub const ENTRY_SYMBOL: &str = "postdesk_module_entry";

/// What the host sends a module: which hook fired and its payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookCall {
    /// The hook name, shaped `<entity>_<before|after>_<action>`.
    pub hook: String,
    /// The hook's payload; its shape is documented per hook in `modules/README.md`.
    pub payload: serde_json::Value,
}

/// What a module answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum HookReply {
    /// Nothing to change.
    Unchanged,
    /// For filters: the transformed value replaces the payload.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_a_stable_json_shape() {
        let call = HookCall {
            hook: "conversation_after_created".into(),
            payload: serde_json::json!({"id": 7}),
        };
        let text = serde_json::to_string(&call).expect("serialize");
        assert_eq!(
            text,
            r#"{"hook":"conversation_after_created","payload":{"id":7}}"#
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
    }
}
