//! The catalog use cases' error: a rejection by one of the domain's
//! catalog rules, a precondition, or a store failure.

use super::*;

/// Why a catalog use case did not complete. Nothing was written in every
/// case.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("rejected: {0}")]
    Rejected(CatalogRejection),
    #[error("the {0} was not found")]
    NotFound(CatalogKind),
    #[error(
        "object {id} has a different version than expected (expected {expected}, actual {current_version})"
    )]
    Conflict {
        id: String,
        expected: u64,
        current_version: u64,
    },
    /// A request with the same `Idempotency-Key` was answered meanwhile.
    #[error("a request with this Idempotency-Key was answered meanwhile")]
    AnswerRecorded,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AnswerError> for CatalogError {
    fn from(error: AnswerError) -> Self {
        match error {
            AnswerError::Recorded => Self::AnswerRecorded,
            AnswerError::Store(failure) => Self::Store(failure),
        }
    }
}

impl From<CatalogRejection> for CatalogError {
    fn from(rejection: CatalogRejection) -> Self {
        Self::Rejected(rejection)
    }
}
