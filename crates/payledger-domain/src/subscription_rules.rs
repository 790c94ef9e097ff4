//! The rules an outbound webhook Subscription must pass: its key, its
//! destination URL and secret, the Messages it selects and its format, and
//! how many one project may hold.
//!
//! Pure: the app layer reads and writes Subscriptions and asks these
//! functions first; [`SubscriptionShape`] is what they read of a draft (or
//! of a subscription as an update would leave it). Every refusal is one
//! [`SubscriptionRejection`] variant.

use crate::catalog_rules::{KEY_BYTES_MAX, KEY_BYTES_MIN, is_identifier};
use std::fmt;

/// Most subscriptions one project may hold (commercetools allows 25).
pub const SUBSCRIPTIONS_PER_PROJECT_MAX: usize = 25;
/// Longest destination URL, in bytes.
pub const URL_BYTES_MAX: usize = 2_048;
/// Shortest signing secret, in bytes (128 bits of ASCII entropy at best).
pub const SECRET_BYTES_MIN: usize = 16;
/// Longest signing secret, in bytes.
pub const SECRET_BYTES_MAX: usize = 256;
/// Most message types one subscription may name.
pub const MESSAGE_TYPES_MAX: usize = 100;
/// The `resourceTypeId` whose messages payledger delivers.
pub const PAYMENT_RESOURCE_TYPE_ID: &str = "payment";
/// The CloudEvents version of the CloudEvents format.
pub const CLOUD_EVENTS_VERSION: &str = "1.0";

/// What the rules read of a subscription.
#[derive(Clone, Copy, Debug)]
pub struct SubscriptionShape<'a> {
    pub key: Option<&'a str>,
    pub url: &'a str,
    pub secret: &'a str,
    pub messages: &'a [MessageSelection<'a>],
    /// The CloudEvents version when the format is CloudEvents.
    pub cloud_events_version: Option<&'a str>,
}

/// One `messages` entry: Messages of `resource_type_id`, all types when
/// `types` is empty.
#[derive(Clone, Copy, Debug)]
pub struct MessageSelection<'a> {
    pub resource_type_id: &'a str,
    pub types: &'a [String],
}

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
                "The resourceTypeId '{value}' is not supported; payledger delivers messages of 'payment' and 'order'."
            ),
            Self::UnknownMessageType { value } => {
                format!("The message type '{value}' is not a message type payledger sends.")
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

/// Checks a subscription against every rule that needs no store;
/// `message_types` lists the known payment message types.
pub fn check_subscription(
    shape: &SubscriptionShape<'_>,
    message_types: &[&str],
) -> Result<(), SubscriptionRejection> {
    if let Some(key) = shape.key
        && !is_identifier(key, KEY_BYTES_MIN, KEY_BYTES_MAX)
    {
        return Err(SubscriptionRejection::InvalidKey {
            key: key.to_owned(),
        });
    }
    check_url(shape.url)?;
    if !(SECRET_BYTES_MIN..=SECRET_BYTES_MAX).contains(&shape.secret.len()) {
        return Err(SubscriptionRejection::InvalidSecret {
            length_bytes: shape.secret.len(),
        });
    }
    check_messages(shape.messages, message_types)?;
    if let Some(version) = shape.cloud_events_version
        && version != CLOUD_EVENTS_VERSION
    {
        return Err(SubscriptionRejection::UnsupportedFormatVersion {
            value: version.to_owned(),
        });
    }
    Ok(())
}

fn check_messages(
    messages: &[MessageSelection<'_>],
    message_types: &[&str],
) -> Result<(), SubscriptionRejection> {
    if messages.is_empty() {
        return Err(SubscriptionRejection::NoMessages);
    }
    let mut types = 0;
    for selection in messages {
        if crate::stream::StreamKind::parse(selection.resource_type_id).is_none() {
            return Err(SubscriptionRejection::UnsupportedResourceTypeId {
                value: selection.resource_type_id.to_owned(),
            });
        }
        types += selection.types.len();
        if types > MESSAGE_TYPES_MAX {
            return Err(SubscriptionRejection::TooManyMessageTypes {
                max: MESSAGE_TYPES_MAX,
            });
        }
        if let Some(unknown) = selection
            .types
            .iter()
            .find(|t| !message_types.contains(&t.as_str()))
        {
            return Err(SubscriptionRejection::UnknownMessageType {
                value: unknown.clone(),
            });
        }
    }
    Ok(())
}

/// A destination URL: absolute `http(s)`, with a host, without a fragment,
/// at most [`URL_BYTES_MAX`] bytes.
pub fn check_url(text: &str) -> Result<(), SubscriptionRejection> {
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

/// A new subscription in a project that holds `held` of them.
pub fn check_room(held: usize) -> Result<(), SubscriptionRejection> {
    if held >= SUBSCRIPTIONS_PER_PROJECT_MAX {
        return Err(SubscriptionRejection::TooManySubscriptions {
            max: SUBSCRIPTIONS_PER_PROJECT_MAX,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPES: &[&str] = &["PaymentCreated", "PaymentTransactionAdded"];
    const SECRET: &str = "0123456789abcdef";

    fn shape<'a>(url: &'a str, messages: &'a [MessageSelection<'a>]) -> SubscriptionShape<'a> {
        SubscriptionShape {
            key: Some("hooks-1"),
            url,
            secret: SECRET,
            messages,
            cloud_events_version: None,
        }
    }

    fn payments(types: &[String]) -> MessageSelection<'_> {
        MessageSelection {
            resource_type_id: PAYMENT_RESOURCE_TYPE_ID,
            types,
        }
    }

    #[test]
    fn a_well_formed_subscription_passes() {
        let all = [payments(&[])];
        assert_eq!(
            check_subscription(&shape("https://shop.example/hook", &all), TYPES),
            Ok(())
        );
        let mut cloud = shape("http://127.0.0.1:9/h", &all);
        cloud.cloud_events_version = Some(CLOUD_EVENTS_VERSION);
        cloud.key = None;
        assert_eq!(check_subscription(&cloud, TYPES), Ok(()));
    }

    #[test]
    fn each_rule_names_what_is_wrong() {
        let all = [payments(&[])];
        let mut bad_key = shape("https://a.example/", &all);
        bad_key.key = Some("a b");
        assert_eq!(
            check_subscription(&bad_key, TYPES),
            Err(SubscriptionRejection::InvalidKey { key: "a b".into() })
        );
        for url in [
            "ftp://a.example/",
            "https://a.example/#frag",
            "not a url",
            "file:///x",
        ] {
            assert!(
                matches!(
                    check_subscription(&shape(url, &all), TYPES),
                    Err(SubscriptionRejection::InvalidUrl { .. })
                ),
                "{url}"
            );
        }
        let long = format!("https://a.example/{}", "x".repeat(URL_BYTES_MAX));
        assert!(matches!(
            check_url(&long),
            Err(SubscriptionRejection::InvalidUrl { url, .. }) if url.len() == URL_BYTES_MAX
        ));
        let mut short_secret = shape("https://a.example/", &all);
        short_secret.secret = "short";
        assert_eq!(
            check_subscription(&short_secret, TYPES),
            Err(SubscriptionRejection::InvalidSecret { length_bytes: 5 })
        );
        assert_eq!(
            check_subscription(&shape("https://a.example/", &[]), TYPES),
            Err(SubscriptionRejection::NoMessages)
        );
        let orders = [MessageSelection {
            resource_type_id: "order",
            types: &[],
        }];
        assert_eq!(
            check_subscription(&shape("https://a.example/", &orders), TYPES),
            Ok(())
        );
        let carts = [MessageSelection {
            resource_type_id: "cart",
            types: &[],
        }];
        assert_eq!(
            check_subscription(&shape("https://a.example/", &carts), TYPES),
            Err(SubscriptionRejection::UnsupportedResourceTypeId {
                value: "cart".into()
            })
        );
        let unknown = ["OrderCreated".to_owned()];
        let unknown = [payments(&unknown)];
        assert_eq!(
            check_subscription(&shape("https://a.example/", &unknown), TYPES),
            Err(SubscriptionRejection::UnknownMessageType {
                value: "OrderCreated".into()
            })
        );
        let many: Vec<String> = (0..=MESSAGE_TYPES_MAX)
            .map(|_| "PaymentCreated".into())
            .collect();
        let many = [payments(&many)];
        assert_eq!(
            check_subscription(&shape("https://a.example/", &many), TYPES),
            Err(SubscriptionRejection::TooManyMessageTypes {
                max: MESSAGE_TYPES_MAX
            })
        );
        let mut version = shape("https://a.example/", &all);
        version.cloud_events_version = Some("0.3");
        assert_eq!(
            check_subscription(&version, TYPES),
            Err(SubscriptionRejection::UnsupportedFormatVersion {
                value: "0.3".into()
            })
        );
    }

    #[test]
    fn a_project_holds_a_bounded_number_of_subscriptions() {
        assert_eq!(check_room(SUBSCRIPTIONS_PER_PROJECT_MAX - 1), Ok(()));
        assert_eq!(
            check_room(SUBSCRIPTIONS_PER_PROJECT_MAX),
            Err(SubscriptionRejection::TooManySubscriptions {
                max: SUBSCRIPTIONS_PER_PROJECT_MAX
            })
        );
    }
}
