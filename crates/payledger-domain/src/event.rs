//! The events of a payment stream (and, wrapped in [`Event::Order`], of an
//! order stream) and the envelope they are stored in.
//!
//! One state-changing update action is one event; creation and deletion are
//! events too. Events are a contract forever: their protobuf form lives in
//! `proto/payledger/v1/events.proto` and the codec crate maps between the two.

pub use crate::ids::Actor;
use crate::ids::{EventId, OrderId, PaymentId, ProjectKey, TransactionId};
use crate::money::Money;
use crate::order::OrderEvent;
use crate::payment::{
    CustomFields, FieldValue, LocalizedString, PaymentDraft, Timestamp, Transaction,
    TransactionState,
};
use crate::stream::StreamId;

/// A partial update of the payment method info (the `setMethodInfo`
/// action). `None` leaves a field unchanged.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct MethodInfoUpdate {
    pub payment_interface: Option<String>,
    pub method: Option<String>,
    pub name: Option<LocalizedString>,
    pub token: Option<String>,
    pub interface_account: Option<String>,
    /// The method info's custom fields (Type resolved, fields validated).
    pub custom: Option<CustomFields>,
}

/// What happened to a payment. One variant per kind of change.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Event {
    /// The payment was created from a draft (transaction ids assigned).
    Created(Box<PaymentDraft>),
    /// `addTransaction`.
    TransactionAdded(Transaction),
    /// `changeTransactionState`.
    TransactionStateChanged {
        transaction_id: TransactionId,
        state: TransactionState,
    },
    /// `changeTransactionTimestamp`.
    TransactionTimestampChanged {
        transaction_id: TransactionId,
        timestamp: Timestamp,
    },
    /// `changeTransactionInteractionId`.
    TransactionInteractionIdChanged {
        transaction_id: TransactionId,
        interaction_id: String,
    },
    /// `setTransactionInterfaceId`; `None` removes it.
    TransactionInterfaceIdSet {
        transaction_id: TransactionId,
        interface_id: Option<String>,
    },
    /// `setTransactionCustomType`; `None` removes the custom fields.
    TransactionCustomTypeSet {
        transaction_id: TransactionId,
        custom: Option<CustomFields>,
    },
    /// `setTransactionCustomField`; `None` removes the field.
    TransactionCustomFieldSet {
        transaction_id: TransactionId,
        name: String,
        value: Option<FieldValue>,
    },
    /// `addInterfaceInteraction`.
    InterfaceInteractionAdded(CustomFields),
    /// `changeAmountPlanned`.
    AmountPlannedChanged(Money),
    /// `setKey`; `None` removes it.
    KeySet(Option<String>),
    /// `setCustomer`; `None` removes it.
    CustomerSet(Option<String>),
    /// `setAnonymousId`; `None` removes it.
    AnonymousIdSet(Option<String>),
    /// `setInterfaceId` (set once).
    InterfaceIdSet(String),
    /// `setMethodInfoInterface` (set once).
    MethodInfoInterfaceSet(String),
    /// `setMethodInfoMethod`; `None` removes it.
    MethodInfoMethodSet(Option<String>),
    /// `setMethodInfoName`; `None` removes it.
    MethodInfoNameSet(Option<LocalizedString>),
    /// `setMethodInfoToken`; `None` removes it.
    MethodInfoTokenSet(Option<String>),
    /// `setMethodInfoInterfaceAccount`; `None` removes it.
    MethodInfoInterfaceAccountSet(Option<String>),
    /// `setMethodInfoCustomType`; `None` removes the custom fields.
    MethodInfoCustomTypeSet(Option<CustomFields>),
    /// `setMethodInfoCustomField`; `None` removes the field.
    MethodInfoCustomFieldSet {
        name: String,
        value: Option<FieldValue>,
    },
    /// `setMethodInfo`: the given fields change, the others stay.
    MethodInfoSet(MethodInfoUpdate),
    /// `setStatusInterfaceCode`; `None` removes it.
    StatusInterfaceCodeSet(Option<String>),
    /// `setStatusInterfaceText`; `None` removes it.
    StatusInterfaceTextSet(Option<String>),
    /// `setCustomType`; `None` removes the custom fields.
    CustomTypeSet(Option<CustomFields>),
    /// `setCustomField`; `None` removes the field.
    CustomFieldSet {
        name: String,
        value: Option<FieldValue>,
    },
    /// `transitionState` to the State with this id.
    StateTransitioned { state_id: String, force: bool },
    /// `setAmountPaid` (deprecated); `None` removes it.
    AmountPaidSet(Option<Money>),
    /// `setAmountRefunded` (deprecated); `None` removes it.
    AmountRefundedSet(Option<Money>),
    /// `setAuthorization` (deprecated); `None` amount removes both fields.
    AuthorizationSet {
        amount: Option<Money>,
        until: Option<Timestamp>,
    },
    /// `setExternalId` (deprecated); `None` removes it.
    ExternalIdSet(Option<String>),
    /// The payment was deleted.
    Deleted { data_erasure: bool },
    /// An event of an order's stream (never in a payment's).
    Order(OrderEvent),
}

impl Event {
    /// Whether this event erases its stream's personal data (a deletion
    /// of a payment or an order with `dataErasure=true`).
    pub const fn erases_data(&self) -> bool {
        matches!(
            self,
            Self::Deleted { data_erasure: true }
                | Self::Order(OrderEvent::Deleted { data_erasure: true })
        )
    }

    /// A stable name of the event kind, for logs and metrics.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Created(_) => "Created",
            Self::TransactionAdded(_) => "TransactionAdded",
            Self::TransactionStateChanged { .. } => "TransactionStateChanged",
            Self::TransactionTimestampChanged { .. } => "TransactionTimestampChanged",
            Self::TransactionInteractionIdChanged { .. } => "TransactionInteractionIdChanged",
            Self::TransactionInterfaceIdSet { .. } => "TransactionInterfaceIdSet",
            Self::TransactionCustomTypeSet { .. } => "TransactionCustomTypeSet",
            Self::TransactionCustomFieldSet { .. } => "TransactionCustomFieldSet",
            Self::InterfaceInteractionAdded(_) => "InterfaceInteractionAdded",
            Self::AmountPlannedChanged(_) => "AmountPlannedChanged",
            Self::KeySet(_) => "KeySet",
            Self::CustomerSet(_) => "CustomerSet",
            Self::AnonymousIdSet(_) => "AnonymousIdSet",
            Self::InterfaceIdSet(_) => "InterfaceIdSet",
            Self::MethodInfoInterfaceSet(_) => "MethodInfoInterfaceSet",
            Self::MethodInfoMethodSet(_) => "MethodInfoMethodSet",
            Self::MethodInfoNameSet(_) => "MethodInfoNameSet",
            Self::MethodInfoTokenSet(_) => "MethodInfoTokenSet",
            Self::MethodInfoInterfaceAccountSet(_) => "MethodInfoInterfaceAccountSet",
            Self::MethodInfoCustomTypeSet(_) => "MethodInfoCustomTypeSet",
            Self::MethodInfoCustomFieldSet { .. } => "MethodInfoCustomFieldSet",
            Self::MethodInfoSet(_) => "MethodInfoSet",
            Self::StatusInterfaceCodeSet(_) => "StatusInterfaceCodeSet",
            Self::StatusInterfaceTextSet(_) => "StatusInterfaceTextSet",
            Self::CustomTypeSet(_) => "CustomTypeSet",
            Self::CustomFieldSet { .. } => "CustomFieldSet",
            Self::StateTransitioned { .. } => "StateTransitioned",
            Self::AmountPaidSet(_) => "AmountPaidSet",
            Self::AmountRefundedSet(_) => "AmountRefundedSet",
            Self::AuthorizationSet { .. } => "AuthorizationSet",
            Self::ExternalIdSet(_) => "ExternalIdSet",
            Self::Deleted { .. } => "Deleted",
            Self::Order(event) => event.kind(),
        }
    }
}

/// What the caller supplies with each new event; the store adds the
/// position facts (version, partition, sequence, previous hash).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct EventMeta {
    pub event_id: EventId,
    pub project: ProjectKey,
    pub recorded_at: Timestamp,
    pub actor: Actor,
    pub correlation_id: Option<String>,
    pub idempotency_key: Option<String>,
}

/// A stored event: the event, its metadata and its place in the stream and
/// in the partition's global log.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct EventEnvelope {
    pub meta: EventMeta,
    /// The stream the event belongs to (aggregate kind and id).
    pub stream: StreamId,
    /// 1-based version of the stream after this event.
    pub version: u64,
    pub partition: u16,
    /// 1-based position in the partition's log.
    pub partition_sequence: u64,
    /// SHA-256 of the previous event's encoded envelope (zeros for version 1).
    pub previous_hash: [u8; 32],
    pub event: Event,
}

impl EventEnvelope {
    /// The payment whose stream holds this event, if it is a payment's.
    pub const fn payment_id(&self) -> Option<PaymentId> {
        self.stream.payment_id()
    }

    /// The order whose stream holds this event, if it is an order's.
    pub const fn order_id(&self) -> Option<OrderId> {
        self.stream.order_id()
    }
}
