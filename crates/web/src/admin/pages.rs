//! The admin app's pages: the user list with its filter builder, the contact profile, and
//! settings (teammates, API tokens, data attributes).

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use tidings_core::attribute::{BUILT_INS, CustomAttribute, DataType, Value, validate_custom_name};
use tidings_core::contact::Contact;
use tidings_core::filter::operators_for;
use tidings_core::message::MessageState;
use tidings_core::text;
use tidings_store::{ApiToken, AppliedTag, MessageListQuery, Segment, Teammate};

use super::session::{Admin, render};
use crate::AppState;
use crate::auth::now;
use crate::error::ApiError;
use crate::provision;

/// Formats UNIX seconds for people, in the workspace's time zone.
pub(super) fn when(ts: Option<i64>, tz: &str) -> String {
    let Some(ts) = ts else { return "—".into() };
    let zone = tidings_core::dates::Clock::zone(tz);
    jiff::Timestamp::from_second(ts)
        .map(|t| t.to_zoned(zone).strftime("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|_| ts.to_string())
}

/// The attributes the filter builder offers, with the operators each takes.
pub(super) fn builder_schema(custom: &[CustomAttribute], tags: &[tidings_store::Tag], segments: &[Segment]) -> Json {
    let mut attrs: Vec<Json> = BUILT_INS
        .iter()
        .map(|b| json!({"field": b.name, "label": b.label, "type": b.data_type.as_str(), "operators": operators_for(b.data_type), "custom": false}))
        .collect();
    attrs.extend(custom.iter().filter(|a| !a.archived).map(|a| {
        json!({"field": format!("custom_attributes.{}", a.name), "label": a.label, "type": a.data_type.as_str(),
               "operators": operators_for(a.data_type), "options": a.options, "custom": true})
    }));
    json!({
        "attributes": attrs,
        "tags": tags.iter().map(|t| json!({"id": t.id, "name": t.name})).collect::<Vec<_>>(),
        "segments": segments.iter().map(|s| json!({"id": s.id, "name": s.name, "builtin": s.builtin})).collect::<Vec<_>>(),
    })
}

/// An error as the page's answer.
pub(super) fn fail(e: impl Into<ApiError>) -> Response {
    e.into().into_response()
}

/// The filter builder's schema, plus the messages a filter on message history can name ("has /
/// has not received message X"), for the user list and the composer.
pub(super) async fn filter_schema(state: &AppState, ws: i64, segments: &[Segment]) -> Result<Json, ApiError> {
    let custom = state.store.custom_attributes(ws).await?;
    let tags = state.store.tags(ws).await?;
    let mut schema = builder_schema(&custom, &tags, segments);
    let sent = MessageListQuery {
        states: vec![MessageState::Sending, MessageState::Stopped],
        search: None,
        offset: 0,
        limit: 100,
    };
    let (messages, _) = state.store.messages(ws, &sent).await?;
    schema["messages"] =
        messages.iter().map(|r| json!({"id": r.message.id, "name": r.message.title})).collect::<Vec<_>>().into();
    Ok(schema)
}

/// How a contact is named on pages: their name, else their email, else their id.
pub(super) fn contact_label(c: &Contact) -> String {
    c.name.clone().or_else(|| c.email.clone()).unwrap_or_else(|| format!("Contact {}", c.id))
}

struct SegmentLink {
    id: i64,
    name: String,
    active: bool,
}

#[derive(Template)]
#[template(path = "contacts.html")]
struct ContactsPage {
    admin_name: String,
    workspace: String,
    csrf: String,
    segments: Vec<SegmentLink>,
    segment_id: i64,
    segment_name: String,
    schema_json: String,
}

pub async fn contacts(
    State(state): State<AppState>,
    admin: Admin,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match contacts_page(&state, &admin, &q).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn contacts_page(state: &AppState, admin: &Admin, q: &HashMap<String, String>) -> Result<Response, ApiError> {
    let ws = admin.workspace.id;
    let segments = state.store.segments(ws).await?;
    let wanted = q.get("segment").and_then(|s| s.parse::<i64>().ok());
    let current = segments
        .iter()
        .find(|s| Some(s.id) == wanted)
        .or_else(|| segments.first())
        .ok_or_else(|| ApiError::internal("workspace has no segments"))?;
    let page = ContactsPage {
        admin_name: admin.teammate.name.clone(),
        workspace: admin.workspace.name.clone(),
        csrf: admin.session.csrf_token.clone(),
        segments: segments
            .iter()
            .map(|s| SegmentLink { id: s.id, name: s.name.clone(), active: s.id == current.id })
            .collect(),
        segment_id: current.id,
        segment_name: current.name.clone(),
        schema_json: filter_schema(state, ws, &segments).await?.to_string(),
    };
    Ok(render(&page))
}

struct Row {
    label: String,
    value: String,
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    admin_name: String,
    workspace: String,
    csrf: String,
    title: String,
    contact_id: i64,
    role: String,
    attributes: Vec<Row>,
    custom: Vec<Row>,
    tags: Vec<String>,
    activity: Vec<Row>,
    conversations: Vec<super::conversations::ConversationRow>,
    /// Messages the contact has received: a pending delivery is not shown until it is sent.
    received: Vec<Received>,
}

struct Received {
    message_id: i64,
    title: String,
    channel: &'static str,
    at: String,
    seen: bool,
}

fn show(v: Option<Value>, tz: &str) -> String {
    match v {
        None => "—".into(),
        Some(Value::Str(s)) => s,
        Some(Value::Int(i)) => i.to_string(),
        Some(Value::Float(f)) => f.to_string(),
        Some(Value::Bool(b)) => if b { "yes" } else { "no" }.into(),
        Some(Value::Date(d)) => when(Some(d), tz),
    }
}

pub async fn profile(State(state): State<AppState>, admin: Admin, Path(id): Path<String>) -> Response {
    let ws = admin.workspace.id;
    let found = match id.parse::<i64>() {
        Ok(id) => state.store.contact(ws, id).await,
        Err(_) => Ok(None),
    };
    let contact: Contact = match found {
        Ok(Some(c)) => c,
        Ok(None) => {
            return (StatusCode::NOT_FOUND, "No such contact in this workspace").into_response();
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let tz = admin.workspace.timezone.clone();
    let custom = state.store.custom_attributes(ws).await.unwrap_or_default();
    let tags: Vec<AppliedTag> =
        state.store.contact_tags(ws, &[contact.id]).await.unwrap_or_default().remove(&contact.id).unwrap_or_default();
    let attributes = BUILT_INS
        .iter()
        .filter(|b| b.data_type != DataType::Date)
        .map(|b| Row { label: b.label.into(), value: show(contact.builtin_value(b.name), &tz) })
        .collect();
    let custom_rows = custom
        .iter()
        .filter(|a| !a.archived)
        .map(|a| Row { label: a.label.clone(), value: show(contact.custom_value(&a.name, a.data_type), &tz) })
        .collect();
    let activity = BUILT_INS
        .iter()
        .filter(|b| b.data_type == DataType::Date)
        .map(|b| Row { label: b.label.into(), value: show(contact.builtin_value(b.name), &tz) })
        .collect();
    let title = contact_label(&contact);
    let (conversations, delivered) = match state.store.conversations_of_contact(ws, contact.id).await {
        Ok(list) => match super::conversations::rows(&state, &admin, list).await {
            Ok(rows) => (rows, state.store.delivered_in_app(ws, contact.id, 50).await),
            Err(e) => return e.into_response(),
        },
        Err(e) => return ApiError::from(e).into_response(),
    };
    let received = match delivered {
        Ok(list) => list
            .into_iter()
            .map(|(d, m)| Received {
                message_id: m.id,
                title: m.title,
                channel: if m.channel == tidings_core::message::Channel::Post { "announcement" } else { "chat" },
                at: when(d.sent_at, &tz),
                seen: d.seen_at.is_some(),
            })
            .collect(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    render(&ProfilePage {
        admin_name: admin.teammate.name.clone(),
        workspace: admin.workspace.name.clone(),
        csrf: admin.session.csrf_token.clone(),
        title,
        contact_id: contact.id,
        role: contact.role.as_str().into(),
        attributes,
        custom: custom_rows,
        tags: tags.into_iter().map(|t| t.tag.name).collect(),
        activity,
        conversations,
        received,
    })
}

struct TokenRow {
    id: i64,
    name: String,
    prefix: String,
    created: String,
    revoked: bool,
}

struct AttributeRow {
    name: String,
    data_type: String,
    description: String,
    archived: bool,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    admin_name: String,
    workspace: String,
    app_id: String,
    csrf: String,
    is_owner: bool,
    teammates: Vec<Teammate>,
    tokens: Vec<TokenRow>,
    attributes: Vec<AttributeRow>,
    message: Option<String>,
    error: Option<String>,
    new_token: Option<String>,
    identity_secret: String,
    identity_required: bool,
    allowed_origins: String,
    public_url: String,
}

#[derive(Default)]
struct Notice {
    message: Option<String>,
    error: Option<String>,
    new_token: Option<String>,
}

async fn settings_page(state: &AppState, admin: &Admin, notice: Notice) -> Response {
    let ws = admin.workspace.id;
    let tz = &admin.workspace.timezone;
    let (teammates, tokens, attributes) = match (
        state.store.teammates(ws).await,
        state.store.api_tokens(ws).await,
        state.store.custom_attributes(ws).await,
    ) {
        (Ok(t), Ok(k), Ok(a)) => (t, k, a),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            return ApiError::from(e).into_response();
        }
    };
    let status = if notice.error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let mut response = render(&SettingsPage {
        admin_name: admin.teammate.name.clone(),
        workspace: admin.workspace.name.clone(),
        app_id: admin.workspace.app_id.clone(),
        csrf: admin.session.csrf_token.clone(),
        is_owner: admin.teammate.role == tidings_store::TeammateRole::Owner,
        teammates,
        tokens: tokens
            .iter()
            .map(|t: &ApiToken| TokenRow {
                id: t.id,
                name: t.name.clone(),
                prefix: t.prefix.clone(),
                created: when(Some(t.created_at), tz),
                revoked: t.revoked_at.is_some(),
            })
            .collect(),
        attributes: attributes
            .iter()
            .map(|a| AttributeRow {
                name: a.name.clone(),
                data_type: a.data_type.as_str().into(),
                description: a.description.clone().unwrap_or_default(),
                archived: a.archived,
            })
            .collect(),
        message: notice.message,
        error: notice.error,
        new_token: notice.new_token,
        identity_secret: admin.workspace.identity_secret.clone(),
        identity_required: admin.workspace.identity_required,
        allowed_origins: admin.workspace.allowed_origins.join("\n"),
        public_url: state.config.public_url.clone(),
    });
    *response.status_mut() = status;
    response
}

pub async fn settings(State(state): State<AppState>, admin: Admin) -> Response {
    settings_page(&state, &admin, Notice::default()).await
}

fn csrf_refused() -> Response {
    (StatusCode::FORBIDDEN, "Missing or wrong CSRF token: reload the page and try again").into_response()
}

fn error_text(e: &ApiError) -> String {
    e.errors.first().map(|e| e.message.clone()).unwrap_or_else(|| "Something went wrong".into())
}

#[derive(Deserialize)]
pub struct TeammateForm {
    csrf: String,
    name: String,
    email: String,
    password: String,
}

pub async fn add_teammate(State(state): State<AppState>, admin: Admin, Form(f): Form<TeammateForm>) -> Response {
    if !admin.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    if admin.teammate.role != tidings_store::TeammateRole::Owner {
        return settings_page(
            &state,
            &admin,
            Notice { error: Some("Only the workspace owner can add teammates.".into()), ..Notice::default() },
        )
        .await;
    }
    let notice = match provision::teammate(&state.store, &admin.workspace, &f.name, &f.email, &f.password).await {
        Ok(t) => Notice { message: Some(format!("{} can now log in as {}.", t.name, t.email)), ..Notice::default() },
        Err(e) => Notice { error: Some(error_text(&e)), ..Notice::default() },
    };
    settings_page(&state, &admin, notice).await
}

#[derive(Deserialize)]
pub struct TokenForm {
    csrf: String,
    name: String,
}

pub async fn create_token(State(state): State<AppState>, admin: Admin, Form(f): Form<TokenForm>) -> Response {
    if !admin.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let name = if f.name.trim().is_empty() { "API token".to_owned() } else { f.name.trim().to_owned() };
    let notice = match provision::api_token(&state.store, &admin.workspace, &admin.teammate, &name).await {
        Ok((_, secret)) => Notice {
            message: Some("Copy this token now: it is shown only once.".into()),
            new_token: Some(secret),
            ..Notice::default()
        },
        Err(e) => Notice { error: Some(error_text(&e)), ..Notice::default() },
    };
    settings_page(&state, &admin, notice).await
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

pub async fn revoke_token(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if !admin.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let notice = match state.store.revoke_api_token(admin.workspace.id, id, now()).await {
        Ok(true) => {
            Notice { message: Some("The token was revoked: calls with it now fail.".into()), ..Notice::default() }
        }
        Ok(false) => Notice { error: Some("No such live token.".into()), ..Notice::default() },
        Err(e) => Notice { error: Some(error_text(&ApiError::from(e))), ..Notice::default() },
    };
    settings_page(&state, &admin, notice).await
}

#[derive(Deserialize)]
pub struct AttributeForm {
    csrf: String,
    name: String,
    data_type: String,
    #[serde(default)]
    description: String,
}

pub async fn create_attribute(State(state): State<AppState>, admin: Admin, Form(f): Form<AttributeForm>) -> Response {
    if !admin.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let name = f.name.trim();
    let check = validate_custom_name(name)
        .and_then(|()| text::check("description", &f.description, text::VALUE).map_err(|e| e.message))
        .and_then(|()| {
            DataType::parse(&f.data_type)
                .ok_or_else(|| "Choose a type: string, integer, float, boolean or date".to_owned())
        });
    let notice = match check {
        Err(m) => Notice { error: Some(m), ..Notice::default() },
        Ok(data_type) => {
            let now = now();
            let attr = CustomAttribute {
                id: 0,
                name: name.to_owned(),
                data_type,
                label: name.to_owned(),
                description: Some(f.description.trim().to_owned()).filter(|d| !d.is_empty()),
                options: vec![],
                messenger_writable: false,
                archived: false,
                created_at: now,
                updated_at: now,
                admin_id: Some(admin.teammate.id),
            };
            match state.store.create_custom_attribute(admin.workspace.id, &attr).await {
                Ok(a) => Notice {
                    message: Some(format!("Attribute {} ({}) created.", a.name, a.data_type.as_str())),
                    ..Notice::default()
                },
                Err(tidings_store::StoreError::Conflict { .. }) => {
                    Notice { error: Some(format!("There is already an attribute called {name}.")), ..Notice::default() }
                }
                Err(e) => Notice { error: Some(error_text(&ApiError::from(e))), ..Notice::default() },
            }
        }
    };
    settings_page(&state, &admin, notice).await
}

#[derive(Deserialize)]
pub struct MessengerForm {
    csrf: String,
    #[serde(default)]
    identity_required: Option<String>,
    #[serde(default)]
    allowed_origins: String,
}

/// Saves the Messenger settings: identity verification and allowed origins (owner only).
pub async fn messenger_settings(
    State(state): State<AppState>,
    mut admin: Admin,
    Form(f): Form<MessengerForm>,
) -> Response {
    if !admin.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    if admin.teammate.role != tidings_store::TeammateRole::Owner {
        return settings_page(
            &state,
            &admin,
            Notice {
                error: Some("Only the workspace owner can change Messenger settings.".into()),
                ..Notice::default()
            },
        )
        .await;
    }
    let mut origins = Vec::new();
    for line in f.allowed_origins.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some(o) = origin(line).filter(|o| o.len() <= text::URL) else {
            let error = format!("{line} is not an origin: write it as https://example.com (scheme and host, no path).");
            return settings_page(&state, &admin, Notice { error: Some(error), ..Notice::default() }).await;
        };
        origins.push(o);
    }
    let required = f.identity_required.is_some();
    if let Err(e) = state.store.update_messenger_settings(admin.workspace.id, required, &origins).await {
        return ApiError::from(e).into_response();
    }
    state.workspaces.forget(admin.workspace.id);
    admin.workspace.identity_required = required;
    admin.workspace.allowed_origins = origins;
    settings_page(&state, &admin, Notice { message: Some("Messenger settings saved.".into()), ..Notice::default() })
        .await
}

/// `https://host[:port]` with nothing after it, as browsers send in `Origin`.
fn origin(line: &str) -> Option<String> {
    let line = line.trim_end_matches('/');
    let (scheme, rest) = line.split_once("://")?;
    let ok = matches!(scheme, "http" | "https") && !rest.is_empty() && !rest.contains(['/', ' ', '?', '#']);
    ok.then(|| line.to_owned())
}

#[cfg(test)]
mod tests {
    use super::origin;

    #[test]
    fn origins_are_scheme_and_host_only() {
        assert_eq!(origin("https://app.example.com/").as_deref(), Some("https://app.example.com"));
        assert_eq!(origin("http://localhost:3000").as_deref(), Some("http://localhost:3000"));
        for bad in ["app.example.com", "ftp://x", "https://x/path", "https://", "https://a b"] {
            assert!(origin(bad).is_none(), "{bad}");
        }
    }
}
