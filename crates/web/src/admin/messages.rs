//! The admin app's manual message pages: the list (tabs Sent, Draft, Scheduled and Stopped, and
//! a search by title or sender name), the composer (the simple one for chosen contacts, and the
//! manual message one with segments and filters), and a message's page with its live stats (the
//! figures that apply, their rates and a chart over time: `message_stats.rs`), its audience in
//! words (`audience_words.rs`), the contacts behind each figure, its conversations, and the stop.
//!
//! The pages are rendered here; what they change goes through the `/manual_messages` API with
//! the session (see `assets/compose.js` and `assets/message.js`), so the rules live in one place.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};
use tidings_core::contact::Contact;
use tidings_core::markdown::Body as MessageBody;
use tidings_core::message::{Channel, MessageAction, MessageState, transition};
use tidings_store::{Message, MessageListQuery, MessageStats, StatFilter};

use super::pages::filter_schema;
use super::session::{Admin, render};
use super::view::{When, contact_label, fail, when};
use super::{audience_words, message_stats};
use crate::AppState;
use crate::error::ApiError;

const PER_PAGE: i64 = 20;

/// The tabs of the message list, in order: (query value, label, state).
const TABS: [(&str, &str, MessageState); 4] = [
    ("sent", "Sent", MessageState::Sending),
    ("draft", "Draft", MessageState::Draft),
    ("scheduled", "Scheduled", MessageState::Scheduled),
    ("stopped", "Stopped", MessageState::Stopped),
];

pub(super) struct Tab {
    slug: &'static str,
    label: &'static str,
    active: bool,
}

pub(super) struct ListRow {
    id: i64,
    title: String,
    channel: &'static str,
    sender: String,
    when: When,
    stats: MessageStats,
}

#[derive(Template)]
#[template(path = "messages.html")]
struct ListPage {
    admin_name: String,
    workspace: String,
    csrf: String,
    tabs: Vec<Tab>,
    tab: &'static str,
    search: String,
    /// The API cursor of this page, so the live refresh asks for exactly these rows.
    cursor: String,
    per_page: i64,
    rows: Vec<ListRow>,
    total: i64,
    page: i64,
    total_pages: i64,
}

pub async fn list(State(state): State<AppState>, admin: Admin, Query(q): Query<HashMap<String, String>>) -> Response {
    let ws = admin.workspace.id;
    let tab = TABS.iter().find(|t| Some(t.0) == q.get("tab").map(String::as_str)).unwrap_or(&TABS[0]);
    let search = q.get("q").map(|s| s.trim().to_owned()).unwrap_or_default();
    let page = q.get("page").and_then(|p| p.parse::<i64>().ok()).unwrap_or(1).max(1);
    let query = MessageListQuery {
        states: vec![tab.2],
        search: Some(search.clone()).filter(|s| !s.is_empty()),
        offset: (page - 1) * PER_PAGE,
        limit: PER_PAGE,
    };
    let (found, total) = match state.store.messages(ws, &query).await {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let tz = &admin.workspace.timezone;
    let mut rows = Vec::new();
    for r in found {
        let m = r.message;
        let stats = match state.store.message_stats(ws, m.id).await {
            Ok(s) => s,
            Err(e) => return fail(e),
        };
        let at = m.stopped_at.or(m.sent_at).or(m.scheduled_at).unwrap_or(m.updated_at);
        rows.push(ListRow {
            id: m.id,
            title: m.title,
            channel: channel_label(m.channel),
            sender: r.sender_name,
            when: when(Some(at), tz),
            stats,
        });
    }
    render(&ListPage {
        admin_name: admin.teammate.name.clone(),
        workspace: admin.workspace.name.clone(),
        csrf: admin.session.csrf_token.clone(),
        tabs: TABS.iter().map(|t| Tab { slug: t.0, label: t.1, active: t.0 == tab.0 }).collect(),
        tab: tab.0,
        search,
        cursor: if page > 1 { crate::api::encode_cursor((page - 1) * PER_PAGE) } else { String::new() },
        per_page: PER_PAGE,
        rows,
        total,
        page,
        total_pages: (total + PER_PAGE - 1) / PER_PAGE,
    })
}

fn channel_label(c: Channel) -> &'static str {
    match c {
        Channel::Chat => "Chat",
        Channel::Post => "Announcement",
        Channel::Email => "Email",
        Channel::Push => "Push",
    }
}

pub(super) struct Chosen {
    id: i64,
    label: String,
}

pub(super) struct Sender {
    id: i64,
    name: String,
    /// Their picture's address, as contacts see it beside the message (empty: initials).
    avatar: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "compose.html")]
struct ComposePage {
    admin_name: String,
    workspace: String,
    csrf: String,
    /// `contacts` (the simple composer for chosen contacts) or `filters`.
    mode: &'static str,
    conversation: bool,
    message_id: String,
    title: String,
    body: String,
    channel: &'static str,
    subject: String,
    /// `personal` or `plain`, for email.
    template: &'static str,
    senders: Vec<Sender>,
    chosen: Vec<Chosen>,
    audience_json: String,
    schema_json: String,
    /// The message's delivery window as JSON (empty: any time).
    window_json: String,
    /// The workspace's time zone, which in-app windows follow.
    timezone: String,
    /// How the Messenger presents the workspace (its name and colour), for the preview.
    look_json: String,
}

/// `/app/messages/new`: `?contacts=1,2` opens the simple composer for those contacts
/// (`&conversation=1` when it starts a conversation with one of them); without contacts it opens
/// the manual message composer, starting from `?audience=` when the user list passes its filters.
pub async fn compose(
    State(state): State<AppState>,
    admin: Admin,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let ids: Vec<i64> =
        q.get("contacts").map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect()).unwrap_or_default();
    let audience = if !ids.is_empty() {
        json!({"contact_ids": ids.iter().map(|i| i.to_string()).collect::<Vec<_>>()})
    } else {
        q.get("audience").and_then(|a| serde_json::from_str::<Json>(a).ok()).unwrap_or_else(|| json!({}))
    };
    let channel =
        q.get("channel").and_then(|c| Channel::parse(c)).filter(|c| *c != Channel::Push).unwrap_or(Channel::Chat);
    let draft = Message {
        id: 0,
        workspace_id: admin.workspace.id,
        title: String::new(),
        sender_id: admin.teammate.id,
        channel,
        subject: None,
        body: String::new(),
        template: Default::default(),
        delivery_window: None,
        audience,
        state: MessageState::Draft,
        scheduled_at: None,
        sent_at: None,
        stopped_at: None,
        targeted: 0,
        created_at: 0,
        updated_at: 0,
    };
    composer(&state, &admin, &draft, q.contains_key("conversation")).await.unwrap_or_else(fail)
}

/// `/app/messages/{id}/edit`: a draft or scheduled message back in the composer.
pub async fn edit(State(state): State<AppState>, admin: Admin, Path(id): Path<i64>) -> Response {
    match state.store.message(admin.workspace.id, id).await {
        Ok(Some(m)) if matches!(m.state, MessageState::Draft | MessageState::Scheduled) => {
            composer(&state, &admin, &m, false).await.unwrap_or_else(fail)
        }
        Ok(Some(m)) => axum::response::Redirect::to(&format!("/app/messages/{}", m.id)).into_response(),
        Ok(None) => not_found("No such message in this workspace."),
        Err(e) => fail(e),
    }
}

async fn composer(state: &AppState, admin: &Admin, m: &Message, conversation: bool) -> Result<Response, ApiError> {
    let ws = admin.workspace.id;
    let segments = state.store.segments(ws).await?;
    let schema = filter_schema(state, ws, &segments).await?;
    let ids: Vec<i64> = m
        .audience
        .get("contact_ids")
        .and_then(Json::as_array)
        .map(|a| a.iter().filter_map(crate::api::parse_id).collect())
        .unwrap_or_default();
    let mut chosen = Vec::new();
    for id in &ids {
        if let Some(c) = state.store.contact(ws, *id).await? {
            chosen.push(Chosen { id: c.id, label: contact_label(&c) });
        }
    }
    let teammates = state.store.teammates(ws).await?;
    let title = if m.title.is_empty() && conversation {
        chosen.first().map(|c| format!("Conversation with {}", c.label)).unwrap_or_default()
    } else {
        m.title.clone()
    };
    Ok(render(&ComposePage {
        admin_name: admin.teammate.name.clone(),
        workspace: admin.workspace.name.clone(),
        csrf: admin.session.csrf_token.clone(),
        mode: if ids.is_empty() { "filters" } else { "contacts" },
        conversation,
        message_id: if m.id == 0 { String::new() } else { m.id.to_string() },
        title,
        body: m.body.clone(),
        channel: m.channel.as_str(),
        subject: m.subject.clone().unwrap_or_default(),
        template: m.template.as_str(),
        senders: teammates
            .into_iter()
            .map(|t| Sender {
                selected: t.id == m.sender_id,
                id: t.id,
                name: t.name,
                avatar: t.avatar_url.unwrap_or_default(),
            })
            .collect(),
        chosen,
        audience_json: m.audience.to_string(),
        schema_json: schema.to_string(),
        window_json: m.delivery_window.as_ref().map_or_else(String::new, |w| w.to_json().to_string()),
        timezone: admin.workspace.timezone.clone(),
        look_json: json!({"name": admin.workspace.name, "color": admin.workspace.messenger_color}).to_string(),
    }))
}

fn not_found(text: &'static str) -> Response {
    (StatusCode::NOT_FOUND, text).into_response()
}

pub(super) struct Figure {
    key: &'static str,
    label: &'static str,
    value: i64,
    active: bool,
    /// Its rate of those sent ("75%", "—"), for the figures that have one; else empty.
    rate: String,
    rate_label: &'static str,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    admin_name: String,
    workspace: String,
    csrf: String,
    id: i64,
    title: String,
    channel: &'static str,
    state: &'static str,
    sender: String,
    sender_id: i64,
    audience: String,
    created: When,
    sent: When,
    stopped: When,
    scheduled: When,
    body_html: String,
    figures: Vec<Figure>,
    /// The chart's data as JSON (see `message_stats::timeline_json`).
    timeline_json: String,
    /// The workspace's time zone, in which the chart names its times.
    timezone: String,
    stat: &'static str,
    stat_label: &'static str,
    recipients: Vec<Chosen>,
    recipients_total: i64,
    /// More contacts are behind the figure than the page lists.
    recipients_more: bool,
    conversations: Vec<super::conversations::ConversationRow>,
    can_edit: bool,
    can_stop: bool,
    is_email: bool,
    subject: String,
    template: &'static str,
    /// For an email: why deliveries were skipped, bounced or failed, with how many.
    reasons: Vec<Reason>,
    /// For an email: clicks per link, most clicked first.
    links: Vec<tidings_store::LinkClicks>,
    can_follow_up: bool,
    is_draft: bool,
    is_scheduled: bool,
}

/// Why deliveries were skipped or did not go, in words.
fn reason_words(reason: &str) -> String {
    match reason {
        "no_email" => "no email address".into(),
        "unsubscribed" => "unsubscribed from emails".into(),
        "hard_bounced" => "address hard-bounced before".into(),
        "marked_as_spam" => "marked an email as spam".into(),
        "contact_deleted" => "contact deleted".into(),
        other => other.to_owned(),
    }
}

pub(super) struct Reason {
    state: &'static str,
    words: String,
    count: i64,
}

/// `/app/messages/{id}?stat=seen`: the message, its figures, and the contacts behind one.
pub async fn show(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    message_page(&state, &admin, id, &q).await.unwrap_or_else(fail)
}

async fn message_page(
    state: &AppState,
    admin: &Admin,
    id: i64,
    q: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let ws = admin.workspace.id;
    let tz = &admin.workspace.timezone;
    let Some(m) = state.store.message(ws, id).await? else {
        return Ok(not_found("No such message in this workspace."));
    };
    let stats = state.store.message_stats(ws, id).await?;
    let custom = state.store.custom_attributes(ws).await?;
    let placeholder = Contact::new(ws, tidings_core::contact::Role::User, 0);
    // Our Markdown renderer's output: raw HTML in the body is shown as text, links are limited to
    // safe schemes, so it can be inserted as it is.
    let body_html =
        MessageBody::compile(&m.body, &custom, "body").map(|b| b.html_for(&placeholder)).unwrap_or_default();
    let figures =
        message_stats::figures(&m, &stats, admin.workspace.email.tracking, message_stats::has_links(&body_html));
    const NONE: message_stats::Figure = ("targeted", "Targeted", StatFilter::Targeted);
    let figure_of = *figures
        .iter()
        .find(|f| Some(f.0) == q.get("stat").map(String::as_str))
        .unwrap_or(figures.first().unwrap_or(&NONE));
    let rates = message_stats::rates(&figures, &stats, m.channel == Channel::Email);
    let timeline = if figures.is_empty() {
        Default::default()
    } else {
        state.store.delivery_timeline(ws, id, message_stats::MAX_BUCKETS).await?
    };
    let reasons = if m.channel == Channel::Email {
        state
            .store
            .delivery_reasons(ws, id)
            .await?
            .into_iter()
            .map(|(s, reason, count)| Reason { state: s.as_str(), words: reason_words(&reason), count })
            .collect()
    } else {
        Vec::new()
    };
    let links = if m.channel == Channel::Email { state.store.link_clicks(ws, id).await? } else { Vec::new() };
    let (recipients, recipients_total) = state.store.message_recipients(ws, id, figure_of.2, 0, 100).await?;
    let sender = state.store.teammate(ws, m.sender_id).await?.map(|t| t.name).unwrap_or_else(|| "—".into());
    let conversations =
        super::conversations::rows(state, admin, state.store.conversations_of_message(ws, id).await?).await?;
    let segments = state.store.segments(ws).await?;
    let tags = state.store.tags(ws).await?;
    // The messages a filter names ("received message X"), each read by its id.
    let mut named = Vec::new();
    for mid in audience_words::message_ids(&m.audience) {
        if let Some(other) = state.store.message(ws, mid).await? {
            named.push((other.id, other.title));
        }
    }
    let names = audience_words::Names {
        custom: &custom,
        tags: tags.iter().map(|t| (t.id, t.name.clone())).collect(),
        segments: segments.iter().map(|s| (s.id, s.name.clone())).collect(),
        messages: named,
        timezone: tz,
    };
    Ok(render(&MessagePage {
        admin_name: admin.teammate.name.clone(),
        workspace: admin.workspace.name.clone(),
        csrf: admin.session.csrf_token.clone(),
        id,
        title: m.title.clone(),
        channel: channel_label(m.channel),
        state: m.state.as_str(),
        sender,
        sender_id: m.sender_id,
        audience: audience_words::describe(&m.audience, &names),
        created: when(Some(m.created_at), tz),
        sent: when(m.sent_at, tz),
        stopped: when(m.stopped_at, tz),
        scheduled: when(m.scheduled_at, tz),
        body_html,
        timeline_json: message_stats::timeline_json(&timeline, &figures).to_string(),
        timezone: tz.clone(),
        figures: figures
            .iter()
            .map(|f| {
                let rate = rates.iter().find(|r| r.key == f.0);
                Figure {
                    key: f.0,
                    label: f.1,
                    value: message_stats::count(&stats, f.2),
                    active: f.0 == figure_of.0,
                    rate: rate.map(|r| r.value.clone()).unwrap_or_default(),
                    rate_label: rate.map_or("", |r| r.label),
                }
            })
            .collect(),
        stat: figure_of.0,
        stat_label: figure_of.1,
        recipients: recipients.iter().map(|c| Chosen { id: c.id, label: contact_label(c) }).collect(),
        recipients_more: recipients_total > recipients.len() as i64,
        recipients_total,
        conversations,
        can_edit: matches!(m.state, MessageState::Draft | MessageState::Scheduled),
        can_stop: transition(m.state, m.channel, MessageAction::Stop).is_ok(),
        is_email: m.channel == Channel::Email,
        subject: m.subject.clone().unwrap_or_default(),
        template: m.template.as_str(),
        reasons,
        links,
        can_follow_up: m.sent_at.is_some(),
        is_draft: m.state == MessageState::Draft,
        is_scheduled: m.state == MessageState::Scheduled,
    }))
}
