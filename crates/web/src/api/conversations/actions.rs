//! What teammates and contacts do to a conversation: reply (`POST /conversations/{id}/reply`)
//! and close, open, snooze or assign it (`POST /conversations/{id}/parts`). Each answers with the
//! whole conversation, as Intercom's do.

use axum::Json as JsonResponse;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Map, Value as Json};
use tidings_core::contact::Contact;
use tidings_core::conversation::Change;
use tidings_engine::conversations::{ReplyTo, Words};
use tidings_store::Teammate;

use super::{find, respond};
use crate::AppState;
use crate::api::{Body, parse_id};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

pub(super) async fn reply(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(b): Body,
) -> ApiResult<JsonResponse<Json>> {
    match b.get("type").and_then(Json::as_str) {
        Some("admin") => admin_reply(state, caller, id, b).await,
        Some("user" | "lead" | "contact") => contact_reply(state, caller, id, b).await,
        _ => Err(ApiError::bad_request("type", "type must be admin (a teammate's reply) or user (the contact's)")),
    }
}

/// The teammate an action is done as, named by `admin_id` (a JSON number or string) in the
/// caller's workspace. An API token may act for any teammate of its workspace (integrations
/// do); a logged-in teammate acts only as themself.
pub(super) async fn admin(state: &AppState, caller: &Caller, b: &Map<String, Json>) -> ApiResult<Teammate> {
    let id = match b.get("admin_id") {
        None | Some(Json::Null) => return Err(ApiError::bad_request("admin_id", "admin_id is required")),
        Some(v) => parse_id(v),
    };
    if matches!(caller.via, crate::auth::Via::Session(_)) && id != Some(caller.teammate.id) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "action_forbidden", "A teammate can only act as themself")
            .with_field("admin_id"));
    }
    let found = match id {
        Some(id) => state.store.teammate(caller.workspace.id, id).await?,
        None => None,
    };
    found.ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "admin_not_found", "Admin not found").with_field("admin_id")
    })
}

/// The body's text, as sent.
fn words(b: &Map<String, Json>) -> &str {
    b.get("body").and_then(Json::as_str).unwrap_or_default()
}

async fn admin_reply(
    state: AppState,
    caller: Caller,
    id: String,
    b: Map<String, Json>,
) -> ApiResult<JsonResponse<Json>> {
    let kind = match b.get("message_type").and_then(Json::as_str).unwrap_or_default() {
        "comment" => Words::Reply,
        "note" => Words::Note,
        _ => return Err(ApiError::bad_request("message_type", "message_type must be comment or note")),
    };
    let teammate = admin(&state, &caller, &b).await?;
    if id == "last" {
        return Err(ApiError::bad_request(
            "id",
            "A teammate's reply needs a conversation id; `last` is for a contact's reply",
        ));
    }
    let c = find(&state, &caller, &id).await?;
    state.engine.teammate_writes(&caller.workspace, &teammate, c.id, kind, words(&b)).await?;
    respond(&state, &caller, c.id).await
}

/// The contact a reply names: exactly one of `intercom_user_id`, `email` or `user_id`.
async fn replying_contact(
    state: &AppState,
    caller: &Caller,
    b: &Map<String, Json>,
) -> ApiResult<(Contact, &'static str)> {
    let ws = caller.workspace.id;
    let text = |k: &str| match b.get(k) {
        Some(Json::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(Json::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let (found, field) = if let Some(id) = text("intercom_user_id") {
        let found = match id.parse::<i64>() {
            Ok(id) => state.store.contact(ws, id).await?,
            Err(_) => None,
        };
        (found, "intercom_user_id")
    } else if let Some(email) = text("email") {
        (state.store.user_by_email(ws, &email).await?, "email")
    } else if let Some(ext) = text("user_id") {
        (state.store.contact_by_external_id(ws, &ext).await?, "user_id")
    } else {
        return Err(ApiError::bad_request(
            "intercom_user_id",
            "Name the contact who replies: intercom_user_id, email or user_id",
        ));
    };
    let contact = found.filter(|c| !c.archived).ok_or_else(|| ApiError::user_not_found().with_field(field))?;
    Ok((contact, field))
}

async fn contact_reply(
    state: AppState,
    caller: Caller,
    id: String,
    b: Map<String, Json>,
) -> ApiResult<JsonResponse<Json>> {
    if crate::api::fields::text(&b, "message_type", "message_type")?.is_some_and(|t| t != "comment") {
        return Err(ApiError::bad_request("message_type", "A contact's reply has message_type comment"));
    }
    let (contact, field) = replying_contact(&state, &caller, &b).await?;
    let to = if id == "last" {
        ReplyTo::Latest
    } else {
        let c = find(&state, &caller, &id).await?;
        if c.contact_id != contact.id {
            return Err(ApiError::bad_request(field, "This contact is not part of the conversation"));
        }
        ReplyTo::Conversation(c.id)
    };
    let c = state.engine.contact_replies(&caller.workspace, &contact, to, words(&b)).await?;
    respond(&state, &caller, c.id).await
}

/// What `POST /conversations/{id}/parts` asks for.
enum Manage {
    Change(Change),
    /// To a teammate, or to nobody.
    Assign(Option<i64>),
}

pub(super) async fn manage(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(b): Body,
) -> ApiResult<JsonResponse<Json>> {
    let message_type = b.get("message_type").and_then(Json::as_str).unwrap_or_default();
    if !["close", "open", "snoozed", "assignment"].contains(&message_type) {
        return Err(ApiError::bad_request("message_type", "message_type must be close, open, snoozed or assignment"));
    }
    // Tidings has teammates and no teams: what a team would be asked to do is refused, not
    // done to someone else.
    match crate::api::fields::text(&b, "type", "type")? {
        None | Some("admin") => {}
        Some("team") if message_type == "assignment" => {
            return Err(ApiError::bad_request(
                "type",
                "Tidings has no teams: assign the conversation to a teammate, with type admin",
            ));
        }
        Some("team") => return Err(ApiError::bad_request("type", "Tidings has no teams: type must be admin")),
        Some(_) => return Err(ApiError::bad_request("type", "type must be admin")),
    }
    // Read whenever they are there, whatever the action, as the document describes them.
    let snoozed_until = match crate::api::fields::present(&b, "snoozed_until") {
        None => None,
        Some(v) => Some(parse_id(v).filter(|t| *t > 0).ok_or_else(|| {
            ApiError::bad_request("snoozed_until", "snoozed_until must be the time to wake up, in UNIX seconds")
        })?),
    };
    let assignee_id = crate::api::fields::id(&b, "assignee_id", "assignee_id")?;
    let action = match message_type {
        "close" => Manage::Change(Change::Close),
        "open" => Manage::Change(Change::Open),
        "snoozed" => {
            let until = snoozed_until.ok_or_else(|| {
                ApiError::bad_request(
                    "snoozed_until",
                    "snoozed_until is required: the time to wake up, in UNIX seconds",
                )
            })?;
            Manage::Change(Change::Snooze { until })
        }
        // 0 (or "0") unassigns, as Intercom's.
        _ => match assignee_id {
            Some(0) => Manage::Assign(None),
            Some(id) => Manage::Assign(Some(id)),
            None => {
                return Err(ApiError::bad_request(
                    "assignee_id",
                    "assignee_id is required: the teammate's id, or 0 to unassign",
                ));
            }
        },
    };
    let teammate = admin(&state, &caller, &b).await?;
    let c = find(&state, &caller, &id).await?;
    // A close carries words to the contact, an assignment words for the team; their limit holds
    // whatever the action, as the document says.
    tidings_core::text::check("body", words(&b), tidings_core::text::BODY)?;
    let words = Some(words(&b)).filter(|w| !w.trim().is_empty());
    match action {
        Manage::Change(change) => {
            state.engine.teammate_changes(&caller.workspace, &teammate, c.id, change, words).await?;
        }
        Manage::Assign(to) => {
            state.engine.assign(&caller.workspace, &teammate, c.id, to, words).await?;
        }
    }
    respond(&state, &caller, c.id).await
}
