//! `/segments`: saved filters. Listing and reading follow Intercom; creating, updating and
//! deleting are Tidings extensions that take a query in the search language.

use std::collections::HashMap;

use axum::Json as JsonResponse;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use serde_json::{Map, Value as Json, json};
use tidings_core::filter::{check_size, compile};
use tidings_core::text;
use tidings_store::{NewSegment, PersonType, Segment};

use super::{ApiRoute, Body, clock, path_id, route, shapes};
use crate::AppState;
use crate::auth::{Caller, now};
use crate::error::{ApiError, ApiResult};
use tidings_engine::filters::SchemaData;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        route(Method::GET, "/segments", "List segments", None, "segment_list", list),
        route(
            Method::POST,
            "/segments",
            "Save a query as a segment (Tidings extension)",
            Some("segment_input"),
            "segment",
            create,
        ),
        route(Method::GET, "/segments/{id}", "Get a segment", None, "segment", get),
        route(
            Method::PUT,
            "/segments/{id}",
            "Update a segment (Tidings extension)",
            Some("segment_input"),
            "segment",
            update,
        ),
        route(
            Method::DELETE,
            "/segments/{id}",
            "Delete a segment (Tidings extension)",
            None,
            "deleted_segment",
            delete,
        ),
    ]
}

/// Counts the contacts of a segment.
async fn count(state: &AppState, caller: &Caller, data: &SchemaData, s: &Segment) -> ApiResult<i64> {
    let pred = compile(&s.query, &data.schema(), &clock(&state.engine, caller), "query")?;
    Ok(state.store.count_contacts(caller.workspace.id, Some(&pred)).await?)
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<JsonResponse<Json>> {
    let segments = state.store.segments(caller.workspace.id).await?;
    let with_count = q.get("include_count").is_some_and(|v| v == "true");
    let data = if with_count { Some(SchemaData::load(&*state.store, caller.workspace.id, &[]).await?) } else { None };
    let mut out = Vec::new();
    for s in &segments {
        let n = match &data {
            Some(d) => Some(count(&state, &caller, d, s).await?),
            None => None,
        };
        out.push(shapes::segment(s, n));
    }
    Ok(JsonResponse(json!({"type": "segment.list", "segments": out, "pages": {}})))
}

async fn find(state: &AppState, caller: &Caller, raw: &str) -> ApiResult<Segment> {
    let id = path_id(raw).ok_or_else(ApiError::not_found)?;
    state.store.segment(caller.workspace.id, id).await?.ok_or_else(ApiError::not_found)
}

async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<JsonResponse<Json>> {
    let s = find(&state, &caller, &id).await?;
    let n = if q.get("include_count").is_some_and(|v| v == "true") {
        let data = SchemaData::load(&*state.store, caller.workspace.id, &[]).await?;
        Some(count(&state, &caller, &data, &s).await?)
    } else {
        None
    };
    Ok(JsonResponse(shapes::segment(&s, n)))
}

/// Checks a segment body: a name, a valid query, and who it is about.
async fn parse(
    state: &AppState,
    caller: &Caller,
    body: &Map<String, Json>,
    existing: Option<i64>,
) -> ApiResult<NewSegment> {
    let raw = body.get("name").and_then(Json::as_str).unwrap_or_default();
    text::check("name", raw, text::NAME)?;
    let name = raw.trim();
    if name.is_empty() {
        return Err(ApiError::bad_request("name", "A segment needs a name"));
    }
    let query = body.get("query").cloned().ok_or_else(|| ApiError::bad_request("query", "A segment needs a query"))?;
    let mut data = SchemaData::load(&*state.store, caller.workspace.id, &[&query]).await?;
    // A segment may not refer to itself, directly or through others.
    if let Some(id) = existing {
        data.segments.retain(|(sid, _)| *sid != id);
    }
    let pred = compile(&query, &data.schema(), &clock(&state.engine, caller), "query")?;
    check_size(Some(&pred), 0, "query")?;
    let person_type = match super::fields::text(body, "person_type", "person_type")? {
        None => PersonType::User,
        Some(p) => PersonType::parse(p)
            .ok_or_else(|| ApiError::bad_request("person_type", "person_type must be user or contact"))?,
    };
    Ok(NewSegment { name: name.to_owned(), person_type, query })
}

async fn create(State(state): State<AppState>, caller: Caller, Body(body): Body) -> ApiResult<JsonResponse<Json>> {
    let new = parse(&state, &caller, &body, None).await?;
    let s = state.store.create_segment(caller.workspace.id, new, now()).await?;
    Ok(JsonResponse(shapes::segment(&s, None)))
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<JsonResponse<Json>> {
    let s = find(&state, &caller, &id).await?;
    if s.builtin {
        return Err(ApiError::forbidden("Built-in segments cannot be changed"));
    }
    let new = parse(&state, &caller, &body, Some(s.id)).await?;
    let s = state.store.update_segment(caller.workspace.id, s.id, new, now()).await?.ok_or_else(ApiError::not_found)?;
    Ok(JsonResponse(shapes::segment(&s, None)))
}

async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<JsonResponse<Json>> {
    let s = find(&state, &caller, &id).await?;
    if s.builtin {
        return Err(ApiError::forbidden("Built-in segments cannot be deleted"));
    }
    let users = state.store.segments(caller.workspace.id).await?;
    if let Some(other) = users.iter().find(|o| o.id != s.id && refers_to(&o.query, "segment_id", s.id)) {
        return Err(ApiError::bad_request(
            "id",
            format!("Segment '{}' uses this segment; change it first", other.name),
        ));
    }
    state.store.delete_segment(caller.workspace.id, s.id).await?;
    Ok(JsonResponse(json!({"id": s.id.to_string(), "type": "segment", "deleted": true})))
}

/// Whether a query has a `field` leaf naming the given id.
pub(crate) fn refers_to(query: &Json, field: &str, id: i64) -> bool {
    match query {
        Json::Object(o) => {
            (o.get("field").and_then(Json::as_str) == Some(field)
                && o.get("value").and_then(super::parse_id) == Some(id))
                || o.values().any(|v| refers_to(v, field, id))
        }
        Json::Array(a) => a.iter().any(|v| refers_to(v, field, id)),
        _ => false,
    }
}
