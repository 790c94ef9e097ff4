//! The failures of a PSP call, typed so the executor can tell "the PSP said
//! no" (final, record a Failure) from "the outcome is unknown" (retry later
//! with the same idempotency key, or find the object first).

/// Why a PSP call did not return its object.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum PspError {
    /// The payment method was declined (Stripe `card_error`, HTTP 402).
    #[error("declined: {code} ({})", decline_code.as_deref().unwrap_or("no decline code"))]
    Declined {
        code: String,
        decline_code: Option<String>,
        message: Option<String>,
        /// The PaymentIntent the decline happened on, when reported.
        payment_intent: Option<String>,
    },
    /// The request was refused as invalid (HTTP 400/404, also an object in
    /// the wrong state). Nothing happened at the PSP.
    #[error("invalid request (HTTP {status}): {}", code.as_deref().unwrap_or("no code"))]
    InvalidRequest {
        status: u16,
        code: Option<String>,
        message: Option<String>,
    },
    /// The API key was refused (HTTP 401/403).
    #[error("authentication with the PSP failed (HTTP {status})")]
    Authentication { status: u16 },
    /// Too many requests (HTTP 429).
    #[error("rate limited by the PSP")]
    RateLimited,
    /// The PSP failed or answered something unreadable; `retryable` says
    /// whether the same request may be sent again.
    #[error("PSP API error (HTTP {status:?}): {message}")]
    Api {
        status: Option<u16>,
        message: String,
        retryable: bool,
    },
    /// No answer: connection refused, reset or timed out. The request may
    /// or may not have reached the PSP.
    #[error("network error talking to the PSP: {message}")]
    Network { message: String },
}

impl PspError {
    /// Whether sending the same request again (same idempotency key) may
    /// succeed.
    pub const fn retryable(&self) -> bool {
        match self {
            Self::Declined { .. } | Self::InvalidRequest { .. } | Self::Authentication { .. } => {
                false
            }
            Self::RateLimited | Self::Network { .. } => true,
            Self::Api { retryable, .. } => *retryable,
        }
    }

    /// Whether the PSP may have acted although the call failed.
    pub const fn outcome_unknown(&self) -> bool {
        match self {
            Self::Declined { .. }
            | Self::InvalidRequest { .. }
            | Self::Authentication { .. }
            | Self::RateLimited => false,
            Self::Api { .. } | Self::Network { .. } => true,
        }
    }

    /// Whether the PSP said the object does not exist.
    pub const fn is_not_found(&self) -> bool {
        matches!(self, Self::InvalidRequest { status: 404, .. })
    }

    /// A short stable code for records: `card_declined`, `invalid_request`, …
    pub fn code(&self) -> &str {
        match self {
            Self::Declined { code, .. } => code,
            Self::InvalidRequest { code, .. } => code.as_deref().unwrap_or("invalid_request"),
            Self::Authentication { .. } => "authentication_error",
            Self::RateLimited => "rate_limit",
            Self::Api { .. } => "api_error",
            Self::Network { .. } => "network_error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_failures_are_retryable() {
        let declined = PspError::Declined {
            code: "card_declined".into(),
            decline_code: Some("insufficient_funds".into()),
            message: None,
            payment_intent: None,
        };
        assert!(!declined.retryable());
        assert!(!declined.outcome_unknown());
        assert!(PspError::RateLimited.retryable());
        assert!(
            PspError::Network {
                message: "refused".into()
            }
            .outcome_unknown()
        );
        let not_found = PspError::InvalidRequest {
            status: 404,
            code: Some("resource_missing".into()),
            message: None,
        };
        assert!(not_found.is_not_found());
        assert_eq!(not_found.code(), "resource_missing");
        assert_eq!(
            declined.to_string(),
            "declined: card_declined (insufficient_funds)"
        );
    }
}
