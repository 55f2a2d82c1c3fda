//! One conversation in the admin app: every part in order (the message that started it, the
//! contact's words, the team's replies, notes the contact never sees, assignments and changes of
//! state), a composer for replies and notes with saved replies, close / reopen / snooze / assign,
//! the contact beside it, and who else is viewing or typing.
//!
//! What the teammate does goes through the REST API with the session (`assets/conversation.js`),
//! so the API's rules and events apply to it; presence is a hint on the bus
//! ([`Engine::teammate_present`](tidings_engine::Engine::teammate_present)), stored nowhere.
//! "Start a conversation" on a profile opens [`start_page`]: a message to that one contact, sent
//! at once with its conversation opened, landing here.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tidings_core::attribute::{BUILT_INS, Value};
use tidings_core::conversation::{Author, PartType, State as ConversationState};
use tidings_store::{ConversationPart, Teammate};

use super::session::{Admin, render};
use super::view::{When, contact_label, fail, initials, when};
use crate::AppState;
use crate::error::ApiError;

/// The contact's attributes shown beside the conversation, in this order, when they have a value.
const FACTS: &[&str] = &[
    "email",
    "phone",
    "external_id",
    "role",
    "location_city",
    "location_country",
    "browser",
    "os",
    "signed_up_at",
    "last_seen_at",
];

pub(super) struct PartRow {
    id: i64,
    author: String,
    initials: String,
    from_team: bool,
    /// `comment`, `note` or `event`: how the page shows it.
    look: &'static str,
    /// HTML that Tidings made safe when the part was written (escaped text, or our Markdown).
    body: Option<String>,
    /// What happened, for changes of state or assignee.
    event: Option<String>,
    at: When,
}

struct Fact {
    label: String,
    value: String,
    /// A date's instant, drawn as a `<time>` as every page draws one, rather than `value`.
    at: Option<When>,
}

struct Option_ {
    id: i64,
    name: String,
    selected: bool,
}

struct TagChip {
    id: i64,
    name: String,
}

struct Link {
    href: String,
    label: String,
    /// Words before the time, as a conversation's state; may be empty.
    note: &'static str,
    at: When,
}

struct Saved {
    name: String,
    body: String,
}

#[derive(Template)]
#[template(path = "conversation.html")]
struct ConversationPage {
    admin_name: String,
    workspace: String,
    csrf: String,
    id: i64,
    admin_id: i64,
    contact_id: i64,
    contact: String,
    contact_initials: String,
    state: &'static str,
    snoozed_until: Option<When>,
    seen: bool,
    message_id: Option<i64>,
    parts: Vec<PartRow>,
    assignees: Vec<Option_>,
    unassigned: bool,
    teammates: Vec<Option_>,
    facts: Vec<Fact>,
    contact_tags: Vec<String>,
    tags: Vec<TagChip>,
    all_tags: Vec<TagChip>,
    received: Vec<Link>,
    others: Vec<Link>,
    saved: Vec<Saved>,
}

pub async fn show(State(state): State<AppState>, admin: Admin, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return (StatusCode::NOT_FOUND, "No such conversation in this workspace.").into_response();
    };
    conversation_page(&state, &admin, id).await.unwrap_or_else(fail)
}

/// How a part reads on the page.
fn part_row(p: ConversationPart, contact: &str, team: &[Teammate], tz: &str) -> PartRow {
    let name = |id: i64| team.iter().find(|t| t.id == id).map_or_else(|| "A teammate".into(), |t| t.name.clone());
    let from_team = p.author_type == Author::Admin;
    let author = if from_team { name(p.author_id) } else { contact.to_owned() };
    let assigned = |to: Option<i64>| match to {
        Some(id) if id > 0 => format!("assigned this conversation to {}", name(id)),
        _ => "unassigned this conversation".into(),
    };
    let event = match p.part_type {
        PartType::Comment | PartType::Note => None,
        PartType::Open if !from_team => None,
        PartType::Open => Some("reopened this conversation".into()),
        PartType::Close => Some("closed this conversation".into()),
        PartType::Snoozed => Some("snoozed this conversation".into()),
        PartType::Unsnoozed => Some("Snooze ended: the conversation is open again".into()),
        PartType::Assignment => Some(assigned(p.assigned_to)),
        PartType::AssignAndReopen => Some(format!("reopened and {}", assigned(p.assigned_to))),
    };
    let look = match p.part_type {
        PartType::Note | PartType::Assignment | PartType::AssignAndReopen => "note",
        _ if event.is_some() && p.body.is_none() => "event",
        _ => "comment",
    };
    PartRow {
        id: p.id,
        initials: initials(&author),
        event: event.map(|e| if p.part_type == PartType::Unsnoozed { e } else { format!("{author} {e}") }),
        author,
        from_team,
        look,
        body: p.body,
        at: when(Some(p.created_at), tz),
    }
}

async fn conversation_page(state: &AppState, admin: &Admin, id: i64) -> Result<Response, ApiError> {
    let ws = admin.workspace.id;
    let tz = &admin.workspace.timezone;
    let Some(c) = state.store.conversation(ws, id).await? else {
        return Ok((StatusCode::NOT_FOUND, "No such conversation in this workspace.").into_response());
    };
    let contact = state.store.contact(ws, c.contact_id).await?;
    let contact_name = contact.as_ref().map_or_else(|| format!("Contact {}", c.contact_id), contact_label);
    let team = state.store.teammates(ws).await?;
    let parts = state.store.parts(ws, id).await?.into_iter().map(|p| part_row(p, &contact_name, &team, tz)).collect();
    let facts = contact
        .as_ref()
        .map(|k| {
            FACTS
                .iter()
                .filter_map(|name| {
                    let b = BUILT_INS.iter().find(|b| b.name == *name)?;
                    let value = match k.builtin_value(name)? {
                        Value::Str(s) if !s.is_empty() => s,
                        Value::Date(d) => {
                            return Some(Fact {
                                label: b.label.into(),
                                value: String::new(),
                                at: Some(when(Some(d), tz)),
                            });
                        }
                        Value::Int(i) => i.to_string(),
                        Value::Float(f) => f.to_string(),
                        Value::Bool(b) => if b { "yes" } else { "no" }.into(),
                        Value::Str(_) => return None,
                    };
                    Some(Fact { label: b.label.into(), value, at: None })
                })
                .collect()
        })
        .unwrap_or_default();
    let contact_tags = state
        .store
        .contact_tags(ws, &[c.contact_id])
        .await?
        .remove(&c.contact_id)
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.tag.name)
        .collect();
    let tags: Vec<TagChip> = state
        .store
        .conversation_tags(ws, &[c.id])
        .await?
        .into_iter()
        .map(|(_, t)| TagChip { id: t.id, name: t.name })
        .collect();
    let all_tags = state
        .store
        .tags(ws)
        .await?
        .into_iter()
        .filter(|t| !tags.iter().any(|on| on.id == t.id))
        .map(|t| TagChip { id: t.id, name: t.name })
        .collect();
    let received = state
        .store
        .delivered_in_app(ws, c.contact_id, 5)
        .await?
        .into_iter()
        .map(|(d, m)| Link {
            href: format!("/app/messages/{}", m.id),
            label: m.title,
            note: "",
            at: when(d.sent_at, tz),
        })
        .collect();
    let others = super::conversations::of_contact(state, admin, c.contact_id, 6)
        .await?
        .into_iter()
        .filter(|o| o.id != c.id)
        .take(5)
        .map(|o| Link { href: format!("/app/conversations/{}", o.id), label: o.preview, note: o.state, at: o.updated })
        .collect();
    let saved =
        state.store.saved_replies(ws).await?.into_iter().map(|r| Saved { name: r.name, body: r.body }).collect();
    let option =
        |t: &Teammate, chosen: Option<i64>| Option_ { id: t.id, name: t.name.clone(), selected: chosen == Some(t.id) };
    Ok(render(&ConversationPage {
        admin_name: admin.teammate.name.clone(),
        workspace: admin.workspace.name.clone(),
        csrf: admin.session.csrf_token.clone(),
        id,
        admin_id: admin.teammate.id,
        contact_id: c.contact_id,
        contact_initials: initials(&contact_name),
        contact: contact_name,
        state: c.state.as_str(),
        snoozed_until: (c.state == ConversationState::Snoozed).then(|| when(c.snoozed_until, tz)),
        seen: c.team_part_id > 0 && c.contact_seen_part_id >= c.team_part_id,
        message_id: c.message_id,
        parts,
        assignees: team.iter().map(|t| option(t, c.assignee_id)).collect(),
        unassigned: c.assignee_id.is_none(),
        teammates: team.iter().map(|t| option(t, None)).collect(),
        facts,
        contact_tags,
        tags,
        all_tags,
        received,
        others,
        saved,
    }))
}

#[derive(Deserialize)]
pub struct Presence {
    csrf: String,
    #[serde(default)]
    typing: bool,
}

/// `POST /app/conversations/{id}/presence`: the teammate has this conversation open (and is
/// typing in it). Said on the bus to the other teammates' pages; stored nowhere.
pub async fn presence(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<i64>,
    Form(form): Form<Presence>,
) -> Response {
    if !admin.csrf_ok(&form.csrf) {
        return (StatusCode::FORBIDDEN, "Reload the page: this form has expired.").into_response();
    }
    match state.store.conversation(admin.workspace.id, id).await {
        Ok(Some(c)) => {
            state.engine.teammate_present(&admin.workspace, &admin.teammate, c.id, form.typing);
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(None) => (StatusCode::NOT_FOUND, "No such conversation in this workspace.").into_response(),
        Err(e) => fail(e),
    }
}

#[derive(Template)]
#[template(path = "start_conversation.html")]
struct StartPage {
    admin_name: String,
    workspace: String,
    csrf: String,
    contact_id: i64,
    contact: String,
    body: String,
    error: Option<String>,
}

/// `GET /app/contacts/{id}/conversations/new`: a light composer for one contact.
pub async fn start_page(State(state): State<AppState>, admin: Admin, Path(id): Path<i64>) -> Response {
    match state.store.contact(admin.workspace.id, id).await {
        Ok(Some(c)) => render(&StartPage {
            admin_name: admin.teammate.name.clone(),
            workspace: admin.workspace.name.clone(),
            csrf: admin.session.csrf_token.clone(),
            contact_id: c.id,
            contact: contact_label(&c),
            body: String::new(),
            error: None,
        }),
        Ok(None) => (StatusCode::NOT_FOUND, "No such contact in this workspace.").into_response(),
        Err(e) => fail(e),
    }
}

#[derive(Deserialize)]
pub struct StartForm {
    csrf: String,
    body: String,
}

/// `POST /app/contacts/{id}/conversations`: sends the words as a chat to the contact, opens its
/// conversation and goes there. Wrong words come back to the form with what to fix.
pub async fn start(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<i64>,
    Form(form): Form<StartForm>,
) -> Response {
    if !admin.csrf_ok(&form.csrf) {
        return (StatusCode::FORBIDDEN, "Reload the page: this form has expired.").into_response();
    }
    let contact = match state.store.contact(admin.workspace.id, id).await {
        Ok(Some(c)) => c,
        Ok(None) => return (StatusCode::NOT_FOUND, "No such contact in this workspace.").into_response(),
        Err(e) => return fail(e),
    };
    let sent =
        state.engine.message_contact(&admin.workspace, admin.teammate.id, &contact, &form.body, None, None, true).await;
    match sent {
        Ok((_, Some(c))) => Redirect::to(&format!("/app/conversations/{}", c.id)).into_response(),
        Ok((m, None)) => Redirect::to(&format!("/app/messages/{}", m.id)).into_response(),
        Err(e) => {
            let error = ApiError::from(e);
            let status = error.status;
            let message = error.errors.first().map(|e| e.message.clone()).filter(|m| !m.is_empty());
            let page = StartPage {
                admin_name: admin.teammate.name.clone(),
                workspace: admin.workspace.name.clone(),
                csrf: admin.session.csrf_token.clone(),
                contact_id: contact.id,
                contact: contact_label(&contact),
                body: form.body,
                error: Some(message.unwrap_or_else(|| "The message could not be sent. Try again.".into())),
            };
            let mut response = render(&page);
            *response.status_mut() = status;
            response
        }
    }
}
