//! `/identity_secret`: the secret customers' servers key `user_hash` with, read and rotated by
//! the workspace's owner and admins. A Tidings extension: Intercom shows its secret only in its
//! own settings.

use axum::Json as JsonResponse;
use axum::extract::State;
use axum::http::Method;
use serde_json::{Value as Json, json};
use tidings_store::Workspace;

use super::{ApiRoute, route};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::provision;
use crate::roles::Permission;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        route(
            Method::GET,
            "/identity_secret",
            "The identity secret that user_hash is keyed with (Tidings extension; owner and admins)",
            None,
            "identity_secret",
            get,
        ),
        route(
            Method::POST,
            "/identity_secret/rotate",
            "Replace the identity secret: every user_hash must be recomputed with the new one, and every Messenger session ends (Tidings extension; owner and admins)",
            None,
            "identity_secret",
            rotate,
        ),
    ]
}

fn shape(ws: &Workspace) -> Json {
    json!({
        "type": "identity_secret",
        "identity_secret": ws.identity_secret,
        "rotated_at": ws.identity_secret_rotated_at,
    })
}

async fn get(caller: Caller) -> ApiResult<JsonResponse<Json>> {
    caller.require(Permission::IdentitySecret)?;
    Ok(JsonResponse(shape(&caller.workspace)))
}

async fn rotate(State(state): State<AppState>, caller: Caller) -> ApiResult<JsonResponse<Json>> {
    caller.require(Permission::IdentitySecret)?;
    let ws = provision::rotate_identity_secret(&state, caller.workspace.id).await?;
    Ok(JsonResponse(shape(&ws)))
}

/// The OpenAPI schemas of this module.
pub(crate) fn schemas() -> Json {
    json!({
        "identity_secret": {"type": "object", "properties": {
            "type": {"const": "identity_secret"},
            "identity_secret": {"type": "string", "description": "the key of user_hash: hex HMAC-SHA256 of the user_id (or email)"},
            "rotated_at": {"type": ["integer", "null"], "description": "UNIX seconds of the last rotation; null if never rotated"},
        }},
    })
}
