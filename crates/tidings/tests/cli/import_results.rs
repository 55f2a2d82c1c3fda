//! What an import writes, exactly, on SQLite and PostgreSQL alike: one file of edge cases
//! (duplicates inside the file, matching by external id and by email, a taken email, bad lines,
//! tags, custom attributes of every type, text that COPY must escape), then a CSV that changes
//! some of those contacts and leaves others as they are. Every contact and report is checked
//! against values worked out by hand, and the two databases against each other field by field.

use serde_json::{Value as Json, json};
use tidings_core::attribute::{CustomAttribute, DataType};
use tidings_core::contact::Contact;

use super::{Db, setup, text, unique};

const FIRST: &str = r#"{"external_id": "a1", "email": "ada@example.test", "name": "Ada\t\\Lovelace", "custom_attributes": {"plan": "pro", "seats": 3, "mrr": 12.5, "beta": true, "renews_at": 1800000000}, "tags": ["vip", "beta"]}
{"email": "bob@example.test", "name": "Bob\ttab \\ back\nnew \"quoted\" ünï"}
{"role": "lead", "email": "lead@example.test", "name": "Lead one"}
{"role": "lead", "email": "lead@example.test", "name": "Lead \"again\"\t\\ ünï\nx"}
{"external_id": "a1", "phone": "+33 1"}
not json at all
{"name": "nobody"}
{"external_id": "c3", "email": "ada@example.test"}
{"external_id": "d4", "email": "bob@example.test"}
{"external_id": "e5", "email": "eve@example.test", "custom_attributes": {"seats": "many"}}
{"external_id": "f6", "email": "frank@example.test", "unsubscribed_from_emails": true, "tags": "vip, newsletter", "custom_attributes": {"plan": "free", "beta": false, "note": "a\\b\tc"}}

{"external_id": "f6", "email": "frank@example.test", "unsubscribed_from_emails": true, "tags": ["vip"], "custom_attributes": {"plan": "free", "beta": false, "note": "a\\b\tc"}}
"#;

/// Written as the contacts stand after `SECOND`: a third import changes nothing.
const THIRD: &str = r#"{"external_id": "z9", "email": "zed@example.test", "name": "Zed", "tags": ["beta"]}
{"external_id": "f6", "email": "frank@example.test", "unsubscribed_from_emails": true, "tags": "vip", "custom_attributes": {"plan": "free", "note": "a\\b\tc"}}
"#;

const SECOND: &str = "external_id,email,role,name,seats,mrr,tags\n\
                      a1,ada@example.test,,,3,12.5,\"vip,beta\"\n\
                      a1,,,,4,,\n\
                      ,lead@example.test,lead,,,,\n\
                      d4,bob2@example.test,,,,,\n\
                      ,bob@example.test,,new bob,,,\n\
                      z9,zed@example.test,,Zed,,,beta\n\
                      too,few\n";

/// A contact with the names of its tags, sorted.
type Tagged = (Contact, Vec<String>);

/// A contact as both databases must hold it: the id replaced by its rank, the workspace left
/// out, and times by the import that wrote them (1, 2, …).
fn normalised(c: &Contact, rank: usize, imports: &[i64]) -> Contact {
    let run = |t: i64| imports.iter().position(|i| *i == t).map_or(-t, |p| p as i64 + 1);
    Contact {
        id: rank as i64,
        workspace_id: 0,
        created_at: run(c.created_at),
        updated_at: run(c.updated_at),
        ..c.clone()
    }
}

/// Every contact of the workspace, normalised, with its tags.
async fn contacts(db: &Db, ws: i64) -> Vec<Tagged> {
    let all = db.store.contacts_after(ws, 0, 1_000).await.unwrap();
    // The imports' times are the distinct creation and update times, in order.
    let mut imports: Vec<i64> = all.iter().flat_map(|c| [c.created_at, c.updated_at]).collect();
    imports.sort_unstable();
    imports.dedup();
    let ids: Vec<i64> = all.iter().map(|c| c.id).collect();
    let mut tags = db.store.contact_tags(ws, &ids).await.unwrap();
    all.iter()
        .enumerate()
        .map(|(rank, c)| {
            let mut names: Vec<String> =
                tags.remove(&c.id).unwrap_or_default().into_iter().map(|a| a.tag.name).collect();
            names.sort();
            (normalised(c, rank, &imports), names)
        })
        .collect()
}

/// The key (external id, or email) of each contact in id order, and the fields this test sets.
fn summary(all: &[Tagged]) -> Vec<(String, Json)> {
    all.iter()
        .map(|(c, tags)| {
            let key = c.external_id.clone().or(c.email.clone()).unwrap_or_default();
            let v = json!({
                "role": c.role.as_str(), "email": c.email, "name": c.name, "phone": c.phone,
                "unsubscribed": c.unsubscribed_from_emails, "custom": c.custom_attributes,
                "tags": tags, "created": c.created_at, "updated": c.updated_at,
            });
            (key, v)
        })
        .collect()
}

#[tokio::test]
async fn an_import_writes_the_same_contacts_and_reports_on_both_databases() {
    let mut seen: Vec<(&str, Vec<Tagged>, Vec<String>)> = Vec::new();
    for db in Db::all().await {
        let name = db.name;
        let p = setup(&db, &format!("{}@acme.test", unique("o")));
        let ws = db.store.workspace_by_app_id(p["app_id"].as_str().unwrap()).await.unwrap().unwrap();
        for (attr, ty) in [
            ("plan", DataType::String),
            ("seats", DataType::Integer),
            ("mrr", DataType::Float),
            ("beta", DataType::Boolean),
            ("renews_at", DataType::Date),
            ("note", DataType::String),
        ] {
            let a = CustomAttribute { label: attr.into(), ..CustomAttribute::new(attr, ty) };
            db.store.create_custom_attribute(ws.id, &a).await.unwrap();
        }
        let jsonl = db.dir.join(format!("{name}-edges.jsonl"));
        std::fs::write(&jsonl, FIRST).unwrap();
        let csv = db.dir.join(format!("{name}-edges.csv"));
        std::fs::write(&csv, SECOND).unwrap();

        let first = db.run(&["import", "contacts", jsonl.to_str().unwrap()]);
        let out1 = text(&first);
        assert!(first.status.success(), "{name}: {out1}");
        // Lines 1 and 5 make one contact (5 updates what 1 created), as 3 and 4 do; 13 repeats 11.
        assert!(out1.contains("Imported 12 lines"), "{name}: {out1}");
        assert!(out1.contains("4 created, 3 updated, 1 unchanged, 4 rejected"), "{name}: {out1}");
        for (line, why) in [
            (6, "invalid JSON"),
            (7, "external_id or an email"),
            (8, "email already belongs to the contact with external_id a1"),
            (10, "custom_attributes.seats"),
        ] {
            assert!(
                out1.lines().any(|l| l.starts_with(&format!("line {line}: ")) && l.contains(why)),
                "{name}: {out1}"
            );
        }
        // Times are seconds: let the second import's be another.
        std::thread::sleep(std::time::Duration::from_millis(1_100));

        let second = db.run(&["import", "contacts", csv.to_str().unwrap()]);
        let out2 = text(&second);
        assert!(second.status.success(), "{name}: {out2}");
        assert!(out2.contains("Imported 7 lines"), "{name}: {out2}");
        // bob@ still names d4 inside this batch (an email a contact leaves stays its own until
        // the batch is written), so line 6 updates d4 again.
        assert!(out2.contains("1 created, 3 updated, 2 unchanged, 1 rejected"), "{name}: {out2}");
        assert!(out2.lines().any(|l| l.starts_with("line 8: ")), "{name}: {out2}");

        let all = contacts(&db, ws.id).await;
        let want = vec![
            (
                "a1".to_owned(),
                json!({"role": "user", "email": "ada@example.test", "name": "Ada\t\\Lovelace", "phone": "+33 1",
                       "unsubscribed": false, "custom": {"plan": "pro", "seats": 4, "mrr": 12.5, "beta": true, "renews_at": 1_800_000_000},
                       "tags": ["beta", "vip"], "created": 1, "updated": 2}),
            ),
            (
                "d4".to_owned(),
                json!({"role": "user", "email": "bob@example.test", "name": "new bob", "phone": null,
                       "unsubscribed": false, "custom": {}, "tags": [], "created": 1, "updated": 2}),
            ),
            (
                "lead@example.test".to_owned(),
                json!({"role": "lead", "email": "lead@example.test", "name": "Lead \"again\"\t\\ ünï\nx", "phone": null,
                       "unsubscribed": false, "custom": {}, "tags": [], "created": 1, "updated": 1}),
            ),
            (
                "f6".to_owned(),
                json!({"role": "user", "email": "frank@example.test", "name": null, "phone": null,
                       "unsubscribed": true, "custom": {"plan": "free", "beta": false, "note": "a\\b\tc"},
                       "tags": ["newsletter", "vip"], "created": 1, "updated": 1}),
            ),
            (
                "z9".to_owned(),
                json!({"role": "user", "email": "zed@example.test", "name": "Zed", "phone": null,
                       "unsubscribed": false, "custom": {}, "tags": ["beta"], "created": 2, "updated": 2}),
            ),
        ];
        assert_eq!(summary(&all), want, "{name}");
        let mut tags: Vec<String> = db.store.tags(ws.id).await.unwrap().into_iter().map(|t| t.name).collect();
        tags.sort();
        assert_eq!(tags, ["beta", "newsletter", "vip"], "{name}");

        // Once more with what the contacts now hold: nothing changes, nothing is written.
        let third = db.dir.join(format!("{name}-edges-again.jsonl"));
        std::fs::write(&third, THIRD).unwrap();
        let again = db.run(&["import", "contacts", third.to_str().unwrap()]);
        let out3 = text(&again);
        assert!(out3.contains("0 created, 0 updated, 2 unchanged, 0 rejected"), "{name}: {out3}");
        assert_eq!(contacts(&db, ws.id).await, all, "{name}: a re-run changed something");

        let reports = [out1, out2, out3]
            .iter()
            .map(|o| {
                o.lines()
                    .filter(|l| l.starts_with("line ") || l.starts_with("Imported"))
                    .map(|l| {
                        // The rate differs from run to run.
                        l.split(" contacts/s").last().unwrap_or(l).to_owned()
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .collect();
        seen.push((name, all, reports));
        db.cleanup().await;
    }
    if let [(a, ca, ra), (b, cb, rb)] = &seen[..] {
        assert_eq!(ra, rb, "{a} and {b} report differently");
        assert_eq!(ca, cb, "{a} and {b} hold different contacts");
    }
}
