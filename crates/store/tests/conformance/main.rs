//! The store conformance suite: every test runs against SQLite and PostgreSQL and checks side
//! effects, not only return values.

mod contacts;
mod conversations;
mod filters;
mod inbox;
mod messages;
mod replies;
mod schema;
mod support;
mod tags_segments;
mod teammates;
mod webhooks;
mod workspaces;
