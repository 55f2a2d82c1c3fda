//! The webhook worker: turns new parts into notifications, claims those that are due with a
//! lease, sends each as Intercom's `notification_event` signed with its subscription's secret,
//! and records the answer once.
//!
//! Each [`Worker::step`] reads the parts log, claims up to `concurrency` notifications (the claim
//! commits before anything is sent), sends them at once and records every answer before it
//! returns, so a stop between steps loses nothing and leaves nothing half done. A node that dies
//! mid-send leaves its claims to end; the notifications are then sent again, with the same
//! `id`, which is how a receiver tells a repeat. The conversation in a notification is shaped by
//! whoever starts the worker ([`Shaper`]: the web layer, as its API shows it), so this crate
//! needs no HTTP server.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value as Json, json};
use tidings_store::{ClaimedNotification, NotificationOutcome};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::WebhookSetup;
use super::address::{Guard, check_literal};
use crate::Engine;
use crate::bus::{self, Event, Heard};

/// How often the worker looks for work when no new part woke it.
const IDLE: Duration = Duration::from_secs(1);

/// Parts read per subscription in one pass over the log.
const PARTS_PER_PASS: i64 = 500;

/// How often finished notifications past their keeping time are deleted, in seconds.
const PRUNE_EVERY: i64 = 3_600;

/// Shapes the conversation a notification carries.
#[async_trait::async_trait]
pub trait Shaper: Send + Sync + 'static {
    /// The conversation, with its parts, as the API shows it; `None` when it no longer exists.
    ///
    /// # Errors
    /// Why it could not be read now (the attempt is retried).
    async fn conversation(&self, workspace: i64, conversation: i64) -> Result<Option<Json>, String>;
}

/// What one step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// Notifications written from new parts.
    pub enqueued: u64,
    /// Notifications claimed and attempted.
    pub attempted: usize,
    /// Of those, delivered (a 2xx answer).
    pub delivered: usize,
}

/// Sends the notifications of every workspace; one per node.
pub struct Worker {
    engine: Arc<Engine>,
    shaper: Arc<dyn Shaper>,
    /// The HTTP client, built for the setup it was made with (and made again when it changes).
    client: Mutex<Option<(Arc<WebhookSetup>, reqwest::Client)>>,
}

impl Worker {
    pub fn new(engine: Arc<Engine>, shaper: Arc<dyn Shaper>) -> Worker {
        Worker { engine, shaper, client: Mutex::new(None) }
    }

    fn client(&self, setup: &Arc<WebhookSetup>) -> Result<reqwest::Client, String> {
        let mut held = self.client.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((made_for, client)) = held.as_ref()
            && (Arc::ptr_eq(made_for, setup) || **made_for == **setup)
        {
            return Ok(client.clone());
        }
        let client = reqwest::Client::builder()
            .user_agent("Tidings-Webhook")
            .timeout(setup.timeout)
            .connect_timeout(setup.timeout)
            // A redirect would lead to an address nobody checked: a 3xx is a failed attempt.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve the name itself, past the check.
            .no_proxy()
            .dns_resolver(Arc::new(Guard { allow_private: setup.allow_private }))
            .build()
            .map_err(|e| format!("the HTTP client could not be made: {e}"))?;
        *held = Some((setup.clone(), client.clone()));
        Ok(client)
    }

    /// One pass: writes the notifications of new parts, then claims what is due at `now`, sends
    /// it and records every answer.
    pub async fn step(&self, now: i64) -> Step {
        let engine = &self.engine;
        let setup = engine.webhook_setup();
        let mut step = Step::default();
        // A few passes, so a burst of parts is read at once, not one pass per tick.
        for _ in 0..10 {
            match engine.store.enqueue_notifications(now, PARTS_PER_PASS).await {
                Ok(e) => {
                    step.enqueued += e.notifications;
                    if e.parts == 0 {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not read new parts for webhooks; trying again next step");
                    break;
                }
            }
        }
        let lease_until = now + setup.lease;
        let claimed = match engine.store.claim_notifications(now, lease_until, setup.concurrency.max(1) as i64).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "could not claim webhook notifications; trying again next step");
                return step;
            }
        };
        step.attempted = claimed.len();
        let client = match self.client(&setup) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::error!(error = %e, "webhooks cannot be sent");
                None
            }
        };
        let mut sends = JoinSet::new();
        for c in claimed {
            let (engine, shaper, client, setup) = (engine.clone(), self.shaper.clone(), client.clone(), setup.clone());
            sends.spawn(async move {
                let outcome = match client {
                    Some(client) => attempt(&engine, &*shaper, &client, &setup, &c, lease_until).await,
                    None => {
                        Some(retry_or_fail(&setup, &c, engine.now(), None, "the HTTP client could not be made".into()))
                    }
                };
                if let Some(outcome) = &outcome {
                    record(&engine, &c, outcome).await;
                }
                matches!(outcome, Some(NotificationOutcome::Delivered { .. }))
            });
        }
        while let Some(done) = sends.join_next().await {
            if matches!(done, Ok(true)) {
                step.delivered += 1;
            }
        }
        step
    }
}

/// The worker of this node, running.
pub struct Webhooks {
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

impl Webhooks {
    /// Stops taking new work; the sends under way finish and their answers are recorded.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.handle.await;
    }
}

impl Engine {
    /// Starts this node's webhook worker, whose notifications carry conversations as `shaper`
    /// shapes them.
    pub fn start_webhooks(self: &Arc<Self>, shaper: Arc<dyn Shaper>) -> Webhooks {
        let (stop, stopped) = watch::channel(false);
        let worker = Arc::new(Worker::new(self.clone(), shaper));
        let handle = tokio::spawn(run(worker, stopped));
        Webhooks { stop, handle }
    }
}

async fn run(worker: Arc<Worker>, mut stopped: watch::Receiver<bool>) {
    let engine = worker.engine.clone();
    let mut heard = engine.bus().subscribe();
    let mut next_prune = 0;
    loop {
        if *stopped.borrow() {
            break;
        }
        let now = engine.now();
        // In a task of its own, so that a step that panics is logged and the worker goes on.
        let step = {
            let worker = worker.clone();
            let span = tracing::debug_span!("step", task = "webhooks");
            tokio::spawn(tracing::Instrument::instrument(async move { worker.step(now).await }, span))
        };
        let busy = match step.await {
            Ok(s) => s.attempted >= engine.webhook_setup().concurrency.max(1),
            Err(e) => {
                tracing::error!(error = %e, "a webhook step failed; the worker goes on");
                false
            }
        };
        if now >= next_prune {
            let keep = engine.webhook_setup().keep;
            if let Err(e) = engine.store.prune_notifications(now - keep).await {
                tracing::warn!(error = %e, "could not delete old webhook notifications");
            }
            next_prune = now + PRUNE_EVERY;
        }
        if busy {
            continue;
        }
        // Wait for a new part (on this node or, through the bus, another), or the next tick.
        let idle = tokio::time::sleep(IDLE);
        tokio::pin!(idle);
        loop {
            tokio::select! {
                () = &mut idle => break,
                _ = stopped.changed() => break,
                h = bus::next(&mut heard) => match h {
                    Some(Heard::Event(e)) if matches!(*e, Event::PartAdded { .. }) => break,
                    Some(Heard::Resync) => break,
                    Some(Heard::Event(_)) => {}
                    None => {
                        (&mut idle).await;
                        break;
                    }
                },
            }
        }
    }
}

/// The envelope Intercom sends: the notification, and the conversation as `item`.
pub fn envelope(c: &ClaimedNotification, item: Json) -> Json {
    let n = &c.notification;
    json!({
        "type": "notification_event",
        "app_id": c.app_id,
        "id": n.notification_id,
        "topic": n.topic.as_str(),
        // As Intercom's: the notification is on its way, so not delivered yet.
        "delivery_status": "pending",
        "delivery_attempts": n.attempts,
        "delivered_at": 0,
        "first_sent_at": n.first_sent_at.unwrap_or(n.created_at),
        "created_at": n.created_at,
        "links": {},
        "self": null,
        "data": {"type": "notification_event_data", "item": item},
    })
}

/// `sha1=` and the hex HMAC-SHA1 of `body` keyed with `secret`: the `X-Hub-Signature` header.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha1={}", hex::encode(mac.finalize().into_bytes()))
}

/// One attempt; `None` when the claim is about to end before it could be made (the notification
/// is then claimed again, and sending this copy too would send it twice).
async fn attempt(
    engine: &Engine,
    shaper: &dyn Shaper,
    client: &reqwest::Client,
    setup: &WebhookSetup,
    c: &ClaimedNotification,
    lease_until: i64,
) -> Option<NotificationOutcome> {
    let n = &c.notification;
    let fail = |status: Option<i64>, why: String| retry_or_fail(setup, c, engine.now(), status, why);
    let item = match shaper.conversation(n.workspace_id, n.conversation_id).await {
        Ok(Some(item)) => item,
        Ok(None) => {
            return Some(NotificationOutcome::Failed { status: None, error: "the conversation was deleted".into() });
        }
        Err(e) => return Some(fail(None, format!("the conversation could not be read: {e}"))),
    };
    let body = serde_json::to_vec(&envelope(c, item)).expect("JSON values serialise");
    let url = match super::address::parse_target(&c.url) {
        Ok(u) => u,
        Err(e) => return Some(NotificationOutcome::Failed { status: None, error: e }),
    };
    if let Err(e) = check_literal(&url, setup.allow_private) {
        return Some(fail(None, e));
    }
    let longest = setup.timeout.as_secs() as i64 + 1;
    if engine.now() + longest >= lease_until {
        tracing::debug!(notification = n.id, "claim about to end before sending; left to the next claim");
        return None;
    }
    let sent = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Hub-Signature", signature(&c.secret, &body))
        .body(body)
        .send()
        .await;
    Some(match sent {
        Ok(answer) if answer.status().is_success() => {
            NotificationOutcome::Delivered { status: i64::from(answer.status().as_u16()) }
        }
        Ok(answer) => {
            let status = answer.status();
            fail(Some(i64::from(status.as_u16())), format!("the receiver answered {status}"))
        }
        Err(e) => fail(None, describe(&e)),
    })
}

/// A failed request in words, with its causes (reqwest's own message names only the URL).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "no answer in time".into();
    }
    let mut words = Vec::new();
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(c) = cause {
        words.push(c.to_string());
        cause = c.source();
    }
    if words.is_empty() { e.to_string() } else { words.join(": ") }
}

/// Another attempt after a failure, or the end when the attempts ran out.
fn retry_or_fail(
    setup: &WebhookSetup,
    c: &ClaimedNotification,
    now: i64,
    status: Option<i64>,
    error: String,
) -> NotificationOutcome {
    let attempts = c.notification.attempts;
    match setup.retry_after.get((attempts - 1).max(0) as usize) {
        Some(after) => NotificationOutcome::Retry { at: now + after, status, error },
        None => NotificationOutcome::Failed { status, error: format!("gave up after {attempts} attempts: {error}") },
    }
}

/// Records an answer, retried a few times: a `delivered` not written means it is sent again.
async fn record(engine: &Engine, c: &ClaimedNotification, outcome: &NotificationOutcome) {
    let n = &c.notification;
    for attempt in 0..5 {
        match engine.store.record_notification(n.id, n.attempts, outcome, engine.now()).await {
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(notification = n.id, attempt, error = %e, "could not record a webhook's answer");
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hex_hmac_sha1_of_the_body() {
        // RFC 2202, test case 2.
        assert_eq!(signature("Jefe", b"what do ya want for nothing?"), "sha1=effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    }
}
