//! Validation errors that name the field (or the path inside a filter) they are about.
//!
//! The web layer turns these into Intercom's `error.list` body, one entry per error.

/// One bad field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FieldError {
    /// An Intercom error code such as `parameter_invalid`.
    pub code: &'static str,
    /// The field or path, e.g. `email`, `custom_attributes.plan`, `query.value[1].operator`.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        FieldError { code: "parameter_invalid", field: field.to_owned(), message: message.into() }
    }

    pub fn missing(field: &str, message: impl Into<String>) -> Self {
        FieldError { code: "parameter_missing", field: field.to_owned(), message: message.into() }
    }
}

/// Several bad fields, reported together so a caller can fix them all at once.
#[derive(Clone, Debug, Default, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; "))]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when no error was pushed.
    ///
    /// # Errors
    /// Self, when it holds any error.
    pub fn into_result<T>(self, value: T) -> Result<T, Self> {
        if self.0.is_empty() { Ok(value) } else { Err(self) }
    }
}

impl From<FieldError> for FieldErrors {
    fn from(e: FieldError) -> Self {
        FieldErrors(vec![e])
    }
}
