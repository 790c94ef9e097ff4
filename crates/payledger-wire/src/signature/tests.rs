//! Signature verification against independently computed vectors, and
//! the property that any one changed byte of body or header is refused.

use super::*;
use proptest::prelude::*;

/// Known vectors computed independently with Python's `hmac` module:
/// `hmac.new(secret, b"%d.%s" % (t, body), hashlib.sha256).hexdigest()`.
const VECTORS: [(&str, i64, &str, &str); 2] = [
    (
        "whsec_test_secret",
        1_700_000_000,
        r#"{"id":"evt_1"}"#,
        "248a374f50f943a28b0f6ab50faf9a7e7e29b710fa26df9fb1618b9bf8ea9c9a",
    ),
    (
        "whsec_rotated",
        1_700_000_123,
        r#"{"id":"evt_2","type":"payment_intent.succeeded"}"#,
        "c6e5f6ec70fe0b909bcde9536cfa2fe86b1d9ef2fc4f4fde59285999f02b0a7b",
    ),
];

fn secrets(names: &[&str]) -> Vec<Secret> {
    names.iter().map(|s| Secret::new(*s)).collect()
}

fn check(header: Option<&str>, body: &str, keys: &[&str], now: i64) -> Result<i64, SignatureError> {
    verify(
        header,
        body.as_bytes(),
        &secrets(keys),
        now,
        SIGNATURE_TOLERANCE_SECONDS,
    )
}

#[test]
fn known_vectors_sign_and_verify() {
    for (secret, t, body, hex) in VECTORS {
        let header = sign(&Secret::new(secret), t, body.as_bytes());
        assert_eq!(header, format!("t={t},v1={hex}"));
        assert_eq!(check(Some(&header), body, &[secret], t), Ok(t));
    }
}

#[test]
fn any_v1_against_any_secret_passes_during_rotation() {
    let (secret, t, body, hex) = VECTORS[0];
    let header = format!("t={t},v1={},v0=deadbeef,v1={hex}", "00".repeat(32));
    assert_eq!(
        check(Some(&header), body, &["whsec_old", secret], t + 10),
        Ok(t)
    );
}

#[test]
fn the_tolerance_applies_in_both_directions() {
    let (secret, t, body, hex) = VECTORS[0];
    let header = format!("t={t},v1={hex}");
    assert_eq!(check(Some(&header), body, &[secret], t + 300), Ok(t));
    assert_eq!(check(Some(&header), body, &[secret], t - 300), Ok(t));
    assert_eq!(
        check(Some(&header), body, &[secret], t + 301),
        Err(SignatureError::Stale)
    );
    assert_eq!(
        check(Some(&header), body, &[secret], t - 301),
        Err(SignatureError::Stale)
    );
}

#[test]
fn malformed_and_missing_headers_are_refused() {
    let (secret, t, body, hex) = VECTORS[0];
    let cases: [(Option<&str>, SignatureError); 6] = [
        (None, SignatureError::Missing),
        (Some(""), SignatureError::Malformed),
        (Some("v1=abc"), SignatureError::Malformed),
        (Some("t=abc,v1=00"), SignatureError::Malformed),
        (Some(&format!("t={t}")), SignatureError::NoSignature),
        (
            Some(&format!("t={t},t={t},v1={hex}")),
            SignatureError::Malformed,
        ),
    ];
    for (header, expected) in cases {
        assert_eq!(
            check(header, body, &[secret], t),
            Err(expected),
            "{header:?}"
        );
    }
    let header = format!("t={t},v1={hex}");
    assert_eq!(
        check(Some(&header), body, &[], t),
        Err(SignatureError::NoSecret)
    );
    assert_eq!(
        check(Some(&header), body, &["whsec_other"], t),
        Err(SignatureError::Mismatch)
    );
    let long = format!("t={t},{}", "v1=00,".repeat(SIGNATURES_PER_HEADER_MAX + 1));
    assert_eq!(
        check(Some(&long), body, &[secret], t),
        Err(SignatureError::Malformed)
    );
}

proptest! {
    /// Flipping any bit of any one byte of the body is detected.
    #[test]
    fn any_change_of_one_body_byte_is_rejected(
        body in proptest::collection::vec(any::<u8>(), 1..256),
        index in any::<proptest::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let secret = Secret::new("whsec_prop");
        let t = 1_700_000_000;
        let header = sign(&secret, t, &body);
        let secrets = [secret];
        prop_assert_eq!(verify(Some(&header), &body, &secrets, t, 300), Ok(t));
        let mut tampered = body.clone();
        let i = index.index(tampered.len());
        tampered[i] ^= flip;
        prop_assert_eq!(
            verify(Some(&header), &tampered, &secrets, t, 300),
            Err(SignatureError::Mismatch)
        );
    }

    /// Changing any one character of the signature (or the timestamp) is
    /// detected.
    #[test]
    fn any_change_of_one_signature_byte_is_rejected(
        body in proptest::collection::vec(any::<u8>(), 0..64),
        index in any::<proptest::sample::Index>(),
        replacement in proptest::char::range('0', 'z'),
    ) {
        let secret = Secret::new("whsec_prop");
        let t = 1_700_000_000;
        let header = sign(&secret, t, &body);
        let mut bytes = header.clone().into_bytes();
        let i = index.index(bytes.len());
        prop_assume!(bytes[i] != replacement as u8);
        bytes[i] = replacement as u8;
        let tampered = String::from_utf8(bytes).expect("ASCII");
        let result = verify(Some(&tampered), &body, &[secret], t, 300);
        prop_assert!(result.is_err(), "{} accepted", tampered);
    }
}
