//! Deliveries: a contact's Messenger takes what is pending for them, an open Messenger is
//! delivered to at once, and the contact's seen and clicks are recorded.
//!
//! A delivery reaches a contact only through the store's conditional move from `pending` (core's
//! delivery machine), so retries, restarts and several nodes never deliver one twice, nor after a
//! stop.

use std::collections::BTreeMap;

use tidings_store::StatFilter;

use crate::Engine;
use crate::bus::{Event, Moved};
use crate::error::Result;

impl Engine {
    pub(crate) fn moved(&self, ws: i64, per_message: BTreeMap<i64, u64>, what: Moved) {
        for (message, count) in per_message {
            self.publish(Event::DeliveriesMoved { workspace: ws, message, what, count });
        }
    }

    /// Delivers everything pending and due for a contact (their Messenger opened or fetched);
    /// a delivery waiting for its window stays hidden. Returns how many were delivered.
    ///
    /// # Errors
    /// A database failure.
    pub async fn deliver_pending(&self, ws: i64, contact: i64) -> Result<u64> {
        let now = self.now();
        let pending = self.store.pending_in_app(ws, contact, now).await?;
        if pending.is_empty() {
            return Ok(0);
        }
        let ids: Vec<i64> = pending.iter().map(|(d, _)| d.id).collect();
        let delivered = self.store.deliver(ws, contact, &ids, now).await?;
        let mut per_message = BTreeMap::new();
        for (d, m) in &pending {
            if delivered.contains(&d.id) {
                *per_message.entry(m.id).or_insert(0) += 1;
            }
        }
        self.moved(ws, per_message, Moved::Delivered);
        Ok(delivered.len() as u64)
    }

    /// Delivers one message to those of `contacts` whose delivery is still pending (the
    /// contacts whose Messenger is open on the calling node). Returns `(delivery, contact)`.
    ///
    /// # Errors
    /// A database failure.
    pub async fn deliver_now(&self, ws: i64, message: i64, contacts: &[i64]) -> Result<Vec<(i64, i64)>> {
        let delivered = self.store.deliver_message_to(ws, message, contacts, self.now()).await?;
        if !delivered.is_empty() {
            self.moved(ws, BTreeMap::from([(message, delivered.len() as u64)]), Moved::Delivered);
        }
        Ok(delivered)
    }

    /// Records that a contact saw these deliveries (ids not theirs, or not delivered, are
    /// ignored). Returns how many were newly seen.
    ///
    /// # Errors
    /// A database failure.
    pub async fn seen(&self, ws: i64, contact: i64, delivery_ids: &[i64]) -> Result<u64> {
        if delivery_ids.is_empty() {
            return Ok(0);
        }
        let theirs = self.store.deliveries_of_contact(ws, contact).await?;
        let now = self.now();
        let mut per_message = BTreeMap::new();
        for d in theirs.iter().filter(|d| delivery_ids.contains(&d.id)) {
            if self.store.mark_delivery(ws, contact, d.id, StatFilter::Seen, now).await? {
                *per_message.entry(d.message_id).or_insert(0) += 1;
            }
        }
        let marked = per_message.values().sum();
        self.moved(ws, per_message, Moved::Seen);
        Ok(marked)
    }

    /// Records a click on a link in a delivery of the contact's; it counts once, and a message
    /// clicked was seen. Returns whether this was its first click.
    ///
    /// # Errors
    /// A database failure.
    pub async fn clicked(&self, ws: i64, contact: i64, delivery: i64) -> Result<bool> {
        let Some(d) = self.store.deliveries_of_contact(ws, contact).await?.into_iter().find(|d| d.id == delivery)
        else {
            return Ok(false);
        };
        let now = self.now();
        let clicked = self.store.mark_delivery(ws, contact, d.id, StatFilter::Clicked, now).await?;
        let seen = self.store.mark_delivery(ws, contact, d.id, StatFilter::Seen, now).await?;
        for (done, what) in [(clicked, Moved::Clicked), (seen, Moved::Seen)] {
            if done {
                self.moved(ws, BTreeMap::from([(d.message_id, 1)]), what);
            }
        }
        Ok(clicked)
    }
}
