//! The engine's bus between nodes, over NATS core publish/subscribe (`TIDINGS_NATS_URL`).
//!
//! Every node publishes its events on one subject and subscribes to it. A node hears its own
//! events at once, in process (it skips them when NATS sends them back), and the other nodes'
//! events through NATS. Nothing is stored in NATS: the database
//! stays the only source of truth. When the connection to NATS is lost, events published
//! meanwhile may be lost too, so when it comes back every subscriber hears [`Heard::Resync`] and
//! tells its clients to read again from the database.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use tidings_engine::bus::{Bus, Event, Heard, InProcess};
use tokio::sync::{Notify, broadcast, mpsc};

/// The subject every node publishes on and subscribes to.
pub const SUBJECT: &str = "tidings.events";

/// An event as it travels: with the node that published it.
#[derive(serde::Serialize, serde::Deserialize)]
struct Envelope {
    node: String,
    event: Event,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach NATS at {url}: {cause}")]
    Connect { url: String, cause: String },
    #[error("cannot subscribe to {SUBJECT} on NATS: {0}")]
    Subscribe(String),
}

/// The bus over NATS.
pub struct NatsBus {
    client: async_nats::Client,
    local: Arc<InProcess>,
    outbox: mpsc::UnboundedSender<Event>,
}

/// A name for this process on the bus, fit for a subject: random bytes, as hex.
fn node_id() -> String {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl NatsBus {
    /// Connects to NATS at `url` (`nats://host:4222`, or `host:port`) as the node `name`, and
    /// starts relaying the other nodes' events to this node's subscribers.
    ///
    /// # Errors
    /// When NATS cannot be reached now (a node does not start without its bus), or the
    /// subscription is refused.
    pub async fn connect(url: &str, name: &str) -> Result<Arc<NatsBus>, Error> {
        let local = Arc::new(InProcess::default());
        let on_event = local.clone();
        // Set while the connection is lost, so that only a reconnection (not the first
        // connection) asks for a resync.
        let lost = Arc::new(AtomicBool::new(false));
        // Wakes the relay when the connection is back, to renew the subscription before clients
        // read again.
        let back = Arc::new(Notify::new());
        let on_back = back.clone();
        let node = node_id();
        let client = async_nats::ConnectOptions::new()
            .name(name)
            .connection_timeout(Duration::from_secs(5))
            // Try again forever, quickly: a node without its bus only serves its own clients live.
            .max_reconnects(None)
            .reconnect_delay_callback(|attempts| Duration::from_millis((attempts as u64 * 250).min(2_000)))
            .event_callback(move |event| {
                let (local, lost, back) = (on_event.clone(), lost.clone(), on_back.clone());
                async move {
                    match event {
                        async_nats::Event::Connected if lost.swap(false, Ordering::SeqCst) => back.notify_one(),
                        async_nats::Event::Disconnected => {
                            lost.store(true, Ordering::SeqCst);
                            tracing::warn!("lost the NATS bus; other nodes' events wait until it is back");
                        }
                        async_nats::Event::SlowConsumer(_) => {
                            tracing::warn!("this node fell behind the NATS bus: clients read again");
                            local.relay(Heard::Resync);
                        }
                        other => tracing::debug!(event = %other, "NATS"),
                    }
                }
            })
            .connect(url)
            .await
            .map_err(|e| Error::Connect { url: url.to_owned(), cause: e.to_string() })?;
        let subscription = subscribe(&client, &node).await.map_err(Error::Subscribe)?;
        tokio::spawn(relay(client.clone(), node.clone(), subscription, local.clone(), back));
        let (outbox, pending) = mpsc::unbounded_channel();
        tokio::spawn(publish(client.clone(), node, pending));
        Ok(Arc::new(NatsBus { client, local, outbox }))
    }
}

/// Subscribes to the events' subject; once this returns, the server has the subscription, so
/// this node hears every event published from then on. A flush only empties the client's
/// buffer, so the proof is a round trip: a message to a subject of this node's own, subscribed
/// after the events' subject, comes back only once the server has both subscriptions.
async fn subscribe(client: &async_nats::Client, node: &str) -> Result<async_nats::Subscriber, String> {
    let subscription = client.subscribe(SUBJECT).await.map_err(|e| e.to_string())?;
    let probe = format!("tidings.probe.{node}");
    let mut echo = client.subscribe(probe.clone()).await.map_err(|e| e.to_string())?;
    client.publish(probe, Default::default()).await.map_err(|e| e.to_string())?;
    client.flush().await.map_err(|e| e.to_string())?;
    match tokio::time::timeout(Duration::from_secs(5), echo.next()).await {
        Ok(Some(_)) => Ok(subscription),
        _ => Err("the server did not confirm the subscription within 5 s".into()),
    }
}

/// The other nodes' events, to this node's subscribers. When the connection comes back, the
/// subscription is made anew and confirmed before clients are told to read again: an event
/// published between the two would otherwise be missed by a client that already read.
async fn relay(
    client: async_nats::Client,
    node: String,
    mut subscription: async_nats::Subscriber,
    local: Arc<InProcess>,
    back: Arc<Notify>,
) {
    loop {
        tokio::select! {
            message = subscription.next() => match message {
                Some(message) => match serde_json::from_slice::<Envelope>(&message.payload) {
                    // This node heard its own events when it published them.
                    Ok(e) if e.node == node => {}
                    Ok(e) => local.relay(Heard::Event(Arc::new(e.event))),
                    // An event this version does not know: its clients refresh all they show.
                    Err(e) => {
                        tracing::warn!(error = %e, "an event on the bus could not be read; clients read again");
                        local.relay(Heard::Resync);
                    }
                },
                None => {
                    tracing::warn!("the NATS subscription ended; clients read again");
                    local.relay(Heard::Resync);
                    return;
                }
            },
            () = back.notified() => {
                match subscribe(&client, &node).await {
                    // The old subscription goes when this one is confirmed; an event heard on
                    // both meanwhile is heard twice, which a hint may be.
                    Ok(fresh) => subscription = fresh,
                    Err(e) => tracing::warn!(error = %e, "could not renew the NATS subscription; it renews itself"),
                }
                tracing::info!("the NATS bus is back: clients read again from the database");
                local.relay(Heard::Resync);
            }
        }
    }
}

/// This node's events, to NATS, in the order they were published.
async fn publish(client: async_nats::Client, node: String, mut pending: mpsc::UnboundedReceiver<Event>) {
    while let Some(event) = pending.recv().await {
        let payload = match serde_json::to_vec(&Envelope { node: node.clone(), event }) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "an event could not be written");
                continue;
            }
        };
        if let Err(e) = client.publish(SUBJECT, payload.into()).await {
            // Lost for the other nodes; their clients resync when the bus comes back.
            tracing::warn!(error = %e, "an event could not be published on NATS");
        }
    }
}

impl Bus for NatsBus {
    fn publish(&self, event: Event) {
        // This node's subscribers hear it now, whatever NATS is doing.
        self.local.publish(event.clone());
        let _ = self.outbox.send(event);
    }

    fn subscribe(&self) -> broadcast::Receiver<Heard> {
        self.local.subscribe()
    }

    fn healthy(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    fn kind(&self) -> &'static str {
        "nats"
    }
}
