//! `POST /conversations/search`: Intercom's search query over conversations, with the same
//! `query`, `pagination` and `sort` body as contacts' search. The query is checked and lowered
//! by `tidings_core::conversation_filter`; the store runs it; the answer is a page of the list's
//! items.

use axum::Json as JsonResponse;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Map, Value as Json, json};
use tidings_core::FieldError;
use tidings_core::conversation_filter::compile;
use tidings_store::{ConversationOrder, ConversationSearch, SortOrder};

use super::shape;
use crate::AppState;
use crate::api::{Body, clock, decode_cursor, fields, pages, per_page};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

/// A page holds 20 conversations unless asked otherwise, as Intercom's.
const PER_PAGE: i64 = 20;

/// The fields a search may be sorted by, as `sort.field` names them.
pub(crate) const SORTABLE: [&str; 5] = ["created_at", "updated_at", "waiting_since", "snoozed_until", "id"];

pub(super) async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body,
) -> ApiResult<JsonResponse<Json>> {
    let pred = match body.get("query") {
        None => return Err(FieldError::missing("query", "query is required").into()),
        Some(Json::Null) => None,
        Some(Json::Object(q)) if q.is_empty() => None,
        Some(q) => Some(compile(q, &clock(&state.engine, &caller), "query")?),
    };
    let pagination = fields::object(&body, "pagination", "pagination")?.cloned().unwrap_or_default();
    let per_page = per_page(pagination.get("per_page"), PER_PAGE, "pagination.per_page")?;
    let offset = match fields::text(&pagination, "starting_after", "pagination.starting_after")? {
        Some(c) if !c.is_empty() => decode_cursor(c, "pagination.starting_after")?,
        _ => 0,
    };
    let (order_by, order) = sort(&body)?;
    let ws = caller.workspace.id;
    let query = ConversationSearch { pred, order_by, order, offset, limit: per_page };
    let (page, total) = state.store.search_conversations(ws, &query).await?;
    let refs = shape::Refs::load(&state, ws, &page, &[]).await?;
    let items: Vec<Json> = page.iter().map(|s| shape::conversation(s, &refs, None)).collect();
    Ok(JsonResponse(json!({
        "type": "conversation.list",
        "pages": pages(offset, per_page, total),
        "total_count": total,
        "conversations": items,
    })))
}

/// `sort: {field, order}`; newest first when left out.
fn sort(body: &Map<String, Json>) -> ApiResult<(ConversationOrder, SortOrder)> {
    let Some(sort) = fields::object(body, "sort", "sort")? else {
        return Ok((ConversationOrder::CreatedAt, SortOrder::Descending));
    };
    let order_by = match fields::text(sort, "field", "sort.field")?.unwrap_or("created_at") {
        "created_at" => ConversationOrder::CreatedAt,
        "updated_at" => ConversationOrder::UpdatedAt,
        "waiting_since" => ConversationOrder::WaitingSince,
        "snoozed_until" => ConversationOrder::SnoozedUntil,
        "id" => ConversationOrder::Id,
        other => {
            return Err(ApiError::bad_request(
                "sort.field",
                format!("sort.field: {other} cannot be sorted on; use one of {}", SORTABLE.join(", ")),
            ));
        }
    };
    let order = match fields::text(sort, "order", "sort.order")?.unwrap_or("descending") {
        "ascending" => SortOrder::Ascending,
        "descending" => SortOrder::Descending,
        other => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_sort_order",
                format!("Invalid sort order '{other}'. Must be one of: ascending, descending"),
            )
            .with_field("sort.order"));
        }
    };
    Ok((order_by, order))
}
