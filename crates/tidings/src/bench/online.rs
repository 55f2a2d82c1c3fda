//! Contacts who are online in the Messenger, for the real-time benchmarks (`bench messenger`,
//! `bench nodes`): generated through `upsert_contacts`, each with a Messenger session signed the
//! way the boot endpoint signs one, and the chat a teammate sends them through the API.
//!
//! A contact's `name` says which audience it belongs to, so that a benchmark's chat reaches
//! exactly the contacts it has connected, through a filter as a teammate would write it.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value as Json, json};
use tidings_core::contact::ContactInput;
use tidings_store::{Store, Workspace};
use tidings_web::messenger::session::{SessionKind, sign_session};

use super::server::Server;

/// What every chat says (and every nchan message beside it): 100 bytes.
pub const BODY: &str =
    "Benchmark chat from the team: a short line of plain text, padded to exactly one hundred bytes long..";

/// Generated contacts, in the order they were made.
pub struct Online {
    /// One Messenger session per contact, valid for a day.
    pub sessions: Vec<String>,
    /// How fast `upsert_contacts` wrote them.
    pub generated_per_sec: f64,
}

/// Generates `n` contacts (external ids `m0`, `m1`, …, each named `name(i)`) and signs a
/// Messenger session for each.
///
/// # Errors
/// When the store refuses a write or the contacts cannot be read back.
pub async fn generate(
    store: &Arc<dyn Store>,
    ws: &Workspace,
    n: u64,
    name: impl Fn(u64) -> &'static str,
) -> Result<Online, String> {
    let now = tidings_web::auth::now();
    let bar = super::progress(n, "generating");
    let started = Instant::now();
    let mut i = 0;
    while i < n {
        let inputs: Vec<ContactInput> = (i..(i + 5_000).min(n))
            .map(|i| {
                let mut c = Map::new();
                c.insert("external_id".into(), json!(format!("m{i}")));
                c.insert("email".into(), json!(format!("m{i}@example.test")));
                c.insert("name".into(), json!(name(i)));
                ContactInput::parse(&c, &[])
            })
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        let report = store.upsert_contacts(ws.id, &inputs, now).await.map_err(|e| e.to_string())?;
        if !report.rejected.is_empty() {
            return Err(format!("generated contacts were rejected: {:?}", report.rejected.first()));
        }
        i += inputs.len() as u64;
        bar.inc(inputs.len() as u64);
    }
    bar.finish_and_clear();
    let generated_per_sec = n as f64 / started.elapsed().as_secs_f64();
    let mut ids: Vec<(u64, i64)> = Vec::with_capacity(n as usize);
    let mut after = 0;
    loop {
        let page = store.contacts_after(ws.id, after, 5_000).await.map_err(|e| e.to_string())?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for c in &page {
            if let Some(k) = c.external_id.as_deref().and_then(|e| e.strip_prefix('m')).and_then(|k| k.parse().ok()) {
                ids.push((k, c.id));
            }
        }
    }
    ids.sort_unstable();
    if ids.len() as u64 != n {
        return Err(format!("generated {n} contacts but found {}", ids.len()));
    }
    let expires = now + 86_400;
    let sessions = ids.iter().map(|(_, id)| sign_session(ws, *id, SessionKind::User, expires)).collect();
    Ok(Online { sessions, generated_per_sec })
}

/// The audience of contacts whose name is one of `names`.
pub fn named(names: &[&str]) -> Json {
    match names {
        [one] => json!({"field": "name", "operator": "=", "value": one}),
        _ => json!({"field": "name", "operator": "IN", "value": names}),
    }
}

/// A chat with [`BODY`] to the contacts `query` matches, sent at once (`POST /manual_messages`
/// with `send: true`); returns how many it targeted.
///
/// # Errors
/// A failed request, or an answer other than a sent message.
pub async fn chat(srv: &Server, http: &reqwest::Client, query: &Json) -> Result<i64, String> {
    let body = json!({
        "channel": "chat",
        "title": "Benchmark",
        "body": BODY,
        "audience": {"query": query},
        "send": true,
    });
    let v = srv.post(http, "/manual_messages", body).await?;
    if v["state"] != "sent" {
        return Err(format!("POST /manual_messages answered {v}"));
    }
    Ok(v["stats"]["targeted"].as_i64().unwrap_or(0))
}
