//! The REST API over real HTTP, on SQLite and on PostgreSQL: shapes, errors, the query language,
//! pagination, and workspace isolation route by route.

mod access;
mod attributes_segments_tags;
mod contacts;
mod conversation_search;
mod conversation_updates;
mod conversations;
mod email_links;
mod headers;
mod import;
mod inbox;
mod input;
mod live;
mod login;
mod messages;
mod messenger;
mod messenger_threads;
mod profiles;
mod reply_emails;
mod roles;
mod sdk;
mod search;
mod shapes;
mod support;
mod webhooks;
