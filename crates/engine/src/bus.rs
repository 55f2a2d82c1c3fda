//! Events on a bus: after a unit of work commits, the engine says so, and every node relays it
//! to the Messengers and teammates' pages connected to it.
//!
//! The database stays the only source of truth. An event is a hint that something changed, small
//! enough to say what to fetch again; a client that missed one loses nothing, because it reads
//! from the database when it (re)connects, and a subscriber that may have missed some is told to
//! [`Heard::Resync`] its clients. Two buses: [`InProcess`] for one binary, and NATS between nodes
//! (in the web crate's wiring, so this crate keeps no network client).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tidings_core::conversation::State;
use tidings_core::message::Channel;
use tokio::sync::broadcast;

/// Something that committed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A manual message was sent: its deliveries are written and pending.
    MessageSent { workspace: i64, message: i64, channel: Channel, targeted: i64 },
    /// A message was stopped; its pending deliveries are cancelled.
    MessageStopped { workspace: i64, message: i64, cancelled: u64 },
    /// A draft or a scheduled message changed (created, edited, scheduled, unscheduled).
    MessageChanged { workspace: i64, message: i64 },
    /// Deliveries of a message moved or were marked (delivered, seen, clicked, replied).
    DeliveriesMoved { workspace: i64, message: i64, what: Moved, count: u64 },
    /// A part was added to a conversation. `visible` says whether the contact sees it.
    PartAdded { workspace: i64, conversation: i64, contact: i64, part: i64, visible: bool },
    /// A conversation changed: its state, assignee, tags or read mark.
    ConversationChanged { workspace: i64, conversation: i64, contact: i64, state: StateName },
    /// The contact saw the team's latest words in a conversation.
    ConversationSeen { workspace: i64, conversation: i64, contact: i64 },
    /// A teammate has a conversation open (`typing`: and is writing in it). Nothing is stored:
    /// pages repeat it while it holds and forget it when it stops coming.
    TeammatePresent { workspace: i64, conversation: i64, teammate: i64, typing: bool },
    /// A saved segment was created, changed or deleted.
    SegmentChanged { workspace: i64, segment: i64 },
    /// An import from a file moved: uploaded, started, a second of progress, or ended.
    ImportChanged { workspace: i64, import: i64 },
}

/// What happened to deliveries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Moved {
    Delivered,
    Seen,
    Clicked,
    Replied,
    /// An email given up on after temporary failures.
    Failed,
    Bounced,
    /// Emails the contact could not receive.
    Skipped,
    /// Contacts who unsubscribed through an email of the message.
    Unsubscribed,
    /// In-app deliveries whose delivery window opened: they are pending and due, to be
    /// delivered to the open Messengers as a fresh send is.
    WindowOpened,
}

/// A conversation's state, as events carry it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateName {
    Open,
    Closed,
    Snoozed,
}

impl From<State> for StateName {
    fn from(s: State) -> Self {
        match s {
            State::Open => StateName::Open,
            State::Closed => StateName::Closed,
            State::Snoozed => StateName::Snoozed,
        }
    }
}

impl Event {
    pub fn workspace(&self) -> i64 {
        match self {
            Event::MessageSent { workspace, .. }
            | Event::MessageStopped { workspace, .. }
            | Event::MessageChanged { workspace, .. }
            | Event::DeliveriesMoved { workspace, .. }
            | Event::PartAdded { workspace, .. }
            | Event::ConversationChanged { workspace, .. }
            | Event::ConversationSeen { workspace, .. }
            | Event::TeammatePresent { workspace, .. }
            | Event::SegmentChanged { workspace, .. }
            | Event::ImportChanged { workspace, .. } => *workspace,
        }
    }
}

/// What a subscriber hears.
#[derive(Clone, Debug, PartialEq)]
pub enum Heard {
    Event(Arc<Event>),
    /// Events may have been missed (the bus was lost, or this subscriber fell behind): whoever
    /// relays them must have its clients read again from the database.
    Resync,
}

/// Where events go.
pub trait Bus: Send + Sync + 'static {
    /// Publishes an event after its work committed. Never blocks and never fails the work: a
    /// lost event is resynced, not retried.
    fn publish(&self, event: Event);
    /// Everything published from now on, by any node.
    fn subscribe(&self) -> broadcast::Receiver<Heard>;
    /// Whether the bus is connected (for `/healthz`).
    fn healthy(&self) -> bool;
    /// `in-process` or `nats`.
    fn kind(&self) -> &'static str;
}

/// How many events a subscriber may fall behind before it is told to resync.
pub const BACKLOG: usize = 4096;

/// The bus of one process: subscribers hear what this process publishes.
pub struct InProcess {
    tx: broadcast::Sender<Heard>,
}

impl Default for InProcess {
    fn default() -> Self {
        InProcess { tx: broadcast::channel(BACKLOG).0 }
    }
}

impl InProcess {
    /// Passes something heard to this process's subscribers (a networked bus relays with it).
    pub fn relay(&self, heard: Heard) {
        // No subscriber is not an error: nobody is connected to hear it.
        let _ = self.tx.send(heard);
    }
}

impl Bus for InProcess {
    fn publish(&self, event: Event) {
        self.relay(Heard::Event(Arc::new(event)));
    }

    fn subscribe(&self) -> broadcast::Receiver<Heard> {
        self.tx.subscribe()
    }

    fn healthy(&self) -> bool {
        true
    }

    fn kind(&self) -> &'static str {
        "in-process"
    }
}

/// Receives the next thing heard, turning a subscriber that fell behind into a [`Heard::Resync`].
/// `None` when the bus is gone.
pub async fn next(rx: &mut broadcast::Receiver<Heard>) -> Option<Heard> {
    match rx.recv().await {
        Ok(h) => Some(h),
        Err(broadcast::error::RecvError::Lagged(_)) => Some(Heard::Resync),
        Err(broadcast::error::RecvError::Closed) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_hear_events_and_are_told_to_resync_when_they_fall_behind() {
        let bus = InProcess::default();
        let mut rx = bus.subscribe();
        let e = Event::MessageChanged { workspace: 1, message: 2 };
        bus.publish(e.clone());
        assert_eq!(next(&mut rx).await, Some(Heard::Event(Arc::new(e))));
        for m in 0..(BACKLOG as i64 + 10) {
            bus.publish(Event::MessageChanged { workspace: 1, message: m });
        }
        assert_eq!(next(&mut rx).await, Some(Heard::Resync), "a lagging subscriber resyncs");
    }

    #[test]
    fn events_travel_as_small_json() {
        let e = Event::PartAdded { workspace: 1, conversation: 2, contact: 3, part: 4, visible: true };
        let text = serde_json::to_string(&e).unwrap();
        assert!(text.starts_with("{\"type\":\"part_added\""), "{text}");
        assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), e);
    }
}
