//! Delivers `events` rows to modules' action hooks, at least once. Each consumer has a
//! cursor row (`event_cursors`: the last event id it was given) claimed with a lease, so
//! two Postdesk processes never deliver the same consumer's events at once; the cursor
//! moves after each delivered event, so a crash repeats at most one event and skips none.
//! A module that fails an event is not moved past it: it gets it again next round, until
//! it succeeds or the host disables it (its cursor then waits for reactivation).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use postdesk_module_api::CallKind;
use postdesk_module_api::payloads::ActionEvent;
use serde_json::{Value, json};

use crate::db::schema::{event_cursors, events};
use crate::db::{self, AnyConnection, DbError, DbPool};
use crate::hooks::{self, Registry};

/// How long a claimed cursor stays ours without being renewed.
const LEASE: Duration = Duration::from_secs(120);
/// Events handed to one consumer per round.
const BATCH: i64 = 100;
/// The hook modules get on a timer (for retries and other periodic work).
pub const TICK_HOOK: &str = "clock_after_tick";

/// The action hook an event kind is delivered as, or `None` for kinds modules do not see.
/// Hooks are shaped `<entity>_after_<action>`.
pub fn hook_for_event(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "conversation_created" => "conversation_after_created",
        "customer_replied" => "conversation_after_customer_replied",
        "agent_replied" => "conversation_after_agent_replied",
        "note_added" => "conversation_after_note_added",
        "status_changed" => "conversation_after_status_changed",
        "assigned" => "conversation_after_assigned",
        "moved" => "conversation_after_moved",
        "merged" => "conversation_after_merged",
        "deleted" => "conversation_after_deleted",
        "mail_fetched" => "mail_after_fetched",
        "mail_sent" => "mail_after_sent",
        "send_failed" => "mail_after_send_failed",
        "customer_created" => "customer_after_created",
        "customer_updated" => "customer_after_updated",
        "user_logged_in" => "user_after_logged_in",
        _ => return None,
    })
}

/// Creates the cursor of `consumer` if it has none, starting after the newest event (a
/// newly installed module is not flooded with history).
pub fn ensure_cursor(conn: &mut AnyConnection, consumer: &str) -> QueryResult<()> {
    let exists: i64 = event_cursors::table
        .filter(event_cursors::consumer.eq(consumer))
        .count()
        .get_result(conn)?;
    if exists > 0 {
        return Ok(());
    }
    let newest: Option<i64> = events::table
        .select(diesel::dsl::max(events::id))
        .first(conn)?;
    let inserted = diesel::insert_into(event_cursors::table)
        .values((
            event_cursors::consumer.eq(consumer),
            event_cursors::last_event_id.eq(newest.unwrap_or(0)),
            event_cursors::updated_at.eq(db::now()),
        ))
        .execute(conn);
    match inserted {
        Ok(_)
        | Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether events after `consumer`'s cursor exist (or it has no cursor yet). Read-only,
/// so an idle consumer can check every second without taking SQLite's write lock.
pub fn has_pending(conn: &mut AnyConnection, consumer: &str) -> QueryResult<bool> {
    let last: Option<i64> = event_cursors::table
        .filter(event_cursors::consumer.eq(consumer))
        .select(event_cursors::last_event_id)
        .first(conn)
        .optional()?;
    let Some(last) = last else {
        return Ok(true);
    };
    let newer: i64 = events::table
        .filter(events::id.gt(last))
        .count()
        .get_result(conn)?;
    Ok(newer > 0)
}

/// Claims `consumer`'s cursor for `worker` and returns the last delivered id, or `None`
/// when another worker holds a live lease.
pub fn claim(conn: &mut AnyConnection, consumer: &str, worker: &str) -> QueryResult<Option<i64>> {
    // A holder that was a process on this machine and is gone frees its lease at once.
    let holder: Option<String> = event_cursors::table
        .filter(event_cursors::consumer.eq(consumer))
        .select(event_cursors::locked_by)
        .first(conn)
        .optional()?
        .flatten();
    if let Some(dead) = holder.filter(|h| h != worker && crate::lease::holder_is_dead(h)) {
        release(conn, consumer, &dead)?;
    }
    let now = db::now();
    let until = lease_end(now);
    let claimed = diesel::update(
        event_cursors::table
            .filter(event_cursors::consumer.eq(consumer))
            .filter(
                event_cursors::locked_until
                    .is_null()
                    .or(event_cursors::locked_until.lt(now))
                    .or(event_cursors::locked_by.eq(worker)),
            ),
    )
    .set((
        event_cursors::locked_by.eq(worker),
        event_cursors::locked_until.eq(until),
    ))
    .execute(conn)?;
    if claimed == 0 {
        return Ok(None);
    }
    event_cursors::table
        .filter(event_cursors::consumer.eq(consumer))
        .select(event_cursors::last_event_id)
        .first(conn)
        .map(Some)
}

fn lease_end(now: NaiveDateTime) -> NaiveDateTime {
    now + chrono::Duration::from_std(LEASE).unwrap_or_default()
}

/// Moves the cursor past event `id` and renews the lease, so a long batch keeps it.
pub fn advance(conn: &mut AnyConnection, consumer: &str, worker: &str, id: i64) -> QueryResult<()> {
    let now = db::now();
    diesel::update(
        event_cursors::table
            .filter(event_cursors::consumer.eq(consumer))
            .filter(event_cursors::locked_by.eq(worker)),
    )
    .set((
        event_cursors::last_event_id.eq(id),
        event_cursors::locked_until.eq(lease_end(now)),
        event_cursors::updated_at.eq(now),
    ))
    .execute(conn)
    .map(|_| ())
}

/// Gives up `worker`'s lease on `consumer`.
pub fn release(conn: &mut AnyConnection, consumer: &str, worker: &str) -> QueryResult<()> {
    diesel::update(
        event_cursors::table
            .filter(event_cursors::consumer.eq(consumer))
            .filter(event_cursors::locked_by.eq(worker)),
    )
    .set((
        event_cursors::locked_by.eq(None::<String>),
        event_cursors::locked_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)
    .map(|_| ())
}

/// An `events` row: id, kind, mailbox, conversation, thread, user, payload, time.
pub type EventRow = (
    i64,
    String,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    String,
    NaiveDateTime,
);

/// The next events after `last` (at most one batch), oldest first: what a consumer whose
/// cursor is at `last` is to be given.
pub fn pending(conn: &mut AnyConnection, last: i64) -> QueryResult<Vec<EventRow>> {
    events::table
        .filter(events::id.gt(last))
        .order(events::id.asc())
        .limit(BATCH)
        .select((
            events::id,
            events::kind,
            events::mailbox_id,
            events::conversation_id,
            events::thread_id,
            events::user_id,
            events::payload,
            events::created_at,
        ))
        .load(conn)
}

/// The payload of an action hook: the event's columns and its own details under `data`.
pub fn action_payload(row: &EventRow, hook: &str) -> Value {
    let (id, kind, mailbox_id, conversation_id, thread_id, user_id, payload, created_at) = row;
    serde_json::to_value(ActionEvent {
        event_id: *id,
        hook: hook.into(),
        kind: kind.clone(),
        mailbox_id: *mailbox_id,
        conversation_id: *conversation_id,
        thread_id: *thread_id,
        user_id: *user_id,
        created_at: created_at
            .and_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        data: serde_json::from_str::<Value>(payload).unwrap_or(Value::Null),
    })
    .unwrap_or_default()
}

/// Delivers pending events to every active module with action hooks, one round. Returns
/// how many calls were made.
pub fn deliver_round(registry: &Registry, pool: &DbPool, worker: &str) -> Result<usize, DbError> {
    let mut conn = pool.get()?;
    let mut calls = 0;
    for status in registry.statuses() {
        let Some(module) = registry.module(&status.name).cloned() else {
            continue;
        };
        let has_actions = module
            .manifest
            .as_ref()
            .is_some_and(|m| m.hooks.iter().any(|h| hooks::is_action(h)));
        if !module.is_active() || !has_actions {
            continue;
        }
        let consumer = hooks::consumer_name(&module.name);
        ensure_cursor(&mut conn, &consumer)?;
        let Some(last) = claim(&mut conn, &consumer, worker)? else {
            continue;
        };
        let result = deliver_to(registry, &mut conn, &module, &consumer, worker, last);
        release(&mut conn, &consumer, worker)?;
        calls += result?;
    }
    Ok(calls)
}

fn deliver_to(
    registry: &Registry,
    conn: &mut AnyConnection,
    module: &Arc<hooks::LoadedModule>,
    consumer: &str,
    worker: &str,
    last: i64,
) -> Result<usize, DbError> {
    let rows = pending(conn, last)?;
    let mut calls = 0;
    for row in &rows {
        if let Some(hook) = hook_for_event(&row.1).filter(|h| module.handles(h)) {
            calls += 1;
            if let Err(e) = registry.call(module, CallKind::Action, hook, action_payload(row, hook))
            {
                tracing::warn!(event.id = row.0, error = %e, "event not delivered; will retry");
                break;
            }
        }
        advance(conn, consumer, worker, row.0)?;
    }
    Ok(calls)
}

/// Calls `clock_after_tick` on every active module that declares it. Each module's tick
/// is leased like its events (consumer `tick:<module>`), so two processes never run the
/// same module's periodic work at once. Returns how many modules were ticked.
pub fn tick(registry: &Registry, pool: &DbPool, worker: &str) -> Result<usize, DbError> {
    let mut conn = pool.get()?;
    let now = db::now()
        .and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut calls = 0;
    for module in registry.handlers(TICK_HOOK) {
        let consumer = format!("tick:{}", module.name);
        ensure_cursor(&mut conn, &consumer)?;
        if claim(&mut conn, &consumer, worker)?.is_none() {
            continue;
        }
        calls += 1;
        // A failure is counted (and logged) inside `call`.
        let _ = registry.call(&module, CallKind::Action, TICK_HOOK, json!({ "now": now }));
        release(&mut conn, &consumer, worker)?;
    }
    Ok(calls)
}

/// Starts the delivery loop on a thread of its own: every second it delivers new events;
/// every 15 seconds it re-reads module states and ticks.
pub fn spawn(registry: Arc<Registry>, pool: DbPool, worker: String) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("events".into())
        .spawn(move || {
            let mut last_tick = Instant::now();
            loop {
                if let Err(e) = deliver_round(&registry, &pool, &worker) {
                    tracing::error!(error = %e, "event delivery failed");
                }
                if last_tick.elapsed() >= Duration::from_secs(15) {
                    last_tick = Instant::now();
                    if let Err(e) = registry.refresh() {
                        tracing::error!(error = %e, "cannot re-read module states");
                    }
                    if let Err(e) = tick(&registry, &pool, &worker) {
                        tracing::error!(error = %e, "module tick failed");
                    }
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        })
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::event::EventKind;

    #[test]
    fn every_event_kind_written_today_reaches_a_hook() {
        for kind in [
            EventKind::ConversationCreated,
            EventKind::CustomerReplied,
            EventKind::CustomerCreated,
            EventKind::MailFetched,
            EventKind::SendFailed,
            EventKind::StatusChanged,
            EventKind::Assigned,
            EventKind::Moved,
            EventKind::Merged,
            EventKind::Deleted,
            EventKind::CustomerUpdated,
        ] {
            let hook = hook_for_event(kind.as_str()).unwrap_or_else(|| panic!("{kind:?}"));
            assert!(hooks::is_action(hook), "{hook}");
        }
        assert_eq!(hook_for_event("something_else"), None);
    }
}
