//! `/webhooks`: a workspace's subscriptions to the conversation topics, and what became of their
//! recent notifications (a Tidings extension: Intercom sets webhooks up in its Developer Hub).
//! The owner and admins only, since a subscription's secret and what it is sent are the whole
//! workspace's conversations.
//!
//! Also the [`ApiShaper`] the webhook worker is started with: a notification carries its
//! conversation exactly as `GET /conversations/{id}` shows it.

use axum::Json as JsonResponse;
use axum::extract::{Path, State};
use axum::http::Method;
use serde_json::{Map, Value as Json, json};
use tidings_core::webhook::Topic;
use tidings_engine::webhooks::WebhookInput;
use tidings_engine::webhooks::sender::Shaper;
use tidings_store::{Notification, Webhook};

use super::conversations::shape;
use super::{ApiRoute, Body, fields, path_id, route};
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::roles::Permission;

/// Notifications `GET /webhooks/{id}/deliveries` lists, the most recent.
const RECENT: i64 = 100;

/// Parts a notification's conversation carries: as many as `GET /conversations/{id}` shows.
const PARTS: i64 = 500;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        route(
            Method::GET,
            "/webhooks",
            "List the workspace's webhook subscriptions (Tidings extension; owner and admins)",
            None,
            "webhook_list",
            list,
        ),
        route(
            Method::POST,
            "/webhooks",
            "Subscribe a URL to conversation topics; every notification is signed with the subscription's secret (Tidings extension; owner and admins)",
            Some("webhook_create_request"),
            "webhook",
            create,
        ),
        route(
            Method::GET,
            "/webhooks/{id}",
            "Get a webhook subscription (Tidings extension; owner and admins)",
            None,
            "webhook",
            get,
        ),
        route(
            Method::PUT,
            "/webhooks/{id}",
            "Change a webhook subscription's URL or topics, or switch it off or on (Tidings extension; owner and admins)",
            Some("webhook_update_request"),
            "webhook",
            update,
        ),
        route(
            Method::DELETE,
            "/webhooks/{id}",
            "Delete a webhook subscription and its notifications (Tidings extension; owner and admins)",
            None,
            "deleted_webhook",
            delete,
        ),
        route(
            Method::GET,
            "/webhooks/{id}/deliveries",
            "A webhook subscription's 100 most recent notifications and what became of them (Tidings extension; owner and admins)",
            None,
            "webhook_delivery_list",
            deliveries,
        ),
    ]
}

pub(crate) fn shape_webhook(w: &Webhook) -> Json {
    json!({
        "type": "webhook",
        "id": w.id.to_string(),
        "url": w.url,
        "topics": w.topics.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        "active": w.active,
        "secret": w.secret,
        "created_at": w.created_at,
        "updated_at": w.updated_at,
    })
}

fn shape_delivery(n: &Notification) -> Json {
    json!({
        "type": "webhook_delivery",
        "id": n.notification_id,
        "topic": n.topic.as_str(),
        "conversation_id": n.conversation_id.to_string(),
        "part_id": n.part_id.to_string(),
        "delivery_status": n.state.as_str(),
        "delivery_attempts": n.attempts,
        "next_attempt_at": n.next_attempt_at,
        "last_status": n.last_status,
        "last_error": n.last_error,
        "created_at": n.created_at,
        "first_sent_at": n.first_sent_at,
        "delivered_at": n.delivered_at,
    })
}

/// The fields of a create or update body, each of its documented kind.
fn input(b: &Map<String, Json>) -> ApiResult<WebhookInput> {
    let topics = match fields::present(b, "topics") {
        None => None,
        Some(Json::Array(items)) => Some(
            items
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    t.as_str().map(str::to_owned).ok_or_else(|| {
                        ApiError::bad_request(&format!("topics[{i}]"), format!("topics[{i}] must be a topic's name"))
                    })
                })
                .collect::<ApiResult<Vec<_>>>()?,
        ),
        Some(_) => return Err(ApiError::bad_request("topics", "topics must be a list of topic names")),
    };
    Ok(WebhookInput {
        url: fields::text(b, "url", "url")?.map(str::to_owned),
        topics,
        active: fields::boolean(b, "active", "active")?,
    })
}

async fn find(state: &AppState, caller: &Caller, raw: &str) -> ApiResult<Webhook> {
    let id = path_id(raw).ok_or_else(ApiError::not_found)?;
    state.store.webhook(caller.workspace.id, id).await?.ok_or_else(ApiError::not_found)
}

async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<JsonResponse<Json>> {
    caller.require(Permission::Webhooks)?;
    let data: Vec<Json> = state.store.webhooks(caller.workspace.id).await?.iter().map(shape_webhook).collect();
    Ok(JsonResponse(json!({"type": "list", "data": data})))
}

async fn create(State(state): State<AppState>, caller: Caller, Body(b): Body) -> ApiResult<JsonResponse<Json>> {
    caller.require(Permission::Webhooks)?;
    let w = state.engine.create_webhook(&caller.workspace, input(&b)?).await?;
    Ok(JsonResponse(shape_webhook(&w)))
}

async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<JsonResponse<Json>> {
    caller.require(Permission::Webhooks)?;
    Ok(JsonResponse(shape_webhook(&find(&state, &caller, &id).await?)))
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(b): Body,
) -> ApiResult<JsonResponse<Json>> {
    caller.require(Permission::Webhooks)?;
    let w = find(&state, &caller, &id).await?;
    let w = state.engine.update_webhook(&caller.workspace, w.id, input(&b)?).await?;
    Ok(JsonResponse(shape_webhook(&w)))
}

async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<JsonResponse<Json>> {
    caller.require(Permission::Webhooks)?;
    let w = find(&state, &caller, &id).await?;
    state.engine.delete_webhook(&caller.workspace, w.id).await?;
    Ok(JsonResponse(json!({"type": "webhook", "id": w.id.to_string(), "deleted": true})))
}

async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<JsonResponse<Json>> {
    caller.require(Permission::Webhooks)?;
    let w = find(&state, &caller, &id).await?;
    let recent = state.store.webhook_notifications(caller.workspace.id, w.id, RECENT).await?;
    let data: Vec<Json> = recent.iter().map(shape_delivery).collect();
    Ok(JsonResponse(json!({"type": "list", "data": data})))
}

/// The OpenAPI schemas of this module.
pub(crate) fn schemas() -> Json {
    use super::openapi::kinds::{or_null, schema_ref};
    let topic = json!({"enum": Topic::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>()});
    let url = json!({
        "type": "string", "maxLength": tidings_core::text::URL, "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^\\s]+$",
        "description": "http(s) URL whose host resolves only to public internet addresses (the server may allow private ones with TIDINGS_WEBHOOK_ALLOW_PRIVATE); answered 400 naming url otherwise",
    });
    let topics = json!({"type": "array", "minItems": 1, "items": topic, "description": "Repeats count once"});
    json!({
        "webhook": {"type": "object", "properties": {
            "type": {"const": "webhook"}, "id": {"type": "string"}, "url": {"type": "string"},
            "topics": {"type": "array", "items": topic.clone()}, "active": {"type": "boolean"},
            "secret": {"type": "string", "description": "Keys X-Hub-Signature: sha1= and the hex HMAC-SHA1 of the raw body"},
            "created_at": {"type": "integer"}, "updated_at": {"type": "integer"},
        }},
        "webhook_list": {"type": "object", "properties": {"type": {"const": "list"}, "data": {"type": "array", "items": schema_ref("webhook")}}},
        "deleted_webhook": {"type": "object", "properties": {"type": {"const": "webhook"}, "id": {"type": "string"}, "deleted": {"const": true}}},
        "webhook_create_request": {"type": "object", "required": ["url", "topics"], "properties": {
            "url": url.clone(), "topics": topics.clone(), "active": or_null(json!({"type": "boolean"})),
        }, "description": "At most 20 subscriptions per workspace (409 webhook_limit_reached)"},
        "webhook_update_request": {"type": "object", "properties": {
            "url": or_null(url), "topics": or_null(topics),
            "active": or_null(json!({"type": "boolean", "description": "Switched on again, a subscription hears what happens from then on"})),
        }},
        "webhook_delivery": {"type": "object", "properties": {
            "type": {"const": "webhook_delivery"}, "id": {"type": "string", "description": "The notification's id (notif_…), the same on every attempt"},
            "topic": topic.clone(), "conversation_id": {"type": "string"}, "part_id": {"type": "string"},
            "delivery_status": {"enum": ["pending", "sending", "delivered", "failed"]}, "delivery_attempts": {"type": "integer"},
            "next_attempt_at": {"type": ["integer", "null"]}, "last_status": {"type": ["integer", "null"]}, "last_error": {"type": ["string", "null"]},
            "created_at": {"type": "integer"}, "first_sent_at": {"type": ["integer", "null"]}, "delivered_at": {"type": ["integer", "null"]},
        }},
        "webhook_delivery_list": {"type": "object", "properties": {"type": {"const": "list"}, "data": {"type": "array", "items": schema_ref("webhook_delivery")}}},
    })
}

/// Shapes a notification's conversation as `GET /conversations/{id}` does, for the webhook worker.
pub struct ApiShaper(pub AppState);

#[async_trait::async_trait]
impl Shaper for ApiShaper {
    async fn conversation(&self, ws: i64, id: i64) -> Result<Option<Json>, String> {
        let state = &self.0;
        let unreadable = |e: ApiError| e.cause.unwrap_or_else(|| "the conversation could not be shaped".into());
        let Some(summary) = state.store.conversation_summary(ws, id).await.map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let parts = state.store.recent_parts(ws, id, PARTS).await.map_err(|e| e.to_string())?;
        let refs = shape::Refs::load(state, ws, std::slice::from_ref(&summary), &parts).await.map_err(unreadable)?;
        Ok(Some(shape::conversation(&summary, &refs, Some(&parts))))
    }
}
