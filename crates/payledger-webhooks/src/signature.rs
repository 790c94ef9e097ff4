//! `X-Payledger-Signature`: how a receiver knows a delivery came from
//! payledger and was not altered or replayed late.
//!
//! The header is `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>`.
//! The timestamp is inside the signed text, so a receiver that refuses
//! old timestamps also refuses replays. A receiver verifies on the raw
//! body bytes, before parsing them; [`verify`] does exactly that.

/// How far a receiver should let the signed time differ from its clock:
/// the scheme's own tolerance.
pub use payledger_wire::signature::SIGNATURE_TOLERANCE_SECONDS;
use payledger_wire::signature::{matches_any, parse_header, sign_with_key};

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "X-Payledger-Signature";

/// The header value for `body` signed at `timestamp` (Unix seconds): the
/// same scheme as Stripe's webhook signatures.
pub fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    sign_with_key(secret, unix_seconds(timestamp), body)
}

fn unix_seconds(timestamp: u64) -> i64 {
    i64::try_from(timestamp).unwrap_or(i64::MAX)
}

/// Why a signature does not verify.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is not `t=<unix seconds>,v1=<hex>`")]
    Malformed,
    #[error(
        "the signature was made {age_seconds} s away from now (tolerance {SIGNATURE_TOLERANCE_SECONDS} s)"
    )]
    OutsideTolerance { age_seconds: u64 },
    #[error("no v1 signature matches the body")]
    Mismatch,
}

/// Checks `header` against `body` at `now` (Unix seconds), parsing it with
/// the scheme's one parser (`payledger_wire::signature::parse_header`).
/// Several `v1` values are allowed (any may match); comparison is
/// constant-time.
pub fn verify(secret: &[u8], header: &str, body: &[u8], now: u64) -> Result<(), SignatureError> {
    // A header without a `v1` that could match is as unusable as one that
    // does not parse.
    let parsed = parse_header(header).map_err(|_| SignatureError::Malformed)?;
    let age_seconds = unix_seconds(now).abs_diff(parsed.timestamp);
    if age_seconds > SIGNATURE_TOLERANCE_SECONDS {
        return Err(SignatureError::OutsideTolerance { age_seconds });
    }
    if matches_any(secret, parsed.timestamp, body, &parsed.signatures) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &[u8] = b"0123456789abcdef";

    #[test]
    fn a_known_vector_matches_an_independent_hmac_sha256() {
        // HMAC-SHA256(key = "0123456789abcdef", "1700000000.{}") computed
        // with Python's hmac module.
        assert_eq!(
            sign(SECRET, 1_700_000_000, b"{}"),
            "t=1700000000,v1=e4f8e2ecae2295b2ddb2f0b5584c8275e226c0ebe9b3b819e70156bb67122e3e"
        );
    }

    #[test]
    fn tampering_replay_and_garbage_are_refused() {
        let header = sign(SECRET, 1_000, b"body");
        assert_eq!(verify(SECRET, &header, b"body", 1_000), Ok(()));
        assert_eq!(
            verify(SECRET, &header, b"bodY", 1_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"another-secret-1", &header, b"body", 1_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                SECRET,
                &header,
                b"body",
                1_000 + SIGNATURE_TOLERANCE_SECONDS + 1
            ),
            Err(SignatureError::OutsideTolerance {
                age_seconds: SIGNATURE_TOLERANCE_SECONDS + 1
            })
        );
        for garbage in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,v1=zz", "nonsense"] {
            assert_eq!(
                verify(SECRET, garbage, b"body", 1),
                Err(SignatureError::Malformed),
                "{garbage}"
            );
        }
    }

    #[test]
    fn any_of_several_v1_values_may_match() {
        let good = sign(SECRET, 7, b"x");
        let v1 = good.split_once(",v1=").unwrap().1;
        let header = format!("t=7,v1={},v1={v1}", "00".repeat(32));
        assert_eq!(verify(SECRET, &header, b"x", 7), Ok(()));
    }

    proptest! {
        #[test]
        fn what_is_signed_verifies_and_any_changed_byte_does_not(
            body in proptest::collection::vec(any::<u8>(), 0..512),
            timestamp in 0u64..4_000_000_000,
            flip in any::<proptest::sample::Index>(),
        ) {
            let header = sign(SECRET, timestamp, &body);
            prop_assert_eq!(verify(SECRET, &header, &body, timestamp), Ok(()));
            if !body.is_empty() {
                let mut changed = body.clone();
                let at = flip.index(changed.len());
                changed[at] ^= 0x01;
                prop_assert_eq!(
                    verify(SECRET, &header, &changed, timestamp),
                    Err(SignatureError::Mismatch)
                );
            }
        }
    }
}
