//! Webhooks: `/api/webhooks` create and delete (admins' keys only: a webhook sees every
//! mailbox), and their delivery.
//!
//! Delivery reads the `events` table through the shared consumer cursor and lease of
//! [`crate::jobs::events`] (consumer `api-webhooks`): each event becomes one delivery row
//! per webhook that asked for it, written in the same transaction that moves the cursor,
//! so no event is lost or fanned out twice. Deliveries are POSTed with FreeScout's
//! headers (`X-FreeScout-Event`, and `X-FreeScout-Signature`: base64 of the HMAC-SHA1 of
//! the body keyed with the webhook's secret) and retried with doubling back-off, 10
//! attempts over about two hours, as FreeScout does. A receiver may see a delivery twice
//! (a crash between sending and recording): it is at least once.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use base64::Engine;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::auth::ApiUser;
use super::error::{ApiError, FieldError, run};
use super::input::ApiJson;
use super::views;
use crate::AppState;
use crate::db::schema::{api_webhook_deliveries as deliveries, api_webhooks};
use crate::db::{self, AnyConnection, DbError, DbPool};
use crate::jobs::events::{self as consumer, EventRow};

/// The consumer name of webhook delivery in `event_cursors`.
pub const CONSUMER: &str = "api-webhooks";
/// Attempts before a delivery is given up.
pub const MAX_ATTEMPTS: i32 = 10;
/// The first retry's delay; each next one doubles.
const FIRST_RETRY: Duration = Duration::from_secs(15);
/// Deliveries sent per round.
const SEND_BATCH: i64 = 20;

/// Delivery states.
mod state {
    pub const PENDING: i16 = 0;
    pub const DELIVERED: i16 = 1;
    pub const FAILED: i16 = 2;
}

/// The event names a webhook may ask for.
pub const EVENTS: [&str; 12] = [
    "convo.assigned",
    "convo.created",
    "convo.deleted",
    "convo.deleted_forever",
    "convo.restored",
    "convo.moved",
    "convo.status",
    "convo.customer.reply.created",
    "convo.agent.reply.created",
    "convo.note.created",
    "customer.created",
    "customer.updated",
];

/// The webhook event name of an `events` row kind, if webhooks see it.
pub fn event_name(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "conversation_created" => "convo.created",
        "assigned" => "convo.assigned",
        "deleted" => "convo.deleted",
        "deleted_forever" => "convo.deleted_forever",
        "restored" => "convo.restored",
        "moved" => "convo.moved",
        "status_changed" => "convo.status",
        "customer_replied" => "convo.customer.reply.created",
        "agent_replied" => "convo.agent.reply.created",
        "note_added" => "convo.note.created",
        "customer_created" => "customer.created",
        "customer_updated" => "customer.updated",
        _ => return None,
    })
}

/// `X-FreeScout-Signature` of `body`.
pub fn signature(secret: &str, body: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(body.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Body of `POST /api/webhooks`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateWebhook {
    /// Where to POST (http or https).
    pub url: String,
    /// Event names to send.
    #[schemars(extend("items" = {"type": "string", "enum": EVENTS}, "minItems" = 1))]
    pub events: Vec<String>,
    /// The signing secret (a Postdesk addition; generated when left out).
    pub secret: Option<String>,
}

/// A created webhook (the body of the 201).
#[derive(Debug, Serialize, JsonSchema)]
pub struct WebhookView {
    /// Id.
    pub id: i64,
    /// Where events go.
    pub url: String,
    /// Event names.
    pub events: Vec<String>,
    /// The signing secret: keep it to check `X-FreeScout-Signature`.
    pub secret: String,
}

fn require_admin(me: &ApiUser) -> Result<(), ApiError> {
    if me.user.is_admin() {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "only an admin's key may manage webhooks (they see every mailbox)".into(),
        ))
    }
}

/// `POST /api/webhooks`.
pub async fn create(
    state: web::Data<AppState>,
    me: ApiUser,
    body: ApiJson<CreateWebhook>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&me)?;
    let b = body.0;
    let mut errors = Vec::new();
    let url = b.url.trim().to_string();
    let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
    if !scheme_ok || url.len() > 2000 || url.contains(char::is_whitespace) {
        errors
            .push(FieldError::json("url", "must be an http or https URL").rejecting(url.as_str()));
    }
    if b.events.is_empty() {
        errors.push(FieldError::json("events", "may not be empty"));
    }
    for (i, e) in b.events.iter().enumerate() {
        if !EVENTS.contains(&e.as_str()) {
            errors.push(
                FieldError::json(&format!("events[{i}]"), "")
                    .one_of(&EVENTS)
                    .rejecting(e.as_str()),
            );
        }
    }
    let secret = match b.secret.filter(|s| !s.is_empty()) {
        Some(s) if s.len() > 128 => {
            errors.push(FieldError::json("secret", "must be at most 128 characters"));
            String::new()
        }
        Some(s) => s,
        None => crate::auth::token::random_token().map_err(ApiError::Internal)?,
    };
    if !errors.is_empty() {
        return Err(ApiError::BadRequest(errors));
    }
    let mut events = b.events;
    events.dedup();
    let list = serde_json::to_string(&events).map_err(|e| ApiError::Internal(e.to_string()))?;
    let (u, s) = (url.clone(), secret.clone());
    let id = run(&state.pool, move |c| {
        Ok(db::dialect::insert_returning_id(c, |c| {
            diesel::insert_into(api_webhooks::table)
                .values((
                    api_webhooks::url.eq(&u),
                    api_webhooks::events.eq(&list),
                    api_webhooks::secret.eq(&s),
                    api_webhooks::user_id.eq(Some(me.user.id)),
                    api_webhooks::created_at.eq(db::now()),
                ))
                .execute(c)
        })?)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Resource-ID", id.to_string()))
        .json(WebhookView {
            id,
            url,
            events,
            secret,
        }))
}

/// `DELETE /api/webhooks/{webhookId}`.
pub async fn delete(
    state: web::Data<AppState>,
    me: ApiUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&me)?;
    let id = id.into_inner();
    let gone = run(&state.pool, move |c| {
        Ok(diesel::delete(api_webhooks::table.find(id)).execute(c)? > 0)
    })
    .await?;
    if !gone {
        return Err(ApiError::NotFound);
    }
    Ok(HttpResponse::NoContent().finish())
}

/// A webhook as delivery reads it.
#[derive(Debug, Clone, Queryable)]
struct Hook {
    id: i64,
    events: String,
    created_at: NaiveDateTime,
}

/// The JSON an event sends: the conversation (with threads) or the customer.
fn payload(c: &mut AnyConnection, row: &EventRow, name: &str) -> QueryResult<Value> {
    let (_, _, _, conversation_id, _, _, data, _) = row;
    if name.starts_with("customer.") {
        let id = serde_json::from_str::<Value>(data)
            .ok()
            .and_then(|v| v.get("customer_id").and_then(Value::as_i64));
        let view = match id {
            Some(id) => views::customer_view(c, id)?,
            None => None,
        };
        return Ok(match (view, id) {
            (Some(v), _) => serde_json::to_value(v).unwrap_or_default(),
            (None, id) => serde_json::json!({ "id": id }),
        });
    }
    let Some(id) = conversation_id else {
        return Ok(Value::Null);
    };
    Ok(match views::conversation_row(c, *id)? {
        Some(r) => views::conversation_views(c, vec![r], true)?
            .pop()
            .and_then(|v| serde_json::to_value(v).ok())
            .unwrap_or_default(),
        None => serde_json::json!({ "id": id }),
    })
}

/// Turns the events after the cursor into delivery rows. Returns how many were made.
fn fan_out(c: &mut AnyConnection, worker: &str, last: i64) -> Result<usize, DbError> {
    let hooks: Vec<Hook> = api_webhooks::table
        .select((
            api_webhooks::id,
            api_webhooks::events,
            api_webhooks::created_at,
        ))
        .load(c)?;
    let mut made = 0;
    for row in consumer::pending(c, last)? {
        let name = event_name(&row.1);
        let wanting: Vec<&Hook> = hooks
            .iter()
            .filter(|h| {
                name.is_some_and(|n| {
                    serde_json::from_str::<Vec<String>>(&h.events)
                        .unwrap_or_default()
                        .iter()
                        .any(|e| e == n)
                }) && h.created_at <= row.7
            })
            .collect();
        c.transaction(|c| {
            if let (Some(name), false) = (name, wanting.is_empty()) {
                let body = payload(c, &row, name)?.to_string();
                let now = db::now();
                for h in &wanting {
                    let exists: i64 = deliveries::table
                        .filter(deliveries::webhook_id.eq(h.id))
                        .filter(deliveries::event_id.eq(row.0))
                        .count()
                        .get_result(c)?;
                    if exists > 0 {
                        continue;
                    }
                    diesel::insert_into(deliveries::table)
                        .values((
                            deliveries::webhook_id.eq(h.id),
                            deliveries::event_id.eq(row.0),
                            deliveries::event.eq(name),
                            deliveries::body.eq(&body),
                            deliveries::status.eq(state::PENDING),
                            deliveries::next_at.eq(now),
                            deliveries::created_at.eq(now),
                            deliveries::updated_at.eq(now),
                        ))
                        .execute(c)?;
                    made += 1;
                }
            }
            consumer::advance(c, CONSUMER, worker, row.0)
        })?;
    }
    Ok(made)
}

/// A delivery due to be sent: id, event name, body, attempts, url, secret.
type Due = (i64, String, String, i32, String, String);

/// POSTs one delivery; `Err` says why it failed.
fn post(
    agent: &ureq::Agent,
    url: &str,
    secret: &str,
    event: &str,
    body: &str,
) -> Result<(), String> {
    match agent
        .post(url)
        .set("Content-Type", "application/json")
        .set("X-FreeScout-Event", event)
        .set("X-FreeScout-Signature", &signature(secret, body))
        .send_string(body)
    {
        Ok(r) if (200..300).contains(&r.status()) => Ok(()),
        Ok(r) => Err(format!("HTTP {}", r.status())),
        Err(ureq::Error::Status(code, _)) => Err(format!("HTTP {code}")),
        Err(e) => Err(e.to_string()),
    }
}

/// The delay before attempt `attempts + 1`.
pub fn backoff(attempts: i32) -> Duration {
    FIRST_RETRY * 2u32.saturating_pow(u32::try_from(attempts.max(1) - 1).unwrap_or(0).min(16))
}

/// Sends the due deliveries. Returns how many were attempted.
fn send_due(c: &mut AnyConnection, agent: &ureq::Agent) -> Result<usize, DbError> {
    let now = db::now();
    let due: Vec<Due> = deliveries::table
        .inner_join(api_webhooks::table)
        .filter(deliveries::status.eq(state::PENDING))
        .filter(deliveries::next_at.le(now))
        .order(deliveries::id)
        .limit(SEND_BATCH)
        .select((
            deliveries::id,
            deliveries::event,
            deliveries::body,
            deliveries::attempts,
            api_webhooks::url,
            api_webhooks::secret,
        ))
        .load(c)?;
    for (id, event, body, attempts, url, secret) in &due {
        let result = post(agent, url, secret, event, body);
        let attempts = attempts + 1;
        let now = db::now();
        let (status, next_at, error) = match result {
            Ok(()) => (state::DELIVERED, now, String::new()),
            Err(e) if attempts >= MAX_ATTEMPTS => (state::FAILED, now, e),
            Err(e) => (
                state::PENDING,
                now + chrono::Duration::from_std(backoff(attempts)).unwrap_or_default(),
                e,
            ),
        };
        if !error.is_empty() {
            tracing::warn!(delivery = id, %url, %error, attempts, "webhook not delivered");
        }
        diesel::update(deliveries::table.find(id))
            .set((
                deliveries::status.eq(status),
                deliveries::attempts.eq(attempts),
                deliveries::next_at.eq(next_at),
                deliveries::last_error.eq(error),
                deliveries::updated_at.eq(now),
            ))
            .execute(c)?;
    }
    Ok(due.len())
}

/// One round under the consumer lease: fan new events out, then send what is due.
/// Returns `(deliveries made, deliveries attempted)`.
pub fn round(pool: &DbPool, agent: &ureq::Agent, worker: &str) -> Result<(usize, usize), DbError> {
    let mut c = pool.get()?;
    consumer::ensure_cursor(&mut c, CONSUMER)?;
    let Some(last) = consumer::claim(&mut c, CONSUMER, worker)? else {
        return Ok((0, 0));
    };
    let result =
        fan_out(&mut c, worker, last).and_then(|made| Ok((made, send_due(&mut c, agent)?)));
    consumer::release(&mut c, CONSUMER, worker)?;
    result
}

/// The HTTP client deliveries use: 10 seconds per attempt, no redirects.
pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .redirects(0)
        .build()
}

/// Starts delivery on a thread of its own, a round every second.
pub fn spawn(pool: DbPool, worker: String) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("api-webhooks".into())
        .spawn(move || {
            let agent = agent();
            loop {
                if let Err(e) = round(&pool, &agent, &worker) {
                    tracing::error!(error = %e, "webhook delivery failed");
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        })
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_base64_hmac_sha1() {
        // RFC 2202 test case 2.
        assert_eq!(
            signature("Jefe", "what do ya want for nothing?"),
            base64::engine::general_purpose::STANDARD.encode([
                0xef, 0xfc, 0xdf, 0x6a, 0xe5, 0xeb, 0x2f, 0xa2, 0xd2, 0x74, 0x16, 0xd5, 0xf1, 0x84,
                0xdf, 0x9c, 0x25, 0x9a, 0x7c, 0x79
            ])
        );
    }

    #[test]
    fn back_off_doubles_to_about_two_hours_in_all() {
        assert_eq!(backoff(1), Duration::from_secs(15));
        assert_eq!(backoff(2), Duration::from_secs(30));
        let total: Duration = (1..MAX_ATTEMPTS).map(backoff).sum();
        assert!(
            total >= Duration::from_secs(3600) && total <= Duration::from_secs(3 * 3600),
            "{total:?}"
        );
    }

    #[test]
    fn every_event_kind_has_a_documented_name() {
        for kind in [
            "conversation_created",
            "assigned",
            "status_changed",
            "customer_replied",
            "agent_replied",
            "note_added",
            "customer_created",
            "customer_updated",
            "moved",
            "deleted",
        ] {
            let name = event_name(kind).unwrap_or_else(|| panic!("{kind}"));
            assert!(EVENTS.contains(&name), "{name}");
        }
    }
}
