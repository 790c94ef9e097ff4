//! Which PSP operation a transaction calls for, and which transaction state
//! a PSP status means for it. Both are pure; every PSP status is matched
//! without a catch-all, so a new status is a compile error here.

use payledger_domain::Payment;
use payledger_domain::payment::{FieldValue, Transaction, TransactionState, TransactionType};
use payledger_psp::{IntentStatus, ObjectKind, PaymentIntent, RefundStatus};

/// Custom field (on the payment or its method info) naming the PSP customer.
pub const CUSTOMER_FIELD: &str = "stripeCustomerId";

/// A PSP operation.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Operation {
    /// Authorization: create + confirm with manual capture.
    Authorize,
    /// Charge without an authorization: create + confirm, automatic capture.
    Charge,
    /// Charge of an authorized PaymentIntent.
    Capture,
    Refund,
    /// CancelAuthorization.
    Cancel,
}

impl Operation {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Authorize => "authorize",
            Self::Charge => "charge",
            Self::Capture => "capture",
            Self::Refund => "refund",
            Self::Cancel => "cancel",
        }
    }
}

/// What to do with a transaction.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Decision {
    /// Call the PSP. `target` is the PaymentIntent to capture or cancel, or
    /// the interface id of the charged transaction to refund.
    Execute {
        operation: Operation,
        target: Option<String>,
    },
    /// Another transaction must settle first (e.g. a Charge waits for its
    /// Pending Authorization).
    Wait,
    /// The transaction cannot be executed; it fails with this reason.
    Reject(&'static str),
    /// Not payledger's to execute (Chargeback).
    Skip,
}

fn latest<'a>(
    payment: &'a Payment,
    kind: TransactionType,
    states: &[TransactionState],
) -> Option<&'a Transaction> {
    payment
        .transactions
        .iter()
        .rev()
        .find(|t| t.kind == kind && states.contains(&t.state))
        .map(|t| &**t)
}

/// Why a capture larger than its authorization is not sent to the PSP.
pub const CHARGE_ABOVE_AUTHORIZED: &str =
    "the Charge is larger than the amount authorized; nothing was sent to the PSP";
/// Why a refund larger than what is left to refund is not sent to the PSP.
pub const REFUND_ABOVE_REFUNDABLE: &str = "the Refund is larger than what is left to refund (successful Charges minus Refunds done or under way); nothing was sent to the PSP";

/// Why a Charge after a cancelled authorization is not sent to the PSP.
pub const CHARGE_AFTER_CANCELLED_AUTHORIZATION: &str = "the authorization was cancelled (by a CancelAuthorization, or at the PSP on its own); nothing was sent to the PSP";

/// What the `interactionId` of a transaction payledger records because the
/// PSP did it on its own (not asked by payledger) starts with; the PSP
/// object's id follows. See [`psp_initiated_interaction_id`].
pub const PSP_INITIATED_PREFIX: &str = "psp-initiated:";

/// The `interactionId` that marks a transaction as PSP-initiated, for the
/// PSP object `object_id` it reflects (`psp-initiated:pi_…`). One PSP
/// object gives at most one such transaction.
pub fn psp_initiated_interaction_id(object_id: &str) -> String {
    format!("{PSP_INITIATED_PREFIX}{object_id}")
}

/// Whether a transaction is one payledger recorded because the PSP did it
/// on its own.
pub fn is_psp_initiated(txn: &Transaction) -> bool {
    (txn.interaction_id.as_deref()).is_some_and(|id| id.starts_with(PSP_INITIATED_PREFIX))
}

/// The latest successful Authorization and its place in the payment.
fn latest_authorized(payment: &Payment) -> Option<(usize, &Transaction)> {
    (payment.transactions.iter().enumerate().rev())
        .find(|(_, t)| {
            t.kind == TransactionType::Authorization && t.state == TransactionState::Success
        })
        .map(|(index, t)| (index, &**t))
}

/// Whether the latest successful Authorization was cancelled: a
/// successful CancelAuthorization follows it.
pub fn authorization_cancelled(payment: &Payment) -> bool {
    latest_authorized(payment).is_some_and(|(at, _)| {
        payment.transactions.iter().skip(at + 1).any(|t| {
            t.kind == TransactionType::CancelAuthorization && t.state == TransactionState::Success
        })
    })
}

/// The successful Authorization a refresh asks the PSP about, with its
/// PaymentIntent, to learn whether the PSP cancelled it on its own
/// (dashboard, expiry): the latest one, when its interface id is a
/// PaymentIntent and it is neither captured (a successful Charge follows
/// it), nor cancelled (a CancelAuthorization that did not fail follows
/// it), nor being cancelled (a CancelAuthorization is Initial or
/// Pending), nor recorded as cancelled by the PSP already.
pub fn authorization_to_reconcile(
    payment: &Payment,
    kind_of: impl Fn(&str) -> ObjectKind,
) -> Option<(&Transaction, &str)> {
    use TransactionState::{Failure, Initial, Pending, Success};
    let (at, authorization) = latest_authorized(payment)?;
    let intent = (authorization.interface_id.as_deref())
        .filter(|id| kind_of(id) == ObjectKind::PaymentIntent)?;
    let settled = payment
        .transactions
        .iter()
        .skip(at + 1)
        .any(|t| match t.kind {
            TransactionType::Charge => t.state == Success,
            TransactionType::CancelAuthorization => t.state != Failure,
            TransactionType::Authorization
            | TransactionType::Refund
            | TransactionType::Chargeback => false,
        });
    let cancelling = (payment.transactions.iter()).any(|t| {
        t.kind == TransactionType::CancelAuthorization && matches!(t.state, Initial | Pending)
    });
    let marker = psp_initiated_interaction_id(intent);
    let recorded =
        (payment.transactions.iter()).any(|t| t.interaction_id.as_deref() == Some(marker.as_str()));
    (!settled && !cancelling && !recorded).then_some((authorization, intent))
}

/// The amount of the latest successful Authorization (what a capture may
/// take), in minor units.
fn authorized_amount(payment: &Payment) -> i64 {
    latest(
        payment,
        TransactionType::Authorization,
        &[TransactionState::Success],
    )
    .map_or(0, |t| t.amount.cent_amount)
}

/// What is left to refund before `refund`: successful Charges minus the
/// other Refunds that succeeded or are under way, in minor units.
fn refundable(payment: &Payment, refund: &Transaction) -> i64 {
    use TransactionState::{Pending, Success};
    let sum = |kind: TransactionType, states: &[TransactionState]| -> i64 {
        (payment.transactions.iter())
            .filter(|t| t.kind == kind && t.id != refund.id && states.contains(&t.state))
            .map(|t| t.amount.cent_amount)
            .sum()
    };
    sum(TransactionType::Charge, &[Success]) - sum(TransactionType::Refund, &[Success, Pending])
}

/// The operation a transaction calls for, given the rest of the payment.
/// `kind_of` tells what a PSP interface id names.
pub fn decide(
    payment: &Payment,
    txn: &Transaction,
    kind_of: impl Fn(&str) -> ObjectKind,
) -> Decision {
    use TransactionState::{Initial, Pending, Success};
    let execute = |operation, target: Option<&String>| Decision::Execute {
        operation,
        target: target.cloned(),
    };
    let authorized = latest(payment, TransactionType::Authorization, &[Success])
        .and_then(|t| t.interface_id.as_ref());
    let authorizing = latest(payment, TransactionType::Authorization, &[Initial, Pending]);
    match txn.kind {
        TransactionType::Authorization => execute(Operation::Authorize, None),
        TransactionType::Charge => match (authorized, authorizing) {
            // A new authorization is under way: the Charge captures that one.
            (Some(_), Some(_)) if authorization_cancelled(payment) => Decision::Wait,
            (Some(_), None) if authorization_cancelled(payment) => {
                Decision::Reject(CHARGE_AFTER_CANCELLED_AUTHORIZATION)
            }
            (Some(_), _) if txn.amount.cent_amount > authorized_amount(payment) => {
                Decision::Reject(CHARGE_ABOVE_AUTHORIZED)
            }
            (Some(intent), _) => execute(Operation::Capture, Some(intent)),
            (None, Some(_)) => Decision::Wait,
            (None, None) => execute(Operation::Charge, None),
        },
        TransactionType::Refund => {
            let charged = latest(payment, TransactionType::Charge, &[Success])
                .and_then(|t| t.interface_id.as_ref());
            let charging = latest(payment, TransactionType::Charge, &[Initial, Pending]);
            match (charged, charging) {
                (Some(_), _) if txn.amount.cent_amount > refundable(payment, txn) => {
                    Decision::Reject(REFUND_ABOVE_REFUNDABLE)
                }
                (Some(charged), _) => execute(Operation::Refund, Some(charged)),
                (None, Some(_)) => Decision::Wait,
                (None, None) => Decision::Reject("nothing was charged at the PSP to refund"),
            }
        }
        TransactionType::CancelAuthorization => {
            let pending = authorizing
                .and_then(|t| t.interface_id.as_ref())
                .filter(|id| kind_of(id) == ObjectKind::PaymentIntent);
            match (authorized, pending, authorizing) {
                (Some(intent), _, _) | (None, Some(intent), _) => {
                    execute(Operation::Cancel, Some(intent))
                }
                (None, None, Some(_)) => Decision::Wait,
                (None, None, None) => Decision::Reject("no authorization to cancel"),
            }
        }
        TransactionType::Chargeback => Decision::Skip,
    }
}

/// The operation a Pending transaction with an interface id was executed
/// with, for a refresh: a Charge whose interface id is a charge (not a
/// PaymentIntent) was a capture.
pub fn executed_operation(
    txn: &Transaction,
    interface_id: &str,
    kind_of: impl Fn(&str) -> ObjectKind,
) -> Option<Operation> {
    match txn.kind {
        TransactionType::Authorization => Some(Operation::Authorize),
        TransactionType::Charge => match kind_of(interface_id) {
            ObjectKind::PaymentIntent => Some(Operation::Charge),
            ObjectKind::Charge => Some(Operation::Capture),
            ObjectKind::Refund | ObjectKind::Other => None,
        },
        TransactionType::Refund => Some(Operation::Refund),
        TransactionType::CancelAuthorization => Some(Operation::Cancel),
        TransactionType::Chargeback => None,
    }
}

/// Whether a PaymentIntent of an authorization or charge waits for its
/// customer to supply a payment method: created without one and never
/// attempted (no payment error). Such an intent is Pending, not failed,
/// although its status is `requires_payment_method`.
pub fn awaits_customer(operation: Operation, intent: &PaymentIntent) -> bool {
    matches!(operation, Operation::Authorize | Operation::Charge)
        && intent.status == IntentStatus::RequiresPaymentMethod
        && intent.last_payment_error.is_none()
}

/// The transaction state a PaymentIntent status means for an operation.
pub fn intent_state(operation: Operation, status: IntentStatus) -> TransactionState {
    use IntentStatus as S;
    use TransactionState::{Failure, Pending, Success};
    match operation {
        Operation::Authorize => match status {
            S::RequiresCapture | S::Succeeded => Success,
            S::RequiresPaymentMethod | S::Canceled => Failure,
            S::RequiresConfirmation | S::RequiresAction | S::Processing => Pending,
        },
        Operation::Charge | Operation::Capture => match status {
            S::Succeeded => Success,
            S::RequiresPaymentMethod | S::Canceled => Failure,
            S::RequiresConfirmation | S::RequiresAction | S::Processing | S::RequiresCapture => {
                Pending
            }
        },
        Operation::Cancel => match status {
            S::Canceled => Success,
            // Captured: there is nothing left to cancel.
            S::Succeeded => Failure,
            S::RequiresPaymentMethod
            | S::RequiresConfirmation
            | S::RequiresAction
            | S::Processing
            | S::RequiresCapture => Pending,
        },
        // A refund's state comes from the refund, not the intent.
        Operation::Refund => Pending,
    }
}

/// The transaction state a refund status means.
pub fn refund_state(status: RefundStatus) -> TransactionState {
    match status {
        RefundStatus::Succeeded => TransactionState::Success,
        RefundStatus::Pending | RefundStatus::RequiresAction => TransactionState::Pending,
        RefundStatus::Failed | RefundStatus::Canceled => TransactionState::Failure,
    }
}

/// The state a transaction moves to: a final state never changes.
pub fn next_state(current: TransactionState, observed: TransactionState) -> TransactionState {
    if current.is_final() {
        current
    } else {
        observed
    }
}

/// The PSP customer named by the payment's custom fields, if any.
pub fn customer(payment: &Payment) -> Option<String> {
    [
        payment.custom.as_ref(),
        payment.payment_method_info.custom.as_ref(),
    ]
    .into_iter()
    .flatten()
    .find_map(|custom| match custom.fields.get(CUSTOMER_FIELD) {
        Some(FieldValue::String(id)) if !id.is_empty() => Some(id.clone()),
        _ => None,
    })
}

/// The PSP payment method types the payment's `method` names.
pub fn payment_method_types(payment: &Payment) -> Vec<String> {
    let method = payment
        .payment_method_info
        .method
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match method.as_str() {
        "card" | "creditcard" | "credit_card" => vec!["card".into()],
        "sepa_debit" | "sepa" | "sepadebit" => vec!["sepa_debit".into()],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
