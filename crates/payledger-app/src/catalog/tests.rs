//! The catalog use cases over the in-memory store, and the golden records.
use super::*;
use payledger_domain::types::CustomResource;
use payledger_store::memory::MemoryStore;
use serde_json::{Value, json};

/// A Type record as payledger stored it at format version 1. Never
/// edit: a failing decode means stored data no longer loads.
const GOLDEN_TYPE_V1: &str = r#"{
    "id": "6f1c9c1e-4a52-4d8e-9f57-0a4e3c1b2d01",
    "version": 3,
    "createdAt": "2026-01-02T03:04:05.006Z",
    "lastModifiedAt": "2026-01-03T00:00:00.000Z",
    "createdBy": {"clientId": "client-1", "isPlatformClient": false},
    "lastModifiedBy": {"clientId": "client-2", "isPlatformClient": false},
    "key": "payment-extras",
    "name": {"en": "Payment extras", "de": "Zahlungsextras"},
    "description": {"en": "Order data on payments"},
    "resourceTypeIds": ["payment", "transaction"],
    "fieldDefinitions": [
        {"name": "orderNumber", "label": {"en": "Order number"}, "required": true,
         "type": {"name": "String"}, "inputHint": "SingleLine"},
        {"name": "channel", "label": {"en": "Channel"}, "required": false,
         "type": {"name": "Enum", "values": [{"key": "web", "label": "Web"}]}},
        {"name": "tier", "label": {"en": "Tier"}, "required": false,
         "type": {"name": "LocalizedEnum", "values": [{"key": "gold", "label": {"en": "Gold"}}]}},
        {"name": "tags", "label": {"en": "Tags"}, "required": false,
         "type": {"name": "Set", "elementType": {"name": "Reference", "referenceTypeId": "customer"}}},
        {"name": "fee", "label": {"en": "Fee"}, "required": false, "type": {"name": "Money"}},
        {"name": "due", "label": {"en": "Due"}, "required": false, "type": {"name": "DateTime"}}
    ]
}"#;

/// A State record as payledger stored it at format version 1.
const GOLDEN_STATE_V1: &str = r#"{
    "id": "0b7c5e0a-1d0e-4f11-8c55-6f3a9e2b7c10",
    "version": 2,
    "createdAt": "2026-01-02T03:04:05.006Z",
    "lastModifiedAt": "2026-01-02T03:04:06.000Z",
    "key": "paid",
    "type": "PaymentState",
    "name": {"en": "Paid"},
    "initial": false,
    "builtIn": false,
    "roles": [],
    "transitions": [{"typeId": "state", "id": "5d3a1b2c-0000-4000-8000-000000000001"}]
}"#;

fn project(text: &str) -> ProjectKey {
    ProjectKey::parse(text).unwrap()
}

fn meta(now_ms: i64) -> CatalogMeta {
    CatalogMeta {
        now_ms,
        client_id: Some("client-1".to_owned()),
        answer: None,
    }
}

fn localized(text: &str) -> LocalizedString {
    [("en".to_owned(), text.to_owned())].into()
}

fn field(name: &str, field_type: FieldTypeRecord) -> FieldDefinitionRecord {
    FieldDefinitionRecord {
        name: name.to_owned(),
        label: localized(name),
        required: false,
        field_type,
        input_hint: None,
    }
}

fn type_draft(key: &str) -> TypeDraft {
    TypeDraft {
        key: key.to_owned(),
        name: localized("Extras"),
        description: None,
        resource_type_ids: vec!["payment".to_owned()],
        field_definitions: vec![field("orderNumber", FieldTypeRecord::String)],
    }
}

fn state_draft(key: &str, initial: bool, transitions: Option<Vec<ResourceRef>>) -> StateDraft {
    StateDraft {
        key: key.to_owned(),
        state_type: StateType::PaymentState,
        name: Some(localized(key)),
        description: None,
        initial,
        roles: Vec::new(),
        transitions,
    }
}

fn key(text: &str) -> ResourceRef {
    ResourceRef::Key(text.to_owned())
}

fn id(text: &str) -> ResourceRef {
    ResourceRef::Id(text.to_owned())
}

fn rejection(result: Result<impl fmt::Debug, CatalogError>) -> CatalogRejection {
    match result {
        Err(CatalogError::Rejected(rejection)) => rejection,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn golden_records_still_decode_and_encode_the_same() {
    let record: TypeRecord = serde_json::from_str(GOLDEN_TYPE_V1).unwrap();
    assert_eq!(record.version, 3);
    assert_eq!(record.field_definitions.len(), 6);
    assert_eq!(
        record.field_definitions[3].field_type,
        FieldTypeRecord::Set {
            element_type: Box::new(FieldTypeRecord::Reference {
                reference_type_id: "customer".to_owned()
            })
        }
    );
    assert_eq!(
        serde_json::to_value(&record).unwrap(),
        serde_json::from_str::<Value>(GOLDEN_TYPE_V1).unwrap()
    );

    let state: StateRecord = serde_json::from_str(GOLDEN_STATE_V1).unwrap();
    assert_eq!(state.state_type, StateType::PaymentState);
    assert_eq!(
        state.to_definition().transitions,
        Some(vec!["5d3a1b2c-0000-4000-8000-000000000001".to_owned()])
    );
    assert_eq!(
        serde_json::to_value(&state).unwrap(),
        serde_json::from_str::<Value>(GOLDEN_STATE_V1).unwrap()
    );
}

#[test]
fn a_type_is_created_read_and_listed() {
    let store = MemoryStore::new();
    let p = project("shop");
    let created = create_type(&store, &p, type_draft("extras"), &meta(1_000)).unwrap();
    assert_eq!(created.version, 1);
    assert_eq!(created.created_at, "1970-01-01T00:00:01.000Z");
    assert_eq!(created.created_by.as_ref().unwrap().client_id, "client-1");
    assert!(uuid::Uuid::parse_str(&created.id).is_ok());

    assert_eq!(
        get::<TypeRecord>(&store, &p, &id(&created.id)).unwrap(),
        created
    );
    assert_eq!(
        get::<TypeRecord>(&store, &p, &key("extras")).unwrap(),
        created
    );
    let second = create_type(&store, &p, type_draft("second"), &meta(500)).unwrap();
    let listed: Vec<TypeRecord> = list(&store, &p).unwrap();
    assert_eq!(listed, vec![second, created.clone()], "oldest first");

    // Another project sees nothing, and may reuse the key.
    let other = project("shop-2");
    assert!(matches!(
        get::<TypeRecord>(&store, &other, &id(&created.id)),
        Err(CatalogError::NotFound(CatalogKind::Type))
    ));
    assert!(list::<TypeRecord>(&store, &other).unwrap().is_empty());
    create_type(&store, &other, type_draft("extras"), &meta(1)).unwrap();
    // States live apart from Types: the same key is free there.
    create_state(&store, &p, state_draft("extras", true, None), &meta(1)).unwrap();
}

#[test]
fn type_keys_are_unique_per_project() {
    let store = MemoryStore::new();
    let p = project("shop");
    create_type(&store, &p, type_draft("extras"), &meta(1)).unwrap();
    assert_eq!(
        rejection(create_type(&store, &p, type_draft("extras"), &meta(2))),
        CatalogRejection::DuplicateKey {
            key: "extras".to_owned()
        }
    );
    assert_eq!(list::<TypeRecord>(&store, &p).unwrap().len(), 1);
}

#[test]
fn invalid_type_drafts_are_rejected_by_name() {
    let store = MemoryStore::new();
    let p = project("shop");
    let check = |edit: &dyn Fn(&mut TypeDraft), expected: CatalogRejection| {
        let mut draft = type_draft("extras");
        edit(&mut draft);
        assert_eq!(
            rejection(create_type(&store, &p, draft, &meta(1))),
            expected
        );
    };
    let text = |s: &str| s.to_owned();
    check(
        &|d| d.key = text("x"),
        CatalogRejection::InvalidKey { key: text("x") },
    );
    check(
        &|d| d.key = text("a b"),
        CatalogRejection::InvalidKey { key: text("a b") },
    );
    check(
        &|d| d.resource_type_ids.clear(),
        CatalogRejection::MissingResourceTypeIds,
    );
    check(
        &|d| d.resource_type_ids = vec![text("order")],
        CatalogRejection::UnknownResourceTypeId {
            value: text("order"),
        },
    );
    check(
        &|d| d.resource_type_ids = vec![text("payment"), text("payment")],
        CatalogRejection::DuplicateResourceTypeId {
            value: text("payment"),
        },
    );
    check(
        &|d| {
            d.field_definitions
                .push(field("orderNumber", FieldTypeRecord::Number))
        },
        CatalogRejection::DuplicateFieldName {
            name: text("orderNumber"),
        },
    );
    check(
        &|d| d.field_definitions = vec![field("a", FieldTypeRecord::Number)],
        CatalogRejection::InvalidFieldName { name: text("a") },
    );
    check(
        &|d| {
            d.field_definitions = vec![field(
                "kind",
                FieldTypeRecord::Enum {
                    values: ["a", "b", "a"]
                        .map(|k| EnumValueRecord {
                            key: text(k),
                            label: text(k),
                        })
                        .to_vec(),
                },
            )]
        },
        CatalogRejection::DuplicateEnumKeys {
            duplicates: vec![text("a")],
        },
    );
    check(
        &|d| {
            d.field_definitions = vec![field(
                "ref",
                FieldTypeRecord::Reference {
                    reference_type_id: text("payment"),
                },
            )]
        },
        CatalogRejection::UnknownReferenceTypeId {
            value: text("payment"),
        },
    );
    let set = |inner| FieldTypeRecord::Set {
        element_type: Box::new(inner),
    };
    check(
        &|d| d.field_definitions = vec![field("deep", set(set(set(FieldTypeRecord::String))))],
        CatalogRejection::FieldTypeTooDeep {
            max: FIELD_TYPE_DEPTH_MAX,
        },
    );
    // Depth at the limit is fine.
    let mut draft = type_draft("nested");
    draft.field_definitions = vec![field("sets", set(set(FieldTypeRecord::String)))];
    create_type(&store, &p, draft, &meta(1)).unwrap();
}

#[test]
fn type_updates_apply_in_order_and_check_the_version() {
    let store = MemoryStore::new();
    let p = project("shop");
    let created = create_type(&store, &p, type_draft("extras"), &meta(1)).unwrap();
    let by = id(&created.id);
    let updated = update_type(
        &store,
        &p,
        &by,
        1,
        vec![
            TypeAction::ChangeName(localized("Renamed")),
            TypeAction::SetDescription(Some(localized("About"))),
            TypeAction::AddFieldDefinition(field("paid", FieldTypeRecord::Boolean)),
            TypeAction::RemoveFieldDefinition {
                field_name: "orderNumber".to_owned(),
            },
            TypeAction::ChangeLabel {
                field_name: "paid".to_owned(),
                label: localized("Paid?"),
            },
            TypeAction::ChangeKey("extras-2".to_owned()),
        ],
        &meta(2_000),
    )
    .unwrap();
    assert_eq!(updated.version, 2, "one version per request");
    assert_eq!(updated.last_modified_at, "1970-01-01T00:00:02.000Z");
    assert_eq!(updated.created_at, created.created_at);
    assert_eq!(updated.name, localized("Renamed"));
    assert_eq!(updated.field_definitions.len(), 1);
    assert_eq!(updated.field_definitions[0].label, localized("Paid?"));
    // The key index moved with the key.
    assert_eq!(
        get::<TypeRecord>(&store, &p, &key("extras-2")).unwrap(),
        updated
    );
    assert!(get::<TypeRecord>(&store, &p, &key("extras")).is_err());
    create_type(&store, &p, type_draft("extras"), &meta(3)).unwrap();

    // A stale version is a conflict and changes nothing.
    let stale = update_type(
        &store,
        &p,
        &by,
        1,
        vec![TypeAction::ChangeName(localized("x"))],
        &meta(4),
    );
    assert!(matches!(
        stale,
        Err(CatalogError::Conflict {
            expected: 1,
            current_version: 2,
            ..
        })
    ));
    // A failing action aborts the whole request.
    assert_eq!(
        rejection(update_type(
            &store,
            &p,
            &by,
            2,
            vec![
                TypeAction::ChangeName(localized("x")),
                TypeAction::RemoveFieldDefinition {
                    field_name: "missing".to_owned()
                },
            ],
            &meta(5),
        )),
        CatalogRejection::UnknownFieldName {
            name: "missing".to_owned()
        }
    );
    assert_eq!(
        rejection(update_type(
            &store,
            &p,
            &by,
            2,
            vec![TypeAction::ChangeKey("extras".to_owned())],
            &meta(5),
        )),
        CatalogRejection::DuplicateKey {
            key: "extras".to_owned()
        }
    );
    assert_eq!(get::<TypeRecord>(&store, &p, &by).unwrap(), updated);
    // An update that changes nothing keeps the version.
    let same = update_type(
        &store,
        &p,
        &by,
        2,
        vec![TypeAction::ChangeName(localized("Renamed"))],
        &meta(6),
    )
    .unwrap();
    assert_eq!(same, updated);
}

#[test]
fn concurrent_creates_of_one_key_leave_one_winner() {
    let store = std::sync::Arc::new(MemoryStore::new());
    let p = project("shop");
    let threads: Vec<_> = (0..8)
        .map(|n| {
            let (store, p) = (std::sync::Arc::clone(&store), p.clone());
            std::thread::spawn(move || {
                create_type(&*store, &p, type_draft("race"), &meta(n)).is_ok()
            })
        })
        .collect();
    let winners = threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|won| *won)
        .count();
    assert_eq!(winners, 1);
    assert_eq!(list::<TypeRecord>(&*store, &p).unwrap().len(), 1);
}

#[test]
fn deletes_check_the_version_and_free_the_key() {
    let store = MemoryStore::new();
    let p = project("shop");
    let created = create_type(&store, &p, type_draft("extras"), &meta(1)).unwrap();
    assert!(matches!(
        delete::<TypeRecord>(&store, &p, &key("extras"), 7, None),
        Err(CatalogError::Conflict {
            current_version: 1,
            ..
        })
    ));
    let deleted: TypeRecord = delete(&store, &p, &key("extras"), 1, None).unwrap();
    assert_eq!(deleted, created);
    assert!(matches!(
        get::<TypeRecord>(&store, &p, &id(&created.id)),
        Err(CatalogError::NotFound(CatalogKind::Type))
    ));
    assert!(matches!(
        delete::<TypeRecord>(&store, &p, &id(&created.id), 1, None),
        Err(CatalogError::NotFound(CatalogKind::Type))
    ));
    create_type(&store, &p, type_draft("extras"), &meta(2)).unwrap();
}

#[test]
fn states_resolve_transitions_and_feed_the_stored_catalog() {
    let store = MemoryStore::new();
    let p = project("shop");
    let paid = create_state(
        &store,
        &p,
        state_draft("paid", false, Some(vec![])),
        &meta(1),
    )
    .unwrap();
    let open = create_state(
        &store,
        &p,
        state_draft("open", true, Some(vec![key("paid"), id(&paid.id)])),
        &meta(2),
    )
    .unwrap();
    assert_eq!(
        open.transitions,
        Some(vec![
            StateReference::to(&paid.id),
            StateReference::to(&paid.id)
        ])
    );
    let any = create_state(&store, &p, state_draft("any", false, None), &meta(3)).unwrap();

    let catalog = StoredCatalog::new(&store, p.clone());
    assert_eq!(
        catalog.state_by_key("open"),
        Some(StateDefinition {
            id: open.id.clone(),
            key: "open".to_owned(),
            state_type: StateType::PaymentState,
            initial: true,
            transitions: Some(vec![paid.id.clone(), paid.id.clone()]),
        })
    );
    let paid_definition = catalog.state_by_id(&paid.id).unwrap();
    assert!(!paid_definition.initial);
    assert_eq!(paid_definition.transitions, Some(vec![]));
    assert_eq!(catalog.state_by_id(&any.id).unwrap().transitions, None);
    assert_eq!(catalog.state_by_key("missing"), None);
    assert_eq!(
        StoredCatalog::new(&store, project("other")).state_by_key("open"),
        None
    );

    // Unknown targets and targets of another type are refused.
    assert_eq!(
        rejection(create_state(
            &store,
            &p,
            state_draft("x1", true, Some(vec![key("nope")])),
            &meta(4)
        )),
        CatalogRejection::TransitionNotFound { by: key("nope") }
    );
    let mut order_state = state_draft("shipped", false, None);
    order_state.state_type = StateType::OrderState;
    create_state(&store, &p, order_state, &meta(5)).unwrap();
    assert_eq!(
        rejection(create_state(
            &store,
            &p,
            state_draft("x2", true, Some(vec![key("shipped")])),
            &meta(6)
        )),
        CatalogRejection::TransitionToOtherType {
            target_key: "shipped".to_owned(),
            target_type: StateType::OrderState,
            state_type: StateType::PaymentState,
        }
    );
    assert_eq!(
        rejection(create_state(
            &store,
            &p,
            state_draft("paid", true, None),
            &meta(7)
        )),
        CatalogRejection::DuplicateKey {
            key: "paid".to_owned()
        }
    );
}

#[test]
fn state_updates_change_initial_transitions_and_key() {
    let store = MemoryStore::new();
    let p = project("shop");
    let paid = create_state(&store, &p, state_draft("paid", false, None), &meta(1)).unwrap();
    let open = create_state(&store, &p, state_draft("open", true, None), &meta(2)).unwrap();
    let updated = update_state(
        &store,
        &p,
        &key("open"),
        1,
        vec![
            StateAction::ChangeInitial(false),
            StateAction::ChangeKey("pending".to_owned()),
            // The State itself is a valid target, by its new key.
            StateAction::SetTransitions(Some(vec![key("paid"), key("pending")])),
            StateAction::SetName(None),
            StateAction::SetDescription(Some(localized("Waiting"))),
        ],
        &meta(3),
    )
    .unwrap();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.name, None);
    let definition = StoredCatalog::new(&store, p.clone())
        .state_by_key("pending")
        .unwrap();
    assert!(!definition.initial);
    assert_eq!(
        definition.transitions,
        Some(vec![paid.id.clone(), open.id.clone()])
    );
    assert!(definition.allows_transition_to(&paid.id));
    let reopened = update_state(
        &store,
        &p,
        &id(&open.id),
        2,
        vec![StateAction::SetTransitions(None)],
        &meta(4),
    )
    .unwrap();
    assert_eq!(reopened.transitions, None);
    assert_eq!(reopened.version, 3);
}

#[test]
fn stored_catalog_converts_types_for_the_rules() {
    let store = MemoryStore::new();
    let p = project("shop");
    let mut draft = type_draft("extras");
    draft.resource_type_ids = vec!["payment-interface-interaction".to_owned()];
    draft.field_definitions = vec![
        FieldDefinitionRecord {
            required: true,
            ..field("orderNumber", FieldTypeRecord::String)
        },
        field(
            "tier",
            FieldTypeRecord::LocalizedEnum {
                values: vec![LocalizedEnumValueRecord {
                    key: "gold".to_owned(),
                    label: localized("Gold"),
                }],
            },
        ),
    ];
    let created = create_type(&store, &p, draft, &meta(1)).unwrap();
    let catalog = StoredCatalog::new(&store, p.clone());
    let definition = catalog.type_by_key("extras").unwrap();
    assert_eq!(catalog.type_by_id(&created.id), Some(definition.clone()));
    assert!(definition.is_for(CustomResource::PaymentInterfaceInteraction));
    assert!(!definition.is_for(CustomResource::Payment));
    assert_eq!(
        definition.field_definitions,
        vec![
            FieldDefinition {
                name: "orderNumber".to_owned(),
                field_type: FieldType::String,
                required: true,
            },
            FieldDefinition {
                name: "tier".to_owned(),
                field_type: FieldType::LocalizedEnum {
                    keys: vec!["gold".to_owned()]
                },
                required: false,
            },
        ]
    );
    assert_eq!(catalog.type_by_key("missing"), None);
}

#[test]
fn a_project_holds_a_bounded_number_of_resources() {
    let store = MemoryStore::new();
    let p = project("shop");
    for n in 0..RESOURCES_PER_KIND_MAX {
        create_state(
            &store,
            &p,
            state_draft(&format!("s{n}"), true, None),
            &meta(1),
        )
        .unwrap();
    }
    assert_eq!(
        rejection(create_state(
            &store,
            &p,
            state_draft("last", true, None),
            &meta(2)
        )),
        CatalogRejection::TooManyResources {
            kind: CatalogKind::State,
            max: RESOURCES_PER_KIND_MAX,
        }
    );
    assert_eq!(
        list::<StateRecord>(&store, &p).unwrap().len(),
        RESOURCES_PER_KIND_MAX
    );
    // Types are counted apart.
    create_type(&store, &p, type_draft("extras"), &meta(3)).unwrap();
}

#[test]
fn records_render_as_commercetools_json() {
    let store = MemoryStore::new();
    let p = project("shop");
    let state = create_state(
        &store,
        &p,
        state_draft("open", true, Some(vec![])),
        &meta(0),
    )
    .unwrap();
    let rendered = serde_json::to_value(&state).unwrap();
    assert_eq!(
        rendered,
        json!({
            "id": state.id,
            "version": 1,
            "createdAt": "1970-01-01T00:00:00.000Z",
            "lastModifiedAt": "1970-01-01T00:00:00.000Z",
            "createdBy": {"clientId": "client-1", "isPlatformClient": false},
            "lastModifiedBy": {"clientId": "client-1", "isPlatformClient": false},
            "key": "open",
            "type": "PaymentState",
            "name": {"en": "open"},
            "initial": true,
            "builtIn": false,
            "roles": [],
            "transitions": [],
        })
    );
}

#[test]
fn an_answer_is_written_with_its_change_and_a_second_one_for_the_key_changes_nothing() {
    use crate::idempotency::Answer;
    let store = MemoryStore::new();
    let p = project("shop");
    let row = b"\x01retry-1".to_vec();
    let answer = Answer {
        key: row.clone(),
        render: std::sync::Arc::new(|answered| match answered.downcast_ref::<TypeRecord>() {
            Some(record) => format!("type {} v{}", record.key, record.version).into_bytes(),
            None => Vec::new(),
        }),
    };
    let keyed = CatalogMeta {
        answer: Some(answer.clone()),
        ..meta(1)
    };
    create_type(&store, &p, type_draft("extras"), &keyed).unwrap();
    assert_eq!(
        store.get(Table::Idempotency, &row).unwrap(),
        Some(b"type extras v1".to_vec())
    );

    // A request with the same key that raced the first one: refused, and
    // neither the resource nor the answer changes.
    let raced = create_type(&store, &p, type_draft("other"), &keyed);
    assert!(
        matches!(raced, Err(CatalogError::AnswerRecorded)),
        "{raced:?}"
    );
    assert!(matches!(
        get::<TypeRecord>(&store, &p, &key("other")),
        Err(CatalogError::NotFound(_))
    ));
    let deleted = delete::<TypeRecord>(&store, &p, &key("extras"), 1, Some(&answer));
    assert!(matches!(deleted, Err(CatalogError::AnswerRecorded)));
    assert!(get::<TypeRecord>(&store, &p, &key("extras")).is_ok());
    assert_eq!(
        store.get(Table::Idempotency, &row).unwrap(),
        Some(b"type extras v1".to_vec())
    );

    // A delete answers with the record as it was.
    let fresh = Answer {
        key: b"\x01retry-2".to_vec(),
        ..answer
    };
    delete::<TypeRecord>(&store, &p, &key("extras"), 1, Some(&fresh)).unwrap();
    assert_eq!(
        store.get(Table::Idempotency, b"\x01retry-2").unwrap(),
        Some(b"type extras v1".to_vec())
    );
}
