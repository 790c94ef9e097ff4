//! The failures of a use case, kept apart: a rejection (a business rule said
//! no), a precondition (not found, version, idempotency), load shedding, and
//! infrastructure failures. The API crate maps each to HTTP in one place.

use payledger_domain::{Rejection, StreamId};
use payledger_store::{AppendError, StoreError};

/// Why a use case did not complete. Nothing was written in every case.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("rejected: {}", .0.message())]
    Rejected(Rejection),
    #[error("the resource was not found")]
    NotFound,
    #[error(
        "object {} has a different version than expected (expected {expected}, actual {current_version})",
        .stream.id
    )]
    Conflict {
        stream: StreamId,
        expected: u64,
        current_version: u64,
    },
    #[error("the idempotency key was already used with a different request")]
    IdempotencyKeyReused,
    #[error("a request with this idempotency key is still in progress")]
    IdempotencyKeyInFlight,
    #[error("the idempotency key is longer than {max} bytes")]
    IdempotencyKeyTooLong { max: usize },
    #[error("the service is overloaded; retry later")]
    Overloaded,
    /// A read would pass a scan limit: refused whole rather than answered
    /// in part.
    #[error("{what} would read more than {limit} = {max} rows; {narrow}")]
    ScanLimit {
        what: &'static str,
        limit: &'static str,
        max: usize,
        narrow: &'static str,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<crate::idempotency::AnswerError> for AppError {
    /// An answer recorded meanwhile means a request with the same key ran
    /// at the same time.
    fn from(error: crate::idempotency::AnswerError) -> Self {
        match error {
            crate::idempotency::AnswerError::Recorded => Self::IdempotencyKeyInFlight,
            crate::idempotency::AnswerError::Store(store) => Self::Store(store),
        }
    }
}

impl From<Rejection> for AppError {
    fn from(rejection: Rejection) -> Self {
        Self::Rejected(rejection)
    }
}

impl AppError {
    /// Maps a refused append, given the version the command expected.
    pub fn from_append(error: AppendError, stream: StreamId, expected: u64) -> Self {
        match error {
            AppendError::Conflict { current_version } => Self::Conflict {
                stream,
                expected,
                current_version,
            },
            AppendError::Overloaded { .. } => Self::Overloaded,
            AppendError::Store(store) => Self::Store(store),
            // The command layer never builds empty or oversized appends.
            AppendError::Empty | AppendError::TooManyEvents { .. } => {
                Self::Store(StoreError::Engine(error.to_string()))
            }
        }
    }
}
