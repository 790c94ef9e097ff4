//! Integration tests of the codec, in one test binary: the golden corpus of
//! stored bytes, the decode errors, and property tests.
//!
//! # Golden corpus
//!
//! `tests/golden/v1/<name>.bin` holds encoded envelopes (one or more per
//! event variant) and Payment views. [`golden_cases`] builds the value each
//! file must decode to; the test also checks that re-encoding that value
//! gives the file's bytes exactly, so any change of the wire format shows up
//! here. A missing file fails the test. To write missing files (after adding
//! an event variant or a case) run
//!
//! ```text
//! PAYLEDGER_BLESS=1 cargo test --release -p payledger-codec --test codec
//! ```
//!
//! and check the new files in. Bless never overwrites an existing file:
//! stored events are a contract forever, so a file that stops matching is a
//! broken contract to fix in the code, not a file to refresh.

use payledger_codec::{
    CodecError, decode_envelope, decode_payment, encode_envelope, encode_payment, pb,
};
use payledger_domain::event::MethodInfoUpdate;
use payledger_domain::money::CurrencyRejection;
use payledger_domain::payment::{
    CustomFields, FieldValue, LocalizedString, PaymentDraft, PaymentMethodInfo, PaymentStatus,
    Transaction, TransactionState, TransactionType,
};
use payledger_domain::{
    Actor, CurrencyCode, Event, EventEnvelope, EventId, EventMeta, Money, Payment, PaymentId,
    ProjectKey, StreamId, StreamKind, Timestamp, TransactionId,
};
use prost::Message;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

const PAYMENT: &str = "6f1c2a4e-8b3d-4c5e-9f10-1a2b3c4d5e6f";
const TRANSACTION: &str = "0b9e5a3c-2d4f-4a6b-8c7d-9e0f1a2b3c4d";
const TRANSACTION_2: &str = "7a8b9c0d-1e2f-4a3b-9c4d-5e6f7a8b9c0d";
/// 2024-07-03T10:13:20Z.
const EPOCH_MS: i64 = 1_720_001_600_000;

fn payment_id() -> PaymentId {
    PaymentId::parse(PAYMENT).expect("valid uuid")
}

fn transaction_id() -> TransactionId {
    TransactionId::parse(TRANSACTION).expect("valid uuid")
}

fn money(cent_amount: i64, currency: &str) -> Money {
    Money::new(
        cent_amount,
        CurrencyCode::parse(currency).expect("known currency"),
    )
}

fn text(value: &str) -> Option<String> {
    Some(value.to_owned())
}

fn localized(pairs: &[(&str, &str)]) -> LocalizedString {
    pairs
        .iter()
        .map(|(locale, value)| ((*locale).to_owned(), (*value).to_owned()))
        .collect()
}

fn fields(pairs: Vec<(&str, FieldValue)>) -> BTreeMap<String, FieldValue> {
    pairs
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

/// A field value that uses every kind, nested three deep.
fn nested_value() -> FieldValue {
    FieldValue::Object(fields(vec![
        ("city", FieldValue::String("Zürich".to_owned())),
        (
            "lines",
            FieldValue::List(vec![
                FieldValue::String("Bahnhofstrasse 1".to_owned()),
                FieldValue::Number("-3".to_owned()),
                FieldValue::Bool(false),
            ]),
        ),
        (
            "geo",
            FieldValue::Object(fields(vec![
                ("lat", FieldValue::Number("47.3769".to_owned())),
                ("tags", FieldValue::List(vec![])),
            ])),
        ),
    ]))
}

fn rich_custom() -> CustomFields {
    CustomFields {
        type_id: "payment-extras".to_owned(),
        fields: fields(vec![
            ("flag", FieldValue::Bool(true)),
            ("amount", FieldValue::Number("12.50".to_owned())),
            ("note", FieldValue::String("héllo ✓".to_owned())),
            ("empty", FieldValue::String(String::new())),
            ("address", nested_value()),
        ]),
    }
}

fn interaction(code: &str) -> CustomFields {
    CustomFields {
        type_id: "psp-interaction".to_owned(),
        fields: fields(vec![
            ("code", FieldValue::String(code.to_owned())),
            ("success", FieldValue::Bool(code == "AUTHORISED")),
        ]),
    }
}

fn full_transaction() -> Transaction {
    Transaction {
        id: transaction_id(),
        timestamp: Some(Timestamp(EPOCH_MS - 5_000)),
        kind: TransactionType::Authorization,
        amount: money(12_345, "EUR"),
        interaction_id: text("psp-int-1"),
        interface_id: text("pi_3PXyz"),
        state: TransactionState::Pending,
        custom: Some(rich_custom()),
    }
}

fn minimal_transaction() -> Transaction {
    Transaction {
        id: TransactionId::parse(TRANSACTION_2).expect("valid uuid"),
        timestamp: None,
        kind: TransactionType::Chargeback,
        amount: money(-500, "KWD"),
        interaction_id: None,
        interface_id: None,
        state: TransactionState::Initial,
        custom: None,
    }
}

fn full_method_info() -> PaymentMethodInfo {
    PaymentMethodInfo {
        payment_interface: text("stripe"),
        method: text("card"),
        name: Some(localized(&[("de", "Karte"), ("en", "Card")])),
        token: text("tok_visa"),
        interface_account: text("acct_1"),
        custom: Some(interaction("method")),
    }
}

fn full_draft() -> PaymentDraft {
    PaymentDraft {
        key: text("order-1001"),
        customer_id: text("cust-42"),
        anonymous_id: text("anon-7"),
        interface_id: text("pi_3PXyz"),
        external_id: text("ext-9"),
        amount_planned: money(12_345, "EUR"),
        amount_authorized: Some(money(12_345, "EUR")),
        authorized_until: Some(Timestamp(EPOCH_MS + 86_400_000)),
        amount_paid: Some(money(0, "EUR")),
        amount_refunded: Some(money(100, "EUR")),
        payment_method_info: full_method_info(),
        payment_status: PaymentStatus {
            interface_code: text("requires_capture"),
            interface_text: text("Requires capture"),
            state_id: text("state-open"),
        },
        transactions: vec![full_transaction(), minimal_transaction()],
        interface_interactions: vec![interaction("AUTHORISED"), interaction("REFUSED")],
        custom: Some(rich_custom()),
    }
}

fn minimal_draft() -> PaymentDraft {
    PaymentDraft {
        key: None,
        customer_id: None,
        anonymous_id: None,
        interface_id: None,
        external_id: None,
        amount_planned: money(1_000, "JPY"),
        amount_authorized: None,
        authorized_until: None,
        amount_paid: None,
        amount_refunded: None,
        payment_method_info: PaymentMethodInfo::default(),
        payment_status: PaymentStatus::default(),
        transactions: vec![],
        interface_interactions: vec![],
        custom: None,
    }
}

/// An envelope at `version` of the fixture payment. Odd versions come from
/// an API client with correlation and idempotency keys, even versions from
/// an internal handler without them, so both shapes are in the corpus.
fn envelope(version: u64, event: Event) -> EventEnvelope {
    let from_client = version % 2 == 1;
    let tag = u8::try_from(version).expect("small version");
    EventEnvelope {
        meta: EventMeta {
            event_id: EventId::from_bytes([tag; 16]),
            project: ProjectKey::parse("shop-eu_1").expect("valid project"),
            recorded_at: Timestamp(EPOCH_MS + i64::from(tag) * 1_000),
            actor: if from_client {
                Actor::Client("merchant-backend".to_owned())
            } else {
                Actor::Internal("psp-refresh".to_owned())
            },
            correlation_id: from_client.then(|| format!("corr-{version}")),
            idempotency_key: from_client.then(|| format!("idem-{version}")),
        },
        stream: StreamId::payment(payment_id()),
        version,
        partition: 7,
        partition_sequence: 1_000 + version,
        previous_hash: if version == 1 { [0; 32] } else { [tag; 32] },
        event,
    }
}

fn full_payment() -> Payment {
    let draft = full_draft();
    Payment {
        id: payment_id(),
        version: 12,
        key: draft.key,
        customer_id: draft.customer_id,
        anonymous_id: draft.anonymous_id,
        interface_id: draft.interface_id,
        external_id: draft.external_id,
        amount_planned: draft.amount_planned,
        amount_authorized: draft.amount_authorized,
        authorized_until: draft.authorized_until,
        amount_paid: draft.amount_paid,
        amount_refunded: draft.amount_refunded,
        payment_method_info: draft.payment_method_info,
        payment_status: draft.payment_status,
        transactions: draft.transactions,
        interface_interactions: draft.interface_interactions,
        custom: draft.custom,
        created_at: Timestamp(EPOCH_MS),
        last_modified_at: Timestamp(EPOCH_MS + 60_000),
        created_by: Actor::Client("merchant-backend".to_owned()),
        last_modified_by: Actor::Internal("psp-refresh".to_owned()),
        deleted: false,
    }
}

fn minimal_deleted_payment() -> Payment {
    let draft = minimal_draft();
    Payment {
        id: payment_id(),
        version: 2,
        key: None,
        customer_id: None,
        anonymous_id: None,
        interface_id: None,
        external_id: None,
        amount_planned: draft.amount_planned,
        amount_authorized: None,
        authorized_until: None,
        amount_paid: None,
        amount_refunded: None,
        payment_method_info: draft.payment_method_info,
        payment_status: draft.payment_status,
        transactions: vec![],
        interface_interactions: vec![],
        custom: None,
        created_at: Timestamp(0),
        last_modified_at: Timestamp(-1),
        created_by: Actor::Internal(String::new()),
        last_modified_by: Actor::Client("ops".to_owned()),
        deleted: true,
    }
}

// ---------------------------------------------------------------------------
// Golden corpus
// ---------------------------------------------------------------------------

/// A value stored in a golden file.
#[derive(Debug)]
enum Golden {
    Envelope(Box<EventEnvelope>),
    Payment(Box<Payment>),
}

impl Golden {
    fn encode(&self) -> Vec<u8> {
        match self {
            Self::Envelope(envelope) => encode_envelope(envelope),
            Self::Payment(payment) => encode_payment(payment),
        }
    }

    /// Decodes `bytes` as the same kind of value and compares.
    fn decodes_from(&self, bytes: &[u8]) -> Result<bool, CodecError> {
        Ok(match self {
            Self::Envelope(envelope) => decode_envelope(bytes)? == **envelope,
            Self::Payment(payment) => decode_payment(bytes)? == **payment,
        })
    }
}

/// Every golden file of schema v1 and the value it holds. Names are the
/// event kind, optionally with a `-case` suffix; a case, once released, is
/// never changed or removed.
fn golden_cases() -> Vec<(&'static str, Golden)> {
    let tx = transaction_id;
    let events: Vec<(&'static str, Event)> = vec![
        ("Created", Event::Created(Box::new(full_draft()))),
        ("Created-minimal", Event::Created(Box::new(minimal_draft()))),
        (
            "TransactionAdded",
            Event::TransactionAdded(full_transaction()),
        ),
        (
            "TransactionAdded-minimal",
            Event::TransactionAdded(minimal_transaction()),
        ),
        (
            "TransactionStateChanged",
            Event::TransactionStateChanged {
                transaction_id: tx(),
                state: TransactionState::Success,
            },
        ),
        (
            "TransactionTimestampChanged",
            Event::TransactionTimestampChanged {
                transaction_id: tx(),
                timestamp: Timestamp(EPOCH_MS),
            },
        ),
        (
            "TransactionInteractionIdChanged",
            Event::TransactionInteractionIdChanged {
                transaction_id: tx(),
                interaction_id: "psp-int-2".to_owned(),
            },
        ),
        (
            "TransactionInterfaceIdSet",
            Event::TransactionInterfaceIdSet {
                transaction_id: tx(),
                interface_id: text("ch_1"),
            },
        ),
        (
            "TransactionInterfaceIdSet-removed",
            Event::TransactionInterfaceIdSet {
                transaction_id: tx(),
                interface_id: None,
            },
        ),
        (
            "TransactionCustomTypeSet",
            Event::TransactionCustomTypeSet {
                transaction_id: tx(),
                custom: Some(rich_custom()),
            },
        ),
        (
            "TransactionCustomTypeSet-removed",
            Event::TransactionCustomTypeSet {
                transaction_id: tx(),
                custom: None,
            },
        ),
        (
            "TransactionCustomFieldSet",
            Event::TransactionCustomFieldSet {
                transaction_id: tx(),
                name: "address".to_owned(),
                value: Some(nested_value()),
            },
        ),
        (
            "TransactionCustomFieldSet-removed",
            Event::TransactionCustomFieldSet {
                transaction_id: tx(),
                name: "address".to_owned(),
                value: None,
            },
        ),
        (
            "InterfaceInteractionAdded",
            Event::InterfaceInteractionAdded(interaction("CAPTURE")),
        ),
        (
            "AmountPlannedChanged",
            Event::AmountPlannedChanged(money(9_999, "EUR0")),
        ),
        ("KeySet", Event::KeySet(text("order-1002"))),
        ("KeySet-removed", Event::KeySet(None)),
        ("KeySet-empty", Event::KeySet(text(""))),
        ("CustomerSet", Event::CustomerSet(text("cust-43"))),
        ("AnonymousIdSet", Event::AnonymousIdSet(text("anon-8"))),
        (
            "InterfaceIdSet",
            Event::InterfaceIdSet("pi_3PXyz".to_owned()),
        ),
        (
            "MethodInfoInterfaceSet",
            Event::MethodInfoInterfaceSet("adyen".to_owned()),
        ),
        (
            "MethodInfoMethodSet",
            Event::MethodInfoMethodSet(text("sepa")),
        ),
        (
            "MethodInfoNameSet",
            Event::MethodInfoNameSet(Some(localized(&[("en", "SEPA")]))),
        ),
        ("MethodInfoNameSet-removed", Event::MethodInfoNameSet(None)),
        (
            "MethodInfoTokenSet",
            Event::MethodInfoTokenSet(text("tok_sepa")),
        ),
        (
            "MethodInfoInterfaceAccountSet",
            Event::MethodInfoInterfaceAccountSet(text("acct_2")),
        ),
        (
            "MethodInfoCustomTypeSet",
            Event::MethodInfoCustomTypeSet(Some(rich_custom())),
        ),
        (
            "MethodInfoCustomFieldSet",
            Event::MethodInfoCustomFieldSet {
                name: "flag".to_owned(),
                value: Some(FieldValue::Bool(true)),
            },
        ),
        (
            "MethodInfoSet",
            Event::MethodInfoSet(MethodInfoUpdate {
                payment_interface: text("stripe"),
                method: None,
                name: Some(localized(&[("en", "Card")])),
                token: text(""),
                interface_account: None,
                custom: Some(interaction("method")),
            }),
        ),
        (
            "StatusInterfaceCodeSet",
            Event::StatusInterfaceCodeSet(text("succeeded")),
        ),
        (
            "StatusInterfaceTextSet",
            Event::StatusInterfaceTextSet(None),
        ),
        ("CustomTypeSet", Event::CustomTypeSet(Some(rich_custom()))),
        ("CustomTypeSet-removed", Event::CustomTypeSet(None)),
        (
            "CustomFieldSet",
            Event::CustomFieldSet {
                name: "amount".to_owned(),
                value: Some(FieldValue::Number("0.001".to_owned())),
            },
        ),
        (
            "StateTransitioned",
            Event::StateTransitioned {
                state_id: "state-paid".to_owned(),
                force: true,
            },
        ),
        (
            "AmountPaidSet",
            Event::AmountPaidSet(Some(money(12_345, "EUR"))),
        ),
        (
            "AmountRefundedSet",
            Event::AmountRefundedSet(Some(money(i64::MAX, "BHD"))),
        ),
        (
            "AuthorizationSet",
            Event::AuthorizationSet {
                amount: Some(money(12_345, "EUR")),
                until: Some(Timestamp(EPOCH_MS + 7 * 86_400_000)),
            },
        ),
        (
            "AuthorizationSet-removed",
            Event::AuthorizationSet {
                amount: None,
                until: None,
            },
        ),
        ("ExternalIdSet", Event::ExternalIdSet(text("ext-10"))),
        ("Deleted", Event::Deleted { data_erasure: true }),
    ];
    let mut cases: Vec<(&'static str, Golden)> = events
        .into_iter()
        .zip(1_u64..)
        .map(|((name, event), version)| {
            (name, Golden::Envelope(Box::new(envelope(version, event))))
        })
        .collect();
    cases.push(("PaymentView", Golden::Payment(Box::new(full_payment()))));
    cases.push((
        "PaymentView-deleted-minimal",
        Golden::Payment(Box::new(minimal_deleted_payment())),
    ));
    cases
}

/// Number of [`Event`] variants; [`event_variant_index`] numbers them.
const EVENT_VARIANTS: usize = 32;

/// Numbers the event variants 0..EVENT_VARIANTS. Exhaustive on purpose: a
/// new variant does not compile until it is numbered here, and then
/// `golden_corpus_covers_every_event_variant` fails until it has a case.
fn event_variant_index(event: &Event) -> usize {
    match event {
        Event::Created(_) => 0,
        Event::TransactionAdded(_) => 1,
        Event::TransactionStateChanged { .. } => 2,
        Event::TransactionTimestampChanged { .. } => 3,
        Event::TransactionInteractionIdChanged { .. } => 4,
        Event::TransactionInterfaceIdSet { .. } => 5,
        Event::TransactionCustomTypeSet { .. } => 6,
        Event::TransactionCustomFieldSet { .. } => 7,
        Event::InterfaceInteractionAdded(_) => 8,
        Event::AmountPlannedChanged(_) => 9,
        Event::KeySet(_) => 10,
        Event::CustomerSet(_) => 11,
        Event::AnonymousIdSet(_) => 12,
        Event::InterfaceIdSet(_) => 13,
        Event::MethodInfoInterfaceSet(_) => 14,
        Event::MethodInfoMethodSet(_) => 15,
        Event::MethodInfoNameSet(_) => 16,
        Event::MethodInfoTokenSet(_) => 17,
        Event::MethodInfoInterfaceAccountSet(_) => 18,
        Event::MethodInfoCustomTypeSet(_) => 19,
        Event::MethodInfoCustomFieldSet { .. } => 20,
        Event::MethodInfoSet(_) => 21,
        Event::StatusInterfaceCodeSet(_) => 22,
        Event::StatusInterfaceTextSet(_) => 23,
        Event::CustomTypeSet(_) => 24,
        Event::CustomFieldSet { .. } => 25,
        Event::StateTransitioned { .. } => 26,
        Event::AmountPaidSet(_) => 27,
        Event::AmountRefundedSet(_) => 28,
        Event::AuthorizationSet { .. } => 29,
        Event::ExternalIdSet(_) => 30,
        Event::Deleted { .. } => 31,
    }
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/v1")
}

/// `PAYLEDGER_BLESS=1` writes golden files that do not exist yet.
fn bless() -> bool {
    std::env::var_os("PAYLEDGER_BLESS").is_some_and(|value| value == "1")
}

/// Checks one golden file; returns a description of what is wrong, if
/// anything.
fn check_golden(name: &str, expected: &Golden, bless: bool) -> Option<String> {
    let path = golden_dir().join(format!("{name}.bin"));
    let encoded = expected.encode();
    if !path.exists() {
        if !bless {
            return Some(format!(
                "{name}: missing (run with PAYLEDGER_BLESS=1 to write it)"
            ));
        }
        std::fs::create_dir_all(golden_dir()).expect("create golden dir");
        std::fs::write(&path, &encoded).expect("write golden file");
    }
    let stored = std::fs::read(&path).expect("read golden file");
    match expected.decodes_from(&stored) {
        Err(error) => return Some(format!("{name}: no longer decodes: {error}")),
        Ok(false) => return Some(format!("{name}: decodes to a different value")),
        Ok(true) => {}
    }
    (stored != encoded).then(|| format!("{name}: re-encoding gives different bytes"))
}

#[test]
fn golden_events_still_decode() {
    let cases = golden_cases();
    let bless = bless();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(name, expected)| check_golden(name, expected, bless))
        .collect();
    assert!(
        failures.is_empty(),
        "golden corpus broken:\n{}",
        failures.join("\n")
    );

    // Every stored file must be checked: a released file is never dropped.
    let known: BTreeSet<String> = cases
        .iter()
        .map(|(name, _)| format!("{name}.bin"))
        .collect();
    let unchecked: Vec<String> = std::fs::read_dir(golden_dir())
        .expect("read golden dir")
        .map(|entry| {
            entry
                .expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|file| !known.contains(file))
        .collect();
    assert!(
        unchecked.is_empty(),
        "golden files without a case: {unchecked:?}"
    );
}

#[test]
fn golden_corpus_covers_every_event_variant() {
    let mut covered = [false; EVENT_VARIANTS];
    for (name, golden) in golden_cases() {
        if let Golden::Envelope(envelope) = golden {
            assert!(
                name.starts_with(envelope.event.kind()),
                "{name} is not named by its kind"
            );
            covered[event_variant_index(&envelope.event)] = true;
        }
    }
    let missing: Vec<usize> = (0..EVENT_VARIANTS).filter(|&i| !covered[i]).collect();
    assert!(
        missing.is_empty(),
        "event variants without a golden case: {missing:?}"
    );
}

// ---------------------------------------------------------------------------
// Decode errors
// ---------------------------------------------------------------------------

/// A valid raw envelope, to be broken by one field in each test.
fn raw_envelope(event: Event) -> pb::EventEnvelope {
    pb::EventEnvelope::decode(encode_envelope(&envelope(3, event)).as_slice())
        .expect("valid encoding")
}

/// Breaks a valid envelope with `mutate` and expects `expected` on decode.
fn check_envelope_rejected(
    event: Event,
    mutate: impl FnOnce(&mut pb::EventEnvelope),
    expected: CodecError,
) {
    let mut raw = raw_envelope(event);
    mutate(&mut raw);
    assert_eq!(decode_envelope(&raw.encode_to_vec()), Err(expected));
}

fn deleted() -> Event {
    Event::Deleted {
        data_erasure: false,
    }
}

#[test]
fn non_protobuf_bytes_are_a_protobuf_error() {
    let result = decode_envelope(&[0xff, 0xff, 0xff]);
    assert!(matches!(result, Err(CodecError::Protobuf(_))), "{result:?}");
    let result = decode_payment(&[0x0a, 0x10, 0x01]);
    assert!(matches!(result, Err(CodecError::Protobuf(_))), "{result:?}");
}

#[test]
fn envelope_without_payload_is_rejected() {
    check_envelope_rejected(
        deleted(),
        |raw| raw.payload = None,
        CodecError::MissingPayload,
    );
}

#[test]
fn payload_of_an_unknown_event_kind_is_rejected() {
    let mut raw = raw_envelope(deleted());
    raw.payload = None;
    let mut bytes = raw.encode_to_vec();
    // Field 999, wire type 2 (length-delimited), empty: a payload case from
    // a newer schema. prost skips it, so no payload is set.
    bytes.extend_from_slice(&[0xba, 0x3e, 0x00]);
    assert_eq!(decode_envelope(&bytes), Err(CodecError::MissingPayload));
}

#[test]
fn ids_and_hashes_must_have_their_exact_length() {
    type Mutation = fn(&mut pb::EventEnvelope);
    let cases: [(Mutation, &str, usize, usize); 3] = [
        (
            |raw| raw.event_id.truncate(15),
            "EventEnvelope.event_id",
            16,
            15,
        ),
        (
            |raw| raw.stream_id.clear(),
            "EventEnvelope.stream_id",
            16,
            0,
        ),
        (
            |raw| raw.previous_event_hash.push(0),
            "EventEnvelope.previous_event_hash",
            32,
            33,
        ),
    ];
    for (mutate, field, expected, actual) in cases {
        check_envelope_rejected(
            deleted(),
            mutate,
            CodecError::BadLength {
                field,
                expected,
                actual,
            },
        );
    }
    check_envelope_rejected(
        Event::TransactionStateChanged {
            transaction_id: transaction_id(),
            state: TransactionState::Failure,
        },
        |raw| {
            if let Some(pb::event_envelope::Payload::TransactionStateChanged(m)) = &mut raw.payload
            {
                m.transaction_id.push(1);
            }
        },
        CodecError::BadLength {
            field: "TransactionStateChanged.transaction_id",
            expected: 16,
            actual: 17,
        },
    );
}

#[test]
fn missing_required_fields_are_named() {
    check_envelope_rejected(
        deleted(),
        |raw| raw.actor = None,
        CodecError::MissingField {
            field: "EventEnvelope.actor",
        },
    );
    check_envelope_rejected(
        deleted(),
        |raw| raw.actor = Some(pb::Actor { kind: None }),
        CodecError::MissingField {
            field: "Actor.kind",
        },
    );
    check_envelope_rejected(
        Event::Created(Box::new(minimal_draft())),
        |raw| {
            raw.payload = Some(pb::event_envelope::Payload::Created(pb::PaymentCreated {
                draft: None,
            }))
        },
        CodecError::MissingField {
            field: "PaymentCreated.draft",
        },
    );
    check_envelope_rejected(
        Event::CustomFieldSet {
            name: "x".to_owned(),
            value: Some(FieldValue::Bool(true)),
        },
        |raw| {
            if let Some(pb::event_envelope::Payload::CustomFieldSet(m)) = &mut raw.payload {
                m.value = Some(pb::FieldValue { kind: None });
            }
        },
        CodecError::MissingField {
            field: "FieldValue.kind",
        },
    );
    let mut view = pb::PaymentView::decode(encode_payment(&full_payment()).as_slice())
        .expect("valid encoding");
    view.last_modified_by = None;
    assert_eq!(
        decode_payment(&view.encode_to_vec()),
        Err(CodecError::MissingField {
            field: "PaymentView.last_modified_by"
        })
    );
}

#[test]
fn unspecified_and_unknown_enum_values_are_rejected() {
    for value in [0, 5, -1] {
        check_envelope_rejected(
            Event::TransactionStateChanged {
                transaction_id: transaction_id(),
                state: TransactionState::Pending,
            },
            |raw| {
                if let Some(pb::event_envelope::Payload::TransactionStateChanged(m)) =
                    &mut raw.payload
                {
                    m.state = value;
                }
            },
            CodecError::UnknownEnumValue {
                field: "TransactionStateChanged.state",
                value,
            },
        );
    }
    for value in [0, 6] {
        check_envelope_rejected(
            Event::TransactionAdded(full_transaction()),
            |raw| {
                if let Some(pb::event_envelope::Payload::TransactionAdded(m)) = &mut raw.payload
                    && let Some(transaction) = &mut m.transaction
                {
                    transaction.r#type = value;
                }
            },
            CodecError::UnknownEnumValue {
                field: "Transaction.type",
                value,
            },
        );
    }
}

#[test]
fn a_retired_currency_still_decodes() {
    // Stored events outlive the ISO 4217 list: only the shape is checked.
    let mut raw = raw_envelope(Event::AmountPlannedChanged(money(1, "EUR")));
    if let Some(pb::event_envelope::Payload::AmountPlannedChanged(m)) = &mut raw.payload
        && let Some(amount) = &mut m.amount
    {
        amount.currency_code = "XYZ".to_owned();
    }
    let decoded = decode_envelope(&raw.encode_to_vec()).expect("a well-formed code decodes");
    let Event::AmountPlannedChanged(amount) = decoded.event else {
        panic!("payload changed kind");
    };
    assert_eq!(amount.currency.as_str(), "XYZ");
}

#[test]
fn invalid_currency_codes_are_rejected() {
    for (code, reason) in [
        ("eur", CurrencyRejection::Malformed),
        ("EURO", CurrencyRejection::Malformed),
    ] {
        check_envelope_rejected(
            Event::AmountPlannedChanged(money(1, "EUR")),
            |raw| {
                if let Some(pb::event_envelope::Payload::AmountPlannedChanged(m)) = &mut raw.payload
                    && let Some(amount) = &mut m.amount
                {
                    amount.currency_code = code.to_owned();
                }
            },
            CodecError::InvalidCurrency {
                code: code.to_owned(),
                reason,
            },
        );
    }
}

#[test]
fn payment_envelopes_do_not_write_the_stream_kind_and_other_kinds_do() {
    let payment = envelope(3, deleted());
    assert_eq!(raw_envelope(deleted()).stream_kind, 0);
    let mut order = payment.clone();
    order.stream.kind = StreamKind::Order;
    let (payment_bytes, order_bytes) = (encode_envelope(&payment), encode_envelope(&order));
    // Field 12, varint: the kind costs two bytes, and only when not a payment.
    assert_eq!(order_bytes.len(), payment_bytes.len() + 2);
    assert_eq!(decode_envelope(&order_bytes), Ok(order));
    assert_eq!(decode_envelope(&payment_bytes), Ok(payment));
}

#[test]
fn an_unknown_stream_kind_is_rejected() {
    check_envelope_rejected(
        deleted(),
        |raw| raw.stream_kind = 7,
        CodecError::UnknownEnumValue {
            field: "EventEnvelope.stream_kind",
            value: 7,
        },
    );
}

#[test]
fn envelope_metadata_is_validated() {
    check_envelope_rejected(
        deleted(),
        |raw| raw.project = "a/b".to_owned(),
        CodecError::InvalidProjectKey {
            key: "a/b".to_owned(),
        },
    );
    check_envelope_rejected(
        deleted(),
        |raw| raw.partition = 70_000,
        CodecError::OutOfRange {
            field: "EventEnvelope.partition",
            value: 70_000,
        },
    );
}

// ---------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------

mod strategies {
    //! proptest strategies for every domain value the codec stores.

    use super::*;
    use proptest::collection::{btree_map, vec};
    use proptest::option::of;
    use proptest::prelude::*;
    use proptest::strategy::{BoxedStrategy, Union};

    pub fn string() -> impl Strategy<Value = String> + Clone {
        "\\PC{0,8}"
    }

    fn key() -> impl Strategy<Value = String> + Clone {
        "[a-z]{0,4}"
    }

    fn opt_string() -> impl Strategy<Value = Option<String>> + Clone {
        of(string())
    }

    fn timestamp() -> impl Strategy<Value = Timestamp> + Clone {
        any::<i64>().prop_map(Timestamp)
    }

    pub fn money() -> impl Strategy<Value = Money> + Clone {
        const CODES: &[&str] = &["EUR", "USD", "JPY", "KWD", "EUR0", "CHF"];
        (any::<i64>(), proptest::sample::select(CODES))
            .prop_map(|(cents, code)| super::money(cents, code))
    }

    fn localized() -> impl Strategy<Value = LocalizedString> + Clone {
        btree_map(key(), string(), 0..3)
    }

    /// Field values nested at most three levels deep.
    pub fn field_value() -> impl Strategy<Value = FieldValue> + Clone {
        let leaf = prop_oneof![
            any::<bool>().prop_map(FieldValue::Bool),
            "-?[0-9]{1,6}(\\.[0-9]{1,3})?".prop_map(FieldValue::Number),
            string().prop_map(FieldValue::String),
        ];
        leaf.prop_recursive(3, 32, 4, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..4).prop_map(FieldValue::List),
                btree_map(key(), inner, 0..4).prop_map(FieldValue::Object),
            ]
        })
    }

    pub fn custom() -> impl Strategy<Value = CustomFields> + Clone {
        (string(), btree_map(key(), field_value(), 0..4))
            .prop_map(|(type_id, fields)| CustomFields { type_id, fields })
    }

    fn transaction_id() -> impl Strategy<Value = TransactionId> + Clone {
        any::<[u8; 16]>().prop_map(TransactionId::from_bytes)
    }

    fn transaction_state() -> impl Strategy<Value = TransactionState> + Clone {
        proptest::sample::select(&TransactionState::ALL[..])
    }

    pub fn transaction() -> impl Strategy<Value = Transaction> + Clone {
        (
            transaction_id(),
            of(timestamp()),
            proptest::sample::select(&TransactionType::ALL[..]),
            money(),
            (opt_string(), opt_string()),
            transaction_state(),
            of(custom()),
        )
            .prop_map(
                |(id, timestamp, kind, amount, (interaction_id, interface_id), state, custom)| {
                    Transaction {
                        id,
                        timestamp,
                        kind,
                        amount,
                        interaction_id,
                        interface_id,
                        state,
                        custom,
                    }
                },
            )
    }

    fn method_info() -> impl Strategy<Value = PaymentMethodInfo> + Clone {
        (
            opt_string(),
            opt_string(),
            of(localized()),
            opt_string(),
            opt_string(),
            of(custom()),
        )
            .prop_map(
                |(payment_interface, method, name, token, interface_account, custom)| {
                    PaymentMethodInfo {
                        payment_interface,
                        method,
                        name,
                        token,
                        interface_account,
                        custom,
                    }
                },
            )
    }

    fn status() -> impl Strategy<Value = PaymentStatus> + Clone {
        (opt_string(), opt_string(), opt_string()).prop_map(
            |(interface_code, interface_text, state_id)| PaymentStatus {
                interface_code,
                interface_text,
                state_id,
            },
        )
    }

    /// The fields a draft and a payment share, as a draft.
    pub fn draft() -> impl Strategy<Value = PaymentDraft> + Clone {
        let ids = (
            opt_string(),
            opt_string(),
            opt_string(),
            opt_string(),
            opt_string(),
        );
        let amounts = (
            money(),
            of(money()),
            of(timestamp()),
            of(money()),
            of(money()),
        );
        let parts = (
            method_info(),
            status(),
            vec(transaction(), 0..3),
            vec(custom(), 0..3),
            of(custom()),
        );
        (ids, amounts, parts).prop_map(|(ids, amounts, parts)| PaymentDraft {
            key: ids.0,
            customer_id: ids.1,
            anonymous_id: ids.2,
            interface_id: ids.3,
            external_id: ids.4,
            amount_planned: amounts.0,
            amount_authorized: amounts.1,
            authorized_until: amounts.2,
            amount_paid: amounts.3,
            amount_refunded: amounts.4,
            payment_method_info: parts.0,
            payment_status: parts.1,
            transactions: parts.2,
            interface_interactions: parts.3,
            custom: parts.4,
        })
    }

    fn method_info_update() -> impl Strategy<Value = MethodInfoUpdate> + Clone {
        (
            opt_string(),
            opt_string(),
            of(localized()),
            opt_string(),
            opt_string(),
            of(custom()),
        )
            .prop_map(
                |(payment_interface, method, name, token, interface_account, custom)| {
                    MethodInfoUpdate {
                        payment_interface,
                        method,
                        name,
                        token,
                        interface_account,
                        custom,
                    }
                },
            )
    }

    /// Every event variant, each equally likely.
    pub fn event() -> impl Strategy<Value = Event> {
        let tx = transaction_id;
        let variants: Vec<BoxedStrategy<Event>> = vec![
            draft().prop_map(|d| Event::Created(Box::new(d))).boxed(),
            transaction().prop_map(Event::TransactionAdded).boxed(),
            (tx(), transaction_state())
                .prop_map(|(transaction_id, state)| Event::TransactionStateChanged {
                    transaction_id,
                    state,
                })
                .boxed(),
            (tx(), timestamp())
                .prop_map(
                    |(transaction_id, timestamp)| Event::TransactionTimestampChanged {
                        transaction_id,
                        timestamp,
                    },
                )
                .boxed(),
            (tx(), string())
                .prop_map(|(transaction_id, interaction_id)| {
                    Event::TransactionInteractionIdChanged {
                        transaction_id,
                        interaction_id,
                    }
                })
                .boxed(),
            (tx(), opt_string())
                .prop_map(
                    |(transaction_id, interface_id)| Event::TransactionInterfaceIdSet {
                        transaction_id,
                        interface_id,
                    },
                )
                .boxed(),
            (tx(), of(custom()))
                .prop_map(|(transaction_id, custom)| Event::TransactionCustomTypeSet {
                    transaction_id,
                    custom,
                })
                .boxed(),
            (tx(), string(), of(field_value()))
                .prop_map(
                    |(transaction_id, name, value)| Event::TransactionCustomFieldSet {
                        transaction_id,
                        name,
                        value,
                    },
                )
                .boxed(),
            custom().prop_map(Event::InterfaceInteractionAdded).boxed(),
            money().prop_map(Event::AmountPlannedChanged).boxed(),
            opt_string().prop_map(Event::KeySet).boxed(),
            opt_string().prop_map(Event::CustomerSet).boxed(),
            opt_string().prop_map(Event::AnonymousIdSet).boxed(),
            string().prop_map(Event::InterfaceIdSet).boxed(),
            string().prop_map(Event::MethodInfoInterfaceSet).boxed(),
            opt_string().prop_map(Event::MethodInfoMethodSet).boxed(),
            of(localized()).prop_map(Event::MethodInfoNameSet).boxed(),
            opt_string().prop_map(Event::MethodInfoTokenSet).boxed(),
            opt_string()
                .prop_map(Event::MethodInfoInterfaceAccountSet)
                .boxed(),
            of(custom())
                .prop_map(Event::MethodInfoCustomTypeSet)
                .boxed(),
            (string(), of(field_value()))
                .prop_map(|(name, value)| Event::MethodInfoCustomFieldSet { name, value })
                .boxed(),
            method_info_update().prop_map(Event::MethodInfoSet).boxed(),
            opt_string().prop_map(Event::StatusInterfaceCodeSet).boxed(),
            opt_string().prop_map(Event::StatusInterfaceTextSet).boxed(),
            of(custom()).prop_map(Event::CustomTypeSet).boxed(),
            (string(), of(field_value()))
                .prop_map(|(name, value)| Event::CustomFieldSet { name, value })
                .boxed(),
            (string(), any::<bool>())
                .prop_map(|(state_id, force)| Event::StateTransitioned { state_id, force })
                .boxed(),
            of(money()).prop_map(Event::AmountPaidSet).boxed(),
            of(money()).prop_map(Event::AmountRefundedSet).boxed(),
            (of(money()), of(timestamp()))
                .prop_map(|(amount, until)| Event::AuthorizationSet { amount, until })
                .boxed(),
            opt_string().prop_map(Event::ExternalIdSet).boxed(),
            any::<bool>()
                .prop_map(|data_erasure| Event::Deleted { data_erasure })
                .boxed(),
        ];
        assert_eq!(
            variants.len(),
            EVENT_VARIANTS,
            "one strategy per event variant"
        );
        Union::new(variants)
    }

    fn actor() -> impl Strategy<Value = Actor> + Clone {
        prop_oneof![
            string().prop_map(Actor::Client),
            string().prop_map(Actor::Internal)
        ]
    }

    fn project() -> impl Strategy<Value = ProjectKey> + Clone {
        "[A-Za-z0-9_-]{1,64}".prop_map(|key| ProjectKey::parse(&key).expect("valid project key"))
    }

    pub fn envelope() -> impl Strategy<Value = EventEnvelope> {
        let meta = (
            any::<[u8; 16]>(),
            project(),
            timestamp(),
            actor(),
            opt_string(),
            opt_string(),
        )
            .prop_map(
                |(id, project, recorded_at, actor, correlation_id, idempotency_key)| EventMeta {
                    event_id: EventId::from_bytes(id),
                    project,
                    recorded_at,
                    actor,
                    correlation_id,
                    idempotency_key,
                },
            );
        let kind = prop_oneof![Just(StreamKind::Payment), Just(StreamKind::Order)];
        let position = (
            (kind, any::<[u8; 16]>()),
            any::<u64>(),
            any::<u16>(),
            any::<u64>(),
            any::<[u8; 32]>(),
        );
        (meta, position, event()).prop_map(|(meta, position, event)| EventEnvelope {
            meta,
            stream: StreamId::from_bytes(position.0.0, position.0.1),
            version: position.1,
            partition: position.2,
            partition_sequence: position.3,
            previous_hash: position.4,
            event,
        })
    }

    pub fn payment() -> impl Strategy<Value = Payment> {
        let header = (any::<[u8; 16]>(), any::<u64>(), any::<bool>());
        let audit = (timestamp(), timestamp(), actor(), actor());
        (header, draft(), audit).prop_map(|((id, version, deleted), d, audit)| Payment {
            id: PaymentId::from_bytes(id),
            version,
            key: d.key,
            customer_id: d.customer_id,
            anonymous_id: d.anonymous_id,
            interface_id: d.interface_id,
            external_id: d.external_id,
            amount_planned: d.amount_planned,
            amount_authorized: d.amount_authorized,
            authorized_until: d.authorized_until,
            amount_paid: d.amount_paid,
            amount_refunded: d.amount_refunded,
            payment_method_info: d.payment_method_info,
            payment_status: d.payment_status,
            transactions: d.transactions,
            interface_interactions: d.interface_interactions,
            custom: d.custom,
            created_at: audit.0,
            last_modified_at: audit.1,
            created_by: audit.2,
            last_modified_by: audit.3,
            deleted,
        })
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    #[test]
    fn envelopes_round_trip_deterministically(envelope in strategies::envelope()) {
        let bytes = encode_envelope(&envelope);
        proptest::prop_assert_eq!(&encode_envelope(&envelope.clone()), &bytes);
        let decoded = decode_envelope(&bytes);
        proptest::prop_assert_eq!(decoded.as_ref(), Ok(&envelope));
        if let Ok(decoded) = decoded {
            proptest::prop_assert_eq!(encode_envelope(&decoded), bytes);
        }
    }

    #[test]
    fn payments_round_trip_deterministically(payment in strategies::payment()) {
        let bytes = encode_payment(&payment);
        proptest::prop_assert_eq!(&encode_payment(&payment.clone()), &bytes);
        let decoded = decode_payment(&bytes);
        proptest::prop_assert_eq!(decoded.as_ref(), Ok(&payment));
        if let Ok(decoded) = decoded {
            proptest::prop_assert_eq!(encode_payment(&decoded), bytes);
        }
    }
}
