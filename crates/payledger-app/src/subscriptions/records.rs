//! The stored Subscription: destination, message filters, format, and
//! whether its deliveries are stopped.

use super::*;

/// A stored subscription (the API writes its own JSON from it).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionRecord {
    pub id: String,
    pub version: u64,
    pub created_at: String,
    pub last_modified_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<ModifiedBy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_by: Option<ModifiedBy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub destination: Destination,
    pub messages: Vec<MessageFilter>,
    pub format: DeliveryFormat,
    /// Set when a Message failed past the retry bound; the workers deliver
    /// nothing while it is (absent in records written before bounds
    /// existed: never stopped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_stop: Option<DeliveryStop>,
}

/// Why a subscription's deliveries stopped: the bound a failing Message
/// passed. The cursors stay where they were, so nothing is skipped when
/// the deliveries resume.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryStop {
    /// When, as the record's other times are written.
    pub at: String,
    /// The bound that was passed and the last failure, for operators.
    pub reason: String,
}

impl SubscriptionRecord {
    /// Whether a Message of `message_type` about a resource of
    /// `resource_type_id` (`payment`, `order`) is delivered.
    pub fn wants(&self, resource_type_id: &str, message_type: &str) -> bool {
        self.messages.iter().any(|filter| {
            filter.resource_type_id == resource_type_id
                && (filter.types.is_empty() || filter.types.iter().any(|t| t == message_type))
        })
    }
}

/// Where deliveries go.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Destination {
    /// `POST url` with the delivery as body, signed with `secret`.
    #[serde(rename = "HTTP")]
    Http { url: String, secret: String },
}

impl Destination {
    pub fn url(&self) -> &str {
        match self {
            Self::Http { url, .. } => url,
        }
    }

    pub fn secret(&self) -> &str {
        match self {
            Self::Http { secret, .. } => secret,
        }
    }
}

/// Which Messages a subscription receives: of `resourceTypeId`, all types
/// when `types` is empty.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageFilter {
    pub resource_type_id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
}

/// The body of a delivery.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum DeliveryFormat {
    /// The Message JSON with `notificationType` and `projectKey`.
    Platform,
    /// A CloudEvents 1.0 JSON envelope whose `data` is the Platform body.
    CloudEvents {
        #[serde(rename = "cloudEventsVersion")]
        cloud_events_version: String,
    },
}
