//! Saved segments: a name and a query in the filter language, kept for the user list, the
//! composer's audiences and other segments to use. The two built-in segments ("All users", "All
//! leads") are never changed or deleted, and a segment another one uses is not deleted.

use serde_json::Value as Json;
use tidings_core::filter::{check_size, compile};
use tidings_core::text;
use tidings_store::{NewSegment, PersonType, Segment, StoreError, Workspace};

use crate::Engine;
use crate::bus::Event;
use crate::error::{EngineError, Missing, Result};
use crate::filters::{SchemaData, calendar};

/// What a segment is made of, as a teammate or an integration gave it.
#[derive(Clone, Debug)]
pub struct SegmentInput {
    pub name: String,
    pub query: Option<Json>,
    pub person_type: PersonType,
}

impl Engine {
    /// Saves a query as a segment.
    ///
    /// # Errors
    /// A name that is empty or too long (`name`), or already used (a `Conflict` on `name`); a missing or invalid query,
    /// named on its path under `query`; a database failure.
    pub async fn create_segment(&self, ws: &Workspace, input: SegmentInput) -> Result<Segment> {
        let new = self.checked(ws, input, None).await?;
        let s = self.store.create_segment(ws.id, new, self.now()).await.map_err(name_taken)?;
        self.publish(Event::SegmentChanged { workspace: ws.id, segment: s.id });
        Ok(s)
    }

    /// Renames a segment or changes its query.
    ///
    /// # Errors
    /// As [`Engine::create_segment`]; no such segment; a built-in segment (`Forbidden`); a query
    /// that refers back to this segment.
    pub async fn update_segment(&self, ws: &Workspace, id: i64, input: SegmentInput) -> Result<Segment> {
        let existing = self.editable(ws, id, "Built-in segments cannot be changed").await?;
        let new = self.checked(ws, input, Some(existing.id)).await?;
        let s = self
            .store
            .update_segment(ws.id, existing.id, new, self.now())
            .await
            .map_err(name_taken)?
            .ok_or_else(|| EngineError::not_found(Missing::Segment))?;
        self.publish(Event::SegmentChanged { workspace: ws.id, segment: s.id });
        Ok(s)
    }

    /// Deletes a segment that no other segment uses.
    ///
    /// # Errors
    /// No such segment; a built-in segment (`Forbidden`); a segment another segment's query
    /// names (`id`, naming that segment); a database failure.
    pub async fn delete_segment(&self, ws: &Workspace, id: i64) -> Result<()> {
        let s = self.editable(ws, id, "Built-in segments cannot be deleted").await?;
        let all = self.store.segments(ws.id).await?;
        if let Some(user) =
            all.iter().find(|o| o.id != s.id && crate::labels::query_refers_to(&o.query, "segment_id", s.id))
        {
            return Err(EngineError::invalid(
                "id",
                format!("Segment '{}' uses this segment; change it first", user.name),
            ));
        }
        if !self.store.delete_segment(ws.id, s.id).await? {
            return Err(EngineError::not_found(Missing::Segment));
        }
        self.publish(Event::SegmentChanged { workspace: ws.id, segment: s.id });
        Ok(())
    }

    /// The segment, when it exists in the workspace and may be changed.
    async fn editable(&self, ws: &Workspace, id: i64, refusal: &str) -> Result<Segment> {
        let s = self.store.segment(ws.id, id).await?.ok_or_else(|| EngineError::not_found(Missing::Segment))?;
        if s.builtin {
            return Err(EngineError::Forbidden { message: refusal.to_owned() });
        }
        Ok(s)
    }

    /// Checks a segment's name and query; `existing` is the segment being changed, which its own
    /// query may not name.
    async fn checked(&self, ws: &Workspace, input: SegmentInput, existing: Option<i64>) -> Result<NewSegment> {
        text::check("name", &input.name, text::NAME)?;
        let name = input.name.trim();
        if name.is_empty() {
            return Err(EngineError::invalid("name", "A segment needs a name"));
        }
        let Some(query) = input.query else {
            return Err(EngineError::invalid("query", "A segment needs a query"));
        };
        let mut data = SchemaData::load(&*self.store, ws.id, &[&query]).await?;
        // A segment may not refer to itself, directly or through others.
        if let Some(id) = existing {
            data.segments.retain(|(sid, _)| *sid != id);
        }
        let pred = compile(&query, &data.schema(), &calendar(ws, self.now()), "query")?;
        check_size(Some(&pred), 0, "query")?;
        Ok(NewSegment { name: name.to_owned(), person_type: input.person_type, query })
    }
}

fn name_taken(e: StoreError) -> EngineError {
    match e {
        // A conflict, as the API has always answered a name in use, and on the field.
        StoreError::Conflict { .. } => EngineError::Conflict {
            code: "conflict",
            message: "Another segment has this name: choose another, or edit that one".into(),
            field: Some("name"),
        },
        other => other.into(),
    }
}
