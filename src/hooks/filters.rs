//! The "before" hooks: synchronous filters that may change or veto a value. Each takes
//! typed Rust values, sends them as the documented JSON payload to every active module
//! that declares the hook (in name order, each seeing the previous one's result), and
//! checks every answer: an answer of the wrong shape counts as a failure and is ignored.

use postdesk_module_api::{CallKind, HookReply};
use serde_json::Value;

pub use postdesk_module_api::payloads::{
    InboundVerdict, IncomingMessage, OutgoingReply, StatusChange, StatusVerdict,
};

use super::Registry;

/// A module refused a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("module {module} refused: {reason}")]
pub struct Veto {
    /// Which module.
    pub module: String,
    /// Its reason, for the agent.
    pub reason: String,
}

impl Registry {
    /// Asks modules about an incoming message. The first verdict other than `keep` wins.
    pub fn message_before_threading(&self, message: &IncomingMessage) -> InboundVerdict {
        const HOOK: &str = "message_before_threading";
        let payload = serde_json::to_value(message).unwrap_or_default();
        for module in self.handlers(HOOK) {
            match self.filter_answer::<InboundVerdict>(&module, HOOK, payload.clone()) {
                Some(InboundVerdict::Keep) | None => {}
                Some(verdict) => {
                    tracing::info!(module = %module.name, mailbox.id = message.mailbox_id, ?verdict, "incoming message filtered");
                    return verdict;
                }
            }
        }
        InboundVerdict::Keep
    }

    /// Lets modules change an outgoing reply (HTML, `X-` headers) before it is queued.
    /// The ids and recipients stay as they were whatever a module answers.
    pub fn reply_before_enqueue(&self, reply: OutgoingReply) -> OutgoingReply {
        const HOOK: &str = "reply_before_enqueue";
        let mut current = reply;
        for module in self.handlers(HOOK) {
            let payload = serde_json::to_value(&current).unwrap_or_default();
            if let Some(changed) = self.filter_answer::<OutgoingReply>(&module, HOOK, payload) {
                current.html = changed.html;
                for (name, value) in changed.headers {
                    let lower = name.to_ascii_lowercase();
                    let safe = lower.starts_with("x-")
                        && !value.contains(['\r', '\n'])
                        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
                    if safe {
                        current.headers.insert(name, value);
                    } else {
                        tracing::warn!(module = %module.name, header = %name, "module header refused (only X- headers)");
                    }
                }
            }
        }
        current
    }

    /// Asks modules whether a status change may happen; the first refusal wins.
    pub fn conversation_before_status_change(&self, change: &StatusChange) -> Result<(), Veto> {
        const HOOK: &str = "conversation_before_status_change";
        let payload = serde_json::to_value(change).unwrap_or_default();
        for module in self.handlers(HOOK) {
            if let Some(StatusVerdict {
                allow: false,
                reason,
            }) = self.filter_answer::<StatusVerdict>(&module, HOOK, payload.clone())
            {
                return Err(Veto {
                    module: module.name.clone(),
                    reason,
                });
            }
        }
        Ok(())
    }

    /// Calls one filter and reads its answer as `T`; `None` when it changed nothing or
    /// failed (a failure, or an answer of the wrong shape, is counted).
    fn filter_answer<T: serde::de::DeserializeOwned>(
        &self,
        module: &std::sync::Arc<super::LoadedModule>,
        hook: &str,
        payload: Value,
    ) -> Option<T> {
        self.call_checked(
            module,
            CallKind::Filter,
            hook,
            payload,
            |reply| match reply {
                HookReply::Replace { value } => serde_json::from_value::<T>(value)
                    .map(Some)
                    .map_err(|e| format!("answer of the wrong shape: {e}")),
                _ => Ok(None),
            },
        )
        .ok()
        .flatten()
    }
}
