//! Delivery windows: when each delivery of a windowed message may go out, and the background
//! step that wakes in-app deliveries whose window opened.
//!
//! Emails and pushes follow the contact's own time zone (their IANA `timezone`, else the
//! workspace's); in-app messages follow the workspace's, as Intercom does. A delivery outside its
//! window is written `pending` with the `due_at` of the window's next opening. The email outbox
//! claims by `due_at` already, and checks the window again at each claim (a retry pushed past
//! the window's end moves to the next opening). An in-app delivery is hidden from the Messenger
//! until its `due_at`; when it comes, [`step`] wakes it (a conditional update that one node wins)
//! and says so on the bus, and every node delivers it to the Messengers open there, as for a
//! fresh send.

use std::collections::BTreeMap;

use tidings_core::audience::Audience;
use tidings_core::message::{Channel, DeliveryWindow, MessageState};
use tidings_core::window::{contact_zone, known_zone};
use tidings_store::{DueAt, Workspace};

use crate::Engine;
use crate::bus::Moved;
use crate::error::Result;

/// In-app deliveries woken per statement.
const WAKE_BATCH: i64 = 5_000;

impl Engine {
    /// When the deliveries of a send of `channel` with window `w` may go out, or `None` when
    /// all may go now. In-app messages take the workspace's zone; emails and pushes each contact's,
    /// for every zone the workspace's contacts have set.
    ///
    /// # Errors
    /// A database failure.
    pub(crate) async fn due_at(
        &self,
        ws: &Workspace,
        channel: Channel,
        w: &DeliveryWindow,
        now: i64,
    ) -> Result<Option<DueAt>> {
        let home = contact_zone(None, &ws.timezone);
        let default = w.due(now, &home);
        let by_zone = if channel.is_in_app() {
            Vec::new()
        } else {
            let zones = self.store.contact_timezones(ws.id).await?;
            let mut by_zone = Vec::new();
            for name in zones {
                // Unknown names take the workspace's zone, the default.
                if let Some(tz) = known_zone(&name) {
                    by_zone.push((name, w.due(now, &tz)));
                }
            }
            by_zone
        };
        if by_zone.iter().all(|(_, at)| *at == now) && default == now {
            return Ok(None);
        }
        Ok(Some(DueAt { default, by_zone }))
    }
}

/// One pass: wakes the in-app deliveries whose window opened by `now`. Returns how many.
pub async fn step(engine: &Engine, now: i64) -> u64 {
    let mut total = 0;
    loop {
        let woken = match engine.store().wake_in_app(now, WAKE_BATCH).await {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "could not wake deliveries whose window opened; will retry");
                return total;
            }
        };
        let count: u64 = woken.iter().map(|(_, _, n)| n).sum();
        for (ws, message, n) in woken {
            tracing::info!(workspace = ws, message, deliveries = n, "delivery window opened");
            if let Err(e) = open_conversation(engine, ws, message).await {
                tracing::warn!(message, error = %e, "could not open the conversation of a one-contact chat");
            }
            engine.moved(ws, BTreeMap::from([(message, n)]), Moved::WindowOpened);
        }
        total += count;
        if count < WAKE_BATCH as u64 {
            return total;
        }
    }
}

/// A chat to one chosen contact opens its conversation when it is delivered, as a send does.
async fn open_conversation(engine: &Engine, ws: i64, message: i64) -> Result<()> {
    let Some(workspace) = engine.workspace(ws).await? else { return Ok(()) };
    let Some(m) = engine.store().message(ws, message).await? else { return Ok(()) };
    if m.channel != Channel::Chat || m.targeted != 1 || m.state != MessageState::Sending {
        return Ok(());
    }
    let one = Audience::parse(&m.audience, "audience").map(|a| a.conversation).unwrap_or(false);
    if one {
        engine.open_conversation_of(&workspace, &m).await?;
    }
    Ok(())
}
