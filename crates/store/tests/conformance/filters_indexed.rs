//! The filters that read indexes of their own mean what the in-memory evaluator says: "email
//! contains" (ruled out by the stored email domain first on PostgreSQL, LIKE on SQLite) over
//! emails of every shape and needles holding LIKE's wildcards; "email is" and "is one of"
//! (narrowed by the stored email domain on both); lookups by key, which SQLite reads through the
//! key's index; and custom attributes of every type, before and after their expression index
//! exists, archived or not, and under the same name with other types in another workspace.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Value as Json, json};
use tidings_core::attribute::{CustomAttribute, DataType};
use tidings_core::contact::{Contact, ContactInput, Role};
use tidings_core::dates::Clock;
use tidings_core::filter::eval::{Facts, matches};
use tidings_core::filter::{Schema, compile};
use tidings_store::{ContactQuery, SortOrder, Store};

use super::support::{Stores, workspace};

const NOW: i64 = 1_735_732_800;

/// The contacts `query` selects by SQL (search and count, which must agree) and by the
/// evaluator, as sets of contact ids.
async fn both(
    store: &Arc<dyn Store>,
    ws: i64,
    customs: &[CustomAttribute],
    saved: &[Contact],
    query: &Json,
) -> (BTreeSet<i64>, BTreeSet<i64>) {
    let clock = Clock::new(NOW, Clock::zone("UTC"));
    let tag_ids: Vec<i64> = store.tags(ws).await.unwrap().iter().map(|t| t.id).collect();
    let schema = Schema { custom: customs, tag_ids: &tag_ids, segments: &[], message_ids: &[] };
    let pred = compile(query, &schema, &clock, "query").unwrap();
    let page =
        ContactQuery { pred: Some(pred.clone()), sort: None, order: SortOrder::Descending, offset: 0, limit: 1000 };
    let (found, total) = store.search_contacts(ws, &page).await.unwrap();
    assert_eq!(total as usize, found.len(), "{query}");
    assert_eq!(store.count_contacts(ws, Some(&pred)).await.unwrap(), total, "{query}");
    let mut tagged = BTreeSet::new();
    for t in &tag_ids {
        let page = ContactQuery { pred: Some(tidings_core::filter::Pred::HasTag(*t)), ..page.clone() };
        tagged.extend(store.search_contacts(ws, &page).await.unwrap().0.iter().map(|c| (c.id, *t)));
    }
    let memory = saved
        .iter()
        .filter(|c| {
            let tags: Vec<i64> = tagged.iter().filter(|(id, _)| *id == c.id).map(|(_, t)| *t).collect();
            matches(&pred, &Facts { contact: c, tag_ids: &tags, deliveries: &[] })
        })
        .map(|c| c.id)
        .collect();
    (found.iter().map(|c| c.id).collect(), memory)
}

#[tokio::test]
async fn email_contains_with_an_at_sign_matches_the_evaluator_for_every_shape_of_email() {
    let emails: &[Option<&str>] = &[
        Some("ann@gmail.com"),
        Some("Bob@GMail.COM"),
        Some("carl@gmailer.test"),
        Some("dan@mail.gmail.com"),
        Some("eve@Gmail.com@other.test"),
        Some("fay@x@gmail.com"),
        Some("gil@"),
        Some("hal@@gmail.com"),
        Some("no-at-gmail.com"),
        Some("@gmail.com"),
        Some("ÉLO@gmail.com"),
        Some("élo@GMAIL.COM"),
        Some("x%_y@gmail.com"),
        Some("ivy@ÉCOLE.fr"),
        None,
        Some("back\\slash@gmail.com"),
        Some("per%cent_@x.test"),
        Some("percent@x.test"),
    ];
    let needles = [
        "@gmail",
        "n@gmail",
        "@",
        "@@",
        "l@",
        "@gmail.com@",
        "x@gmail",
        "@other",
        "m@other.test",
        "é@ÉCOLE",
        "ÉLO@g",
        "%_y@g",
        "@mail.",
        "@é",
        // Without an `@`, and LIKE's wildcards and escape, which must match only themselves.
        "gmail",
        "\\s",
        "%c",
        "t_@",
        "_",
        "%",
    ];
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let vip = store.create_tag(ws.id, "vip", 0).await.unwrap();
        let beta = store.create_tag(ws.id, "beta", 0).await.unwrap();
        let mut saved = Vec::new();
        for (n, e) in emails.iter().enumerate() {
            // Leads: the same email may not be two users', and these are not all unique.
            let mut c = Contact::new(ws.id, if n % 2 == 0 { Role::User } else { Role::Lead }, NOW - n as i64);
            c.email = e.map(str::to_owned);
            let c = store.insert_contact(&c).await.unwrap();
            if n % 3 == 0 {
                store.tag_contact(ws.id, c.id, vip.id, None, 0).await.unwrap();
            }
            if n % 4 == 0 {
                store.tag_contact(ws.id, c.id, beta.id, None, 0).await.unwrap();
            }
            saved.push(c);
        }
        // An archived contact is never found, whatever its email.
        let mut gone = Contact::new(ws.id, Role::Lead, NOW);
        gone.email = Some("zed@gmail.com".into());
        let gone = store.insert_contact(&gone).await.unwrap();
        store.set_contact_archived(ws.id, gone.id, true, NOW).await.unwrap();
        // Tagged too: a count that reads a tag's rows first must still leave it out.
        store.tag_contact(ws.id, gone.id, vip.id, None, 0).await.unwrap();
        for needle in needles {
            for op in ["~", "!~"] {
                let leaf = json!({"field": "email", "operator": op, "value": needle});
                let (sql, memory) = both(store, ws.id, &[], &saved, &leaf).await;
                assert_eq!(sql, memory, "{db}: email {op} {needle}");
                assert!(!sql.contains(&gone.id), "{db}: archived");
                // Counted as disjoint parts, each read from its own index, where every
                // alternative has one (`count_parts`): in either order, beside a second tag
                // (contacts with both tags count once), and with too many alternatives to split.
                let vip_leaf = json!({"field": "tag_id", "operator": "=", "value": vip.id});
                let beta_leaf = json!({"field": "tag_id", "operator": "=", "value": beta.id});
                let other = json!({"field": "email", "operator": "~", "value": "@x"});
                for alternatives in [
                    vec![leaf.clone(), vip_leaf.clone()],
                    vec![vip_leaf.clone(), leaf.clone()],
                    vec![beta_leaf.clone(), leaf.clone(), vip_leaf.clone()],
                    vec![leaf.clone(), other, vip_leaf.clone()],
                ] {
                    let or = json!({"operator": "OR", "value": alternatives});
                    let (sql, memory) = both(store, ws.id, &[], &saved, &or).await;
                    assert_eq!(sql, memory, "{db}: {or}");
                }
            }
        }
        let tags = json!({"operator": "OR", "value": [
            {"field": "tag_id", "operator": "=", "value": vip.id},
            {"field": "tag_id", "operator": "=", "value": beta.id},
        ]});
        let (sql, memory) = both(store, ws.id, &[], &saved, &tags).await;
        assert_eq!(sql, memory, "{db}: {tags}");
        assert!(sql.len() > saved.len() / 3 && !sql.contains(&gone.id), "{db}: {tags}");
        // The common case finds what it should, so the comparison above is not vacuous.
        let (sql, _) =
            both(store, ws.id, &[], &saved, &json!({"field": "email", "operator": "~", "value": "@gmail"})).await;
        let want: BTreeSet<i64> = [0, 1, 2, 4, 5, 7, 9, 10, 11, 12, 15].iter().map(|i| saved[*i].id).collect();
        assert_eq!(sql, want, "{db}");
    }
    stores.cleanup().await;
}

/// "Email is" and "email is one of" narrow by the values' domains first (`email_is`), which
/// must never lose a contact: every stored email finds exactly its contacts, archived ones left
/// out, whatever the case of its domain or its number of `@`s, and values without a domain or in
/// another case find what the evaluator says.
#[tokio::test]
async fn email_is_and_is_one_of_match_the_evaluator_for_every_shape_of_email() {
    let emails: &[Option<&str>] = &[
        Some("ann@gmail.com"),
        Some("Bob@GMail.COM"),
        Some("eve@Gmail.com@other.test"),
        Some("gil@"),
        Some("hal@@gmail.com"),
        Some("no-at-gmail.com"),
        Some("@gmail.com"),
        Some("ÉLO@ÉCOLE.fr"),
        Some("x%_y@gmail.com"),
        None,
        Some("ann@gmail.com"),
        Some(""),
    ];
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let mut saved = Vec::new();
        for (n, e) in emails.iter().enumerate() {
            // Leads, so that two may share an email.
            let mut c = Contact::new(ws.id, Role::Lead, NOW - n as i64);
            c.email = e.map(str::to_owned);
            saved.push(store.insert_contact(&c).await.unwrap());
        }
        let mut gone = Contact::new(ws.id, Role::Lead, NOW);
        gone.email = Some("ann@gmail.com".into());
        let gone = store.insert_contact(&gone).await.unwrap();
        store.set_contact_archived(ws.id, gone.id, true, NOW).await.unwrap();
        let other = workspace(store).await;
        let mut elsewhere = Contact::new(other.id, Role::Lead, NOW);
        elsewhere.email = Some("ann@gmail.com".into());
        store.insert_contact(&elsewhere).await.unwrap();

        let mut values: Vec<Json> = emails.iter().flatten().map(|e| json!(e)).collect();
        values.extend(["ANN@gmail.com", "ann@GMAIL.com", "ann@gmail", "ann", "@", "élo@école.fr"].map(|e| json!(e)));
        for v in &values {
            for op in ["=", "!="] {
                let leaf = json!({"field": "email", "operator": op, "value": v});
                let (sql, memory) = both(store, ws.id, &[], &saved, &leaf).await;
                assert_eq!(sql, memory, "{db}: email {op} {v}");
                assert!(!sql.contains(&gone.id), "{db}: archived");
            }
        }
        for list in [
            vec![json!("ann@gmail.com"), json!("Bob@GMail.COM"), json!("ÉLO@ÉCOLE.fr")],
            vec![json!("gil@"), json!("ann@gmail.com")],
            vec![json!("no-at-gmail.com"), json!("")],
            vec![json!("eve@Gmail.com@other.test"), json!("hal@@gmail.com"), json!("@gmail.com")],
        ] {
            for op in ["IN", "NIN"] {
                let leaf = json!({"field": "email", "operator": op, "value": list});
                let (sql, memory) = both(store, ws.id, &[], &saved, &leaf).await;
                assert_eq!(sql, memory, "{db}: email {op} {list:?}");
            }
        }
        // Not vacuous: each stored email finds its contacts, and only in this workspace.
        for (n, e) in emails.iter().enumerate() {
            let Some(e) = e else { continue };
            let (sql, _) =
                both(store, ws.id, &[], &saved, &json!({"field": "email", "operator": "=", "value": e})).await;
            let want: BTreeSet<i64> = saved.iter().filter(|c| c.email.as_deref() == Some(*e)).map(|c| c.id).collect();
            assert!(sql.contains(&saved[n].id), "{db}: {e}");
            assert_eq!(sql, want, "{db}: {e}");
        }
    }
    stores.cleanup().await;
}

/// Lookups by key (ids, external ids, emails, and an OR of one key's values), which SQLite is
/// told to read through the key's index (`lookup_index`, whose choice the filter's unit tests
/// pin) and whose matches it sorts for the page, find the same contacts in the same order and
/// pages as any search, archived ones and other workspaces' left out.
#[tokio::test]
async fn lookups_by_id_external_id_and_email_page_newest_first() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let other = workspace(store).await;
        let mut saved = Vec::new();
        for n in 0..30i64 {
            let mut c = Contact::new(ws.id, Role::User, NOW - 1000 + n * 7 % 30);
            c.external_id = Some(format!("e{n}"));
            c.email = Some(format!("u{n}@x{}.test", n % 3));
            c.name = Some(if n % 2 == 0 { "Ann" } else { "Bob" }.into());
            saved.push(store.insert_contact(&c).await.unwrap());
            let mut twin = c.clone();
            twin.workspace_id = other.id;
            store.insert_contact(&twin).await.unwrap();
        }
        store.set_contact_archived(ws.id, saved[4].id, true, NOW).await.unwrap();
        let picked = [2usize, 4, 9, 12, 17, 21, 28];
        let live: Vec<&Contact> = picked.iter().map(|i| &saved[*i]).filter(|c| c.id != saved[4].id).collect();
        let mut newest: Vec<&Contact> = live.clone();
        newest.sort_by_key(|c| (std::cmp::Reverse(c.created_at), std::cmp::Reverse(c.id)));
        let queries = [
            json!({"field": "id", "operator": "IN", "value": picked.iter().map(|i| saved[*i].id).collect::<Vec<_>>()}),
            json!({"field": "external_id", "operator": "IN", "value": picked.iter().map(|i| format!("e{i}")).collect::<Vec<_>>()}),
            json!({"field": "email", "operator": "IN", "value": picked.iter().map(|i| format!("u{i}@x{}.test", i % 3)).collect::<Vec<_>>()}),
            // As the API's clients often ask: an OR of one key's values.
            json!({"operator": "OR", "value": picked.iter().map(|i| json!({"field": "email", "operator": "=", "value": format!("u{i}@x{}.test", i % 3)})).collect::<Vec<_>>()}),
        ];
        let clock = Clock::new(NOW, Clock::zone("UTC"));
        let schema = Schema { custom: &[], tag_ids: &[], segments: &[], message_ids: &[] };
        for q in &queries {
            for query in [
                q.clone(),
                json!({"operator": "AND", "value": [q, {"field": "name", "operator": "=", "value": "Ann"}]}),
            ] {
                let pred = compile(&query, &schema, &clock, "query").unwrap();
                let want: Vec<i64> = newest
                    .iter()
                    .filter(|c| query.get("operator") != Some(&json!("AND")) || c.name.as_deref() == Some("Ann"))
                    .map(|c| c.id)
                    .collect();
                assert!(want.len() >= 2, "{db}: {query}");
                for (offset, limit) in [(0, 50), (1, 2)] {
                    let page = ContactQuery {
                        pred: Some(pred.clone()),
                        sort: None,
                        order: SortOrder::Descending,
                        offset,
                        limit,
                    };
                    let (found, total) = store.search_contacts(ws.id, &page).await.unwrap();
                    assert_eq!(total as usize, want.len(), "{db}: {query}");
                    let ids: Vec<i64> = found.iter().map(|c| c.id).collect();
                    let end = (offset + limit).min(want.len() as i64) as usize;
                    assert_eq!(ids, want[offset as usize..end], "{db}: {query} from {offset}");
                }
                assert_eq!(store.count_contacts(ws.id, Some(&pred)).await.unwrap(), want.len() as i64, "{db}: {query}");
            }
        }
    }
    stores.cleanup().await;
}

/// "email contains @gmail OR tagged T" is counted in disjoint parts (`count_parts`); SQLite
/// reads T's contacts one by one there, so it does so only while T holds at most 20,000 of them
/// or a fifth of all contacts, and past that counts in one pass (PostgreSQL counts a tag from
/// `contact_tags` alone, however large). Either way, on either database, the count and the
/// search's total are the ones the data was built to give, archived contacts left out.
#[tokio::test]
async fn a_tag_or_an_email_counts_the_same_whether_the_tag_is_small_or_large() {
    const N: usize = 25_000;
    // 22,500 contacts tagged `many` (more than 20,000 and a fifth of 25,000), 250 `few`; a
    // third at gmail.
    let many = |i: usize| !i.is_multiple_of(10);
    let few = |i: usize| i % 100 == 1;
    let gmail = |i: usize| i.is_multiple_of(3);
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let inputs: Vec<ContactInput> = (0..N)
            .map(|i| {
                let domain = if gmail(i) { "gmail.com" } else { "example.test" };
                let obj = json!({"external_id": format!("u{i}"), "email": format!("u{i}@{domain}")});
                let mut input = ContactInput::parse(obj.as_object().unwrap(), &[]).unwrap();
                input.tags = [(many(i), "many"), (few(i), "few")]
                    .iter()
                    .filter(|(on, _)| *on)
                    .map(|(_, t)| (*t).to_owned())
                    .collect();
                input
            })
            .collect();
        for batch in inputs.chunks(5_000) {
            let report = store.upsert_contacts(ws.id, batch, NOW).await.unwrap();
            assert_eq!(report.created as usize, batch.len(), "{db}");
        }
        // One contact of every kind archived: tagged with both, at gmail.
        let gone = (0..N).find(|i| many(*i) && few(*i) && gmail(*i)).unwrap();
        let archived = store.contact_by_external_id(ws.id, &format!("u{gone}")).await.unwrap().unwrap();
        assert!(store.set_contact_archived(ws.id, archived.id, true, NOW).await.unwrap(), "{db}");
        let tags = store.tags(ws.id).await.unwrap();
        let tag_ids: Vec<i64> = tags.iter().map(|t| t.id).collect();
        let schema = Schema { custom: &[], tag_ids: &tag_ids, segments: &[], message_ids: &[] };
        let clock = Clock::new(NOW, Clock::zone("UTC"));
        for (name, tagged) in [("many", &many as &dyn Fn(usize) -> bool), ("few", &few)] {
            let tag = tags.iter().find(|t| t.name == name).unwrap();
            let want = (0..N).filter(|i| *i != gone && (gmail(*i) || tagged(*i))).count() as i64;
            for query in [
                json!({"operator": "OR", "value": [
                    {"field": "email", "operator": "~", "value": "@gmail"},
                    {"field": "tag_id", "operator": "=", "value": tag.id},
                ]}),
                json!({"operator": "OR", "value": [
                    {"field": "tag_id", "operator": "=", "value": tag.id},
                    {"field": "email", "operator": "~", "value": "@gmail"},
                ]}),
            ] {
                let pred = compile(&query, &schema, &clock, "query").unwrap();
                assert_eq!(store.count_contacts(ws.id, Some(&pred)).await.unwrap(), want, "{db}: {query}");
                let page =
                    ContactQuery { pred: Some(pred), sort: None, order: SortOrder::Descending, offset: 0, limit: 10 };
                let (first, total) = store.search_contacts(ws.id, &page).await.unwrap();
                assert_eq!((first.len(), total), (10, want), "{db}: {query}");
            }
        }
    }
    stores.cleanup().await;
}

/// The number of (usable) indexes on `contacts` named like a custom attribute's.
async fn attribute_indexes(db: &str, store: &Arc<dyn Store>) -> i64 {
    let sql = if db == "sqlite" {
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name LIKE 'contacts_attribute_%'"
    } else {
        // Valid ones only: a concurrent build's index is there, unread, until it ends.
        "SELECT COUNT(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         WHERE c.relnamespace = current_schema()::regnamespace AND c.relname LIKE 'contacts_attribute_%' AND i.indisvalid"
    };
    store.scalar_raw(sql).await.unwrap()
}

#[tokio::test]
async fn custom_attributes_of_every_type_filter_alike_before_and_after_their_index_exists() {
    let types = [
        ("plan", DataType::String, vec![json!("pro"), json!("Pro"), json!("free"), json!("pro ")]),
        ("seats", DataType::Integer, vec![json!(1), json!(5), json!(-3), json!(5)]),
        ("mrr", DataType::Float, vec![json!(1.5), json!(5), json!(-0.25), json!(5.0)]),
        ("beta", DataType::Boolean, vec![json!(true), json!(false), json!(true), json!(false)]),
        ("renewal_at", DataType::Date, vec![json!(NOW), json!(NOW - 86_400), json!(NOW + 10), json!(0)]),
        ("old attr €", DataType::String, vec![json!("a"), json!("b"), json!("a"), json!("c")]),
    ];
    let queries = |name: &str, data_type: DataType, v: &Json| {
        let f = format!("custom_attributes.{name}");
        let mut qs = vec![
            json!({"field": f, "operator": "=", "value": v}),
            json!({"field": f, "operator": "=", "value": null}),
            json!({"field": f, "operator": "!=", "value": null}),
        ];
        if data_type == DataType::Date {
            qs.push(json!({"field": f, "operator": "<", "value": v}));
            qs.push(json!({"field": f, "operator": "more_than_days_ago", "value": 0}));
        } else {
            qs.push(json!({"field": f, "operator": "!=", "value": v}));
        }
        if v.is_number() && data_type != DataType::Date {
            qs.push(json!({"field": f, "operator": ">", "value": v}));
            qs.push(json!({"field": f, "operator": "<=", "value": v}));
        }
        if v.is_string() {
            qs.push(json!({"field": f, "operator": "IN", "value": [v, "free"]}));
            qs.push(json!({"field": f, "operator": "~", "value": "r"}));
        }
        qs
    };
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        // Another workspace names its attributes alike with other types (strings where this one
        // has numbers, and the reverse): an index per name serves both and refuses neither.
        let other = workspace(store).await;
        let mut customs = Vec::new();
        for (name, data_type, _) in &types {
            customs.push(store.create_custom_attribute(ws.id, &CustomAttribute::new(name, *data_type)).await.unwrap());
            let flipped = if *data_type == DataType::String { DataType::Integer } else { DataType::String };
            store.create_custom_attribute(other.id, &CustomAttribute::new(name, flipped)).await.unwrap();
        }
        // An archived attribute still filters as before.
        let mut archived = customs.pop().unwrap();
        archived.archived = true;
        store.update_custom_attribute(ws.id, &archived).await.unwrap();
        customs.push(archived);
        let mut saved = Vec::new();
        for n in 0..5 {
            let mut c = Contact::new(ws.id, Role::Lead, NOW - n);
            for (name, _, values) in &types {
                // The fifth contact has none of them.
                if let Some(v) = values.get(n as usize) {
                    c.custom_attributes.insert((*name).into(), v.clone());
                }
            }
            saved.push(store.insert_contact(&c).await.unwrap());
            let mut o = Contact::new(other.id, Role::Lead, NOW);
            for (name, data_type, _) in &types {
                let v = if *data_type == DataType::String { json!(n) } else { json!(format!("s{n}")) };
                o.custom_attributes.insert((*name).into(), v);
            }
            store.insert_contact(&o).await.unwrap();
        }
        assert_eq!(attribute_indexes(db, store).await, 0, "{db}: nothing indexed before a filter");
        // One index per filtered name: every type on SQLite, strings only on PostgreSQL (which
        // would cast the others).
        let want = if *db == "sqlite" { types.len() } else { 2 };
        for round in ["without the index", "with it"] {
            for (name, data_type, values) in &types {
                for q in queries(name, *data_type, &values[1]) {
                    let (sql, memory) = both(store, ws.id, &customs, &saved, &q).await;
                    assert_eq!(sql, memory, "{db} {round}: {q}");
                }
            }
            // The searches started the builds and did not wait for them; they end on their own.
            let waited = std::time::Instant::now();
            while attribute_indexes(db, store).await < want as i64 && waited.elapsed().as_secs() < 60 {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            assert_eq!(attribute_indexes(db, store).await, want as i64, "{db} {round}");
        }
        // The other workspace's contacts, whose values have other types, still write and read.
        let mut late = Contact::new(other.id, Role::Lead, NOW);
        late.custom_attributes.insert("seats".into(), json!("many"));
        late.custom_attributes.insert("plan".into(), json!(7));
        store.insert_contact(&late).await.unwrap();
        let other_customs = store.custom_attributes(other.id).await.unwrap();
        let (sql, _) = both(
            store,
            other.id,
            &other_customs,
            &[],
            &json!({"field": "custom_attributes.seats", "operator": "=", "value": "many"}),
        )
        .await;
        assert_eq!(sql.len(), 1, "{db}");
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn an_attribute_index_is_built_on_request_and_a_failed_build_left_behind_is_built_again() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let plan = CustomAttribute::new("plan", DataType::String);
        store.create_custom_attribute(ws.id, &plan).await.unwrap();
        for v in ["pro", "free"] {
            let mut c = Contact::new(ws.id, Role::Lead, NOW);
            c.custom_attributes.insert("plan".into(), json!(v));
            store.insert_contact(&c).await.unwrap();
        }
        let (name, _) = tidings_core::filter::sql::custom_index(
            "plan",
            DataType::String,
            tidings_core::filter::sql::Dialect::Postgres,
        )
        .unwrap();
        if *db == "postgres" {
            // What a concurrent build that failed leaves: an index under the name, marked
            // invalid (this one fails on the workspace's two contacts).
            let failed =
                store.execute_raw(&format!("CREATE UNIQUE INDEX CONCURRENTLY {name} ON contacts (workspace_id)")).await;
            assert!(failed.is_err(), "the build fails");
            let invalid = store
                .scalar_raw(&format!(
                    "SELECT COUNT(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                     WHERE c.relname = '{name}' AND c.relnamespace = current_schema()::regnamespace AND NOT i.indisvalid"
                ))
                .await
                .unwrap();
            assert_eq!(invalid, 1, "a failed build leaves an invalid index");
        }
        assert_eq!(attribute_indexes(db, store).await, 0, "{db}");
        let schema = Schema { custom: std::slice::from_ref(&plan), tag_ids: &[], segments: &[], message_ids: &[] };
        let clock = Clock::new(NOW, Clock::zone("UTC"));
        let pred = compile(
            &json!({"field": "custom_attributes.plan", "operator": "=", "value": "pro"}),
            &schema,
            &clock,
            "query",
        )
        .unwrap();
        // Two at once (as two nodes would): one builds, the other waits for it.
        let (a, b) = tokio::join!(store.index_custom_attributes(&pred), store.index_custom_attributes(&pred));
        a.unwrap();
        b.unwrap();
        // Built by the time the calls return, as a valid index over the attribute.
        assert_eq!(attribute_indexes(db, store).await, 1, "{db}");
        let defs = if *db == "sqlite" {
            store.strings_raw(&format!("SELECT sql FROM sqlite_master WHERE name = '{name}'")).await.unwrap()
        } else {
            store
                .strings_raw(&format!(
                    "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = '{name}'"
                ))
                .await
                .unwrap()
        };
        assert!(
            defs.len() == 1 && defs[0].contains("custom_attributes") && !defs[0].contains("UNIQUE"),
            "{db}: {defs:?}"
        );
        // Asked again, nothing to do; and the filter reads it.
        store.index_custom_attributes(&pred).await.unwrap();
        assert_eq!(store.count_contacts(ws.id, Some(&pred)).await.unwrap(), 1, "{db}");
    }
    stores.cleanup().await;
}
