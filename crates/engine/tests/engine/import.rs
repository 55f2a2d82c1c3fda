//! Importing contacts from a file, on both databases: what the preview makes of a person's CSV,
//! the choices turned into the import's options, what the import writes (contacts, a new
//! attribute, tags) and rejects (line, field, values), that a second run changes nothing, the
//! background import's progress, report and events, the files refused before anything is
//! written, an import left running by a stopped server run again from its file kept in the
//! database (or marked interrupted where the file is not kept), and that file read by a node
//! which did not receive it, for the preview and the run.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;
use tidings_core::attribute::DataType;
use tidings_engine::Event;
use tidings_engine::import::preview::{self, Choice};
use tidings_engine::import::{Format, ImportError, Progress, Quiet, Rejection};
use tidings_store::{ImportStatus, NewImport};

use super::support::World;

const PEOPLE: &str = "external_id,email,plan,notes,tags,id\n\
                      1,ada@example.test,pro,likes tea,\"vip, beta\",99\n\
                      2,not-an-email,free,,beta,\n\
                      3,cy@example.test,team,,\"vip\",\n\
                      4,dee@example.test,pro,\"a, b\",,\n\
                      5,eve@example.test,free,x,\"beta,beta\",7\n";

fn file(name: &str, text: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tidings-import-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let path = dir.join(format!("{n}-{name}"));
    std::fs::write(&path, text).unwrap();
    path
}

#[derive(Default)]
struct Kept(Mutex<Vec<Rejection>>);

impl Progress for Kept {
    fn rejected(&self, r: &Rejection) {
        self.0.lock().unwrap().push(r.clone());
    }
}

async fn tags_of(w: &World, external_id: &str) -> Vec<String> {
    let c = w.store.contact_by_external_id(w.ws.id, external_id).await.unwrap().unwrap();
    let mut names: Vec<String> = w
        .store
        .contact_tags(w.ws.id, &[c.id])
        .await
        .unwrap()
        .remove(&c.id)
        .unwrap_or_default()
        .into_iter()
        .map(|a| a.tag.name)
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_previewed_csv_imports_with_its_choices_rejects_by_line_and_changes_nothing_the_second_time() {
    for w in World::both().await {
        let db = w.db;
        let path = file("people.csv", PEOPLE.as_bytes());
        assert_eq!(preview::check(&path).unwrap(), Format::Csv, "{db}");
        let p = preview::preview(&path, Format::Csv, &[]).unwrap();
        let names: Vec<&str> = p.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["external_id", "email", "plan", "notes", "tags", "id"], "{db}");
        let suggested: Vec<Choice> = p.columns.iter().map(|c| c.suggested.clone()).collect();
        assert_eq!(
            suggested,
            [
                Choice::Attribute("external_id".into()),
                Choice::Attribute("email".into()),
                Choice::New(DataType::String),
                Choice::New(DataType::String),
                Choice::Tags,
                Choice::Skip,
            ],
            "{db}"
        );
        assert!(p.identified && p.columns[5].ignored, "{db}");
        assert_eq!(p.columns[2].samples, ["pro", "free", "team"], "{db}: three values of plan");

        // Nothing says who a contact is: refused before anything is written.
        let skip_ids = [Some(Choice::Skip), Some(Choice::Skip)];
        assert!(matches!(p.options(&skip_ids), Err(ImportError::NoIdentity)), "{db}");
        // Create plan as a string attribute, skip notes.
        let chosen = [None, None, Some(Choice::New(DataType::String)), Some(Choice::Skip), None, None];
        let options = p.options(&chosen).unwrap();
        assert_eq!(options.skip, ["notes"], "{db}");

        let kept = Kept::default();
        let s = w.engine.import_contacts(&w.ws, &path, &options, &kept).await.unwrap();
        assert_eq!(
            (s.lines, s.total.created, s.total.updated, s.total.unchanged, s.rejected()),
            (5, 4, 0, 0, 1),
            "{db}"
        );
        let rejected = kept.0.lock().unwrap().clone();
        assert_eq!(rejected.len(), 1, "{db}: {rejected:?}");
        assert_eq!(rejected[0].line, 3, "{db}: the header is line 1");
        assert_eq!(rejected[0].problems[0].field.as_deref(), Some("email"), "{db}");
        assert!(rejected[0].problems[0].reason.contains("not-an-email"), "{db}: {rejected:?}");
        assert_eq!(rejected[0].values, ["2", "not-an-email", "free", "", "beta", ""], "{db}");

        let attrs: Vec<(String, DataType)> =
            w.store.custom_attributes(w.ws.id).await.unwrap().into_iter().map(|a| (a.name, a.data_type)).collect();
        assert_eq!(attrs, [("plan".to_owned(), DataType::String)], "{db}: plan created, notes skipped");
        let ada = w.store.contact_by_external_id(w.ws.id, "1").await.unwrap().unwrap();
        assert_eq!(serde_json::to_value(&ada.custom_attributes).unwrap(), json!({"plan": "pro"}), "{db}");
        assert_eq!(tags_of(&w, "1").await, ["beta", "vip"], "{db}");
        assert_eq!(tags_of(&w, "5").await, ["beta"], "{db}: a tag named twice is applied once");
        assert!(w.store.contact_by_external_id(w.ws.id, "2").await.unwrap().is_none(), "{db}");

        // The same file again: the attribute exists now, and nothing changes.
        let p = preview::preview(&path, Format::Csv, &w.store.custom_attributes(w.ws.id).await.unwrap()).unwrap();
        assert_eq!(p.columns[2].suggested, Choice::Attribute("plan".into()), "{db}");
        let options = p.options(&[None, None, None, Some(Choice::Skip), None, None]).unwrap();
        let s = w.engine.import_contacts(&w.ws, &path, &options, &Quiet).await.unwrap();
        assert_eq!((s.total.created, s.total.updated, s.total.unchanged, s.rejected()), (0, 0, 4, 1), "{db}");
        assert_eq!(w.store.tags(w.ws.id).await.unwrap().len(), 2, "{db}");
        w.cleanup().await;
    }
}

#[tokio::test]
async fn files_that_cannot_be_imported_are_refused_with_the_reason() {
    let cases: [(&str, &[u8], &str); 5] = [
        ("empty.csv", b"", "empty"),
        ("header.csv", b"email,plan\n", "empty"),
        ("sheet.xlsx", b"PK\x03\x04\x00\x00binary", "not text"),
        ("array.json", b"[{\"email\": \"a@example.test\"}]", "JSON array"),
        ("broken.jsonl", b"{\"email\": \n", "not one JSON object"),
    ];
    for (name, text, why) in cases {
        let path = file(name, text);
        let e = preview::check(&path).expect_err(name);
        let said = ImportError::explain(&e);
        assert!(said.contains(why), "{name}: {said}");
    }
    // A column that would make a built-in attribute custom, and a name no attribute may have.
    let path = file("clash.csv", b"email,custom_attributes.email,Plan (2024)\na@example.test,b,c\n");
    let p = preview::preview(&path, Format::Csv, &[]).unwrap();
    match p.options(&[]) {
        Err(ImportError::BadAttributes(bad)) => {
            let columns: Vec<&str> = bad.iter().map(|(c, _)| c.as_str()).collect();
            assert_eq!(columns, ["custom_attributes.email", "Plan (2024)"]);
            assert!(bad[0].1.contains("built-in"), "{bad:?}");
        }
        other => panic!("{other:?}"),
    }
    // JSON lines without email or external_id.
    let path = file("nobody.jsonl", b"{\"name\": \"Ada\"}\n");
    let p = preview::preview(&path, preview::check(&path).unwrap(), &[]).unwrap();
    assert!(!p.identified);
    assert!(matches!(p.options(&[]), Err(ImportError::NoIdentity)));
}

#[tokio::test]
async fn a_background_import_records_its_progress_report_and_end_and_tells_the_bus() {
    for mut w in World::both().await {
        let db = w.db;
        let path = file("people.csv", PEOPLE.as_bytes());
        let import = w.engine.upload_import(&w.ws, w.owner.id, "people.csv", &path).await.unwrap();
        assert_eq!((import.status, import.format.as_str()), (ImportStatus::Uploaded, "csv"), "{db}");
        let p = w.engine.import_preview(&w.ws, &import).await.unwrap();
        let options = p.options(&[None, None, Some(Choice::New(DataType::String)), Some(Choice::Skip)]).unwrap();
        w.engine.start_import(&w.ws, &import, options.clone()).await.unwrap();
        let again = w.engine.start_import(&w.ws, &import, options).await;
        assert!(matches!(again, Err(ImportError::Unreadable(_))), "{db}: started once");

        let done = ended(&w, import.id).await;
        assert_eq!(done.status, ImportStatus::Done, "{db}: {:?}", done.error);
        let c = done.counters;
        assert_eq!((c.lines, c.created, c.updated, c.unchanged, c.rejected), (5, 4, 0, 0, 1), "{db}");
        assert_eq!(c.bytes_read, PEOPLE.len() as i64, "{db}");
        let report = w.store.import_report(w.ws.id, import.id).await.unwrap().unwrap();
        assert_eq!(
            report,
            "line,field,reason,external_id,email,plan,notes,tags,id\n\
             3,email,not-an-email is not a valid email address,2,not-an-email,free,,beta,\n",
            "{db}"
        );
        assert!(!path.exists(), "{db}: the uploaded file is removed once imported");
        let events = w.events();
        let ours = |e: &Event| matches!(e, Event::ImportChanged { workspace, import: id } if *workspace == w.ws.id && *id == import.id);
        assert!(events.iter().filter(|e| ours(e)).count() >= 3, "{db}: uploaded, started, ended: {events:?}");
        // Another workspace does not see it.
        assert!(w.store.import(w.ws.id + 1_000_000, import.id).await.unwrap().is_none(), "{db}");
        w.cleanup().await;
    }
}

#[tokio::test]
async fn an_import_left_running_whose_file_is_not_kept_is_marked_interrupted() {
    for mut w in World::both().await {
        let db = w.db;
        let new = NewImport {
            teammate_id: Some(w.owner.id),
            file_name: "big.csv".into(),
            format: "csv".into(),
            path: "/nonexistent/big.csv".into(),
            size: 1000,
            created_at: w.engine.now(),
        };
        // Recorded without its file (as an import from before the database kept files).
        let import = w.store.create_import(w.ws.id, &new).await.unwrap();
        // Started by a server that stopped at once: its heartbeat is now.
        assert!(w.store.start_import(w.ws.id, import.id, "{}", w.engine.now()).await.unwrap(), "{db}");
        let restarted = w.engine.resume_stopped_imports().await.unwrap();
        let status = |w: &World| {
            let (store, ws, id) = (w.store.clone(), w.ws.id, import.id);
            async move { store.import(ws, id).await.unwrap().unwrap().status }
        };
        if db == "sqlite" {
            // One server: the one starting is the one that stopped.
            assert_eq!(restarted, (0, 1), "{db}");
            assert_eq!(status(&w).await, ImportStatus::Interrupted, "{db}");
        } else {
            // Other servers may be running imports: only one whose heartbeat stopped is taken.
            assert_eq!(restarted, (0, 0), "{db}");
            assert_eq!(status(&w).await, ImportStatus::Running, "{db}");
            w.clock.advance(31);
            assert_eq!(w.engine.resume_stopped_imports().await.unwrap(), (0, 1), "{db}: once its heartbeat is old");
            let seen = w.engine.import(&w.ws, import.id).await.unwrap().unwrap();
            assert_eq!(seen.status, ImportStatus::Interrupted, "{db}");
            assert!(seen.error.unwrap().contains("stopped"), "{db}");
            let told =
                w.events().iter().any(|e| matches!(e, Event::ImportChanged { import: i, .. } if *i == import.id));
            assert!(told, "{db}: its page is told");
        }
        // A finished import moves no more.
        let late = w.store.import_progress(w.ws.id, import.id, 1, &Default::default(), w.engine.now()).await.unwrap();
        assert!(!late, "{db}");
        w.cleanup().await;
    }
}

#[tokio::test]
async fn an_import_whose_server_stopped_is_run_again_and_ends_with_every_contact() {
    let mut text = String::from("external_id,email\n");
    for i in 0..50 {
        text.push_str(&format!("{i},p{i}@example.test\n"));
    }
    for w in World::both().await {
        let db = w.db;
        let path = file("people.csv", text.as_bytes());
        let import = w.engine.upload_import(&w.ws, w.owner.id, "people.csv", &path).await.unwrap();
        let options = w.engine.import_preview(&w.ws, &import).await.unwrap().options(&[None, None]).unwrap();
        // A server started it, wrote the first 20 contacts, and stopped; the file it received
        // went with it.
        let choices = serde_json::to_string(&options).unwrap();
        assert!(w.store.start_import(w.ws.id, import.id, &choices, w.engine.now()).await.unwrap(), "{db}");
        let first: Vec<tidings_core::contact::ContactInput> = (0..20)
            .map(|i| {
                let mut m = serde_json::Map::new();
                m.insert("external_id".into(), json!(i.to_string()));
                m.insert("email".into(), json!(format!("p{i}@example.test")));
                tidings_core::contact::ContactInput::parse(&m, &[]).unwrap()
            })
            .collect();
        w.store.upsert_contacts(w.ws.id, &first, w.engine.now()).await.unwrap();
        std::fs::remove_file(&path).unwrap();
        if db == "postgres" {
            w.clock.advance(31);
        }

        // This server takes it over as its second run, from the top of the file.
        assert_eq!(w.engine.resume_stopped_imports().await.unwrap(), (1, 0), "{db}");
        // The stopped server's run, were it still going, could no longer write.
        let nothing = Default::default();
        let stale = w.store.import_progress(w.ws.id, import.id, 1, &nothing, w.engine.now()).await.unwrap();
        assert!(!stale, "{db}: run 1 was taken over");
        let done = ended(&w, import.id).await;
        assert_eq!((done.status, done.runs), (ImportStatus::Done, 2), "{db}: {:?}", done.error);
        let c = done.counters;
        assert_eq!((c.lines, c.created, c.unchanged, c.rejected), (50, 30, 20, 0), "{db}");
        assert_eq!(w.store.count_contacts(w.ws.id, None).await.unwrap(), 50, "{db}: every contact, once");
        assert!(w.store.import_file(w.ws.id, import.id, 0).await.unwrap().is_none(), "{db}: dropped at the end");
        w.cleanup().await;
    }
}

#[tokio::test]
async fn a_new_attribute_takes_the_type_chosen_and_json_lines_offer_only_their_new_attributes() {
    for w in World::both().await {
        let db = w.db;
        // `seats` reads as whole numbers; the teammate makes it text.
        let path = file("seats.csv", b"E-mail,seats\nada@example.test,3\nbob@example.test,12\n");
        let p = preview::preview(&path, Format::Csv, &[]).unwrap();
        assert_eq!(p.columns[0].suggested, Choice::Attribute("email".into()), "{db}: E-mail reads as email");
        assert_eq!(
            (p.columns[1].inferred, &p.columns[1].suggested),
            (DataType::Integer, &Choice::New(DataType::Integer))
        );
        let options = p.options(&[None, Some(Choice::New(DataType::String))]).unwrap();
        assert_eq!(options.map, [("E-mail".to_owned(), "email".to_owned())], "{db}");
        let s = w.engine.import_contacts(&w.ws, &path, &options, &Quiet).await.unwrap();
        assert_eq!((s.total.created, s.rejected()), (2, 0), "{db}");
        let attrs: Vec<(String, DataType)> =
            w.store.custom_attributes(w.ws.id).await.unwrap().into_iter().map(|a| (a.name, a.data_type)).collect();
        assert_eq!(attrs, [("seats".to_owned(), DataType::String)], "{db}");

        // JSON lines: top-level keys are read as named; new custom attributes are created or skipped.
        let path = file(
            "people.jsonl",
            b"{\"email\": \"cy@example.test\", \"company\": \"Acme\", \"custom_attributes\": {\"seats\": \"4\", \"score\": 2.5, \"beta\": true}}\n",
        );
        let format = preview::check(&path).unwrap();
        assert_eq!(format, Format::Jsonl, "{db}");
        let custom = w.store.custom_attributes(w.ws.id).await.unwrap();
        let p = preview::preview(&path, format, &custom).unwrap();
        let seen: Vec<(&str, &Choice, bool, usize)> =
            p.columns.iter().map(|c| (c.name.as_str(), &c.suggested, c.ignored, c.choices.len())).collect();
        assert_eq!(
            seen,
            [
                ("email", &Choice::Attribute("email".into()), false, 0),
                ("beta", &Choice::New(DataType::Boolean), false, 6),
                ("score", &Choice::New(DataType::Float), false, 6),
                ("seats", &Choice::Attribute("seats".into()), false, 0),
                ("company", &Choice::Skip, true, 0),
            ],
            "{db}"
        );
        let options = p.options(&[None, Some(Choice::Skip)]).unwrap();
        let s = w.engine.import_contacts(&w.ws, &path, &options, &Quiet).await.unwrap();
        assert_eq!((s.total.created, s.rejected()), (1, 0), "{db}");
        let cy = w.store.user_by_email(w.ws.id, "cy@example.test").await.unwrap().unwrap();
        assert_eq!(serde_json::to_value(&cy.custom_attributes).unwrap(), json!({"seats": "4", "score": 2.5}), "{db}");
        w.cleanup().await;
    }
}

#[tokio::test]
async fn a_large_file_into_an_empty_workspace_is_loaded_in_bulk_with_every_line_accounted_for() {
    for w in World::both().await {
        let db = w.db;
        // Enough lines for a bulk load, with a bad line, a line that updates an earlier contact
        // (in another batch), a line whose email belongs to someone else, and tags.
        let n = tidings_store::BULK_LOAD_MIN;
        let mut text = String::new();
        for i in 0..n {
            let line = match i {
                10 => json!({"external_id": "e10", "email": "not-an-email"}),
                40_000 => json!({"external_id": "e5", "name": "Five", "tags": ["late"]}),
                40_001 => json!({"external_id": "other", "email": "p6@example.test"}),
                _ if i % 1_000 == 0 => {
                    json!({"external_id": format!("e{i}"), "email": format!("p{i}@example.test"), "tags": ["vip"]})
                }
                _ => json!({"external_id": format!("e{i}"), "email": format!("p{i}@example.test")}),
            };
            text.push_str(&line.to_string());
            text.push('\n');
        }
        let path = file("many.jsonl", text.as_bytes());
        let kept = Kept::default();
        let s = w.engine.import_contacts(&w.ws, &path, &Default::default(), &kept).await.unwrap();
        assert!(s.bulk, "{db}: an empty workspace and a table smaller than the file");
        assert_eq!(
            (s.lines, s.total.created, s.total.updated, s.total.unchanged, s.rejected()),
            (n, n - 3, 1, 0, 2),
            "{db}"
        );
        let mut lines: Vec<u64> = kept.0.lock().unwrap().iter().map(|r| r.line).collect();
        lines.sort_unstable();
        assert_eq!(lines, [11, 40_002], "{db}: each rejected line by its number");
        assert_eq!(w.store.count_contacts(w.ws.id, None).await.unwrap(), (n - 3) as i64, "{db}");
        let five = w.store.contact_by_external_id(w.ws.id, "e5").await.unwrap().unwrap();
        assert_eq!(five.name.as_deref(), Some("Five"), "{db}");
        assert_eq!(tags_of(&w, "e5").await, ["late"], "{db}");
        assert_eq!(tags_of(&w, "e3000").await, ["vip"], "{db}");
        assert_eq!(
            w.store.user_by_email(w.ws.id, "p6@example.test").await.unwrap().and_then(|c| c.external_id).as_deref(),
            Some("e6"),
            "{db}: found through the index built after the load"
        );

        // Again: the workspace has contacts now, so batch by batch, and nothing changes (e5's
        // two lines are both unchanged).
        let s = w.engine.import_contacts(&w.ws, &path, &Default::default(), &Quiet).await.unwrap();
        assert!(!s.bulk, "{db}");
        assert_eq!((s.total.created, s.total.updated, s.total.unchanged, s.rejected()), (0, 0, n - 2, 2), "{db}");
        w.cleanup().await;
    }
}

#[tokio::test]
async fn a_background_bulk_load_shows_its_progress_while_it_holds_the_contacts_table() {
    for w in World::both().await {
        let db = w.db;
        let n = tidings_store::BULK_LOAD_MIN;
        let text: String =
            (0..n).map(|i| format!("{{\"external_id\":\"e{i}\",\"email\":\"p{i}@example.test\"}}\n")).collect();
        let path = file("many.jsonl", text.as_bytes());
        let import = w.engine.upload_import(&w.ws, w.owner.id, "many.jsonl", &path).await.unwrap();
        let p = w.engine.import_preview(&w.ws, &import).await.unwrap();
        w.engine.start_import(&w.ws, &import, p.options(&[]).unwrap()).await.unwrap();

        // Read as the admin app's page does: on SQLite the load holds the only write lock until
        // it commits, so what a read shows meanwhile comes from the running import itself.
        let (mut done, mut midway) = (None, Vec::new());
        for _ in 0..3_000 {
            let i = w.engine.import(&w.ws, import.id).await.unwrap().unwrap();
            if i.status.finished() {
                done = Some(i);
                break;
            }
            if i.counters.created > 0 {
                midway.push(i.counters.created);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let done = done.unwrap_or_else(|| panic!("{db}: the import did not end"));
        assert_eq!((done.status, done.counters.created), (ImportStatus::Done, n as i64), "{db}: {:?}", done.error);
        assert!(midway.iter().any(|c| *c < n as i64), "{db}: no read showed the load partway ({midway:?})");
        let loaded = w.store.count_contacts(w.ws.id, None).await.unwrap();
        assert_eq!(loaded, n as i64, "{db}");
        w.cleanup().await;
    }
}

/// Waits for an import to end, and returns it.
async fn ended(w: &World, id: i64) -> tidings_store::Import {
    for _ in 0..600 {
        let i = w.engine.import(&w.ws, id).await.unwrap().unwrap();
        if i.status.finished() {
            return i;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{}: the import did not end", w.db);
}

#[tokio::test]
async fn a_file_one_node_received_is_previewed_and_imported_by_another() {
    // Two pieces and a bit: the file is kept, and copied back, a MiB at a time.
    let mut text = String::from("external_id,email\n");
    let mut n = 0;
    while text.len() < 2 * 1024 * 1024 + 100 {
        n += 1;
        text.push_str(&format!("{n},person{n}@example.test\n"));
    }
    for w in World::both().await {
        let db = w.db;
        let path = file("many.csv", text.as_bytes());
        let import = w.engine.upload_import(&w.ws, w.owner.id, "many.csv", &path).await.unwrap();
        let pieces: Vec<usize> = {
            let mut sizes = Vec::new();
            while let Some(p) = w.store.import_file(w.ws.id, import.id, sizes.len() as i64).await.unwrap() {
                sizes.push(p.len());
            }
            sizes
        };
        assert_eq!(pieces, [1 << 20, 1 << 20, text.len() - (2 << 20)], "{db}: kept in the database");
        // Another workspace cannot read it.
        assert!(w.store.import_file(w.ws.id + 1_000_000, import.id, 0).await.unwrap().is_none(), "{db}");
        // This node is now another one: the file it received is not here.
        std::fs::remove_file(&path).unwrap();
        let p = w.engine.import_preview(&w.ws, &import).await.unwrap();
        assert_eq!(p.columns.len(), 2, "{db}: the preview reads the copy");
        let options = p.options(&[None, None]).unwrap();
        w.engine.start_import(&w.ws, &import, options).await.unwrap();
        let done = ended(&w, import.id).await;
        assert_eq!(done.status, ImportStatus::Done, "{db}: {:?}", done.error);
        let c = done.counters;
        assert_eq!((c.lines, c.created, c.rejected), (n, n, 0), "{db}");
        assert_eq!(c.bytes_read, text.len() as i64, "{db}: the whole file, byte for byte");
        assert!(w.store.import_file(w.ws.id, import.id, 0).await.unwrap().is_none(), "{db}: dropped at the end");
        w.cleanup().await;
    }
}

#[tokio::test]
async fn the_file_of_an_upload_never_started_goes_after_a_day() {
    for w in World::both().await {
        let db = w.db;
        let first = file("people.csv", PEOPLE.as_bytes());
        let old = w.engine.upload_import(&w.ws, w.owner.id, "people.csv", &first).await.unwrap();
        w.clock.advance(25 * 3600);
        // The next upload drops the files of those never started for a day.
        let second = file("people.csv", PEOPLE.as_bytes());
        let new = w.engine.upload_import(&w.ws, w.owner.id, "people.csv", &second).await.unwrap();
        assert!(w.store.import_file(w.ws.id, old.id, 0).await.unwrap().is_none(), "{db}");
        assert!(w.store.import_file(w.ws.id, new.id, 0).await.unwrap().is_some(), "{db}");
        // Where the node that received it has let it go too, the page asks for it again.
        std::fs::remove_file(&first).unwrap();
        match w.engine.import_preview(&w.ws, &old).await {
            Err(e @ ImportError::Unreadable(_)) => assert!(e.explain().contains("Upload it again"), "{db}: {e:?}"),
            other => panic!("{db}: {other:?}"),
        }
        w.cleanup().await;
    }
}

/// Starts an import of `lines` new contacts into `w`'s workspace, which holds one contact first
/// (so the import is written batch by batch, with a heartbeat every tick, not loaded in bulk in
/// one transaction), and returns it once it has written some.
async fn writing_an_import(w: &World, lines: u32) -> tidings_store::Import {
    let mut text = String::from("external_id,email\n");
    for i in 0..lines {
        text.push_str(&format!("{i},p{i}@example.test\n"));
    }
    let mut m = serde_json::Map::new();
    m.insert("external_id".into(), json!("first"));
    w.store.upsert_contacts(w.ws.id, &[tidings_core::contact::ContactInput::parse(&m, &[]).unwrap()], 1).await.unwrap();
    let path = file("many.csv", text.as_bytes());
    let import = w.engine.upload_import(&w.ws, w.owner.id, "many.csv", &path).await.unwrap();
    let options = w.engine.import_preview(&w.ws, &import).await.unwrap().options(&[None, None]).unwrap();
    w.engine.start_import(&w.ws, &import, options).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while w.engine.import(&w.ws, import.id).await.unwrap().unwrap().counters.created == 0 {
        assert!(std::time::Instant::now() < deadline, "{}: nothing written", w.db);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    import
}

#[tokio::test]
async fn a_run_another_server_took_over_stops_writing() {
    for w in World::both().await {
        let db = w.db;
        let import = writing_an_import(&w, 200_000).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        // Another server takes it over (as if this one had stopped answering).
        let taken = w.store.take_over_imports(Some(w.ws.id), i64::MAX, w.engine.now(), 3, &[]).await.unwrap();
        assert_eq!(taken.resumed.len(), 1, "{db}");
        // Within a tick or two this run sees it and ends: this server no longer tells its own
        // counters over the database's (those of run 2, which has written nothing).
        while w.engine.import(&w.ws, import.id).await.unwrap().unwrap().counters.created > 0 {
            assert!(std::time::Instant::now() < deadline, "{db}: the run did not stop");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // And it writes no more contacts, short of the end of the file.
        let written = w.store.count_contacts(w.ws.id, None).await.unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(w.store.count_contacts(w.ws.id, None).await.unwrap(), written, "{db}");
        assert!(written < 200_001, "{db}: stopped short of the end ({written})");
        // It recorded nothing over the run that took over.
        let i = w.store.import(w.ws.id, import.id).await.unwrap().unwrap();
        assert_eq!((i.status, i.runs, i.counters.created), (ImportStatus::Running, 2, 0), "{db}");
        w.cleanup().await;
    }
}

#[tokio::test]
async fn a_run_going_here_is_never_taken_over_here_and_the_page_follows_the_run_that_is() {
    for w in World::both().await {
        let db = w.db;
        let import = writing_an_import(&w, 300_000).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        // However old its heartbeat looks (on PostgreSQL), this server does not take over the
        // run it is still going with: it would run twice until its next tick.
        if db == "postgres" {
            w.clock.advance(31);
        }
        assert_eq!(w.engine.resume_stopped_imports().await.unwrap(), (0, 0), "{db}");
        assert_eq!(w.store.import(w.ws.id, import.id).await.unwrap().unwrap().runs, 1, "{db}");
        // Another server takes it over as run 2 and stops at once. Run 1 sees within a tick or
        // two that it was taken over and ends; from then on this server takes run 2's place.
        let taken = w.store.take_over_imports(Some(w.ws.id), i64::MAX, w.engine.now(), 3, &[]).await.unwrap();
        assert_eq!(taken.resumed.len(), 1, "{db}");
        loop {
            if db == "postgres" {
                w.clock.advance(31);
            }
            if w.engine.resume_stopped_imports().await.unwrap() == (1, 0) {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{db}: not taken over");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The page follows run 3 as it goes, ahead of what it last wrote, not the database's
        // counters.
        let live = loop {
            let live = w.engine.import(&w.ws, import.id).await.unwrap().unwrap();
            let stored = w.store.import(w.ws.id, import.id).await.unwrap().unwrap();
            assert_eq!(stored.runs, 3, "{db}");
            if live.status != ImportStatus::Running || live.counters.lines > stored.counters.lines {
                break live;
            }
            assert!(std::time::Instant::now() < deadline, "{db}: stuck");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert_eq!(
            live.status,
            ImportStatus::Running,
            "{db}: run 3 ended ({:?}) while its page showed the database's counters",
            live.error
        );
        // Run 3 ends with every line.
        let ended = loop {
            let i = w.engine.import(&w.ws, import.id).await.unwrap().unwrap();
            if i.status != ImportStatus::Running {
                break i;
            }
            assert!(std::time::Instant::now() < deadline, "{db}: run 3 did not end");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!((ended.status, ended.counters.lines), (ImportStatus::Done, 300_000), "{db}: {ended:?}");
        assert_eq!(w.store.count_contacts(w.ws.id, None).await.unwrap(), 300_001, "{db}");
        w.cleanup().await;
    }
}
