//! `/data_attributes`: the built-in contact attributes and the workspace's custom ones.

use std::collections::HashMap;

use axum::Json as JsonResponse;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use serde_json::{Value as Json, json};
use tidings_core::attribute::{BUILT_INS, DataType};
use tidings_engine::attributes::{AttributeChange, NewAttribute};
use tidings_engine::{EngineError, Missing};

use super::{ApiRoute, Body, path_id, route, shapes};
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

pub fn routes() -> Vec<ApiRoute> {
    vec![
        route(Method::GET, "/data_attributes", "List data attributes", None, "data_attribute_list", list),
        route(
            Method::POST,
            "/data_attributes",
            "Create a custom attribute",
            Some("data_attribute_input"),
            "data_attribute",
            create,
        ),
        route(
            Method::PUT,
            "/data_attributes/{id}",
            "Update a custom attribute",
            Some("data_attribute_update"),
            "data_attribute",
            update,
        ),
    ]
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<JsonResponse<Json>> {
    let model = q.get("model").map_or("contact", String::as_str);
    if model != "contact" {
        return Ok(JsonResponse(json!({"type": "list", "data": []})));
    }
    let include_archived = q.get("include_archived").is_some_and(|v| v == "true");
    let mut data: Vec<Json> = BUILT_INS.iter().map(shapes::builtin_attribute).collect();
    data.extend(
        state
            .store
            .custom_attributes(caller.workspace.id)
            .await?
            .iter()
            .filter(|a| include_archived || !a.archived)
            .map(shapes::custom_attribute),
    );
    Ok(JsonResponse(json!({"type": "list", "data": data})))
}

fn options(v: Option<&Json>) -> ApiResult<Option<Vec<String>>> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let Json::Array(items) = v else {
        return Err(ApiError::bad_request("options", "Options isn't an array"));
    };
    items
        .iter()
        .map(|o| {
            match o {
                Json::String(s) => Some(s.clone()),
                Json::Object(m) => m.get("value").and_then(Json::as_str).map(str::to_owned),
                _ => None,
            }
            .ok_or_else(|| {
                ApiError::bad_request("options", "Each option must be a string or an object with a string value")
            })
        })
        .collect::<ApiResult<Vec<_>>>()
        .map(Some)
}

/// A description, read (the engine checks it).
fn description(body: &serde_json::Map<String, Json>) -> ApiResult<Option<String>> {
    Ok(super::fields::text(body, "description", "description")?.map(str::to_owned))
}

async fn create(State(state): State<AppState>, caller: Caller, Body(body): Body) -> ApiResult<JsonResponse<Json>> {
    let name =
        body.get("name").and_then(Json::as_str).ok_or_else(|| ApiError::bad_request("name", "name is required"))?;
    match body.get("model").and_then(Json::as_str) {
        Some("contact") => {}
        Some("company") => {
            return Err(ApiError::bad_request(
                "model",
                "Company attributes are not supported by Tidings; use model contact",
            ));
        }
        _ => return Err(ApiError::bad_request("model", "model must be contact")),
    }
    let data_type = body.get("data_type").and_then(Json::as_str).and_then(DataType::parse).ok_or_else(|| {
        ApiError::bad_request("data_type", "Data Type isn't an option: use string, integer, float, boolean or date")
    })?;
    let new = NewAttribute {
        name: name.to_owned(),
        data_type,
        description: description(&body)?,
        options: options(body.get("options"))?.unwrap_or_default(),
        messenger_writable: super::fields::boolean(&body, "messenger_writable", "messenger_writable")?.unwrap_or(false),
    };
    let saved = state.engine.create_custom_attribute(&caller.workspace, Some(caller.teammate.id), new).await?;
    Ok(JsonResponse(shapes::custom_attribute(&saved)))
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<JsonResponse<Json>> {
    let id = path_id(&id).ok_or_else(|| ApiError::from(EngineError::not_found(Missing::Attribute)))?;
    let exists = state.store.custom_attributes(caller.workspace.id).await?.iter().any(|a| a.id == id);
    if !exists {
        return Err(EngineError::not_found(Missing::Attribute).into());
    }
    if body.contains_key("data_type") {
        return Err(ApiError::bad_request("data_type", "Updating the data type is not possible"));
    }
    let change = AttributeChange {
        archived: super::fields::boolean(&body, "archived", "archived")?,
        description: if body.contains_key("description") { Some(description(&body)?) } else { None },
        messenger_writable: super::fields::boolean(&body, "messenger_writable", "messenger_writable")?,
        options: options(body.get("options"))?,
    };
    let attr = state.engine.update_custom_attribute(&caller.workspace, id, change).await?;
    Ok(JsonResponse(shapes::custom_attribute(&attr)))
}
