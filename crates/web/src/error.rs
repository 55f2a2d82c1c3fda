//! API errors in Intercom's `error.list` shape, and the one table that maps Tidings' errors to
//! codes and HTTP statuses.
//!
//! A 5xx body stays generic and carries a request id; the cause goes to the log under that id.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tidings_core::{FieldError, FieldErrors};
use tidings_engine::{EngineError, Missing};
use tidings_store::StoreError;

/// One entry of an `error.list`.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorItem {
    pub code: String,
    pub message: String,
    pub field: Option<String>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub errors: Vec<ErrorItem>,
    /// The cause of a server error, logged, never sent.
    pub cause: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            errors: vec![ErrorItem { code: code.into(), message: message.into(), field: None }],
            cause: None,
        }
    }

    pub fn with_field(mut self, field: &str) -> Self {
        if let Some(e) = self.errors.first_mut() {
            e.field = Some(field.to_owned());
        }
        self
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Access Token Invalid")
    }

    pub fn user_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "User Not Found")
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Resource Not Found")
    }

    pub fn forbidden(message: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, "action_forbidden", message)
    }

    pub fn bad_request(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "parameter_invalid", message).with_field(field)
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            errors: vec![ErrorItem {
                code: "server_error".into(),
                message: "Something went wrong on our side; the request id identifies it in the server log".into(),
                field: None,
            }],
            cause: Some(cause.to_string()),
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        FieldErrors::from(e).into()
    }
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            errors: errors
                .0
                .into_iter()
                .map(|e| ErrorItem { code: e.code.into(), message: e.message, field: Some(e.field) })
                .collect(),
            cause: None,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { what, existing_id: Some(id) } => {
                ApiError::new(StatusCode::CONFLICT, "conflict", format!("{what} already exists with id={id}"))
            }
            StoreError::Conflict { what, existing_id: None } => {
                ApiError::new(StatusCode::CONFLICT, "conflict", format!("{what} already exists"))
            }
            other => ApiError::internal(other),
        }
    }
}

/// The one table from the engine's refusals to Intercom's codes and statuses.
impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Invalid(errors) => errors.into(),
            EngineError::NotFound { what, field } => {
                let e = match what {
                    Missing::Contact => ApiError::user_not_found(),
                    Missing::Teammate => ApiError::new(StatusCode::NOT_FOUND, "admin_not_found", "Admin not found"),
                    Missing::Message
                    | Missing::Conversation
                    | Missing::Delivery
                    | Missing::Tag
                    | Missing::SavedReply
                    | Missing::Webhook
                    | Missing::Segment
                    | Missing::ApiToken => ApiError::not_found(),
                    Missing::Attribute => ApiError::new(
                        StatusCode::NOT_FOUND,
                        "field_not_found",
                        "We couldn't find that data attribute to update",
                    ),
                };
                match field {
                    Some(f) => e.with_field(&f),
                    None => e,
                }
            }
            EngineError::Conflict { code, message, field } => {
                let e = ApiError::new(StatusCode::CONFLICT, code, message);
                match field {
                    Some(f) => e.with_field(f),
                    None => e,
                }
            }
            EngineError::Forbidden { message } => ApiError::forbidden(&message),
            EngineError::InUse { code, message } => ApiError::new(StatusCode::BAD_REQUEST, code, message),
            EngineError::Unsupported { message, field } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unsupported", message).with_field(field)
            }
            EngineError::Store(e) => e.into(),
        }
    }
}

/// A random id for a request, as lowercase hex in the UUID layout.
pub fn request_id() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).unwrap_or_default();
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = request_id();
        if let Some(cause) = &self.cause {
            tracing::error!(%request_id, cause, "request failed");
        }
        let errors: Vec<_> = self
            .errors
            .iter()
            .map(|e| match &e.field {
                Some(f) => json!({"code": e.code, "message": e.message, "field": f}),
                None => json!({"code": e.code, "message": e.message}),
            })
            .collect();
        let body = json!({"type": "error.list", "request_id": request_id, "errors": errors});
        (self.status, Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
