//! A fresh store of each dialect, with a workspace, a teammate and an engine on a clock the test
//! moves. PostgreSQL is required: the tests fail, loudly, when it cannot be reached.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tidings_core::contact::{Contact, Role};
use tidings_engine::bus::{Event, Heard};
use tidings_engine::{Engine, InProcess, ManualClock};
use tidings_store::{NewTeammate, NewWorkspace, Store, Teammate, TeammateRole, Workspace};
use tokio::sync::broadcast;

static COUNTER: AtomicU64 = AtomicU64::new(0);

pub const START: i64 = 1_800_000_000;

fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}

fn postgres_url() -> String {
    std::env::var("TIDINGS_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// One database with an engine on it.
pub struct World {
    pub db: &'static str,
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    pub engine: Arc<Engine>,
    pub ws: Workspace,
    pub owner: Teammate,
    heard: broadcast::Receiver<Heard>,
    cleanup: Option<String>,
    dir: std::path::PathBuf,
}

impl World {
    /// One world per database.
    pub async fn both() -> Vec<World> {
        let dir = std::env::temp_dir().join(unique("tidings-engine"));
        std::fs::create_dir_all(&dir).unwrap();
        let sqlite = tidings_store::open(&format!("sqlite://{}", dir.join("t.db").display())).await.unwrap();
        let schema = unique("engine");
        let pg = tidings_store::open_postgres_schema(&postgres_url(), &schema).await.unwrap_or_else(|e| {
            panic!("PostgreSQL is required for the engine's tests and could not be opened at {} ({e})", postgres_url())
        });
        vec![World::on("sqlite", sqlite, None, dir.clone()).await, World::on("postgres", pg, Some(schema), dir).await]
    }

    async fn on(db: &'static str, store: Arc<dyn Store>, cleanup: Option<String>, dir: std::path::PathBuf) -> World {
        let id = unique("ws");
        let (ws, owner) = store
            .create_workspace(
                NewWorkspace {
                    app_id: id.clone(),
                    name: "Acme".into(),
                    timezone: "UTC".into(),
                    identity_secret: "secret".into(),
                    identity_required: true,
                    created_at: START,
                },
                NewTeammate {
                    email: format!("{id}@example.test"),
                    name: "Owner".into(),
                    password_hash: None,
                    role: TeammateRole::Owner,
                    created_at: START,
                },
            )
            .await
            .unwrap();
        let clock = Arc::new(ManualClock::at(START));
        let engine = Engine::new(store.clone(), clock.clone(), Arc::new(InProcess::default()));
        let heard = engine.bus().subscribe();
        World { db, store, clock, engine, ws, owner, heard, cleanup, dir }
    }

    /// Another engine on the same database and clock: a second node, without a shared bus.
    pub fn another_node(&self) -> Arc<Engine> {
        Engine::new(self.store.clone(), self.clock.clone(), Arc::new(InProcess::default()))
    }

    /// Another pool on the same PostgreSQL schema: a second node's store. `None` on SQLite, which
    /// serves one node.
    pub async fn another_store(&self) -> Option<Arc<dyn Store>> {
        let schema = self.cleanup.as_ref()?;
        Some(tidings_store::open_postgres_schema(&postgres_url(), schema).await.unwrap())
    }

    pub async fn contact(&self, name: &str) -> Contact {
        let mut c = Contact::new(self.ws.id, Role::User, START);
        c.name = Some(name.into());
        c.external_id = Some(unique(name));
        self.store.insert_contact(&c).await.unwrap()
    }

    /// Everything published since the last call.
    pub fn events(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        while let Ok(h) = self.heard.try_recv() {
            if let Heard::Event(e) = h {
                out.push((*e).clone());
            }
        }
        out
    }

    pub async fn cleanup(self) {
        if let Some(schema) = &self.cleanup {
            tidings_store::drop_postgres_schema(&*self.store, schema).await.unwrap();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
