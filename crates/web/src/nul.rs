//! NUL characters refused before any handler reads them, wherever they come in: in the path, in
//! the query string, or in a form. PostgreSQL refuses NUL in text where SQLite stores it; refusing
//! it at the door makes both answer the same, a 400 that names the field. (JSON bodies are checked
//! by the API's `Body` extractor, which can name the path inside the document.)

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Forms are small; a larger one is refused by the same limit the JSON API has.
const FORM_LIMIT: usize = 2 * 1024 * 1024;

/// Where `%00` (a percent-encoded NUL) stands in `a=1&b=%00`: the name of its field.
fn field_with_nul(encoded: &str) -> Option<String> {
    encoded.split('&').find(|kv| has_nul(kv)).map(|kv| kv.split('=').next().unwrap_or_default().to_owned())
}

fn has_nul(encoded: &str) -> bool {
    encoded.as_bytes().windows(3).any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0')
}

fn refused(field: &str) -> Response {
    ApiError::bad_request(field, format!("{field} must not contain a NUL character (%00)")).into_response()
}

/// Middleware for every route.
pub async fn refuse(req: Request, next: Next) -> Response {
    if has_nul(req.uri().path()) {
        return refused("path");
    }
    if let Some(field) = req.uri().query().and_then(field_with_nul) {
        return refused(&field);
    }
    let form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, FORM_LIMIT).await else {
        return ApiError::bad_request("body", "The form is too large or was cut short").into_response();
    };
    if let Some(field) = std::str::from_utf8(&bytes).ok().and_then(field_with_nul) {
        return refused(&field);
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_field_that_holds_a_nul() {
        assert_eq!(field_with_nul("email=a%40b&password=x%00y"), Some("password".into()));
        assert_eq!(field_with_nul("search=ok&state=sent"), None);
        assert_eq!(field_with_nul("q=%2500"), None, "an encoded percent sign followed by 00 is not a NUL");
    }
}
