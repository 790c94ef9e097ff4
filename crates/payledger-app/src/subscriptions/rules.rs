//! Drafts, update actions and the rules a Subscription must pass, with
//! their named rejections.

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
}

/// Who creates the subscription, and when (as for the catalog).
pub type SubscriptionMeta = crate::catalog::CatalogMeta;

/// One variant per rule that can refuse a subscription.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum SubscriptionRejection {
    InvalidKey {
        key: String,
    },
    DuplicateKey {
        key: String,
    },
    InvalidUrl {
        url: String,
        reason: String,
    },
    InvalidSecret {
        length_bytes: usize,
    },
    /// Neither a `messages` entry nor anything else to deliver.
    NoMessages,
    UnsupportedResourceTypeId {
        value: String,
    },
    UnknownMessageType {
        value: String,
    },
    TooManyMessageTypes {
        max: usize,
    },
    TooManySubscriptions {
        max: usize,
    },
    UnsupportedFormatVersion {
        value: String,
    },
}

impl SubscriptionRejection {
    /// A message for the client.
    pub fn message(&self) -> String {
        match self {
            Self::InvalidKey { key } => format!(
                "The key '{key}' must be {KEY_BYTES_MIN} to {KEY_BYTES_MAX} characters of A-Z, a-z, 0-9, '_' and '-'."
            ),
            Self::DuplicateKey { key } => {
                format!("A Subscription with the key '{key}' already exists.")
            }
            Self::InvalidUrl { url, reason } => format!(
                "The destination URL '{url}' is not usable: {reason}. Use an absolute http:// or https:// URL of at most {URL_BYTES_MAX} bytes."
            ),
            Self::InvalidSecret { length_bytes } => format!(
                "The destination secret must be {SECRET_BYTES_MIN} to {SECRET_BYTES_MAX} bytes; it has {length_bytes}."
            ),
            Self::NoMessages => format!(
                "A Subscription needs at least one messages entry (resourceTypeId '{PAYMENT_RESOURCE_TYPE_ID}')."
            ),
            Self::UnsupportedResourceTypeId { value } => format!(
                "The resourceTypeId '{value}' is not supported; payledger delivers messages of '{PAYMENT_RESOURCE_TYPE_ID}'."
            ),
            Self::UnknownMessageType { value } => {
                format!("The message type '{value}' is not a payment message type.")
            }
            Self::TooManyMessageTypes { max } => {
                format!("A Subscription names at most {max} message types.")
            }
            Self::TooManySubscriptions { max } => {
                format!("A project holds at most {max} Subscriptions.")
            }
            Self::UnsupportedFormatVersion { value } => format!(
                "The cloudEventsVersion '{value}' is not supported; use '{CLOUD_EVENTS_VERSION}'."
            ),
        }
    }
}

impl fmt::Display for SubscriptionRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

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

/// Checks a draft against every rule that needs no store; `message_types`
/// lists the known payment message types.
pub fn check_draft(
    draft: &SubscriptionDraft,
    message_types: &[&str],
) -> Result<(), SubscriptionRejection> {
    if let Some(key) = &draft.key
        && !is_identifier(key, KEY_BYTES_MIN, KEY_BYTES_MAX)
    {
        return Err(SubscriptionRejection::InvalidKey { key: key.clone() });
    }
    let Destination::Http { url, secret } = &draft.destination;
    check_url(url)?;
    if !(SECRET_BYTES_MIN..=SECRET_BYTES_MAX).contains(&secret.len()) {
        return Err(SubscriptionRejection::InvalidSecret {
            length_bytes: secret.len(),
        });
    }
    if draft.messages.is_empty() {
        return Err(SubscriptionRejection::NoMessages);
    }
    let mut types = 0;
    for filter in &draft.messages {
        if filter.resource_type_id != PAYMENT_RESOURCE_TYPE_ID {
            return Err(SubscriptionRejection::UnsupportedResourceTypeId {
                value: filter.resource_type_id.clone(),
            });
        }
        types += filter.types.len();
        if types > MESSAGE_TYPES_MAX {
            return Err(SubscriptionRejection::TooManyMessageTypes {
                max: MESSAGE_TYPES_MAX,
            });
        }
        if let Some(unknown) = filter
            .types
            .iter()
            .find(|t| !message_types.contains(&t.as_str()))
        {
            return Err(SubscriptionRejection::UnknownMessageType {
                value: unknown.clone(),
            });
        }
    }
    if let DeliveryFormat::CloudEvents {
        cloud_events_version,
    } = &draft.format
        && cloud_events_version != CLOUD_EVENTS_VERSION
    {
        return Err(SubscriptionRejection::UnsupportedFormatVersion {
            value: cloud_events_version.clone(),
        });
    }
    Ok(())
}

fn check_url(text: &str) -> Result<(), SubscriptionRejection> {
    let invalid = |reason: &str| SubscriptionRejection::InvalidUrl {
        url: text.chars().take(URL_BYTES_MAX).collect(),
        reason: reason.to_owned(),
    };
    if text.len() > URL_BYTES_MAX {
        return Err(invalid("it is too long"));
    }
    let url = url::Url::parse(text).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it names no host"));
    }
    if url.fragment().is_some() {
        return Err(invalid("a fragment is never sent"));
    }
    Ok(())
}
