//! Conversation search's query as JSON Schema, built from core's catalogue of fields
//! (`tidings_core::conversation_filter::FIELDS`): each field with exactly the operators and
//! values it takes, in groups nested at most two deep with at most 15 filters each.

use serde_json::{Map, Value as Json, json};
use tidings_core::conversation_filter::{FIELDS, Kind, MAX_TESTS};
use tidings_core::text;

use super::filter::{group, leaf, list_of};
use super::kinds::{boolean, id, schema_ref, time};

/// `conversation_filter` (a leaf or a group), its two levels of groups, and its leaves.
pub fn schemas() -> Map<String, Json> {
    let mut out = Map::new();
    let one = schema_ref("conversation_filter_leaf");
    out.insert(
        "conversation_filter".into(),
        json!({
            "description": "A filter over conversations: {field, operator, value}, or {operator: AND|OR, value: [filters]} nested at most 2 levels with at most 15 filters per group. = != IN NIN work on every field; > and < on times and admin_assignee_id, and include the value itself; times are UNIX seconds (or RFC 3339 text) and = matches the whole day in the workspace's time zone; admin_assignee_id 0 or null is unassigned; source.body is matched word by word (= one word, ~ !~ a run of words or part of one, ^ $ the start and the end), ignoring case and punctuation.",
            "anyOf": [one.clone(), schema_ref("conversation_filter_group")],
        }),
    );
    out.insert(
        "conversation_filter_group".into(),
        group(json!({"anyOf": [one.clone(), schema_ref("conversation_filter_group_inner")]})),
    );
    out.insert("conversation_filter_group_inner".into(), group(one));
    out.insert("conversation_filter_leaf".into(), json!({"anyOf": leaves()}));
    out
}

/// The value a field of `kind` is compared with by `=`, `!=`, `>` and `<`.
fn value_of(kind: Kind) -> Json {
    match kind {
        Kind::Id | Kind::Assignee => id(),
        Kind::Time => time(),
        // 1 and 0 too: python-intercom 5 sends value=True as 1.
        Kind::Boolean => json!({"anyOf": [boolean(), {"enum": [0, 1]}]}),
        Kind::Choice(choices) => json!({"enum": choices}),
        Kind::Words => json!({"type": "string", "maxLength": text::VALUE}),
    }
}

fn leaves() -> Vec<Json> {
    let mut out = Vec::new();
    for f in FIELDS {
        let name = [f.name.to_owned()];
        let value = value_of(f.kind);
        let ops = f.kind.operators();
        let scalar: Vec<&str> = ops.iter().copied().filter(|o| ["=", "!=", ">", "<"].contains(o)).collect();
        let mut l = leaf(&name, &scalar, value.clone());
        l["description"] = f.description.into();
        out.push(l);
        let list = match f.kind {
            Kind::Id | Kind::Assignee => list_of(value),
            // Each value of these is a test of its own: fewer of them.
            _ => json!({"type": "array", "minItems": 1, "maxItems": MAX_TESTS, "items": value}),
        };
        out.push(leaf(&name, &["IN", "NIN"], list));
        if f.kind == Kind::Words {
            out.push(leaf(
                &name,
                &["~", "!~", "^", "$"],
                json!({"type": "string", "minLength": 1, "maxLength": text::VALUE}),
            ));
        }
    }
    // Whether a field that may be missing has a value.
    let nullable: Vec<String> = FIELDS.iter().filter(|f| f.nullable).map(|f| f.name.to_owned()).collect();
    out.push(json!({
        "type": "object",
        "required": ["field", "operator"],
        "properties": {"field": {"enum": nullable}, "operator": {"enum": ["=", "!="]}, "value": {"type": "null"}},
        "description": "= null: has no value (unassigned, nobody waiting, not snoozed); != null: has one",
    }));
    out
}
