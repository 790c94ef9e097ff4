//! Drafts, update actions and the use cases' error; the rules a
//! Subscription must pass are the domain's, asked through [`check_draft`].

use super::*;

/// A validated-shape `SubscriptionDraft` (the API parsed the JSON).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SubscriptionDraft {
    pub key: Option<String>,
    pub destination: Destination,
    pub messages: Vec<MessageFilter>,
    pub format: DeliveryFormat,
}

impl SubscriptionDraft {
    /// What of `record` a draft describes (to check an update against the
    /// rules of a new subscription).
    pub(super) fn of(record: &SubscriptionRecord) -> Self {
        Self {
            key: record.key.clone(),
            destination: record.destination.clone(),
            messages: record.messages.clone(),
            format: record.format.clone(),
        }
    }
}

/// A commercetools `SubscriptionUpdateAction` that payledger supports.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum SubscriptionAction {
    /// `changeDestination`: a new URL and/or secret.
    ChangeDestination(Destination),
    /// `setKey`; `None` removes the key.
    SetKey(Option<String>),
    /// `setMessages`.
    SetMessages(Vec<MessageFilter>),
    /// `resumeDeliveries` (payledger's own): deliveries stopped by the
    /// retry bound start again from the Messages they stopped at.
    ResumeDeliveries,
}

/// Who creates the subscription, and when (as for the catalog).
pub type SubscriptionMeta = crate::catalog::CatalogMeta;

/// Why a subscription use case did not complete; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    #[error("rejected: {0}")]
    Rejected(SubscriptionRejection),
    #[error("the Subscription was not found")]
    NotFound,
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

impl From<AnswerError> for SubscriptionError {
    fn from(error: AnswerError) -> Self {
        match error {
            AnswerError::Recorded => Self::AnswerRecorded,
            AnswerError::Store(failure) => Self::Store(failure),
        }
    }
}

impl From<SubscriptionRejection> for SubscriptionError {
    fn from(rejection: SubscriptionRejection) -> Self {
        Self::Rejected(rejection)
    }
}

/// Checks a draft against every rule that needs no store (the domain's
/// [`rules::check_subscription`]); `message_types` lists the known payment
/// message types.
pub fn check_draft(
    draft: &SubscriptionDraft,
    message_types: &[&str],
) -> Result<(), SubscriptionRejection> {
    let messages: Vec<MessageSelection<'_>> = draft
        .messages
        .iter()
        .map(|filter| MessageSelection {
            resource_type_id: &filter.resource_type_id,
            types: &filter.types,
        })
        .collect();
    let cloud_events_version = match &draft.format {
        DeliveryFormat::Platform => None,
        DeliveryFormat::CloudEvents {
            cloud_events_version,
        } => Some(cloud_events_version.as_str()),
    };
    let shape = SubscriptionShape {
        key: draft.key.as_deref(),
        url: draft.destination.url(),
        secret: draft.destination.secret(),
        messages: &messages,
        cloud_events_version,
    };
    rules::check_subscription(&shape, message_types)
}
