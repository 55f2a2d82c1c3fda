//! `/tags` and the tags of a contact.

use axum::Json as JsonResponse;
use axum::extract::{Path, State};
use axum::http::Method;
use serde_json::{Value as Json, json};

use tidings_engine::labels::Tagging;

use super::{ApiRoute, Body, contacts::find as find_contact, fields, parse_id, path_id, route, shapes};
use crate::AppState;
use crate::auth::Caller;
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
    let name = body.get("name").and_then(Json::as_str).ok_or_else(invalid)?;
    // `{"name", "users": [{"id"}]}` tags (or, with "untag": true, untags) those contacts.
    let users = match body.get("users") {
        None => &[][..],
        Some(Json::Array(users)) => users.as_slice(),
        Some(_) => return Err(ApiError::bad_request("users", "users must be a list of {\"id\": …}")),
    };
    let mut taggings = Vec::new();
    for (i, u) in users.iter().enumerate() {
        let Json::Object(u) = u else { return Err(invalid()) };
        let contact = fields::id(u, "id", &format!("users[{i}].id"))?.ok_or_else(invalid)?;
        let untag = fields::boolean(u, "untag", &format!("users[{i}].untag"))? == Some(true);
        taggings.push(Tagging { contact, untag });
    }
    let id = fields::id(&body, "id", "id")?;
    let tag = state.engine.save_tag(&caller.workspace, &caller.teammate, id, name, &taggings).await?;
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
    let tag = state.engine.delete_tag(&caller.workspace, tag.id).await?;
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
    let tag = state.engine.tag_contact(&caller.workspace, &caller.teammate, c.id, tag_id).await?;
    Ok(JsonResponse(shapes::tag(&tag)))
}

async fn untag_contact(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, tag_id)): Path<(String, String)>,
) -> ApiResult<JsonResponse<Json>> {
    let c = find_contact(&state, &caller, &id).await?;
    let tag = find(&state, &caller, &tag_id).await?;
    let tag = state.engine.untag_contact(&caller.workspace, c.id, tag.id).await?;
    Ok(JsonResponse(shapes::tag(&tag)))
}
