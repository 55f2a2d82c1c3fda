//! `/contacts`: create, read, update, delete, archive, list, search, count and bulk upsert.

use std::collections::HashMap;

use axum::Json as JsonResponse;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use serde_json::{Map, Value as Json, json};
use tidings_core::attribute::builtin;
use tidings_core::contact::{Contact, ContactInput};
use tidings_core::filter::{Target, check_size, compile};
use tidings_core::{FieldError, FieldErrors};
use tidings_store::{ContactQuery, SortOrder};

use super::{ApiRoute, Body, clock, decode_cursor, fields, pages, path_id, per_page, route, shapes};
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use tidings_engine::filters::SchemaData;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        route(Method::GET, "/contacts", "List contacts", None, "contact_list", list),
        route(Method::POST, "/contacts", "Create a contact", Some("contact_create"), "contact", create),
        route(
            Method::POST,
            "/contacts/search",
            "Search contacts with the query language",
            Some("search_request"),
            "contact_list",
            search,
        ),
        route(
            Method::POST,
            "/contacts/count",
            "Count the contacts matching a query (Tidings extension)",
            Some("count_request"),
            "count",
            count,
        ),
        route(
            Method::POST,
            "/contacts/bulk",
            "Create or update up to 10,000 contacts by external_id or email (Tidings extension)",
            Some("bulk_request"),
            "bulk_report",
            bulk,
        ),
        route(
            Method::GET,
            "/contacts/find_by_external_id/{external_id}",
            "Get a contact by external_id",
            None,
            "contact",
            by_external_id,
        ),
        route(Method::GET, "/contacts/{id}", "Get a contact", None, "contact", get),
        route(Method::PUT, "/contacts/{id}", "Update a contact", Some("contact_input"), "contact", update),
        route(Method::DELETE, "/contacts/{id}", "Delete a contact", None, "deleted_contact", delete),
        route(Method::POST, "/contacts/{id}/archive", "Archive a contact", None, "archived_contact", archive),
        route(Method::POST, "/contacts/{id}/unarchive", "Unarchive a contact", None, "archived_contact", unarchive),
    ]
}

/// Renders contacts with their tags, loading all tags in one query.
pub(crate) async fn render(state: &AppState, caller: &Caller, contacts: &[Contact]) -> ApiResult<Vec<Json>> {
    let ids: Vec<i64> = contacts.iter().map(|c| c.id).collect();
    let mut tags = state.store.contact_tags(caller.workspace.id, &ids).await?;
    Ok(contacts
        .iter()
        .map(|c| shapes::contact(c, &caller.workspace, &tags.remove(&c.id).unwrap_or_default()))
        .collect())
}

async fn render_one(state: &AppState, caller: &Caller, c: &Contact) -> ApiResult<JsonResponse<Json>> {
    Ok(JsonResponse(render(state, caller, std::slice::from_ref(c)).await?.remove(0)))
}

pub(crate) async fn find(state: &AppState, caller: &Caller, raw_id: &str) -> ApiResult<Contact> {
    let id = path_id(raw_id).ok_or_else(ApiError::user_not_found)?;
    state.store.contact(caller.workspace.id, id).await?.ok_or_else(ApiError::user_not_found)
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<JsonResponse<Json>> {
    let per_page = per_page(q.get("per_page").map(|v| json!(v)).as_ref(), 50, "per_page")?;
    let offset = match (q.get("starting_after"), q.get("page")) {
        (Some(cursor), _) if !cursor.is_empty() => decode_cursor(cursor, "starting_after")?,
        (_, Some(page)) => {
            let page: i64 = page
                .parse()
                .ok()
                .filter(|p| *p >= 1)
                .ok_or_else(|| ApiError::bad_request("page", "page must be 1 or more"))?;
            (page - 1) * per_page
        }
        _ => 0,
    };
    let query = ContactQuery { pred: None, sort: None, order: SortOrder::Descending, offset, limit: per_page };
    let (contacts, total) = state.store.search_contacts(caller.workspace.id, &query).await?;
    let data = render(&state, &caller, &contacts).await?;
    Ok(JsonResponse(
        json!({"type": "list", "data": data, "total_count": total, "pages": pages(offset, per_page, total)}),
    ))
}

async fn create(State(state): State<AppState>, caller: Caller, Body(body): Body) -> ApiResult<JsonResponse<Json>> {
    if !["email", "external_id", "role"].iter().any(|k| body.get(*k).is_some_and(|v| !v.is_null())) {
        return Err(ApiError::bad_request("email", "A contact needs at least one of email, external_id or role"));
    }
    let custom = state.store.custom_attributes(caller.workspace.id).await?;
    let input = ContactInput::parse(&body, &custom)?;
    let saved = state.engine.create_contact(&caller.workspace, &input).await?;
    render_one(&state, &caller, &saved).await
}

async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<JsonResponse<Json>> {
    let c = find(&state, &caller, &id).await?;
    render_one(&state, &caller, &c).await
}

async fn by_external_id(
    State(state): State<AppState>,
    caller: Caller,
    Path(external_id): Path<String>,
) -> ApiResult<JsonResponse<Json>> {
    let c = state
        .store
        .contact_by_external_id(caller.workspace.id, &external_id)
        .await?
        .ok_or_else(ApiError::user_not_found)?;
    render_one(&state, &caller, &c).await
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<JsonResponse<Json>> {
    let c = find(&state, &caller, &id).await?;
    let custom = state.store.custom_attributes(caller.workspace.id).await?;
    let input = ContactInput::parse(&body, &custom)?;
    let c = state.engine.update_contact(&caller.workspace, c.id, &input).await?;
    render_one(&state, &caller, &c).await
}

async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<JsonResponse<Json>> {
    let c = find(&state, &caller, &id).await?;
    let c = state.engine.delete_contact(&caller.workspace, c.id).await?;
    Ok(JsonResponse(json!({"id": c.id.to_string(), "external_id": c.external_id, "type": "contact", "deleted": true})))
}

async fn set_archived(state: AppState, caller: Caller, id: String, archived: bool) -> ApiResult<JsonResponse<Json>> {
    let c = find(&state, &caller, &id).await?;
    let c = state.engine.set_contact_archived(&caller.workspace, c.id, archived).await?;
    Ok(JsonResponse(
        json!({"id": c.id.to_string(), "external_id": c.external_id, "type": "contact", "archived": archived}),
    ))
}

async fn archive(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<JsonResponse<Json>> {
    set_archived(state, caller, id, true).await
}

async fn unarchive(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<JsonResponse<Json>> {
    set_archived(state, caller, id, false).await
}

/// Checks the `query` of a search or count body and lowers it.
pub(crate) fn lower_query(
    body: &Map<String, Json>,
    data: &SchemaData,
    calendar: &tidings_core::dates::Clock,
) -> ApiResult<Option<tidings_core::filter::Pred>> {
    match body.get("query") {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Object(q)) if q.is_empty() => Ok(None),
        Some(q) => {
            let pred = compile(q, &data.schema(), calendar, "query")?;
            check_size(Some(&pred), 0, "query")?;
            Ok(Some(pred))
        }
    }
}

fn parse_sort(body: &Map<String, Json>) -> ApiResult<(Option<Target>, SortOrder)> {
    let Some(sort) = fields::object(body, "sort", "sort")? else {
        return Ok((None, SortOrder::Descending));
    };
    let field = fields::text(sort, "field", "sort.field")?.unwrap_or("created_at");
    let order = match fields::text(sort, "order", "sort.order")?.unwrap_or("descending") {
        "ascending" => SortOrder::Ascending,
        "descending" => SortOrder::Descending,
        other => {
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "invalid_sort_order",
                format!("Invalid sort order '{other}'. Must be one of: ascending, descending"),
            )
            .with_field("sort.order"));
        }
    };
    let target = if field == "id" {
        Target::Column(&tidings_core::attribute::ID)
    } else {
        Target::Column(builtin(field).ok_or_else(|| {
            ApiError::bad_request(
                "sort.field",
                format!("sort.field: {field} cannot be sorted on; use a built-in attribute such as created_at"),
            )
        })?)
    };
    Ok((Some(target), order))
}

async fn search(State(state): State<AppState>, caller: Caller, Body(body): Body) -> ApiResult<JsonResponse<Json>> {
    if !body.contains_key("query") {
        return Err(FieldError::missing("query", "query is required").into());
    }
    let data =
        SchemaData::load(&*state.store, caller.workspace.id, &[body.get("query").unwrap_or(&Json::Null)]).await?;
    let pred = lower_query(&body, &data, &clock(&state.engine, &caller))?;
    let pagination = fields::object(&body, "pagination", "pagination")?.cloned().unwrap_or_default();
    let per_page = per_page(pagination.get("per_page"), 50, "pagination.per_page")?;
    let offset = match fields::text(&pagination, "starting_after", "pagination.starting_after")? {
        Some(c) if !c.is_empty() => decode_cursor(c, "pagination.starting_after")?,
        _ => 0,
    };
    let (sort, order) = parse_sort(&body)?;
    let query = ContactQuery { pred, sort, order, offset, limit: per_page };
    let (contacts, total) = state.store.search_contacts(caller.workspace.id, &query).await?;
    let data = render(&state, &caller, &contacts).await?;
    Ok(JsonResponse(
        json!({"type": "list", "data": data, "total_count": total, "pages": pages(offset, per_page, total)}),
    ))
}

async fn count(State(state): State<AppState>, caller: Caller, Body(body): Body) -> ApiResult<JsonResponse<Json>> {
    let data =
        SchemaData::load(&*state.store, caller.workspace.id, &[body.get("query").unwrap_or(&Json::Null)]).await?;
    let pred = lower_query(&body, &data, &clock(&state.engine, &caller))?;
    let count = state.store.count_contacts(caller.workspace.id, pred.as_ref()).await?;
    Ok(JsonResponse(json!({"type": "count", "count": count})))
}

/// The most contacts one bulk request may carry.
const BULK_MAX: usize = 10_000;

async fn bulk(State(state): State<AppState>, caller: Caller, Body(body): Body) -> ApiResult<JsonResponse<Json>> {
    let Some(Json::Array(items)) = body.get("contacts") else {
        return Err(ApiError::bad_request("contacts", "contacts must be a list of contact objects"));
    };
    if items.len() > BULK_MAX {
        return Err(ApiError::bad_request(
            "contacts",
            format!("At most {BULK_MAX} contacts per request; split the list"),
        ));
    }
    let custom = state.store.custom_attributes(caller.workspace.id).await?;
    let mut inputs = Vec::new();
    let mut positions = Vec::new();
    let mut errors: Vec<Json> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let parsed = match item {
            Json::Object(obj) => ContactInput::parse(obj, &custom),
            _ => Err(FieldErrors::from(FieldError::invalid(&format!("contacts[{i}]"), "must be an object"))),
        };
        match parsed {
            Ok(input) => {
                inputs.push(input);
                positions.push(i);
            }
            Err(e) => errors.push(json!({"index": i, "message": e.to_string()})),
        }
    }
    let report = state.engine.upsert_contacts(&caller.workspace, &inputs).await?;
    for (k, reason) in &report.rejected {
        errors.push(json!({"index": positions[*k], "message": reason}));
    }
    errors.sort_by_key(|e| e["index"].as_u64());
    Ok(JsonResponse(json!({
        "type": "bulk_report",
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "errors": errors,
    })))
}
