//! An uploaded import's file, kept in pieces: read back in order within its workspace only,
//! gone with an import deleted before it started, kept while it runs and dropped when it ends.
//! Imports whose server stopped: taken over as their next run while their file is kept, a bounded
//! number of times, each by one caller; a run taken over writes nothing more.

use tidings_store::{ImportEnd, ImportStatus, NewImport};

use super::support::{Stores, workspace};

#[tokio::test]
async fn an_import_file_is_kept_in_pieces_until_its_import_ends() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let other = workspace(store).await;
        let new = |name: &str| NewImport {
            teammate_id: None,
            file_name: name.into(),
            format: "csv".into(),
            path: "/nowhere".into(),
            size: 6,
            created_at: 100,
        };
        let first = store.create_import(ws.id, &new("a.csv")).await.unwrap();
        for (seq, piece) in [b"abc", b"def"].iter().enumerate() {
            store.put_import_file(ws.id, first.id, seq as i64, *piece).await.unwrap();
        }
        // Written into another workspace's import: nothing is.
        store.put_import_file(other.id, first.id, 2, b"ghi").await.unwrap();
        let read = async |ws: i64, seq: i64| store.import_file(ws, first.id, seq).await.unwrap();
        assert_eq!(read(ws.id, 0).await.as_deref(), Some(&b"abc"[..]), "{db}");
        assert_eq!(read(ws.id, 1).await.as_deref(), Some(&b"def"[..]), "{db}");
        assert_eq!(read(ws.id, 2).await, None, "{db}: past the last piece");
        assert_eq!(read(other.id, 0).await, None, "{db}: another workspace reads nothing");

        // Deleted before it started, it goes with its file.
        assert!(store.delete_uploaded_import(ws.id, first.id).await.unwrap(), "{db}");
        assert!(store.import(ws.id, first.id).await.unwrap().is_none(), "{db}");
        assert_eq!(read(ws.id, 0).await, None, "{db}");

        // Running, it cannot be deleted and keeps its file; ended, the file goes.
        let second = store.create_import(ws.id, &new("b.csv")).await.unwrap();
        store.put_import_file(ws.id, second.id, 0, b"abcdef").await.unwrap();
        assert!(store.start_import(ws.id, second.id, "{}", 200).await.unwrap(), "{db}");
        assert!(!store.delete_uploaded_import(ws.id, second.id).await.unwrap(), "{db}: it started");
        assert!(store.import_file(ws.id, second.id, 0).await.unwrap().is_some(), "{db}");
        assert_eq!(store.prune_import_files(1_000).await.unwrap(), 0, "{db}: a running import's file stays");
        let end = ImportEnd { status: ImportStatus::Done, counters: Default::default(), error: None, report: None };
        assert!(store.finish_import(ws.id, second.id, 1, &end, 300).await.unwrap(), "{db}");
        assert!(store.import_file(ws.id, second.id, 0).await.unwrap().is_none(), "{db}: dropped at the end");

        // Never started: dropped once older than the bound, not before.
        let third = store.create_import(ws.id, &new("c.csv")).await.unwrap();
        store.put_import_file(ws.id, third.id, 0, b"abcdef").await.unwrap();
        assert_eq!(store.prune_import_files(100).await.unwrap(), 0, "{db}");
        assert_eq!(store.prune_import_files(101).await.unwrap(), 1, "{db}");
        assert!(store.import_file(ws.id, third.id, 0).await.unwrap().is_none(), "{db}");
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn an_import_whose_server_stopped_is_taken_over_a_bounded_number_of_times() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let other = workspace(store).await;
        let started = async |ws: i64, name: &str, with_file: bool| {
            let new = NewImport {
                teammate_id: None,
                file_name: name.into(),
                format: "csv".into(),
                path: "/nowhere".into(),
                size: 3,
                created_at: 100,
            };
            let i = store.create_import(ws, &new).await.unwrap();
            if with_file {
                store.put_import_file(ws, i.id, 0, b"abc").await.unwrap();
            }
            assert!(store.start_import(ws, i.id, "{}", 100).await.unwrap());
            i
        };
        let kept = started(ws.id, "kept.csv", true).await;
        let lost = started(ws.id, "lost.csv", false).await;
        let elsewhere = started(other.id, "other.csv", true).await;
        let status = async |ws: i64, id: i64| store.import(ws, id).await.unwrap().unwrap();
        assert_eq!(status(ws.id, kept.id).await.runs, 1, "{db}");

        // Heartbeats of 100 are not older than 100: nothing is taken.
        let none = store.take_over_imports(Some(ws.id), 100, 150, 3, &[]).await.unwrap();
        assert!(none.resumed.is_empty() && none.interrupted.is_empty(), "{db}: {none:?}");

        // The caller's own runs are left alone, however stale: neither taken nor interrupted.
        let own = store.take_over_imports(Some(ws.id), 101, 150, 3, &[kept.id, lost.id]).await.unwrap();
        assert!(own.resumed.is_empty() && own.interrupted.is_empty(), "{db}: {own:?}");
        assert_eq!(
            (status(ws.id, kept.id).await.runs, status(ws.id, lost.id).await.status),
            (1, ImportStatus::Running),
            "{db}"
        );

        // The one whose file is kept runs again; the other is interrupted; another workspace's
        // stays as it is.
        let taken = store.take_over_imports(Some(ws.id), 101, 200, 3, &[]).await.unwrap();
        let ids: Vec<(i64, i64)> = taken.resumed.iter().map(|i| (i.id, i.runs)).collect();
        let stopped: Vec<i64> = taken.interrupted.iter().map(|i| i.id).collect();
        assert_eq!((ids, stopped), (vec![(kept.id, 2)], vec![lost.id]), "{db}");
        assert_eq!(taken.resumed[0].heartbeat_at, 200, "{db}");
        assert_eq!(status(ws.id, lost.id).await.status, ImportStatus::Interrupted, "{db}");
        assert_eq!(status(other.id, elsewhere.id).await.status, ImportStatus::Running, "{db}");
        // Taken once: asked again at once, nothing is stale.
        let again = store.take_over_imports(Some(ws.id), 101, 200, 3, &[]).await.unwrap();
        assert!(again.resumed.is_empty() && again.interrupted.is_empty(), "{db}");
        // Run 1 writes nothing more; run 2 does.
        let counters = Default::default();
        assert!(!store.import_progress(ws.id, kept.id, 1, &counters, 210).await.unwrap(), "{db}");
        assert!(store.import_progress(ws.id, kept.id, 2, &counters, 210).await.unwrap(), "{db}");
        let end = ImportEnd { status: ImportStatus::Done, counters, error: None, report: None };
        assert!(!store.finish_import(ws.id, kept.id, 1, &end, 220).await.unwrap(), "{db}");

        // Stopped again: a third run; then no more.
        // Another server's run is taken over beside the caller's own, which is left alone.
        let with_other = store.take_over_imports(None, 211, 300, 3, &[elsewhere.id]).await.unwrap();
        assert_eq!(with_other.resumed.iter().map(|i| i.id).collect::<Vec<_>>(), [kept.id], "{db}");
        assert_eq!(status(other.id, elsewhere.id).await.runs, 1, "{db}");
        assert_eq!(store.take_over_imports(None, 211, 300, 3, &[]).await.unwrap().resumed.len(), 1, "{db}: the other");
        assert_eq!(status(ws.id, kept.id).await.runs, 3, "{db}");
        let last = store.take_over_imports(Some(ws.id), 301, 400, 3, &[]).await.unwrap();
        let stopped: Vec<i64> = last.interrupted.iter().map(|i| i.id).collect();
        assert_eq!((last.resumed.len(), stopped), (0, vec![kept.id]), "{db}");
        let gone = status(ws.id, kept.id).await;
        assert_eq!((gone.status, gone.runs), (ImportStatus::Interrupted, 3), "{db}");
        assert!(store.import_file(ws.id, kept.id, 0).await.unwrap().is_none(), "{db}: its file goes");
        assert!(store.import_file(other.id, elsewhere.id, 0).await.unwrap().is_some(), "{db}");
    }
    stores.cleanup().await;
}
