//! How teammates group contacts: tags put on by hand, and segments saved from filters.

use std::collections::HashMap;

use async_trait::async_trait;

use crate::{AppliedTag, NewSegment, Result, Segment, Tag};

#[async_trait]
pub trait LabelStore: Send + Sync {
    // --- tags --------------------------------------------------------------------------------
    async fn tags(&self, ws: i64) -> Result<Vec<Tag>>;
    async fn tag(&self, ws: i64, id: i64) -> Result<Option<Tag>>;
    /// Creates a tag, or returns the existing one of the same name.
    async fn create_tag(&self, ws: i64, name: &str, now: i64) -> Result<Tag>;
    async fn rename_tag(&self, ws: i64, id: i64, name: &str) -> Result<Option<Tag>>;
    async fn delete_tag(&self, ws: i64, id: i64) -> Result<bool>;
    async fn tag_contact(&self, ws: i64, contact_id: i64, tag_id: i64, admin: Option<i64>, now: i64) -> Result<()>;
    async fn untag_contact(&self, ws: i64, contact_id: i64, tag_id: i64) -> Result<bool>;
    /// The tags of each of the given contacts.
    async fn contact_tags(&self, ws: i64, contact_ids: &[i64]) -> Result<HashMap<i64, Vec<AppliedTag>>>;

    // --- segments ----------------------------------------------------------------------------
    async fn segments(&self, ws: i64) -> Result<Vec<Segment>>;
    async fn segment(&self, ws: i64, id: i64) -> Result<Option<Segment>>;
    async fn create_segment(&self, ws: i64, segment: NewSegment, now: i64) -> Result<Segment>;
    async fn update_segment(&self, ws: i64, id: i64, segment: NewSegment, now: i64) -> Result<Option<Segment>>;
    async fn delete_segment(&self, ws: i64, id: i64) -> Result<bool>;
}
