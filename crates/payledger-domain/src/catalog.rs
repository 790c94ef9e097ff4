//! Read-only lookups of custom field Types and States while deciding.
//!
//! The app layer implements [`Catalog`] over its Type and State resources;
//! [`InMemoryCatalog`] is a plain implementation for tests and simulations.
//! Lookups return owned values so an implementation may read them from a
//! cache or a snapshot without lending out its locks.

use crate::command::ResourceRef;
use crate::types::{StateDefinition, TypeDefinition};

/// Where the rules look up Types and States of the payment's project.
pub trait Catalog {
    fn type_by_id(&self, id: &str) -> Option<TypeDefinition>;
    fn type_by_key(&self, key: &str) -> Option<TypeDefinition>;
    fn state_by_id(&self, id: &str) -> Option<StateDefinition>;
    fn state_by_key(&self, key: &str) -> Option<StateDefinition>;

    /// Resolves a Type reference by id or by key.
    fn type_by_ref(&self, by: &ResourceRef) -> Option<TypeDefinition> {
        match by {
            ResourceRef::Id(id) => self.type_by_id(id),
            ResourceRef::Key(key) => self.type_by_key(key),
        }
    }

    /// Resolves a State reference by id or by key.
    fn state_by_ref(&self, by: &ResourceRef) -> Option<StateDefinition> {
        match by {
            ResourceRef::Id(id) => self.state_by_id(id),
            ResourceRef::Key(key) => self.state_by_key(key),
        }
    }
}

/// A catalog held in two vectors; lookups scan them.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct InMemoryCatalog {
    pub types: Vec<TypeDefinition>,
    pub states: Vec<StateDefinition>,
}

impl InMemoryCatalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a Type.
    pub fn with_type(mut self, definition: TypeDefinition) -> Self {
        self.types.push(definition);
        self
    }

    /// Adds a State.
    pub fn with_state(mut self, definition: StateDefinition) -> Self {
        self.states.push(definition);
        self
    }
}

impl Catalog for InMemoryCatalog {
    fn type_by_id(&self, id: &str) -> Option<TypeDefinition> {
        self.types.iter().find(|t| t.id == id).cloned()
    }

    fn type_by_key(&self, key: &str) -> Option<TypeDefinition> {
        self.types.iter().find(|t| t.key == key).cloned()
    }

    fn state_by_id(&self, id: &str) -> Option<StateDefinition> {
        self.states.iter().find(|s| s.id == id).cloned()
    }

    fn state_by_key(&self, key: &str) -> Option<StateDefinition> {
        self.states.iter().find(|s| s.key == key).cloned()
    }
}
