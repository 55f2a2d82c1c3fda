//! The engine's operations, called directly with a clock the test sets, on SQLite and on
//! PostgreSQL: what each writes, what it refuses, and what it says on the bus.

mod background;
mod contacts;
mod conversations;
mod email;
mod email_compose;
mod email_reports;
mod import;
mod inbox;
mod messages;
mod replies;
mod segments;
mod support;
mod uploads;
mod webhooks;
mod windows;
