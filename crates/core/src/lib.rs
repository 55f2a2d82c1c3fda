//! The Tidings domain: contacts and their attributes, the filter language, and (as they arrive)
//! messages, deliveries and personalisation.
//!
//! Plain Rust with no I/O: storage, HTTP and channels are adapters around this crate, and
//! everything here is tested directly.

pub mod attribute;
pub mod audience;
pub mod contact;
pub mod conversation;
pub mod conversation_filter;
pub mod dates;
pub mod error;
pub mod filter;
pub mod markdown;
pub mod message;
pub mod personalise;
pub mod text;
pub mod webhook;
pub mod window;

pub use error::{FieldError, FieldErrors};
