//! `/healthz`: whether this node can serve, for load balancers and orchestrators. It reports the
//! database (a query answered) and the bus (connected, or in process), with 200 when both are up
//! and 503 otherwise. It needs no credentials and says nothing about any workspace.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value as JsonValue, json};

use crate::AppState;

pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<JsonValue>) {
    let database = state.store.scalar_raw("SELECT CAST(1 AS BIGINT)").await.is_ok();
    let bus = state.engine.bus();
    let connected = bus.healthy();
    let ok = database && connected;
    let body = json!({
        "status": if ok { "ok" } else { "unavailable" },
        "database": {"ok": database},
        "bus": {"kind": bus.kind(), "ok": connected},
    });
    (if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(body))
}
