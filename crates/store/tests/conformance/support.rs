//! Opens a fresh store of each dialect for one test.
//!
//! PostgreSQL is required: a test fails, loudly, when it cannot be reached. Each test gets its
//! own schema, dropped when the test passes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tidings_core::contact::{Contact, Role};
use tidings_core::conversation::{Author, PartType};
use tidings_store::{ConversationPart, NewTeammate, NewWorkspace, Store, TeammateRole, Workspace};

static COUNTER: AtomicU64 = AtomicU64::new(0);

pub fn postgres_url() -> String {
    std::env::var("TIDINGS_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}

/// A store of each dialect, fresh and empty, with a label for assertion messages.
pub struct Stores {
    pub all: Vec<(&'static str, Arc<dyn Store>)>,
    schema: String,
    dir: std::path::PathBuf,
}

impl Stores {
    pub async fn new() -> Self {
        let dir = std::env::temp_dir().join(unique("tidings-test"));
        std::fs::create_dir_all(&dir).unwrap();
        let sqlite = tidings_store::open(&format!("sqlite://{}", dir.join("t.db").display())).await.unwrap();
        let schema = unique("t");
        let pg = tidings_store::open_postgres_schema(&postgres_url(), &schema).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is required for the storage tests and could not be opened at {} ({e}). \
                 Start it (e.g. `pg_ctlcluster 15 main start`) or set TIDINGS_TEST_POSTGRES_URL.",
                postgres_url()
            )
        });
        Stores { all: vec![("sqlite", sqlite), ("postgres", pg)], schema, dir }
    }

    /// The PostgreSQL schema of this test, for a connection of its own beside the store.
    pub fn postgres_schema(&self) -> &str {
        &self.schema
    }

    /// Drops the PostgreSQL schema and the SQLite file.
    pub async fn cleanup(self) {
        let pg = &self.all[1].1;
        tidings_store::drop_postgres_schema(&**pg, &self.schema).await.unwrap();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub async fn workspace(store: &Arc<dyn Store>) -> Workspace {
    let id = unique("ws");
    let (ws, _) = store
        .create_workspace(
            NewWorkspace {
                app_id: id.clone(),
                name: "Acme".into(),
                timezone: "UTC".into(),
                identity_secret: "secret".into(),
                identity_required: true,
                created_at: 1_700_000_000,
            },
            NewTeammate {
                email: format!("{id}@example.test"),
                name: "Owner".into(),
                password_hash: None,
                role: TeammateRole::Owner,
                created_at: 1_700_000_000,
            },
        )
        .await
        .unwrap();
    ws
}

/// A part as a test writes it: no id yet, no assignee.
pub fn part(part_type: PartType, author_type: Author, author_id: i64, body: Option<&str>, at: i64) -> ConversationPart {
    ConversationPart {
        id: 0,
        conversation_id: 0,
        part_type,
        author_type,
        author_id,
        body: body.map(str::to_owned),
        created_at: at,
        assigned_to: None,
    }
}

/// A user with a name and an email made of it (`Ada` is `ada@example.test`).
pub async fn person(store: &Arc<dyn Store>, ws: i64, name: &str) -> Contact {
    let mut c = Contact::new(ws, Role::User, 1);
    c.name = Some(name.to_owned());
    c.email = Some(format!("{}@example.test", name.to_lowercase()));
    store.insert_contact(&c).await.unwrap()
}
