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
    vec![first, second, third]
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

#[tokio::test]
async fn a_load_in_bulk_that_fails_keeps_nothing_and_leaves_every_index() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let indexes = contact_indexes(store).await;
        // A tag the database refuses, in the second batch.
        let trigger = match store.dialect() {
            Dialect::Sqlite => {
                "CREATE TRIGGER refuse_boom BEFORE INSERT ON tags WHEN NEW.name = 'boom' \
                 BEGIN SELECT RAISE(ABORT, 'boom refused'); END"
            }
            Dialect::Postgres => {
                "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 IF NEW.name = 'boom' THEN RAISE EXCEPTION 'boom refused'; END IF; RETURN NEW; END $$; \
                 CREATE TRIGGER refuse_boom BEFORE INSERT ON tags FOR EACH ROW EXECUTE FUNCTION refuse_boom()"
            }
        };
        store.execute_raw(trigger).await.unwrap();
        let first: Vec<ContactInput> = (0..200).map(|i| input(json!({"external_id": format!("f{i}")}))).collect();
        let second = vec![input(json!({"external_id": "b", "tags": ["boom"]}))];
        let failed = load(store, ws.id, BULK_LOAD_MIN, vec![first, second]).await;
        assert!(failed.as_ref().is_err_and(|e| e.to_string().contains("boom refused")), "{db}: {failed:?}");
        assert_eq!(store.count_contacts(ws.id, None).await.unwrap(), 0, "{db}: the first batch was kept");
        assert_eq!(contact_indexes(store).await, indexes, "{db}: an index or key is missing");
    }
    stores.cleanup().await;
}
