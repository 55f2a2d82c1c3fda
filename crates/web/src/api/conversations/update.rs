//! What integrations set on a conversation besides its parts: read or unread and its custom
//! attributes (`PUT /conversations/{id}`), and its tags (`POST /conversations/{id}/tags`,
//! `DELETE /conversations/{id}/tags/{tag_id}`). Every change goes through the engine.

use axum::Json as JsonResponse;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value as Json;
use tidings_engine::{EngineError, Missing};

use super::actions::admin;
use super::{find, respond};
use crate::AppState;
use crate::api::{Body, fields, path_id, shapes};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

/// Intercom's update also takes these; Tidings keeps neither, and says so rather than dropping
/// them unseen.
const NOT_KEPT: [&str; 2] = ["title", "company_id"];

pub(super) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(b): Body,
) -> ApiResult<JsonResponse<Json>> {
    if let Some(key) = NOT_KEPT.into_iter().find(|k| fields::present(&b, k).is_some()) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported",
            format!("Tidings does not keep a conversation's {key}: leave it out, or use custom_attributes"),
        )
        .with_field(key));
    }
    let read = fields::boolean(&b, "read", "read")?;
    let attributes = fields::object(&b, "custom_attributes", "custom_attributes")?.cloned();
    let c = find(&state, &caller, &id).await?;
    // The attributes first: the engine checks them all before writing any, so a refused value
    // leaves the read mark as it was too.
    if let Some(attributes) = attributes {
        state.engine.set_conversation_attributes(&caller.workspace, c.id, attributes).await?;
    }
    if let Some(read) = read {
        state.engine.mark_read(&caller.workspace, c.id, read).await?;
    }
    respond(&state, &caller, c.id).await
}

/// Tags a conversation as the teammate named by `admin_id`; answers with the tag.
pub(super) async fn tag(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(b): Body,
) -> ApiResult<JsonResponse<Json>> {
    let tag_id = fields::id(&b, "id", "id")?.ok_or_else(|| ApiError::bad_request("id", "id of the tag is required"))?;
    let teammate = admin(&state, &caller, &b).await?;
    let c = find(&state, &caller, &id).await?;
    let tag =
        state.store.tag(caller.workspace.id, tag_id).await?.ok_or_else(|| ApiError::not_found().with_field("id"))?;
    state.engine.tag_conversation(&caller.workspace, &teammate, c.id, tag.id).await?;
    Ok(JsonResponse(shapes::tag(&tag)))
}

/// Takes a tag off a conversation; answers with the tag. `admin_id` is required, as Intercom's
/// is, and checked like any action's.
pub(super) async fn untag(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, tag_id)): Path<(String, String)>,
    Body(b): Body,
) -> ApiResult<JsonResponse<Json>> {
    admin(&state, &caller, &b).await?;
    let c = find(&state, &caller, &id).await?;
    let not_found = || ApiError::not_found().with_field("tag_id");
    let tag_id = path_id(&tag_id).ok_or_else(not_found)?;
    let tag = state.store.tag(caller.workspace.id, tag_id).await?.ok_or_else(not_found)?;
    state.engine.untag_conversation(&caller.workspace, c.id, tag.id).await.map_err(|e| match e {
        // The tag exists but is not on this conversation.
        EngineError::NotFound { what: Missing::Tag, .. } => not_found(),
        other => other.into(),
    })?;
    Ok(JsonResponse(shapes::tag(&tag)))
}
