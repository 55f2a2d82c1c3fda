//! `last_seen_at` from Messenger pings, written in batches.
//!
//! Every open Messenger pings about once a minute; writing each ping to the database made the
//! ping a database write per request. A ping now only records the contact here, and [`step`]
//! (run every second by the background tasks, and once more at shutdown) writes everyone seen
//! since with one `UPDATE` per workspace. A ping lost in a crash costs at most a second of
//! `last_seen_at`, and the next ping records the contact again. Several nodes each write their
//! own pings; the writes are idempotent.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use crate::Engine;

#[derive(Default)]
pub struct Presence {
    seen: Mutex<HashMap<i64, HashSet<i64>>>,
}

impl Presence {
    /// Notes that a contact of a workspace was seen.
    pub fn record(&self, workspace: i64, contact: i64) {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).entry(workspace).or_default().insert(contact);
    }

    fn take(&self) -> HashMap<i64, HashSet<i64>> {
        std::mem::take(&mut *self.seen.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Writes `last_seen_at = now` for everyone recorded since the last step; returns how many
/// contacts were written. On a database error the contacts are kept for the next step.
pub async fn step(engine: &Engine, now: i64) -> u64 {
    let mut written = 0;
    for (workspace, contacts) in engine.presence().take() {
        let ids: Vec<i64> = contacts.into_iter().collect();
        match engine.store().touch_contacts(workspace, &ids, now).await {
            Ok(n) => written += n,
            Err(e) => {
                tracing::warn!(workspace, error = %e, "could not write last_seen_at; will retry");
                for id in ids {
                    engine.presence().record(workspace, id);
                }
            }
        }
    }
    written
}
