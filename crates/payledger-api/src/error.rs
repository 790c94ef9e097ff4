//! The one place where failures become HTTP responses.
//!
//! Every error body has the commercetools shape `{statusCode, message,
//! errors: [{code, message, …extra}]}`. Internal failures answer 500
//! `General` without internals; the detail goes to the log only.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use payledger_app::AppError;
use payledger_app::auth::ClientError;
use payledger_domain::rejection::ErrorCode;
use payledger_domain::{Rejection, ResourceRef};
use serde_json::{Map, Value, json};

/// One entry of the `errors` array.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorObject {
    pub code: String,
    pub message: String,
    /// Extra fields of the error object (`field`, `currentVersion`, …).
    pub extra: Map<String, Value>,
}

/// An error response.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub errors: Vec<ErrorObject>,
    /// OAuth errors also carry a top-level `error` (`invalid_token`, …).
    pub oauth_error: Option<&'static str>,
    /// Seconds for `Retry-After` when shedding load.
    pub retry_after_seconds: Option<u64>,
}

impl ApiError {
    /// An error with one error object.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            status,
            errors: vec![ErrorObject {
                code: code.to_owned(),
                message: message.clone(),
                extra: Map::new(),
            }],
            message,
            oauth_error: None,
            retry_after_seconds: None,
        }
    }

    /// Adds an extra field to the (first) error object.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        if let Some(first) = self.errors.first_mut() {
            first.extra.insert(name.to_owned(), value.into());
        }
        self
    }

    /// 400 InvalidJsonInput: the body is not the JSON the endpoint takes.
    pub fn invalid_json(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidJsonInput",
            "Request body does not contain valid JSON.",
        )
        .with("detailedErrorMessage", detail)
    }

    /// 400 InvalidInput.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidInput", message)
    }

    /// 400 InvalidOperation.
    pub fn invalid_operation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidOperation", message)
    }

    /// 400 InvalidField.
    pub fn invalid_field(field: &str, invalid_value: Value, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidField", message)
            .with("field", field)
            .with("invalidValue", invalid_value)
    }

    /// 400 RequiredField.
    pub fn required_field(field: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "RequiredField",
            format!("A value is required for field {field}."),
        )
        .with("field", field)
    }

    /// 404 ResourceNotFound.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "ResourceNotFound", message)
    }

    /// 404 for a resource named by id or key, in the commercetools words.
    pub fn resource_not_found(by: &ResourceRef) -> Self {
        Self::not_found(match by {
            ResourceRef::Id(id) => format!("The Resource with ID '{id}' was not found."),
            ResourceRef::Key(key) => format!("The Resource with key '{key}' was not found."),
        })
    }

    /// 409 ConcurrentModification with the current version.
    pub fn conflict(id: &str, expected: u64, current_version: u64) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "ConcurrentModification",
            format!("Object {id} has a different version than expected. Expected: {expected} - Actual: {current_version}."),
        )
        .with("currentVersion", current_version)
    }

    /// 413: the body exceeds the limit.
    pub fn payload_too_large(limit_bytes: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "InvalidInput",
            format!(
                "The request body exceeds the limit of {limit_bytes} bytes (request_body_bytes_max)."
            ),
        )
    }

    /// 401 invalid_token.
    pub fn invalid_token(message: impl Into<String>) -> Self {
        let mut error = Self::new(StatusCode::UNAUTHORIZED, "invalid_token", message);
        error.oauth_error = Some("invalid_token");
        error
    }

    /// 403 insufficient_scope.
    pub fn insufficient_scope(needed: &str) -> Self {
        let mut error = Self::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            format!("Insufficient scope: one of the following scopes is missing: {needed}"),
        );
        error.oauth_error = Some("insufficient_scope");
        error
    }

    /// 503 with `Retry-After`: the store sheds load.
    pub fn overloaded() -> Self {
        let mut error = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Overloaded",
            "The service is overloaded; retry after the indicated delay.",
        );
        error.retry_after_seconds = Some(1);
        error
    }

    /// 500 General, without internals.
    pub fn general() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "General",
            "An internal error occurred.",
        )
    }

    /// A business rule said no.
    pub fn from_rejection(rejection: &Rejection) -> Self {
        let message = rejection.message();
        let bad_request = |code: &str| Self::new(StatusCode::BAD_REQUEST, code, message.clone());
        match rejection.code() {
            ErrorCode::InvalidInput => bad_request("InvalidInput"),
            ErrorCode::InvalidOperation => bad_request("InvalidOperation"),
            ErrorCode::InvalidField {
                field,
                invalid_value,
            } => bad_request("InvalidField").with("field", field).with(
                "invalidValue",
                crate::json::field_value_to_json(&invalid_value),
            ),
            ErrorCode::RequiredField { field } => bad_request("RequiredField").with("field", field),
            ErrorCode::DuplicateField {
                field,
                duplicate_value,
            } => bad_request("DuplicateField")
                .with("field", field)
                .with("duplicateValue", duplicate_value),
            ErrorCode::ReferencedResourceNotFound { type_id, by } => {
                let (by_name, value) = by.parts();
                bad_request("ReferencedResourceNotFound")
                    .with("typeId", type_id)
                    .with(by_name, value)
            }
            ErrorCode::ResourceNotFound => {
                Self::new(StatusCode::NOT_FOUND, "ResourceNotFound", message)
            }
        }
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Rejected(rejection) => Self::from_rejection(&rejection),
            AppError::NotFound => {
                Self::not_found("The Resource with the given ID or key was not found.")
            }
            AppError::Conflict {
                id,
                expected,
                current_version,
            } => Self::conflict(&id.to_string(), expected, current_version),
            AppError::IdempotencyKeyReused => Self::new(
                StatusCode::CONFLICT,
                "IdempotencyKeyReused",
                "The Idempotency-Key was already used with a different request.",
            ),
            AppError::IdempotencyKeyInFlight => Self::new(
                StatusCode::CONFLICT,
                "IdempotencyKeyInFlight",
                "A request with this Idempotency-Key is still in progress.",
            ),
            AppError::IdempotencyKeyTooLong { max } => {
                Self::invalid_input(format!("The Idempotency-Key is longer than {max} bytes."))
            }
            AppError::Overloaded => Self::overloaded(),
            AppError::Store(failure) => {
                tracing::error!(%failure, "store failure");
                Self::general()
            }
        }
    }
}

impl From<ClientError> for ApiError {
    fn from(error: ClientError) -> Self {
        match error {
            ClientError::InvalidId
            | ClientError::InvalidSecret
            | ClientError::InvalidScope { .. }
            | ClientError::NoScopes
            | ClientError::TooManyScopes { .. } => Self::invalid_input(error.to_string()),
            ClientError::Duplicate { ref id } => {
                Self::new(StatusCode::BAD_REQUEST, "DuplicateField", error.to_string())
                    .with("field", "id")
                    .with("duplicateValue", id.clone())
            }
            ClientError::NotFound { .. } => Self::not_found(error.to_string()),
            ClientError::Store(failure) => {
                tracing::error!(%failure, "store failure");
                Self::general()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let errors: Vec<Value> = self
            .errors
            .iter()
            .map(|e| {
                let mut object = Map::new();
                object.insert("code".into(), json!(e.code));
                object.insert("message".into(), json!(e.message));
                object.extend(e.extra.clone());
                Value::Object(object)
            })
            .collect();
        let mut body = json!({
            "statusCode": self.status.as_u16(),
            "message": self.message,
            "errors": errors,
        });
        if let (Some(oauth), Some(object)) = (self.oauth_error, body.as_object_mut()) {
            object.insert("error".into(), json!(oauth));
            object.insert("error_description".into(), json!(self.message));
        }
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after_seconds {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(seconds));
        }
        response
    }
}
