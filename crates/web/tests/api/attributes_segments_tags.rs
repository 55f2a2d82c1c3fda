//! Data attributes, segments, tags and admins.

use reqwest::StatusCode;
use serde_json::json;

use super::support::{assert_error, servers};

#[tokio::test]
async fn data_attributes_are_listed_created_typed_and_updated() {
    for s in servers().await {
        let db = s.db;
        let (status, a) = s
            .post(
                "/data_attributes",
                json!({"name": "Mithril Shirt", "model": "contact", "data_type": "datetime", "description": "d"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{db}: {a}");
        assert_eq!(a["type"], "data_attribute");
        assert!(a["id"].is_i64(), "{db}: data attribute ids are integers: {a}");
        assert_eq!(
            (a["full_name"].as_str(), a["data_type"].as_str(), a["custom"].as_bool()),
            (Some("custom_attributes.Mithril Shirt"), Some("date"), Some(true))
        );
        let (_, list) = s.get("/data_attributes").await;
        let names: Vec<&str> = list["data"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
        assert!(names.contains(&"email") && names.contains(&"Mithril Shirt"), "{db}: {names:?}");

        for (body, field) in [
            (json!({"name": "bad.name", "model": "contact", "data_type": "string"}), "name"),
            (json!({"name": "Mithril Shirt", "model": "contact", "data_type": "string"}), "name"),
            (json!({"name": "x", "model": "contact", "data_type": "colour"}), "data_type"),
            (json!({"name": "email", "model": "contact", "data_type": "string"}), "name"),
        ] {
            let e = assert_error(
                db,
                &s.post("/data_attributes", body.clone()).await,
                StatusCode::BAD_REQUEST,
                "parameter_invalid",
            );
            assert_eq!(e["field"], field, "{db}: {body}");
        }
        let id = a["id"].as_i64().unwrap();
        assert_error(
            db,
            &s.put(&format!("/data_attributes/{id}"), json!({"data_type": "string"})).await,
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        );
        let (_, archived) = s.put(&format!("/data_attributes/{id}"), json!({"archived": true})).await;
        assert_eq!(archived["archived"], true);
        let (_, list) = s.get("/data_attributes").await;
        assert!(!list.to_string().contains("Mithril"), "{db}: archived attributes are hidden by default");
        let (_, all) = s.get("/data_attributes?include_archived=true").await;
        assert!(all.to_string().contains("Mithril"));
        assert_error(db, &s.put("/data_attributes/999999", json!({})).await, StatusCode::NOT_FOUND, "field_not_found");
        s.stop().await;
    }
}

#[tokio::test]
async fn segments_count_and_refuse_bad_queries() {
    for s in servers().await {
        let db = s.db;
        s.contact(json!({"email": "u@example.test"})).await;
        s.contact(json!({"role": "lead"})).await;
        s.contact(json!({"role": "lead", "name": "Lee"})).await;
        let (_, list) = s.get("/segments?include_count=true").await;
        assert_eq!(list["type"], "segment.list");
        let counts: Vec<(String, i64)> = list["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| (g["name"].as_str().unwrap().into(), g["count"].as_i64().unwrap()))
            .collect();
        assert_eq!(counts, [("All users".to_owned(), 1), ("All leads".to_owned(), 2)], "{db}");
        let (_, plain) = s.get("/segments").await;
        assert!(plain["segments"][0].get("count").is_none(), "{db}: count only when asked");
        assert_eq!(plain["segments"][1]["person_type"], "contact");

        let bad = s.post("/segments", json!({"name": "Bad", "query": {"operator": "AND", "value": [{"field": "nope", "operator": "=", "value": 1}]}})).await;
        assert_eq!(
            assert_error(db, &bad, StatusCode::BAD_REQUEST, "parameter_invalid")["field"],
            "query.value[0].field"
        );
        let (status, seg) = s.post("/segments", json!({"name": "Named", "query": {"field": "name", "operator": "!=", "value": null}, "person_type": "contact"})).await;
        assert_eq!(status, StatusCode::OK, "{db}: {seg}");
        let id = seg["id"].as_str().unwrap();
        let (_, one) = s.get(&format!("/segments/{id}?include_count=true")).await;
        assert_eq!(one["count"], 1, "{db}: {one}");
        // A segment cannot be made to refer to itself.
        let cyclic = s
            .put(
                &format!("/segments/{id}"),
                json!({"name": "Named", "query": {"field": "segment_id", "operator": "=", "value": id}}),
            )
            .await;
        assert_error(db, &cyclic, StatusCode::BAD_REQUEST, "parameter_invalid");
        let builtin = list["segments"][0]["id"].as_str().unwrap();
        assert_error(db, &s.delete(&format!("/segments/{builtin}")).await, StatusCode::FORBIDDEN, "action_forbidden");
        let (_, deleted) = s.delete(&format!("/segments/{id}")).await;
        assert_eq!(deleted["deleted"], true);
        let gone = assert_error(db, &s.get(&format!("/segments/{id}")).await, StatusCode::NOT_FOUND, "not_found");
        assert_eq!(gone["message"], "Resource Not Found");
        s.stop().await;
    }
}

#[tokio::test]
async fn tags_are_applied_listed_and_protected_while_a_segment_uses_them() {
    for s in servers().await {
        let db = s.db;
        let c = s.contact(json!({"email": "t@example.test"})).await;
        let cid = c["id"].as_str().unwrap();
        let (_, tag) = s.post("/tags", json!({"name": "beta"})).await;
        assert_eq!(tag["type"], "tag");
        let tid = tag["id"].as_str().unwrap();
        let (status, applied) =
            s.post(&format!("/contacts/{cid}/tags"), json!({"id": tid.parse::<i64>().unwrap()})).await;
        assert_eq!((status, applied["name"].as_str()), (StatusCode::OK, Some("beta")), "{db}: {applied}");
        let (_, on_contact) = s.get(&format!("/contacts/{cid}/tags")).await;
        assert_eq!(on_contact["data"][0]["applied_by"]["id"], s.admin_id.to_string(), "{db}: {on_contact}");
        let (_, contact) = s.get(&format!("/contacts/{cid}")).await;
        assert_eq!(contact["tags"]["total_count"], 1);
        assert_eq!(contact["tags"]["data"][0]["id"], tid);

        let (_, seg) = s
            .post("/segments", json!({"name": "Beta", "query": {"field": "tag_id", "operator": "=", "value": tid}}))
            .await;
        assert_error(
            db,
            &s.delete(&format!("/tags/{tid}")).await,
            StatusCode::BAD_REQUEST,
            "tag_has_dependent_objects",
        );
        s.delete(&format!("/segments/{}", seg["id"].as_str().unwrap())).await;
        let (status, _) = s.delete(&format!("/tags/{tid}")).await;
        assert_eq!(status, StatusCode::OK);
        let (_, contact) = s.get(&format!("/contacts/{cid}")).await;
        assert_eq!(contact["tags"]["total_count"], 0, "{db}: deleting a tag untags everyone");
        assert_error(db, &s.post("/tags", json!({"name": ""})).await, StatusCode::BAD_REQUEST, "parameter_invalid");
        let (_, list) = s.get("/tags").await;
        assert_eq!(list, json!({"type": "list", "data": []}), "{db}");
        s.stop().await;
    }
}

#[tokio::test]
async fn admins_and_me_describe_the_team() {
    for s in servers().await {
        let db = s.db;
        let (_, me) = s.get("/me").await;
        assert_eq!(me["type"], "admin");
        assert_eq!(me["id"], s.admin_id.to_string());
        assert_eq!(me["app"]["id_code"], s.workspace.app_id.as_str(), "{db}: {me}");
        let (_, list) = s.get("/admins").await;
        assert_eq!(list["type"], "admin.list");
        assert_eq!(list["admins"].as_array().unwrap().len(), 1);
        let (_, one) = s.get(&format!("/admins/{}", s.admin_id)).await;
        assert_eq!(one["email"], me["email"]);
        let e = assert_error(db, &s.get("/admins/99999").await, StatusCode::NOT_FOUND, "admin_not_found");
        assert_eq!(e["message"], "Admin not found");
        s.stop().await;
    }
}
