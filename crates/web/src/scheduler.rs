//! Sends scheduled manual messages when their time comes.
//!
//! The schedule lives in the database, so a message whose time passed while the server was down
//! goes out at the next start. Sending is the same conditional move from `scheduled` to `sent`
//! as a teammate's send, so two servers (or a step and a restart) never send one message twice.

use std::time::Duration;

use crate::AppState;
use crate::api::send_scheduled;

/// How often the scheduler looks for due messages.
pub const TICK: Duration = Duration::from_secs(1);

/// One pass: sends every message due at `now`. Returns how many were sent.
pub async fn step(state: &AppState, now: i64) -> usize {
    let due = match state.store.due_messages(now).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "could not read scheduled messages; will retry");
            return 0;
        }
    };
    let mut sent = 0;
    for (workspace, message) in due {
        match send_scheduled(state, workspace, message).await {
            Ok(()) => sent += 1,
            Err(e) => tracing::warn!(workspace, message, error = ?e.errors, "scheduled message not sent"),
        }
    }
    sent
}

/// Runs until the task is dropped or aborted.
pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let span = tracing::debug_span!("scheduler");
        let _ = tracing::Instrument::instrument(step(&state, crate::auth::now()), span).await;
    }
}
