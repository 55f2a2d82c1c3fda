//! Images teammates upload, through the engine: checked by their first bytes and size, kept with
//! the workspace, the teammate and the time, under a fresh unguessable token each.

use tidings_engine::EngineError;
use tidings_engine::uploads::MAX_UPLOAD_BYTES;

use super::support::World;

fn field_of(e: EngineError) -> String {
    match e {
        EngineError::Invalid(errors) => errors.0.first().map(|e| e.field.clone()).unwrap_or_default(),
        other => panic!("not a refusal naming a field: {other:?}"),
    }
}

#[tokio::test]
async fn only_images_of_at_most_five_megabytes_are_kept() {
    for w in World::both().await {
        let db = w.db;
        let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec();
        let a = w.engine.upload_image(&w.ws, &w.owner, &gif).await.unwrap();
        let b = w.engine.upload_image(&w.ws, &w.owner, &gif).await.unwrap();
        assert_eq!(
            (a.content_type.as_str(), a.uploaded_by, a.created_at),
            ("image/gif", Some(w.owner.id), w.engine.now()),
            "{db}"
        );
        assert_ne!(a.token, b.token, "{db}: each upload has its own token");
        assert_eq!(w.store.upload_by_token(&a.token).await.unwrap().map(|u| u.bytes), Some(gif), "{db}");

        // A page that calls itself an image, an empty file, one byte too many: refused, nothing kept.
        let kept = w.store.scalar_raw("SELECT COUNT(*) FROM uploads").await.unwrap();
        let html = b"<!doctype html><script>alert(1)</script>";
        assert_eq!(field_of(w.engine.upload_image(&w.ws, &w.owner, html).await.unwrap_err()), "file", "{db}");
        assert_eq!(field_of(w.engine.upload_image(&w.ws, &w.owner, b"").await.unwrap_err()), "file", "{db}");
        let mut big = b"\x89PNG\r\n\x1a\n".to_vec();
        big.resize(MAX_UPLOAD_BYTES + 1, 0);
        assert_eq!(field_of(w.engine.upload_image(&w.ws, &w.owner, &big).await.unwrap_err()), "file", "{db}");
        big.truncate(MAX_UPLOAD_BYTES);
        assert!(w.engine.upload_image(&w.ws, &w.owner, &big).await.is_ok(), "{db}: exactly 5 MB is allowed");
        assert_eq!(w.store.scalar_raw("SELECT COUNT(*) FROM uploads").await.unwrap(), kept + 1, "{db}");
        w.cleanup().await;
    }
}
