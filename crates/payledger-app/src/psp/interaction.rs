//! Interface interactions: what payledger asked a PSP and what it answered,
//! recorded on the payment with a built-in Type.
//!
//! The Type (key [`INTERACTION_TYPE_KEY`], resource
//! `payment-interface-interaction`, every field an optional String) is
//! created in a project the first time payledger records an interaction
//! there. Interactions carry statuses, ids, codes and messages; never card
//! data, never API keys. A 3-D Secure `clientSecret` is recorded because
//! the storefront needs it to finish authentication.

use crate::catalog::{
    self, CatalogError, CatalogMeta, CatalogRejection, FieldDefinitionRecord, FieldTypeRecord,
    TypeDraft, TypeRecord,
};
use payledger_domain::command::CustomFieldsInput;
use payledger_domain::payment::{CustomFields, FieldValue};
use payledger_domain::types::CustomResource;
use payledger_domain::{ProjectKey, ResourceRef, TransactionId, UpdateAction};
use payledger_store::EventStore;
use std::collections::BTreeMap;

/// The key of the built-in interaction Type.
pub const INTERACTION_TYPE_KEY: &str = "payledger-psp-interaction";

/// Longest recorded field value, in bytes (PSP messages are cut).
pub const INTERACTION_VALUE_BYTES_MAX: usize = 512;

/// The fields of the interaction Type.
pub const FIELDS: [&str; 16] = [
    "psp",
    "source",
    "operation",
    "phase",
    "transactionId",
    "interfaceId",
    "status",
    "code",
    "declineCode",
    "message",
    "clientSecret",
    "idempotencyKey",
    "amount",
    "attempt",
    "eventId",
    "eventType",
];

/// Who recorded an interaction.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Source {
    Executor,
    Webhook,
    Refresh,
    /// The shopper, on the hosted payment page.
    PaymentPage,
}

impl Source {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Executor => "executor",
            Self::Webhook => "webhook",
            Self::Refresh => "refresh",
            Self::PaymentPage => "payment-page",
        }
    }
}

/// The step of an operation an interaction records.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Phase {
    /// Sent to the PSP (recorded before the call: a claim).
    Request,
    /// The PSP's answer.
    Response,
    /// The call failed; the outcome may be unknown.
    Error,
    /// A notification from the PSP.
    Notification,
    /// Something the PSP did on its own, found by reading its object
    /// (an authorization cancelled at the dashboard or expired).
    Reconciliation,
}

impl Phase {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Response => "response",
            Self::Error => "error",
            Self::Notification => "notification",
            Self::Reconciliation => "reconciliation",
        }
    }
}

/// One interaction being built.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Interaction {
    fields: BTreeMap<String, FieldValue>,
}

impl Interaction {
    pub fn new(psp: &str, source: Source, phase: Phase) -> Self {
        let mut interaction = Self {
            fields: BTreeMap::new(),
        };
        interaction
            .set("psp", psp)
            .set("source", source.as_str())
            .set("phase", phase.as_str());
        interaction
    }

    /// Sets a field (one of [`FIELDS`]); long values are cut.
    pub fn set(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        debug_assert!(FIELDS.contains(&name), "unknown interaction field {name}");
        let mut value: String = value.into();
        if value.len() > INTERACTION_VALUE_BYTES_MAX {
            let mut end = INTERACTION_VALUE_BYTES_MAX;
            while !value.is_char_boundary(end) {
                end -= 1;
            }
            value.truncate(end);
        }
        self.fields
            .insert(name.to_owned(), FieldValue::String(value));
        self
    }

    /// A text field set so far.
    pub fn get(&self, name: &str) -> Option<&str> {
        match self.fields.get(name) {
            Some(FieldValue::String(text)) => Some(text),
            _ => None,
        }
    }

    /// Sets a field when there is a value.
    pub fn set_some(&mut self, name: &str, value: Option<impl Into<String>>) -> &mut Self {
        if let Some(value) = value {
            self.set(name, value);
        }
        self
    }

    /// The `addInterfaceInteraction` action with the Type `type_id`.
    pub fn action(&self, type_id: &str) -> UpdateAction {
        UpdateAction::AddInterfaceInteraction(CustomFieldsInput {
            type_ref: ResourceRef::Id(type_id.to_owned()),
            fields: self.fields.clone(),
        })
    }
}

/// A text field of a recorded interaction.
pub fn field<'a>(fields: &'a CustomFields, name: &str) -> Option<&'a str> {
    match fields.fields.get(name) {
        Some(FieldValue::String(value)) => Some(value),
        _ => None,
    }
}

/// Whether `interactions` hold the executor's request for transaction `id`
/// (recorded with the Type `type_id`): the executor claimed it.
pub fn claimed(interactions: &[CustomFields], type_id: &str, id: TransactionId) -> bool {
    let id = id.to_string();
    interactions.iter().any(|i| {
        i.type_id == type_id
            && field(i, "source") == Some(Source::Executor.as_str())
            && field(i, "phase") == Some(Phase::Request.as_str())
            && field(i, "transactionId") == Some(id.as_str())
    })
}

/// The id of the interaction Type of `project`, created if missing.
pub fn ensure_type(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    now_ms: i64,
) -> Result<String, CatalogError> {
    let by_key = ResourceRef::Key(INTERACTION_TYPE_KEY.to_owned());
    match catalog::get::<TypeRecord>(store, project, &by_key) {
        Ok(record) => return Ok(record.id),
        Err(CatalogError::NotFound(_)) => {}
        Err(other) => return Err(other),
    }
    let label = |text: &str| BTreeMap::from([("en".to_owned(), text.to_owned())]);
    let draft = TypeDraft {
        key: INTERACTION_TYPE_KEY.to_owned(),
        name: label("payledger PSP interaction"),
        description: Some(label(
            "Requests to and answers from a PSP, recorded by payledger.",
        )),
        resource_type_ids: vec![
            CustomResource::PaymentInterfaceInteraction
                .resource_type_id()
                .to_owned(),
        ],
        field_definitions: FIELDS
            .iter()
            .map(|name| FieldDefinitionRecord {
                name: (*name).to_owned(),
                label: label(name),
                required: false,
                field_type: FieldTypeRecord::String,
                input_hint: None,
            })
            .collect(),
    };
    let meta = CatalogMeta {
        now_ms,
        client_id: None,
        answer: None,
    };
    match catalog::create_type(store, project, draft, &meta) {
        Ok(record) => Ok(record.id),
        // Created concurrently: use the winner's.
        Err(CatalogError::Rejected(CatalogRejection::DuplicateKey { .. })) => {
            catalog::get::<TypeRecord>(store, project, &by_key).map(|r| r.id)
        }
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use payledger_store::memory::MemoryStore;

    #[test]
    fn the_type_is_created_once_and_claims_are_found() {
        let store = MemoryStore::new();
        let project = ProjectKey::parse("shop").unwrap();
        let id = ensure_type(&store, &project, 0).unwrap();
        assert_eq!(ensure_type(&store, &project, 1).unwrap(), id);

        let txn = TransactionId::from_bytes([1; 16]);
        let mut request = Interaction::new("stripe", Source::Executor, Phase::Request);
        request.set("transactionId", txn.to_string());
        let UpdateAction::AddInterfaceInteraction(input) = request.action(&id) else {
            panic!("not an interaction");
        };
        let recorded = CustomFields {
            type_id: id.clone(),
            fields: input.fields,
        };
        assert!(claimed(std::slice::from_ref(&recorded), &id, txn));
        assert!(!claimed(std::slice::from_ref(&recorded), "other", txn));
        let other = TransactionId::from_bytes([2; 16]);
        assert!(!claimed(&[recorded], &id, other));
    }

    #[test]
    fn long_values_are_cut_on_a_character_boundary() {
        let mut interaction = Interaction::new("stripe", Source::Refresh, Phase::Response);
        interaction.set("message", "é".repeat(INTERACTION_VALUE_BYTES_MAX));
        let FieldValue::String(message) = &interaction.fields["message"] else {
            panic!("not text");
        };
        assert!(message.len() <= INTERACTION_VALUE_BYTES_MAX);
    }
}
