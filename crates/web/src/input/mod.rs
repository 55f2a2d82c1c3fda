//! Reading requests the same way wherever they arrive (the REST API, the Messenger): a JSON
//! object body, ids, and optional fields read exactly as `/openapi.json` describes them.

pub(crate) mod fields;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde_json::{Map, Value as Json};

use crate::error::ApiError;

/// A JSON object request body. A body left out (no bytes at all) reads as `{}`; anything that is
/// not a JSON object, white space alone included, is refused with a 400 that says why.
pub struct Body(pub Map<String, Json>);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::new(e.status(), "parameter_invalid", e.body_text()))?;
        if bytes.is_empty() {
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
        // Ids are never negative: the document's id kind starts at 0.
        Json::Number(n) => tidings_core::attribute::whole_number(n).filter(|id| *id >= 0),
        Json::String(s) => path_id(s),
        _ => None,
    }
}

/// Parses an id from a path segment: 1 to 18 digits, nothing else.
pub(crate) fn path_id(raw: &str) -> Option<i64> {
    (!raw.is_empty() && raw.len() <= 18 && raw.bytes().all(|b| b.is_ascii_digit())).then(|| raw.parse().ok())?
}
