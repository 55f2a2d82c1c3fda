//! The admin app: server-rendered pages (askama templates, escaped by default) with small
//! dependency-free scripts for the live parts. No build step.
//!
//! Pages authenticate with the session cookie; forms carry the session's CSRF token, and the
//! scripts send it as `X-CSRF-Token` when they call the API with the session. The pages with live
//! parts follow `/app/events` ([`live`]) and read again through the API when it says so.

mod audience_words;
mod conversations;
mod email;
mod email_settings;
mod import;
mod inbox;
pub mod live;
mod message_stats;
mod messages;
mod pages;
mod profile;
mod profile_section;
mod saved_replies;
mod session;
mod settings;
mod thread;
mod uploads;
mod view;
mod webhooks;
mod webhooks_section;

pub(crate) use session::render;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::AppState;

pub use session::Admin;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { axum::response::Redirect::to("/app") }))
        .route("/app", get(|| async { axum::response::Redirect::to("/app/contacts") }))
        .route("/app/login", get(session::login_page).post(session::login))
        .route("/app/logout", post(session::logout))
        .route("/app/contacts", get(pages::contacts))
        .route("/app/contacts/{id}", get(pages::profile))
        .route("/app/import", get(import::index))
        // The one route whose body may be a whole file.
        .route(
            "/app/import/upload",
            post(import::upload)
                .layer(axum::extract::DefaultBodyLimit::max(tidings_engine::import::jobs::MAX_UPLOAD as usize + 1)),
        )
        .route("/app/import/{id}", get(import::show))
        .route("/app/import/{id}/start", post(import::start))
        .route("/app/import/{id}/state", get(import::state))
        .route("/app/import/{id}/rejected.csv", get(import::report))
        .route("/app/events", get(live::events))
        .route("/app/activity", get(conversations::activity))
        .route("/app/messages", get(messages::list))
        .route("/app/messages/new", get(messages::compose))
        .route("/app/messages/{id}", get(messages::show))
        .route("/app/messages/{id}/edit", get(messages::edit))
        .route("/app/inbox", get(inbox::inbox))
        .route("/app/conversations/{id}", get(thread::show))
        .route("/app/conversations/{id}/presence", post(thread::presence))
        .route("/app/saved-replies", get(saved_replies::list).post(saved_replies::create))
        .route("/app/saved-replies/{id}", post(saved_replies::update))
        .route("/app/saved-replies/{id}/delete", post(saved_replies::delete))
        .route("/app/contacts/{id}/conversations/new", get(thread::start_page))
        .route("/app/contacts/{id}/conversations", post(thread::start))
        .route("/app/teammates/{id}", get(conversations::teammate))
        .route("/app/settings", get(settings::settings))
        .route("/app/settings/teammates", post(settings::add_teammate))
        .route("/app/settings/teammates/{id}/role", post(settings::set_role))
        .route("/app/settings/tokens", post(settings::create_token))
        .route("/app/settings/tokens/{id}/revoke", post(settings::revoke_token))
        .route("/app/settings/attributes", post(settings::create_attribute))
        .route("/app/settings/messenger", post(settings::messenger_settings))
        .route("/app/settings/messenger/look", post(profile::save_look))
        .route("/app/settings/profile", post(profile::save_profile))
        .route("/app/settings/identity_secret/rotate", post(settings::rotate_identity_secret))
        .route("/app/settings/email", post(settings::save_email_settings))
        .route("/app/settings/webhooks", post(webhooks::create))
        .route("/app/settings/webhooks/{id}/active", post(webhooks::set_active))
        .route("/app/settings/webhooks/{id}/delete", post(webhooks::delete))
        .route("/app/email/preview", post(email::preview))
        .route("/app/email/preview.html", post(email::preview_html))
        .route("/app/email/test", post(email::send_test))
        .route("/app/uploads", post(uploads::upload).layer(axum::extract::DefaultBodyLimit::max(uploads::BODY_LIMIT)))
        .route("/app/messages/{id}/timeline", get(message_stats::timeline))
        // Uploaded images, for contacts' Messengers and mail readers: public, by token.
        .route("/files/{token}", get(uploads::file))
        .route("/favicon.svg", get(|| asset("image/svg+xml", include_str!("../../assets/favicon.svg"))))
        .route("/assets/app.css", get(|| asset("text/css; charset=utf-8", include_str!("../../assets/app.css"))))
        .route("/assets/common.js", get(|| script(include_str!("../../assets/common.js"))))
        .route("/assets/app.js", get(|| script(include_str!("../../assets/app.js"))))
        .route("/assets/compose.js", get(|| script(include_str!("../../assets/compose.js"))))
        .route("/assets/compose_tools.js", get(|| script(include_str!("../../assets/compose_tools.js"))))
        .route("/assets/message.js", get(|| script(include_str!("../../assets/message.js"))))
        .route("/assets/conversation.js", get(|| script(include_str!("../../assets/conversation.js"))))
        .route("/assets/activity.js", get(|| script(include_str!("../../assets/activity.js"))))
        .route("/assets/inbox.js", get(|| script(include_str!("../../assets/inbox.js"))))
        .route("/assets/import.js", get(|| script(include_str!("../../assets/import.js"))))
        // The Messenger widget, loaded by companies' own sites.
        .route(
            "/messenger.js",
            get(|| asset("text/javascript; charset=utf-8", include_str!("../../assets/messenger.js"))),
        )
}

async fn script(body: &'static str) -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", body).await
}

async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=300")], body)
}
