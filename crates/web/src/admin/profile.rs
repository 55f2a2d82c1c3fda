//! Settings › Your profile (every teammate: their own name and avatar) and the Messenger's look
//! in Settings › Messenger (the owner and admins: the workspace's name, colour and greeting).
//! Both are checked and saved by the engine; a refused change comes back with what was typed and
//! the engine's words, naming the field. What the page shows of them is
//! [`super::profile_section`].

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tidings_engine::profiles::MessengerLook;

use super::profile_section::{LookSection, ProfileSection};
use super::session::Admin;
use super::settings::{Notice, settings_page};
use crate::AppState;
use crate::error::ApiError;
use crate::roles::Permission;

fn csrf_refused() -> Response {
    (StatusCode::FORBIDDEN, "Missing or wrong CSRF token: reload the page and try again").into_response()
}

/// The engine's refusal as words for the page, and the fields it named.
fn refusal(e: tidings_engine::EngineError) -> (String, Vec<String>) {
    let e = ApiError::from(e);
    let text = e.errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("; ");
    (text, e.errors.iter().filter_map(|e| e.field.clone()).collect())
}

#[derive(Deserialize)]
pub struct ProfileForm {
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    avatar_url: String,
}

/// `POST /app/settings/profile`: the logged-in teammate's own name and avatar. Nobody edits
/// another teammate's profile, so there is nothing to check beyond being logged in.
pub async fn save_profile(State(state): State<AppState>, mut admin: Admin, Form(f): Form<ProfileForm>) -> Response {
    if !admin.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    match state.engine.update_profile(&admin.workspace, &admin.teammate, &f.name, &f.avatar_url).await {
        Ok(t) => {
            admin.teammate = t;
            settings_page(&state, &admin, Notice::done("Your profile was saved.")).await
        }
        Err(e) => {
            let (text, bad_fields) = refusal(e);
            let typed = ProfileSection { name: f.name, avatar_url: f.avatar_url, bad_fields };
            settings_page(&state, &admin, Notice { profile: Some(typed), ..Notice::error(text) }).await
        }
    }
}

#[derive(Deserialize)]
pub struct LookForm {
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    color: String,
    #[serde(default)]
    greeting: String,
}

/// `POST /app/settings/messenger/look`: the workspace's name, the Messenger's colour and
/// greeting (the owner and admins).
pub async fn save_look(State(state): State<AppState>, mut admin: Admin, Form(f): Form<LookForm>) -> Response {
    if !admin.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    if let Err(e) = admin.require(Permission::MessengerSettings) {
        return settings_page(&state, &admin, Notice::forbidden(e)).await;
    }
    let look = MessengerLook { name: f.name.clone(), color: f.color.clone(), greeting: f.greeting.clone() };
    match state.engine.update_messenger_look(&admin.workspace, &look).await {
        Ok(ws) => {
            state.workspaces.forget(ws.id);
            admin.workspace = ws;
            settings_page(&state, &admin, Notice::done("The Messenger's look was saved.")).await
        }
        Err(e) => {
            let (text, bad_fields) = refusal(e);
            let typed = LookSection { name: f.name, color: f.color, greeting: f.greeting, bad_fields };
            settings_page(&state, &admin, Notice { look: Some(typed), ..Notice::error(text) }).await
        }
    }
}
