//! `/data_attributes`: the built-in contact attributes and the workspace's custom ones.

use std::collections::HashMap;

use axum::Json as JsonResponse;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use serde_json::{Value as Json, json};
use tidings_core::attribute::{BUILT_INS, CustomAttribute, DataType, validate_custom_name};
use tidings_core::text;

use super::{ApiRoute, Body, path_id, route, shapes};
use crate::AppState;
use crate::auth::{Caller, now};
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
    if items.len() > MAX_OPTIONS {
        return Err(ApiError::bad_request("options", format!("At most {MAX_OPTIONS} options")));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let option = match o {
                Json::String(s) => Some(s.clone()),
                Json::Object(m) => m.get("value").and_then(Json::as_str).map(str::to_owned),
                _ => None,
            }
            .ok_or_else(|| {
                ApiError::bad_request("options", "Each option must be a string or an object with a string value")
            })?;
            text::check(&format!("options[{i}]"), &option, text::VALUE)?;
            Ok(option)
        })
        .collect::<ApiResult<Vec<_>>>()
        .map(Some)
}

/// The most options a list attribute may offer.
const MAX_OPTIONS: usize = 1_000;

/// A description, checked.
fn description(body: &serde_json::Map<String, Json>) -> ApiResult<Option<String>> {
    let d = super::fields::text(body, "description", "description")?;
    if let Some(d) = d {
        text::check("description", d, text::VALUE)?;
    }
    Ok(d.map(str::to_owned))
}

async fn create(State(state): State<AppState>, caller: Caller, Body(body): Body) -> ApiResult<JsonResponse<Json>> {
    let name =
        body.get("name").and_then(Json::as_str).ok_or_else(|| ApiError::bad_request("name", "name is required"))?;
    validate_custom_name(name).map_err(|m| ApiError::bad_request("name", m))?;
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
    if tidings_core::attribute::builtin(name).is_some() {
        return Err(ApiError::bad_request(
            "name",
            format!("You already have '{name}' in your contact data: it is a built-in attribute"),
        ));
    }
    let options = options(body.get("options"))?.unwrap_or_default();
    if !options.is_empty() && data_type != DataType::String {
        return Err(ApiError::bad_request("options", "Options are only allowed on string attributes"));
    }
    let now = now();
    let attr = CustomAttribute {
        id: 0,
        name: name.to_owned(),
        data_type,
        label: name.to_owned(),
        description: description(&body)?,
        options,
        messenger_writable: super::fields::boolean(&body, "messenger_writable", "messenger_writable")?.unwrap_or(false),
        archived: false,
        created_at: now,
        updated_at: now,
        admin_id: Some(caller.teammate.id),
    };
    let saved = state.store.create_custom_attribute(caller.workspace.id, &attr).await.map_err(|e| match e {
        tidings_store::StoreError::Conflict { .. } => {
            ApiError::bad_request("name", format!("You already have '{name}' in your contact data. To save this as new contact data, use a different name."))
        }
        other => other.into(),
    })?;
    Ok(JsonResponse(shapes::custom_attribute(&saved)))
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<JsonResponse<Json>> {
    let missing =
        || ApiError::new(StatusCode::NOT_FOUND, "field_not_found", "We couldn't find that data attribute to update");
    let id = path_id(&id).ok_or_else(missing)?;
    let mut attr = state
        .store
        .custom_attributes(caller.workspace.id)
        .await?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or_else(missing)?;
    if body.contains_key("data_type") {
        return Err(ApiError::bad_request("data_type", "Updating the data type is not possible"));
    }
    if let Some(a) = super::fields::boolean(&body, "archived", "archived")? {
        attr.archived = a;
    }
    if body.contains_key("description") {
        attr.description = description(&body)?;
    }
    if let Some(m) = super::fields::boolean(&body, "messenger_writable", "messenger_writable")? {
        attr.messenger_writable = m;
    }
    if let Some(o) = options(body.get("options"))? {
        attr.options = o;
    }
    attr.updated_at = now();
    state.store.update_custom_attribute(caller.workspace.id, &attr).await?;
    Ok(JsonResponse(shapes::custom_attribute(&attr)))
}
