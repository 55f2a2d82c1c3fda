//! A message's audience in words, for its page: "In segment Trial users and signed up more than
//! 30 days ago and plan is pro". It reads the audience as stored (chosen contacts, segments, a
//! filter of the query language) and names attributes, tags, segments and messages as the filter
//! builder does. Anything it does not know is still said, by its field name, never dropped.

use serde_json::Value as Json;
use tidings_core::attribute::{CustomAttribute, DataType, builtin};

/// The names an audience's ids and fields stand for.
#[derive(Default)]
pub struct Names<'a> {
    pub custom: &'a [CustomAttribute],
    /// `(id, name)` of the workspace's tags, segments and messages.
    pub tags: Vec<(i64, String)>,
    pub segments: Vec<(i64, String)>,
    pub messages: Vec<(i64, String)>,
    /// The workspace's time zone, in which dates are said.
    pub timezone: &'a str,
}

/// The audience in words, starting with a capital.
pub fn describe(audience: &Json, names: &Names) -> String {
    let mut parts = Vec::new();
    if let Some(ids) = audience.get("contact_ids").and_then(Json::as_array) {
        parts.push(match ids.len() {
            1 => "1 chosen contact".to_owned(),
            n => format!("{n} chosen contacts"),
        });
    }
    if let Some(ids) = audience.get("segment_ids").and_then(Json::as_array) {
        let list: Vec<String> =
            ids.iter().filter_map(crate::api::parse_id).map(|id| name_of(&names.segments, id, "segment")).collect();
        if !list.is_empty() {
            parts.push(format!("in {} {}", if list.len() == 1 { "segment" } else { "segments" }, list.join(" or ")));
        }
    }
    if let Some(q) = audience.get("query").filter(|q| !q.is_null()) {
        parts.push(filter(q, names, !parts.is_empty()));
    }
    if parts.is_empty() {
        let everyone = audience.get("everyone").and_then(Json::as_bool) == Some(true);
        return if everyone || audience.as_object().is_some_and(|a| !a.is_empty()) {
            "Everyone".into()
        } else {
            "Not chosen yet".into()
        };
    }
    capitalise(&parts.join(" and "))
}

/// The ids of the messages an audience's filter names, so their titles can be read.
pub fn message_ids(audience: &Json) -> Vec<i64> {
    fn walk(q: &Json, out: &mut Vec<i64>) {
        match q.get("field").and_then(Json::as_str) {
            Some("targeted_by_message" | "received_message" | "seen_message") => {
                out.extend(q.get("value").and_then(crate::api::parse_id));
            }
            Some(_) => {}
            None => {
                for item in q.get("value").and_then(Json::as_array).into_iter().flatten() {
                    walk(item, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    if let Some(q) = audience.get("query") {
        walk(q, &mut out);
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

fn name_of(list: &[(i64, String)], id: i64, kind: &str) -> String {
    list.iter().find(|(i, _)| *i == id).map_or_else(|| format!("{kind} {id}"), |(_, n)| n.clone())
}

/// A group or a condition. `inside` says it stands beside other words: an "or" group is then
/// put in parentheses, so "and" and "or" never mix unclearly.
fn filter(q: &Json, names: &Names, inside: bool) -> String {
    let op = q.get("operator").and_then(Json::as_str).unwrap_or_default();
    if let (Some(items), "AND" | "OR") = (q.get("value").and_then(Json::as_array), op)
        && q.get("field").is_none()
    {
        let joined: Vec<String> = items.iter().map(|i| filter(i, names, items.len() > 1)).collect();
        let words = joined.join(if op == "AND" { " and " } else { " or " });
        return if op == "OR" && inside && items.len() > 1 { format!("({words})") } else { words };
    }
    condition(q, names)
}

/// A label as words inside a sentence: "Signed up" becomes "signed up", "OS" stays.
fn lower_label(label: &str) -> String {
    let mut c = label.chars();
    match (c.next(), c.next()) {
        (Some(f), Some(s)) if s.is_lowercase() || s == ' ' => {
            f.to_lowercase().chain(label[f.len_utf8()..].chars()).collect()
        }
        _ => label.to_owned(),
    }
}

fn condition(q: &Json, names: &Names) -> String {
    let field = q.get("field").and_then(Json::as_str).unwrap_or("?");
    let op = q.get("operator").and_then(Json::as_str).unwrap_or("=");
    let value = q.get("value").unwrap_or(&Json::Null);
    let negated = op == "!=";
    let id = crate::api::parse_id(value).unwrap_or_default();
    match field {
        "tag_id" => {
            return format!("{} {}", if negated { "not tagged" } else { "tagged" }, name_of(&names.tags, id, "tag"));
        }
        "segment_id" => {
            return format!(
                "{} segment {}",
                if negated { "not in" } else { "in" },
                name_of(&names.segments, id, "segment")
            );
        }
        "targeted_by_message" | "received_message" | "seen_message" => {
            let verb = match (field, negated) {
                ("targeted_by_message", false) => "was sent",
                ("targeted_by_message", true) => "was not sent",
                ("received_message", false) => "received",
                ("received_message", true) => "did not receive",
                (_, false) => "saw",
                (_, true) => "did not see",
            };
            return format!("{verb} “{}”", name_of(&names.messages, id, "message"));
        }
        _ => {}
    }
    let (label, data_type) = match field.strip_prefix("custom_attributes.") {
        Some(name) => names
            .custom
            .iter()
            .find(|a| a.name == name)
            .map_or((name.to_owned(), DataType::String), |a| (a.label.clone(), a.data_type)),
        None => builtin(field).map_or((field.to_owned(), DataType::String), |b| (b.label.to_owned(), b.data_type)),
    };
    let label = lower_label(&label);
    if value.is_null() {
        return format!("{label} {}", if negated { "is known" } else { "is unknown" });
    }
    let days = |how: &str| {
        format!("{label} {how} {} day{} ago", plain(value), if value.as_i64() == Some(1) { "" } else { "s" })
    };
    match op {
        "more_than_days_ago" => return days("more than"),
        "less_than_days_ago" => return days("less than"),
        "exactly_days_ago" => return days("exactly"),
        _ => {}
    }
    if data_type == DataType::Date {
        let when = date(value, names.timezone);
        let how = match op {
            "=" => "on",
            "!=" => "not on",
            ">" | ">=" => "after",
            _ => "before",
        };
        return format!("{label} {how} {when}");
    }
    let how = match op {
        "=" => "is",
        "!=" => "is not",
        "IN" => "is any of",
        "NIN" => "is none of",
        "~" => "contains",
        "!~" => "does not contain",
        "^" => "starts with",
        "$" => "ends with",
        ">" => "is more than",
        "<" => "is less than",
        ">=" => "is at least",
        "<=" => "is at most",
        other => other,
    };
    format!("{label} {how} {}", plain(value))
}

/// A value as words: text as it is, lists joined by commas.
fn plain(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        Json::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// A date (UNIX seconds) as the workspace's calendar reads it.
fn date(value: &Json, timezone: &str) -> String {
    let Some(secs) = value.as_i64() else { return plain(value) };
    let Ok(ts) = jiff::Timestamp::from_second(secs) else { return plain(value) };
    let zone = jiff::tz::TimeZone::get(timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    ts.to_zoned(zone).strftime("%-d %b %Y").to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn names(custom: &[CustomAttribute]) -> Names<'_> {
        Names {
            custom,
            tags: vec![(7, "VIP".into())],
            segments: vec![(4, "Trial users".into()), (5, "Churn risk".into())],
            messages: vec![(9, "Spring news".into())],
            timezone: "Europe/Paris",
        }
    }

    fn plan() -> CustomAttribute {
        CustomAttribute::new("plan", DataType::String)
    }

    #[test]
    fn filters_read_as_a_sentence() {
        let custom = [plan()];
        let n = names(&custom);
        let q = json!({"query": {"operator": "AND", "value": [
            {"field": "signed_up_at", "operator": "more_than_days_ago", "value": 30},
            {"field": "custom_attributes.plan", "operator": "=", "value": "pro"},
        ]}});
        assert_eq!(describe(&q, &n), "Signed up more than 30 days ago and plan is pro");
        let q = json!({"segment_ids": ["4"], "query": {"operator": "OR", "value": [
            {"field": "tag_id", "operator": "=", "value": "7"},
            {"field": "email", "operator": "~", "value": "@acme.test"},
        ]}});
        assert_eq!(describe(&q, &n), "In segment Trial users and (tagged VIP or email contains @acme.test)");
        let q = json!({"segment_ids": [4, 5]});
        assert_eq!(describe(&q, &n), "In segments Trial users or Churn risk");
        let q = json!({"query": {"field": "last_seen_at", "operator": "exactly_days_ago", "value": 1}});
        assert_eq!(describe(&q, &n), "Last seen exactly 1 day ago");
    }

    #[test]
    fn every_kind_of_condition_has_words() {
        let custom = [plan()];
        let n = names(&custom);
        let say = |q: Json| describe(&json!({ "query": q }), &n);
        assert_eq!(say(json!({"field": "phone", "operator": "=", "value": null})), "Phone is unknown");
        assert_eq!(say(json!({"field": "phone", "operator": "!=", "value": null})), "Phone is known");
        assert_eq!(
            say(json!({"field": "custom_attributes.plan", "operator": "IN", "value": ["pro", "team"]})),
            "Plan is any of pro, team"
        );
        assert_eq!(say(json!({"field": "os", "operator": "^", "value": "Mac"})), "OS starts with Mac");
        assert_eq!(say(json!({"field": "tag_id", "operator": "!=", "value": "7"})), "Not tagged VIP");
        assert_eq!(say(json!({"field": "segment_id", "operator": "!=", "value": 5})), "Not in segment Churn risk");
        assert_eq!(
            say(json!({"field": "received_message", "operator": "!=", "value": "9"})),
            "Did not receive “Spring news”"
        );
        assert_eq!(say(json!({"field": "seen_message", "operator": "=", "value": "9"})), "Saw “Spring news”");
        // 1 March 2024 at 23:30 UTC is already the 2nd in Paris.
        assert_eq!(
            say(json!({"field": "signed_up_at", "operator": ">", "value": 1_709_335_800})),
            "Signed up after 2 Mar 2024"
        );
        assert_eq!(
            say(json!({"field": "unsubscribed_from_emails", "operator": "=", "value": true})),
            "Unsubscribed from emails is true"
        );
        // Unknown names are still said, never dropped.
        assert_eq!(say(json!({"field": "tag_id", "operator": "=", "value": "99"})), "Tagged tag 99");
        assert_eq!(say(json!({"field": "custom_attributes.gone", "operator": "~", "value": "x"})), "Gone contains x");
    }

    #[test]
    fn the_messages_a_filter_names_are_found_at_any_depth() {
        let q = json!({"query": {"operator": "OR", "value": [
            {"field": "received_message", "operator": "=", "value": "9"},
            {"operator": "AND", "value": [
                {"field": "seen_message", "operator": "!=", "value": 3},
                {"field": "targeted_by_message", "operator": "=", "value": "9"},
                {"field": "email", "operator": "~", "value": "12"},
            ]},
        ]}});
        assert_eq!(message_ids(&q), [3, 9]);
        assert!(message_ids(&json!({"segment_ids": ["1"]})).is_empty());
    }

    #[test]
    fn chosen_contacts_everyone_and_nothing() {
        let n = names(&[]);
        assert_eq!(describe(&json!({"contact_ids": ["1", "2"]}), &n), "2 chosen contacts");
        assert_eq!(describe(&json!({"contact_ids": [1]}), &n), "1 chosen contact");
        assert_eq!(describe(&json!({"everyone": true}), &n), "Everyone");
        assert_eq!(describe(&json!({}), &n), "Not chosen yet");
    }

    #[test]
    fn a_label_inside_a_sentence_loses_its_capital_unless_it_is_an_acronym() {
        assert_eq!(lower_label("Signed up"), "signed up");
        assert_eq!(lower_label("Élan score"), "élan score");
        assert_eq!(lower_label("A b"), "a b");
        assert_eq!(lower_label("OS"), "OS");
        assert_eq!(lower_label("X"), "X");
        assert_eq!(lower_label(""), "");
    }
}
