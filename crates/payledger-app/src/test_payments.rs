//! Payments for this crate's tests: every field a test does not look at
//! filled in once (a live 100.00 EUR payment at version 1, no key, no
//! interactions), so a test names only what it is about, with struct
//! update syntax.

use payledger_domain::payment::{PaymentMethodInfo, PaymentStatus, TransactionList};
use payledger_domain::{Actor, CurrencyCode, Money, Payment, PaymentId, Timestamp};

/// Payment `id` holding `transactions`.
pub(crate) fn payment(id: [u8; 16], transactions: TransactionList) -> Payment {
    Payment {
        id: PaymentId::from_bytes(id),
        version: 1,
        key: None,
        customer_id: None,
        anonymous_id: None,
        interface_id: None,
        external_id: None,
        amount_planned: Money::new(10_000, CurrencyCode::parse("EUR").expect("EUR")),
        amount_authorized: None,
        authorized_until: None,
        amount_paid: None,
        amount_refunded: None,
        payment_method_info: PaymentMethodInfo::default(),
        payment_status: PaymentStatus::default(),
        transactions,
        interface_interactions: Vec::new(),
        custom: None,
        created_at: Timestamp(1_000),
        last_modified_at: Timestamp(1_000),
        created_by: Actor::Client("shop".into()),
        last_modified_by: Actor::Client("shop".into()),
        deleted: false,
    }
}
