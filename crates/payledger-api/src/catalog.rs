//! The Types and States routes: custom field Types and States, the catalog
//! resources payments refer to (`custom.type`, `paymentStatus.state`).
//!
//! | route | scope | success |
//! |---|---|---|
//! | `GET /{pk}/types` | view_types | paged query response |
//! | `HEAD /{pk}/types?where=…` | view_types | 200 if any match, else 404 |
//! | `POST /{pk}/types` | manage_types | 201 Type |
//! | `GET\|HEAD /{pk}/types/{id}` and `key={key}` | view_types | 200 / 404 |
//! | `POST /{pk}/types/{id}` and `key={key}` | manage_types | 200 updated Type |
//! | `DELETE /{pk}/types/{id}?version=N` and `key={key}` | manage_types | 200 deleted Type |
//! | the same under `/{pk}/states` | view_states / manage_states | States |
//!
//! Bodies are walked by hand from JSON, so every error names its place
//! (`fieldDefinitions -> name: Missing required value`), and an explicit
//! `null` reads as absent. A path segment `key=abc` names a resource by
//! key. A project key that cannot name a project answers 404, as an
//! unknown resource does. Queries filter (`where`, `var.*`), sort (`sort`,
//! by default `createdAt asc`) and page the project's records (at most
//! [`catalog::RESOURCES_PER_KIND_MAX`] per kind); `expand` is accepted and ignored.
//!
//! Update actions — Types: `changeName`, `setDescription`,
//! `addFieldDefinition`, `removeFieldDefinition`, `changeLabel`,
//! `changeKey`; States: `setName`, `setDescription`, `changeInitial`,
//! `setTransitions`, `changeKey`. The rules live in
//! [`payledger_app::catalog`]; [`ApiError::catalog`] maps each of its named
//! rejections to the commercetools error.

use crate::auth::{Scope, authorize};
use crate::idempotent::{IdempotencyRow, answer};
use crate::json::catalog::catalog_to_json;
use crate::json::draft::localized_string;
use crate::json::read::{Obj, Path as JsonPath, array, boolean, parse_body, string};
use crate::query::QuerySpec;
use crate::request::{Body, QueryPairs, now, project_key};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use payledger_app::catalog::{
    self, ACTIONS_PER_REQUEST_MAX, CatalogError, CatalogMeta, CatalogRecord, CatalogRejection,
    EnumValueRecord, FIELD_TYPE_DEPTH_MAX, FieldDefinitionRecord, FieldTypeRecord, InputHint,
    LocalizedEnumValueRecord, StateAction, StateDraft, StateRecord, StateRole, TRANSITIONS_MAX,
    TypeAction, TypeDraft, TypeRecord,
};
use payledger_domain::types::StateType;
use payledger_domain::{ProjectKey, ResourceRef};
use payledger_store::EventStore;
use serde_json::Value;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/{pk}/types",
            get(query::<Types>)
                .head(exists::<Types>)
                .post(create::<Types>),
        )
        .route(
            "/{pk}/types/{id}",
            get(get_one::<Types>)
                .post(update::<Types>)
                .delete(delete::<Types>),
        )
        .route(
            "/{pk}/states",
            get(query::<States>)
                .head(exists::<States>)
                .post(create::<States>),
        )
        .route(
            "/{pk}/states/{id}",
            get(get_one::<States>)
                .post(update::<States>)
                .delete(delete::<States>),
        )
}

// ---------------------------------------------------------------------------
// The two resource kinds.

/// Decodes the fields of one update action (the `action` name matched).
pub(crate) type ActionParser<A> = fn(&Obj<'_>) -> Result<A, ApiError>;

/// What differs between Types and States at the HTTP edge.
pub(crate) trait Kind: Send + Sync + 'static {
    type Record: CatalogRecord + Sync;
    type Draft: Send + 'static;
    type Action: Send + 'static;
    const VIEW: Scope;
    const MANAGE: Scope;
    /// Every update action by its commercetools name.
    const ACTIONS: &'static [(&'static str, ActionParser<Self::Action>)];

    fn parse_draft(draft: &Obj<'_>) -> Result<Self::Draft, ApiError>;

    fn create(
        store: &dyn EventStore,
        project: &ProjectKey,
        draft: Self::Draft,
        meta: &CatalogMeta,
    ) -> Result<Self::Record, CatalogError>;

    fn update(
        store: &dyn EventStore,
        project: &ProjectKey,
        by: &ResourceRef,
        version: u64,
        actions: Vec<Self::Action>,
        meta: &CatalogMeta,
    ) -> Result<Self::Record, CatalogError>;
}

/// Custom field Types.
pub(crate) struct Types;

/// States.
pub(crate) struct States;

impl Kind for Types {
    type Record = TypeRecord;
    type Draft = TypeDraft;
    type Action = TypeAction;
    const VIEW: Scope = Scope::ViewTypes;
    const MANAGE: Scope = Scope::ManageTypes;
    const ACTIONS: &'static [(&'static str, ActionParser<TypeAction>)] = &[
        ("changeName", |a| {
            Ok(TypeAction::ChangeName(a.req("name", localized_string)?))
        }),
        ("setDescription", |a| {
            Ok(TypeAction::SetDescription(
                a.opt("description", localized_string)?,
            ))
        }),
        ("addFieldDefinition", |a| {
            Ok(TypeAction::AddFieldDefinition(
                a.req("fieldDefinition", field_definition)?,
            ))
        }),
        ("removeFieldDefinition", |a| {
            Ok(TypeAction::RemoveFieldDefinition {
                field_name: a.req("fieldName", string)?,
            })
        }),
        ("changeLabel", |a| {
            Ok(TypeAction::ChangeLabel {
                field_name: a.req("fieldName", string)?,
                label: a.req("label", localized_string)?,
            })
        }),
        ("changeKey", |a| {
            Ok(TypeAction::ChangeKey(a.req("key", string)?))
        }),
    ];

    fn parse_draft(draft: &Obj<'_>) -> Result<TypeDraft, ApiError> {
        Ok(TypeDraft {
            key: draft.req("key", string)?,
            name: draft.req("name", localized_string)?,
            description: draft.opt("description", localized_string)?,
            resource_type_ids: draft
                .req("resourceTypeIds", array)?
                .into_iter()
                .map(|(value, at)| string(value, at))
                .collect::<Result<_, _>>()?,
            field_definitions: draft
                .opt("fieldDefinitions", array)?
                .unwrap_or_default()
                .into_iter()
                .map(|(value, at)| field_definition(value, at))
                .collect::<Result<_, _>>()?,
        })
    }

    fn create(
        store: &dyn EventStore,
        project: &ProjectKey,
        draft: TypeDraft,
        meta: &CatalogMeta,
    ) -> Result<TypeRecord, CatalogError> {
        catalog::create_type(store, project, draft, meta)
    }

    fn update(
        store: &dyn EventStore,
        project: &ProjectKey,
        by: &ResourceRef,
        version: u64,
        actions: Vec<TypeAction>,
        meta: &CatalogMeta,
    ) -> Result<TypeRecord, CatalogError> {
        catalog::update_type(store, project, by, version, actions, meta)
    }
}

impl Kind for States {
    type Record = StateRecord;
    type Draft = StateDraft;
    type Action = StateAction;
    const VIEW: Scope = Scope::ViewStates;
    const MANAGE: Scope = Scope::ManageStates;
    const ACTIONS: &'static [(&'static str, ActionParser<StateAction>)] = &[
        ("setName", |a| {
            Ok(StateAction::SetName(a.opt("name", localized_string)?))
        }),
        ("setDescription", |a| {
            Ok(StateAction::SetDescription(
                a.opt("description", localized_string)?,
            ))
        }),
        ("changeInitial", |a| {
            Ok(StateAction::ChangeInitial(a.req("initial", boolean)?))
        }),
        ("setTransitions", |a| {
            Ok(StateAction::SetTransitions(
                a.opt("transitions", transitions)?,
            ))
        }),
        ("changeKey", |a| {
            Ok(StateAction::ChangeKey(a.req("key", string)?))
        }),
    ];

    fn parse_draft(draft: &Obj<'_>) -> Result<StateDraft, ApiError> {
        Ok(StateDraft {
            key: draft.req("key", string)?,
            state_type: draft.req("type", state_type)?,
            name: draft.opt("name", localized_string)?,
            description: draft.opt("description", localized_string)?,
            initial: draft.opt("initial", boolean)?.unwrap_or(true),
            roles: draft
                .opt("roles", array)?
                .unwrap_or_default()
                .into_iter()
                .map(|(value, at)| state_role(value, at))
                .collect::<Result<_, _>>()?,
            transitions: draft.opt("transitions", transitions)?,
        })
    }

    fn create(
        store: &dyn EventStore,
        project: &ProjectKey,
        draft: StateDraft,
        meta: &CatalogMeta,
    ) -> Result<StateRecord, CatalogError> {
        catalog::create_state(store, project, draft, meta)
    }

    fn update(
        store: &dyn EventStore,
        project: &ProjectKey,
        by: &ResourceRef,
        version: u64,
        actions: Vec<StateAction>,
        meta: &CatalogMeta,
    ) -> Result<StateRecord, CatalogError> {
        catalog::update_state(store, project, by, version, actions, meta)
    }
}

// ---------------------------------------------------------------------------
// Handlers.

/// `{id}` or `key={key}` in a path.
pub(crate) fn target(segment: &str) -> ResourceRef {
    match segment.strip_prefix("key=") {
        Some(key) => ResourceRef::Key(key.to_owned()),
        None => ResourceRef::Id(segment.to_owned()),
    }
}

fn meta(client_id: String) -> CatalogMeta {
    CatalogMeta {
        now_ms: now().millis(),
        client_id: Some(client_id),
        answer: None,
    }
}

fn to_json<R: CatalogRecord>(record: &R) -> Result<Value, ApiError> {
    Ok(catalog_to_json(record))
}

/// The query with its default order: oldest first.
pub(crate) fn query_spec(params: &QueryPairs) -> Result<QuerySpec, ApiError> {
    let mut spec = QuerySpec::parse(params)?;
    if spec.sort.is_empty() {
        spec.sort =
            vec![payledger_query::parse_sort("createdAt asc").map_err(|_| ApiError::general())?];
    }
    Ok(spec)
}

/// The JSON documents of every record of the kind in a project.
fn documents<K: Kind>(state: &AppState, project: &ProjectKey) -> Result<Vec<Value>, ApiError> {
    let records = catalog::list::<K::Record>(&*state.store, project)
        .map_err(|e| ApiError::catalog(e, None))?;
    records.iter().map(to_json).collect()
}

async fn query<K: Kind>(
    State(state): State<AppState>,
    Path(pk): Path<String>,
    headers: HeaderMap,
    params: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let project = project_key(&pk)?;
    authorize(&state, &headers, &project, K::VIEW).await?;
    let spec = query_spec(&params)?;
    let page = state
        .blocking(move |s| spec.page(documents::<K>(&s, &project)?))
        .await?;
    Ok(Json(page))
}

async fn exists<K: Kind>(
    State(state): State<AppState>,
    Path(pk): Path<String>,
    headers: HeaderMap,
    params: QueryPairs,
) -> Result<StatusCode, ApiError> {
    let project = project_key(&pk)?;
    authorize(&state, &headers, &project, K::VIEW).await?;
    let spec = query_spec(&params)?;
    let any = state
        .blocking(move |s| spec.matches_any(documents::<K>(&s, &project)?))
        .await?;
    Ok(if any {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    })
}

async fn get_one<K: Kind>(
    State(state): State<AppState>,
    Path((pk, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let project = project_key(&pk)?;
    authorize(&state, &headers, &project, K::VIEW).await?;
    let by = target(&id);
    let record = state
        .blocking(move |s| {
            catalog::get::<K::Record>(&*s.store, &project, &by)
                .map_err(|e| ApiError::catalog(e, Some(&by)))
        })
        .await?;
    Ok(Json(to_json(&record)?))
}

async fn create<K: Kind>(
    State(state): State<AppState>,
    Path(pk): Path<String>,
    headers: HeaderMap,
    row: Option<Extension<IdempotencyRow>>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let project = project_key(&pk)?;
    let principal = authorize(&state, &headers, &project, K::MANAGE).await?;
    let value = parse_body(&body)?;
    let draft = K::parse_draft(&Obj::new(&value, JsonPath::root())?)?;
    let mut meta = meta(principal.client_id);
    meta.answer = answer(row.as_deref(), StatusCode::CREATED, catalog_to_json);
    let record = state
        .blocking(move |s| {
            K::create(&*s.store, &project, draft, &meta).map_err(|e| ApiError::catalog(e, None))
        })
        .await?;
    Ok((StatusCode::CREATED, Json(to_json(&record)?)).into_response())
}

async fn update<K: Kind>(
    State(state): State<AppState>,
    Path((pk, id)): Path<(String, String)>,
    headers: HeaderMap,
    row: Option<Extension<IdempotencyRow>>,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let project = project_key(&pk)?;
    let principal = authorize(&state, &headers, &project, K::MANAGE).await?;
    let by = target(&id);
    let (version, actions) = parse_update(&body, K::ACTIONS)?;
    let mut meta = meta(principal.client_id);
    meta.answer = answer(row.as_deref(), StatusCode::OK, catalog_to_json);
    let record = state
        .blocking(move |s| {
            K::update(&*s.store, &project, &by, version, actions, &meta)
                .map_err(|e| ApiError::catalog(e, Some(&by)))
        })
        .await?;
    Ok(Json(to_json(&record)?))
}

async fn delete<K: Kind>(
    State(state): State<AppState>,
    Path((pk, id)): Path<(String, String)>,
    headers: HeaderMap,
    row: Option<Extension<IdempotencyRow>>,
    params: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let answer = answer(row.as_deref(), StatusCode::OK, catalog_to_json);
    let project = project_key(&pk)?;
    authorize(&state, &headers, &project, K::MANAGE).await?;
    let by = target(&id);
    let version = params.required_version()?;
    let record = state
        .blocking(move |s| {
            catalog::delete::<K::Record>(&*s.store, &project, &by, version, answer.as_ref())
                .map_err(|e| ApiError::catalog(e, Some(&by)))
        })
        .await?;
    Ok(Json(to_json(&record)?))
}

/// `{version, actions}` of an update request whose actions are `known`
/// by name.
pub(crate) fn parse_update<A>(
    body: &[u8],
    known: &[(&str, ActionParser<A>)],
) -> Result<(u64, Vec<A>), ApiError> {
    let value = parse_body(body)?;
    let update = Obj::new(&value, JsonPath::root())?;
    let version = update.req("version", |value, at| {
        value.as_u64().ok_or_else(|| at.expected("Number"))
    })?;
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
        .map(|(value, at)| {
            let action = Obj::new(value, at)?;
            let name = action.req("action", string)?;
            match known.iter().find(|(known, _)| *known == name) {
                Some((_, parse)) => parse(&action),
                None => Err(action
                    .at("action")
                    .error(&format!("Unknown action '{name}'."))),
            }
        })
        .collect::<Result<_, _>>()?;
    Ok((version, actions))
}

fn field_definition(value: &Value, at: JsonPath) -> Result<FieldDefinitionRecord, ApiError> {
    let definition = Obj::new(value, at)?;
    Ok(FieldDefinitionRecord {
        field_type: definition.req("type", |v, at| field_type(v, at, 1))?,
        name: definition.req("name", string)?,
        label: definition.req("label", localized_string)?,
        required: definition.req("required", boolean)?,
        input_hint: definition.opt("inputHint", |value, at| {
            let text = string(value, at.clone())?;
            InputHint::parse(&text).ok_or_else(|| at.unknown(&text, &["SingleLine", "MultiLine"]))
        })?,
    })
}

/// The names of the field types, as `type.name` takes them.
const FIELD_TYPE_NAMES: [&str; 12] = [
    "Boolean",
    "Number",
    "String",
    "LocalizedString",
    "Enum",
    "LocalizedEnum",
    "Money",
    "Date",
    "Time",
    "DateTime",
    "Reference",
    "Set",
];

/// A FieldType at nesting `depth` (1 for a field's own type).
fn field_type(value: &Value, at: JsonPath, depth: usize) -> Result<FieldTypeRecord, ApiError> {
    if depth > FIELD_TYPE_DEPTH_MAX {
        return Err(ApiError::from(&CatalogRejection::FieldTypeTooDeep {
            max: FIELD_TYPE_DEPTH_MAX,
        }));
    }
    let object = Obj::new(value, at)?;
    let name = object.req("name", string)?;
    Ok(match name.as_str() {
        "Boolean" => FieldTypeRecord::Boolean,
        "Number" => FieldTypeRecord::Number,
        "String" => FieldTypeRecord::String,
        "LocalizedString" => FieldTypeRecord::LocalizedString,
        "Money" => FieldTypeRecord::Money,
        "Date" => FieldTypeRecord::Date,
        "Time" => FieldTypeRecord::Time,
        "DateTime" => FieldTypeRecord::DateTime,
        "Enum" => FieldTypeRecord::Enum {
            values: enum_values(&object, |value| {
                Ok(EnumValueRecord {
                    key: value.req("key", string)?,
                    label: value.req("label", string)?,
                })
            })?,
        },
        "LocalizedEnum" => FieldTypeRecord::LocalizedEnum {
            values: enum_values(&object, |value| {
                Ok(LocalizedEnumValueRecord {
                    key: value.req("key", string)?,
                    label: value.req("label", localized_string)?,
                })
            })?,
        },
        "Reference" => FieldTypeRecord::Reference {
            reference_type_id: object.req("referenceTypeId", string)?,
        },
        "Set" => FieldTypeRecord::Set {
            element_type: Box::new(
                object.req("elementType", |v, at| field_type(v, at, depth + 1))?,
            ),
        },
        other => {
            return Err(object.at("name").unknown(other, &FIELD_TYPE_NAMES));
        }
    })
}

/// The `values` of an Enum or LocalizedEnum field type.
fn enum_values<T>(
    object: &Obj<'_>,
    decode: impl Fn(&Obj<'_>) -> Result<T, ApiError>,
) -> Result<Vec<T>, ApiError> {
    object
        .req("values", array)?
        .into_iter()
        .map(|(value, at)| decode(&Obj::new(value, at)?))
        .collect()
}

fn state_type(value: &Value, at: JsonPath) -> Result<StateType, ApiError> {
    let text = string(value, at.clone())?;
    StateType::parse(&text).ok_or_else(|| at.unknown(&text, &StateType::ALL.map(StateType::as_str)))
}

fn state_role(value: &Value, at: JsonPath) -> Result<StateRole, ApiError> {
    let text = string(value, at.clone())?;
    StateRole::parse(&text)
        .ok_or_else(|| at.unknown(&text, &["ReviewIncludedInStatistics", "Return"]))
}

/// A list of StateResourceIdentifiers `{typeId?: "state", id | key}`.
fn transitions(value: &Value, at: JsonPath) -> Result<Vec<ResourceRef>, ApiError> {
    let items = array(value, at)?;
    if items.len() > TRANSITIONS_MAX {
        return Err(ApiError::from(&CatalogRejection::TooManyTransitions {
            max: TRANSITIONS_MAX,
        }));
    }
    items
        .into_iter()
        .map(|(value, at)| {
            let reference = Obj::new(value, at)?;
            if let Some(type_id) = reference.opt("typeId", string)?
                && type_id != "state"
            {
                return Err(reference.at("typeId").unknown(&type_id, &["state"]));
            }
            match (reference.opt("id", string)?, reference.opt("key", string)?) {
                (Some(id), _) => Ok(ResourceRef::Id(id)),
                (None, Some(key)) => Ok(ResourceRef::Key(key)),
                (None, None) => Err(reference.path().error("Either 'id' or 'key' is required.")),
            }
        })
        .collect()
}
