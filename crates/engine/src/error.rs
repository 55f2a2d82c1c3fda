//! What an operation of the engine can refuse, typed, for every adapter to present in its own
//! way (the web layer maps each to Intercom's `error.list` in one table).

use tidings_core::{FieldError, FieldErrors};
use tidings_store::StoreError;

/// A record an operation needed and did not find in the workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missing {
    Contact,
    Teammate,
    Message,
    Conversation,
    Delivery,
    Tag,
    SavedReply,
    Webhook,
    Segment,
    /// A custom attribute.
    Attribute,
    /// A live API token.
    ApiToken,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The input is wrong; each error names its field.
    #[error("{0}")]
    Invalid(FieldErrors),
    /// Something named does not exist in the workspace (`field` says where it was named).
    #[error("{what:?} not found")]
    NotFound { what: Missing, field: Option<String> },
    /// The record is not in a state that allows this; `code` says why, for clients to branch on.
    #[error("{message}")]
    Conflict { code: &'static str, message: String, field: Option<&'static str> },
    /// Nobody may do this to this record (a built-in segment cannot be deleted).
    #[error("{message}")]
    Forbidden { message: String },
    /// A record others depend on cannot be removed (a tag a segment uses); `code` says why.
    #[error("{message}")]
    InUse { code: &'static str, message: String },
    /// Well formed, but not something Tidings does (yet).
    #[error("{message}")]
    Unsupported { message: String, field: &'static str },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl EngineError {
    pub fn not_found(what: Missing) -> Self {
        EngineError::NotFound { what, field: None }
    }

    pub fn not_found_at(what: Missing, field: &str) -> Self {
        EngineError::NotFound { what, field: Some(field.to_owned()) }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        FieldError::invalid(field, message).into()
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        EngineError::Conflict { code, message: message.into(), field: None }
    }
}

impl From<FieldError> for EngineError {
    fn from(e: FieldError) -> Self {
        EngineError::Invalid(e.into())
    }
}

impl From<FieldErrors> for EngineError {
    fn from(e: FieldErrors) -> Self {
        EngineError::Invalid(e)
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
