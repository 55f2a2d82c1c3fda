//! The filter language as JSON Schema: which operators each kind of field takes, the values they
//! take, groups nested at most two deep with at most 15 filters each. Fields, tags, segments and
//! messages that only exist in a workspace are listed when the document is read with its token.

use serde_json::{Map, Value as Json, json};
use tidings_core::attribute::{BUILT_INS, DataType};
use tidings_core::filter::{MAX_GROUP, MAX_VALUES, MessageHistory, operators_for};
use tidings_core::text;

use super::Vocabulary;
use super::kinds::{boolean, decimal, integer, one_of_ids, schema_ref, time};

/// The filter schemas: `filter` (a leaf or a group), the two levels of groups, and the leaves.
pub fn schemas(vocab: &Vocabulary) -> Map<String, Json> {
    let mut out = Map::new();
    let leaf = schema_ref("filter_leaf");
    out.insert(
        "filter".into(),
        json!({
            "description": "A filter: {field, operator, value}, or {operator: AND|OR, value: [filters]} nested at most 2 levels with at most 15 filters per group. Operators by kind of field: text = != IN NIN ~ !~ ^ $; numbers = != IN NIN > < >= <=; booleans = != IN NIN; dates = < > and the Tidings extensions more_than_days_ago, less_than_days_ago, exactly_days_ago (value: days). `= null` / `!= null` (is unknown / has any value) work on every field. Read this document with your token to see your workspace's custom attributes, tags, segments and messages among the fields.",
            "anyOf": [leaf.clone(), schema_ref("filter_group")],
        }),
    );
    out.insert("filter_group".into(), group(json!({"anyOf": [leaf.clone(), schema_ref("filter_group_inner")]})));
    out.insert("filter_group_inner".into(), group(leaf));
    out.insert("filter_leaf".into(), json!({"anyOf": leaves(vocab)}));
    out
}

/// An AND or OR group of `items`, at most [`MAX_GROUP`] of them.
pub(super) fn group(items: Json) -> Json {
    json!({
        "type": "object",
        "required": ["operator", "value"],
        "not": {"required": ["field"]},
        "properties": {
            "operator": {"enum": ["AND", "OR"]},
            "value": {"type": "array", "minItems": 1, "maxItems": MAX_GROUP, "items": items},
        },
    })
}

/// A leaf on `fields` with one of `operators` and a value of `value`'s kind.
pub(super) fn leaf(fields: &[String], operators: &[&str], value: Json) -> Json {
    json!({
        "type": "object",
        "required": ["field", "operator", "value"],
        "properties": {"field": {"enum": fields}, "operator": {"enum": operators}, "value": value},
    })
}

pub(super) fn list_of(value: Json) -> Json {
    json!({"type": "array", "minItems": 1, "maxItems": MAX_VALUES, "items": value})
}

/// The value a field of `data_type` is compared with.
fn value_of(data_type: DataType) -> Json {
    match data_type {
        DataType::String => json!({"type": "string", "maxLength": text::VALUE}),
        DataType::Integer => integer(),
        DataType::Float => decimal(),
        DataType::Boolean => boolean(),
        DataType::Date => time(),
    }
}

fn leaves(vocab: &Vocabulary) -> Vec<Json> {
    let mut fields: Vec<(String, DataType)> =
        BUILT_INS.iter().filter(|b| b.name != "role").map(|b| (b.name.to_owned(), b.data_type)).collect();
    fields.extend(vocab.custom.iter().map(|a| (format!("custom_attributes.{}", a.name), a.data_type)));
    let named = |t: DataType| -> Vec<String> { fields.iter().filter(|f| f.1 == t).map(|f| f.0.clone()).collect() };
    let mut out = Vec::new();
    for data_type in [DataType::String, DataType::Integer, DataType::Float, DataType::Boolean, DataType::Date] {
        let names = named(data_type);
        if names.is_empty() {
            continue;
        }
        let value = value_of(data_type);
        match data_type {
            DataType::Date => {
                out.push(leaf(&names, &["=", "<", ">"], value));
                out.push(leaf(
                    &names,
                    &["more_than_days_ago", "less_than_days_ago", "exactly_days_ago"],
                    json!({"type": "integer", "minimum": 0, "maximum": 36_500}),
                ));
            }
            DataType::String => {
                out.push(leaf(&names, &["=", "!="], value.clone()));
                out.push(leaf(
                    &names,
                    &["~", "!~", "^", "$"],
                    json!({"type": "string", "minLength": 1, "maxLength": text::VALUE}),
                ));
                out.push(leaf(&names, &["IN", "NIN"], list_of(value)));
            }
            _ => {
                let scalar: Vec<&str> =
                    operators_for(data_type).iter().copied().filter(|o| *o != "IN" && *o != "NIN").collect();
                out.push(leaf(&names, &scalar, value.clone()));
                out.push(leaf(&names, &["IN", "NIN"], list_of(value)));
            }
        }
    }
    // A role is a user or a lead, whatever the operator.
    let role = vec!["role".to_owned()];
    let role_value = json!({"enum": ["user", "lead"]});
    out.push(leaf(&role, &["=", "!=", "~", "!~", "^", "$"], role_value.clone()));
    out.push(leaf(&role, &["IN", "NIN"], list_of(role_value)));
    out.push(leaf(&["id".to_owned()], &["=", "!="], integer()));
    out.push(leaf(&["id".to_owned()], &["IN", "NIN"], list_of(integer())));
    // Whether a value is known, on any field.
    let mut every: Vec<String> = fields.iter().map(|f| f.0.clone()).collect();
    every.extend(["role".to_owned(), "id".to_owned()]);
    out.push(json!({
        "type": "object",
        "required": ["field", "operator"],
        "properties": {"field": {"enum": every}, "operator": {"enum": ["=", "!="]}, "value": {"type": "null"}},
    }));
    // Tags, segments and messages that exist in the workspace.
    let references: [(Vec<String>, &[i64]); 3] = [
        (vec!["tag_id".into()], &vocab.tag_ids),
        (vec!["segment_id".into()], &vocab.segment_ids),
        (
            [MessageHistory::Targeted, MessageHistory::Received, MessageHistory::Seen]
                .iter()
                .map(|h| h.field().to_owned())
                .collect(),
            &vocab.message_ids,
        ),
    ];
    for (names, ids) in references {
        if !ids.is_empty() {
            out.push(leaf(&names, &["=", "!="], one_of_ids(ids)));
        }
    }
    out
}
