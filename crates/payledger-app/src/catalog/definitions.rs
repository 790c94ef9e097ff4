//! The payment rules' view of the catalog: records as domain definitions
//! and [`StoredCatalog`], the domain's `Catalog` over the store.

use super::*;

impl TypeRecord {
    /// What the payment rules need of this Type.
    pub fn to_definition(&self) -> TypeDefinition {
        TypeDefinition {
            id: self.id.clone(),
            key: self.key.clone(),
            resource_type_ids: self.resource_type_ids.clone(),
            field_definitions: self
                .field_definitions
                .iter()
                .map(FieldDefinitionRecord::to_definition)
                .collect(),
        }
    }

    /// The names of its fields, in order.
    pub fn field_names(&self) -> Vec<&str> {
        self.field_definitions
            .iter()
            .map(|f| f.name.as_str())
            .collect()
    }
}

impl FieldDefinitionRecord {
    /// What the rules need of this field definition.
    pub fn to_definition(&self) -> FieldDefinition {
        FieldDefinition {
            name: self.name.clone(),
            field_type: self.field_type.to_field_type(),
            required: self.required,
        }
    }
}

impl FieldTypeRecord {
    /// The domain's field type.
    pub fn to_field_type(&self) -> FieldType {
        match self {
            Self::Boolean => FieldType::Boolean,
            Self::Number => FieldType::Number,
            Self::String => FieldType::String,
            Self::LocalizedString => FieldType::LocalizedString,
            Self::Enum { values } => FieldType::Enum {
                keys: values.iter().map(|v| v.key.clone()).collect(),
            },
            Self::LocalizedEnum { values } => FieldType::LocalizedEnum {
                keys: values.iter().map(|v| v.key.clone()).collect(),
            },
            Self::Money => FieldType::Money,
            Self::Date => FieldType::Date,
            Self::Time => FieldType::Time,
            Self::DateTime => FieldType::DateTime,
            Self::Reference { reference_type_id } => FieldType::Reference {
                reference_type_id: reference_type_id.clone(),
            },
            Self::Set { element_type } => FieldType::Set(Box::new(element_type.to_field_type())),
        }
    }
}

impl StateRecord {
    /// What the payment rules need of this State.
    pub fn to_definition(&self) -> StateDefinition {
        StateDefinition {
            id: self.id.clone(),
            key: self.key.clone(),
            state_type: self.state_type,
            initial: self.initial,
            transitions: self
                .transitions
                .as_ref()
                .map(|refs| refs.iter().map(|r| r.id.clone()).collect()),
        }
    }
}

/// The [`Catalog`] of one project, read from the store on every lookup.
/// The rules cannot see a store failure, so a lookup that fails reads as
/// "not found" to them and the failure is kept: [`StoredCatalog::take_failure`]
/// hands it to the command path, which then answers with the failure
/// (a 500), never with the rejection it caused.
///
/// `S` is any handle to a store: `&MemoryStore`, `&dyn EventStore` or an
/// owned `Arc<dyn EventStore>` (for a catalog that borrows nothing).
#[derive(Debug)]
pub struct StoredCatalog<S> {
    pub store: S,
    pub project: ProjectKey,
    failure: Mutex<Option<StoreError>>,
}

impl<S, T> StoredCatalog<S>
where
    S: Deref<Target = T>,
    T: EventStore + ?Sized,
{
    pub fn new(store: S, project: ProjectKey) -> Self {
        Self {
            store,
            project,
            failure: Mutex::new(None),
        }
    }

    /// The first store failure a lookup met since the last call, if any.
    pub fn take_failure(&self) -> Option<StoreError> {
        self.failure.lock().take()
    }

    fn lookup<R: CatalogRecord>(&self, by: &ResourceRef) -> Option<R> {
        match read(&*self.store, &self.project, by) {
            Ok(found) => found,
            Err(failure) => {
                // WouldBlock is no failure: the command is tried again
                // where reads may wait for the disk.
                if !matches!(failure, StoreError::WouldBlock) {
                    tracing::error!(%failure, kind = %R::KIND, "catalog lookup failed");
                }
                self.failure.lock().get_or_insert(failure);
                None
            }
        }
    }
}

impl<S, T> Catalog for StoredCatalog<S>
where
    S: Deref<Target = T>,
    T: EventStore + ?Sized,
{
    fn type_by_id(&self, id: &str) -> Option<TypeDefinition> {
        self.lookup::<TypeRecord>(&ResourceRef::Id(id.to_owned()))
            .map(|t| t.to_definition())
    }

    fn type_by_key(&self, key: &str) -> Option<TypeDefinition> {
        self.lookup::<TypeRecord>(&ResourceRef::Key(key.to_owned()))
            .map(|t| t.to_definition())
    }

    fn state_by_id(&self, id: &str) -> Option<StateDefinition> {
        self.lookup::<StateRecord>(&ResourceRef::Id(id.to_owned()))
            .map(|s| s.to_definition())
    }

    fn state_by_key(&self, key: &str) -> Option<StateDefinition> {
        self.lookup::<StateRecord>(&ResourceRef::Key(key.to_owned()))
            .map(|s| s.to_definition())
    }
}
