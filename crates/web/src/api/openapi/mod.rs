//! `/openapi.json`: the OpenAPI 3.1 document of the API, built from the same route lists as the
//! router, so every served operation is documented and nothing documented is missing.
//!
//! The document says exactly what each operation takes. Read with an API token, it also lists
//! what only exists in that workspace (custom attributes, tags, segments, messages), so that it
//! describes the API as that workspace sees it; without one, it describes every workspace.

mod conversation_filter;
mod filter;
pub(crate) mod kinds;
mod schemas;

use axum::Json as JsonResponse;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{Method, header};
use serde_json::{Map, Value as Json, json};
use tidings_core::attribute::CustomAttribute;
use tidings_store::MessageListQuery;

use super::{ApiRoute, route, routes as all_routes};
use crate::AppState;
use crate::auth::hash_secret;
use crate::error::ApiResult;
use kinds::schema_ref;

pub fn routes() -> Vec<ApiRoute> {
    vec![route(
        Method::GET,
        "/openapi.json",
        "This document; with a token, as the token's workspace sees the API",
        None,
        "openapi",
        serve,
    )]
}

/// What only exists in one workspace, and the document can list.
#[derive(Default)]
pub struct Vocabulary {
    pub custom: Vec<CustomAttribute>,
    pub tag_ids: Vec<i64>,
    pub segment_ids: Vec<i64>,
    pub message_ids: Vec<i64>,
}

impl Vocabulary {
    /// The vocabulary of the workspace whose API token the request carries, if any.
    async fn of(state: &AppState, parts: &Parts) -> ApiResult<Vocabulary> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
        let Some(token) = bearer else { return Ok(Vocabulary::default()) };
        let Some(token) = state.store.api_token_by_hash(&hash_secret(token.trim())).await? else {
            return Ok(Vocabulary::default());
        };
        let ws = token.workspace_id;
        Ok(Vocabulary {
            custom: state.store.custom_attributes(ws).await?.into_iter().filter(|a| !a.archived).collect(),
            tag_ids: state.store.tags(ws).await?.iter().map(|t| t.id).collect(),
            segment_ids: state.store.segments(ws).await?.iter().map(|s| s.id).collect(),
            // The most recent messages: enough for a document, however many a workspace sent.
            message_ids: {
                let recent = MessageListQuery { states: vec![], search: None, offset: 0, limit: 1_000 };
                state.store.messages(ws, &recent).await?.0.iter().map(|r| r.message.id).collect()
            },
        })
    }
}

async fn serve(State(state): State<AppState>, parts: Parts) -> ApiResult<JsonResponse<Json>> {
    Ok(JsonResponse(document(&Vocabulary::of(&state, &parts).await?)))
}

/// The whole document, for one workspace's vocabulary (or none).
pub fn document(vocab: &Vocabulary) -> Json {
    let schemas = schemas::all(vocab);
    let mut paths: Map<String, Json> = Map::new();
    let messenger = crate::messenger::routes();
    let messenger_paths: Vec<&str> = messenger.iter().map(|r| r.path).collect();
    for r in all_routes().into_iter().chain(messenger) {
        let success = match r.response {
            "empty" => ("204", json!({"description": "Done; no content"})),
            "websocket" => ("101", json!({"description": "Switching to the WebSocket protocol"})),
            schema => (
                "200",
                json!({"description": "Success", "content": {"application/json": {"schema": schema_ref(schema)}}}),
            ),
        };
        let mut op = json!({
            "summary": r.summary,
            "operationId": format!("{} {}", r.method, r.path),
            "responses": {
                success.0: success.1,
                "default": {"description": "An error", "content": {"application/json": {"schema": schema_ref("error")}}},
            },
        });
        if messenger_paths.contains(&r.path) {
            op["tags"] = json!(["Messenger"]);
            if r.path != "/messenger/v1/boot" {
                op["security"] = json!([{"messengerSession": []}]);
            }
        } else if r.path != "/openapi.json" {
            op["security"] = json!([{"bearerAuth": []}]);
        }
        let params: Vec<Json> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if !params.is_empty() {
            op["parameters"] = Json::Array(params);
        }
        if let Some(req) = r.request {
            // A body may be left out (it reads as `{}`) unless something in it is required.
            let required = schemas.get(req).is_some_and(|s| s.get("required").is_some() || s.get("anyOf").is_some());
            op["requestBody"] =
                json!({"required": required, "content": {"application/json": {"schema": schema_ref(req)}}});
        }
        let entry = paths.entry(r.path.to_owned()).or_insert_with(|| json!({}));
        entry[r.method.as_str().to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Tidings API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Intercom-compatible REST API (v2.11 shapes; 2.14 tolerated) served by Tidings. Operations marked 'Tidings extension' are not part of Intercom's API. No text may hold a NUL character, and text fields have the limits in docs/limits.md (given here as maxLength). Read this document with your API token to see your workspace's custom attributes, tags, segments and messages where they can be used.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "messengerSession": {"type": "apiKey", "in": "header", "name": "X-Messenger-Session",
                    "description": "The session token POST /messenger/v1/boot returns (the WebSocket takes it as ?session=)"},
            },
            "schemas": schemas,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_referenced_schema_is_defined() {
        let doc = document(&Vocabulary::default());
        let defined = doc["components"]["schemas"].as_object().unwrap();
        let text = doc.to_string();
        for part in text.split("#/components/schemas/").skip(1) {
            let name: String = part.chars().take_while(|c| *c != '"').collect();
            assert!(defined.contains_key(&name), "schema {name} is referenced but not defined");
        }
        assert!(doc["paths"]["/contacts/search"]["post"].is_object());
        let ws = &doc["paths"]["/messenger/v1/ws"]["get"];
        assert_eq!(ws["security"], json!([{"messengerSession": []}]), "the Messenger protocol is documented");
        assert!(doc["paths"]["/messenger/v1/boot"]["post"]["security"].is_null(), "boot needs no session");
    }
}
