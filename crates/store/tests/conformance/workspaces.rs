//! Workspaces: rotating the identity secret.

use super::support::{Stores, workspace};

#[tokio::test]
async fn rotating_the_identity_secret_changes_only_that_workspace() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let other = workspace(store).await;
        assert_eq!(ws.identity_secret_rotated_at, None, "{db}: never rotated");

        let rotated = store.rotate_identity_secret(ws.id, "new-secret", 1_800_000_000).await.unwrap().unwrap();
        assert_eq!(
            (rotated.identity_secret.as_str(), rotated.identity_secret_rotated_at),
            ("new-secret", Some(1_800_000_000)),
            "{db}"
        );
        let read = store.workspace(ws.id).await.unwrap().unwrap();
        assert_eq!(read, rotated, "{db}: what it returns is what is stored");
        let expected = tidings_store::Workspace {
            identity_secret: "new-secret".into(),
            identity_secret_rotated_at: Some(1_800_000_000),
            ..ws.clone()
        };
        assert_eq!(read, expected, "{db}: nothing else of the workspace changed");
        assert_eq!(
            store.workspace(other.id).await.unwrap().unwrap(),
            other,
            "{db}: the other workspace kept its secret"
        );
        assert_eq!(store.rotate_identity_secret(-1, "x", 1).await.unwrap(), None, "{db}: no such workspace");
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn the_messenger_look_changes_only_that_workspace() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let other = workspace(store).await;
        assert_eq!(
            (ws.messenger_color.as_str(), ws.messenger_greeting.as_str(), ws.reply_email_after),
            (tidings_store::DEFAULT_MESSENGER_COLOR, "", 300),
            "{db}: a new workspace's look"
        );

        let changed = store.update_messenger_look(ws.id, "Acme Support", "#0a7d4f", "Ask us anything").await.unwrap();
        let expected = tidings_store::Workspace {
            name: "Acme Support".into(),
            messenger_color: "#0a7d4f".into(),
            messenger_greeting: "Ask us anything".into(),
            ..ws.clone()
        };
        assert_eq!(changed.as_ref(), Some(&expected), "{db}: nothing else of the workspace changed");
        assert_eq!(store.workspace(ws.id).await.unwrap(), Some(expected), "{db}: what it returns is what is stored");
        assert_eq!(store.workspace(other.id).await.unwrap(), Some(other), "{db}: the other workspace is untouched");
        assert_eq!(store.update_messenger_look(-1, "X", "#000000", "").await.unwrap(), None, "{db}: no such workspace");
    }
    stores.cleanup().await;
}
