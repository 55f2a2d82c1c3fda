//! Optional fields of a JSON body, read exactly as `/openapi.json` describes them: a field that
//! is there and not `null` must be of its documented kind, never silently ignored.

use serde_json::{Map, Value as Json};

use super::parse_id;
use crate::error::{ApiError, ApiResult};

/// The field, when it is there and not `null`.
pub(crate) fn present<'a>(b: &'a Map<String, Json>, key: &str) -> Option<&'a Json> {
    b.get(key).filter(|v| !v.is_null())
}

/// Text, or nothing.
///
/// # Errors
/// On `path`, when the field holds anything else.
pub(crate) fn text<'a>(b: &'a Map<String, Json>, key: &str, path: &str) -> ApiResult<Option<&'a str>> {
    match present(b, key) {
        None => Ok(None),
        Some(Json::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::bad_request(path, format!("{path} must be text"))),
    }
}

/// `true` or `false`, or nothing.
///
/// # Errors
/// On `path`, when the field holds anything else.
pub(crate) fn boolean(b: &Map<String, Json>, key: &str, path: &str) -> ApiResult<Option<bool>> {
    match present(b, key) {
        None => Ok(None),
        Some(Json::Bool(v)) => Ok(Some(*v)),
        Some(_) => Err(ApiError::bad_request(path, format!("{path} must be true or false"))),
    }
}

/// An id (a whole number, or its digits as text), or nothing.
///
/// # Errors
/// On `path`, when the field holds anything else.
pub(crate) fn id(b: &Map<String, Json>, key: &str, path: &str) -> ApiResult<Option<i64>> {
    match present(b, key) {
        None => Ok(None),
        Some(v) => parse_id(v).map(Some).ok_or_else(|| ApiError::bad_request(path, format!("{path} must be an id"))),
    }
}

/// An object, or nothing.
///
/// # Errors
/// On `path`, when the field holds anything else.
pub(crate) fn object<'a>(b: &'a Map<String, Json>, key: &str, path: &str) -> ApiResult<Option<&'a Map<String, Json>>> {
    match present(b, key) {
        None => Ok(None),
        Some(Json::Object(o)) => Ok(Some(o)),
        Some(_) => Err(ApiError::bad_request(path, format!("{path} must be an object"))),
    }
}
