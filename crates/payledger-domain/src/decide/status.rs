//! Payment status rules: the interface text, and the PaymentState workflow
//! of `transitionState`.
//!
//! A payment without a state may only enter an initial state; a state with
//! `transitions` may only move to a listed one; `force` skips both checks
//! but never the rule that the target is a `PaymentState`. Moving to the
//! current state is a no-op. **Decision:** a draft's state must be a
//! `PaymentState` but need not be initial (imports start mid-workflow), and
//! a current state missing from the catalog restricts nothing.

use crate::catalog::Catalog;
use crate::command::{PaymentStatusInput, ResourceRef};
use crate::event::Event;
use crate::payment::PaymentStatus;
use crate::rejection::Rejection;
use crate::types::{StateDefinition, StateType};

/// `setStatusInterfaceText`: `None` and `""` both remove the text.
pub(super) fn set_interface_text(status: &PaymentStatus, text: &Option<String>) -> Option<Event> {
    let target = text.clone().filter(|t| !t.is_empty());
    (status.interface_text != target).then_some(Event::StatusInterfaceTextSet(target))
}

/// `transitionState`.
pub(super) fn transition(
    status: &PaymentStatus,
    by: &ResourceRef,
    force: bool,
    catalog: &dyn Catalog,
) -> Result<Option<Event>, Rejection> {
    let target = payment_state(by, catalog)?;
    let current = status.state_id.as_deref();
    if current == Some(target.id.as_str()) {
        return Ok(None);
    }
    if !force {
        ensure_allowed(current, &target, catalog)?;
    }
    Ok(Some(Event::StateTransitioned {
        state_id: target.id,
        force,
    }))
}

/// Payment status of a new payment.
pub(super) fn from_input(
    input: &PaymentStatusInput,
    catalog: &dyn Catalog,
) -> Result<PaymentStatus, Rejection> {
    let state_id = match &input.state {
        Some(by) => Some(payment_state(by, catalog)?.id),
        None => None,
    };
    Ok(PaymentStatus {
        interface_code: input.interface_code.clone(),
        interface_text: input.interface_text.clone(),
        state_id,
    })
}

/// Resolves a State and checks it is a `PaymentState`.
fn payment_state(by: &ResourceRef, catalog: &dyn Catalog) -> Result<StateDefinition, Rejection> {
    let state = catalog
        .state_by_ref(by)
        .ok_or_else(|| Rejection::StateNotFound { by: by.clone() })?;
    if state.state_type == StateType::PaymentState {
        Ok(state)
    } else {
        Err(Rejection::StateNotPaymentState {
            key: state.key,
            state_type: state.state_type,
        })
    }
}

fn ensure_allowed(
    current: Option<&str>,
    target: &StateDefinition,
    catalog: &dyn Catalog,
) -> Result<(), Rejection> {
    let Some(current_id) = current else {
        return if target.initial {
            Ok(())
        } else {
            Err(Rejection::StateNotInitial {
                key: target.key.clone(),
            })
        };
    };
    match catalog.state_by_id(current_id) {
        Some(from) if !from.allows_transition_to(&target.id) => {
            Err(Rejection::TransitionNotAllowed {
                from: from.key,
                to: target.key.clone(),
            })
        }
        Some(_) | None => Ok(()),
    }
}
