//! The REST API, shaped like Intercom's (v2.11 shapes, 2.14 tolerated), so integrations and the
//! official SDKs work against Tidings by changing the base URL.
//!
//! Each resource module lists its routes as [`ApiRoute`]s. The router and the OpenAPI document
//! (`/openapi.json`) are both built from those lists, so the document cannot drift from what is
//! served.

mod admins;
mod attributes;
mod contacts;
mod conversations;
mod identity;
mod manual_messages;
mod messages;
mod openapi;
mod segments;
mod shapes;
mod tags;
pub(crate) mod webhooks;

use std::collections::BTreeMap;

use axum::Router;
use axum::http::{Method, StatusCode};
use axum::routing::MethodRouter;
use serde_json::{Value as Json, json};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
pub(crate) use crate::input::{Body, fields, parse_id, path_id};
pub(crate) use crate::routes::{ApiRoute, route};

pub use openapi::document as openapi_document;

/// The calendar filters count days in: now, in the caller's workspace's time zone.
pub(crate) fn clock(engine: &tidings_engine::Engine, caller: &Caller) -> tidings_core::dates::Clock {
    tidings_engine::filters::calendar(&caller.workspace, engine.now())
}

/// Every API route, in documentation order.
pub fn routes() -> Vec<ApiRoute> {
    let mut all = Vec::new();
    all.extend(admins::routes());
    all.extend(contacts::routes());
    all.extend(attributes::routes());
    all.extend(segments::routes());
    all.extend(tags::routes());
    all.extend(manual_messages::routes());
    all.extend(messages::routes());
    all.extend(conversations::routes());
    all.extend(identity::routes());
    all.extend(webhooks::routes());
    all.extend(openapi::routes());
    all
}

pub fn router() -> Router<AppState> {
    let mut by_path: BTreeMap<&'static str, MethodRouter<AppState>> = BTreeMap::new();
    for r in routes() {
        let merged = match by_path.remove(r.path) {
            Some(existing) => existing.merge(r.handler),
            None => r.handler,
        };
        by_path.insert(r.path, merged);
    }
    by_path.into_iter().fold(Router::new(), |router, (path, handler)| router.route(path, handler))
}

/// Unknown paths and methods: Intercom answers 404 `not_found` for both.
pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "Resource Not Found: check the path and the HTTP method")
}

/// A known path called with a method it does not take: 405, with the methods it does take in
/// the `Allow` header (which the router adds).
pub async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "unsupported",
        format!("This path does not take {method}: the Allow header lists the methods it does"),
    )
}

/// The pagination cursor: `o` and the offset of the next page. Stateless, as Intercom's is;
/// clients pass it back as it came. [`CURSOR_PATTERN`] says exactly which texts are cursors, so
/// the document can too, while a mistyped one is still refused.
pub(crate) fn encode_cursor(offset: i64) -> String {
    format!("o{}", offset.max(0))
}

/// What a cursor looks like: `o` and up to 18 digits, which always fit an offset.
pub(crate) const CURSOR_PATTERN: &str = "^o[0-9]{1,18}$";

pub(crate) fn decode_cursor(cursor: &str, field: &str) -> ApiResult<i64> {
    cursor
        .strip_prefix('o')
        .filter(|n| !n.is_empty() && n.len() <= 18 && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| ApiError::bad_request(field, format!("{field} is not a cursor this server gave out")))
}

/// Reads `per_page` (1 to 150) with a default.
pub(crate) fn per_page(v: Option<&Json>, default: i64, field: &str) -> ApiResult<i64> {
    match v {
        None | Some(Json::Null) => Ok(default),
        Some(v) => parse_id(v)
            .filter(|n| (1..=150).contains(n))
            .ok_or_else(|| ApiError::bad_request(field, format!("{field} must be a whole number from 1 to 150"))),
    }
}

/// `per_page` (with a default) and the `starting_after` cursor of a GET list: `(offset, per_page)`.
pub(crate) fn list_page(q: &std::collections::HashMap<String, String>, default: i64) -> ApiResult<(i64, i64)> {
    let per_page = per_page(q.get("per_page").map(|v| json!(v)).as_ref(), default, "per_page")?;
    let offset = match q.get("starting_after") {
        Some(c) if !c.is_empty() => decode_cursor(c, "starting_after")?,
        _ => 0,
    };
    Ok((offset, per_page))
}

/// The `pages` object of a list.
pub(crate) fn pages(offset: i64, per_page: i64, total: i64) -> Json {
    let page = offset / per_page.max(1) + 1;
    let total_pages = (total + per_page - 1) / per_page.max(1);
    let mut pages = json!({"type": "pages", "page": page, "per_page": per_page, "total_pages": total_pages});
    if offset + per_page < total {
        pages["next"] =
            json!({"page": page + 1, "per_page": per_page, "starting_after": encode_cursor(offset + per_page)});
    }
    pages
}
