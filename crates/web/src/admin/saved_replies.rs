//! Saved replies: words the team writes often, kept under a name and inserted into a reply from
//! the conversation's composer. Any teammate may add, change or delete them (each through the
//! engine); the page shows every one with its Markdown.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::session::{Admin, render};
use super::view::fail;
use crate::AppState;
use crate::error::ApiError;

struct Row {
    id: i64,
    name: String,
    body: String,
}

#[derive(Template)]
#[template(path = "saved_replies.html")]
struct SavedRepliesPage {
    admin_name: String,
    workspace: String,
    csrf: String,
    replies: Vec<Row>,
    message: Option<String>,
    error: Option<String>,
    /// The new reply's fields as submitted, when they were refused.
    name: String,
    body: String,
}

#[derive(Default)]
struct Outcome {
    message: Option<String>,
    error: Option<String>,
    name: String,
    body: String,
}

async fn page(state: &AppState, admin: &Admin, status: StatusCode, o: Outcome) -> Response {
    let replies = match state.store.saved_replies(admin.workspace.id).await {
        Ok(list) => list.into_iter().map(|r| Row { id: r.id, name: r.name, body: r.body }).collect(),
        Err(e) => return fail(e),
    };
    let mut response = render(&SavedRepliesPage {
        admin_name: admin.teammate.name.clone(),
        workspace: admin.workspace.name.clone(),
        csrf: admin.session.csrf_token.clone(),
        replies,
        message: o.message,
        error: o.error,
        name: o.name,
        body: o.body,
    });
    *response.status_mut() = status;
    response
}

pub async fn list(State(state): State<AppState>, admin: Admin) -> Response {
    page(&state, &admin, StatusCode::OK, Outcome::default()).await
}

#[derive(Deserialize)]
pub struct ReplyForm {
    csrf: String,
    name: String,
    body: String,
}

fn refused(e: impl Into<ApiError>) -> (StatusCode, String) {
    let e = e.into();
    let text = e.errors.first().map(|x| x.message.clone()).unwrap_or_else(|| "Something went wrong. Try again.".into());
    (e.status, text)
}

fn expired() -> Response {
    (StatusCode::FORBIDDEN, "Reload the page: this form has expired.").into_response()
}

pub async fn create(State(state): State<AppState>, admin: Admin, Form(f): Form<ReplyForm>) -> Response {
    if !admin.csrf_ok(&f.csrf) {
        return expired();
    }
    match state.engine.create_saved_reply(&admin.workspace, &f.name, &f.body).await {
        Ok(r) => {
            let o = Outcome { message: Some(format!("Saved “{}”.", r.name)), ..Outcome::default() };
            page(&state, &admin, StatusCode::OK, o).await
        }
        Err(e) => {
            let (status, error) = refused(e);
            page(
                &state,
                &admin,
                status,
                Outcome { error: Some(error), name: f.name, body: f.body, ..Outcome::default() },
            )
            .await
        }
    }
}

pub async fn update(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<i64>,
    Form(f): Form<ReplyForm>,
) -> Response {
    if !admin.csrf_ok(&f.csrf) {
        return expired();
    }
    let o = match state.engine.update_saved_reply(&admin.workspace, id, &f.name, &f.body).await {
        Ok(()) => Outcome { message: Some(format!("Changed “{}”.", f.name.trim())), ..Outcome::default() },
        Err(e) => {
            let (status, error) = refused(e);
            return page(&state, &admin, status, Outcome { error: Some(error), ..Outcome::default() }).await;
        }
    };
    page(&state, &admin, StatusCode::OK, o).await
}

#[derive(Deserialize)]
pub struct DeleteForm {
    csrf: String,
}

pub async fn delete(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<i64>,
    Form(f): Form<DeleteForm>,
) -> Response {
    if !admin.csrf_ok(&f.csrf) {
        return expired();
    }
    match state.engine.delete_saved_reply(&admin.workspace, id).await {
        Ok(()) => {
            page(&state, &admin, StatusCode::OK, Outcome { message: Some("Deleted.".into()), ..Outcome::default() })
                .await
        }
        Err(e) => {
            let (status, error) = refused(e);
            page(&state, &admin, status, Outcome { error: Some(error), ..Outcome::default() }).await
        }
    }
}
