//! The background work: supervised, stopped gracefully, and exactly as its steps say.

use tidings_engine::presence;

use super::support::{START, World};

#[tokio::test]
async fn pings_are_written_in_batches_and_the_last_ones_at_shutdown() {
    for w in World::both().await {
        let db = w.db;
        let ada = w.contact("Ada").await;
        w.engine.presence().record(w.ws.id, ada.id);
        w.clock.set(START + 42);
        assert_eq!(presence::step(&w.engine, w.engine.now()).await, 1, "{db}");
        let seen = w.store.contact(w.ws.id, ada.id).await.unwrap().unwrap().last_seen_at;
        assert_eq!(seen, Some(START + 42), "{db}");
        assert_eq!(presence::step(&w.engine, START + 43).await, 0, "{db}: nothing new");

        // A ping just before shutdown is still written.
        let background = w.engine.start_background();
        w.clock.set(START + 100);
        w.engine.presence().record(w.ws.id, ada.id);
        background.shutdown().await;
        let seen = w.store.contact(w.ws.id, ada.id).await.unwrap().unwrap().last_seen_at;
        assert_eq!(seen, Some(START + 100), "{db}");
        w.cleanup().await;
    }
}
