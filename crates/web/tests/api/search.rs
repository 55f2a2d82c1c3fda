//! `POST /contacts/search` and `/contacts/count`: the query language over HTTP.

use reqwest::StatusCode;
use serde_json::{Value as Json, json};

use super::support::{Server, assert_error, servers, servers_in};

async fn ids(s: &Server, query: Json) -> Vec<String> {
    let (status, list) = s.post("/contacts/search", json!({"query": query, "pagination": {"per_page": 150}})).await;
    assert_eq!(status, StatusCode::OK, "{}: {list}", s.db);
    let mut ids: Vec<String> =
        list["data"].as_array().unwrap().iter().map(|c| c["external_id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    assert_eq!(list["total_count"].as_u64(), Some(ids.len() as u64));
    ids
}

#[tokio::test]
async fn the_query_language_selects_the_right_contacts() {
    for s in servers().await {
        let db = s.db;
        s.attribute("plan", "string").await;
        s.attribute("seats", "integer").await;
        s.contact(
            json!({"external_id": "1", "email": "ann@gmail.com", "custom_attributes": {"plan": "pro", "seats": 10}}),
        )
        .await;
        s.contact(
            json!({"external_id": "2", "email": "bob@Example.test", "custom_attributes": {"plan": "free", "seats": 1}}),
        )
        .await;
        s.contact(json!({"external_id": "3", "email": "cat@gmail.com", "role": "lead"})).await;
        let four = s.contact(json!({"external_id": "4", "name": "Dan"})).await;

        assert_eq!(ids(&s, json!({"field": "email", "operator": "~", "value": "GMAIL"})).await, ["1", "3"], "{db}");
        assert_eq!(
            ids(&s, json!({"field": "email_domain", "operator": "=", "value": "example.test"})).await,
            ["2"],
            "{db}"
        );
        assert_eq!(
            ids(&s, json!({"field": "custom_attributes.plan", "operator": "!=", "value": "pro"})).await,
            ["2", "3", "4"],
            "{db}"
        );
        assert_eq!(
            ids(&s, json!({"field": "custom_attributes.seats", "operator": ">=", "value": "2"})).await,
            ["1"],
            "{db}"
        );
        assert_eq!(ids(&s, json!({"field": "email", "operator": "=", "value": null})).await, ["4"], "{db}");
        assert_eq!(ids(&s, json!({"field": "role", "operator": "IN", "value": ["lead"]})).await, ["3"], "{db}");
        let nested = json!({"operator": "OR", "value": [
            {"operator": "AND", "value": [{"field": "role", "operator": "=", "value": "user"}, {"field": "email", "operator": "$", "value": ".com"}]},
            {"field": "id", "operator": "=", "value": four["id"]}
        ]});
        assert_eq!(ids(&s, nested).await, ["1", "4"], "{db}");

        let (_, tag) = s.post("/tags", json!({"name": "vip"})).await;
        s.post(&format!("/contacts/{}/tags", four["id"].as_str().unwrap()), json!({"id": tag["id"]})).await;
        assert_eq!(ids(&s, json!({"field": "tag_id", "operator": "=", "value": tag["id"]})).await, ["4"], "{db}");
        let (_, seg) = s
            .post(
                "/segments",
                json!({"name": "Gmail", "query": {"field": "email", "operator": "~", "value": "@gmail"}}),
            )
            .await;
        assert_eq!(
            ids(&s, json!({"field": "segment_id", "operator": "!=", "value": seg["id"]})).await,
            ["2", "4"],
            "{db}"
        );

        let (_, count) =
            s.post("/contacts/count", json!({"query": {"field": "role", "operator": "=", "value": "user"}})).await;
        assert_eq!(count, json!({"type": "count", "count": 3}), "{db}");
        s.stop().await;
    }
}

#[tokio::test]
async fn dates_match_by_calendar_day_in_the_workspace_time_zone() {
    // 2020-01-01 in Paris runs from 2019-12-31T23:00Z to 2020-01-01T23:00Z.
    for s in servers_in("Europe/Paris").await {
        let db = s.db;
        s.contact(json!({"external_id": "late-utc", "signed_up_at": 1577919600 - 1800})).await; // 2020-01-01 22:30Z = 23:30 Paris
        s.contact(json!({"external_id": "next-day", "signed_up_at": 1577919600 + 1800})).await; // 2020-01-02 00:30 Paris
        s.contact(json!({"external_id": "early", "signed_up_at": 1577833200 + 60})).await; // 2020-01-01 00:01 Paris
        let day = json!({"field": "signed_up_at", "operator": "=", "value": 1577869200}); // 2020-01-01 09:00Z
        assert_eq!(ids(&s, day).await, ["early", "late-utc"], "{db}");
        let after = json!({"field": "signed_up_at", "operator": ">", "value": "1577869200"});
        assert_eq!(ids(&s, after).await, ["next-day"], "{db}");
        let before = json!({"field": "signed_up_at", "operator": "<", "value": 1577919600 + 1800});
        assert_eq!(ids(&s, before).await, ["early", "late-utc"], "{db}");
        s.stop().await;
    }
}

#[tokio::test]
async fn search_pages_through_the_body_and_sorts() {
    for s in servers().await {
        let db = s.db;
        for (i, t) in [30, 10, 20].iter().enumerate() {
            s.contact(json!({"external_id": format!("{i}"), "signed_up_at": t})).await;
        }
        let body = |cursor: Option<&str>| {
            json!({"query": {"field": "role", "operator": "=", "value": "user"},
                   "pagination": {"per_page": 2, "starting_after": cursor},
                   "sort": {"field": "signed_up_at", "order": "ascending"}})
        };
        let (_, first) = s.post("/contacts/search", body(None)).await;
        let order: Vec<_> =
            first["data"].as_array().unwrap().iter().map(|c| c["signed_up_at"].as_i64().unwrap()).collect();
        assert_eq!(order, [10, 20], "{db}: {first}");
        let cursor = first["pages"]["next"]["starting_after"].as_str().unwrap().to_owned();
        assert_eq!(first["pages"]["next"]["page"], 2);
        let (_, second) = s.post("/contacts/search", body(Some(&cursor))).await;
        assert_eq!(second["data"][0]["signed_up_at"], 30, "{db}");
        assert!(second["pages"].get("next").is_none(), "{db}: the last page has no next: {second}");

        let e = assert_error(
            db,
            &s.post("/contacts/search", json!({"query": {}, "sort": {"field": "created_at", "order": "desc"}})).await,
            StatusCode::BAD_REQUEST,
            "invalid_sort_order",
        );
        assert_eq!(e["message"], "Invalid sort order 'desc'. Must be one of: ascending, descending");
        s.stop().await;
    }
}

#[tokio::test]
async fn bad_queries_name_the_path_to_the_bad_node() {
    for s in servers().await {
        let db = s.db;
        let cases = [
            (
                json!({"operator": "AND", "value": [{"field": "email", "operator": "~", "value": "x"}, {"field": "created_at", "operator": ">=", "value": 1}]}),
                "query.value[1].operator",
            ),
            (json!({"field": "shoe_size", "operator": "=", "value": 1}), "query.field"),
            (json!({"field": "custom_attributes.ghost", "operator": "=", "value": 1}), "query.field"),
            (json!({"field": "owner_id", "operator": "=", "value": "foobar"}), "query.value"),
            (json!({"field": "created_at", "operator": "=", "value": "foobar"}), "query.value"),
            (
                json!({"operator": "AND", "value": [{"operator": "OR", "value": [{"operator": "AND", "value": [{"field": "email", "operator": "=", "value": "a"}]}]}]}),
                "query.value[0].value[0]",
            ),
            (
                json!({"operator": "AND", "value": vec![json!({"field": "email", "operator": "=", "value": "a"}); 16]}),
                "query.value",
            ),
            (json!({"field": "tag_id", "operator": "IN", "value": ["1"]}), "query.operator"),
        ];
        for (query, field) in cases {
            let got = s.post("/contacts/search", json!({"query": query})).await;
            let e = assert_error(db, &got, StatusCode::BAD_REQUEST, "parameter_invalid");
            assert_eq!(e["field"], field, "{db}: {query} -> {e}");
        }
        let missing = s.post("/contacts/search", json!({"pagination": {"per_page": 5}})).await;
        assert_eq!(assert_error(db, &missing, StatusCode::BAD_REQUEST, "parameter_missing")["field"], "query");
        s.stop().await;
    }
}
