//! Fuzz target of the `t=…,v1=…` header parser and verifier, which read
//! the `Stripe-Signature` header of every webhook Stripe (or anyone) sends
//! (`make fuzz` runs it with 1,000,000 cases, `make test` with a short
//! sample; see `payledger-fuzz`).
//!
//! `fuzz_signature_header`: headers signed for a body, with byte edits,
//! token soups and random bytes. Parsing and verifying never panic, at
//! any clock; an accepted header keeps within the limits and prints back
//! to the same parse; a verified one really carries the body's signature.

use payledger_fuzz::mutate::{self, Corpus};
use payledger_fuzz::{check, run};
use proptest::prelude::*;

use super::*;

const BODY: &[u8] = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;
const SECRET: &str = "whsec_fuzz";
const SIGNED_AT: i64 = 1_700_000_000;

fn seeds() -> Corpus {
    let secret = Secret::new(SECRET);
    let signed = sign(&secret, SIGNED_AT, BODY);
    let v1 = signed
        .split_once(",v1=")
        .map_or("", |(_, v1)| v1)
        .to_owned();
    mutate::corpus([
        signed.clone(),
        format!("{signed},v1={}", "0".repeat(64)),
        format!("t={SIGNED_AT}, v0=abc ,v1={v1},scheme=x"),
        format!("v1={v1},t={SIGNED_AT}"),
        sign(&secret, -1, BODY),
    ])
}

fn tokens() -> Corpus {
    mutate::corpus([
        "t=",
        "v1=",
        "v0=",
        ",",
        "=",
        " ",
        "-",
        "+",
        "0",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "00000000000000000000000000000000",
        "ABCDEF",
        "é",
        "\u{0}",
    ])
}

/// Clocks around the signed time and at the ends of the range.
fn clock() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(SIGNED_AT),
        (SIGNED_AT - 400)..(SIGNED_AT + 400),
        Just(i64::MIN),
        Just(i64::MAX),
        any::<i64>(),
    ]
}

fn render(header: &SignedHeader) -> String {
    let mut text = format!("t={}", header.timestamp);
    for signature in &header.signatures {
        text.push_str(",v1=");
        text.push_str(&hex::encode(signature));
    }
    text
}

#[test]
fn fuzz_signature_header() {
    let secrets = [Secret::new("whsec_other"), Secret::new(SECRET)];
    let inputs = (mutate::inputs(seeds(), tokens()), clock(), any::<u64>());
    run("signature_header", inputs, |(input, now, tolerance)| {
        let header = input.text();
        if let Ok(parsed) = parse_header(&header) {
            check(header.len() <= SIGNATURE_HEADER_BYTES_MAX, || {
                "too long".into()
            })?;
            let count = parsed.signatures.len();
            check((1..=SIGNATURES_PER_HEADER_MAX).contains(&count), || {
                format!("{count} signatures")
            })?;
            let again = parse_header(&render(&parsed));
            check(again.as_ref() == Ok(&parsed), || {
                format!("{parsed:?} reparses as {again:?}")
            })?;
        }
        if let Ok(timestamp) = verify(Some(&header), BODY, &secrets, now, tolerance) {
            let genuine = secrets.iter().any(|secret| {
                let signed = sign(secret, timestamp, BODY);
                signed
                    .split_once(",v1=")
                    .is_some_and(|(_, v1)| header.contains(v1))
            });
            check(genuine && now.abs_diff(timestamp) <= tolerance, || {
                format!("{header:?} verified at {timestamp}")
            })?;
        }
        Ok(())
    });
}
