//! `/tags` and the tags of a contact.

use axum::Json as JsonResponse;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use serde_json::{Value as Json, json};

use super::{
    ApiRoute, Body, contacts::find as find_contact, fields, parse_id, path_id, route, segments::refers_to, shapes,
};
use crate::AppState;
use crate::auth::{Caller, now};
use crate::error::{ApiError, ApiResult};

pub fn routes() -> Vec<ApiRoute> {
    vec![
        route(Method::GET, "/tags", "List tags", None, "tag_list", list),
        route(Method::POST, "/tags", "Create or rename a tag, or tag contacts", Some("tag_input"), "tag", create),
        route(Method::GET, "/tags/{id}", "Get a tag", None, "tag", get),
        route(Method::DELETE, "/tags/{id}", "Delete a tag", None, "deleted_tag", delete),
        route(Method::GET, "/contacts/{id}/tags", "List a contact's tags", None, "tag_list", contact_tags),
        route(Method::POST, "/contacts/{id}/tags", "Tag a contact", Some("tag_ref"), "tag", tag_contact),
        route(Method::DELETE, "/contacts/{id}/tags/{tag_id}", "Untag a contact", None, "tag", untag_contact),
    ]
}

async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<JsonResponse<Json>> {
    let data: Vec<Json> = state.store.tags(caller.workspace.id).await?.iter().map(shapes::tag).collect();
    Ok(JsonResponse(json!({"type": "list", "data": data})))
}

fn invalid() -> ApiError {
    ApiError::bad_request("name", "invalid tag parameters")
}

async fn create(State(state): State<AppState>, caller: Caller, Body(body): Body) -> ApiResult<JsonResponse<Json>> {
    let ws = caller.workspace.id;
    let raw = body.get("name").and_then(Json::as_str).ok_or_else(invalid)?;
    tidings_core::text::check("name", raw, tidings_core::text::NAME)?;
    let name = Some(raw.trim()).filter(|n| !n.is_empty()).ok_or_else(invalid)?;
    // `{"name", "users": [{"id"}]}` tags (or, with "untag": true, untags) those contacts.
    let users = match body.get("users") {
        None => &[][..],
        Some(Json::Array(users)) => users.as_slice(),
        Some(_) => return Err(ApiError::bad_request("users", "users must be a list of {\"id\": …}")),
    };
    let mut chosen = Vec::new();
    for (i, u) in users.iter().enumerate() {
        let Json::Object(u) = u else { return Err(invalid()) };
        let id = fields::id(u, "id", &format!("users[{i}].id"))?.ok_or_else(invalid)?;
        let untag = fields::boolean(u, "untag", &format!("users[{i}].untag"))? == Some(true);
        // Every contact must exist before anything is written.
        state
            .store
            .contact(ws, id)
            .await?
            .ok_or_else(|| ApiError::user_not_found().with_field(&format!("users[{i}].id")))?;
        chosen.push((id, untag));
    }
    let tag = match fields::id(&body, "id", "id")? {
        Some(id) => state.store.rename_tag(ws, id, name).await?.ok_or_else(ApiError::not_found)?,
        None => state.store.create_tag(ws, name, now()).await?,
    };
    for (id, untag) in chosen {
        if untag {
            state.store.untag_contact(ws, id, tag.id).await?;
        } else {
            state.store.tag_contact(ws, id, tag.id, Some(caller.teammate.id), now()).await?;
        }
    }
    Ok(JsonResponse(shapes::tag(&tag)))
}

async fn find(state: &AppState, caller: &Caller, raw: &str) -> ApiResult<tidings_store::Tag> {
    let id = path_id(raw).ok_or_else(ApiError::not_found)?;
    state.store.tag(caller.workspace.id, id).await?.ok_or_else(ApiError::not_found)
}

async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<JsonResponse<Json>> {
    Ok(JsonResponse(shapes::tag(&find(&state, &caller, &id).await?)))
}

/// Intercom answers a delete with an empty 200; Tidings answers with what was deleted, which the
/// SDKs ignore and other clients can read.
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<JsonResponse<Json>> {
    let tag = find(&state, &caller, &id).await?;
    let segments = state.store.segments(caller.workspace.id).await?;
    if let Some(s) = segments.iter().find(|s| refers_to(&s.query, "tag_id", tag.id)) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "tag_has_dependent_objects",
            format!("Unable to delete Tag with dependent objects: segment '{}' uses it", s.name),
        ));
    }
    state.store.delete_tag(caller.workspace.id, tag.id).await?;
    Ok(JsonResponse(json!({"type": "tag", "id": tag.id.to_string(), "name": tag.name, "deleted": true})))
}

async fn contact_tags(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<JsonResponse<Json>> {
    let c = find_contact(&state, &caller, &id).await?;
    let mut tags = state.store.contact_tags(caller.workspace.id, &[c.id]).await?;
    let data: Vec<Json> = tags.remove(&c.id).unwrap_or_default().iter().map(shapes::applied_tag).collect();
    Ok(JsonResponse(json!({"type": "list", "data": data})))
}

async fn tag_contact(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<JsonResponse<Json>> {
    let c = find_contact(&state, &caller, &id).await?;
    let tag_id =
        body.get("id").and_then(parse_id).ok_or_else(|| ApiError::bad_request("id", "id of the tag is required"))?;
    let tag = state.store.tag(caller.workspace.id, tag_id).await?.ok_or_else(ApiError::not_found)?;
    state.store.tag_contact(caller.workspace.id, c.id, tag.id, Some(caller.teammate.id), now()).await?;
    Ok(JsonResponse(shapes::tag(&tag)))
}

async fn untag_contact(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, tag_id)): Path<(String, String)>,
) -> ApiResult<JsonResponse<Json>> {
    let c = find_contact(&state, &caller, &id).await?;
    let tag = find(&state, &caller, &tag_id).await?;
    state.store.untag_contact(caller.workspace.id, c.id, tag.id).await?;
    Ok(JsonResponse(shapes::tag(&tag)))
}
