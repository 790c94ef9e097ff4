//! Fuzz target of the verifier a receiver of payledger's deliveries runs
//! on `X-Payledger-Signature` (`make fuzz` runs it with 1,000,000 cases,
//! `make test` with a short sample; see `payledger-fuzz`).
//!
//! `fuzz_delivery_signature`: headers signed for a body, with byte edits,
//! token soups and random bytes, at clocks anywhere in `u64`. Verifying
//! never panics, accepts exactly when the scheme's verifier in
//! `payledger_wire::signature` accepts, and a header that does not parse
//! is refused as `Malformed`.

use payledger_fuzz::mutate;
use payledger_fuzz::{check, run};
use payledger_wire::Secret;
use payledger_wire::signature::parse_header;
use proptest::prelude::*;

use super::*;

const SECRET: &str = "0123456789abcdef";
const BODY: &[u8] = b"{\"notificationType\":\"Message\"}";
const SIGNED_AT: u64 = 1_700_000_000;

#[test]
fn fuzz_delivery_signature() {
    let signed = sign(SECRET.as_bytes(), SIGNED_AT, BODY);
    let seeds = mutate::corpus([
        signed.clone(),
        format!("{signed},v1={}", "f".repeat(64)),
        sign(SECRET.as_bytes(), u64::MAX, BODY),
    ]);
    let tokens = mutate::corpus(["t=", "v1=", ",", "=", " ", "-", "0", "18446744073709551615"]);
    let clock = prop_oneof![
        (SIGNED_AT - 400)..(SIGNED_AT + 400),
        Just(0),
        Just(u64::MAX),
        any::<u64>(),
    ];
    let secrets = [Secret::new(SECRET)];
    run(
        "delivery_signature",
        (mutate::inputs(seeds, tokens), clock),
        |(input, now)| {
            let header = input.text();
            let ours = verify(SECRET.as_bytes(), &header, BODY, now);
            if parse_header(&header).is_err() {
                check(ours == Err(SignatureError::Malformed), || {
                    format!("{ours:?}")
                })?;
            }
            let clock = i64::try_from(now).unwrap_or(i64::MAX);
            let scheme = payledger_wire::signature::verify(
                Some(&header),
                BODY,
                &secrets,
                clock,
                SIGNATURE_TOLERANCE_SECONDS,
            );
            check(ours.is_ok() == scheme.is_ok(), || {
                format!("{header:?} at {now}: {ours:?} here, {scheme:?} in the scheme")
            })
        },
    );
}
