//! The Inbox: the workspace's conversations by view (Mine, Unassigned, All, or one teammate's),
//! state (Open, Snoozed, Closed) and order (latest activity or waiting longest), a keyset page at
//! a time, with every view's count, unread markers and a search by contact or words.
//!
//! The page is rendered here and kept live by `assets/inbox.js`: on each event about a
//! conversation it fetches this same page again and takes its lists, which the server rendered
//! and escaped.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use tidings_core::conversation::{Author, PartType, State as ConversationState};
use tidings_store::{Assignee, ConversationPart, InboxCount, InboxCursor, InboxQuery, InboxSort, Teammate};

use super::session::{Admin, render};
use super::view::{When, contact_label, fail, initials, plain_text, when};
use crate::AppState;
use crate::error::ApiError;

/// Conversations per page.
const PAGE: i64 = 25;
/// How much of the latest words an entry shows.
const PREVIEW: usize = 140;

/// A conversation's latest words as a list shows them: a note marked as one, a teammate's reply
/// led by their name.
pub(super) fn preview(last: Option<&ConversationPart>, teammates: &[Teammate]) -> String {
    last.map_or_else(String::new, |p| {
        let words = plain_text(p.body.as_deref().unwrap_or_default(), PREVIEW);
        match (p.part_type, p.author_type) {
            (PartType::Note, _) => format!("Note: {words}"),
            (_, Author::Admin) => {
                let name = teammates.iter().find(|t| t.id == p.author_id).map_or("Team", |t| t.name.as_str());
                format!("{name}: {words}")
            }
            _ => words,
        }
    })
}

/// Which conversations a view shows, as its `view` parameter names it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum View {
    Mine,
    Unassigned,
    All,
    Teammate(i64),
}

impl View {
    fn parse(s: Option<&str>) -> View {
        match s {
            Some("unassigned") => View::Unassigned,
            Some("all") => View::All,
            Some(t) if t.starts_with('t') => t[1..].parse().map_or(View::Mine, View::Teammate),
            _ => View::Mine,
        }
    }

    fn param(self) -> String {
        match self {
            View::Mine => "mine".into(),
            View::Unassigned => "unassigned".into(),
            View::All => "all".into(),
            View::Teammate(id) => format!("t{id}"),
        }
    }

    fn assignee(self, me: i64) -> Assignee {
        match self {
            View::Mine => Assignee::Teammate(me),
            View::Unassigned => Assignee::Nobody,
            View::All => Assignee::Anyone,
            View::Teammate(id) => Assignee::Teammate(id),
        }
    }

    /// Whether a count of conversations assigned to `assignee` belongs to this view.
    fn counts(self, me: i64, assignee: Option<i64>) -> bool {
        match self {
            View::Mine => assignee == Some(me),
            View::Unassigned => assignee.is_none(),
            View::All => true,
            View::Teammate(id) => assignee == Some(id),
        }
    }
}

struct ViewLink {
    label: String,
    href: String,
    active: bool,
    open: i64,
    unread: i64,
}

struct StateTab {
    label: &'static str,
    href: String,
    active: bool,
    /// Open and snoozed conversations are counted; closed ones are not.
    count: Option<i64>,
}

pub(super) struct Entry {
    id: i64,
    contact: String,
    initials: String,
    preview: String,
    at: When,
    unread: bool,
    waiting: bool,
    assignee: String,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    admin_name: String,
    workspace: String,
    csrf: String,
    heading: String,
    views: Vec<ViewLink>,
    tabs: Vec<StateTab>,
    entries: Vec<Entry>,
    /// The view, state, order and search as hidden fields of the search form.
    view: String,
    state: &'static str,
    sort: &'static str,
    text: String,
    older: Option<String>,
    newest: Option<String>,
    total_unread: i64,
}

pub async fn inbox(State(state): State<AppState>, admin: Admin, Query(q): Query<HashMap<String, String>>) -> Response {
    page(&state, &admin, &q).await.unwrap_or_else(fail)
}

async fn page(state: &AppState, admin: &Admin, q: &HashMap<String, String>) -> Result<Response, ApiError> {
    let ws = admin.workspace.id;
    let me = admin.teammate.id;
    let view = View::parse(q.get("view").map(String::as_str));
    let status = q.get("state").and_then(|s| ConversationState::parse(s)).unwrap_or(ConversationState::Open);
    let sort = if q.get("sort").map(String::as_str) == Some("waiting") {
        InboxSort::WaitingLongest
    } else {
        InboxSort::Latest
    };
    let sort_param = if sort == InboxSort::WaitingLongest { "waiting" } else { "latest" };
    let text = q.get("q").map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    let after = q.get("after").and_then(|a| {
        let (key, id) = a.split_once('.')?;
        Some(InboxCursor { key: key.parse().ok()?, id: id.parse().ok()? })
    });

    let teammates = state.store.teammates(ws).await?;
    let query = InboxQuery {
        state: Some(status),
        assignee: view.assignee(me),
        sort,
        after,
        limit: PAGE + 1,
        text: text.clone(),
        contact_id: None,
    };
    let mut found = state.store.inbox(ws, &query).await?;
    let more = found.len() as i64 > PAGE;
    found.truncate(PAGE as usize);
    let contact_ids: Vec<i64> = found.iter().map(|e| e.conversation.contact_id).collect();
    let contacts: HashMap<i64, _> =
        state.store.contacts_by_ids(ws, &contact_ids).await?.into_iter().map(|c| (c.id, c)).collect();
    let name_of = |id: i64| teammates.iter().find(|t| t.id == id).map(|t| t.name.clone());
    let tz = &admin.workspace.timezone;
    let entries = found
        .iter()
        .map(|e| {
            let c = &e.conversation;
            let contact =
                contacts.get(&c.contact_id).map_or_else(|| format!("Contact {}", c.contact_id), contact_label);
            let preview = preview(e.last.as_ref(), &teammates);
            Entry {
                id: c.id,
                initials: initials(&contact),
                contact,
                preview,
                at: when(Some(c.updated_at), tz),
                unread: !c.read,
                waiting: c.waiting_since.is_some(),
                assignee: c.assignee_id.and_then(name_of).unwrap_or_else(|| "Unassigned".into()),
            }
        })
        .collect();

    let counts = state.store.inbox_counts(ws).await?;
    let sum = |view: View, s: ConversationState, unread: bool| -> i64 {
        counts
            .iter()
            .filter(|c: &&InboxCount| c.state == s && view.counts(me, c.assignee_id))
            .map(|c| if unread { c.unread } else { c.total })
            .sum()
    };
    let link = |v: View, s: ConversationState| {
        let mut href = format!("/app/inbox?view={}&state={}", v.param(), s.as_str());
        if sort == InboxSort::WaitingLongest {
            href.push_str("&sort=waiting");
        }
        href
    };
    let mut views = vec![
        (View::Mine, "Your inbox".to_owned()),
        (View::Unassigned, "Unassigned".to_owned()),
        (View::All, "All".to_owned()),
    ];
    views.extend(teammates.iter().filter(|t| t.id != me).map(|t| (View::Teammate(t.id), t.name.clone())));
    let views: Vec<ViewLink> = views
        .into_iter()
        .map(|(v, label)| ViewLink {
            label,
            href: link(v, status),
            active: v == view,
            open: sum(v, ConversationState::Open, false),
            unread: sum(v, ConversationState::Open, true),
        })
        .collect();
    let tabs = [
        ("Open", ConversationState::Open),
        ("Snoozed", ConversationState::Snoozed),
        ("Closed", ConversationState::Closed),
    ]
    .into_iter()
    .map(|(label, s)| StateTab {
        label,
        href: link(view, s),
        active: s == status,
        count: (s != ConversationState::Closed).then(|| sum(view, s, false)),
    })
    .collect();
    let heading = views.iter().find(|v| v.active).map_or_else(|| "Inbox".into(), |v| v.label.clone());
    let base = {
        let mut b = format!("/app/inbox?view={}&state={}&sort={sort_param}", view.param(), status.as_str());
        if let Some(t) = &text {
            b.push_str("&q=");
            b.push_str(&url_escape(t));
        }
        b
    };
    let older = more.then(|| found.last().map(|e| format!("{base}&after={}.{}", e.key, e.conversation.id))).flatten();
    Ok(render(&InboxPage {
        admin_name: admin.teammate.name.clone(),
        workspace: admin.workspace.name.clone(),
        csrf: admin.session.csrf_token.clone(),
        heading,
        total_unread: sum(View::Mine, ConversationState::Open, true)
            + sum(View::Unassigned, ConversationState::Open, true),
        views,
        tabs,
        entries,
        view: view.param(),
        state: status.as_str(),
        sort: sort_param,
        text: text.unwrap_or_default(),
        older,
        newest: after.is_some().then_some(base),
    }))
}

/// `s` as a URL query value.
fn url_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_read_back_from_their_parameters() {
        for v in [View::Mine, View::Unassigned, View::All, View::Teammate(7)] {
            assert!(View::parse(Some(&v.param())) == v);
        }
        assert!(View::parse(Some("tx")) == View::Mine, "a bad teammate id falls back to your inbox");
        assert_eq!(url_escape("a b&c=ü"), "a%20b%26c%3D%C3%BC");
    }
}
