//! When an order may get a new payment attempt, and which attempt its
//! outstanding balance may be collected from (seeds `000_…` *retry
//! payment* and `002_…` *collect payment*). Pure: the caller passes the
//! time.
//!
//! Retry: an order that owes something gets a new attempt at once when it
//! has none yet, when its latest attempt failed or never got a Charge, or
//! when the latest one succeeded and left a balance. An attempt still in progress blocks a
//! retry until it was requested `retry_after_ms` ago; it is then *expired*
//! (cancelled at the PSP, its transaction failed) before the new one is
//! made.
//!
//! Collect: the balance is charged off-session with the saved payment
//! method of the order's latest attempt that saved one for
//! merchant-initiated use.

use super::{AttemptStatus, Order, OrderState, OrderTotals, attempt_status};
use crate::payment::{Payment, Timestamp};
use crate::rejection::Rejection;

/// What a retry must do before the new attempt exists.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RetryPlan {
    /// Nothing: make the new attempt.
    NewAttempt,
    /// Expire the latest attempt (cancel it at the PSP, fail its
    /// transaction), then make the new attempt.
    ExpireLatest,
}

/// Whether `order` may get a new attempt at `now`. `latest` is the view of
/// its latest linked payment (none when it has none). An attempt counts as
/// requested when its payment was created.
pub fn decide_retry(
    order: &Order,
    totals: &OrderTotals,
    latest: Option<&Payment>,
    now: Timestamp,
    retry_after_ms: i64,
) -> Result<RetryPlan, Rejection> {
    owes_something(order, totals)?;
    let Some(latest) = latest else {
        return Ok(RetryPlan::NewAttempt);
    };
    match attempt_status(latest) {
        // An attempt that never got a Charge never reached the PSP.
        AttemptStatus::NotStarted | AttemptStatus::Failed | AttemptStatus::Succeeded => {
            Ok(RetryPlan::NewAttempt)
        }
        AttemptStatus::InProgress => {
            let allowed_from = Timestamp(latest.created_at.0.saturating_add(retry_after_ms));
            if now.0 >= allowed_from.0 {
                Ok(RetryPlan::ExpireLatest)
            } else {
                Err(Rejection::RetryNotYetAllowed {
                    attempt: latest.id,
                    allowed_from,
                    wait_ms: allowed_from.0 - now.0,
                })
            }
        }
    }
}

/// The attempt whose saved method collects the balance of `order`: the
/// latest of `attempts` (oldest first) that saved its method for
/// merchant-initiated use, as `reusable` tells. Refused when nothing is
/// owed, when the order is cancelled, when an attempt is still in
/// progress, or when no attempt saved a reusable method.
pub fn decide_collect<'a>(
    order: &Order,
    totals: &OrderTotals,
    attempts: &[&'a Payment],
    reusable: impl Fn(&Payment) -> bool,
) -> Result<&'a Payment, Rejection> {
    owes_something(order, totals)?;
    if let Some(busy) = attempts
        .iter()
        .find(|p| attempt_status(p) == AttemptStatus::InProgress)
    {
        return Err(Rejection::AttemptInProgress { attempt: busy.id });
    }
    attempts
        .iter()
        .rev()
        .find(|p| reusable(p))
        .copied()
        .ok_or(Rejection::NoReusablePaymentMethod { order: order.id })
}

/// Refuses an order that is cancelled or owes nothing.
fn owes_something(order: &Order, totals: &OrderTotals) -> Result<(), Rejection> {
    if order.order_state == OrderState::Cancelled {
        return Err(Rejection::OrderCancelled { id: order.id });
    }
    if totals.total_outstanding.cent_amount <= 0 {
        return Err(Rejection::NothingOutstanding {
            order: order.id,
            payment_state: totals.payment_state.as_str(),
        });
    }
    Ok(())
}
