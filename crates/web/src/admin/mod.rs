//! The admin app: server-rendered pages (askama templates, escaped by default) with small
//! dependency-free scripts for the live parts. No build step.
//!
//! Pages authenticate with the session cookie; forms carry the session's CSRF token, and the
//! scripts send it as `X-CSRF-Token` when they call the API with the session.

mod pages;
mod session;

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
        .route("/app/settings", get(pages::settings))
        .route("/app/settings/teammates", post(pages::add_teammate))
        .route("/app/settings/tokens", post(pages::create_token))
        .route("/app/settings/tokens/{id}/revoke", post(pages::revoke_token))
        .route("/app/settings/attributes", post(pages::create_attribute))
        .route("/app/settings/messenger", post(pages::messenger_settings))
        .route("/assets/app.css", get(|| asset("text/css; charset=utf-8", include_str!("../../assets/app.css"))))
        .route("/assets/app.js", get(|| asset("text/javascript; charset=utf-8", include_str!("../../assets/app.js"))))
        // The Messenger widget, loaded by companies' own sites.
        .route(
            "/messenger.js",
            get(|| asset("text/javascript; charset=utf-8", include_str!("../../assets/messenger.js"))),
        )
}

async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=300")], body)
}
