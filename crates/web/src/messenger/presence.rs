//! `last_seen_at` from Messenger pings, written in batches.
//!
//! Every open Messenger pings about once a minute; writing each ping to the database made the
//! ping route a database write per request (about 11,000 requests/s on one core). A ping now
//! only records the contact here, and [`run`] writes everyone seen in the last second with one
//! `UPDATE` per workspace. A ping lost in a crash costs at most a second of `last_seen_at`, and
//! the next ping (or any Messenger request) records the contact again.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use crate::AppState;

/// How often the seen contacts are written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct Presence {
    seen: Mutex<HashMap<i64, HashSet<i64>>>,
}

impl Presence {
    /// Notes that a contact of a workspace was seen now.
    pub fn record(&self, workspace: i64, contact: i64) {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).entry(workspace).or_default().insert(contact);
    }

    /// Writes `last_seen_at = now` for everyone recorded since the last flush; returns how many
    /// contacts were written. On a database error the contacts are kept for the next flush.
    pub async fn flush(&self, state: &AppState, now: i64) -> u64 {
        let taken = std::mem::take(&mut *self.seen.lock().unwrap_or_else(|e| e.into_inner()));
        let mut written = 0;
        for (workspace, contacts) in taken {
            let ids: Vec<i64> = contacts.into_iter().collect();
            match state.store.touch_contacts(workspace, &ids, now).await {
                Ok(n) => written += n,
                Err(e) => {
                    tracing::warn!(workspace, error = %e, "could not write last_seen_at; will retry");
                    for id in ids {
                        self.record(workspace, id);
                    }
                }
            }
        }
        written
    }
}

/// Flushes every [`FLUSH_EVERY`] until the task is dropped or aborted.
pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        state.presence.flush(&state, crate::auth::now()).await;
    }
}
