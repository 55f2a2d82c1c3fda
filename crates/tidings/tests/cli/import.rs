//! `tidings import contacts` on a file a person wrote: columns that name no attribute yet
//! (refused with their inferred types, created with `--create-attributes`, left out with
//! `--skip-unknown`), a `tags` column, and columns read as other attributes (`--map`), on SQLite
//! and PostgreSQL.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};
use tidings_core::attribute::DataType;

use super::{Db, setup, text, unique};

const PEOPLE: &str = "external_id,email,plan,seats,trial,renews_at,tags\n\
                      1,ada@example.test,pro,3,yes,2027-01-15,\"vip, beta\"\n\
                      2,bob@example.test,free,1,no,2027-02-01,\n\
                      3,cy@example.test,team,12,true,,beta\n";

/// 2027-01-15 and 2027-02-01 at midnight UTC.
const JAN_15: i64 = 1_799_971_200;
const FEB_1: i64 = 1_801_440_000;

/// The names of a contact's tags, sorted.
async fn tags_of(db: &Db, ws: i64, id: i64) -> Vec<String> {
    let mut names: Vec<String> = db
        .store
        .contact_tags(ws, &[id])
        .await
        .unwrap()
        .remove(&id)
        .unwrap_or_default()
        .into_iter()
        .map(|a| a.tag.name)
        .collect();
    names.sort();
    names
}

/// Each contact's custom attributes and tags, by external id.
async fn people(db: &Db, ws: i64, ids: &[&str]) -> BTreeMap<String, (Json, Vec<String>)> {
    let mut out = BTreeMap::new();
    for id in ids {
        let c = db.store.contact_by_external_id(ws, id).await.unwrap().unwrap_or_else(|| panic!("contact {id}"));
        let attrs = serde_json::to_value(&c.custom_attributes).unwrap();
        out.insert((*id).to_owned(), (attrs, tags_of(db, ws, c.id).await));
    }
    out
}

#[tokio::test]
async fn new_columns_are_refused_with_their_types_then_created_and_tags_applied_once() {
    for db in Db::all().await {
        let name = db.name;
        let p = setup(&db, &format!("{}@acme.test", unique("o")));
        let ws = db.store.workspace_by_app_id(p["app_id"].as_str().unwrap()).await.unwrap().unwrap();
        let csv = db.dir.join(format!("{name}-people.csv"));
        std::fs::write(&csv, PEOPLE).unwrap();

        let refused = db.run(&["import", "contacts", csv.to_str().unwrap()]);
        let out = text(&refused);
        assert!(!refused.status.success(), "{name}: {out}");
        for (column, ty) in [("plan", "string"), ("seats", "integer"), ("trial", "boolean"), ("renews_at", "date")] {
            assert!(
                out.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == [column, ty]),
                "{name}: {column} listed as {ty}: {out}"
            );
        }
        assert!(out.contains("--create-attributes") && out.contains("--skip-unknown"), "{name}: {out}");
        assert!(
            !out.lines().any(|l| l.split_whitespace().next() == Some("tags")),
            "{name}: tags is not an attribute: {out}"
        );
        assert_eq!(db.store.count_contacts(ws.id, None).await.unwrap(), 0, "{name}: nothing written");
        assert!(db.store.custom_attributes(ws.id).await.unwrap().is_empty(), "{name}");
        assert!(db.store.tags(ws.id).await.unwrap().is_empty(), "{name}");

        let created = db.run(&["import", "contacts", "--create-attributes", csv.to_str().unwrap()]);
        let out = text(&created);
        assert!(created.status.success(), "{name}: {out}");
        assert!(out.contains("3 created, 0 updated, 0 unchanged, 0 rejected"), "{name}: {out}");
        let mut types: Vec<(String, DataType)> =
            db.store.custom_attributes(ws.id).await.unwrap().into_iter().map(|a| (a.name, a.data_type)).collect();
        types.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            types,
            [
                ("plan".to_owned(), DataType::String),
                ("renews_at".to_owned(), DataType::Date),
                ("seats".to_owned(), DataType::Integer),
                ("trial".to_owned(), DataType::Boolean),
            ],
            "{name}"
        );
        let tag = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        let want = BTreeMap::from([
            (
                "1".to_owned(),
                (json!({"plan": "pro", "seats": 3, "trial": true, "renews_at": JAN_15}), tag(&["beta", "vip"])),
            ),
            ("2".to_owned(), (json!({"plan": "free", "seats": 1, "trial": false, "renews_at": FEB_1}), tag(&[]))),
            ("3".to_owned(), (json!({"plan": "team", "seats": 12, "trial": true}), tag(&["beta"]))),
        ]);
        let first = people(&db, ws.id, &["1", "2", "3"]).await;
        assert_eq!(first, want, "{name}");
        let mut ids = Vec::new();
        for id in ["1", "2", "3"] {
            ids.push(db.store.contact_by_external_id(ws.id, id).await.unwrap().unwrap().id);
        }
        let tags_before = db.store.contact_tags(ws.id, &ids).await.unwrap();

        // Again, with the attributes now declared: no flag is needed and nothing changes.
        let again = db.run(&["import", "contacts", csv.to_str().unwrap()]);
        let out = text(&again);
        assert!(again.status.success(), "{name}: {out}");
        assert!(out.contains("0 created, 0 updated, 3 unchanged, 0 rejected"), "{name}: {out}");
        assert_eq!(people(&db, ws.id, &["1", "2", "3"]).await, want, "{name}");
        assert_eq!(db.store.tags(ws.id).await.unwrap().len(), 2, "{name}");
        let tags_after = db.store.contact_tags(ws.id, &ids).await.unwrap();
        let stamps = |m: &std::collections::HashMap<i64, Vec<tidings_store::AppliedTag>>| {
            let mut v: Vec<(i64, i64, i64)> =
                m.iter().flat_map(|(c, ts)| ts.iter().map(|t| (*c, t.tag.id, t.applied_at))).collect();
            v.sort_unstable();
            v
        };
        assert_eq!(stamps(&tags_after), stamps(&tags_before), "{name}: tags applied once");

        // Another workspace, skipping the columns: the contacts and their tags, no attributes.
        let other = setup(&db, &format!("{}@other.test", unique("o")));
        let other_ws = db.store.workspace_by_app_id(other["app_id"].as_str().unwrap()).await.unwrap().unwrap();
        let skipped =
            db.run(&["import", "contacts", "--workspace", &other_ws.app_id, "--skip-unknown", csv.to_str().unwrap()]);
        let out = text(&skipped);
        assert!(skipped.status.success(), "{name}: {out}");
        assert!(out.contains("3 created, 0 updated, 0 unchanged, 0 rejected"), "{name}: {out}");
        assert!(db.store.custom_attributes(other_ws.id).await.unwrap().is_empty(), "{name}");
        let bare = people(&db, other_ws.id, &["1", "2", "3"]).await;
        let want_bare: BTreeMap<String, (Json, Vec<String>)> =
            want.into_iter().map(|(id, (_, tags))| (id, (json!({}), tags))).collect();
        assert_eq!(bare, want_bare, "{name}");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn json_lines_take_tags_as_an_array_and_new_attributes_by_their_values() {
    for db in Db::all().await {
        let name = db.name;
        let p = setup(&db, &format!("{}@acme.test", unique("o")));
        let ws = db.store.workspace_by_app_id(p["app_id"].as_str().unwrap()).await.unwrap().unwrap();
        let file = db.dir.join(format!("{name}-people.jsonl"));
        std::fs::write(
            &file,
            [
                r#"{"external_id": "j1", "email": "j1@example.test", "custom_attributes": {"score": 2.5, "beta": true}, "tags": ["vip", "from json"]}"#,
                r#"{"external_id": "j2", "email": "j2@example.test", "custom_attributes": {"score": 4}, "tags": "solo, vip"}"#,
                r#"{"external_id": "j3", "email": "j3@example.test", "tags": [1]}"#,
            ]
            .join("\n"),
        )
        .unwrap();

        let refused = db.run(&["import", "contacts", file.to_str().unwrap()]);
        let out = text(&refused);
        assert!(!refused.status.success(), "{name}: {out}");
        for (column, ty) in [("score", "float"), ("beta", "boolean")] {
            assert!(
                out.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == [column, ty]),
                "{name}: {column} listed as {ty}: {out}"
            );
        }
        assert_eq!(db.store.count_contacts(ws.id, None).await.unwrap(), 0, "{name}: nothing written");

        let created = db.run(&["import", "contacts", "--create-attributes", file.to_str().unwrap()]);
        let out = text(&created);
        assert!(created.status.success(), "{name}: {out}");
        assert!(out.contains("line 3: ") && out.contains("tags must be tag names"), "{name}: {out}");
        assert!(out.contains("2 created, 0 updated, 0 unchanged, 1 rejected"), "{name}: {out}");
        let got = people(&db, ws.id, &["j1", "j2"]).await;
        let tag = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            got,
            BTreeMap::from([
                ("j1".to_owned(), (json!({"score": 2.5, "beta": true}), tag(&["from json", "vip"]))),
                ("j2".to_owned(), (json!({"score": 4.0}), tag(&["solo", "vip"]))),
            ]),
            "{name}"
        );
        assert!(db.store.contact_by_external_id(ws.id, "j3").await.unwrap().is_none(), "{name}");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn map_reads_a_csv_column_as_another_attribute() {
    for db in Db::all().await {
        let name = db.name;
        let p = setup(&db, &format!("{}@acme.test", unique("o")));
        let ws = db.store.workspace_by_app_id(p["app_id"].as_str().unwrap()).await.unwrap().unwrap();
        let csv = db.dir.join(format!("{name}-mapped.csv"));
        std::fs::write(&csv, "Customer,E-mail,Plan name,Labels,Signed up\nm1,m1@example.test,pro,\"a,b\",2027-01-15\n")
            .unwrap();

        let missing = db.run(&["import", "contacts", "--map", "Nope=plan", csv.to_str().unwrap()]);
        assert!(!missing.status.success() && text(&missing).contains("\"Nope\""), "{name}: {}", text(&missing));

        let dotted = db.dir.join(format!("{name}-dotted.csv"));
        std::fs::write(&dotted, "external_id,Plan (2024),bad.name\nd1,pro,x\n").unwrap();
        let bad = db.run(&["import", "contacts", "--create-attributes", dotted.to_str().unwrap()]);
        let out = text(&bad);
        assert!(
            !bad.status.success() && out.contains("\"bad.name\": ") && out.contains("\"Plan (2024)\": "),
            "{name}: {out}"
        );
        assert!(db.store.custom_attributes(ws.id).await.unwrap().is_empty(), "{name}: no attribute created");
        assert_eq!(db.store.count_contacts(ws.id, None).await.unwrap(), 0, "{name}: nothing written");

        let mapped = db.run(&[
            "import",
            "contacts",
            "--create-attributes",
            "--map",
            "Customer=external_id",
            "--map",
            "E-mail=email",
            "--map",
            "Plan name=plan",
            "--map",
            "Labels=tags",
            "--map",
            "Signed up=signed_up_at",
            csv.to_str().unwrap(),
        ]);
        let out = text(&mapped);
        assert!(mapped.status.success(), "{name}: {out}");
        assert!(out.contains("1 created, 0 updated, 0 unchanged, 0 rejected"), "{name}: {out}");
        let names: Vec<String> = db.store.custom_attributes(ws.id).await.unwrap().into_iter().map(|a| a.name).collect();
        assert_eq!(names, ["plan"], "{name}");
        let got = people(&db, ws.id, &["m1"]).await;
        assert_eq!(got["m1"], (json!({"plan": "pro"}), vec!["a".to_owned(), "b".to_owned()]), "{name}");
        let m1 = db.store.contact_by_external_id(ws.id, "m1").await.unwrap().unwrap();
        assert_eq!((m1.email.as_deref(), m1.signed_up_at), (Some("m1@example.test"), Some(JAN_15)), "{name}");
        db.cleanup().await;
    }
}
