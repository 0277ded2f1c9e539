//! The webhooks module: each event an endpoint asked for is POSTed to it as JSON, signed
//! with `X-Postdesk-Signature: sha256=<hex HMAC-SHA256 of the body with the endpoint's
//! secret>` (the `secret` setting, which the admin page never shows again, unless an
//! endpoint line names its own). A failed delivery is retried with doubling back-off on the host's clock tick
//! until `max_attempts`; every delivery is logged per endpoint in the module's storage and
//! shown by the `log` route.
//!
//! Storage keys: `pending/<delivery>` (a delivery waiting for a retry), `log/<endpoint
//! key>/<delivery>` (the last outcome of each delivery), `done/<delivery>` (delivered:
//! an event delivered twice by the host is not sent twice).

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use postdesk_module_api::{Context, Module, RouteRequest, RouteResponse, export_module};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// One configured endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Where to POST.
    pub url: String,
    /// Hook names, or `*` for all.
    pub events: Vec<String>,
    /// The HMAC key.
    pub secret: String,
}

impl Endpoint {
    /// Whether this endpoint wants `hook`.
    pub fn wants(&self, hook: &str) -> bool {
        self.events.iter().any(|e| e == "*" || e == hook)
    }

    /// A short stable key for the log.
    pub fn key(&self) -> String {
        hex(&Sha256::digest(self.url.as_bytes()))[..12].to_string()
    }
}

/// Reads the `endpoints` setting: one `URL events [secret]` per line; `#` starts a comment.
/// A line without a secret of its own signs with `default_secret` (the `secret` setting).
pub fn parse_endpoints(text: &str, default_secret: &str) -> Vec<Endpoint> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let url = parts.next()?.to_string();
            let events = parts
                .next()
                .unwrap_or("*")
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            let secret = parts.next().unwrap_or(default_secret).to_string();
            Some(Endpoint {
                url,
                events,
                secret,
            })
        })
        .collect()
}

/// The configured endpoints.
fn endpoints(ctx: &Context) -> Vec<Endpoint> {
    parse_endpoints(&ctx.setting("endpoints"), &ctx.setting("secret"))
}

/// The signature header's value for `body`.
pub fn signature(secret: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(body.as_bytes());
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Log entries kept per endpoint.
const LOG_KEEP: usize = 200;

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A delivery waiting for its next attempt.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    url: String,
    hook: String,
    body: String,
    attempts: u32,
    next_at: u64,
}

/// The last outcome of a delivery, as the log shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LogEntry {
    delivery: String,
    url: String,
    hook: String,
    attempts: u32,
    /// `delivered`, `retrying` or `failed`.
    state: String,
    /// The endpoint's HTTP status, 0 when there was no answer.
    status: u16,
    error: String,
    at: u64,
}

struct Webhooks;

impl Webhooks {
    fn setting_u64(ctx: &Context, name: &str, default: u64) -> u64 {
        ctx.setting(name).parse().unwrap_or(default)
    }

    /// Tries one delivery and records the outcome; `Err` only when storage fails.
    fn attempt(&self, ctx: &Context, delivery: &str, mut p: Pending) -> Result<(), String> {
        let endpoints = endpoints(ctx);
        let Some(endpoint) = endpoints.iter().find(|e| e.url == p.url) else {
            // The admin removed the endpoint: forget the delivery.
            return ctx.storage_delete(&format!("pending/{delivery}"));
        };
        p.attempts += 1;
        let headers = vec![
            ("Content-Type".to_string(), "application/json".to_string()),
            ("X-Postdesk-Event".to_string(), p.hook.clone()),
            ("X-Postdesk-Delivery".to_string(), delivery.to_string()),
            (
                "X-Postdesk-Signature".to_string(),
                signature(&endpoint.secret, &p.body),
            ),
        ];
        let timeout = Self::setting_u64(ctx, "timeout_ms", 5000);
        let (status, error) = match ctx.http_post(&p.url, &headers, &p.body, timeout) {
            Ok(r) if (200..300).contains(&r.status) => (r.status, String::new()),
            Ok(r) => (r.status, format!("HTTP {}", r.status)),
            Err(e) => (0, e),
        };
        let max = Self::setting_u64(ctx, "max_attempts", 6) as u32;
        let state = if error.is_empty() {
            ctx.storage_set(&format!("done/{delivery}"), &now_secs().to_string())?;
            ctx.storage_delete(&format!("pending/{delivery}"))?;
            "delivered"
        } else if p.attempts >= max {
            ctx.storage_delete(&format!("pending/{delivery}"))?;
            "failed"
        } else {
            let base = Self::setting_u64(ctx, "retry_base_secs", 30);
            let wait = base.saturating_mul(1 << (p.attempts - 1).min(16)).min(3600);
            p.next_at = now_secs() + wait;
            let text = serde_json::to_string(&p).map_err(|e| e.to_string())?;
            ctx.storage_set(&format!("pending/{delivery}"), &text)?;
            "retrying"
        };
        let entry = LogEntry {
            delivery: delivery.to_string(),
            url: p.url.clone(),
            hook: p.hook.clone(),
            attempts: p.attempts,
            state: state.into(),
            status,
            error,
            at: now_secs(),
        };
        let text = serde_json::to_string(&entry).map_err(|e| e.to_string())?;
        ctx.storage_set(&format!("log/{}/{delivery}", endpoint.key()), &text)
    }

    fn event(&self, ctx: &Context, hook: &str, payload: &Value) -> Result<(), String> {
        let event_id = payload.get("event_id").and_then(Value::as_i64).unwrap_or(0);
        for endpoint in endpoints(ctx) {
            if !endpoint.wants(hook) {
                continue;
            }
            let delivery = format!("{event_id:012}-{}", endpoint.key());
            if ctx.storage_get(&format!("done/{delivery}"))?.is_some()
                || ctx.storage_get(&format!("pending/{delivery}"))?.is_some()
            {
                continue;
            }
            let body = json!({ "event": hook, "delivery": delivery, "payload": payload });
            let pending = Pending {
                url: endpoint.url.clone(),
                hook: hook.to_string(),
                body: body.to_string(),
                attempts: 0,
                next_at: 0,
            };
            self.attempt(ctx, &delivery, pending)?;
        }
        Ok(())
    }

    /// Forgets delivered markers older than a week (the host redelivers only recent
    /// events) and keeps the newest `LOG_KEEP` log entries per endpoint.
    fn prune(&self, ctx: &Context) -> Result<(), String> {
        let week_ago = now_secs().saturating_sub(7 * 24 * 3600);
        for (key, value) in ctx.storage_list("done/")? {
            if value.parse::<u64>().unwrap_or(0) < week_ago {
                ctx.storage_delete(&key)?;
            }
        }
        for endpoint in endpoints(ctx) {
            let entries = ctx.storage_list(&format!("log/{}/", endpoint.key()))?;
            let extra = entries.len().saturating_sub(LOG_KEEP);
            for (key, _) in entries.into_iter().take(extra) {
                ctx.storage_delete(&key)?;
            }
        }
        Ok(())
    }

    fn retry_due(&self, ctx: &Context) -> Result<(), String> {
        let now = now_secs();
        for (key, value) in ctx.storage_list("pending/")? {
            let Ok(p) = serde_json::from_str::<Pending>(&value) else {
                ctx.storage_delete(&key)?;
                continue;
            };
            if p.next_at <= now {
                let delivery = key.trim_start_matches("pending/").to_string();
                self.attempt(ctx, &delivery, p)?;
            }
        }
        Ok(())
    }
}

impl Module for Webhooks {
    fn action(&self, ctx: &Context, hook: &str, payload: &Value) -> Result<(), String> {
        if hook == "clock_after_tick" {
            self.retry_due(ctx)?;
            self.prune(ctx)
        } else {
            self.event(ctx, hook, payload)
        }
    }

    fn route(&self, ctx: &Context, request: &RouteRequest) -> Result<RouteResponse, String> {
        if request.path != "log" {
            return Ok(RouteResponse::text(404, "not found"));
        }
        let mut out = Vec::new();
        for endpoint in endpoints(ctx) {
            let mut entries: Vec<Value> = ctx
                .storage_list(&format!("log/{}/", endpoint.key()))?
                .into_iter()
                .filter_map(|(_, v)| serde_json::from_str(&v).ok())
                .collect();
            entries.reverse();
            out.push(
                json!({ "url": endpoint.url, "events": endpoint.events, "deliveries": entries }),
            );
        }
        Ok(RouteResponse::json(200, &json!({ "endpoints": out })))
    }
}

export_module!(Webhooks, Webhooks);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_read_line_by_line() {
        let list = parse_endpoints(
            "# comment\nhttps://a.test/h conversation_after_created,mail_after_fetched s1\n\nhttp://b.test *\n",
            "shared",
        );
        assert_eq!(list.len(), 2);
        assert!(list[0].wants("mail_after_fetched"));
        assert!(!list[0].wants("mail_after_sent"));
        assert_eq!(list[0].secret, "s1");
        assert!(list[1].wants("anything"));
        assert_eq!(
            list[1].secret, "shared",
            "the secret setting signs lines without one"
        );
    }

    #[test]
    fn signature_is_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
