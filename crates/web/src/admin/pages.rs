//! The admin app's pages: the user list with its filter builder, and the contact profile.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};
use tidings_core::attribute::{BUILT_INS, CustomAttribute, DataType, Value};
use tidings_core::contact::Contact;
use tidings_core::filter::operators_for;
use tidings_core::message::MessageState;
use tidings_store::{AppliedTag, MessageListQuery, Segment};

use super::session::{Admin, render};
use super::view::{When, contact_label, when};
use crate::AppState;
use crate::error::ApiError;
use crate::roles::Permission;

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
    /// The segment shown when the address names none ("All users").
    default_segment: i64,
    /// Built-in segments cannot be renamed, edited or deleted.
    builtin: bool,
    /// The segment's query and who it is about, for the page to show and edit.
    segment_query: String,
    person_type: &'static str,
    schema_json: String,
    /// The workspace has no contacts at all: the page explains how to get some instead.
    first_run: bool,
    /// Whether the teammate may import (owners and admins): only they see the Import button.
    can_import: bool,
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
    let first = segments.first().ok_or_else(|| ApiError::internal("workspace has no segments"))?;
    let current = segments.iter().find(|s| Some(s.id) == wanted).unwrap_or(first);
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
        default_segment: first.id,
        builtin: current.builtin,
        segment_query: current.query.to_string(),
        person_type: current.person_type.as_api(),
        schema_json: filter_schema(state, ws, &segments).await?.to_string(),
        // One row read, not a count: the list may hold millions.
        first_run: state.store.contacts_after(ws, 0, 1).await?.is_empty(),
        can_import: admin.can(Permission::ImportContacts),
    };
    Ok(render(&page))
}

struct Row {
    label: String,
    value: String,
    /// A date's instant, drawn as a `<time>` rather than `value`.
    at: Option<When>,
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    admin_name: String,
    workspace: String,
    csrf: String,
    title: String,
    contact_id: i64,
    /// Whether the contact receives emails, and why not: (stops emails, in words).
    email_status: Vec<(bool, &'static str)>,
    role: String,
    attributes: Vec<Row>,
    custom: Vec<Row>,
    tags: Vec<String>,
    activity: Vec<Row>,
    conversations: Vec<super::conversations::ContactConversation>,
    /// Messages the contact has received: a pending delivery is not shown until it is sent.
    received: Vec<Received>,
}

struct Received {
    message_id: i64,
    title: String,
    channel: &'static str,
    at: When,
    seen: bool,
}

fn show(label: String, v: Option<Value>, tz: &str) -> Row {
    let value = match v {
        None => "—".into(),
        Some(Value::Str(s)) => s,
        Some(Value::Int(i)) => i.to_string(),
        Some(Value::Float(f)) => f.to_string(),
        Some(Value::Bool(b)) => if b { "yes" } else { "no" }.into(),
        Some(Value::Date(d)) => return Row { label, value: String::new(), at: Some(when(Some(d), tz)) },
    };
    Row { label, value, at: None }
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
        .map(|b| show(b.label.into(), contact.builtin_value(b.name), &tz))
        .collect();
    let custom_rows = custom
        .iter()
        .filter(|a| !a.archived)
        .map(|a| show(a.label.clone(), contact.custom_value(&a.name, a.data_type), &tz))
        .collect();
    let activity = BUILT_INS
        .iter()
        .filter(|b| b.data_type == DataType::Date)
        .map(|b| show(b.label.into(), contact.builtin_value(b.name), &tz))
        .collect();
    let title = contact_label(&contact);
    let conversations = match super::conversations::of_contact(&state, &admin, contact.id, 50).await {
        Ok(list) => list,
        Err(e) => return e.into_response(),
    };
    let delivered = state.store.delivered_in_app(ws, contact.id, 50).await;
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
    let email_status = email_status(&contact);
    render(&ProfilePage {
        email_status,
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

/// Whether a contact receives emails, and if not why, in words: (whether it stops emails, text).
fn email_status(c: &Contact) -> Vec<(bool, &'static str)> {
    let mut out = Vec::new();
    if c.email.as_deref().is_none_or(|e| e.trim().is_empty()) {
        out.push((true, "No email address: emails skip this contact."));
    }
    if c.unsubscribed_from_emails {
        out.push((true, "Unsubscribed from emails: later emails skip this contact."));
    }
    if c.has_hard_bounced {
        out.push((true, "Hard-bounced: their address refused an email for good, so later emails skip it."));
    }
    if c.marked_email_as_spam {
        out.push((true, "Marked an email as spam: later emails skip this contact."));
    }
    if out.is_empty() {
        out.push((false, "Receives emails."));
    }
    out
}
