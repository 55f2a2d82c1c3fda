//! An uploaded import's file, kept in pieces: read back in order within its workspace only,
//! gone with an import deleted before it started, kept while it runs and dropped when it ends.

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
        assert!(store.finish_import(ws.id, second.id, &end, 300).await.unwrap(), "{db}");
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
