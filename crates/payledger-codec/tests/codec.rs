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
    CodecError, HeaderPeek, decode_envelope, decode_interaction_row, decode_order, decode_payment,
    decode_payment_header, decode_transaction_row, encode_envelope, encode_interaction_row,
    encode_order, encode_payment, encode_payment_header, encode_transaction_row, pb,
    peek_payment_header,
};
use payledger_domain::event::MethodInfoUpdate;
use payledger_domain::money::CurrencyRejection;
use payledger_domain::order::OrderState;
use payledger_domain::payment::{
    CustomFields, FieldValue, LocalizedString, PaymentDraft, PaymentMethodInfo, PaymentStatus,
    Transaction, TransactionList, TransactionState, TransactionType,
};
use payledger_domain::{
    Actor, CurrencyCode, Event, EventEnvelope, EventId, EventMeta, Money, Order, OrderDraft,
    OrderEvent, OrderId, Payment, PaymentId, ProjectKey, StreamId, StreamKind, Timestamp,
    TransactionId,
};
use prost::Message;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

fn full_order() -> Order {
    Order {
        id: OrderId::from_bytes([0x0d; 16]),
        version: 4,
        order_number: "A-1001".to_owned(),
        key: text("order-key-1"),
        total_price: money(3_300, "EUR"),
        customer_id: text("customer-7"),
        customer_email: text("ann@example.com"),
        recurring: false,
        payments: vec![payment_id(), PaymentId::from_bytes([0x0e; 16])],
        order_state: OrderState::Cancelled,
        announced_payment_state: None,
        created_at: Timestamp(EPOCH_MS),
        last_modified_at: Timestamp(EPOCH_MS + 4_000),
        created_by: Actor::Client("merchant-backend".to_owned()),
        last_modified_by: Actor::Internal("order-retry".to_owned()),
        deleted: false,
    }
}

#[test]
fn order_views_round_trip_and_refuse_a_bad_payment_id() {
    let order = full_order();
    assert_eq!(decode_order(&encode_order(&order)), Ok(order.clone()));
    let mut raw = pb::OrderView::decode(encode_order(&order).as_slice()).expect("valid");
    raw.payments[1] = vec![1, 2, 3];
    assert_eq!(
        decode_order(&raw.encode_to_vec()),
        Err(CodecError::BadLength {
            field: "OrderView.payments",
            expected: 16,
            actual: 3,
        })
    );
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
        transactions: draft.transactions.into_iter().map(Arc::new).collect(),
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
        transactions: TransactionList::new(),
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
    /// The header of a view stored as rows.
    Header(Box<Payment>),
    TransactionRow(Box<Transaction>),
    InteractionRow(Box<CustomFields>),
    Order(Box<Order>),
}

impl Golden {
    fn encode(&self) -> Vec<u8> {
        match self {
            Self::Envelope(envelope) => encode_envelope(envelope),
            Self::Payment(payment) => encode_payment(payment),
            Self::Header(payment) => encode_payment_header(payment),
            Self::TransactionRow(transaction) => encode_transaction_row(transaction),
            Self::InteractionRow(interaction) => encode_interaction_row(interaction),
            Self::Order(order) => encode_order(order),
        }
    }

    /// Decodes `bytes` as the same kind of value and compares.
    fn decodes_from(&self, bytes: &[u8]) -> Result<bool, CodecError> {
        Ok(match self {
            Self::Envelope(envelope) => decode_envelope(bytes)? == **envelope,
            Self::Payment(payment) => decode_payment(bytes)? == **payment,
            Self::Header(payment) => {
                let header = decode_payment_header(bytes)?;
                let rows = (
                    payment.transactions.clone(),
                    payment.interface_interactions.clone(),
                );
                !header.is_whole() && header.with_rows(rows.0, rows.1)? == **payment
            }
            Self::TransactionRow(transaction) => decode_transaction_row(bytes)? == **transaction,
            Self::InteractionRow(interaction) => decode_interaction_row(bytes)? == **interaction,
            Self::Order(order) => decode_order(bytes)? == **order,
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
    // An order's stream: its events in an order stream.
    let order_id = OrderId::from_bytes([0x0d; 16]);
    let order_events = vec![
        (
            "OrderCreated",
            OrderEvent::Created(Box::new(OrderDraft {
                order_number: "A-1001".to_owned(),
                key: text("order-key-1"),
                total_price: money(3_300, "EUR"),
                customer_id: text("customer-7"),
                customer_email: text("ann@example.com"),
                recurring: false,
            })),
        ),
        (
            "OrderCreated-minimal",
            OrderEvent::Created(Box::new(OrderDraft {
                order_number: "1".to_owned(),
                key: None,
                total_price: money(0, "JPY"),
                customer_id: None,
                customer_email: None,
                recurring: false,
            })),
        ),
        ("OrderPaymentAdded", OrderEvent::PaymentAdded(payment_id())),
        (
            "OrderPaymentRemoved",
            OrderEvent::PaymentRemoved(payment_id()),
        ),
        (
            "OrderCustomerEmailSet",
            OrderEvent::CustomerEmailSet(text("bob@example.com")),
        ),
        ("OrderKeySet-removed", OrderEvent::KeySet(None)),
        ("OrderCancelled", OrderEvent::Cancelled),
        (
            "PaymentNotificationRequested",
            OrderEvent::PaymentNotificationRequested(Box::new(
                payledger_domain::PaymentNotification {
                    payment: payment_id(),
                    amount: money(3_000, "EUR"),
                    outcome: "succeeded".to_owned(),
                    customer_email: text("bob@example.com"),
                },
            )),
        ),
        (
            "OrderPaymentStateChanged",
            OrderEvent::PaymentStateChanged {
                payment_state: payledger_domain::OrderPaymentState::Paid,
                old_payment_state: payledger_domain::OrderPaymentState::Pending,
            },
        ),
        (
            "OrderCreated-recurring",
            OrderEvent::Created(Box::new(OrderDraft {
                order_number: "3-5803".to_owned(),
                key: None,
                total_price: money(3_000, "USD"),
                customer_id: text("user1"),
                customer_email: None,
                recurring: true,
            })),
        ),
        (
            "OrderDeleted-erasure",
            OrderEvent::Deleted { data_erasure: true },
        ),
    ];
    cases.extend(
        order_events
            .into_iter()
            .zip(1_u64..)
            .map(|((name, event), version)| {
                let mut stored = envelope(version, Event::Order(event));
                stored.stream = StreamId::order(order_id);
                (name, Golden::Envelope(Box::new(stored)))
            }),
    );
    cases.push(("OrderView", Golden::Order(Box::new(full_order()))));
    let mut announced = full_order();
    announced.announced_payment_state = Some(payledger_domain::OrderPaymentState::CreditOwed);
    cases.push(("OrderView-announced", Golden::Order(Box::new(announced))));
    let recurring = Order {
        recurring: true,
        ..full_order()
    };
    cases.push(("OrderView-recurring", Golden::Order(Box::new(recurring))));
    let deleted = Order {
        deleted: true,
        ..full_order()
    };
    cases.push(("OrderView-deleted", Golden::Order(Box::new(deleted))));
    cases.push(("PaymentView", Golden::Payment(Box::new(full_payment()))));
    cases.push((
        "PaymentView-deleted-minimal",
        Golden::Payment(Box::new(minimal_deleted_payment())),
    ));
    // A view stored as rows: the header of the full payment, and its rows.
    let payment = full_payment();
    cases.push((
        "PaymentViewHeader",
        Golden::Header(Box::new(payment.clone())),
    ));
    cases.push((
        "PaymentViewTransactionRow",
        Golden::TransactionRow(Box::new(Transaction::clone(&payment.transactions[0]))),
    ));
    cases.push((
        "PaymentViewInteractionRow",
        Golden::InteractionRow(Box::new(payment.interface_interactions[0].clone())),
    ));
    cases
}

// The number of event variants; `event_variant_index` numbers them.
use payledger_domain::strategies::EVENT_VARIANTS;

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
        Event::Order(OrderEvent::Created(_)) => 32,
        Event::Order(OrderEvent::PaymentAdded(_)) => 33,
        Event::Order(OrderEvent::PaymentRemoved(_)) => 34,
        Event::Order(OrderEvent::CustomerEmailSet(_)) => 35,
        Event::Order(OrderEvent::KeySet(_)) => 36,
        Event::Order(OrderEvent::Cancelled) => 37,
        Event::Order(OrderEvent::PaymentNotificationRequested(_)) => 38,
        Event::Order(OrderEvent::PaymentStateChanged { .. }) => 39,
        Event::Order(OrderEvent::Deleted { .. }) => 40,
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
fn a_view_stored_as_rows_is_checked_against_its_header() {
    let payment = full_payment();
    let header_bytes = encode_payment_header(&payment);
    // A header is not a whole view: decoded whole it would lose its rows.
    assert_eq!(
        decode_payment(&header_bytes),
        Err(CodecError::StoredAsRows {
            transaction_rows: 2,
            interaction_rows: 2,
        })
    );
    let header = decode_payment_header(&header_bytes).expect("header");
    assert!(!header.is_whole());
    assert_eq!(
        header.clone().with_rows(
            payment.transactions.iter().take(1).cloned().collect(),
            payment.interface_interactions.clone()
        ),
        Err(CodecError::RowCount {
            field: "PaymentView.transactions",
            expected: 2,
            actual: 1,
        })
    );
    assert_eq!(
        header.with_rows(payment.transactions.clone(), Vec::new()),
        Err(CodecError::RowCount {
            field: "PaymentView.interface_interactions",
            expected: 2,
            actual: 0,
        })
    );
    // A view stored whole (before views had rows) reads as a header with
    // its lists inline and no rows.
    let whole = decode_payment_header(&encode_payment(&payment)).expect("whole view");
    assert!(whole.is_whole());
    assert_eq!(
        whole.with_rows(TransactionList::new(), Vec::new()),
        Ok(payment.clone())
    );
    // No encoder writes both forms at once.
    let mut mixed = pb::PaymentView::decode(encode_payment(&payment).as_slice()).expect("valid");
    mixed.transaction_rows = 2;
    assert_eq!(
        decode_payment_header(&mixed.encode_to_vec()),
        Err(CodecError::InlineAndRows {
            field: "PaymentView.transactions"
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
    let payment = envelope(3, Event::KeySet(None));
    assert_eq!(raw_envelope(deleted()).stream_kind, 0);
    let mut order = envelope(3, Event::Order(OrderEvent::KeySet(None)));
    order.stream.kind = StreamKind::Order;
    let (payment_bytes, order_bytes) = (encode_envelope(&payment), encode_envelope(&order));
    // Field 12, varint: the kind costs two bytes, and only when not a
    // payment (the two payloads have the same size: a tag and no field).
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

use payledger_domain::strategies;

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
    fn payments_stored_as_rows_round_trip(payment in strategies::payment()) {
        let header = decode_payment_header(&encode_payment_header(&payment));
        proptest::prop_assert!(header.as_ref().is_ok_and(|h| h.payment.transactions.is_empty()));
        let transactions: Result<TransactionList, _> = payment
            .transactions
            .iter()
            .map(|t| decode_transaction_row(&encode_transaction_row(t)).map(Arc::new))
            .collect();
        let interactions: Result<Vec<_>, _> = payment
            .interface_interactions
            .iter()
            .map(|i| decode_interaction_row(&encode_interaction_row(i)))
            .collect();
        let assembled = header
            .and_then(|h| h.with_rows(transactions?, interactions?));
        proptest::prop_assert_eq!(assembled, Ok(payment));
    }

    /// The peek a view read looks in its cache with: the id, version and
    /// whether the header is whole, exactly as the full decode reads them,
    /// and the decode's own error whenever it finds one in what the peek
    /// reads. Headers are damaged (cut short, a byte changed) in 2 of 3
    /// cases.
    #[test]
    fn a_header_peek_reads_what_the_decode_reads(
        mut payment in strategies::payment(),
        whole in proptest::bool::ANY,
        lists in 0..4u8,
        damage in 0..3u8,
        at in proptest::prelude::any::<proptest::sample::Index>(),
        mask in 1..=u8::MAX,
    ) {
        // Either list may be empty, so that one count alone decides.
        if lists & 1 == 1 {
            payment.transactions = TransactionList::new();
        }
        if lists & 2 == 2 {
            payment.interface_interactions.clear();
        }
        let mut bytes = if whole {
            encode_payment(&payment)
        } else {
            encode_payment_header(&payment)
        };
        match damage {
            1 => bytes.truncate(at.index(bytes.len() + 1)),
            2 => {
                let i = at.index(bytes.len());
                bytes[i] ^= mask;
            }
            _ => {}
        }
        let peeked = peek_payment_header(&bytes);
        match decode_payment_header(&bytes) {
            Ok(header) => proptest::prop_assert_eq!(peeked.clone(), Ok(HeaderPeek {
                id: header.payment.id,
                version: header.payment.version,
                whole: header.is_whole(),
            })),
            Err(error) => {
                if let Err(peek_error) = &peeked {
                    proptest::prop_assert_eq!(peek_error, &error);
                }
            }
        }
        if damage == 0 {
            proptest::prop_assert_eq!(peeked.map(|p| (p.id, p.version)), Ok((payment.id, payment.version)));
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
