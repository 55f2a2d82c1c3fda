//! Who a manual message goes to: an object whose parts all apply together.
//!
//! `{"contact_ids": [...]}` hand-picked contacts, `{"segment_ids": [...]}` members of any of
//! these segments, `{"query": {...}}` contacts matching a filter, or `{"everyone": true}`. With
//! `"conversation": true`, a chat that reaches exactly one contact opens its conversation when
//! sent. It is stored as the teammate gave it (parts set to `null` left out) and resolved against
//! the contacts there and then, when the message is sent.

use serde_json::{Map, Value as Json};

use crate::error::FieldError;

/// The most contacts an audience may pick by hand.
pub const MAX_CONTACTS: usize = 10_000;
/// The most segments an audience may name.
pub const MAX_SEGMENTS: usize = 100;

/// An audience, checked for its shape (what its ids and query refer to is checked when it is
/// resolved against a workspace).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Audience {
    pub contact_ids: Option<Vec<i64>>,
    /// Sorted, without repeats.
    pub segment_ids: Option<Vec<i64>>,
    pub query: Option<Json>,
    pub everyone: bool,
    /// Open the conversation of a chat that reaches one contact.
    pub conversation: bool,
}

const PARTS: [&str; 5] = ["contact_ids", "segment_ids", "query", "everyone", "conversation"];

impl Audience {
    /// Reads an audience object; `path` names it in errors (`audience`).
    ///
    /// # Errors
    /// The first problem, naming its path (`audience.segment_ids`, `audience.contact_ids[3]`).
    pub fn parse(value: &Json, path: &str) -> Result<Audience, FieldError> {
        let Json::Object(a) = value else {
            return Err(FieldError::invalid(
                path,
                format!("{path} must be an object: contact_ids, segment_ids, query or everyone"),
            ));
        };
        if let Some(k) = a.keys().find(|k| !PARTS.contains(&k.as_str())) {
            return Err(FieldError::invalid(
                &format!("{path}.{k}"),
                format!("{path}.{k} is not an audience part; use {}", PARTS.join(", ")),
            ));
        }
        let boolean = |key: &str| -> Result<Option<bool>, FieldError> {
            match a.get(key) {
                None | Some(Json::Null) => Ok(None),
                Some(Json::Bool(b)) => Ok(Some(*b)),
                Some(_) => {
                    Err(FieldError::invalid(&format!("{path}.{key}"), format!("{path}.{key} must be true or false")))
                }
            }
        };
        if a.get("conversation").is_some_and(Json::is_null) {
            return Err(FieldError::invalid(
                &format!("{path}.conversation"),
                format!("{path}.conversation must be true or false"),
            ));
        }
        let ids = |key: &str, what: &str| -> Result<Option<Vec<i64>>, FieldError> {
            let field = format!("{path}.{key}");
            match a.get(key) {
                None | Some(Json::Null) => Ok(None),
                Some(Json::Array(items)) if items.is_empty() => Err(FieldError::invalid(
                    &field,
                    format!("{field} is empty: pick at least one {what}, or leave it out"),
                )),
                Some(Json::Array(items)) => items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| id(v).ok_or_else(|| FieldError::invalid(&format!("{field}[{i}]"), "must be an id")))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some),
                Some(_) => Err(FieldError::invalid(&field, format!("{field} must be a list of ids"))),
            }
        };
        let contact_ids = ids("contact_ids", "contact")?;
        if contact_ids.as_ref().is_some_and(|c| c.len() > MAX_CONTACTS) {
            return Err(FieldError::invalid(
                &format!("{path}.contact_ids"),
                "Pick at most 10,000 contacts; use a filter or a segment for more",
            ));
        }
        let mut segment_ids = ids("segment_ids", "segment")?;
        if let Some(s) = segment_ids.as_mut() {
            s.sort_unstable();
            s.dedup();
            if s.len() > MAX_SEGMENTS {
                return Err(FieldError::invalid(
                    &format!("{path}.segment_ids"),
                    format!("Pick at most {MAX_SEGMENTS} segments"),
                ));
            }
        }
        let audience = Audience {
            contact_ids,
            segment_ids,
            query: a.get("query").filter(|q| !q.is_null()).cloned(),
            everyone: boolean("everyone")?.unwrap_or(false),
            conversation: boolean("conversation")?.unwrap_or(false),
        };
        let someone = audience.everyone
            || audience.query.is_some()
            || audience.contact_ids.is_some()
            || audience.segment_ids.is_some();
        if !someone {
            return Err(FieldError::invalid(path, "Choose an audience: contacts, segments, a filter, or everyone"));
        }
        Ok(audience)
    }

    /// The audience as it is stored, parts set to `null` left out: `null` when there are none.
    pub fn stored(value: &Json) -> Json {
        match value {
            Json::Object(parts) => {
                let kept: Map<String, Json> =
                    parts.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect();
                if kept.is_empty() { Json::Null } else { Json::Object(kept) }
            }
            other => other.clone(),
        }
    }

    /// Exactly one contact, picked by hand (a message to one person).
    pub fn one(contact_id: i64, conversation: bool) -> Json {
        if conversation {
            serde_json::json!({"contact_ids": [contact_id], "conversation": true})
        } else {
            serde_json::json!({"contact_ids": [contact_id]})
        }
    }
}

/// An id: a whole number, or its digits as text.
fn id(v: &Json) -> Option<i64> {
    match v {
        Json::Number(n) => crate::attribute::whole_number(n),
        Json::String(s) if !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_bad_part_is_named() {
        let bad = |v: Json| Audience::parse(&v, "audience").unwrap_err().field;
        assert_eq!(bad(json!([])), "audience");
        assert_eq!(bad(json!({"nope": 1})), "audience.nope");
        assert_eq!(bad(json!({"segment_ids": []})), "audience.segment_ids");
        assert_eq!(bad(json!({"contact_ids": []})), "audience.contact_ids");
        assert_eq!(bad(json!({"contact_ids": [1, "x"]})), "audience.contact_ids[1]");
        assert_eq!(bad(json!({"everyone": "yes"})), "audience.everyone");
        assert_eq!(bad(json!({"everyone": false})), "audience");
        assert_eq!(bad(json!({"everyone": true, "conversation": null})), "audience.conversation");
    }

    #[test]
    fn segments_are_kept_once_and_nulls_are_not_stored() {
        let a = Audience::parse(&json!({"segment_ids": [3, "1", 3]}), "audience").unwrap();
        assert_eq!(a.segment_ids, Some(vec![1, 3]));
        assert_eq!(Audience::stored(&json!({"query": null})), Json::Null);
        assert_eq!(Audience::stored(&json!({"everyone": true, "query": null})), json!({"everyone": true}));
    }
}
