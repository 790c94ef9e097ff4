//! Payment method info rules: the payment interface is set once, and
//! `setMethodInfo` changes only the fields it names.
//!
//! **Decision (API.md):** in `setMethodInfo` each given field behaves as its
//! single action (so a different `paymentInterface` once one is set is
//! refused) and omitted fields stay. Its event carries only the fields that
//! actually change; if none does, there is no event.

use super::custom;
use crate::catalog::Catalog;
use crate::command::MethodInfoInput;
use crate::event::{Event, MethodInfoUpdate};
use crate::payment::PaymentMethodInfo;
use crate::rejection::Rejection;
use crate::types::CustomResource;

/// The new payment interface, `None` if it is already `name`; refused if
/// it is already set to something else.
pub(super) fn interface_change(
    info: &PaymentMethodInfo,
    name: &str,
) -> Result<Option<String>, Rejection> {
    match &info.payment_interface {
        None => Ok(Some(name.to_owned())),
        Some(current) if current == name => Ok(None),
        Some(current) => Err(Rejection::MethodInfoInterfaceAlreadySet {
            current: current.clone(),
        }),
    }
}

/// `setMethodInfo`.
pub(super) fn set_all(
    info: &PaymentMethodInfo,
    input: &MethodInfoInput,
    catalog: &dyn Catalog,
) -> Result<Option<Event>, Rejection> {
    let payment_interface = match &input.payment_interface {
        Some(name) => interface_change(info, name)?,
        None => None,
    };
    let resource = CustomResource::PaymentMethodInfo;
    let custom = custom::resolve_optional(input.custom.as_ref(), resource, catalog)?
        .filter(|custom| info.custom.as_ref() != Some(custom));
    let update = MethodInfoUpdate {
        payment_interface,
        method: changed(&info.method, &input.method),
        name: changed(&info.name, &input.name),
        token: changed(&info.token, &input.token),
        interface_account: changed(&info.interface_account, &input.interface_account),
        custom,
    };
    let unchanged = update == MethodInfoUpdate::default();
    Ok((!unchanged).then_some(Event::MethodInfoSet(update)))
}

/// Method info of a new payment.
pub(super) fn from_input(
    input: &MethodInfoInput,
    catalog: &dyn Catalog,
) -> Result<PaymentMethodInfo, Rejection> {
    let resource = CustomResource::PaymentMethodInfo;
    Ok(PaymentMethodInfo {
        payment_interface: input.payment_interface.clone(),
        method: input.method.clone(),
        name: input.name.clone(),
        token: input.token.clone(),
        interface_account: input.interface_account.clone(),
        custom: custom::resolve_optional(input.custom.as_ref(), resource, catalog)?,
    })
}

/// The given value if it differs from the current one.
fn changed<T: PartialEq + Clone>(current: &Option<T>, given: &Option<T>) -> Option<T> {
    given
        .as_ref()
        .filter(|g| current.as_ref() != Some(*g))
        .cloned()
}
