//! Images for message bodies: a teammate uploads one from the composer (`POST /app/uploads`, the
//! file's bytes as the body, with the session's CSRF token), and contacts' Messengers and mail
//! readers load it from its public address, `/files/{token}`.
//!
//! Every teammate may upload, as every teammate may compose. The engine checks the file (its
//! size, and that its first bytes are a PNG, JPEG, GIF or WebP image) and keeps it in the
//! database. A file is served with the type found then, `nosniff`, a policy under which nothing
//! in it could run, and a year's cache: its token never names other bytes.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tidings_engine::uploads::MAX_UPLOAD_BYTES;

use super::session::Admin;
use crate::AppState;
use crate::error::ApiError;

/// The limit on an upload's request body: above the engine's limit, so a file a little too
/// large is refused by the engine with its size named, and far larger ones here.
pub const BODY_LIMIT: usize = MAX_UPLOAD_BYTES + 1024 * 1024;

/// The policy of a served file: it is an image, nothing in it may load or run.
const FILE_POLICY: &str = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox";

/// `POST /app/uploads`: keeps the image in the body and answers with its public address.
pub async fn upload(
    State(state): State<AppState>,
    admin: Admin,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let answer = async {
        let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !admin.csrf_ok(sent) {
            return Err(ApiError::forbidden("Missing or wrong CSRF token: reload the page and try again"));
        }
        let bytes =
            body.map_err(|_| ApiError::bad_request("file", "An image may be at most 5 MB; this one is larger."))?;
        let up = state.engine.upload_image(&admin.workspace, &admin.teammate, &bytes).await?;
        Ok::<_, ApiError>(axum::Json(json!({
            "type": "upload",
            "id": up.id.to_string(),
            "url": format!("{}/files/{}", state.config.public_url.trim_end_matches('/'), up.token),
            "content_type": up.content_type,
            "size": up.bytes.len(),
        })))
    };
    answer.await.map_or_else(IntoResponse::into_response, IntoResponse::into_response)
}

/// `GET /files/{token}`: an uploaded image, to anyone who has its address.
pub async fn file(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    // Tokens are 64 hex digits; anything else is not one, and is not looked up.
    if token.len() != 64 || !token.chars().all(|c| c.is_ascii_hexdigit()) {
        return (StatusCode::NOT_FOUND, "No such file.").into_response();
    }
    let up = match state.store.upload_by_token(&token).await {
        Ok(Some(up)) => up,
        Ok(None) => return (StatusCode::NOT_FOUND, "No such file.").into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let mut r = up.bytes.into_response();
    let h = r.headers_mut();
    let content_type =
        HeaderValue::from_str(&up.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, content_type);
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(FILE_POLICY));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    // Contacts load it from the company's own site and from their mail readers.
    h.insert(HeaderName::from_static("cross-origin-resource-policy"), HeaderValue::from_static("cross-origin"));
    r
}
