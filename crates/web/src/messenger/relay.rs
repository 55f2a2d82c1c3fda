//! The engine's bus, relayed to the Messengers open on this node.
//!
//! Every node hears every event, whichever node did the work. A message sent (or whose delivery
//! window opened) is delivered here to
//! the recipients whose Messenger is open on this node (the store's conditional move from
//! `pending`, so a recipient connected twice, or to two nodes, gets it once); a teammate's words
//! go to the contact's open Messengers, and so does word that they saw a conversation (from
//! another of their Messengers); and when events may have been lost, every Messenger here
//! is told to read again from the database (`{"type": "resync"}`), so a lost event loses
//! nothing.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value as Json, json};
use tidings_core::contact::{Contact, Role};
use tidings_engine::bus::{self, Event, Heard, Moved};
use tidings_engine::render::Composed;
use tidings_store::Message;

use super::items;
use crate::AppState;

/// The frame that tells a Messenger to fetch again.
pub const RESYNC: &str = r#"{"type":"resync"}"#;

/// Sent messages delivered at once on this node. Each delivery holds a database connection for
/// its `UPDATE`; a burst of sends must leave the pool to the requests.
const DELIVERING: usize = 2;

/// Relays until the bus is gone (or the task is aborted at shutdown).
pub async fn run(state: AppState) {
    let mut heard = state.engine.bus().subscribe();
    let delivering = Arc::new(tokio::sync::Semaphore::new(DELIVERING));
    while let Some(h) = bus::next(&mut heard).await {
        match h {
            Heard::Resync => {
                let told = state.hub.send_to_all(Arc::from(RESYNC));
                tracing::info!(told, "events may have been missed: open Messengers read again");
            }
            Heard::Event(e) => match *e {
                // A send, or in-app deliveries whose delivery window opened: both are pending and
                // due, and delivered the same way.
                Event::MessageSent { workspace, message, channel, .. } if channel.is_in_app() => {
                    spawn_delivery(&state, &delivering, workspace, message);
                }
                Event::DeliveriesMoved { workspace, message, what: Moved::WindowOpened, .. } => {
                    spawn_delivery(&state, &delivering, workspace, message);
                }
                Event::PartAdded { workspace, contact, part, visible: true, .. }
                    if state.hub.is_online(workspace, contact) =>
                {
                    push_part(&state, workspace, contact, part).await;
                }
                // Seen in one Messenger (or tab): the contact's others clear their badges.
                Event::ConversationSeen { workspace, conversation, contact } => {
                    let frame = json!({"type": "conversation_seen", "conversation_id": conversation.to_string()});
                    state.hub.send(workspace, contact, Arc::from(frame.to_string()));
                }
                _ => {}
            },
        }
    }
}

/// Delivers in a task of its own: a large audience takes a while, and the next events need not
/// wait.
fn spawn_delivery(state: &AppState, delivering: &Arc<tokio::sync::Semaphore>, workspace: i64, message: i64) {
    let (state, delivering) = (state.clone(), delivering.clone());
    tokio::spawn(async move {
        let Ok(_turn) = delivering.acquire_owned().await else { return };
        deliver(state, workspace, message).await;
    });
}

/// Delivers a freshly sent message to every recipient whose Messenger is open on this node.
async fn deliver(state: AppState, workspace: i64, message: i64) {
    let online = state.hub.online(workspace);
    if online.is_empty() {
        return;
    }
    let delivered = match state.engine.deliver_now(workspace, message, &online).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(message, error = %e, "real-time delivery failed; recipients will fetch it");
            return;
        }
    };
    if delivered.is_empty() {
        return;
    }
    if let Err(e) = push(&state, workspace, message, &delivered).await {
        tracing::warn!(message, error = %e, "could not render a delivered message; recipients will fetch it");
    }
}

/// Pushes a delivered message to its recipients' open Messengers.
async fn push(state: &AppState, workspace: i64, message: i64, delivered: &[(i64, i64)]) -> tidings_engine::Result<()> {
    let store = state.engine.store();
    let Some(m) = store.message(workspace, message).await? else { return Ok(()) };
    let composed = Composed::of(&m, &store.custom_attributes(workspace).await?)?;
    let sender = items::sender(store.teammate(workspace, m.sender_id).await?.as_ref());
    let now = state.engine.now();
    let frame = |delivery: i64, contact: &Contact| message_frame(delivery, &m, contact, &composed, &sender, now);
    let frames: Vec<(i64, Arc<str>)> = if composed.is_personalised() {
        let ids: Vec<i64> = delivered.iter().map(|(_, c)| *c).collect();
        let contacts: HashMap<i64, Contact> =
            store.contacts_by_ids(workspace, &ids).await?.into_iter().map(|c| (c.id, c)).collect();
        delivered.iter().filter_map(|(d, c)| Some((*c, frame(*d, contacts.get(c)?)))).collect()
    } else {
        // Everyone reads the same thing: one frame, with each delivery's id put in its place.
        let anyone = Contact::new(workspace, Role::User, 0);
        let one = frame(0, &anyone);
        match one.split_once(DELIVERY_ZERO) {
            Some((before, after)) => delivered
                .iter()
                .map(|(d, c)| (*c, Arc::from(format!("{before}\"delivery_id\":\"{d}\"{after}"))))
                .collect(),
            None => delivered.iter().map(|(d, c)| (*c, frame(*d, &anyone))).collect(),
        }
    };
    let pushed = state.hub.send_each(workspace, &frames);
    tracing::info!(message, delivered = delivered.len(), pushed, "pushed to open Messengers");
    Ok(())
}

/// The delivery id of a frame rendered for delivery 0, as serialised: a key, so it appears once
/// (quotes inside string values are escaped).
const DELIVERY_ZERO: &str = r#""delivery_id":"0""#;

fn message_frame(
    delivery: i64,
    m: &Message,
    contact: &Contact,
    composed: &Composed,
    sender: &Json,
    now: i64,
) -> Arc<str> {
    let item = items::item(delivery, m, contact, composed, sender, None, Some(now));
    Arc::from(json!({"type": "message", "item": item}).to_string())
}

/// Pushes a teammate's part that the contact sees to their open Messengers on this node (their
/// own words are in the answer to the request that wrote them).
async fn push_part(state: &AppState, workspace: i64, contact: i64, part: i64) {
    let store = state.engine.store();
    let Ok(Some(p)) = store.conversation_part(workspace, part).await else { return };
    if p.author_type.is_contact() {
        return;
    }
    let teammate = store.teammate(workspace, p.author_id).await.ok().flatten();
    let frame = json!({
        "type": "conversation_part",
        "conversation_id": p.conversation_id.to_string(),
        "part": items::part(&p, items::sender(teammate.as_ref())),
    });
    state.hub.send(workspace, contact, Arc::from(frame.to_string()));
}
