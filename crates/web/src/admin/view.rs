//! What the admin pages share in how they show things: times, contacts, failures.

use axum::response::{IntoResponse, Response};
use tidings_core::contact::Contact;

use crate::error::ApiError;

/// Formats UNIX seconds for people, in the workspace's time zone.
pub(super) fn when(ts: Option<i64>, tz: &str) -> String {
    let Some(ts) = ts else { return "—".into() };
    let zone = tidings_core::dates::Clock::zone(tz);
    jiff::Timestamp::from_second(ts)
        .map(|t| t.to_zoned(zone).strftime("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|_| ts.to_string())
}

/// An error as the page's answer.
pub(super) fn fail(e: impl Into<ApiError>) -> Response {
    e.into().into_response()
}

/// How a contact is named on pages: their name, else their email, else their id.
pub(super) fn contact_label(c: &Contact) -> String {
    c.name.clone().or_else(|| c.email.clone()).unwrap_or_else(|| format!("Contact {}", c.id))
}
