//! Fault injection for the crash-safety tests: with `POSTDESK_CRASH_AT=<point>:<n>` the
//! process aborts the n-th time it passes `<point>`. Points: `before_commit` and
//! `after_commit` (fetch, per message), `after_claim` (outbox, per row). Unset, this costs
//! one environment lookup.

use std::sync::atomic::{AtomicU64, Ordering};

/// Aborts the process here if the environment asks for it.
pub fn crash_point(point: &str) {
    static PASSED: AtomicU64 = AtomicU64::new(0);
    let Ok(spec) = std::env::var("POSTDESK_CRASH_AT") else {
        return;
    };
    let Some((at, n)) = spec.split_once(':') else {
        return;
    };
    if at == point && PASSED.fetch_add(1, Ordering::SeqCst) + 1 == n.parse::<u64>().unwrap_or(0) {
        std::process::abort();
    }
}
