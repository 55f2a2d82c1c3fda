//! `/me` and `/admins`: the workspace's teammates.

use axum::Json as JsonResponse;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use serde_json::{Value as Json, json};

use super::{ApiRoute, path_id, route, shapes};
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

pub fn routes() -> Vec<ApiRoute> {
    vec![
        route(Method::GET, "/me", "The teammate the token acts as, with the workspace", None, "me", me),
        route(Method::GET, "/admins", "List teammates", None, "admin_list", list),
        route(Method::GET, "/admins/{id}", "Get a teammate", None, "admin", get),
    ]
}

async fn me(caller: Caller) -> JsonResponse<Json> {
    let mut admin = shapes::admin(&caller.teammate);
    admin["app"] = shapes::app(&caller.workspace);
    JsonResponse(admin)
}

async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<JsonResponse<Json>> {
    let admins: Vec<Json> = state.store.teammates(caller.workspace.id).await?.iter().map(shapes::admin).collect();
    Ok(JsonResponse(json!({"type": "admin.list", "admins": admins})))
}

async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<JsonResponse<Json>> {
    let missing = || ApiError::new(StatusCode::NOT_FOUND, "admin_not_found", "Admin not found");
    let id = path_id(&id).ok_or_else(missing)?;
    let t = state.store.teammate(caller.workspace.id, id).await?.ok_or_else(missing)?;
    Ok(JsonResponse(shapes::admin(&t)))
}
