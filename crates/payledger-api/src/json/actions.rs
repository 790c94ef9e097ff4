//! Reading the body of `POST /payments/{id}`: `{version, actions}` with the
//! 30 commercetools payment update actions, each read by its `action` name
//! through one table.
//!
//! Limits: at most [`ACTIONS_PER_REQUEST_MAX`] actions, checked before any
//! action is decoded. A `transactionId` that is not a UUID cannot name a
//! transaction, so it is answered as the domain answers an unknown one
//! (`InvalidOperation`, [`Rejection::TransactionNotFound`]). Errors come in
//! document order: the first bad action decides the answer.

use super::UpdateRequest;
use super::custom::{custom_from_object, parse_customer};
use super::draft::{
    datetime, localized_string, parse_method_info, parse_transaction_draft, state_ref, token,
    transaction_state,
};
use super::field_value_from_json;
use super::money::parse_money;
use super::read::{Obj, Path, array, integer, parse_body};
use crate::ApiError;
use payledger_domain::decide::ACTIONS_PER_REQUEST_MAX;
use payledger_domain::{Rejection, TransactionId, UpdateAction};
use serde_json::Value;

type Result<T> = std::result::Result<T, ApiError>;

/// Decodes the fields of one action (the `action` name already matched).
type ActionParser = fn(&Obj<'_>) -> Result<UpdateAction>;

/// Every update action by its commercetools name.
const ACTIONS: [(&str, ActionParser); 30] = [
    ("addTransaction", add_transaction),
    ("changeTransactionState", change_transaction_state),
    ("changeTransactionTimestamp", change_transaction_timestamp),
    (
        "changeTransactionInteractionId",
        change_transaction_interaction_id,
    ),
    ("setTransactionInterfaceId", set_transaction_interface_id),
    ("setTransactionCustomType", set_transaction_custom_type),
    ("setTransactionCustomField", set_transaction_custom_field),
    ("addInterfaceInteraction", add_interface_interaction),
    ("changeAmountPlanned", change_amount_planned),
    ("setKey", set_key),
    ("setCustomer", set_customer),
    ("setAnonymousId", set_anonymous_id),
    ("setInterfaceId", set_interface_id),
    ("setMethodInfoInterface", set_method_info_interface),
    ("setMethodInfoMethod", set_method_info_method),
    ("setMethodInfoName", set_method_info_name),
    ("setMethodInfoToken", set_method_info_token),
    (
        "setMethodInfoInterfaceAccount",
        set_method_info_interface_account,
    ),
    ("setMethodInfoCustomType", set_method_info_custom_type),
    ("setMethodInfoCustomField", set_method_info_custom_field),
    ("setMethodInfo", set_method_info),
    ("setStatusInterfaceCode", set_status_interface_code),
    ("setStatusInterfaceText", set_status_interface_text),
    ("setCustomType", set_custom_type),
    ("setCustomField", set_custom_field),
    ("transitionState", transition_state),
    ("setAmountPaid", set_amount_paid),
    ("setAmountRefunded", set_amount_refunded),
    ("setAuthorization", set_authorization),
    ("setExternalId", set_external_id),
];

/// Parses an update body `{version, actions}`.
pub fn parse_update(body: &[u8]) -> Result<UpdateRequest> {
    let value = parse_body(body)?;
    let update = Obj::new(&value, Path::root())?;
    let version = update.req("version", version)?;
    let actions = update.req("actions", array)?;
    if actions.len() > ACTIONS_PER_REQUEST_MAX {
        return Err(ApiError::invalid_input(format!(
            "Too many update actions: {}. At most {ACTIONS_PER_REQUEST_MAX} are allowed \
             (actions_per_request_max).",
            actions.len()
        )));
    }
    let actions = actions
        .into_iter()
        .map(|(value, path)| parse_action(value, path))
        .collect::<Result<_>>()?;
    Ok(UpdateRequest { version, actions })
}

/// Parses one update action object; `path` is that of the actions array.
fn parse_action(value: &Value, path: Path) -> Result<UpdateAction> {
    let action = Obj::new(value, path)?;
    let name = action.req_string("action")?;
    match ACTIONS.iter().find(|(known, _)| *known == name) {
        Some((_, parse)) => parse(&action),
        None => Err(action
            .at("action")
            .error(&format!("Unknown action '{name}'."))),
    }
}

fn version(value: &Value, path: Path) -> Result<u64> {
    let version = integer(value, path.clone())?;
    u64::try_from(version)
        .map_err(|_| path.error(&format!("A version is not negative, found {version}.")))
}

/// The `transactionId` of an action. An id that is not a UUID names no
/// transaction: the answer is the domain's for an unknown transaction.
fn transaction_id(action: &Obj<'_>) -> Result<TransactionId> {
    let id = action.req_string("transactionId")?;
    TransactionId::parse(&id)
        .ok_or_else(|| ApiError::from_rejection(&Rejection::TransactionNotFound { id }))
}

fn add_transaction(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::AddTransaction(
        a.req("transaction", parse_transaction_draft)?,
    ))
}

fn change_transaction_state(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::ChangeTransactionState {
        transaction_id: transaction_id(a)?,
        state: a.req("state", transaction_state)?,
    })
}

fn change_transaction_timestamp(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::ChangeTransactionTimestamp {
        transaction_id: transaction_id(a)?,
        timestamp: a.req("timestamp", datetime)?,
    })
}

fn change_transaction_interaction_id(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::ChangeTransactionInteractionId {
        transaction_id: transaction_id(a)?,
        interaction_id: a.req_string("interactionId")?,
    })
}

fn set_transaction_interface_id(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::SetTransactionInterfaceId {
        transaction_id: transaction_id(a)?,
        interface_id: a.opt_string("interfaceId")?,
    })
}

fn set_transaction_custom_type(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::SetTransactionCustomType {
        transaction_id: transaction_id(a)?,
        custom: custom_from_object(a)?,
    })
}

fn set_transaction_custom_field(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::SetTransactionCustomField {
        transaction_id: transaction_id(a)?,
        name: a.req_string("name")?,
        value: a.get("value").and_then(field_value_from_json),
    })
}

fn add_interface_interaction(a: &Obj<'_>) -> Result<UpdateAction> {
    // The action object itself is the CustomFieldsDraft `{type, fields?}`.
    let custom = custom_from_object(a)?.ok_or_else(|| a.at("type").missing())?;
    Ok(UpdateAction::AddInterfaceInteraction(custom))
}

fn change_amount_planned(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::ChangeAmountPlanned(
        a.req("amount", parse_money)?,
    ))
}

fn set_key(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::SetKey(a.opt_string("key")?))
}

fn set_customer(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::SetCustomer(
        a.opt("customer", parse_customer)?,
    ))
}

fn set_anonymous_id(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::SetAnonymousId(a.opt_string("anonymousId")?))
}

fn set_interface_id(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::SetInterfaceId(a.req_string("interfaceId")?))
}

fn set_method_info_interface(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::SetMethodInfoInterface(
        a.req_string("interface")?,
    ))
}

fn set_method_info_method(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::SetMethodInfoMethod(a.opt_string("method")?))
}

fn set_method_info_name(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::SetMethodInfoName(
        a.opt("name", localized_string)?,
    ))
}

fn set_method_info_token(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::SetMethodInfoToken(a.opt("token", token)?))
}

fn set_method_info_interface_account(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::SetMethodInfoInterfaceAccount(
        a.opt_string("interfaceAccount")?,
    ))
}

fn set_method_info_custom_type(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::SetMethodInfoCustomType(custom_from_object(
        a,
    )?))
}

fn set_method_info_custom_field(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::SetMethodInfoCustomField {
        name: a.req_string("name")?,
        value: a.get("value").and_then(field_value_from_json),
    })
}

fn set_method_info(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::SetMethodInfo(parse_method_info(a)?))
}

fn set_status_interface_code(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::SetStatusInterfaceCode(
        a.opt_string("interfaceCode")?,
    ))
}

fn set_status_interface_text(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::SetStatusInterfaceText(
        a.opt_string("interfaceText")?,
    ))
}

fn set_custom_type(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::SetCustomType(custom_from_object(a)?))
}

fn set_custom_field(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::SetCustomField {
        name: a.req_string("name")?,
        value: a.get("value").and_then(field_value_from_json),
    })
}

fn transition_state(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::TransitionState {
        state: a.req("state", state_ref)?,
        force: a.opt_bool("force")?.unwrap_or(false),
    })
}

fn set_amount_paid(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::SetAmountPaid(a.opt("amount", parse_money)?))
}

fn set_amount_refunded(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::SetAmountRefunded(
        a.opt("amount", parse_money)?,
    ))
}

fn set_authorization(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::SetAuthorization {
        amount: a.opt("amount", parse_money)?,
        until: a.opt("until", datetime)?,
    })
}

fn set_external_id(a: &Obj<'_>) -> Result<UpdateAction> {
    Ok(UpdateAction::SetExternalId(a.opt_string("externalId")?))
}
