//! Inputs of the catalog use cases: who writes and when, drafts and
//! update actions.

use super::*;

/// Who changes the catalog, and when.
#[derive(Clone, Debug)]
pub struct CatalogMeta {
    /// Milliseconds since the Unix epoch.
    pub now_ms: i64,
    /// The API client, for `createdBy` / `lastModifiedBy`.
    pub client_id: Option<String>,
    /// The answer to record with the change (a request with an
    /// `Idempotency-Key`).
    pub answer: Option<Answer>,
}

impl CatalogMeta {
    /// `now_ms` as stored in `createdAt` / `lastModifiedAt`.
    pub(crate) fn now_text(&self) -> String {
        format_timestamp(Timestamp(self.now_ms))
    }

    pub(crate) fn modified_by(&self) -> Option<ModifiedBy> {
        self.client_id.as_ref().map(|client_id| ModifiedBy {
            client_id: client_id.clone(),
            is_platform_client: false,
        })
    }
}

/// A `TypeDraft`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TypeDraft {
    pub key: String,
    pub name: LocalizedString,
    pub description: Option<LocalizedString>,
    pub resource_type_ids: Vec<String>,
    pub field_definitions: Vec<FieldDefinitionRecord>,
}

/// An update action on a Type.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum TypeAction {
    ChangeName(LocalizedString),
    /// `None` removes the description.
    SetDescription(Option<LocalizedString>),
    AddFieldDefinition(FieldDefinitionRecord),
    RemoveFieldDefinition {
        field_name: String,
    },
    /// `changeLabel` of a field definition.
    ChangeLabel {
        field_name: String,
        label: LocalizedString,
    },
    ChangeKey(String),
}

/// A `StateDraft`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StateDraft {
    pub key: String,
    pub state_type: StateType,
    pub name: Option<LocalizedString>,
    pub description: Option<LocalizedString>,
    /// commercetools defaults this to `true`.
    pub initial: bool,
    pub roles: Vec<StateRole>,
    /// `None` allows every transition; `Some([])` makes the State final.
    pub transitions: Option<Vec<ResourceRef>>,
}

/// An update action on a State.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum StateAction {
    /// `None` removes the name.
    SetName(Option<LocalizedString>),
    /// `None` removes the description.
    SetDescription(Option<LocalizedString>),
    ChangeInitial(bool),
    /// `None` allows every transition again.
    SetTransitions(Option<Vec<ResourceRef>>),
    ChangeKey(String),
}
