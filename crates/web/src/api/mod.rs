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
mod fields;
mod identity;
mod manual_messages;
mod messages;
mod openapi;
mod segments;
mod shapes;
mod tags;

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::routing::{MethodFilter, MethodRouter, on};
use serde_json::{Map, Value as Json, json};
use tidings_core::attribute::CustomAttribute;
use tidings_core::dates::Clock;
use tidings_core::filter::{MessageHistory, Schema};

use crate::AppState;
use crate::auth::{Caller, now};
use crate::error::{ApiError, ApiResult};

pub use manual_messages::send_scheduled;
pub use openapi::document as openapi_document;

/// One API operation: its documentation and its handler.
pub struct ApiRoute {
    pub method: Method,
    pub path: &'static str,
    pub summary: &'static str,
    /// A schema name in the OpenAPI components, for the request body.
    pub request: Option<&'static str>,
    /// A schema name in the OpenAPI components, for the 200 response.
    pub response: &'static str,
    pub handler: MethodRouter<AppState>,
}

pub(crate) fn route<H, T>(
    method: Method,
    path: &'static str,
    summary: &'static str,
    request: Option<&'static str>,
    response: &'static str,
    handler: H,
) -> ApiRoute
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).expect("a standard HTTP method");
    ApiRoute { method, path, summary, request, response, handler: on(filter, handler) }
}

/// A documented route whose handler is already a method router (the Messenger's routes).
pub(crate) fn route_for(
    method: Method,
    path: &'static str,
    summary: &'static str,
    request: Option<&'static str>,
    response: &'static str,
    handler: MethodRouter<AppState>,
) -> ApiRoute {
    ApiRoute { method, path, summary, request, response, handler }
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

/// A JSON object request body. An empty body reads as `{}`; anything that is not a JSON object is
/// refused with a 400 that says why.
pub struct Body(pub Map<String, Json>);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::new(e.status(), "parameter_invalid", e.body_text()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Body(Map::new()));
        }
        match serde_json::from_slice::<Json>(&bytes) {
            // PostgreSQL refuses NUL in text where SQLite stores it: refused here, for both alike,
            // wherever in the body it stands.
            Ok(body) if let Some(path) = tidings_core::text::find_nul(&body, "") => {
                Err(ApiError::bad_request(&path, format!("{path} must not contain a NUL character (\\u0000)")))
            }
            Ok(Json::Object(map)) => Ok(Body(map)),
            Ok(_) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "parameter_invalid",
                "The request body must be a JSON object",
            )),
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "parameter_invalid",
                format!("Invalid JSON in the request body: {e}"),
            )),
        }
    }
}

/// Parses an id from a JSON value: a whole number, or its digits as text (`"42"`), as
/// `/openapi.json` describes ids.
pub(crate) fn parse_id(v: &Json) -> Option<i64> {
    match v {
        Json::Number(n) => tidings_core::attribute::whole_number(n),
        Json::String(s) => path_id(s),
        _ => None,
    }
}

/// Parses an id from a path segment: 1 to 18 digits, nothing else.
pub(crate) fn path_id(raw: &str) -> Option<i64> {
    (!raw.is_empty() && raw.len() <= 18 && raw.bytes().all(|b| b.is_ascii_digit())).then(|| raw.parse().ok())?
}

/// What the filter language can refer to in a workspace, loaded once per request.
pub(crate) struct SchemaData {
    pub custom: Vec<CustomAttribute>,
    pub tag_ids: Vec<i64>,
    pub segments: Vec<(i64, Json)>,
    pub message_ids: Vec<i64>,
}

impl SchemaData {
    /// Loads what `queries` can refer to. Saved segments' queries are scanned too, so that a
    /// segment naming a message can be used.
    pub async fn load(state: &AppState, caller: &Caller, queries: &[&Json]) -> ApiResult<Self> {
        let ws = caller.workspace.id;
        let custom = state.store.custom_attributes(ws).await?;
        let tag_ids = state.store.tags(ws).await?.into_iter().map(|t| t.id).collect();
        let segments: Vec<(i64, Json)> = state.store.segments(ws).await?.into_iter().map(|s| (s.id, s.query)).collect();
        let mut wanted = Vec::new();
        for q in queries.iter().copied().chain(segments.iter().map(|(_, q)| q)) {
            message_refs(q, &mut wanted);
        }
        wanted.sort_unstable();
        wanted.dedup();
        let mut message_ids = Vec::new();
        for id in wanted {
            if state.store.message(ws, id).await?.is_some() {
                message_ids.push(id);
            }
        }
        Ok(SchemaData { custom, tag_ids, segments, message_ids })
    }

    pub fn schema(&self) -> Schema<'_> {
        Schema {
            custom: &self.custom,
            tag_ids: &self.tag_ids,
            segments: &self.segments,
            message_ids: &self.message_ids,
        }
    }
}

/// The message ids named by message-history filters anywhere in a query.
fn message_refs(query: &Json, out: &mut Vec<i64>) {
    match query {
        Json::Object(o) => {
            let history = o.get("field").and_then(Json::as_str).is_some_and(|f| {
                [MessageHistory::Targeted, MessageHistory::Received, MessageHistory::Seen]
                    .iter()
                    .any(|h| h.field() == f)
            });
            if history {
                out.extend(o.get("value").and_then(parse_id));
            }
            o.values().for_each(|v| message_refs(v, out));
        }
        Json::Array(a) => a.iter().for_each(|v| message_refs(v, out)),
        _ => {}
    }
}

/// The clock filters use: now, in the workspace's time zone.
pub(crate) fn clock(caller: &Caller) -> Clock {
    Clock::new(now(), Clock::zone(&caller.workspace.timezone))
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
