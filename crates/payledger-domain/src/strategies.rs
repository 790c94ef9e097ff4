//! proptest strategies for the domain's values (payments, transactions,
//! custom fields, events, envelopes), for the property tests of every crate
//! that stores or renders them. Built with the `testing` feature only.

use crate::event::MethodInfoUpdate;
use crate::order::{OrderDraft, OrderEvent, OrderPaymentState, PaymentNotification};
use crate::payment::{
    CustomFields, FieldValue, LocalizedString, PaymentDraft, PaymentMethodInfo, PaymentStatus,
    Transaction, TransactionState, TransactionType,
};
use crate::stream::StreamKind;
use crate::{
    Actor, CurrencyCode, Event, EventEnvelope, EventId, EventMeta, Money, Payment, PaymentId,
    ProjectKey, StreamId, Timestamp, TransactionId,
};
use proptest::collection::{btree_map, vec};
use proptest::option::of;
use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Union};
use std::sync::Arc;

/// Number of [`Event`] variants: [`event`] has one strategy per variant
/// (the codec's golden corpus checks the same number).
pub const EVENT_VARIANTS: usize = 41;

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
    (any::<i64>(), proptest::sample::select(CODES)).prop_map(|(cents, code)| {
        Money::new(cents, CurrencyCode::parse(code).expect("known currency"))
    })
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
            .prop_map(
                |(transaction_id, interaction_id)| Event::TransactionInteractionIdChanged {
                    transaction_id,
                    interaction_id,
                },
            )
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
        (
            string(),
            opt_string(),
            money(),
            opt_string(),
            opt_string(),
            any::<bool>(),
        )
            .prop_map(
                |(order_number, key, total_price, customer_id, customer_email, recurring)| {
                    Event::Order(OrderEvent::Created(Box::new(OrderDraft {
                        order_number,
                        key,
                        total_price,
                        customer_id,
                        customer_email,
                        recurring,
                    })))
                },
            )
            .boxed(),
        any::<[u8; 16]>()
            .prop_map(|id| Event::Order(OrderEvent::PaymentAdded(PaymentId::from_bytes(id))))
            .boxed(),
        any::<[u8; 16]>()
            .prop_map(|id| Event::Order(OrderEvent::PaymentRemoved(PaymentId::from_bytes(id))))
            .boxed(),
        opt_string()
            .prop_map(|email| Event::Order(OrderEvent::CustomerEmailSet(email)))
            .boxed(),
        opt_string()
            .prop_map(|key| Event::Order(OrderEvent::KeySet(key)))
            .boxed(),
        Just(Event::Order(OrderEvent::Cancelled)).boxed(),
        any::<bool>()
            .prop_map(|data_erasure| Event::Order(OrderEvent::Deleted { data_erasure }))
            .boxed(),
        (any::<[u8; 16]>(), money(), string(), opt_string())
            .prop_map(|(id, amount, outcome, customer_email)| {
                Event::Order(OrderEvent::PaymentNotificationRequested(Box::new(
                    PaymentNotification {
                        payment: PaymentId::from_bytes(id),
                        amount,
                        outcome,
                        customer_email,
                    },
                )))
            })
            .boxed(),
        (0..5_usize, 0..5_usize)
            .prop_map(|(new, old)| {
                Event::Order(OrderEvent::PaymentStateChanged {
                    payment_state: OrderPaymentState::ALL[new],
                    old_payment_state: OrderPaymentState::ALL[old],
                })
            })
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
    let position = (
        any::<[u8; 16]>(),
        any::<u64>(),
        any::<u16>(),
        any::<u64>(),
        any::<[u8; 32]>(),
    );
    (meta, position, event()).prop_map(|(meta, position, event)| EventEnvelope {
        meta,
        // A payload only ever appears in a stream of its own kind.
        stream: StreamId::from_bytes(
            match event {
                Event::Order(_) => StreamKind::Order,
                _ => StreamKind::Payment,
            },
            position.0,
        ),
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
        transactions: d.transactions.into_iter().map(Arc::new).collect(),
        interface_interactions: d.interface_interactions,
        custom: d.custom,
        created_at: audit.0,
        last_modified_at: audit.1,
        created_by: audit.2,
        last_modified_by: audit.3,
        deleted,
    })
}
