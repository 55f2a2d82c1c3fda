//! What the filter language can refer to in a workspace, loaded for a query: its custom
//! attributes, tags, saved segments, and the messages that history filters name. Reads share it
//! (searches, counts) as well as the engine's own audiences.

use serde_json::Value as Json;
use tidings_core::attribute::CustomAttribute;
use tidings_core::dates::Clock as Calendar;
use tidings_core::filter::{MessageHistory, Schema};
use tidings_store::{Store, Workspace};

use crate::error::Result;

pub struct SchemaData {
    pub custom: Vec<CustomAttribute>,
    pub tag_ids: Vec<i64>,
    pub segments: Vec<(i64, Json)>,
    pub message_ids: Vec<i64>,
}

impl SchemaData {
    /// Loads what `queries` can refer to. Saved segments' queries are scanned too, so that a
    /// segment naming a message can be used.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn load(store: &dyn Store, ws: i64, queries: &[&Json]) -> Result<Self> {
        let custom = store.custom_attributes(ws).await?;
        let tag_ids = store.tags(ws).await?.into_iter().map(|t| t.id).collect();
        let segments: Vec<(i64, Json)> = store.segments(ws).await?.into_iter().map(|s| (s.id, s.query)).collect();
        let mut wanted = Vec::new();
        for q in queries.iter().copied().chain(segments.iter().map(|(_, q)| q)) {
            message_refs(q, &mut wanted);
        }
        wanted.sort_unstable();
        wanted.dedup();
        let mut message_ids = Vec::new();
        for id in wanted {
            if store.message(ws, id).await?.is_some() {
                message_ids.push(id);
            }
        }
        Ok(SchemaData { custom, tag_ids, segments, message_ids })
    }

    pub fn schema(&self) -> Schema<'_> {
        Schema {
            custom: &self.custom,
            tag_ids: &self.tag_ids,
            segments: &self.segments,
            message_ids: &self.message_ids,
        }
    }
}

/// The calendar filters count days in: `now` in the workspace's time zone.
pub fn calendar(ws: &Workspace, now: i64) -> Calendar {
    Calendar::new(now, Calendar::zone(&ws.timezone))
}

/// The message ids named by message-history filters anywhere in a query.
fn message_refs(query: &Json, out: &mut Vec<i64>) {
    match query {
        Json::Object(o) => {
            let history = o.get("field").and_then(Json::as_str).is_some_and(|f| {
                [MessageHistory::Targeted, MessageHistory::Received, MessageHistory::Seen]
                    .iter()
                    .any(|h| h.field() == f)
            });
            if history && let Some(id) = o.get("value").and_then(as_id) {
                out.push(id);
            }
            o.values().for_each(|v| message_refs(v, out));
        }
        Json::Array(a) => a.iter().for_each(|v| message_refs(v, out)),
        _ => {}
    }
}

fn as_id(v: &Json) -> Option<i64> {
    match v {
        Json::Number(n) => tidings_core::attribute::whole_number(n),
        Json::String(s) => s.parse().ok(),
        _ => None,
    }
}
