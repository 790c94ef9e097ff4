//! One delivery attempt over HTTP, and what its outcome means for the
//! subscription's status.
//!
//! | outcome | status |
//! |---|---|
//! | 2xx | delivered |
//! | 408, 425, 429, 5xx, timeout, refused or broken connection | TemporaryError |
//! | 3xx (redirects are not followed), other 4xx, an untrusted TLS certificate, an unusable URL | ConfigurationError |
//!
//! Both kinds are retried with backoff: a configuration fixed on the
//! receiver's side makes the next attempt succeed.

use crate::render::Delivery;
use crate::signature::{SIGNATURE_HEADER, sign};
use payledger_app::subscriptions::HealthStatus;
use reqwest::StatusCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Names the subscription a delivery is for.
pub const SUBSCRIPTION_HEADER: &str = "X-Payledger-Subscription";
/// The delivery id: the Message id (the same on every attempt).
pub const DELIVERY_HEADER: &str = "X-Payledger-Delivery";
/// The attempt number, from 1.
pub const ATTEMPT_HEADER: &str = "X-Payledger-Attempt";
/// The Message type, so receivers can route without parsing.
pub const MESSAGE_TYPE_HEADER: &str = "X-Payledger-Message-Type";

/// A failed attempt.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AttemptFailure {
    pub status: HealthStatus,
    pub detail: String,
}

/// What one HTTP attempt needs.
#[derive(Clone, Debug)]
pub struct Target<'a> {
    pub subscription_id: &'a str,
    pub url: &'a str,
    pub secret: &'a [u8],
}

/// Sends `delivery` once.
pub async fn attempt(
    client: &reqwest::Client,
    target: &Target<'_>,
    delivery: &Delivery,
    attempt: u32,
) -> Result<(), AttemptFailure> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let mut request = client.post(target.url);
    for (name, value) in headers(target, delivery, attempt, now) {
        request = request.header(name, value);
    }
    let response = request
        .body(delivery.body.clone())
        .send()
        .await
        .map_err(transport_failure)?;
    classify(response.status())
}

/// The headers of an attempt signed at `now_s` (Unix seconds), in the
/// order they are sent.
pub fn headers(
    target: &Target<'_>,
    delivery: &Delivery,
    attempt: u32,
    now_s: u64,
) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("Content-Type", delivery.content_type.to_owned()),
        (SIGNATURE_HEADER, sign(target.secret, now_s, &delivery.body)),
        (SUBSCRIPTION_HEADER, target.subscription_id.to_owned()),
        (DELIVERY_HEADER, delivery.message_id.clone()),
        (ATTEMPT_HEADER, attempt.to_string()),
        (MESSAGE_TYPE_HEADER, delivery.message_type.clone()),
    ];
    if let Some(id) = &delivery.correlation_id {
        headers.push(("X-Correlation-ID", id.clone()));
    }
    headers
}

/// The meaning of the receiver's answer.
pub fn classify(status: StatusCode) -> Result<(), AttemptFailure> {
    let code = status.as_u16();
    let kind = match code {
        200..=299 => return Ok(()),
        408 | 425 | 429 | 500..=599 => HealthStatus::TemporaryError,
        _ => HealthStatus::ConfigurationError,
    };
    let detail = if status.is_redirection() {
        format!("the receiver answered HTTP {code}; redirects are not followed")
    } else {
        format!("the receiver answered HTTP {status}")
    };
    Err(AttemptFailure {
        status: kind,
        detail,
    })
}

/// What a failed exchange means and why it failed.
pub(crate) fn transport_failure(error: reqwest::Error) -> AttemptFailure {
    let mut status = if error.is_builder() {
        HealthStatus::ConfigurationError
    } else {
        HealthStatus::TemporaryError
    };
    let what = if error.is_timeout() {
        "no answer in time"
    } else if error.is_connect() {
        "cannot connect"
    } else if error.is_builder() {
        "the request cannot be built"
    } else {
        "the exchange failed"
    };
    // The source chain says why (refused, reset, DNS); the URL is already
    // on the subscription.
    let mut detail = what.to_owned();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    // A certificate the client does not trust (or that names another
    // host) will not heal by itself: one side's configuration must change.
    if detail.contains("certificate") {
        status = HealthStatus::ConfigurationError;
    }
    AttemptFailure { status, detail }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::render::body;
    use payledger_app::subscriptions::DeliveryFormat;
    use payledger_domain::{
        Actor, Event, EventEnvelope, EventId, EventMeta, PaymentId, ProjectKey, Timestamp,
    };
    use payledger_wire::json::MessageKeys;

    /// A delivery as it goes over the wire: request line, headers, body.
    fn wire_text(format: &DeliveryFormat) -> String {
        let envelope = EventEnvelope {
            meta: EventMeta {
                event_id: EventId::from_bytes([0x2a; 16]),
                project: ProjectKey::parse("shop").unwrap(),
                recorded_at: Timestamp(1_767_225_600_000),
                actor: Actor::Client("shop-backend".into()),
                correlation_id: None,
                idempotency_key: None,
            },
            stream: PaymentId::from_bytes([0x11; 16]).into(),
            version: 3,
            partition: 5,
            partition_sequence: 42,
            previous_hash: [0; 32],
            event: Event::StatusInterfaceCodeSet(Some("succeeded".into())),
        };
        let (bytes, content_type) =
            body(format, &envelope, MessageKeys::default().render(&envelope));
        let delivery = Delivery {
            message_id: envelope.meta.event_id.to_string(),
            message_type: payledger_wire::json::message_type(&envelope.event).to_owned(),
            sequence: envelope.partition_sequence,
            body: bytes,
            content_type,
            correlation_id: None,
        };
        let target = Target {
            subscription_id: "0c7d3f52-9c0e-4d0a-8a59-3f1a1d2b6c01",
            url: "https://hooks.example.com/payledger",
            secret: b"whsec-0123456789abcdef",
        };
        let mut text = format!("POST {}\n", target.url);
        for (name, value) in headers(&target, &delivery, 2, 1_767_225_600) {
            text.push_str(&format!("{name}: {value}\n"));
        }
        text.push('\n');
        text.push_str(std::str::from_utf8(&delivery.body).unwrap());
        text.push('\n');
        text
    }

    /// The wire format receivers parse and verify. Written once with
    /// `PAYLEDGER_BLESS=1` when missing; never edited: a change breaks
    /// every receiver.
    #[test]
    fn the_delivery_wire_format_is_stable() {
        let formats = [
            ("platform", DeliveryFormat::Platform),
            (
                "cloudevents",
                DeliveryFormat::CloudEvents {
                    cloud_events_version: "1.0".into(),
                },
            ),
        ];
        for (name, format) in formats {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("src/golden/delivery_{name}_v1.http"));
            let text = wire_text(&format);
            if !path.exists() && std::env::var_os("PAYLEDGER_BLESS").is_some_and(|v| v == "1") {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &text).unwrap();
            }
            let golden = std::fs::read_to_string(&path)
                .unwrap_or_else(|_| panic!("{} is missing", path.display()));
            assert_eq!(text, golden, "{name} deliveries changed on the wire");
        }
    }

    #[test]
    fn answers_map_to_delivered_temporary_or_configuration_errors() {
        for ok in [200, 201, 202, 204, 299] {
            assert_eq!(classify(StatusCode::from_u16(ok).unwrap()), Ok(()), "{ok}");
        }
        for temporary in [408, 425, 429, 500, 502, 503, 504] {
            let failure = classify(StatusCode::from_u16(temporary).unwrap()).unwrap_err();
            assert_eq!(failure.status, HealthStatus::TemporaryError, "{temporary}");
        }
        for configuration in [301, 302, 400, 401, 403, 404, 410, 413] {
            let failure = classify(StatusCode::from_u16(configuration).unwrap()).unwrap_err();
            assert_eq!(
                failure.status,
                HealthStatus::ConfigurationError,
                "{configuration}"
            );
        }
        assert!(
            classify(StatusCode::FOUND)
                .unwrap_err()
                .detail
                .contains("redirects are not followed")
        );
    }

    #[test]
    fn a_delivery_carries_the_correlation_id_its_event_was_recorded_under() {
        let target = Target {
            subscription_id: "s",
            url: "http://h/x",
            secret: b"whsec-0123456789abcdef",
        };
        let mut delivery = Delivery {
            message_id: "m".into(),
            message_type: "PaymentCreated".into(),
            sequence: 1,
            body: b"{}".to_vec(),
            content_type: "application/json",
            correlation_id: Some("checkout-7".into()),
        };
        let sent = headers(&target, &delivery, 1, 0);
        assert!(sent.contains(&("X-Correlation-ID", "checkout-7".to_owned())));
        delivery.correlation_id = None;
        let sent = headers(&target, &delivery, 1, 0);
        assert!(sent.iter().all(|(name, _)| *name != "X-Correlation-ID"));
    }
}
