//! Fuzz targets of the decoders of stored bytes (`make fuzz` runs each
//! with 1,000,000 cases, `make test` with a short sample; see
//! `payledger-fuzz`). Stored bytes are ours, but a damaged disk, a bad
//! restore or a bug elsewhere must surface as a [`CodecError`], never as
//! a panic or an unbounded allocation.
//!
//! Inputs: random bytes, protobuf token soups, the golden corpus with
//! byte edits, and freshly encoded random values with byte edits. For
//! every decoder the properties are: decoding never panics; what decodes
//! re-encodes to bytes that decode to the same value and re-encode to
//! themselves (canonical form); and the re-encoding is no longer than
//! the input, so what a decoder builds is bounded by what it was given.
//!
//! | target | decoder |
//! |---|---|
//! | `fuzz_envelope` | [`decode_envelope`] |
//! | `fuzz_payment_view` | [`decode_payment`], [`decode_payment_header`] |
//! | `fuzz_view_rows` | [`decode_transaction_row`], [`decode_interaction_row`] |
//! | `fuzz_order_view` | [`decode_order`] |

use std::fmt::Debug;
use std::path::Path;

use payledger_domain::strategies;
use payledger_fuzz::mutate::{self, Corpus};
use payledger_fuzz::{Input, check, run};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::{
    CodecError, HeaderPeek, decode_envelope, decode_interaction_row, decode_order, decode_payment,
    decode_payment_header, decode_transaction_row, encode_envelope, encode_interaction_row,
    encode_order, encode_payment, encode_transaction_row,
};

/// The golden files whose names start with one of `prefixes` (all of them
/// for an empty list), skipping those that start with one of `except`.
fn golden(prefixes: &[&str], except: &[&str]) -> Corpus {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/v1");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the golden corpus")
        .map(|entry| entry.expect("a golden file").path())
        .collect();
    files.sort();
    let wanted = |name: &str| {
        (prefixes.is_empty() || prefixes.iter().any(|p| name.starts_with(p)))
            && !except.iter().any(|p| name.starts_with(p))
    };
    let seeds: Vec<Vec<u8>> = files
        .iter()
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(wanted)
        })
        .map(|path| std::fs::read(path).expect("a readable golden file"))
        .collect();
    assert!(!seeds.is_empty(), "no golden file for {prefixes:?}");
    seeds.into()
}

/// Protobuf pieces: every tag of fields 1..=31 with each wire type,
/// overlong and overflowing varints, lengths at the edges.
fn dictionary() -> Corpus {
    let mut tokens: Vec<Vec<u8>> = Vec::new();
    for field in 1_u8..32 {
        for wire_type in [0_u8, 1, 2, 5] {
            tokens.push(vec![(field << 3) | wire_type]);
        }
    }
    tokens.extend([
        vec![0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
        vec![0xff; 10],
        vec![0xff; 11],
        vec![0xff, 0xff, 0xff, 0xff, 0x0f],
        vec![0x7f],
        vec![0x80, 0x01],
        vec![0x10],
        vec![0x20],
        vec![0x00],
        vec![0xff; 16],
        vec![0x00; 32],
    ]);
    tokens.into()
}

fn inputs(seeds: Corpus, encoded: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Input> {
    prop_oneof![
        3 => mutate::inputs(seeds, dictionary()),
        1 => mutate::edited(encoded, dictionary()),
    ]
}

/// The round-trip and size properties of one decoded value.
fn check_canonical<T: PartialEq + Debug>(
    input: &[u8],
    decoded: Result<T, CodecError>,
    encode: impl Fn(&T) -> Vec<u8>,
    decode: impl Fn(&[u8]) -> Result<T, CodecError>,
) -> Result<(), TestCaseError> {
    let Ok(value) = decoded else {
        return Ok(());
    };
    let bytes = encode(&value);
    check(bytes.len() <= input.len(), || {
        format!(
            "{} bytes re-encode as {}: {value:?}",
            input.len(),
            bytes.len()
        )
    })?;
    let again = decode(&bytes);
    check(again.as_ref() == Ok(&value), || {
        format!("{value:?} re-encoded decodes to {again:?}")
    })?;
    check(again.is_ok_and(|v| encode(&v) == bytes), || {
        format!("{value:?} does not re-encode to itself")
    })
}

#[test]
fn fuzz_envelope() {
    let encoded = strategies::envelope().prop_map(|e| encode_envelope(&e));
    let seeds = golden(&[], &["PaymentView", "OrderView"]);
    run("envelope", inputs(seeds, encoded), |input| {
        let bytes = &input.0;
        check_canonical(
            bytes,
            decode_envelope(bytes),
            encode_envelope,
            decode_envelope,
        )
    });
}

#[test]
fn fuzz_payment_view() {
    let encoded = strategies::payment().prop_map(|p| encode_payment(&p));
    let seeds = golden(
        &["PaymentView"],
        &["PaymentViewTransactionRow", "PaymentViewInteraction"],
    );
    run("payment_view", inputs(seeds, encoded), |input| {
        let bytes = &input.0;
        let whole = decode_payment(bytes);
        let header = decode_payment_header(bytes);
        // Every header the decoder accepts is peeked by the scan alone,
        // with the decoder's id, version and wholeness.
        if let Ok(header) = &header {
            let scanned = crate::view::scan_header(bytes);
            let expected = HeaderPeek {
                id: header.payment.id,
                version: header.payment.version,
                whole: header.is_whole(),
            };
            check(scanned == Some(expected), || {
                format!("scanned {scanned:?} but decoded {expected:?}")
            })?;
        }
        // A view stored whole reads the same through either decoder.
        if let Ok(header) = &header
            && header.is_whole()
        {
            check(whole.as_ref() == Ok(&header.payment), || {
                format!("whole view {whole:?} but header {header:?}")
            })?;
        }
        check_canonical(bytes, whole, encode_payment, decode_payment)
    });
}

#[test]
fn fuzz_view_rows() {
    let encoded = prop_oneof![
        strategies::transaction().prop_map(|t| encode_transaction_row(&t)),
        strategies::custom().prop_map(|c| encode_interaction_row(&c)),
    ];
    let seeds = golden(
        &["PaymentViewTransactionRow", "PaymentViewInteraction"],
        &[],
    );
    run("view_rows", inputs(seeds, encoded), |input| {
        let bytes = &input.0;
        check_canonical(
            bytes,
            decode_transaction_row(bytes),
            encode_transaction_row,
            decode_transaction_row,
        )?;
        check_canonical(
            bytes,
            decode_interaction_row(bytes),
            encode_interaction_row,
            decode_interaction_row,
        )
    });
}

#[test]
fn fuzz_order_view() {
    // No generator of orders: the golden views are the only seeds.
    let seeds = golden(&["OrderView"], &[]);
    run("order_view", mutate::inputs(seeds, dictionary()), |input| {
        let bytes = &input.0;
        check_canonical(bytes, decode_order(bytes), encode_order, decode_order)
    });
}
