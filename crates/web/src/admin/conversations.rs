//! Conversations as other pages list them: a contact's, named by their latest words, on the
//! contact's profile and beside a conversation; a teammate's own profile with the conversations
//! they started; and the activity feed (recent sign-ups, replies and sessions) that a teammate on a
//! phone starts from, which follows the workspace's events (`assets/activity.js`). One
//! conversation is [`super::thread`]; the Inbox is [`super::inbox`].

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tidings_core::attribute::{BUILT_INS, Value};
use tidings_core::filter::{Pred, Target, Test};
use tidings_store::{ContactQuery, Conversation, InboxQuery, SortOrder};

use super::session::{Admin, render};
use super::view::{When, contact_label, fail, when};
use crate::AppState;
use crate::error::ApiError;

pub(super) struct ConversationRow {
    pub(super) id: i64,
    pub(super) contact: String,
    pub(super) state: &'static str,
    pub(super) updated: When,
}

/// Rows for a list of conversations, each named by its contact (read in one query).
pub(super) async fn rows(
    state: &AppState,
    admin: &Admin,
    list: Vec<Conversation>,
) -> Result<Vec<ConversationRow>, ApiError> {
    let ws = admin.workspace.id;
    let ids: Vec<i64> = list.iter().map(|c| c.contact_id).collect();
    let contacts: std::collections::HashMap<i64, _> =
        state.store.contacts_by_ids(ws, &ids).await?.into_iter().map(|c| (c.id, c)).collect();
    Ok(list
        .into_iter()
        .map(|c| ConversationRow {
            id: c.id,
            contact: contacts.get(&c.contact_id).map_or_else(|| format!("Contact {}", c.contact_id), contact_label),
            state: c.state.as_str(),
            updated: when(Some(c.updated_at), &admin.workspace.timezone),
        })
        .collect())
}

/// One of a contact's conversations, named by its latest words.
pub(super) struct ContactConversation {
    pub(super) id: i64,
    pub(super) preview: String,
    pub(super) state: &'static str,
    pub(super) updated: When,
}

/// The contact's latest `limit` conversations, whatever their state, latest activity first.
pub(super) async fn of_contact(
    state: &AppState,
    admin: &Admin,
    contact_id: i64,
    limit: i64,
) -> Result<Vec<ContactConversation>, ApiError> {
    let ws = admin.workspace.id;
    let q = InboxQuery { state: None, contact_id: Some(contact_id), limit, ..InboxQuery::default() };
    let entries = state.store.inbox(ws, &q).await?;
    let teammates = state.store.teammates(ws).await?;
    Ok(entries
        .into_iter()
        .map(|e| ContactConversation {
            id: e.conversation.id,
            preview: Some(super::inbox::preview(e.last.as_ref(), &teammates))
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "No words yet".to_owned()),
            state: e.conversation.state.as_str(),
            updated: when(Some(e.conversation.updated_at), &admin.workspace.timezone),
        })
        .collect())
}

#[derive(Template)]
#[template(path = "teammate.html")]
struct TeammatePage {
    admin_name: String,
    workspace: String,
    csrf: String,
    name: String,
    email: String,
    role: String,
    is_me: bool,
    conversations: Vec<ConversationRow>,
}

/// A teammate's profile: who they are and the conversations they started.
pub async fn teammate(State(state): State<AppState>, admin: Admin, Path(id): Path<i64>) -> Response {
    async {
        let ws = admin.workspace.id;
        let Some(t) = state.store.teammate(ws, id).await? else {
            return Ok((StatusCode::NOT_FOUND, "No such teammate in this workspace.").into_response());
        };
        let conversations = rows(&state, &admin, state.store.conversations_of_teammate(ws, id).await?).await?;
        Ok::<_, ApiError>(render(&TeammatePage {
            admin_name: admin.teammate.name.clone(),
            workspace: admin.workspace.name.clone(),
            csrf: admin.session.csrf_token.clone(),
            is_me: t.id == admin.teammate.id,
            name: t.name,
            email: t.email,
            role: t.role.as_str().into(),
            conversations,
        }))
    }
    .await
    .unwrap_or_else(fail)
}

pub(super) struct PersonRow {
    id: i64,
    label: String,
    at: When,
}

#[derive(Template)]
#[template(path = "activity.html")]
struct ActivityPage {
    admin_name: String,
    workspace: String,
    csrf: String,
    admin_id: i64,
    signups: Vec<PersonRow>,
    sessions: Vec<PersonRow>,
    replies: Vec<ConversationRow>,
}

/// The activity feed: the newest sign-ups, the latest replies from contacts, and the latest
/// sessions, each a tap away from the contact's profile and its message button.
pub async fn activity(State(state): State<AppState>, admin: Admin) -> Response {
    async {
        let ws = admin.workspace.id;
        let tz = &admin.workspace.timezone;
        let recent = async |column: &str| -> Result<Vec<PersonRow>, ApiError> {
            let b = BUILT_INS.iter().find(|b| b.name == column).ok_or_else(|| ApiError::internal(column))?;
            let q = ContactQuery {
                pred: Some(Pred::Test(Target::Column(b), Test::Known)),
                sort: Some(Target::Column(b)),
                order: SortOrder::Descending,
                offset: 0,
                limit: 10,
            };
            let (list, _) = state.store.search_contacts(ws, &q).await?;
            Ok(list
                .iter()
                .map(|c| PersonRow {
                    id: c.id,
                    label: contact_label(c),
                    at: when(
                        match c.builtin_value(column) {
                            Some(Value::Date(d)) => Some(d),
                            _ => None,
                        },
                        tz,
                    ),
                })
                .collect())
        };
        let signups = recent("signed_up_at").await?;
        let sessions = recent("last_seen_at").await?;
        // Conversations whose last word is the contact's, most recent first.
        let (recent, _) = state.store.conversations(ws, 0, 50).await?;
        let waiting =
            recent.into_iter().map(|s| s.conversation).filter(|c| c.waiting_since.is_some()).take(10).collect();
        let replies = rows(&state, &admin, waiting).await?;
        Ok::<_, ApiError>(render(&ActivityPage {
            admin_name: admin.teammate.name.clone(),
            workspace: admin.workspace.name.clone(),
            csrf: admin.session.csrf_token.clone(),
            admin_id: admin.teammate.id,
            signups,
            sessions,
            replies,
        }))
    }
    .await
    .unwrap_or_else(fail)
}
