//! The store conformance suite: every test runs against SQLite and PostgreSQL and checks side
//! effects, not only return values.

mod contacts;
mod conversation_search;
mod conversation_search_property;
mod conversations;
mod filters;
mod filters_indexed;
mod imports;
mod inbox;
mod loads;
mod messages;
mod replies;
mod schema;
mod support;
mod tags_segments;
mod teammates;
mod timeline_uploads;
mod webhooks;
mod workspaces;
