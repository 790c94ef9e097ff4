//! The Order aggregate: an order number, a total price and the payments
//! that try to pay it.
//!
//! An order has its own event stream ([`OrderEvent`], wrapped in
//! [`Event::Order`]). What the events hold is the order's own data and the
//! list of its payment attempts, in the order they were linked. What the
//! attempts achieved (paid, refunded, outstanding and the derived
//! `paymentState`) is not copied into the order's stream: it is computed by
//! [`order_totals`] from the linked payments as they are, so it can never
//! lag a payment's own events.
//!
//! Deciding and folding follow the payment's rules: pure functions, one
//! event per change, an action that changes nothing records nothing, and a
//! fold never refuses an event (a broken stream panics).

pub mod attempts;
#[cfg(test)]
mod tests;

use crate::decide::{ACTIONS_PER_REQUEST_MAX, validate_key};
use crate::event::{Actor, Event, EventMeta};
use crate::ids::{OrderId, PaymentId};
use crate::money::Money;
use crate::payment::{Payment, Timestamp, TransactionState, TransactionType};
use crate::rejection::Rejection;

/// Longest accepted order number, in bytes.
pub const ORDER_NUMBER_BYTES_MAX: usize = 64;
/// Longest accepted customer email, in bytes (RFC 5321's path limit).
pub const CUSTOMER_EMAIL_BYTES_MAX: usize = 254;
/// Longest accepted customer id, in bytes.
pub const CUSTOMER_ID_BYTES_MAX: usize = 256;
/// Most payment attempts one order may hold.
pub const ORDER_PAYMENTS_MAX: usize = 100;

/// An order as a client creates it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OrderDraft {
    pub order_number: String,
    pub key: Option<String>,
    pub total_price: Money,
    pub customer_id: Option<String>,
    pub customer_email: Option<String>,
    /// A charge of a saved token that the merchant started (a recurring
    /// request of the signed tokenization API); set at creation only.
    pub recurring: bool,
}

/// Whether the order is still open (commercetools `orderState`, the two
/// values payledger uses).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum OrderState {
    #[default]
    Open,
    Cancelled,
}

impl OrderState {
    /// The commercetools name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "Open",
            Self::Cancelled => "Cancelled",
        }
    }
}

/// What happened to an order. One variant per kind of change.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum OrderEvent {
    /// The order was created from a draft.
    Created(Box<OrderDraft>),
    /// `addPayment`: a payment attempt was linked (the latest attempt is
    /// the last one linked).
    PaymentAdded(PaymentId),
    /// `removePayment`.
    PaymentRemoved(PaymentId),
    /// `setCustomerEmail`; `None` removes it.
    CustomerEmailSet(Option<String>),
    /// `setKey`; `None` removes it.
    KeySet(Option<String>),
    /// `cancel`.
    Cancelled,
    /// A collect asked the merchant's mailer to tell the customer how a
    /// charge went (seed 002's `send_payment_notification`). Changes
    /// nothing in the order; it exists for its Message.
    PaymentNotificationRequested(Box<PaymentNotification>),
    /// What the order's payments achieved moved its `paymentState` (seen
    /// by the order payment state consumer after the payment's events).
    PaymentStateChanged {
        payment_state: OrderPaymentState,
        old_payment_state: OrderPaymentState,
    },
    /// The order was deleted; with `data_erasure`, its personal data (the
    /// customer id and e-mail) was erased too. The last event of its
    /// stream.
    Deleted { data_erasure: bool },
}

/// What a payment notification tells the customer.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PaymentNotification {
    pub payment: PaymentId,
    pub amount: Money,
    /// `succeeded`, `failed` or `pending`.
    pub outcome: String,
    /// Where the mailer sends it (the order's email then).
    pub customer_email: Option<String>,
}

impl OrderEvent {
    /// A stable name of the event kind, for logs and metrics.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Created(_) => "OrderCreated",
            Self::PaymentAdded(_) => "OrderPaymentAdded",
            Self::PaymentRemoved(_) => "OrderPaymentRemoved",
            Self::CustomerEmailSet(_) => "OrderCustomerEmailSet",
            Self::KeySet(_) => "OrderKeySet",
            Self::Cancelled => "OrderCancelled",
            Self::PaymentNotificationRequested(_) => "PaymentNotificationRequested",
            Self::PaymentStateChanged { .. } => "OrderPaymentStateChanged",
            Self::Deleted { .. } => "OrderDeleted",
        }
    }
}

/// An order update action, parsed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum OrderAction {
    AddPayment(PaymentId),
    RemovePayment(PaymentId),
    SetCustomerEmail(Option<String>),
    SetKey(Option<String>),
    Cancel,
    /// Internal (a collect, not the API): ask the merchant's mailer to tell
    /// the customer how a charge of one of the order's payments went.
    RequestPaymentNotification(Box<PaymentNotification>),
    /// Internal (the order payment state consumer): record the
    /// `paymentState` the payments now give, when it differs from the last
    /// one recorded.
    AnnouncePaymentState(OrderPaymentState),
}

/// The order as its events leave it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Order {
    pub id: OrderId,
    /// Equals the number of events in the stream.
    pub version: u64,
    pub order_number: String,
    pub key: Option<String>,
    pub total_price: Money,
    pub customer_id: Option<String>,
    pub customer_email: Option<String>,
    /// A recurring charge of a saved token ([`OrderDraft::recurring`]).
    pub recurring: bool,
    /// Linked payment attempts, oldest first.
    pub payments: Vec<PaymentId>,
    pub order_state: OrderState,
    /// The last `paymentState` an `OrderPaymentStateChanged` recorded; none
    /// since creation reads as [`announced_payment_state`] says.
    pub announced_payment_state: Option<OrderPaymentState>,
    pub created_at: Timestamp,
    pub last_modified_at: Timestamp,
    pub created_by: Actor,
    pub last_modified_by: Actor,
    /// Deleted: no view, no indexes, no further commands; its events stay.
    pub deleted: bool,
}

/// The commercetools `PaymentState` of an order, derived by
/// [`order_totals`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum OrderPaymentState {
    BalanceDue,
    Failed,
    Pending,
    CreditOwed,
    Paid,
}

impl OrderPaymentState {
    /// Every value.
    pub const ALL: [Self; 5] = [
        Self::BalanceDue,
        Self::Failed,
        Self::Pending,
        Self::CreditOwed,
        Self::Paid,
    ];

    /// Parses the commercetools name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The commercetools name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BalanceDue => "BalanceDue",
            Self::Failed => "Failed",
            Self::Pending => "Pending",
            Self::CreditOwed => "CreditOwed",
            Self::Paid => "Paid",
        }
    }
}

/// Where one payment attempt stands, from its Charge and Authorization
/// transactions.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum AttemptStatus {
    /// No Charge or Authorization yet.
    NotStarted,
    /// The latest Charge or Authorization is Initial or Pending, or an
    /// Authorization succeeded and waits for its capture.
    InProgress,
    /// A Charge succeeded.
    Succeeded,
    /// The latest Charge or Authorization failed and no Charge succeeded.
    Failed,
}

impl AttemptStatus {
    /// The outcome word shoppers and mailers are told: `succeeded`,
    /// `failed`, or `pending` while nothing is final.
    pub const fn outcome(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::NotStarted | Self::InProgress => "pending",
        }
    }
}

/// What an order's payments achieved.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OrderTotals {
    /// Successful Charges.
    pub total_paid: Money,
    /// Successful Refunds and Chargebacks.
    pub total_refunded: Money,
    /// `totalPrice − totalPaid + totalRefunded`.
    pub total_outstanding: Money,
    pub payment_state: OrderPaymentState,
}

/// The `paymentState` last recorded for `order`: its last
/// `OrderPaymentStateChanged`, or else the state of the order without
/// payments (`Paid` for a total of zero, `BalanceDue` otherwise), which its
/// `OrderCreated` Message showed.
pub fn announced_payment_state(order: &Order) -> OrderPaymentState {
    order
        .announced_payment_state
        .unwrap_or_else(|| order_totals(order, &[]).payment_state)
}

/// Where a payment attempt stands (see [`AttemptStatus`]).
pub fn attempt_status(payment: &Payment) -> AttemptStatus {
    let charged = payment
        .transactions
        .iter()
        .any(|t| t.kind == TransactionType::Charge && t.state == TransactionState::Success);
    if charged {
        return AttemptStatus::Succeeded;
    }
    let latest = payment.transactions.iter().rev().find(|t| {
        matches!(
            t.kind,
            TransactionType::Charge | TransactionType::Authorization
        )
    });
    match latest.map(|t| t.state) {
        None => AttemptStatus::NotStarted,
        Some(TransactionState::Failure) => AttemptStatus::Failed,
        Some(TransactionState::Initial | TransactionState::Pending | TransactionState::Success) => {
            AttemptStatus::InProgress
        }
    }
}

/// The totals and `paymentState` of `order` given its linked payments
/// (`payments` in link order; a payment of another currency than the
/// order's counts nothing, which linking prevents).
///
/// `Paid` when nothing is outstanding, `CreditOwed` when more was paid than
/// is due, `Pending` while the latest attempt is in progress, `Failed` when
/// the latest attempt failed and nothing was paid, `BalanceDue` otherwise.
pub fn order_totals(order: &Order, payments: &[&Payment]) -> OrderTotals {
    let currency = &order.total_price.currency;
    let mut paid: i64 = 0;
    let mut refunded: i64 = 0;
    for payment in payments {
        for t in &payment.transactions {
            if t.state != TransactionState::Success || &t.amount.currency != currency {
                continue;
            }
            match t.kind {
                TransactionType::Charge => paid = paid.saturating_add(t.amount.cent_amount),
                TransactionType::Refund | TransactionType::Chargeback => {
                    refunded = refunded.saturating_add(t.amount.cent_amount);
                }
                TransactionType::Authorization | TransactionType::CancelAuthorization => {}
            }
        }
    }
    let outstanding = order
        .total_price
        .cent_amount
        .saturating_sub(paid)
        .saturating_add(refunded);
    let latest = payments.last().map(|p| attempt_status(p));
    let payment_state = if outstanding == 0 {
        OrderPaymentState::Paid
    } else if outstanding < 0 {
        OrderPaymentState::CreditOwed
    } else if latest == Some(AttemptStatus::InProgress) {
        OrderPaymentState::Pending
    } else if latest == Some(AttemptStatus::Failed) && paid == 0 {
        OrderPaymentState::Failed
    } else {
        OrderPaymentState::BalanceDue
    };
    let money = |cents| Money::new(cents, currency.clone());
    OrderTotals {
        total_paid: money(paid),
        total_refunded: money(refunded),
        total_outstanding: money(outstanding),
        payment_state,
    }
}

/// Checks an order number: 1 to [`ORDER_NUMBER_BYTES_MAX`] bytes of ASCII
/// letters, digits, `-`, `_` and `.` (it appears in URL paths).
pub fn validate_order_number(order_number: &str) -> Result<(), Rejection> {
    let ok = (1..=ORDER_NUMBER_BYTES_MAX).contains(&order_number.len())
        && order_number
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Rejection::OrderNumberInvalid {
            order_number: order_number.to_owned(),
        })
    }
}

/// Checks a customer email: at most [`CUSTOMER_EMAIL_BYTES_MAX`] bytes, one
/// `@` with text on both sides, no whitespace or control characters.
pub fn validate_customer_email(email: &str) -> Result<(), Rejection> {
    let ok = email.len() <= CUSTOMER_EMAIL_BYTES_MAX
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && email.matches('@').count() == 1
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(Rejection::CustomerEmailInvalid {
            email: email.to_owned(),
        })
    }
}

/// Decides the creation of an order.
pub fn decide_order_create(draft: &OrderDraft) -> Result<OrderEvent, Rejection> {
    validate_order_number(&draft.order_number)?;
    if let Some(key) = &draft.key {
        validate_key(key)?;
    }
    if draft.total_price.cent_amount < 0 {
        return Err(Rejection::TotalPriceNegative {
            cent_amount: draft.total_price.cent_amount,
        });
    }
    if let Some(id) = &draft.customer_id {
        validate_customer_id(id)?;
    }
    if let Some(email) = &draft.customer_email {
        validate_customer_email(email)?;
    }
    Ok(OrderEvent::Created(Box::new(draft.clone())))
}

fn validate_customer_id(id: &str) -> Result<(), Rejection> {
    if id.is_empty() || id.len() > CUSTOMER_ID_BYTES_MAX {
        return Err(Rejection::CustomerIdInvalid {
            max: CUSTOMER_ID_BYTES_MAX,
        });
    }
    Ok(())
}

/// Decides the deletion of an order (with its personal data when
/// `data_erasure`). Its payments stay; they belong to no order afterwards.
pub fn decide_order_delete(order: &Order, data_erasure: bool) -> Result<OrderEvent, Rejection> {
    if order.deleted {
        return Err(Rejection::OrderDeleted { id: order.id });
    }
    Ok(OrderEvent::Deleted { data_erasure })
}

/// Decides the update actions of an order, in order, all or nothing.
/// `payment` looks up a payment of the project that an `addPayment` names
/// (`None` when there is none); that it belongs to no other order is the
/// app layer's check, through its index.
pub fn decide_order_update(
    order: &Order,
    actions: &[OrderAction],
    payment: &dyn Fn(PaymentId) -> Option<Payment>,
) -> Result<Vec<OrderEvent>, Rejection> {
    if actions.len() > ACTIONS_PER_REQUEST_MAX {
        return Err(Rejection::TooManyActions {
            count: actions.len(),
            max: ACTIONS_PER_REQUEST_MAX,
        });
    }
    if order.deleted {
        return Err(Rejection::OrderDeleted { id: order.id });
    }
    let mut working = order.clone();
    let mut events = Vec::new();
    for action in actions {
        if let Some(event) = decide_action(&working, action, payment)? {
            apply(&mut working, &event);
            events.push(event);
        }
    }
    Ok(events)
}

fn decide_action(
    order: &Order,
    action: &OrderAction,
    payment: &dyn Fn(PaymentId) -> Option<Payment>,
) -> Result<Option<OrderEvent>, Rejection> {
    let open = || match order.order_state {
        OrderState::Open => Ok(()),
        OrderState::Cancelled => Err(Rejection::OrderCancelled { id: order.id }),
    };
    Ok(match action {
        OrderAction::AddPayment(id) => {
            open()?;
            if order.payments.contains(id) {
                return Err(Rejection::PaymentAlreadyInOrder {
                    payment: *id,
                    order: Some(order.id),
                });
            }
            if order.payments.len() >= ORDER_PAYMENTS_MAX {
                return Err(Rejection::TooManyOrderPayments {
                    max: ORDER_PAYMENTS_MAX,
                });
            }
            let found = payment(*id)
                .filter(|p| !p.deleted)
                .ok_or(Rejection::PaymentNotFound { id: *id })?;
            let expected = &order.total_price.currency;
            if &found.amount_planned.currency != expected {
                return Err(Rejection::OrderCurrencyMismatch {
                    expected: expected.clone(),
                    actual: found.amount_planned.currency,
                });
            }
            Some(OrderEvent::PaymentAdded(*id))
        }
        OrderAction::RemovePayment(id) => {
            open()?;
            if !order.payments.contains(id) {
                return Err(Rejection::PaymentNotInOrder {
                    payment: *id,
                    order: order.id,
                });
            }
            Some(OrderEvent::PaymentRemoved(*id))
        }
        OrderAction::SetCustomerEmail(email) => {
            if let Some(email) = email {
                validate_customer_email(email)?;
            }
            (order.customer_email != *email).then(|| OrderEvent::CustomerEmailSet(email.clone()))
        }
        OrderAction::SetKey(key) => {
            if let Some(key) = key {
                validate_key(key)?;
            }
            (order.key != *key).then(|| OrderEvent::KeySet(key.clone()))
        }
        OrderAction::Cancel => {
            (order.order_state == OrderState::Open).then_some(OrderEvent::Cancelled)
        }
        OrderAction::RequestPaymentNotification(notification) => {
            if !order.payments.contains(&notification.payment) {
                return Err(Rejection::PaymentNotInOrder {
                    payment: notification.payment,
                    order: order.id,
                });
            }
            Some(OrderEvent::PaymentNotificationRequested(
                notification.clone(),
            ))
        }
        OrderAction::AnnouncePaymentState(now) => {
            let old = announced_payment_state(order);
            (old != *now).then_some(OrderEvent::PaymentStateChanged {
                payment_state: *now,
                old_payment_state: old,
            })
        }
    })
}

/// What an order fold reads of one event.
#[derive(Clone, Copy, Debug)]
pub struct OrderRecorded<'a> {
    pub order_id: OrderId,
    pub version: u64,
    pub meta: &'a EventMeta,
    pub event: &'a OrderEvent,
}

/// Applies one event to the order before it.
///
/// # Panics
/// If the event cannot follow the state (`Created` twice, anything before
/// `Created`, a version gap): a broken stream, not a user error.
pub fn evolve_order(state: Option<Order>, recorded: OrderRecorded<'_>) -> Order {
    let order = match (state, recorded.event) {
        (None, OrderEvent::Created(draft)) => Order {
            id: recorded.order_id,
            version: 1,
            order_number: draft.order_number.clone(),
            key: draft.key.clone(),
            total_price: draft.total_price.clone(),
            customer_id: draft.customer_id.clone(),
            customer_email: draft.customer_email.clone(),
            recurring: draft.recurring,
            payments: Vec::new(),
            order_state: OrderState::Open,
            announced_payment_state: None,
            created_at: recorded.meta.recorded_at,
            last_modified_at: recorded.meta.recorded_at,
            created_by: recorded.meta.actor.clone(),
            last_modified_by: recorded.meta.actor.clone(),
            deleted: false,
        },
        (Some(mut order), event) if !matches!(event, OrderEvent::Created(_)) => {
            apply(&mut order, event);
            order.version += 1;
            order.last_modified_at = recorded.meta.recorded_at;
            order.last_modified_by = recorded.meta.actor.clone();
            order
        }
        (state, event) => panic!(
            "{} cannot apply at v{} (order exists: {})",
            event.kind(),
            recorded.version,
            state.is_some()
        ),
    };
    assert_eq!(order.version, recorded.version, "order stream version gap");
    order
}

/// Applies one stored event of an order's stream to the order before it.
///
/// # Panics
/// As [`evolve_order`], and on an event of another kind of stream.
pub fn evolve_order_envelope(
    state: Option<Order>,
    envelope: &crate::event::EventEnvelope,
) -> Order {
    let (Some(order_id), Event::Order(event)) = (envelope.order_id(), &envelope.event) else {
        panic!("{} holds a non-order event", envelope.stream)
    };
    evolve_order(
        state,
        OrderRecorded {
            order_id,
            version: envelope.version,
            meta: &envelope.meta,
            event,
        },
    )
}

/// Replays an order's stored events (all of one order stream, in version
/// order); `None` for an empty stream.
///
/// # Panics
/// As [`evolve_order_envelope`].
pub fn fold_order(events: &[crate::event::EventEnvelope]) -> Option<Order> {
    events.iter().fold(None, |state, envelope| {
        Some(evolve_order_envelope(state, envelope))
    })
}

fn apply(order: &mut Order, event: &OrderEvent) {
    match event {
        OrderEvent::Created(_) => unreachable!("creation is folded by evolve_order"),
        OrderEvent::PaymentAdded(id) => order.payments.push(*id),
        OrderEvent::PaymentRemoved(id) => order.payments.retain(|p| p != id),
        OrderEvent::CustomerEmailSet(email) => order.customer_email.clone_from(email),
        OrderEvent::KeySet(key) => order.key.clone_from(key),
        OrderEvent::Cancelled => order.order_state = OrderState::Cancelled,
        OrderEvent::PaymentNotificationRequested(_) => {}
        OrderEvent::PaymentStateChanged { payment_state, .. } => {
            order.announced_payment_state = Some(*payment_state);
        }
        OrderEvent::Deleted { .. } => order.deleted = true,
    }
}
