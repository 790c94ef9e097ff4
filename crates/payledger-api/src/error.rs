//! The one place where failures become HTTP responses.
//!
//! Every error body has the commercetools shape `{statusCode, message,
//! errors: [{code, message, …extra}]}`; `code` is one of the closed
//! [`ErrorCode`] list. Each use-case error (`AppError`, `CatalogError`,
//! `SubscriptionError`, `ClientError`, `AuthError`, `PspFailure`, the
//! domain's `Rejection`) is mapped here and nowhere else. Store and other
//! internal failures answer 5xx (`General`, or `Overloaded` with
//! `Retry-After`) without internals; the detail goes to the log only.
//! Routes only pick a constructor for failures of the request itself
//! (unreadable JSON, an unknown route parameter).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use payledger_app::AppError;
use payledger_app::auth::{AuthError, ClientError};
use payledger_app::catalog::{CatalogError, CatalogRejection};
use payledger_app::psp::PspFailure;
use payledger_app::subscriptions::{SubscriptionError, SubscriptionRejection};
use payledger_domain::rejection::RejectionCode;
use payledger_domain::{Rejection, ResourceRef};
use payledger_store::StoreError;
use serde_json::{Map, Value, json};

/// Every `code` payledger answers with: the commercetools error codes it
/// uses, and the OAuth 2.0 ones of the token endpoint and bearer checks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ErrorCode {
    ConcurrentModification,
    DuplicateEnumValues,
    DuplicateField,
    General,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    InvalidField,
    InvalidInput,
    InvalidJsonInput,
    InvalidOperation,
    MaxResourceLimitExceeded,
    Overloaded,
    ReferencedResourceNotFound,
    RequiredField,
    ResourceNotFound,
    /// An API client passed its configured request rate (429).
    TooManyRequests,
    /// A retry-payment before the latest attempt may be replaced.
    RetryNotYetAllowed,
    /// OAuth: the bearer token is missing, unknown, expired or revoked.
    InvalidToken,
    /// OAuth: the token lacks the scope the endpoint needs.
    InsufficientScope,
    /// OAuth: the client credentials are wrong.
    InvalidClient,
    /// OAuth: the token request is malformed.
    InvalidRequest,
    /// OAuth: a requested scope is unknown or not allowed.
    InvalidScope,
    /// OAuth: only `client_credentials` is supported.
    UnsupportedGrantType,
}

impl ErrorCode {
    /// The `code` text of the error object.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ConcurrentModification => "ConcurrentModification",
            Self::DuplicateEnumValues => "DuplicateEnumValues",
            Self::DuplicateField => "DuplicateField",
            Self::General => "General",
            Self::IdempotencyKeyInFlight => "IdempotencyKeyInFlight",
            Self::IdempotencyKeyReused => "IdempotencyKeyReused",
            Self::InvalidField => "InvalidField",
            Self::InvalidInput => "InvalidInput",
            Self::InvalidJsonInput => "InvalidJsonInput",
            Self::InvalidOperation => "InvalidOperation",
            Self::MaxResourceLimitExceeded => "MaxResourceLimitExceeded",
            Self::Overloaded => "Overloaded",
            Self::ReferencedResourceNotFound => "ReferencedResourceNotFound",
            Self::RequiredField => "RequiredField",
            Self::ResourceNotFound => "ResourceNotFound",
            Self::RetryNotYetAllowed => "RetryNotYetAllowed",
            Self::TooManyRequests => "TooManyRequests",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::InvalidClient => "invalid_client",
            Self::InvalidRequest => "invalid_request",
            Self::InvalidScope => "invalid_scope",
            Self::UnsupportedGrantType => "unsupported_grant_type",
        }
    }

    /// The HTTP status an error with this code answers with (a body over
    /// the size limit is the one exception: 413 `InvalidInput`).
    pub const fn status(self) -> StatusCode {
        match self {
            Self::ConcurrentModification
            | Self::IdempotencyKeyInFlight
            | Self::IdempotencyKeyReused => StatusCode::CONFLICT,
            Self::General => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::ResourceNotFound => StatusCode::NOT_FOUND,
            Self::InvalidToken | Self::InvalidClient => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope => StatusCode::FORBIDDEN,
            Self::DuplicateEnumValues
            | Self::DuplicateField
            | Self::InvalidField
            | Self::InvalidInput
            | Self::InvalidJsonInput
            | Self::InvalidOperation
            | Self::MaxResourceLimitExceeded
            | Self::ReferencedResourceNotFound
            | Self::RequiredField
            | Self::RetryNotYetAllowed
            | Self::InvalidRequest
            | Self::InvalidScope
            | Self::UnsupportedGrantType => StatusCode::BAD_REQUEST,
        }
    }

    /// Whether the body also carries the OAuth `error` fields.
    const fn is_oauth(self) -> bool {
        matches!(
            self,
            Self::InvalidToken
                | Self::InsufficientScope
                | Self::InvalidClient
                | Self::InvalidRequest
                | Self::InvalidScope
                | Self::UnsupportedGrantType
        )
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// One entry of the `errors` array.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorObject {
    pub code: ErrorCode,
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
    /// Seconds for `Retry-After` when shedding load.
    pub retry_after_seconds: Option<u64>,
}

impl ApiError {
    /// An error with one error object, answered with the code's status.
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            status: code.status(),
            errors: vec![ErrorObject {
                code,
                message: message.clone(),
                extra: Map::new(),
            }],
            message,
            retry_after_seconds: None,
        }
    }

    /// The code of the (first) error object.
    pub fn code(&self) -> Option<ErrorCode> {
        self.errors.first().map(|e| e.code)
    }

    /// The top-level OAuth `error` of the body (`invalid_token`, …), if
    /// the code is an OAuth one.
    pub fn oauth_error(&self) -> Option<&'static str> {
        self.code()
            .filter(|code| code.is_oauth())
            .map(ErrorCode::as_str)
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
            ErrorCode::InvalidJsonInput,
            "Request body does not contain valid JSON.",
        )
        .with("detailedErrorMessage", detail)
    }

    /// 400 InvalidInput.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }

    /// 400 InvalidOperation.
    pub fn invalid_operation(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidOperation, message)
    }

    /// 400 InvalidField.
    pub fn invalid_field(field: &str, invalid_value: Value, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidField, message)
            .with("field", field)
            .with("invalidValue", invalid_value)
    }

    /// 400 RequiredField.
    pub fn required_field(field: &str) -> Self {
        Self::new(
            ErrorCode::RequiredField,
            format!("A value is required for field {field}."),
        )
        .with("field", field)
    }

    /// 400 DuplicateField.
    pub fn duplicate_field(field: &str, value: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::DuplicateField, message)
            .with("field", field)
            .with("duplicateValue", value)
    }

    /// 400 ReferencedResourceNotFound: `by` names a `type_id` resource
    /// that does not exist.
    pub fn referenced_not_found(
        type_id: &str,
        by: &ResourceRef,
        message: impl Into<String>,
    ) -> Self {
        let (by_name, value) = by.parts();
        Self::new(ErrorCode::ReferencedResourceNotFound, message)
            .with("typeId", type_id)
            .with(by_name, value)
    }

    /// 404 ResourceNotFound.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceNotFound, message)
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
            ErrorCode::ConcurrentModification,
            format!("Object {id} has a different version than expected. Expected: {expected} - Actual: {current_version}."),
        )
        .with("currentVersion", current_version)
    }

    /// 413: the body exceeds the limit.
    pub fn payload_too_large(limit_bytes: usize) -> Self {
        let mut error = Self::new(
            ErrorCode::InvalidInput,
            format!(
                "The request body exceeds the limit of {limit_bytes} bytes (request_body_bytes_max)."
            ),
        );
        error.status = StatusCode::PAYLOAD_TOO_LARGE;
        error
    }

    /// 401 invalid_token.
    pub fn invalid_token(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidToken, message)
    }

    /// 403 insufficient_scope.
    pub fn insufficient_scope(needed: &str) -> Self {
        Self::new(
            ErrorCode::InsufficientScope,
            format!("Insufficient scope: one of the following scopes is missing: {needed}"),
        )
    }

    /// 401 invalid_client.
    pub fn invalid_client() -> Self {
        Self::new(
            ErrorCode::InvalidClient,
            "Please provide valid client credentials using HTTP Basic Authentication.",
        )
    }

    /// 400 invalid_request: a malformed token request.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    /// 503 with `Retry-After`: the store sheds load.
    pub fn overloaded() -> Self {
        let mut error = Self::new(
            ErrorCode::Overloaded,
            "The service is overloaded: a partition's append queue is full \
             (APPEND_QUEUE_REQUESTS_MAX) or a write kept meeting concurrent ones; retry after \
             the indicated delay.",
        );
        error.retry_after_seconds = Some(1);
        error
    }

    /// 500 General, without internals.
    pub fn general() -> Self {
        Self::new(ErrorCode::General, "An internal error occurred.")
    }

    /// A failure no request can cause: logged with `what`, answered 500.
    fn internal(what: &str, failure: &dyn std::fmt::Display) -> Self {
        tracing::error!(%failure, "{what}");
        Self::general()
    }

    /// A business rule of the payment domain said no.
    pub fn from_rejection(rejection: &Rejection) -> Self {
        let message = rejection.message();
        match rejection.code() {
            RejectionCode::InvalidInput => Self::invalid_input(message),
            RejectionCode::InvalidOperation => Self::invalid_operation(message),
            RejectionCode::InvalidField {
                field,
                invalid_value,
            } => Self::invalid_field(
                &field,
                crate::json::field_value_to_json(&invalid_value),
                message,
            ),
            RejectionCode::RequiredField { field } => {
                Self::new(ErrorCode::RequiredField, message).with("field", field)
            }
            RejectionCode::DuplicateField {
                field,
                duplicate_value,
            } => Self::duplicate_field(&field, &duplicate_value, message),
            RejectionCode::ReferencedResourceNotFound { type_id, by } => {
                Self::referenced_not_found(type_id, &by, message)
            }
            RejectionCode::ResourceNotFound => Self::not_found(message),
            RejectionCode::RetryNotYetAllowed {
                allowed_from,
                wait_ms,
            } => {
                let mut error = Self::new(ErrorCode::RetryNotYetAllowed, message).with(
                    "retryAllowedFrom",
                    payledger_domain::time::format_timestamp(allowed_from),
                );
                // Whole seconds, rounded up: a client that waits this long
                // is allowed.
                let wait_ms = u64::try_from(wait_ms).unwrap_or(0);
                error.retry_after_seconds = Some(wait_ms.div_ceil(1000));
                error
            }
        }
    }

    /// A failed bearer-token check.
    pub fn bearer(error: AuthError) -> Self {
        match error {
            AuthError::InvalidToken => Self::invalid_token("The access token is invalid."),
            AuthError::Expired => Self::invalid_token("The access token has expired."),
            AuthError::Revoked => Self::invalid_token("The access token was revoked."),
            other => Self::internal("authentication failure", &other),
        }
    }

    /// A refused token request.
    pub fn token(error: AuthError) -> Self {
        match error {
            AuthError::InvalidClient => Self::invalid_client(),
            AuthError::InvalidScope { scope } => Self::new(
                ErrorCode::InvalidScope,
                format!(
                    "The scope '{scope}' is unknown, malformed or not allowed for this client."
                ),
            ),
            AuthError::UnsupportedGrantType { grant_type } => Self::new(
                ErrorCode::UnsupportedGrantType,
                format!("The grant type '{grant_type}' is not supported; use client_credentials."),
            ),
            other => Self::internal("authentication failure", &other),
        }
    }

    /// A failed Type or State use case; `target` names the resource in a
    /// 404.
    pub fn catalog(error: CatalogError, target: Option<&ResourceRef>) -> Self {
        match error {
            CatalogError::Rejected(rejection) => Self::from(&rejection),
            CatalogError::NotFound(kind) => target.map_or_else(
                || Self::not_found(format!("The {kind} was not found.")),
                Self::resource_not_found,
            ),
            CatalogError::Conflict {
                id,
                expected,
                current_version,
            } => Self::conflict(&id, expected, current_version),
            CatalogError::AnswerRecorded => Self::from(AppError::IdempotencyKeyInFlight),
            CatalogError::Store(failure) => Self::from(failure),
        }
    }

    /// A failed Subscription use case; `target` names the resource in a
    /// 404.
    pub fn subscription(error: SubscriptionError, target: Option<&ResourceRef>) -> Self {
        match error {
            SubscriptionError::Rejected(rejection) => Self::from(&rejection),
            SubscriptionError::NotFound => target.map_or_else(
                || Self::not_found("The Subscription was not found."),
                Self::resource_not_found,
            ),
            SubscriptionError::Conflict {
                id,
                expected,
                current_version,
            } => Self::conflict(&id, expected, current_version),
            SubscriptionError::AnswerRecorded => Self::from(AppError::IdempotencyKeyInFlight),
            SubscriptionError::Store(failure) => Self::from(failure),
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
                stream,
                expected,
                current_version,
            } => Self::conflict(&stream.id.to_string(), expected, current_version),
            AppError::IdempotencyKeyReused => Self::new(
                ErrorCode::IdempotencyKeyReused,
                "The Idempotency-Key was already used with a different request.",
            ),
            AppError::IdempotencyKeyInFlight => Self::new(
                ErrorCode::IdempotencyKeyInFlight,
                "A request with this Idempotency-Key is still in progress.",
            ),
            AppError::IdempotencyKeyTooLong { max } => {
                Self::invalid_input(format!("The Idempotency-Key is longer than {max} bytes."))
            }
            AppError::Overloaded => Self::overloaded(),
            AppError::ScanLimit { .. } => Self::invalid_input(format!("The {error}.")),
            AppError::Store(failure) => Self::from(failure),
        }
    }
}

/// A request refused by admission control: 503 `Overloaded` for the
/// server's own limits, 429 `TooManyRequests` for a client's rate; both
/// with `Retry-After`, and the limit's name and value in the error object.
impl From<crate::admission::Refused> for ApiError {
    fn from(refused: crate::admission::Refused) -> Self {
        use crate::admission::Limit;
        let (code, message) = match refused.limit {
            Limit::RequestsInFlight => (
                ErrorCode::Overloaded,
                format!(
                    "The service is overloaded: {} requests are in flight \
                     (REQUESTS_IN_FLIGHT_MAX); retry after the indicated delay.",
                    refused.value
                ),
            ),
            Limit::RequestsQueued => (
                ErrorCode::Overloaded,
                format!(
                    "The service is overloaded: {} requests already wait for a slot \
                     (REQUESTS_QUEUED_MAX); retry after the indicated delay.",
                    refused.value
                ),
            ),
            Limit::QueueWait => (
                ErrorCode::Overloaded,
                format!(
                    "The service is overloaded: the request would wait more than {} ms \
                     for a slot (QUEUE_WAIT_MS_MAX); retry after the indicated delay.",
                    refused.value
                ),
            ),
            Limit::CpuPercent => (
                ErrorCode::Overloaded,
                format!(
                    "The service is overloaded: its CPU use is above {} % \
                     (CPU_PERCENT_MAX); retry after the indicated delay.",
                    refused.value
                ),
            ),
            Limit::ClientRate => (
                ErrorCode::TooManyRequests,
                format!(
                    "This API client sent more than {} requests per second \
                     (CLIENT_REQUESTS_PER_S_MAX); retry after the indicated delay.",
                    refused.value
                ),
            ),
        };
        let mut error = Self::new(code, message)
            .with("limit", refused.limit.name())
            .with("limitValue", refused.value);
        error.retry_after_seconds = Some(refused.retry_after_s);
        error
    }
}

impl From<payledger_app::analytics::AnalyticsError> for ApiError {
    fn from(error: payledger_app::analytics::AnalyticsError) -> Self {
        match error {
            payledger_app::analytics::AnalyticsError::TooManyBuckets { .. } => {
                Self::invalid_input(format!("{error}."))
            }
            payledger_app::analytics::AnalyticsError::App(app) => Self::from(app),
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
            ClientError::Duplicate { ref id } => Self::duplicate_field("id", id, error.to_string()),
            ClientError::NotFound { .. } => Self::not_found(error.to_string()),
            ClientError::Store(failure) => Self::from(failure),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(failure: StoreError) -> Self {
        Self::internal("store failure", &failure)
    }
}

/// PSP flows: rules and conflicts as for payments; infrastructure (the
/// PSP, the catalog, a task) is a 500 without internals.
impl From<payledger_app::merchants::MerchantError> for ApiError {
    fn from(error: payledger_app::merchants::MerchantError) -> Self {
        use payledger_app::merchants::MerchantError as E;
        match error {
            E::NotFound { .. } | E::KeyNotFound { .. } => Self::not_found(error.to_string()),
            E::Duplicate { .. } | E::DuplicateKey { .. } => {
                Self::new(ErrorCode::DuplicateField, error.to_string())
            }
            E::InvalidId | E::InvalidKey { .. } | E::TooManyKeys { .. } => {
                Self::invalid_input(error.to_string())
            }
            E::Store(store) => Self::from(store),
        }
    }
}

impl From<PspFailure> for ApiError {
    fn from(error: PspFailure) -> Self {
        match error {
            PspFailure::App(app) => Self::from(app),
            PspFailure::Psp(error) => {
                tracing::warn!(%error, "the PSP did not complete a call");
                let mut answer = Self::new(
                    ErrorCode::General,
                    "The payment service provider did not complete the call; what was started \
                     is resumed in the background. Retry later.",
                );
                answer.status = StatusCode::BAD_GATEWAY;
                answer
            }
            other => Self::internal("PSP flow failed", &other),
        }
    }
}

/// The commercetools error of each catalog rule.
impl From<&CatalogRejection> for ApiError {
    fn from(rejection: &CatalogRejection) -> Self {
        let message = rejection.message();
        match rejection {
            CatalogRejection::InvalidKey { key } => {
                ApiError::invalid_field("key", json!(key), message)
            }
            CatalogRejection::DuplicateKey { key } => {
                ApiError::duplicate_field("key", key, message)
            }
            CatalogRejection::MissingResourceTypeIds => {
                ApiError::invalid_field("resourceTypeIds", json!([]), message)
            }
            CatalogRejection::UnknownResourceTypeId { value }
            | CatalogRejection::DuplicateResourceTypeId { value } => {
                ApiError::invalid_field("resourceTypeIds", json!(value), message)
            }
            CatalogRejection::InvalidFieldName { name } => {
                ApiError::invalid_field("fieldDefinitions.name", json!(name), message)
            }
            CatalogRejection::DuplicateFieldName { name } => {
                ApiError::duplicate_field("fieldDefinitions.name", name, message)
            }
            CatalogRejection::UnknownFieldName { .. } => ApiError::invalid_operation(message),
            CatalogRejection::InvalidEnumKey { key } => {
                ApiError::invalid_field("fieldDefinitions.type.values.key", json!(key), message)
            }
            CatalogRejection::DuplicateEnumKeys { duplicates } => {
                ApiError::new(ErrorCode::DuplicateEnumValues, message)
                    .with("duplicates", json!(duplicates))
            }
            CatalogRejection::UnknownReferenceTypeId { value } => ApiError::invalid_field(
                "fieldDefinitions.type.referenceTypeId",
                json!(value),
                message,
            ),
            CatalogRejection::TransitionNotFound { by } => {
                ApiError::referenced_not_found("state", by, message)
            }
            CatalogRejection::TooManyResources { kind, .. } => {
                ApiError::new(ErrorCode::MaxResourceLimitExceeded, message)
                    .with("exceededResource", kind.type_id())
            }
            CatalogRejection::TooManyFieldDefinitions { .. }
            | CatalogRejection::TooManyEnumValues { .. }
            | CatalogRejection::FieldTypeTooDeep { .. }
            | CatalogRejection::TransitionToOtherType { .. }
            | CatalogRejection::TooManyTransitions { .. }
            | CatalogRejection::TooManyActions { .. } => ApiError::invalid_input(message),
        }
    }
}

/// The commercetools error of each subscription rule.
impl From<&SubscriptionRejection> for ApiError {
    fn from(rejection: &SubscriptionRejection) -> Self {
        let message = rejection.message();
        match rejection {
            SubscriptionRejection::InvalidKey { key } => {
                ApiError::invalid_field("key", json!(key), message)
            }
            SubscriptionRejection::DuplicateKey { key } => {
                ApiError::duplicate_field("key", key, message)
            }
            SubscriptionRejection::InvalidUrl { url, .. } => {
                ApiError::invalid_field("destination.url", json!(url), message)
            }
            SubscriptionRejection::InvalidSecret { .. } => {
                ApiError::invalid_field("destination.secret", json!("****"), message)
            }
            SubscriptionRejection::UnsupportedResourceTypeId { value } => {
                ApiError::invalid_field("messages.resourceTypeId", json!(value), message)
            }
            SubscriptionRejection::UnknownMessageType { value } => {
                ApiError::invalid_field("messages.types", json!(value), message)
            }
            SubscriptionRejection::UnsupportedFormatVersion { value } => {
                ApiError::invalid_field("format.cloudEventsVersion", json!(value), message)
            }
            SubscriptionRejection::TooManySubscriptions { .. } => {
                ApiError::new(ErrorCode::MaxResourceLimitExceeded, message)
                    .with("exceededResource", "subscription")
            }
            SubscriptionRejection::NoMessages
            | SubscriptionRejection::TooManyMessageTypes { .. } => ApiError::invalid_input(message),
        }
    }
}

impl ApiError {
    /// The commercetools error object this error answers with.
    pub(crate) fn body(&self) -> Value {
        let errors: Vec<Value> = self
            .errors
            .iter()
            .map(|e| {
                let mut object = Map::new();
                object.insert("code".into(), json!(e.code.as_str()));
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
        if let (Some(oauth), Some(object)) = (self.oauth_error(), body.as_object_mut()) {
            object.insert("error".into(), json!(oauth));
            object.insert("error_description".into(), json!(self.message));
        }
        body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after_seconds {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(seconds));
        }
        response
    }
}
