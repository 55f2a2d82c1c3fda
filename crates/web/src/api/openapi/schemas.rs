//! The schemas of the document: what each operation answers, and exactly what it takes.

use serde_json::{Map, Value as Json, json};
use tidings_core::attribute::{BUILT_INS, CUSTOM_NAME_CHARS, CustomAttribute, DataType};
use tidings_core::text;

use super::Vocabulary;
use super::kinds::{
    WS, boolean, decimal, id, integer, non_blank, one_of_ids, or_null, schema_ref, text as text_of, text_or_null, time,
    without_tags,
};
use crate::api::CURSOR_PATTERN;

/// Every schema, for one workspace's vocabulary.
pub fn all(vocab: &Vocabulary) -> Map<String, Json> {
    let mut all = Map::new();
    for part in [
        responses(),
        requests(vocab),
        super::super::conversations::schemas(),
        super::super::identity::schemas(),
        super::super::webhooks::schemas(),
    ] {
        if let Json::Object(m) = part {
            all.extend(m);
        }
    }
    all.extend(super::filter::schemas(vocab));
    all.extend(super::conversation_filter::schemas());
    all
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

/// What the operations answer.
fn responses() -> Json {
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
            "external_id": json!({"type": ["string", "null"]}), "role": {"enum": ["user", "lead"]}, "email": json!({"type": ["string", "null"]}), "phone": json!({"type": ["string", "null"]}),
            "name": json!({"type": ["string", "null"]}), "owner_id": {"type": ["integer", "null"]}, "unsubscribed_from_emails": {"type": "boolean"},
            "created_at": {"type": "integer"}, "updated_at": {"type": "integer"}, "signed_up_at": json!({"type": ["integer", "null"], "description": "UNIX seconds"}), "last_seen_at": json!({"type": ["integer", "null"], "description": "UNIX seconds"}),
            "custom_attributes": {"type": "object"}, "tags": {"type": "object"},
        }},
        "contact_list": paged_list_of("contact"),
        "count": {"type": "object", "properties": {"type": {"const": "count"}, "count": {"type": "integer"}}},
        "bulk_report": {"type": "object", "properties": {
            "type": {"const": "bulk_report"}, "created": {"type": "integer"}, "updated": {"type": "integer"}, "unchanged": {"type": "integer"},
            "errors": {"type": "array", "items": {"type": "object", "properties": {"index": {"type": "integer"}, "message": {"type": "string"}}}},
        }},
        "deleted_contact": {"type": "object", "properties": {"type": {"const": "contact"}, "id": {"type": "string"}, "external_id": json!({"type": ["string", "null"]}), "deleted": {"const": true}}},
        "archived_contact": {"type": "object", "properties": {"type": {"const": "contact"}, "id": {"type": "string"}, "external_id": json!({"type": ["string", "null"]}), "archived": {"type": "boolean"}}},
        "admin": {"type": "object", "properties": {
            "type": {"const": "admin"}, "id": {"type": "string"}, "name": {"type": "string"}, "email": {"type": "string"},
            "away_mode_enabled": {"type": "boolean"}, "has_inbox_seat": {"type": "boolean"}, "team_ids": {"type": "array", "items": {"type": "integer"}},
            "avatar": {"type": "object", "description": "The teammate's picture (Settings › Your profile); image_url is null without one",
                "properties": {"type": {"const": "avatar"}, "image_url": {"type": ["string", "null"]}}},
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
        "segment": {"type": "object", "properties": {
            "type": {"const": "segment"}, "id": {"type": "string"}, "name": {"type": "string"}, "person_type": {"enum": ["user", "contact"]},
            "created_at": {"type": "integer"}, "updated_at": {"type": "integer"}, "count": {"type": "integer"}, "query": schema_ref("filter"),
        }},
        "segment_list": {"type": "object", "properties": {"type": {"const": "segment.list"}, "segments": {"type": "array", "items": schema_ref("segment")}}},
        "deleted_segment": {"type": "object", "properties": {"type": {"const": "segment"}, "id": {"type": "string"}, "deleted": {"const": true}}},
        "deleted_tag": {"type": "object", "properties": {"type": {"const": "tag"}, "id": {"type": "string"}, "name": {"type": "string"}, "deleted": {"const": true}}},
        "tag": {"type": "object", "properties": {"type": {"const": "tag"}, "id": {"type": "string"}, "name": {"type": "string"}}},
        "tag_list": list_of("tag"),
        "manual_message": {"type": "object", "properties": {
            "type": {"const": "manual_message"}, "id": {"type": "string"}, "title": {"type": "string"},
            "channel": {"enum": ["chat", "post", "email", "push"]}, "state": {"enum": ["draft", "scheduled", "sent", "stopped"]},
            "subject": {"type": ["string", "null"]}, "body": {"type": "string", "description": "Markdown with {{attribute | fallback: \"text\"}} tags"},
            "template": {"enum": ["personal", "plain"], "description": "How an email looks"},
            "delivery_window": or_null(delivery_window()),
            "body_html": {"type": ["string", "null"]},
            "audience": {"type": ["object", "null"], "description": "As the manual message was given it (see audience); null while a draft has none"},
            "sender": schema_ref("admin"),
            "scheduled_at": {"type": ["integer", "null"]}, "sent_at": {"type": ["integer", "null"]}, "stopped_at": {"type": ["integer", "null"]},
            "stats": {"type": "object", "properties": {
                "targeted": {"type": "integer"}, "sent": {"type": "integer"}, "pending": {"type": "integer"}, "seen": {"type": "integer"},
                "clicked": {"type": "integer"}, "replied": {"type": "integer"}, "cancelled": {"type": "integer"}, "failed": {"type": "integer"},
                "bounced": {"type": "integer"}, "skipped": {"type": "integer"}, "unsubscribed": {"type": "integer"},
                "reasons": {"type": "array", "description": "Why deliveries were skipped, failed or bounced", "items": {"type": "object", "properties": {
                    "state": {"enum": ["skipped", "failed", "bounced"]}, "reason": {"type": "string"}, "count": {"type": "integer"},
                }}},
                "links": {"type": "array", "description": "Clicks per link of an email (when tracked), most clicked first", "items": {"type": "object", "properties": {
                    "url": {"type": "string"}, "clicks": {"type": "integer"}, "people": {"type": "integer"},
                }}},
            }},
        }},
        "manual_message_list": paged_list_of("manual_message"),
        "preview": {"type": "object", "properties": {
            "type": {"const": "preview"}, "contact_id": {"type": "string"}, "subject": {"type": ["string", "null"]},
            "html": {"type": "string"}, "text": {"type": "string"},
        }},
        "messenger_session": {"type": "object", "properties": {
            "type": {"const": "messenger_session"}, "session": {"type": "string"},
            "app": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "color": color()}},
            "contact": {"type": "object"}, "unread_count": {"type": "integer"},
        }},
        "messenger_unread": {"type": "object", "properties": {"unread_count": {"type": "integer"}, "marked": {"type": "integer"}}},
        "messenger_sender": {"type": "object", "description": "A teammate as contacts see them (empty name and null avatar on the contact's own words)", "properties": {
            "name": {"type": "string"}, "avatar": {"type": ["string", "null"], "description": "an http(s) address; null: show initials"},
        }},
        "messenger_item": {"type": "object", "properties": {
            "type": {"enum": ["chat", "post"]}, "delivery_id": {"type": "string"}, "message_id": {"type": "string"},
            "title": {"type": ["string", "null"]}, "html": {"type": "string"}, "sender": schema_ref("messenger_sender"),
            "sent_at": {"type": ["integer", "null"]}, "seen_at": {"type": ["integer", "null"]}, "conversation": {"type": ["object", "null"]},
        }},
        "messenger_messages": {"type": "object", "properties": {
            "items": {"type": "array", "items": schema_ref("messenger_item")},
            "conversations": {"type": "array", "items": schema_ref("messenger_conversation")},
            "unread_count": {"type": "integer"},
        }},
        "messenger_click": {"type": "object", "properties": {"type": {"const": "messenger_click"}, "clicked": {"type": "boolean"}}},
        "messenger_part": {"type": "object", "properties": {
            "id": {"type": ["string", "null"], "description": "null for a chat no conversation holds yet"},
            "author": {"enum": ["admin", "user", "lead"]}, "sender": schema_ref("messenger_sender"),
            "html": {"type": ["string", "null"], "description": "safe to insert"}, "created_at": {"type": ["integer", "null"]},
        }},
        "messenger_conversation": {"type": "object", "properties": {
            "type": {"const": "messenger_conversation"}, "id": {"type": "string"}, "state": {"enum": ["open", "closed", "snoozed"]},
            "delivery_id": {"type": ["string", "null"], "description": "the chat that opened it, if one did"},
            "parts": {"type": "array", "items": schema_ref("messenger_part")},
        }},
        "messenger_home": {"type": "object", "properties": {
            "type": {"const": "messenger_home"}, "name": {"type": "string"}, "greeting": {"type": "string"}, "color": color(),
            "teammates": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "string"}, "name": {"type": "string"}, "avatar": {"type": ["string", "null"]},
            }}},
            "unread_count": {"type": "integer"},
        }},
        "messenger_conversation_list": {"type": "object", "properties": {
            "type": {"const": "messenger_conversation_list"},
            "conversations": {"type": "array", "description": "newest first", "items": {"type": "object", "properties": {
                "id": {"type": ["string", "null"], "description": "null for a chat nobody answered yet: reply with POST /deliveries/{delivery_id}/reply"},
                "delivery_id": {"type": ["string", "null"]}, "state": {"enum": ["open", "closed", "snoozed"]},
                "unread_count": {"type": "integer"}, "updated_at": {"type": ["integer", "null"]},
                "last_part": {"anyOf": [schema_ref("messenger_part"), {"type": "null"}]},
                "teammate": {"anyOf": [schema_ref("messenger_sender"), {"type": "null"}]},
            }}},
            "announcements": {"type": "array", "items": schema_ref("messenger_item")},
            "unread_count": {"type": "integer"},
        }},
        "messenger_conversation_seen": {"type": "object", "properties": {
            "type": {"const": "messenger_conversation_seen"}, "conversation_id": {"type": "string"},
            "seen": {"type": "boolean", "description": "whether anything was newly seen"}, "unread_count": {"type": "integer"},
        }},
        "openapi": {"type": "object", "description": "An OpenAPI 3.1 document"},
    })
}

/// A custom attribute's value, or `null` to remove it.
fn custom_value(a: &CustomAttribute) -> Json {
    let value = match a.data_type {
        DataType::String if !a.options.is_empty() => json!({"enum": a.options}),
        DataType::String => text_of(text::VALUE),
        DataType::Integer => integer(),
        DataType::Float => decimal(),
        DataType::Boolean => boolean(),
        DataType::Date => time(),
    };
    or_null(value)
}

/// An email address as Tidings reads it: one `@` with something around it and no white space,
/// padding allowed; blank text means none.
fn email() -> Json {
    let pattern = format!("^[{WS}]*([^@{WS}]+@[^@{WS}]+)?[{WS}]*$");
    or_null(json!({"type": "string", "maxLength": text::EMAIL, "pattern": pattern}))
}

/// A time zone: an IANA name, or blank text for none.
/// Days and hours a manual message may reach a contact in.
fn delivery_window() -> Json {
    let time = json!({"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"});
    json!({
        "type": "object", "required": ["days", "start", "end"], "additionalProperties": false,
        "properties": {
            "days": {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 1, "maximum": 7},
                "description": "Weekdays, 1 (Monday) to 7 (Sunday)"},
            "start": time.clone(),
            "end": time,
        },
        "description": "Only send during these days and hours: emails in the contact's time zone (else the workspace's), in-app messages in the workspace's. end must differ from start; an end before the start runs overnight. null: any time",
    })
}

/// A colour as the Messenger's look stores it.
fn color() -> Json {
    json!({"type": "string", "pattern": "^#[0-9a-f]{6}$"})
}

fn timezone() -> Json {
    let names: Vec<String> = jiff::tz::db().available().map(|n| n.as_str().to_owned()).collect();
    json!({"anyOf": [
        {"enum": names},
        {"type": "string", "maxLength": text::SHORT, "pattern": format!("^[{WS}]*$")},
        {"type": "null"},
    ]})
}

/// The fields of a contact that can be written, and its custom attributes.
fn contact_fields(vocab: &Vocabulary) -> Map<String, Json> {
    let custom: Map<String, Json> = vocab.custom.iter().map(|a| (a.name.clone(), custom_value(a))).collect();
    let fields = json!({
        "role": {"enum": ["user", "lead"]},
        "external_id": {"anyOf": [text_of(text::EXTERNAL_ID), {"type": "number"}, {"type": "null"}],
            "description": "Your own id for the user (numbers are kept as text)"},
        "email": email(),
        "phone": text_or_null(text::SHORT),
        "name": text_or_null(text::NAME),
        "avatar": text_or_null(text::URL),
        "language_override": text_or_null(text::SHORT),
        "timezone": timezone(),
        "owner_id": or_null(integer()),
        "signed_up_at": or_null(time()),
        "last_seen_at": or_null(time()),
        "unsubscribed_from_emails": boolean(),
        "custom_attributes": {
            "type": "object",
            "description": "Values of the workspace's data attributes (POST /data_attributes creates one); null removes a value. Read this document with your token to see yours.",
            "properties": custom,
            "additionalProperties": false,
        },
    });
    let Json::Object(fields) = fields else { unreachable!() };
    fields
}

/// An audience: which contacts a manual message goes to.
fn audience(vocab: &Vocabulary) -> Json {
    let segments = if vocab.segment_ids.is_empty() {
        json!({"type": "array", "maxItems": 0})
    } else {
        json!({"type": "array", "minItems": 1, "maxItems": 100, "items": one_of_ids(&vocab.segment_ids)})
    };
    json!({
        "type": "object",
        "description": "All parts apply together: hand-picked contacts, members of any of the segments, contacts matching the query, or everyone. With conversation: true, a chat that reaches exactly one contact opens its conversation.",
        "additionalProperties": false,
        "properties": {
            "contact_ids": or_null(json!({"type": "array", "minItems": 1, "maxItems": 10_000, "items": id()})),
            "segment_ids": or_null(segments),
            "query": or_null(schema_ref("filter")),
            "everyone": or_null(json!({"type": "boolean"})),
            "conversation": {"type": "boolean"},
        },
        "anyOf": [
            {"required": ["contact_ids"], "properties": {"contact_ids": {"type": "array"}}},
            {"required": ["segment_ids"], "properties": {"segment_ids": {"type": "array"}}},
            {"required": ["query"], "properties": {"query": {"type": "object"}}},
            {"required": ["everyone"], "properties": {"everyone": {"const": true}}},
        ],
    })
}

fn body_text() -> Json {
    without_tags(
        non_blank(text::BODY),
        "Markdown with {{attribute | fallback: \"text\"}} tags naming attributes that exist; raw HTML is shown as text",
    )
}

fn subject() -> Json {
    or_null(without_tags(text_of(text::SUBJECT), "Text with {{attribute}} tags naming attributes that exist"))
}

/// What the operations take.
fn requests(vocab: &Vocabulary) -> Json {
    let contact = contact_fields(vocab);
    let sortable: Vec<&str> = std::iter::once("id").chain(BUILT_INS.iter().map(|b| b.name)).collect();
    let name_chars: String = CUSTOM_NAME_CHARS
        .iter()
        .map(|(from, to)| {
            if from == to {
                format!("\\u{:04X}", *from as u32)
            } else {
                format!("\\u{:04X}-\\u{:04X}", *from as u32, *to as u32)
            }
        })
        .collect();
    let attribute_name = json!({
        "type": "string",
        "maxLength": 190,
        "pattern": format!("^ *[{}]*[^ ][{}]*$", name_chars, name_chars),
        "not": {"enum": BUILT_INS.iter().map(|b| b.name).collect::<Vec<_>>()},
        "description": "Letters and digits (ASCII and Latin-1), spaces, _, - and currency symbols; not the name of a built-in attribute",
    });
    let options = json!({"type": "array", "maxItems": 1_000, "items": {"anyOf": [
        text_of(text::VALUE),
        {"type": "object", "required": ["value"], "properties": {"value": text_of(text::VALUE)}},
    ]}});
    let query = json!({"anyOf": [schema_ref("filter"), {"type": "object", "maxProperties": 0}, {"type": "null"}],
        "description": "A filter; {} or null matches everyone"});
    let manual_message = |required: &[&str]| {
        json!({
            "type": "object",
            "required": required,
            "properties": {
                "title": or_null(text_of(text::NAME)),
                "channel": or_null(json!({"enum": ["chat", "post", "email"], "description": "push is not available yet; an email needs a subject before it is sent or scheduled"})),
                "template": or_null(json!({"enum": ["personal", "plain"], "description": "How an email looks (personal by default)"})),
                "delivery_window": or_null(delivery_window()),
                "subject": subject(),
                "body": body_text(),
                "sender_id": or_null(id()),
                "audience": or_null(schema_ref("audience")),
                "scheduled_at": or_null(json!({"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX})),
                "send": or_null(json!({"type": "boolean", "description": "send at once; refused with 400 naming audience when nobody matches it now"})),
            },
            // Sending or scheduling needs an audience.
            "anyOf": [
                {"required": ["audience"], "properties": {"audience": {"type": "object"}}},
                {"properties": {"send": {"enum": [false, null]}, "scheduled_at": {"type": "null"}}},
            ],
        })
    };
    let mut create_contact = contact.clone();
    create_contact.insert("role".into(), json!({"enum": ["user", "lead"]}));
    json!({
        "contact_input": {"type": "object", "properties": contact,
            "description": "Other keys are ignored, as Intercom does"},
        "contact_create": {"type": "object", "properties": create_contact,
            "description": "At least one of email, external_id or role. Other keys are ignored, as Intercom does",
            "anyOf": [
                {"required": ["email"], "properties": {"email": {"type": "string"}}},
                {"required": ["external_id"], "properties": {"external_id": {"type": ["string", "number"]}}},
                {"required": ["role"]},
            ]},
        "search_request": {"type": "object", "required": ["query"], "properties": {
            "query": query.clone(),
            "pagination": or_null(json!({"type": "object", "properties": {
                "per_page": {"anyOf": [
                    {"type": "integer", "minimum": 1, "maximum": 150},
                    {"type": "string", "pattern": "^(150|1[0-4][0-9]|[1-9][0-9]?)$"},
                    {"type": "null"},
                ], "description": "1 to 150; 50 when left out"},
                "starting_after": {"anyOf": [{"type": "string", "pattern": CURSOR_PATTERN}, {"enum": ["", null]}],
                    "description": "pages.next.starting_after of the page before; empty for the first"},
            }})),
            "sort": or_null(json!({"type": "object", "properties": {
                "field": or_null(json!({"enum": sortable})), "order": or_null(json!({"enum": ["ascending", "descending"]})),
            }})),
        }},
        "count_request": {"type": "object", "properties": {"query": query}},
        "bulk_request": {"type": "object", "required": ["contacts"], "properties": {"contacts": {
            "type": "array", "maxItems": 10_000,
            "items": {"description": "A contact (as POST /contacts takes it) with an external_id or an email to match on; a row that is not one is reported in errors and the rest are written"},
        }}},
        "data_attribute_input": {"type": "object", "required": ["name", "model", "data_type"], "properties": {
            "name": attribute_name, "model": {"const": "contact", "description": "company attributes are not available"},
            "data_type": {"enum": ["string", "integer", "float", "boolean", "date", "datetime"]},
            "description": text_or_null(text::VALUE), "options": or_null(options.clone()),
            "messenger_writable": or_null(json!({"type": "boolean"})),
        }, "anyOf": [
            {"properties": {"data_type": {"const": "string"}}},
            {"properties": {"options": {"anyOf": [{"type": "null"}, {"type": "array", "maxItems": 0}]}}},
        ], "description": "options only on string attributes"},
        "data_attribute_update": {"type": "object", "not": {"required": ["data_type"]}, "properties": {
            "archived": or_null(json!({"type": "boolean"})), "description": text_or_null(text::VALUE),
            "options": or_null(options), "messenger_writable": or_null(json!({"type": "boolean"})),
        }, "description": "The data type cannot change"},
        "segment_input": {"type": "object", "required": ["name", "query"], "properties": {
            "name": non_blank(text::NAME), "query": schema_ref("filter"),
            "person_type": or_null(json!({"enum": ["user", "contact", "lead"]})),
        }},
        "tag_input": {"type": "object", "required": ["name"], "properties": {
            "name": non_blank(text::NAME),
            "id": or_null(id()),
            "users": {"type": "array", "items": {"type": "object", "required": ["id"], "properties": {
                "id": id(), "untag": or_null(json!({"type": "boolean"})),
            }}},
        }, "description": "With id, renames that tag; with users, tags (or, with untag: true, untags) them"},
        "tag_ref": {"type": "object", "required": ["id"], "properties": {"id": id()}},
        "audience": audience(vocab),
        "audience_request": {"type": "object", "required": ["audience"], "properties": {"audience": schema_ref("audience")}},
        "manual_message_input": manual_message(&["body"]),
        "manual_message_update": manual_message(&[]),
        "schedule_request": {"type": "object", "required": ["scheduled_at"], "properties": {"scheduled_at": time()}},
        "preview_request": {"type": "object", "required": ["contact_id"], "properties": {"contact_id": id()}},
        "preview_unsaved_request": {"type": "object", "required": ["contact_id", "body"], "properties": {
            "contact_id": id(), "body": body_text(), "subject": subject(),
        }},
        "messenger_boot": {"type": "object", "required": ["app_id"], "properties": {
            "app_id": {"type": "string"},
            "user_id": {"anyOf": [text_of(text::EXTERNAL_ID), {"type": "number"}]},
            "email": email(),
            "user_hash": {"type": "string", "description": "hex HMAC-SHA256 of user_id (or email) with the workspace's identity secret"},
            "name": text_or_null(text::NAME), "created_at": or_null(time()),
            "session": {"type": "string", "description": "a visitor's earlier session, to stay the same lead"},
        }, "description": "Other keys are the workspace's custom attributes that the Messenger may write, or ignored"},
        "messenger_update": {"type": "object", "properties": {
            "name": text_or_null(text::NAME), "phone": text_or_null(text::SHORT),
            "language_override": text_or_null(text::SHORT), "timezone": timezone(),
        }, "description": "And the workspace's custom attributes that the Messenger may write; other keys are ignored"},
        "messenger_seen_request": {"type": "object", "required": ["delivery_ids"], "properties": {
            "delivery_ids": {"type": "array", "items": {"description": "a delivery id; others are ignored"}},
        }},
        "messenger_text": {"type": "object", "required": ["body"], "properties": {"body": non_blank(text::BODY)},
            "description": "plain text"},
    })
}
