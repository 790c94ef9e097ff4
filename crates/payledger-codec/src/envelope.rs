//! Mapping of stored events: [`EventEnvelope`] ↔ `pb::EventEnvelope`.
//!
//! The envelope's metadata maps field by field; the event maps to exactly one
//! case of the `payload` oneof, one proto message per [`Event`] variant. Both
//! directions are single exhaustive `match`es, so adding an event variant (or
//! a payload case) does not compile until it is mapped here, and then the
//! golden test in `tests/codec.rs` demands a golden file for it.

use crate::building_blocks::{
    ID_BYTES, actor_from_pb, actor_to_pb, custom_from_pb, custom_to_pb, draft_from_pb, draft_to_pb,
    field_value_to_pb, fixed_bytes, localized_from_pb, localized_to_pb, money_from_pb, money_to_pb,
    option_custom_from_pb, option_field_value_from_pb, option_money_from_pb, required,
    timestamp_from_pb, transaction_from_pb, transaction_id_from_pb, transaction_state_from_pb,
    transaction_state_to_pb, transaction_to_pb,
};
use crate::error::CodecError;
use crate::pb;
use crate::pb::event_envelope::Payload;
use payledger_domain::event::MethodInfoUpdate;
use payledger_domain::{
    Event, EventEnvelope, EventId, EventMeta, OrderDraft, OrderEvent, PaymentId,
    PaymentNotification, ProjectKey, StreamId, StreamKind, Timestamp, TransactionId,
};

/// Length of the previous-event hash (SHA-256) in bytes.
const HASH_BYTES: usize = 32;

pub(crate) fn envelope_to_pb(envelope: &EventEnvelope) -> pb::EventEnvelope {
    let meta = &envelope.meta;
    pb::EventEnvelope {
        event_id: meta.event_id.as_bytes().to_vec(),
        project: meta.project.as_str().to_owned(),
        stream_id: envelope.stream.id_bytes().to_vec(),
        stream_kind: stream_kind_to_pb(envelope.stream.kind).into(),
        version: envelope.version,
        partition: u32::from(envelope.partition),
        partition_sequence: envelope.partition_sequence,
        recorded_at_ms: meta.recorded_at.millis(),
        actor: Some(actor_to_pb(&meta.actor)),
        correlation_id: meta.correlation_id.clone(),
        idempotency_key: meta.idempotency_key.clone(),
        previous_event_hash: envelope.previous_hash.to_vec(),
        payload: Some(event_to_pb(&envelope.event)),
    }
}

pub(crate) fn envelope_from_pb(envelope: pb::EventEnvelope) -> Result<EventEnvelope, CodecError> {
    let project =
        ProjectKey::parse(&envelope.project).ok_or_else(|| CodecError::InvalidProjectKey {
            key: envelope.project.clone(),
        })?;
    let partition = u16::try_from(envelope.partition).map_err(|_| CodecError::OutOfRange {
        field: "EventEnvelope.partition",
        value: u64::from(envelope.partition),
    })?;
    let meta = EventMeta {
        event_id: EventId::from_bytes(fixed_bytes::<ID_BYTES>(
            envelope.event_id,
            "EventEnvelope.event_id",
        )?),
        project,
        recorded_at: Timestamp(envelope.recorded_at_ms),
        actor: actor_from_pb(required(envelope.actor, "EventEnvelope.actor")?)?,
        correlation_id: envelope.correlation_id,
        idempotency_key: envelope.idempotency_key,
    };
    let stream = StreamId::from_bytes(
        stream_kind_from_pb(envelope.stream_kind)?,
        fixed_bytes::<ID_BYTES>(envelope.stream_id, "EventEnvelope.stream_id")?,
    );
    let event = event_from_pb(envelope.payload.ok_or(CodecError::MissingPayload)?)?;
    Ok(EventEnvelope {
        meta,
        stream,
        version: envelope.version,
        partition,
        partition_sequence: envelope.partition_sequence,
        previous_hash: fixed_bytes::<HASH_BYTES>(
            envelope.previous_event_hash,
            "EventEnvelope.previous_event_hash",
        )?,
        event,
    })
}

fn stream_kind_to_pb(kind: StreamKind) -> pb::StreamKind {
    match kind {
        StreamKind::Payment => pb::StreamKind::Payment,
        StreamKind::Order => pb::StreamKind::Order,
    }
}

fn stream_kind_from_pb(value: i32) -> Result<StreamKind, CodecError> {
    match pb::StreamKind::try_from(value) {
        Ok(pb::StreamKind::Payment) => Ok(StreamKind::Payment),
        Ok(pb::StreamKind::Order) => Ok(StreamKind::Order),
        Err(prost::UnknownEnumValue(_)) => Err(CodecError::UnknownEnumValue {
            field: "EventEnvelope.stream_kind",
            value,
        }),
    }
}

fn id_to_pb(id: &TransactionId) -> Vec<u8> {
    id.as_bytes().to_vec()
}

/// Maps an event to its payload case. One arm per variant, no `_` arm.
fn event_to_pb(event: &Event) -> Payload {
    use pb::*;
    match event {
        Event::Created(draft) => Payload::Created(PaymentCreated {
            draft: Some(draft_to_pb(draft)),
        }),
        Event::TransactionAdded(transaction) => Payload::TransactionAdded(TransactionAdded {
            transaction: Some(transaction_to_pb(transaction)),
        }),
        Event::TransactionStateChanged {
            transaction_id,
            state,
        } => Payload::TransactionStateChanged(TransactionStateChanged {
            transaction_id: id_to_pb(transaction_id),
            state: transaction_state_to_pb(*state).into(),
        }),
        Event::TransactionTimestampChanged {
            transaction_id,
            timestamp,
        } => Payload::TransactionTimestampChanged(TransactionTimestampChanged {
            transaction_id: id_to_pb(transaction_id),
            timestamp_ms: timestamp.millis(),
        }),
        Event::TransactionInteractionIdChanged {
            transaction_id,
            interaction_id,
        } => Payload::TransactionInteractionIdChanged(TransactionInteractionIdChanged {
            transaction_id: id_to_pb(transaction_id),
            interaction_id: interaction_id.clone(),
        }),
        Event::TransactionInterfaceIdSet {
            transaction_id,
            interface_id,
        } => Payload::TransactionInterfaceIdSet(TransactionInterfaceIdSet {
            transaction_id: id_to_pb(transaction_id),
            interface_id: interface_id.clone(),
        }),
        Event::TransactionCustomTypeSet {
            transaction_id,
            custom,
        } => Payload::TransactionCustomTypeSet(TransactionCustomTypeSet {
            transaction_id: id_to_pb(transaction_id),
            custom: custom.as_ref().map(custom_to_pb),
        }),
        Event::TransactionCustomFieldSet {
            transaction_id,
            name,
            value,
        } => Payload::TransactionCustomFieldSet(TransactionCustomFieldSet {
            transaction_id: id_to_pb(transaction_id),
            name: name.clone(),
            value: value.as_ref().map(field_value_to_pb),
        }),
        Event::InterfaceInteractionAdded(interaction) => {
            Payload::InterfaceInteractionAdded(InterfaceInteractionAdded {
                interaction: Some(custom_to_pb(interaction)),
            })
        }
        Event::AmountPlannedChanged(amount) => {
            Payload::AmountPlannedChanged(AmountPlannedChanged {
                amount: Some(money_to_pb(amount)),
            })
        }
        Event::KeySet(key) => Payload::KeySet(KeySet { key: key.clone() }),
        Event::CustomerSet(customer_id) => Payload::CustomerSet(CustomerSet {
            customer_id: customer_id.clone(),
        }),
        Event::AnonymousIdSet(anonymous_id) => Payload::AnonymousIdSet(AnonymousIdSet {
            anonymous_id: anonymous_id.clone(),
        }),
        Event::InterfaceIdSet(interface_id) => Payload::InterfaceIdSet(InterfaceIdSet {
            interface_id: interface_id.clone(),
        }),
        Event::MethodInfoInterfaceSet(payment_interface) => {
            Payload::MethodInfoInterfaceSet(MethodInfoInterfaceSet {
                payment_interface: payment_interface.clone(),
            })
        }
        Event::MethodInfoMethodSet(method) => Payload::MethodInfoMethodSet(MethodInfoMethodSet {
            method: method.clone(),
        }),
        Event::MethodInfoNameSet(name) => Payload::MethodInfoNameSet(MethodInfoNameSet {
            name: name.as_ref().map(localized_to_pb),
        }),
        Event::MethodInfoTokenSet(token) => Payload::MethodInfoTokenSet(MethodInfoTokenSet {
            token: token.clone(),
        }),
        Event::MethodInfoInterfaceAccountSet(interface_account) => {
            Payload::MethodInfoInterfaceAccountSet(MethodInfoInterfaceAccountSet {
                interface_account: interface_account.clone(),
            })
        }
        Event::MethodInfoCustomTypeSet(custom) => {
            Payload::MethodInfoCustomTypeSet(MethodInfoCustomTypeSet {
                custom: custom.as_ref().map(custom_to_pb),
            })
        }
        Event::MethodInfoCustomFieldSet { name, value } => {
            Payload::MethodInfoCustomFieldSet(MethodInfoCustomFieldSet {
                name: name.clone(),
                value: value.as_ref().map(field_value_to_pb),
            })
        }
        Event::MethodInfoSet(update) => Payload::MethodInfoSet(method_info_update_to_pb(update)),
        Event::StatusInterfaceCodeSet(interface_code) => {
            Payload::StatusInterfaceCodeSet(StatusInterfaceCodeSet {
                interface_code: interface_code.clone(),
            })
        }
        Event::StatusInterfaceTextSet(interface_text) => {
            Payload::StatusInterfaceTextSet(StatusInterfaceTextSet {
                interface_text: interface_text.clone(),
            })
        }
        Event::CustomTypeSet(custom) => Payload::CustomTypeSet(CustomTypeSet {
            custom: custom.as_ref().map(custom_to_pb),
        }),
        Event::CustomFieldSet { name, value } => Payload::CustomFieldSet(CustomFieldSet {
            name: name.clone(),
            value: value.as_ref().map(field_value_to_pb),
        }),
        Event::StateTransitioned { state_id, force } => {
            Payload::StateTransitioned(StateTransitioned {
                state_id: state_id.clone(),
                force: *force,
            })
        }
        Event::AmountPaidSet(amount) => Payload::AmountPaidSet(AmountPaidSet {
            amount: amount.as_ref().map(money_to_pb),
        }),
        Event::AmountRefundedSet(amount) => Payload::AmountRefundedSet(AmountRefundedSet {
            amount: amount.as_ref().map(money_to_pb),
        }),
        Event::AuthorizationSet { amount, until } => Payload::AuthorizationSet(AuthorizationSet {
            amount: amount.as_ref().map(money_to_pb),
            until_ms: until.map(Timestamp::millis),
        }),
        Event::ExternalIdSet(external_id) => Payload::ExternalIdSet(ExternalIdSet {
            external_id: external_id.clone(),
        }),
        Event::Order(event) => order_event_to_pb(event),
        Event::Deleted { data_erasure } => Payload::Deleted(PaymentDeleted {
            data_erasure: *data_erasure,
        }),
    }
}

fn method_info_update_to_pb(update: &MethodInfoUpdate) -> pb::MethodInfoSet {
    pb::MethodInfoSet {
        payment_interface: update.payment_interface.clone(),
        method: update.method.clone(),
        name: update.name.as_ref().map(localized_to_pb),
        token: update.token.clone(),
        interface_account: update.interface_account.clone(),
        custom: update.custom.as_ref().map(custom_to_pb),
    }
}

/// Maps a payload case back to its event. One arm per case, no `_` arm.
fn event_from_pb(payload: Payload) -> Result<Event, CodecError> {
    use pb::OrderCancelled;
    Ok(match payload {
        Payload::Created(m) => Event::Created(Box::new(draft_from_pb(required(
            m.draft,
            "PaymentCreated.draft",
        )?)?)),
        Payload::TransactionAdded(m) => Event::TransactionAdded(transaction_from_pb(required(
            m.transaction,
            "TransactionAdded.transaction",
        )?)?),
        Payload::TransactionStateChanged(m) => Event::TransactionStateChanged {
            transaction_id: transaction_id_from_pb(
                m.transaction_id,
                "TransactionStateChanged.transaction_id",
            )?,
            state: transaction_state_from_pb(m.state, "TransactionStateChanged.state")?,
        },
        Payload::TransactionTimestampChanged(m) => Event::TransactionTimestampChanged {
            transaction_id: transaction_id_from_pb(
                m.transaction_id,
                "TransactionTimestampChanged.transaction_id",
            )?,
            timestamp: Timestamp(m.timestamp_ms),
        },
        Payload::TransactionInteractionIdChanged(m) => Event::TransactionInteractionIdChanged {
            transaction_id: transaction_id_from_pb(
                m.transaction_id,
                "TransactionInteractionIdChanged.transaction_id",
            )?,
            interaction_id: m.interaction_id,
        },
        Payload::TransactionInterfaceIdSet(m) => Event::TransactionInterfaceIdSet {
            transaction_id: transaction_id_from_pb(
                m.transaction_id,
                "TransactionInterfaceIdSet.transaction_id",
            )?,
            interface_id: m.interface_id,
        },
        Payload::TransactionCustomTypeSet(m) => Event::TransactionCustomTypeSet {
            transaction_id: transaction_id_from_pb(
                m.transaction_id,
                "TransactionCustomTypeSet.transaction_id",
            )?,
            custom: option_custom_from_pb(m.custom)?,
        },
        Payload::TransactionCustomFieldSet(m) => Event::TransactionCustomFieldSet {
            transaction_id: transaction_id_from_pb(
                m.transaction_id,
                "TransactionCustomFieldSet.transaction_id",
            )?,
            name: m.name,
            value: option_field_value_from_pb(m.value)?,
        },
        Payload::InterfaceInteractionAdded(m) => Event::InterfaceInteractionAdded(custom_from_pb(
            required(m.interaction, "InterfaceInteractionAdded.interaction")?,
        )?),
        Payload::AmountPlannedChanged(m) => Event::AmountPlannedChanged(money_from_pb(required(
            m.amount,
            "AmountPlannedChanged.amount",
        )?)?),
        Payload::KeySet(m) => Event::KeySet(m.key),
        Payload::CustomerSet(m) => Event::CustomerSet(m.customer_id),
        Payload::AnonymousIdSet(m) => Event::AnonymousIdSet(m.anonymous_id),
        Payload::InterfaceIdSet(m) => Event::InterfaceIdSet(m.interface_id),
        Payload::MethodInfoInterfaceSet(m) => Event::MethodInfoInterfaceSet(m.payment_interface),
        Payload::MethodInfoMethodSet(m) => Event::MethodInfoMethodSet(m.method),
        Payload::MethodInfoNameSet(m) => Event::MethodInfoNameSet(m.name.map(localized_from_pb)),
        Payload::MethodInfoTokenSet(m) => Event::MethodInfoTokenSet(m.token),
        Payload::MethodInfoInterfaceAccountSet(m) => {
            Event::MethodInfoInterfaceAccountSet(m.interface_account)
        }
        Payload::MethodInfoCustomTypeSet(m) => {
            Event::MethodInfoCustomTypeSet(option_custom_from_pb(m.custom)?)
        }
        Payload::MethodInfoCustomFieldSet(m) => Event::MethodInfoCustomFieldSet {
            name: m.name,
            value: option_field_value_from_pb(m.value)?,
        },
        Payload::MethodInfoSet(m) => Event::MethodInfoSet(MethodInfoUpdate {
            payment_interface: m.payment_interface,
            method: m.method,
            name: m.name.map(localized_from_pb),
            token: m.token,
            interface_account: m.interface_account,
            custom: option_custom_from_pb(m.custom)?,
        }),
        Payload::StatusInterfaceCodeSet(m) => Event::StatusInterfaceCodeSet(m.interface_code),
        Payload::StatusInterfaceTextSet(m) => Event::StatusInterfaceTextSet(m.interface_text),
        Payload::CustomTypeSet(m) => Event::CustomTypeSet(option_custom_from_pb(m.custom)?),
        Payload::CustomFieldSet(m) => Event::CustomFieldSet {
            name: m.name,
            value: option_field_value_from_pb(m.value)?,
        },
        Payload::StateTransitioned(m) => Event::StateTransitioned {
            state_id: m.state_id,
            force: m.force,
        },
        Payload::AmountPaidSet(m) => Event::AmountPaidSet(option_money_from_pb(m.amount)?),
        Payload::AmountRefundedSet(m) => Event::AmountRefundedSet(option_money_from_pb(m.amount)?),
        Payload::AuthorizationSet(m) => Event::AuthorizationSet {
            amount: option_money_from_pb(m.amount)?,
            until: timestamp_from_pb(m.until_ms),
        },
        Payload::ExternalIdSet(m) => Event::ExternalIdSet(m.external_id),
        Payload::Deleted(m) => Event::Deleted {
            data_erasure: m.data_erasure,
        },
        Payload::OrderCreated(m) => Event::Order(OrderEvent::Created(Box::new(OrderDraft {
            order_number: m.order_number,
            key: m.key,
            total_price: money_from_pb(required(m.total_price, "OrderCreated.total_price")?)?,
            customer_id: m.customer_id,
            customer_email: m.customer_email,
            recurring: m.recurring,
        }))),
        Payload::OrderPaymentAdded(m) => {
            Event::Order(OrderEvent::PaymentAdded(PaymentId::from_bytes(
                fixed_bytes::<ID_BYTES>(m.payment_id, "OrderPaymentAdded.payment_id")?,
            )))
        }
        Payload::OrderPaymentRemoved(m) => {
            Event::Order(OrderEvent::PaymentRemoved(PaymentId::from_bytes(
                fixed_bytes::<ID_BYTES>(m.payment_id, "OrderPaymentRemoved.payment_id")?,
            )))
        }
        Payload::OrderCustomerEmailSet(m) => {
            Event::Order(OrderEvent::CustomerEmailSet(m.customer_email))
        }
        Payload::OrderKeySet(m) => Event::Order(OrderEvent::KeySet(m.key)),
        Payload::OrderCancelled(OrderCancelled {}) => Event::Order(OrderEvent::Cancelled),
        Payload::OrderDeleted(m) => Event::Order(OrderEvent::Deleted {
            data_erasure: m.data_erasure,
        }),
        Payload::PaymentNotificationRequested(m) => Event::Order(
            OrderEvent::PaymentNotificationRequested(Box::new(PaymentNotification {
                payment: PaymentId::from_bytes(fixed_bytes::<ID_BYTES>(
                    m.payment_id,
                    "PaymentNotificationRequested.payment_id",
                )?),
                amount: money_from_pb(required(m.amount, "PaymentNotificationRequested.amount")?)?,
                outcome: m.outcome,
                customer_email: m.customer_email,
            })),
        ),
        Payload::OrderPaymentStateChanged(m) => Event::Order(OrderEvent::PaymentStateChanged {
            payment_state: crate::order_view::payment_state_from_pb(
                m.payment_state,
                "OrderPaymentStateChanged.payment_state",
            )?,
            old_payment_state: crate::order_view::payment_state_from_pb(
                m.old_payment_state,
                "OrderPaymentStateChanged.old_payment_state",
            )?,
        }),
    })
}

fn order_event_to_pb(event: &OrderEvent) -> Payload {
    use pb::*;
    match event {
        OrderEvent::Created(draft) => Payload::OrderCreated(OrderCreated {
            order_number: draft.order_number.clone(),
            key: draft.key.clone(),
            total_price: Some(money_to_pb(&draft.total_price)),
            customer_id: draft.customer_id.clone(),
            customer_email: draft.customer_email.clone(),
            recurring: draft.recurring,
        }),
        OrderEvent::PaymentAdded(id) => Payload::OrderPaymentAdded(OrderPaymentAdded {
            payment_id: id.as_bytes().to_vec(),
        }),
        OrderEvent::PaymentRemoved(id) => Payload::OrderPaymentRemoved(OrderPaymentRemoved {
            payment_id: id.as_bytes().to_vec(),
        }),
        OrderEvent::CustomerEmailSet(email) => {
            Payload::OrderCustomerEmailSet(OrderCustomerEmailSet {
                customer_email: email.clone(),
            })
        }
        OrderEvent::KeySet(key) => Payload::OrderKeySet(OrderKeySet { key: key.clone() }),
        OrderEvent::Cancelled => Payload::OrderCancelled(OrderCancelled {}),
        OrderEvent::Deleted { data_erasure } => Payload::OrderDeleted(OrderDeleted {
            data_erasure: *data_erasure,
        }),
        OrderEvent::PaymentNotificationRequested(n) => {
            Payload::PaymentNotificationRequested(PaymentNotificationRequested {
                payment_id: n.payment.as_bytes().to_vec(),
                amount: Some(money_to_pb(&n.amount)),
                outcome: n.outcome.clone(),
                customer_email: n.customer_email.clone(),
            })
        }
        OrderEvent::PaymentStateChanged {
            payment_state,
            old_payment_state,
        } => Payload::OrderPaymentStateChanged(OrderPaymentStateChanged {
            payment_state: payment_state.as_str().to_owned(),
            old_payment_state: old_payment_state.as_str().to_owned(),
        }),
    }
}
