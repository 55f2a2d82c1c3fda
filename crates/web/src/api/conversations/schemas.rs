//! The OpenAPI schemas of the conversation endpoints and of `POST /messages`: exactly what each
//! takes and what it answers.

use serde_json::{Value as Json, json};

/// The schemas, by name.
pub(crate) fn schemas() -> Json {
    use crate::api::openapi::kinds::{WS, id, non_blank, or_null, schema_ref, text, without_tags};
    use tidings_core::text::{BODY, SHORT, SUBJECT, VALUE};
    let contact_ref = |types: &[&str]| {
        json!({
            "type": "object", "required": ["type"],
            "properties": {"type": {"enum": types}, "id": or_null(id()), "user_id": or_null(json!({"type": ["string", "number"]}))},
            "anyOf": [
                {"required": ["id"], "properties": {"id": id()}},
                {"required": ["user_id"], "properties": {"user_id": {"type": ["string", "number"]}}},
            ],
            "description": "A contact by its Tidings id, or by your user_id (external id)",
        })
    };
    let markdown = || {
        without_tags(
            non_blank(BODY),
            "Markdown with {{attribute}} tags naming attributes that exist; raw HTML is shown as text",
        )
    };
    let plain = || non_blank(BODY);
    let someone = json!({"anyOf": [
        {"type": "string", "pattern": format!("[^{WS}]")},
        {"type": "number"},
    ]});
    json!({
        "create_message_request": {"type": "object", "required": ["message_type", "body", "from", "to"], "properties": {
            "message_type": {"enum": ["inapp", "in_app", "email"], "description": "email needs a subject, and the server or the workspace set up to send email (409 email_not_set_up otherwise)"},
            "template": or_null(json!({"enum": ["plain", "personal"], "description": "How an email looks (personal by default)"})),
            "subject": or_null(without_tags(text(SUBJECT), "Text with {{attribute}} tags naming attributes that exist")),
            "body": markdown(),
            "from": {"type": "object", "required": ["type", "id"], "properties": {"type": {"const": "admin"}, "id": id()}},
            "to": contact_ref(&["user", "lead"]),
            "create_conversation_without_contact_reply": or_null(json!({"type": "boolean"})),
        },
        "if": {"required": ["message_type"], "properties": {"message_type": {"const": "email"}}},
        "then": {"required": ["subject"], "properties": {"subject": {"type": "string", "pattern": "\\S"}}}},
        "message": {"type": "object", "properties": {
            "type": {"enum": ["admin_message", "user_message"]}, "id": {"type": "string"}, "created_at": {"type": "integer"},
            "subject": {"type": ["string", "null"]}, "body": {"type": "string"}, "message_type": {"enum": ["inapp", "email"]},
            "owner": schema_ref("admin"), "conversation_id": {"type": ["string", "null"]},
        }},
        "create_conversation_request": {"type": "object", "required": ["from", "body"], "properties": {
            "from": contact_ref(&["user", "lead", "contact"]), "body": plain(),
        }, "description": "body is plain text"},
        "conversation_part": {"type": "object", "properties": {
            "type": {"const": "conversation_part"}, "id": {"type": "string"},
            "part_type": {"enum": ["comment", "note", "open", "close", "snoozed", "unsnoozed", "assignment", "assign_and_reopen"]}, "body": {"type": ["string", "null"]},
            "created_at": {"type": "integer"}, "author": {"type": "object"},
        }},
        "conversation": {"type": "object", "properties": {
            "type": {"const": "conversation"}, "id": {"type": "string"}, "created_at": {"type": "integer"}, "updated_at": {"type": "integer"},
            "waiting_since": {"type": ["integer", "null"]}, "snoozed_until": {"type": ["integer", "null"]},
            "source": {"type": "object"}, "contacts": {"type": "object"}, "admin_assignee_id": {"type": ["integer", "null"]},
            "open": {"type": "boolean"}, "state": {"enum": ["open", "closed", "snoozed"]}, "read": {"type": "boolean"},
            "conversation_parts": {"type": "object", "properties": {
                "type": {"const": "conversation_part.list"}, "total_count": {"type": "integer"},
                "conversation_parts": {"type": "array", "items": schema_ref("conversation_part")},
            }},
        }},
        "conversation_list": {"type": "object", "properties": {
            "type": {"const": "conversation.list"}, "total_count": {"type": "integer"}, "pages": schema_ref("pages"),
            "conversations": {"type": "array", "items": schema_ref("conversation")},
        }},
        "reply_conversation_request": {"anyOf": [
            {"type": "object", "required": ["type", "message_type", "admin_id", "body"], "properties": {
                "type": {"const": "admin"}, "message_type": {"enum": ["comment", "note"]}, "admin_id": id(), "body": markdown(),
            }},
            {"type": "object", "required": ["type", "body"], "properties": {
                "type": {"enum": ["user", "lead", "contact"]}, "message_type": or_null(json!({"const": "comment"})), "body": plain(),
            }, "anyOf": [
                {"required": ["intercom_user_id"], "properties": {"intercom_user_id": someone}},
                {"required": ["email"], "properties": {"email": someone}},
                {"required": ["user_id"], "properties": {"user_id": someone}},
            ]},
        ], "description": "A teammate's comment or note (Markdown), or the contact's reply (plain text) naming the contact by intercom_user_id, email or user_id"},
        "manage_conversation_request": {"type": "object", "required": ["message_type", "admin_id"], "properties": {
            "message_type": {"enum": ["close", "open", "snoozed", "assignment"]}, "admin_id": id(),
            "type": or_null(json!({"const": "admin", "description": "Tidings has no teams: team is refused"})),
            "body": or_null(without_tags(text(BODY), "Words sent to the contact with a close, or for the team with an assignment (Markdown)")),
            "snoozed_until": or_null(json!({"anyOf": [{"type": "integer", "minimum": 1, "maximum": i64::MAX}, {"type": "string", "maxLength": 18, "pattern": "^0*[1-9][0-9]*$"}]})),
            "assignee_id": or_null(json!({"allOf": [id()], "description": "The teammate to assign to; 0 unassigns"})),
        }, "anyOf": [
            {"properties": {"message_type": {"enum": ["close", "open"]}}},
            {"required": ["snoozed_until"], "properties": {"message_type": {"const": "snoozed"}, "snoozed_until": {"not": {"type": "null"}}}},
            {"required": ["assignee_id"], "properties": {"message_type": {"const": "assignment"}, "assignee_id": {"not": {"type": "null"}}}},
        ], "description": "snoozed needs snoozed_until, in UNIX seconds; assignment needs assignee_id"},
        "update_conversation_request": {"type": "object", "properties": {
            "read": or_null(json!({"type": "boolean", "description": "Whether the team has read it"})),
            "custom_attributes": or_null(json!({
                "type": "object",
                "propertyNames": {"maxLength": SHORT, "pattern": format!("[^{WS}]")},
                "additionalProperties": {"anyOf": [text(VALUE), {"type": ["number", "boolean", "null"]}]},
                "description": "Set these attributes, keeping the others: text, numbers, booleans or null",
            })),
            "title": {"type": "null", "description": "Tidings keeps no title"},
            "company_id": {"type": "null", "description": "Tidings keeps no companies"},
        }},
        "conversation_tag_request": {"type": "object", "required": ["id", "admin_id"], "properties": {
            "id": {"allOf": [id()], "description": "The tag"}, "admin_id": {"allOf": [id()], "description": "The teammate who tags it"},
        }},
        "conversation_untag_request": {"type": "object", "required": ["admin_id"], "properties": {
            "admin_id": {"allOf": [id()], "description": "The teammate who takes the tag off"},
        }},
        "conversation_search_request": {"type": "object", "required": ["query"], "properties": {
            "query": {"anyOf": [schema_ref("conversation_filter"), {"type": "object", "maxProperties": 0}, {"type": "null"}],
                "description": "A filter over conversations; {} or null matches them all"},
            "pagination": or_null(json!({"type": "object", "properties": {
                "per_page": {"anyOf": [
                    {"type": "integer", "minimum": 1, "maximum": 150},
                    {"type": "string", "pattern": "^(150|1[0-4][0-9]|[1-9][0-9]?)$"},
                    {"type": "null"},
                ], "description": "1 to 150; 20 when left out"},
                "starting_after": {"anyOf": [{"type": "string", "pattern": crate::api::CURSOR_PATTERN}, {"enum": ["", null]}],
                    "description": "pages.next.starting_after of the page before; empty for the first"},
            }})),
            "sort": or_null(json!({"type": "object", "properties": {
                "field": or_null(json!({"enum": super::search::SORTABLE})),
                "order": or_null(json!({"enum": ["ascending", "descending"]})),
            }, "description": "created_at descending when left out; conversations without the field (waiting_since, snoozed_until) come last"})),
        }},
    })
}
