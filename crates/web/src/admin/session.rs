//! Logging in and out of the admin app, and the extractor that proves a page request comes from
//! a logged-in teammate (and, with [`Admin::require`], that they may do what the page asks).

use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use tidings_store::{Session, Teammate, Workspace};

use crate::AppState;
use crate::auth::{
    PasswordCheck, SESSION_COOKIE, SESSION_SECONDS, constant_time_eq, hash_secret, now, random_secret, session_of,
};
use crate::roles::{self, Forbidden, Permission};

/// A logged-in teammate on an admin page.
pub struct Admin {
    pub workspace: Workspace,
    pub teammate: Teammate,
    pub session: Session,
}

impl Admin {
    /// Whether a submitted form carries this session's CSRF token.
    pub fn csrf_ok(&self, sent: &str) -> bool {
        constant_time_eq(sent.as_bytes(), self.session.csrf_token.as_bytes())
    }

    /// Whether the logged-in teammate holds `permission` (the table in [`crate::roles`]).
    ///
    /// # Errors
    /// [`Forbidden`], with the reason a page shows.
    pub fn require(&self, permission: Permission) -> Result<(), Forbidden> {
        roles::check(&self.teammate, permission)
    }

    /// Whether the logged-in teammate holds `permission`, for showing only what they may use.
    pub fn can(&self, permission: Permission) -> bool {
        permission.allows(self.teammate.role)
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let to_login = || Redirect::to("/app/login").into_response();
        let session = session_of(parts, state).await.map_err(IntoResponse::into_response)?.ok_or_else(to_login)?;
        let workspace = state.store.workspace(session.workspace_id).await.ok().flatten().ok_or_else(to_login)?;
        let teammate = state
            .store
            .teammate(session.workspace_id, session.teammate_id)
            .await
            .ok()
            .flatten()
            .ok_or_else(to_login)?;
        Ok(Admin { workspace, teammate, session })
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    error: Option<String>,
    email: String,
}

pub async fn login_page() -> Response {
    render(&LoginPage { error: None, email: String::new() })
}

pub(crate) fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => crate::error::ApiError::internal(e).into_response(),
    }
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
}

/// A cross-site form post carries a foreign `Origin`: refuse it (login CSRF).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    origin.split_once("://").is_some_and(|(_, rest)| rest == host)
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let email = form.email.trim().to_ascii_lowercase();
    let again = |error: &str, status: StatusCode| {
        let mut r = render(&LoginPage { error: Some(error.to_owned()), email: form.email.clone() });
        *r.status_mut() = status;
        r
    };
    if !same_origin(&headers) {
        return again(
            "This form was sent from another site. Open the login page directly and try again.",
            StatusCode::FORBIDDEN,
        );
    }
    let now = now();
    if let Some(wait) = state.logins.wait(&email, addr.ip(), now) {
        let mut r = again(
            &format!("Too many failed attempts. Wait {}, then try again.", for_people(wait)),
            StatusCode::TOO_MANY_REQUESTS,
        );
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return r;
    }
    let check = match PasswordCheck::for_email(state.store.as_ref(), &email).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let password = form.password.clone();
    let teammate = tokio::task::spawn_blocking(move || check.verify(&password)).await.ok().flatten();
    let Some(teammate) = teammate else {
        state.logins.failed(&email, addr.ip(), now);
        return again("That email and password do not match. Check both and try again.", StatusCode::UNAUTHORIZED);
    };
    state.logins.succeeded(&email);
    let secret = random_secret(32);
    let session = Session {
        token_hash: hash_secret(&secret),
        teammate_id: teammate.id,
        workspace_id: teammate.workspace_id,
        csrf_token: random_secret(24),
        created_at: now,
        expires_at: now + SESSION_SECONDS,
    };
    if let Err(e) = state.store.create_session(&session).await {
        return crate::error::ApiError::from(e).into_response();
    }
    let secure = if state.config.secure_cookies() { "; Secure" } else { "" };
    let cookie =
        format!("{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={SESSION_SECONDS}{secure}");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/app/contacts")).into_response()
}

/// A wait in words, rounded up: "1 second", "40 seconds", "15 minutes".
fn for_people(seconds: i64) -> String {
    let (n, unit) = if seconds < 60 { (seconds, "second") } else { ((seconds + 59) / 60, "minute") };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn logout(State(state): State<AppState>, admin: Admin, Form(form): Form<CsrfForm>) -> Response {
    if !admin.csrf_ok(&form.csrf) {
        return (StatusCode::FORBIDDEN, "Missing or wrong CSRF token: reload the page and try again").into_response();
    }
    if let Err(e) = state.store.delete_session(&admin.session.token_hash).await {
        return crate::error::ApiError::from(e).into_response();
    }
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/app/login")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_as_words() {
        assert_eq!(for_people(1), "1 second");
        assert_eq!(for_people(59), "59 seconds");
        assert_eq!(for_people(60), "1 minute");
        assert_eq!(for_people(61), "2 minutes");
        assert_eq!(for_people(15 * 60), "15 minutes");
    }
}
