//! Email in the admin app: the composer's email preview (as one contact will see it) and its
//! "send a test to me" (Settings › Email is in `settings.rs`, its section in `email_settings.rs`).
//!
//! The preview's HTML is the engine's letter, shown in a sandboxed frame from its own route,
//! `POST /app/email/preview.html`, under a policy of its own: no script at all, styles only
//! inline (a letter's CSS is written on its elements), and framed only by our own pages. The app's
//! own policy stays as strict as it is. The composer posts its fields to that route into the
//! frame, and asks `POST /app/email/preview` for the rest (subject, sender, plain text).

use axum::Form;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tidings_core::message::EmailTemplate;
use tidings_engine::email::compose::{EmailDraft, NO_SENDER};

use super::session::Admin;
use crate::AppState;
use crate::error::ApiError;

/// The policy of a previewed email: nothing runs, nothing loads but images, only our pages may
/// frame it, and it is sandboxed even when opened on its own.
const PREVIEW_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox";

/// The composer's email fields, as JSON from its script or as the form it posts into the
/// preview frame. Ids come as the page holds them: strings, empty for none.
#[derive(Deserialize, Default)]
pub struct DraftFields {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    sender_id: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    template: String,
    #[serde(default)]
    contact_id: String,
}

impl DraftFields {
    fn draft(&self) -> Result<(EmailDraft, Option<i64>), ApiError> {
        let id = |field: &str, v: &str| -> Result<Option<i64>, ApiError> {
            let v = v.trim();
            if v.is_empty() {
                return Ok(None);
            }
            v.parse().map(Some).map_err(|_| ApiError::bad_request(field, format!("{field} must be an id")))
        };
        let template = match self.template.as_str() {
            "" => EmailTemplate::default(),
            t => EmailTemplate::parse(t)
                .ok_or_else(|| ApiError::bad_request("template", "template must be plain or personal"))?,
        };
        let draft = EmailDraft {
            sender_id: id("sender_id", &self.sender_id)?,
            subject: self.subject.clone(),
            body: self.body.clone(),
            template,
        };
        Ok((draft, id("contact_id", &self.contact_id)?))
    }
}

/// The fields of a JSON request from the composer's script, after its CSRF header is checked.
fn json_fields(admin: &Admin, headers: &HeaderMap, body: &Bytes) -> Result<DraftFields, ApiError> {
    let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !admin.csrf_ok(sent) {
        return Err(ApiError::forbidden("Missing or wrong CSRF token: reload the page and try again"));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request("body", format!("The request is not JSON: {e}")))
}

/// `POST /app/email/preview`: the email as the chosen contact will read it, as JSON (subject,
/// from, reply-to, the plain-text part, and the HTML the frame shows).
pub async fn preview(State(state): State<AppState>, admin: Admin, headers: HeaderMap, body: Bytes) -> Response {
    let answer = async {
        let (draft, contact) = json_fields(&admin, &headers, &body)?.draft()?;
        let letter = state.engine.preview_email(&admin.workspace, &admin.teammate, &draft, contact).await?;
        let from_address = (letter.from_address != NO_SENDER).then_some(letter.from_address.as_str());
        Ok::<_, ApiError>(axum::Json(json!({
            "type": "email_preview",
            "subject": letter.subject,
            "from_name": letter.from_name,
            "from_address": from_address,
            "reply_to": letter.reply_to,
            "to_name": letter.to_name,
            "to_address": Some(letter.to_address.as_str()).filter(|a| !a.is_empty()),
            "text": letter.text,
            "html": letter.html,
        })))
    };
    answer.await.map_or_else(IntoResponse::into_response, IntoResponse::into_response)
}

/// `POST /app/email/preview.html`: the email's HTML alone, for the composer's sandboxed frame.
pub async fn preview_html(State(state): State<AppState>, admin: Admin, Form(f): Form<DraftFields>) -> Response {
    if !admin.csrf_ok(&f.csrf) {
        return (StatusCode::FORBIDDEN, "Missing or wrong CSRF token: reload the page and try again").into_response();
    }
    let html = match f.draft() {
        Ok((draft, contact)) => {
            match state.engine.preview_email(&admin.workspace, &admin.teammate, &draft, contact).await {
                Ok(letter) => letter.html,
                Err(e) => notice_document(&error_text(&ApiError::from(e))),
            }
        }
        Err(e) => notice_document(&error_text(&e)),
    };
    let mut r = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PREVIEW_POLICY));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A one-line document for the frame when there is no email to show yet.
fn notice_document(text: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"></head>\
         <body style=\"font-family:sans-serif;color:#52606d;padding:16px;\">{}</body></html>",
        tidings_core::personalise::escape_html(text)
    )
}

fn error_text(e: &ApiError) -> String {
    e.errors.first().map(|e| e.message.clone()).unwrap_or_else(|| "Something went wrong".into())
}

/// `POST /app/email/test`: sends the email, personalised as the chosen contact, to the
/// signed-in teammate's own address. Nothing is recorded as a delivery.
pub async fn send_test(State(state): State<AppState>, admin: Admin, headers: HeaderMap, body: Bytes) -> Response {
    let answer = async {
        let (draft, contact) = json_fields(&admin, &headers, &body)?.draft()?;
        let to = state.engine.send_test_email(&admin.workspace, &admin.teammate, &draft, contact).await?;
        Ok::<_, ApiError>(axum::Json(json!({"type": "email_test", "sent_to": to})))
    };
    answer.await.map_or_else(IntoResponse::into_response, IntoResponse::into_response)
}
