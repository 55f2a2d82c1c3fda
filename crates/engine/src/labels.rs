//! Tags on contacts: created, renamed, deleted (unless a segment uses them), applied to and
//! taken off contacts. (Tags on conversations are the Inbox's, in [`crate::inbox`].)

use serde_json::Value as Json;
use tidings_core::text::{self, NAME};
use tidings_store::{Tag, Teammate, Workspace};

use crate::Engine;
use crate::error::{EngineError, Missing, Result};

/// What a tag request does to one contact, by its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tagging {
    pub contact: i64,
    /// Takes the tag off instead of applying it.
    pub untag: bool,
}

/// A tag's name, checked and trimmed.
fn tag_name(raw: &str) -> Result<&str> {
    text::check("name", raw, NAME)?;
    Some(raw.trim()).filter(|n| !n.is_empty()).ok_or_else(|| EngineError::invalid("name", "invalid tag parameters"))
}

/// Whether a segment's stored query names `id` in a condition on `field` (`tag_id`,
/// `segment_id`), at any depth; ids are numbers or digit strings, as queries accept them.
pub fn query_refers_to(query: &Json, field: &str, id: i64) -> bool {
    match query {
        Json::Object(o) => {
            (o.get("field").and_then(Json::as_str) == Some(field) && o.get("value").and_then(json_id) == Some(id))
                || o.values().any(|v| query_refers_to(v, field, id))
        }
        Json::Array(a) => a.iter().any(|v| query_refers_to(v, field, id)),
        _ => false,
    }
}

fn json_id(v: &Json) -> Option<i64> {
    match v {
        Json::Number(n) => tidings_core::attribute::whole_number(n),
        Json::String(s) if !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        _ => None,
    }
}

impl Engine {
    async fn tag_of(&self, ws: i64, id: i64) -> Result<Tag> {
        self.store.tag(ws, id).await?.ok_or_else(|| EngineError::not_found(Missing::Tag))
    }

    /// Creates a tag named `name` (or, with `id`, renames that tag), then applies it to or takes
    /// it off the contacts of `taggings`, as Intercom's `POST /tags` does. Creating a tag whose
    /// name exists returns that tag. Every contact is looked up before anything is written.
    ///
    /// # Errors
    /// A name empty or too long (`name`); a contact not in the workspace (`users[i].id`, by its
    /// place in `taggings`); a tag `id` not in the workspace; a database failure.
    pub async fn save_tag(
        &self,
        ws: &Workspace,
        by: &Teammate,
        id: Option<i64>,
        name: &str,
        taggings: &[Tagging],
    ) -> Result<Tag> {
        let name = tag_name(name)?;
        for (i, t) in taggings.iter().enumerate() {
            if self.store.contact(ws.id, t.contact).await?.is_none() {
                return Err(EngineError::not_found_at(Missing::Contact, &format!("users[{i}].id")));
            }
        }
        let tag = match id {
            Some(id) => {
                self.store.rename_tag(ws.id, id, name).await?.ok_or_else(|| EngineError::not_found(Missing::Tag))?
            }
            None => self.store.create_tag(ws.id, name, self.now()).await?,
        };
        for t in taggings {
            if t.untag {
                self.store.untag_contact(ws.id, t.contact, tag.id).await?;
            } else {
                self.store.tag_contact(ws.id, t.contact, tag.id, Some(by.id), self.now()).await?;
            }
        }
        Ok(tag)
    }

    /// Deletes a tag, taking it off every contact; returns it as it was. A tag a segment's
    /// query names stays: the segment would lose its meaning.
    ///
    /// # Errors
    /// A tag not in the workspace; `tag_has_dependent_objects` when a segment uses it; a
    /// database failure.
    pub async fn delete_tag(&self, ws: &Workspace, id: i64) -> Result<Tag> {
        let tag = self.tag_of(ws.id, id).await?;
        let segments = self.store.segments(ws.id).await?;
        if let Some(s) = segments.iter().find(|s| query_refers_to(&s.query, "tag_id", tag.id)) {
            return Err(EngineError::InUse {
                code: "tag_has_dependent_objects",
                message: format!("Unable to delete Tag with dependent objects: segment '{}' uses it", s.name),
            });
        }
        if !self.store.delete_tag(ws.id, tag.id).await? {
            return Err(EngineError::not_found(Missing::Tag));
        }
        Ok(tag)
    }

    /// A teammate tags a contact (again is no change); returns the tag.
    ///
    /// # Errors
    /// A contact or a tag not in the workspace, or a database failure.
    pub async fn tag_contact(&self, ws: &Workspace, by: &Teammate, contact: i64, tag: i64) -> Result<Tag> {
        let c = self.contact_by_id(ws.id, contact).await?;
        let tag = self.tag_of(ws.id, tag).await?;
        self.store.tag_contact(ws.id, c.id, tag.id, Some(by.id), self.now()).await?;
        Ok(tag)
    }

    /// Takes a tag off a contact (one without it is no change); returns the tag.
    ///
    /// # Errors
    /// A contact or a tag not in the workspace, or a database failure.
    pub async fn untag_contact(&self, ws: &Workspace, contact: i64, tag: i64) -> Result<Tag> {
        let c = self.contact_by_id(ws.id, contact).await?;
        let tag = self.tag_of(ws.id, tag).await?;
        self.store.untag_contact(ws.id, c.id, tag.id).await?;
        Ok(tag)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_query_refers_to_an_id_at_any_depth_as_a_number_or_digits() {
        let q = json!({"operator": "AND", "value": [
            {"field": "name", "operator": "=", "value": 7},
            {"operator": "OR", "value": [{"field": "tag_id", "operator": "=", "value": "7"}]},
        ]});
        assert!(query_refers_to(&q, "tag_id", 7));
        assert!(!query_refers_to(&q, "tag_id", 8));
        assert!(!query_refers_to(&q, "segment_id", 7), "the name's 7 is no tag");
        assert!(query_refers_to(&json!({"field": "segment_id", "operator": "=", "value": 3}), "segment_id", 3));
        assert!(!query_refers_to(&json!({"field": "tag_id", "value": "7a"}), "tag_id", 7));
    }
}
