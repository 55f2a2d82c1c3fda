//! The Tidings engine: every operation that writes or has a side effect exists here once, and
//! every adapter (the REST API, the admin app, the Messenger, the CLI, the benchmarks) calls it.
//! Reads may go to the store directly.
//!
//! An operation is a method of [`Engine`]: it checks its input, does its unit of work through the
//! store (one transaction each, inside the store), and after that work commits publishes an
//! [`Event`] on the bus. It returns [`EngineError`], typed, never an HTTP answer. Time comes from
//! the engine's [`Clock`], so a test sets it. Background work (the scheduler, `last_seen_at`
//! batches, the email outbox, the webhook worker) lives here too, each a step a test can run,
//! supervised by [`tasks`] or by its own handle.

pub mod attributes;
pub mod bus;
pub mod clock;
pub mod contacts;
pub mod conversations;
pub mod deliveries;
pub mod email;
pub mod error;
pub mod filters;
pub mod import;
pub mod inbox;
pub mod labels;
pub mod messages;
pub mod presence;
pub mod profiles;
pub mod render;
pub mod scheduler;
pub mod segments;
pub mod settings;
pub mod tasks;
pub mod uploads;
pub mod webhooks;
pub mod windows;

use std::sync::Arc;

use tidings_store::{Store, Workspace};

pub use bus::{Bus, Event, Heard, InProcess};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{EngineError, Missing, Result};

/// The engine: the store it writes to, the clock it reads, the bus it tells.
pub struct Engine {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    bus: Arc<dyn Bus>,
    presence: presence::Presence,
    mail: std::sync::OnceLock<Arc<email::MailSetup>>,
    /// Wakes this node's outbox when a send here queued emails.
    outbox_wake: tokio::sync::Notify,
    /// How webhooks are sent (read at every step of the worker, so a test may change it).
    webhooks: std::sync::RwLock<Arc<webhooks::WebhookSetup>>,
    /// The admin app's imports running in this process.
    running_imports: import::jobs::RunningImports,
}

impl Engine {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, bus: Arc<dyn Bus>) -> Arc<Engine> {
        Arc::new(Engine {
            store,
            clock,
            bus,
            presence: presence::Presence::default(),
            mail: std::sync::OnceLock::new(),
            outbox_wake: tokio::sync::Notify::new(),
            webhooks: std::sync::RwLock::default(),
            running_imports: Default::default(),
        })
    }

    /// An engine on the system's clock and an in-process bus: one binary, nothing to set up.
    pub fn local(store: Arc<dyn Store>) -> Arc<Engine> {
        Engine::new(store, Arc::new(SystemClock), Arc::new(InProcess::default()))
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn bus(&self) -> &Arc<dyn Bus> {
        &self.bus
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Contacts seen by the Messenger, written in batches (see [`presence`]).
    pub fn presence(&self) -> &presence::Presence {
        &self.presence
    }

    fn publish(&self, event: Event) {
        self.bus.publish(event);
    }

    /// A workspace by id.
    ///
    /// # Errors
    /// When the database cannot be read; `NotFound` is not an error here (`None`).
    pub async fn workspace(&self, id: i64) -> Result<Option<Workspace>> {
        Ok(self.store.workspace(id).await?)
    }
}
