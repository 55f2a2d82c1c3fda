//! `POST /conversations/search` over real HTTP on both databases: Intercom's query language
//! over conversations, pages through a cursor in the body, list items without parts, and a 400
//! naming the path inside the query for every bad field, operator and value.

use reqwest::{Method, StatusCode};
use serde_json::{Value as Json, json};

use super::conversations::{expected_keys, keys, start};
use super::support::{Server, assert_error, servers, servers_in};

async fn found(s: &Server, body: Json) -> (Vec<String>, i64) {
    let (status, page) = s.post("/conversations/search", body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{}: {body}: {page}", s.db);
    assert_eq!(page["type"], "conversation.list", "{}", s.db);
    let mut ids: Vec<String> =
        page["conversations"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    (ids, page["total_count"].as_i64().unwrap())
}

fn sorted(mut ids: Vec<&String>) -> Vec<String> {
    ids.sort();
    ids.into_iter().cloned().collect()
}

#[tokio::test]
async fn search_finds_conversations_by_their_fields() {
    for s in servers().await {
        let db = s.db;
        let ada = s.contact(json!({"email": "ada@example.test", "name": "Ada"})).await;
        let bob = s.contact(json!({"email": "bob@example.test", "name": "Bob"})).await;
        let (ada_id, bob_id) = (ada["id"].as_str().unwrap(), bob["id"].as_str().unwrap());
        let a = start(&s, ada_id, "I need support with my invoice").await;
        let b = start(&s, bob_id, "Hello, is anyone there?").await;
        let c = start(&s, ada_id, "Support again, sorry").await;
        let owner = s.admin_id.to_string();
        let tag = s.post("/tags", json!({"name": "billing"})).await.1["id"].clone();
        s.post(&format!("/conversations/{a}/tags"), json!({"id": tag, "admin_id": owner})).await;
        s.post(
            &format!("/conversations/{b}/parts"),
            json!({"message_type": "assignment", "admin_id": owner, "assignee_id": owner}),
        )
        .await;
        s.post(&format!("/conversations/{c}/parts"), json!({"message_type": "close", "admin_id": owner})).await;
        s.put(&format!("/conversations/{c}"), json!({"read": true})).await;

        let q = |query: Json| json!({"query": query});
        let cases = [
            (json!({"field": "source.body", "operator": "=", "value": "support"}), vec![&a, &c]),
            (json!({"field": "source.body", "operator": "=", "value": "need support"}), vec![]),
            (json!({"field": "source.body", "operator": "~", "value": "need support"}), vec![&a]),
            (json!({"field": "state", "operator": "=", "value": "closed"}), vec![&c]),
            (json!({"field": "open", "operator": "=", "value": true}), vec![&a, &b]),
            (json!({"field": "read", "operator": "=", "value": false}), vec![&a, &b]),
            (json!({"field": "admin_assignee_id", "operator": "=", "value": owner}), vec![&b]),
            (json!({"field": "admin_assignee_id", "operator": "=", "value": 0}), vec![&a, &c]),
            (json!({"field": "contact_ids", "operator": "=", "value": ada_id}), vec![&a, &c]),
            (json!({"field": "tag_ids", "operator": "=", "value": tag}), vec![&a]),
            (json!({"field": "teammate_ids", "operator": "IN", "value": [owner]}), vec![&b, &c]),
            (json!({"field": "source.author.id", "operator": "=", "value": bob_id}), vec![&b]),
            (json!({"field": "source.delivered_as", "operator": "=", "value": "customer_initiated"}), vec![&a, &b, &c]),
            (json!({"field": "waiting_since", "operator": "!=", "value": null}), vec![&a, &b]),
            (json!({"field": "snoozed_until", "operator": "=", "value": null}), vec![&a, &b, &c]),
            (json!({"field": "id", "operator": "NIN", "value": [a, b]}), vec![&c]),
            (json!({"field": "created_at", "operator": ">", "value": 1_600_000_000}), vec![&a, &b, &c]),
            (json!({"field": "updated_at", "operator": "<", "value": "2001-01-01T00:00:00Z"}), vec![]),
            (
                json!({"operator": "OR", "value": [
                    {"operator": "AND", "value": [
                        {"field": "source.body", "operator": "=", "value": "support"},
                        {"field": "open", "operator": "=", "value": true},
                    ]},
                    {"field": "admin_assignee_id", "operator": "!=", "value": null},
                ]}),
                vec![&a, &b],
            ),
        ];
        for (query, expected) in cases {
            let expected = sorted(expected);
            assert_eq!(found(&s, q(query.clone())).await, (expected.clone(), expected.len() as i64), "{db}: {query}");
        }
        // No query at all, or an empty one, is every conversation.
        assert_eq!(found(&s, json!({"query": {}})).await.1, 3, "{db}");
        assert_eq!(found(&s, json!({"query": null})).await.1, 3, "{db}");

        // Another workspace finds none of them.
        let (_, token) = s.other_workspace().await;
        let (_, page) = s
            .call_as(
                &token,
                Method::POST,
                "/conversations/search",
                Some(q(json!({"field": "id", "operator": "=", "value": a}))),
            )
            .await;
        assert_eq!(page["total_count"], 0, "{db}: {page}");
        s.stop().await;
    }
}

#[tokio::test]
async fn search_pages_through_a_cursor_in_the_body_and_sorts() {
    for s in servers().await {
        let db = s.db;
        let mut made = Vec::new();
        for i in 0..5 {
            let c = s.contact(json!({"email": format!("c{i}@example.test")})).await;
            made.push(start(&s, c["id"].as_str().unwrap(), "Help please").await);
        }
        let query = json!({"field": "source.body", "operator": "=", "value": "help"});
        let mut cursor: Option<String> = None;
        let mut seen = Vec::new();
        loop {
            let body = json!({"query": query, "pagination": {"per_page": 2, "starting_after": cursor}, "sort": {"field": "id", "order": "ascending"}});
            let (status, page) = s.post("/conversations/search", body).await;
            assert_eq!(status, StatusCode::OK, "{db}: {page}");
            assert_eq!(page["total_count"], 5, "{db}");
            for c in page["conversations"].as_array().unwrap() {
                assert_eq!(keys(c), expected_keys(false), "{db}: items are the list's, without parts");
                seen.push(c["id"].as_str().unwrap().to_owned());
            }
            cursor = page["pages"]["next"]["starting_after"].as_str().map(str::to_owned);
            if cursor.is_none() {
                assert_eq!(page["pages"]["total_pages"], 3, "{db}: {page}");
                break;
            }
        }
        assert_eq!(seen, made, "{db}: every conversation once, in id order");
        // Newest first by default (made in order, ties broken by id).
        let (_, page) = s.post("/conversations/search", json!({"query": query})).await;
        let ids: Vec<&str> =
            page["conversations"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
        let newest_first: Vec<&str> = made.iter().rev().map(String::as_str).collect();
        assert_eq!(ids, newest_first, "{db}");
        assert_eq!(page["pages"]["per_page"], 20, "{db}: 20 a page unless asked");
        s.stop().await;
    }
}

#[tokio::test]
async fn a_day_is_the_workspaces_day() {
    for s in servers_in("Europe/Paris").await {
        let db = s.db;
        let c = s.contact(json!({"email": "ada@example.test"})).await;
        let id = start(&s, c["id"].as_str().unwrap(), "Bonjour").await;
        let created = s.get(&format!("/conversations/{id}")).await.1["created_at"].as_i64().unwrap();
        // Any instant of its day in Paris finds it: the start of that day as Paris counts it.
        let start_of_day = jiff::Timestamp::from_second(created)
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::get("Europe/Paris").unwrap())
            .start_of_day()
            .unwrap()
            .timestamp()
            .as_second();
        let that_day = json!({"query": {"field": "created_at", "operator": "=", "value": start_of_day}});
        assert_eq!(found(&s, that_day).await.1, 1, "{db}");
        let day_before = json!({"query": {"field": "created_at", "operator": "=", "value": start_of_day - 1}});
        assert_eq!(found(&s, day_before).await.1, 0, "{db}");
        // `>` includes the value itself, as Intercom's conversation search says.
        let since = json!({"query": {"field": "created_at", "operator": ">", "value": created}});
        assert_eq!(found(&s, since).await.1, 1, "{db}");
        s.stop().await;
    }
}

#[tokio::test]
async fn every_bad_part_of_a_search_is_named_and_answered_400() {
    for s in servers().await {
        let db = s.db;
        let ok = json!({"field": "open", "operator": "=", "value": true});
        let in_group = |leaf: Json| json!({"query": {"operator": "AND", "value": [ok, leaf]}});
        let cases: Vec<(Json, &str)> = vec![
            (in_group(json!({"field": "priority", "operator": "=", "value": "x"})), "query.value[1].field"),
            (in_group(json!({"field": "state", "operator": "~", "value": "open"})), "query.value[1].operator"),
            (in_group(json!({"field": "state", "operator": "=", "value": "pending"})), "query.value[1].value"),
            (in_group(json!({"field": "created_at", "operator": "=", "value": "foobar"})), "query.value[1].value"),
            (in_group(json!({"field": "tag_ids", "operator": "IN", "value": ["1", "x"]})), "query.value[1].value[1]"),
            (in_group(json!({"field": "source.body", "operator": "~", "value": ""})), "query.value[1].value"),
            (in_group(json!({"field": "open", "operator": "=", "value": null})), "query.value[1].value"),
            (
                in_group(json!({"operator": "OR", "value": [{"operator": "AND", "value": [ok]}]})),
                "query.value[1].value[0]",
            ),
            (json!({"query": {"operator": "OR", "value": vec![ok.clone(); 16]}}), "query.value"),
            (json!({"query": {"operator": "NOT", "value": [ok]}}), "query.operator"),
            (json!({"query": "open"}), "query"),
            (json!({}), "query"),
            (json!({"query": ok, "pagination": {"per_page": 151}}), "pagination.per_page"),
            (json!({"query": ok, "pagination": {"starting_after": "nope"}}), "pagination.starting_after"),
            (json!({"query": ok, "sort": {"field": "priority"}}), "sort.field"),
        ];
        for (body, field) in cases {
            let got = s.post("/conversations/search", body.clone()).await;
            assert_eq!(got.0, StatusCode::BAD_REQUEST, "{db}: {body}: {}", got.1);
            assert_eq!(got.1["type"], "error.list", "{db}");
            assert_eq!(got.1["errors"][0]["field"], field, "{db}: {body}: {}", got.1);
        }
        let e = assert_error(
            db,
            &s.post("/conversations/search", json!({"query": ok, "sort": {"order": "desc"}})).await,
            StatusCode::BAD_REQUEST,
            "invalid_sort_order",
        );
        assert_eq!(e["field"], "sort.order", "{db}");
        s.stop().await;
    }
}
