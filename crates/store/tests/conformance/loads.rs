//! Loads (`Store::load_contacts`): a load written in bulk, with the contacts table's indexes
//! built after it, writes exactly what the same batches write one transaction at a time, puts
//! every index and key back, and keeps nothing when it fails.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;
use tidings_core::contact::{Contact, ContactInput, Role};
use tidings_store::{BULK_LOAD_MIN, Dialect, Loaded, Store, StoreError, UpsertReport};
use tokio::sync::mpsc;

use super::support::{Stores, workspace};

fn input(v: serde_json::Value) -> ContactInput {
    let mut obj = v.as_object().unwrap().clone();
    let tags = obj.remove("tags");
    let mut input = ContactInput::parse(&obj, &[]).unwrap();
    if let Some(tags) = tags {
        input.tags = tags.as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()).collect();
    }
    input
}

/// Loads `batches` into `ws`, as an import would: how the store wrote them, and each batch's
/// report, or the error that stopped it.
async fn load(
    store: &Arc<dyn Store>,
    ws: i64,
    expected: u64,
    batches: Vec<Vec<ContactInput>>,
) -> Result<(Loaded, Vec<UpsertReport>), StoreError> {
    let (batches_tx, batches_rx) = mpsc::channel(1);
    let (reports_tx, mut reports_rx) = mpsc::channel(batches.len() + 1);
    let sender = tokio::spawn(async move {
        for batch in batches {
            if batches_tx.send(batch).await.is_err() {
                break;
            }
        }
    });
    let loaded = store.load_contacts(ws, expected, 10, batches_rx, reports_tx).await;
    sender.await.unwrap();
    let mut reports = Vec::new();
    while let Some(r) = reports_rx.recv().await {
        reports.push(r);
    }
    loaded.map(|l| (l, reports))
}

/// Batches with every case an upsert decides: a contact created then updated by a later batch
/// (by external id and by email), an email adopting an external id, an email taken by another
/// external id, a line with no identity, leads sharing an email, an email given up and taken by
/// a new contact, a collision inside one batch, and tags.
fn tricky_batches() -> Vec<Vec<ContactInput>> {
    let mut first: Vec<ContactInput> = (0..300)
        .map(|i| input(json!({"external_id": format!("u{i}"), "email": format!("u{i}@example.test"), "name": format!("U {i}"), "tags": if i % 3 == 0 { vec!["vip"] } else { vec![] }})))
        .collect();
    first.extend([
        input(json!({"email": "shared@example.test", "role": "lead", "name": "Lead A"})),
        // The second lead matches the first: one lead, updated.
        input(json!({"email": "shared@example.test", "role": "lead", "name": "Lead B"})),
        input(json!({"email": "plain@example.test"})),
        input(json!({"email": "u20@example.test", "role": "lead", "name": "Lead of 20"})),
        input(json!({"name": "nobody"})),
        input(json!({"external_id": "x1", "email": "taken@example.test"})),
        input(json!({"external_id": "x2", "email": "taken@example.test"})),
    ]);
    let second = vec![
        input(json!({"external_id": "u5", "phone": "+331", "tags": ["beta"]})),
        input(json!({"email": "u7@example.test", "name": "Seven"})),
        input(json!({"email": "plain@example.test", "external_id": "p1"})),
        input(json!({"email": "u8@example.test", "external_id": "other"})),
        input(json!({"email": "shared@example.test", "role": "lead", "name": "Newest lead"})),
        input(json!({"external_id": "u9", "email": "nine@example.test"})),
        input(json!({"external_id": "u3", "tags": ["vip"]})),
        // Found by its external id with its own email; the lead sharing that email is found
        // by the input that has no external id.
        input(json!({"external_id": "u20", "email": "u20@example.test", "name": "Twenty"})),
        input(json!({"email": "u20@example.test", "role": "lead", "name": "Lead twenty"})),
    ];
    let third = vec![
        input(json!({"external_id": "p1", "name": "Plain"})),
        input(json!({"email": "nine@example.test", "name": "Nine"})),
        input(json!({"external_id": "u10", "email": "u11@example.test"})),
        input(json!({"external_id": "u0"})),
        input(json!({"external_id": "n1", "email": "u9@example.test", "tags": ["vip", "new"]})),
    ];
    // Names keys of the first two batches and none of the third's: a bulk load finds those
    // contacts by the keys it kept of every batch it wrote (`LoadedKeys`), not only the last.
    let fourth = vec![
        input(json!({"external_id": "u12", "name": "Twelve", "tags": ["late"]})),
        input(json!({"email": "shared@example.test", "role": "lead", "name": "Fourth lead"})),
        input(json!({"external_id": "z1", "email": "z1@example.test"})),
        input(json!({"external_id": "u13", "email": "u14@example.test"})),
    ];
    vec![first, second, third, fourth]
}

/// A workspace's contacts by id, without what differs between workspaces, with their tags.
async fn contents(store: &Arc<dyn Store>, ws: i64) -> Vec<(Contact, Vec<String>)> {
    let contacts = store.contacts_after(ws, 0, 10_000).await.unwrap();
    let ids: Vec<i64> = contacts.iter().map(|c| c.id).collect();
    let tags = store.contact_tags(ws, &ids).await.unwrap();
    contacts
        .into_iter()
        .map(|c| {
            let mut names: Vec<String> =
                tags.get(&c.id).map(|t| t.iter().map(|a| a.tag.name.clone()).collect()).unwrap_or_default();
            names.sort();
            (Contact { id: 0, workspace_id: 0, ..c }, names)
        })
        .collect()
}

/// Fails with the first contact where `a` and `b` differ.
fn assert_same(db: &str, a: &[(Contact, Vec<String>)], b: &[(Contact, Vec<String>)]) {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(x, y, "{db}: contact #{i} differs between the bulk and the batched load");
    }
    assert_eq!(a.len(), b.len(), "{db}: as many contacts");
}

/// Every index and foreign key of the contacts table, as its definition.
async fn contact_indexes(store: &Arc<dyn Store>) -> Vec<String> {
    let sql = match store.dialect() {
        Dialect::Sqlite => {
            "SELECT name || ': ' || COALESCE(sql, '') FROM sqlite_master WHERE tbl_name = 'contacts' ORDER BY name"
        }
        Dialect::Postgres => {
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'contacts' \
             UNION ALL SELECT conname || ': ' || pg_get_constraintdef(oid) FROM pg_constraint \
             WHERE conrelid = 'contacts'::regclass ORDER BY 1"
        }
    };
    store.strings_raw(sql).await.unwrap()
}

#[tokio::test]
async fn a_load_in_bulk_writes_what_batches_write_and_puts_every_index_back() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let (bulk, batched) = (workspace(store).await, workspace(store).await);
        let indexes = contact_indexes(store).await;
        assert!(indexes.len() >= 8, "{db}: {indexes:?}");

        let (how, bulk_reports) = load(store, bulk.id, BULK_LOAD_MIN, tricky_batches()).await.unwrap();
        assert_eq!(how, Loaded::Bulk, "{db}: an empty workspace, a table smaller than the load");
        let (how, batched_reports) = load(store, batched.id, 0, tricky_batches()).await.unwrap();
        assert_eq!(how, Loaded::Batches, "{db}");

        assert_eq!(bulk_reports, batched_reports, "{db}: the same reports, batch by batch");
        let first = &batched_reports[0];
        assert_eq!((first.created, first.updated, first.rejected.len()), (304, 1, 2), "{db}: {first:?}");
        assert!(
            batched_reports[1].updated >= 5 && !batched_reports[1].rejected.is_empty(),
            "{db}: {batched_reports:?}"
        );
        let written = contents(store, bulk.id).await;
        assert_same(db, &written, &contents(store, batched.id).await);
        assert!(written.len() > 300, "{db}");
        let by_ext: BTreeMap<&str, &(Contact, Vec<String>)> =
            written.iter().filter_map(|w| w.0.external_id.as_deref().map(|e| (e, w))).collect();
        assert_eq!(by_ext["u5"].0.phone.as_deref(), Some("+331"), "{db}: updated by a later batch");
        assert_eq!(by_ext["u5"].1, vec!["beta".to_owned()], "{db}");
        assert_eq!(by_ext["u9"].0.email.as_deref(), Some("nine@example.test"), "{db}");
        assert_eq!(by_ext["n1"].0.email.as_deref(), Some("u9@example.test"), "{db}: an email given up, taken");
        assert_eq!(by_ext["p1"].0.name.as_deref(), Some("Plain"), "{db}: adopted an external id, then updated by it");
        assert_eq!(by_ext["u20"].0.name.as_deref(), Some("Twenty"), "{db}");
        assert_eq!(by_ext["u12"].0.name.as_deref(), Some("Twelve"), "{db}: updated two batches later");
        assert_eq!(by_ext["u12"].1, vec!["late".to_owned(), "vip".to_owned()], "{db}");
        assert_eq!(by_ext["u13"].0.email.as_deref(), Some("u13@example.test"), "{db}: u14's email stays its");
        assert!(by_ext.contains_key("z1"), "{db}");
        let fourth = &batched_reports[3];
        assert_eq!((fourth.created, fourth.updated, fourth.rejected.len()), (1, 2, 1), "{db}: {fourth:?}");
        let lead = written.iter().find(|w| w.0.role == Role::Lead && w.0.email.as_deref() == Some("u20@example.test"));
        assert_eq!(lead.and_then(|l| l.0.name.as_deref()), Some("Lead twenty"), "{db}: the lead, not the user");

        assert_eq!(contact_indexes(store).await, indexes, "{db}: every index and key is back, as it was");
        let mut dup = Contact::new(bulk.id, Role::User, 20);
        dup.email = Some("u1@example.test".into());
        assert!(
            matches!(store.insert_contact(&dup).await, Err(StoreError::Conflict { .. })),
            "{db}: the unique index on users' emails holds again"
        );
        let (how, again) = load(store, bulk.id, BULK_LOAD_MIN, tricky_batches()).await.unwrap();
        assert_eq!(how, Loaded::Batches, "{db}: the workspace has contacts now");
        let (_, batched_again) = load(store, batched.id, 0, tricky_batches()).await.unwrap();
        assert_eq!(again, batched_again, "{db}: a second load finds what the first wrote");
        assert_same(db, &contents(store, bulk.id).await, &contents(store, batched.id).await);
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn a_load_is_written_in_batches_when_the_table_holds_more_contacts_than_it() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let (big, empty) = (workspace(store).await, workspace(store).await);
        store
            .execute_raw(&format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {BULK_LOAD_MIN}) \
                 INSERT INTO contacts (workspace_id, role, created_at, updated_at) SELECT {}, 'lead', 1, 1 FROM n",
                big.id
            ))
            .await
            .unwrap();
        let (how, reports) =
            load(store, empty.id, BULK_LOAD_MIN, vec![vec![input(json!({"external_id": "1"}))]]).await.unwrap();
        assert_eq!(how, Loaded::Batches, "{db}: rebuilding the indexes would read more than the load writes");
        assert_eq!(reports[0].created, 1, "{db}");
    }
    stores.cleanup().await;
}

/// Makes the database refuse to create the tag `name`, with the error "`name` refused".
async fn refuse_tag(store: &Arc<dyn Store>, name: &str) {
    let trigger = match store.dialect() {
        Dialect::Sqlite => format!(
            "CREATE TRIGGER refuse_{name} BEFORE INSERT ON tags WHEN NEW.name = '{name}' \
             BEGIN SELECT RAISE(ABORT, '{name} refused'); END"
        ),
        Dialect::Postgres => format!(
            "CREATE FUNCTION refuse_{name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.name = '{name}' THEN RAISE EXCEPTION '{name} refused'; END IF; RETURN NEW; END $$; \
             CREATE TRIGGER refuse_{name} BEFORE INSERT ON tags FOR EACH ROW EXECUTE FUNCTION refuse_{name}()"
        ),
    };
    store.execute_raw(&trigger).await.unwrap();
}

#[tokio::test]
async fn a_load_in_bulk_that_fails_keeps_nothing_and_leaves_every_index() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let indexes = contact_indexes(store).await;
        // A tag the database refuses, in the second batch.
        refuse_tag(store, "boom").await;
        let first: Vec<ContactInput> = (0..200).map(|i| input(json!({"external_id": format!("f{i}")}))).collect();
        let second = vec![input(json!({"external_id": "b", "tags": ["boom"]}))];
        let failed = load(store, ws.id, BULK_LOAD_MIN, vec![first, second]).await;
        assert!(failed.as_ref().is_err_and(|e| e.to_string().contains("boom refused")), "{db}: {failed:?}");
        assert_eq!(store.count_contacts(ws.id, None).await.unwrap(), 0, "{db}: the first batch was kept");
        assert_eq!(contact_indexes(store).await, indexes, "{db}: an index or key is missing");
    }
    stores.cleanup().await;
}

/// Batches that a load batch by batch on PostgreSQL writes while the one before is in flight,
/// and some it must not: new contacts tagged with the same new tags as the batch before them,
/// updates to contacts created two batches earlier, an email given up in one batch and taken by
/// a new contact in the next, an external id and an email that collide across batches.
fn overlapping_batches() -> Vec<Vec<ContactInput>> {
    let people = |prefix: &str, tags: Vec<&str>| -> Vec<ContactInput> {
        (0..200)
            .map(|i| {
                let tags = if i % 2 == 0 { tags.clone() } else { vec![] };
                input(json!({"external_id": format!("{prefix}{i}"), "email": format!("{prefix}{i}@example.test"), "tags": tags}))
            })
            .collect()
    };
    let updates = |prefix: &str, ids: std::ops::Range<u32>| -> Vec<ContactInput> {
        ids.map(|i| input(json!({"external_id": format!("{prefix}{i}"), "name": format!("{prefix} {i}"), "phone": format!("+1{i}")})))
            .collect()
    };
    let mut gives_up = updates("w", 0..100);
    gives_up.push(input(json!({"external_id": "u0", "email": "moved@example.test"})));
    gives_up.push(input(json!({"external_id": "v0", "tags": ["late"]})));
    let mut takes = vec![
        input(json!({"external_id": "t0", "email": "u0@example.test"})),
        input(json!({"email": "v1@example.test", "role": "lead", "tags": ["late"]})),
    ];
    // v0 to v9 stay as the batches before left them.
    takes.extend(updates("v", 10..100));
    let collides = vec![
        input(json!({"external_id": "c0", "email": "v2@example.test"})),
        input(json!({"external_id": "v3", "email": "u0@example.test"})),
        input(json!({"external_id": "u4", "email": "moved@example.test"})),
        input(json!({"email": "w5@example.test", "name": "Five"})),
    ];
    vec![
        people("u", vec!["a", "b"]),
        people("v", vec!["b", "a"]),
        updates("u", 0..100),
        people("w", vec!["c"]),
        gives_up,
        takes,
        collides,
        updates("u", 0..100),
    ]
}

#[tokio::test]
async fn a_load_batch_by_batch_writes_what_one_upsert_per_batch_writes() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let (loaded, upserted) = (workspace(store).await, workspace(store).await);
        let (how, reports) = load(store, loaded.id, 0, overlapping_batches()).await.unwrap();
        assert_eq!(how, Loaded::Batches, "{db}");
        let mut expected = Vec::new();
        for batch in overlapping_batches() {
            expected.push(store.upsert_contacts(upserted.id, &batch, 10).await.unwrap());
        }
        assert_eq!(reports, expected, "{db}: the same reports, batch by batch");
        // By their keys, not their ids: on PostgreSQL two batches written at once take their
        // ids from the sequence in whichever order they get there.
        let by_keys = |mut c: Vec<(Contact, Vec<String>)>| {
            c.sort_by(|a, b| {
                (&a.0.external_id, &a.0.email, a.0.role.as_str()).cmp(&(
                    &b.0.external_id,
                    &b.0.email,
                    b.0.role.as_str(),
                ))
            });
            c
        };
        let written = by_keys(contents(store, loaded.id).await);
        assert_same(db, &written, &by_keys(contents(store, upserted.id).await));

        // What the batches decide, so that the comparison cannot pass with both wrong.
        assert_eq!((reports[0].created, reports[1].created, reports[2].updated), (200, 200, 100), "{db}");
        assert_eq!(reports[6].rejected.len(), 3, "{db}: {:?}", reports[6]);
        assert_eq!(reports[7].unchanged, 100, "{db}: the same updates again change nothing");
        let by_ext: BTreeMap<&str, &(Contact, Vec<String>)> =
            written.iter().filter_map(|w| w.0.external_id.as_deref().map(|e| (e, w))).collect();
        assert_eq!(by_ext["t0"].0.email.as_deref(), Some("u0@example.test"), "{db}: an email given up, taken");
        assert_eq!(by_ext["u0"].0.email.as_deref(), Some("moved@example.test"), "{db}");
        assert_eq!(by_ext["u2"].1, vec!["a".to_owned(), "b".to_owned()], "{db}");
        assert_eq!(by_ext["v0"].1, vec!["a".to_owned(), "b".to_owned(), "late".to_owned()], "{db}");
        assert_eq!(by_ext["w5"].0.name.as_deref(), Some("Five"), "{db}: matched by email");
        assert_eq!(by_ext["v50"].0.phone.as_deref(), Some("+150"), "{db}");
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn a_load_batch_by_batch_that_fails_keeps_the_batches_before_and_none_after() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        refuse_tag(store, "bang").await;
        let batch = |prefix: &str, n: usize| -> Vec<ContactInput> {
            (0..n).map(|i| input(json!({"external_id": format!("{prefix}{i}")}))).collect()
        };
        let mut failing = batch("b", 100);
        failing.push(input(json!({"external_id": "bang", "tags": ["bang"]})));
        // The batch after the failing one shares no key with it: on PostgreSQL it is written
        // while the failing one is, and must be rolled back.
        let batches = vec![batch("a", 100), failing, batch("c", 2_000), batch("d", 100)];
        let failed = load(store, ws.id, 0, batches).await;
        assert!(failed.as_ref().is_err_and(|e| e.to_string().contains("bang refused")), "{db}: {failed:?}");
        let kept = contents(store, ws.id).await;
        let prefixes: std::collections::BTreeSet<char> =
            kept.iter().filter_map(|k| k.0.external_id.as_ref().and_then(|e| e.chars().next())).collect();
        assert_eq!(prefixes, ['a'].into(), "{db}: only the batch before the failing one");
        assert_eq!(kept.len(), 100, "{db}");
        // Nothing left running writes later.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(store.count_contacts(ws.id, None).await.unwrap(), 100, "{db}");
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn a_load_batch_by_batch_nobody_listens_to_stops_and_writes_nothing_after() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let batches: Vec<Vec<ContactInput>> =
            (0..6).map(|b| (0..500).map(|i| input(json!({"external_id": format!("{b}-{i}")}))).collect()).collect();
        let (batches_tx, batches_rx) = mpsc::channel(6);
        for batch in batches {
            batches_tx.send(batch).await.unwrap();
        }
        drop(batches_tx);
        let (reports_tx, mut reports_rx) = mpsc::channel(1);
        let loading = {
            let store = store.clone();
            tokio::spawn(async move { store.load_contacts(ws.id, 0, 10, batches_rx, reports_tx).await })
        };
        let first = reports_rx.recv().await.unwrap();
        assert_eq!(first.created, 500, "{db}");
        drop(reports_rx);
        assert_eq!(loading.await.unwrap().unwrap(), Loaded::Batches, "{db}");
        // The first batch, and perhaps the one whose report found nobody (written before it
        // was sent, as an upsert is), but no batch still being written when the load stopped.
        let count = store.count_contacts(ws.id, None).await.unwrap();
        assert!(count == 500 || count == 1_000 || count == 1_500, "{db}: {count}");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(store.count_contacts(ws.id, None).await.unwrap(), count, "{db}: written after the load returned");
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn upserts_of_the_same_new_contacts_at_once_both_succeed_and_create_each_once() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let batch = || -> Vec<ContactInput> {
            (0..2_000)
                .map(|i| input(json!({"external_id": format!("s{i}"), "email": format!("s{i}@example.test")})))
                .collect()
        };
        // On PostgreSQL both read none of them, and the one that commits second breaks the
        // unique index on external ids: it reads and decides again.
        let (a, b) = (store.clone(), store.clone());
        let (first, second) = tokio::join!(async move { a.upsert_contacts(ws.id, &batch(), 10).await }, async move {
            b.upsert_contacts(ws.id, &batch(), 10).await
        });
        let (first, second) = (first.unwrap(), second.unwrap());
        assert_eq!(first.created + second.created, 2_000, "{db}: {first:?} {second:?}");
        assert_eq!(first.unchanged + second.unchanged, 2_000, "{db}");
        assert_eq!(store.count_contacts(ws.id, None).await.unwrap(), 2_000, "{db}");
    }
    stores.cleanup().await;
}
