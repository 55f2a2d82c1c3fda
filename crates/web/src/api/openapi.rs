//! `/openapi.json`: the OpenAPI 3.1 document of the API, built from the same route lists as the
//! router, so every served operation is documented and nothing documented is missing.

use axum::Json as JsonResponse;
use axum::http::Method;
use serde_json::{Map, Value as Json, json};

use super::{ApiRoute, route, routes as all_routes};

pub fn routes() -> Vec<ApiRoute> {
    vec![route(Method::GET, "/openapi.json", "This document", None, "openapi", serve)]
}

async fn serve() -> JsonResponse<Json> {
    JsonResponse(document())
}

fn schema_ref(name: &str) -> Json {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// The whole document.
pub fn document() -> Json {
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
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": schema_ref(req)}}});
        }
        let entry = paths.entry(r.path.to_owned()).or_insert_with(|| json!({}));
        entry[r.method.as_str().to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Tidings API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Intercom-compatible REST API (v2.11 shapes; 2.14 tolerated) served by Tidings. Operations marked 'Tidings extension' are not part of Intercom's API.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "messengerSession": {"type": "apiKey", "in": "header", "name": "X-Messenger-Session",
                    "description": "The session token POST /messenger/v1/boot returns (the WebSocket takes it as ?session=)"},
            },
            "schemas": all_schemas(),
        },
    })
}

fn list_of(item: &str) -> Json {
    json!({"type": "object", "properties": {"type": {"const": "list"}, "data": {"type": "array", "items": schema_ref(item)}}})
}

fn paged_list_of(item: &str) -> Json {
    json!({"type": "object", "properties": {
        "type": {"const": "list"},
        "data": {"type": "array", "items": schema_ref(item)},
        "total_count": {"type": "integer"},
        "pages": schema_ref("pages"),
    }})
}

fn all_schemas() -> Json {
    let mut all = schemas();
    if let (Json::Object(all), Json::Object(more)) = (&mut all, super::conversations::schemas()) {
        all.extend(more);
    }
    all
}

fn schemas() -> Json {
    let nullable_string = json!({"type": ["string", "null"]});
    let nullable_time = json!({"type": ["integer", "null"], "description": "UNIX seconds"});
    let filter = json!({
        "description": "A filter: {field, operator, value}, or {operator: AND|OR, value: [filters]} nested at most 2 levels with at most 15 filters per group. Operators: = != IN NIN > < >= <= ~ !~ ^ $, and the Tidings extensions more_than_days_ago, less_than_days_ago, exactly_days_ago (value: days) and `= null` / `!= null` (is unknown / has any value).",
        "type": "object",
        "properties": {"field": {"type": "string"}, "operator": {"type": "string"}, "value": {}},
        "required": ["operator"],
    });
    json!({
        "error": {"type": "object", "properties": {
            "type": {"const": "error.list"},
            "request_id": {"type": "string"},
            "errors": {"type": "array", "items": {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}}, "required": ["code"]}},
        }},
        "pages": {"type": "object", "properties": {
            "type": {"const": "pages"}, "page": {"type": "integer"}, "per_page": {"type": "integer"}, "total_pages": {"type": "integer"},
            "next": {"type": "object", "properties": {"page": {"type": "integer"}, "starting_after": {"type": "string"}}},
        }},
        "contact": {"type": "object", "properties": {
            "type": {"const": "contact"}, "id": {"type": "string"}, "workspace_id": {"type": "string"},
            "external_id": nullable_string, "role": {"enum": ["user", "lead"]}, "email": nullable_string, "phone": nullable_string,
            "name": nullable_string, "owner_id": {"type": ["integer", "null"]}, "unsubscribed_from_emails": {"type": "boolean"},
            "created_at": {"type": "integer"}, "updated_at": {"type": "integer"}, "signed_up_at": nullable_time, "last_seen_at": nullable_time,
            "custom_attributes": {"type": "object"}, "tags": {"type": "object"},
        }},
        "contact_input": {"type": "object", "properties": {
            "role": {"enum": ["user", "lead"]}, "external_id": {"type": "string"}, "email": {"type": "string"}, "phone": {"type": "string"},
            "name": {"type": "string"}, "avatar": {"type": "string"}, "signed_up_at": {"type": "integer"}, "last_seen_at": {"type": "integer"},
            "owner_id": {"type": "integer"}, "unsubscribed_from_emails": {"type": "boolean"}, "timezone": {"type": "string"},
            "custom_attributes": {"type": "object"},
        }},
        "contact_list": paged_list_of("contact"),
        "filter": filter,
        "search_request": {"type": "object", "required": ["query"], "properties": {
            "query": schema_ref("filter"),
            "pagination": {"type": "object", "properties": {"per_page": {"type": "integer", "maximum": 150}, "starting_after": {"type": "string"}}},
            "sort": {"type": "object", "properties": {"field": {"type": "string"}, "order": {"enum": ["ascending", "descending"]}}},
        }},
        "count_request": {"type": "object", "properties": {"query": schema_ref("filter")}},
        "count": {"type": "object", "properties": {"type": {"const": "count"}, "count": {"type": "integer"}}},
        "bulk_request": {"type": "object", "required": ["contacts"], "properties": {"contacts": {"type": "array", "maxItems": 10000, "items": schema_ref("contact_input")}}},
        "bulk_report": {"type": "object", "properties": {
            "type": {"const": "bulk_report"}, "created": {"type": "integer"}, "updated": {"type": "integer"}, "unchanged": {"type": "integer"},
            "errors": {"type": "array", "items": {"type": "object", "properties": {"index": {"type": "integer"}, "message": {"type": "string"}}}},
        }},
        "deleted_contact": {"type": "object", "properties": {"type": {"const": "contact"}, "id": {"type": "string"}, "external_id": nullable_string, "deleted": {"const": true}}},
        "archived_contact": {"type": "object", "properties": {"type": {"const": "contact"}, "id": {"type": "string"}, "external_id": nullable_string, "archived": {"type": "boolean"}}},
        "admin": {"type": "object", "properties": {
            "type": {"const": "admin"}, "id": {"type": "string"}, "name": {"type": "string"}, "email": {"type": "string"},
            "away_mode_enabled": {"type": "boolean"}, "has_inbox_seat": {"type": "boolean"}, "team_ids": {"type": "array", "items": {"type": "integer"}},
        }},
        "me": {"allOf": [schema_ref("admin"), {"type": "object", "properties": {"app": {"type": "object", "properties": {
            "type": {"const": "app"}, "id_code": {"type": "string"}, "name": {"type": "string"}, "timezone": {"type": "string"},
        }}}}]},
        "admin_list": {"type": "object", "properties": {"type": {"const": "admin.list"}, "admins": {"type": "array", "items": schema_ref("admin")}}},
        "data_attribute": {"type": "object", "properties": {
            "type": {"const": "data_attribute"}, "id": {"type": "integer"}, "model": {"const": "contact"}, "name": {"type": "string"},
            "full_name": {"type": "string"}, "label": {"type": "string"}, "data_type": {"enum": ["string", "integer", "float", "boolean", "date"]},
            "custom": {"type": "boolean"}, "archived": {"type": "boolean"}, "options": {"type": "array", "items": {"type": "string"}},
        }},
        "data_attribute_list": list_of("data_attribute"),
        "data_attribute_input": {"type": "object", "required": ["name", "model", "data_type"], "properties": {
            "name": {"type": "string"}, "model": {"const": "contact"}, "data_type": {"enum": ["string", "integer", "float", "boolean", "date", "datetime"]},
            "description": {"type": "string"}, "options": {"type": "array"}, "messenger_writable": {"type": "boolean"},
        }},
        "data_attribute_update": {"type": "object", "properties": {
            "archived": {"type": "boolean"}, "description": {"type": "string"}, "options": {"type": "array"}, "messenger_writable": {"type": "boolean"},
        }},
        "segment": {"type": "object", "properties": {
            "type": {"const": "segment"}, "id": {"type": "string"}, "name": {"type": "string"}, "person_type": {"enum": ["user", "contact"]},
            "created_at": {"type": "integer"}, "updated_at": {"type": "integer"}, "count": {"type": "integer"}, "query": schema_ref("filter"),
        }},
        "segment_list": {"type": "object", "properties": {"type": {"const": "segment.list"}, "segments": {"type": "array", "items": schema_ref("segment")}}},
        "segment_input": {"type": "object", "required": ["name", "query"], "properties": {
            "name": {"type": "string"}, "query": schema_ref("filter"), "person_type": {"enum": ["user", "contact"]},
        }},
        "deleted_segment": {"type": "object", "properties": {"type": {"const": "segment"}, "id": {"type": "string"}, "deleted": {"const": true}}},
        "deleted_tag": {"type": "object", "properties": {"type": {"const": "tag"}, "id": {"type": "string"}, "name": {"type": "string"}, "deleted": {"const": true}}},
        "tag": {"type": "object", "properties": {"type": {"const": "tag"}, "id": {"type": "string"}, "name": {"type": "string"}}},
        "tag_list": list_of("tag"),
        "tag_input": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"}, "id": {"type": "string"},
            "users": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}, "untag": {"type": "boolean"}}}},
        }},
        "tag_ref": {"type": "object", "required": ["id"], "properties": {"id": {"type": ["string", "integer"]}}},
        "audience": {"type": "object", "description": "All parts apply together.", "properties": {
            "contact_ids": {"type": "array", "items": {"type": ["string", "integer"]}, "maxItems": 10000},
            "segment_ids": {"type": "array", "items": {"type": ["string", "integer"]}, "description": "members of any of these segments"},
            "query": schema_ref("filter"),
            "everyone": {"type": "boolean"},
        }},
        "audience_request": {"type": "object", "required": ["audience"], "properties": {"audience": schema_ref("audience")}},
        "manual_message": {"type": "object", "properties": {
            "type": {"const": "manual_message"}, "id": {"type": "string"}, "title": {"type": "string"},
            "channel": {"enum": ["chat", "post", "email", "push"]}, "state": {"enum": ["draft", "scheduled", "sent", "stopped"]},
            "subject": {"type": ["string", "null"]}, "body": {"type": "string", "description": "Markdown with {{attribute | fallback: \"text\"}} tags"},
            "body_html": {"type": ["string", "null"]},
            "audience": {"anyOf": [schema_ref("audience"), {"type": "null"}], "description": "null while a draft has none"},
            "sender": schema_ref("admin"),
            "scheduled_at": {"type": ["integer", "null"]}, "sent_at": {"type": ["integer", "null"]}, "stopped_at": {"type": ["integer", "null"]},
            "stats": {"type": "object", "properties": {
                "targeted": {"type": "integer"}, "sent": {"type": "integer"}, "pending": {"type": "integer"}, "seen": {"type": "integer"},
                "clicked": {"type": "integer"}, "replied": {"type": "integer"}, "cancelled": {"type": "integer"}, "failed": {"type": "integer"},
            }},
        }},
        "manual_message_list": paged_list_of("manual_message"),
        "manual_message_input": {"type": "object", "properties": {
            "title": {"type": "string"}, "channel": {"enum": ["chat", "post"]}, "subject": {"type": "string"}, "body": {"type": "string"},
            "sender_id": {"type": ["string", "integer"]}, "audience": schema_ref("audience"),
            "scheduled_at": {"type": "integer"}, "send": {"type": "boolean", "description": "send at once"},
        }},
        "schedule_request": {"type": "object", "required": ["scheduled_at"], "properties": {"scheduled_at": {"type": ["integer", "string"]}}},
        "preview_request": {"type": "object", "required": ["contact_id"], "properties": {"contact_id": {"type": ["string", "integer"]}}},
        "preview": {"type": "object", "properties": {
            "type": {"const": "preview"}, "contact_id": {"type": "string"}, "subject": {"type": ["string", "null"]},
            "html": {"type": "string"}, "text": {"type": "string"},
        }},
        "messenger_boot": {"type": "object", "required": ["app_id"], "properties": {
            "app_id": {"type": "string"}, "user_id": {"type": "string"}, "email": {"type": "string"},
            "user_hash": {"type": "string", "description": "hex HMAC-SHA256 of user_id (or email) with the workspace's identity secret"},
            "name": {"type": "string"}, "created_at": {"type": "integer"},
            "session": {"type": "string", "description": "a visitor's earlier session, to stay the same lead"},
        }, "additionalProperties": {"description": "custom attributes"}},
        "messenger_session": {"type": "object", "properties": {
            "type": {"const": "messenger_session"}, "session": {"type": "string"}, "app": {"type": "object"},
            "contact": {"type": "object"}, "unread_count": {"type": "integer"},
        }},
        "messenger_update": {"type": "object", "description": "name, phone, language_override, timezone, and custom attributes the Messenger may write"},
        "messenger_unread": {"type": "object", "properties": {"unread_count": {"type": "integer"}, "marked": {"type": "integer"}}},
        "messenger_item": {"type": "object", "properties": {
            "type": {"enum": ["chat", "post"]}, "delivery_id": {"type": "string"}, "message_id": {"type": "string"},
            "title": {"type": ["string", "null"]}, "html": {"type": "string"}, "sender": {"type": "object"},
            "sent_at": {"type": ["integer", "null"]}, "seen_at": {"type": ["integer", "null"]}, "conversation": {"type": ["object", "null"]},
        }},
        "messenger_messages": {"type": "object", "properties": {
            "items": {"type": "array", "items": schema_ref("messenger_item")},
            "conversations": {"type": "array", "items": schema_ref("messenger_conversation")},
            "unread_count": {"type": "integer"},
        }},
        "messenger_seen_request": {"type": "object", "required": ["delivery_ids"], "properties": {"delivery_ids": {"type": "array", "items": {"type": "string"}}}},
        "messenger_click": {"type": "object", "properties": {"type": {"const": "messenger_click"}, "clicked": {"type": "boolean"}}},
        "messenger_text": {"type": "object", "required": ["body"], "properties": {"body": {"type": "string", "description": "plain text"}}},
        "messenger_conversation": {"type": "object", "properties": {"id": {"type": "string"}, "parts": {"type": "array", "items": {"type": "object"}}}},
        "openapi": {"type": "object", "description": "An OpenAPI 3.1 document"},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_referenced_schema_is_defined() {
        let doc = document();
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
