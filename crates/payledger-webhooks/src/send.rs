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
    let response = client
        .post(target.url)
        .header(reqwest::header::CONTENT_TYPE, delivery.content_type)
        .header(SIGNATURE_HEADER, sign(target.secret, now, &delivery.body))
        .header(SUBSCRIPTION_HEADER, target.subscription_id)
        .header(DELIVERY_HEADER, &delivery.message_id)
        .header(ATTEMPT_HEADER, attempt.to_string())
        .header(MESSAGE_TYPE_HEADER, &delivery.message_type)
        .body(delivery.body.clone())
        .send()
        .await
        .map_err(transport_failure)?;
    classify(response.status())
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

fn transport_failure(error: reqwest::Error) -> AttemptFailure {
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
mod tests {
    use super::*;

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
}
