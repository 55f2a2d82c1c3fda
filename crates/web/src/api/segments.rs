//! `/segments`: saved filters. Listing and reading follow Intercom; creating, updating and
//! deleting are Tidings extensions that take a query in the search language.

use std::collections::HashMap;

use axum::Json as JsonResponse;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use serde_json::{Map, Value as Json, json};
use tidings_core::filter::compile;
use tidings_engine::filters::SchemaData;
use tidings_engine::segments::SegmentInput;
use tidings_store::{PersonType, Segment};

use super::{ApiRoute, Body, clock, path_id, route, shapes};
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

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

/// Reads a segment body: its name, its query and who it is about; the engine checks them.
fn parse(body: &Map<String, Json>) -> ApiResult<SegmentInput> {
    let name = super::fields::text(body, "name", "name")?.unwrap_or_default().to_owned();
    let person_type = match super::fields::text(body, "person_type", "person_type")? {
        None => PersonType::User,
        Some(p) => PersonType::parse(p)
            .ok_or_else(|| ApiError::bad_request("person_type", "person_type must be user or contact"))?,
    };
    Ok(SegmentInput { name, query: body.get("query").cloned(), person_type })
}

async fn create(State(state): State<AppState>, caller: Caller, Body(body): Body) -> ApiResult<JsonResponse<Json>> {
    let s = state.engine.create_segment(&caller.workspace, parse(&body)?).await?;
    Ok(JsonResponse(shapes::segment(&s, None)))
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<JsonResponse<Json>> {
    let s = find(&state, &caller, &id).await?;
    let s = state.engine.update_segment(&caller.workspace, s.id, parse(&body)?).await?;
    Ok(JsonResponse(shapes::segment(&s, None)))
}

async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<JsonResponse<Json>> {
    let s = find(&state, &caller, &id).await?;
    state.engine.delete_segment(&caller.workspace, s.id).await?;
    Ok(JsonResponse(json!({"id": s.id.to_string(), "type": "segment", "deleted": true})))
}
