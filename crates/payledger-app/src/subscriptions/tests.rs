//! Subscription rules, storage and delivery state, on the in-memory store
//! (the store itself is proven against RocksDB by the conformance suite).

use super::*;
use payledger_domain::{Actor, Event, EventId, EventMeta, PaymentId, Timestamp};
use payledger_store::memory::MemoryStore;
use payledger_store::{AppendRequest, NewEvent};
use serde_json::Value;

const TYPES: &[&str] = &["PaymentCreated", "PaymentTransactionAdded"];
const GOLDEN_V1: &str = include_str!("golden/subscription_v1.json");
const GOLDEN_V2_STOPPED: &str = include_str!("golden/subscription_v2_stopped.json");

fn project(key: &str) -> ProjectKey {
    ProjectKey::parse(key).unwrap()
}

fn draft() -> SubscriptionDraft {
    SubscriptionDraft {
        key: Some("hook".to_owned()),
        destination: Destination::Http {
            url: "http://127.0.0.1:9/hook".to_owned(),
            secret: "0123456789abcdef".to_owned(),
        },
        messages: vec![MessageFilter {
            resource_type_id: "payment".to_owned(),
            types: vec![],
        }],
        format: DeliveryFormat::Platform,
    }
}

fn meta() -> SubscriptionMeta {
    SubscriptionMeta {
        now_ms: 1_767_225_600_000,
        client_id: Some("admin".to_owned()),
        answer: None,
    }
}

fn rejection(draft: SubscriptionDraft) -> SubscriptionRejection {
    check_draft(&draft, TYPES).expect_err("the draft must be refused")
}

fn append_events(store: &MemoryStore, payment: u8, count: u8) {
    let events = (1..=count)
        .map(|n| NewEvent {
            meta: EventMeta {
                event_id: EventId::from_bytes([payment ^ n; 16]),
                project: project("shop"),
                recorded_at: Timestamp(0),
                actor: Actor::Client("c".into()),
                correlation_id: None,
                idempotency_key: None,
            },
            event: Event::StatusInterfaceTextSet(None),
        })
        .collect();
    let id = PaymentId::from_bytes([payment; 16]);
    store
        .append(AppendRequest::events(id.into(), 0, events))
        .unwrap();
}

#[test]
fn the_stored_record_format_is_stable() {
    let record: SubscriptionRecord = serde_json::from_str(GOLDEN_V1).unwrap();
    assert_eq!(record.key.as_deref(), Some("fulfilment-hook"));
    assert_eq!(
        record.destination.url(),
        "http://hooks.example.com/payledger"
    );
    assert_eq!(
        record.format,
        DeliveryFormat::CloudEvents {
            cloud_events_version: "1.0".to_owned()
        }
    );
    assert!(record.wants("payment", "PaymentCreated"));
    assert!(!record.wants("payment", "PaymentTransactionAdded"));
    assert_eq!(
        serde_json::to_value(&record).unwrap(),
        serde_json::from_str::<Value>(GOLDEN_V1).unwrap()
    );
}

#[test]
fn a_stopped_record_keeps_its_format_and_records_before_stops_read_as_running() {
    let v1: SubscriptionRecord = serde_json::from_str(GOLDEN_V1).unwrap();
    assert_eq!(v1.delivery_stop, None, "written before stops existed");
    assert!(
        serde_json::to_value(&v1)
            .unwrap()
            .get("deliveryStop")
            .is_none()
    );
    let stopped: SubscriptionRecord = serde_json::from_str(GOLDEN_V2_STOPPED).unwrap();
    let stop = stopped.delivery_stop.clone().unwrap();
    assert_eq!(stop.at, "2026-12-03T09:30:00.000Z");
    assert!(stop.reason.contains("webhooks.retry_age_max_s"), "{stop:?}");
    assert_eq!(
        serde_json::to_value(&stopped).unwrap(),
        serde_json::from_str::<Value>(GOLDEN_V2_STOPPED).unwrap()
    );
}

fn a_stop(reason: &str) -> DeliveryStop {
    DeliveryStop {
        at: "2026-01-02T00:00:00.000Z".to_owned(),
        reason: reason.to_owned(),
    }
}

#[test]
fn a_stop_keeps_the_cursors_and_version_and_an_update_that_resumes_ends_it() {
    let store = MemoryStore::with_partitions(2);
    let shop = project("shop");
    let record = create(&store, &shop, draft(), TYPES, &meta()).unwrap();
    append_events(&store, 1, 3);
    let by = ResourceRef::Id(record.id.clone());
    let stop =
        |version, reason| stop_deliveries(&store, &shop, &record.id, version, a_stop(reason));

    assert!(
        !stop(2, "stale").unwrap(),
        "a worker of another version stops nothing"
    );
    assert_eq!(get(&store, &shop, &by).unwrap(), record);
    assert!(stop(1, "first").unwrap());
    assert!(!stop(1, "second").unwrap(), "stopped once");
    let stopped = get(&store, &shop, &by).unwrap();
    assert_eq!(stopped.version, 1, "a stop is not a client's change");
    assert_eq!(stopped.last_modified_at, record.last_modified_at);
    assert_eq!(stopped.delivery_stop, Some(a_stop("first")));
    let state = state_of(&store, &stopped).unwrap();
    assert_eq!(
        state.status,
        HealthStatus::ConfigurationErrorDeliveryStopped
    );
    assert_eq!(state.stopped, Some(a_stop("first")));
    assert_eq!(state.lag, 3, "nothing skipped");
    assert!(!stop_deliveries(&store, &shop, "gone", 1, a_stop("x")).unwrap());

    let update_at = |version, actions| update(&store, &shop, &by, version, actions, TYPES, &meta());
    // Other changes keep the stop.
    let renamed = update_at(1, vec![SubscriptionAction::SetKey(Some("renamed".into()))]).unwrap();
    assert_eq!(
        (renamed.version, renamed.delivery_stop.is_some()),
        (2, true)
    );
    let resumed = update_at(2, vec![SubscriptionAction::ResumeDeliveries]).unwrap();
    assert_eq!((resumed.version, &resumed.delivery_stop), (3, &None));
    let state = state_of(&store, &resumed).unwrap();
    assert_eq!((state.status, state.lag), (HealthStatus::Healthy, 3));
    // Resuming what runs changes nothing.
    assert_eq!(
        update_at(3, vec![SubscriptionAction::ResumeDeliveries]).unwrap(),
        resumed
    );

    // A new destination ends a stop too.
    assert!(stop(3, "again").unwrap());
    let moved = Destination::Http {
        url: "https://hooks.example.com/v2".to_owned(),
        secret: "a-new-secret-of-24-bytes".to_owned(),
    };
    let changed = update_at(3, vec![SubscriptionAction::ChangeDestination(moved)]).unwrap();
    assert_eq!((changed.version, &changed.delivery_stop), (4, &None));
}

#[test]
fn a_filter_without_types_takes_every_payment_message() {
    let store = MemoryStore::with_partitions(2);
    let record = create(&store, &project("shop"), draft(), TYPES, &meta()).unwrap();
    assert!(record.wants("payment", "PaymentCreated"));
    assert!(record.wants("payment", "PaymentStatusStateTransition"));
    // Payment filters take no order Messages, and order filters no
    // payment Messages.
    assert!(!record.wants("order", "OrderCreated"));
    let mut orders = draft();
    orders.messages[0].resource_type_id = "order".to_owned();
    orders.key = Some("orders-sub".to_owned());
    let orders = create(&store, &project("shop"), orders, TYPES, &meta()).unwrap();
    assert!(orders.wants("order", "OrderPaymentStateChanged"));
    assert!(!orders.wants("payment", "PaymentCreated"));
    let mut secure = draft();
    secure.key = None;
    secure.destination = Destination::Http {
        url: "https://hooks.example.com/payledger".to_owned(),
        secret: "0123456789abcdef".to_owned(),
    };
    assert_eq!(
        check_draft(&secure, TYPES),
        Ok(()),
        "https destinations are fine"
    );
}

#[test]
fn drafts_are_refused_with_the_rule_they_break() {
    let mut d = draft();
    d.key = Some("x".to_owned());
    assert!(matches!(
        rejection(d),
        SubscriptionRejection::InvalidKey { .. }
    ));

    for url in ["ftp://host/x", "not a url", "http://", "http://h/x#frag"] {
        let mut d = draft();
        d.destination = Destination::Http {
            url: url.to_owned(),
            secret: "0123456789abcdef".to_owned(),
        };
        assert!(
            matches!(rejection(d), SubscriptionRejection::InvalidUrl { .. }),
            "{url}"
        );
    }
    let mut d = draft();
    d.destination = Destination::Http {
        url: format!("http://h/{}", "a".repeat(URL_BYTES_MAX)),
        secret: "0123456789abcdef".to_owned(),
    };
    assert!(matches!(
        rejection(d),
        SubscriptionRejection::InvalidUrl { .. }
    ));

    let mut d = draft();
    d.destination = Destination::Http {
        url: "http://h/x".to_owned(),
        secret: "short".to_owned(),
    };
    assert_eq!(
        rejection(d),
        SubscriptionRejection::InvalidSecret { length_bytes: 5 }
    );

    let mut d = draft();
    d.messages.clear();
    assert_eq!(rejection(d), SubscriptionRejection::NoMessages);

    let mut d = draft();
    d.messages[0].resource_type_id = "cart".to_owned();
    assert!(matches!(
        rejection(d),
        SubscriptionRejection::UnsupportedResourceTypeId { .. }
    ));

    let mut d = draft();
    d.messages[0].types = vec!["OrderCreated".to_owned()];
    assert_eq!(
        rejection(d),
        SubscriptionRejection::UnknownMessageType {
            value: "OrderCreated".to_owned()
        }
    );

    let mut d = draft();
    d.messages[0].types = vec!["PaymentCreated".to_owned(); MESSAGE_TYPES_MAX + 1];
    assert!(matches!(
        rejection(d),
        SubscriptionRejection::TooManyMessageTypes { .. }
    ));

    let mut d = draft();
    d.format = DeliveryFormat::CloudEvents {
        cloud_events_version: "0.3".to_owned(),
    };
    assert!(matches!(
        rejection(d),
        SubscriptionRejection::UnsupportedFormatVersion { .. }
    ));
}

#[test]
fn keys_are_unique_per_project_and_projects_hold_a_bounded_number() {
    let store = MemoryStore::with_partitions(2);
    create(&store, &project("shop"), draft(), TYPES, &meta()).unwrap();
    let again = create(&store, &project("shop"), draft(), TYPES, &meta());
    assert!(matches!(
        again,
        Err(SubscriptionError::Rejected(
            SubscriptionRejection::DuplicateKey { .. }
        ))
    ));
    // Another project may use the same key.
    create(&store, &project("other"), draft(), TYPES, &meta()).unwrap();

    for _ in 1..SUBSCRIPTIONS_PER_PROJECT_MAX {
        let mut d = draft();
        d.key = None;
        create(&store, &project("shop"), d, TYPES, &meta()).unwrap();
    }
    let mut d = draft();
    d.key = None;
    let full = create(&store, &project("shop"), d, TYPES, &meta());
    assert!(matches!(
        full,
        Err(SubscriptionError::Rejected(
            SubscriptionRejection::TooManySubscriptions { .. }
        ))
    ));
    assert_eq!(
        list(&store, &project("shop")).unwrap().len(),
        SUBSCRIPTIONS_PER_PROJECT_MAX
    );
    assert_eq!(
        list_all(&store).unwrap().len(),
        SUBSCRIPTIONS_PER_PROJECT_MAX + 1
    );
}

#[test]
fn a_new_subscription_starts_at_the_log_heads_and_delete_removes_its_cursors() {
    let store = MemoryStore::with_partitions(2);
    append_events(&store, 1, 3);
    append_events(&store, 2, 2);
    let record = create(&store, &project("shop"), draft(), TYPES, &meta()).unwrap();
    let state = delivery_state(&store, &consumer_name(&record.id)).unwrap();
    assert_eq!(state.lag, 0, "only later messages are delivered");
    assert_eq!(state.status, HealthStatus::Healthy);

    append_events(&store, 3, 4);
    assert_eq!(
        delivery_state(&store, &consumer_name(&record.id))
            .unwrap()
            .lag,
        4
    );

    let by_key = get(&store, &project("shop"), &ResourceRef::Key("hook".into())).unwrap();
    assert_eq!(by_key, record);
    let stale = delete(
        &store,
        &project("shop"),
        &ResourceRef::Id(record.id.clone()),
        2,
        None,
    );
    assert!(matches!(
        stale,
        Err(SubscriptionError::Conflict {
            current_version: 1,
            ..
        })
    ));
    delete(
        &store,
        &project("shop"),
        &ResourceRef::Id(record.id.clone()),
        1,
        None,
    )
    .unwrap();
    assert!(matches!(
        get(
            &store,
            &project("shop"),
            &ResourceRef::Id(record.id.clone())
        ),
        Err(SubscriptionError::NotFound)
    ));
    assert!(crate::consumer::list_cursors(&store).unwrap().is_empty());
}

#[test]
fn updates_keep_the_cursors_and_must_pass_the_rules_of_a_draft() {
    let store = MemoryStore::with_partitions(2);
    let shop = project("shop");
    let record = create(&store, &shop, draft(), TYPES, &meta()).unwrap();
    let mut other = draft();
    other.key = Some("other-hook".to_owned());
    create(&store, &shop, other, TYPES, &meta()).unwrap();
    append_events(&store, 1, 4);
    let by = ResourceRef::Id(record.id.clone());
    let later = SubscriptionMeta {
        now_ms: meta().now_ms + 1_000,
        client_id: Some("operator".to_owned()),
        answer: None,
    };
    let moved = Destination::Http {
        url: "https://hooks.example.com/v2".to_owned(),
        secret: "a-new-secret-of-24-bytes".to_owned(),
    };
    let only_created = vec![MessageFilter {
        resource_type_id: "payment".to_owned(),
        types: vec!["PaymentCreated".to_owned()],
    }];
    let update_at = |version, actions| update(&store, &shop, &by, version, actions, TYPES, &later);

    let updated = update_at(
        1,
        vec![
            SubscriptionAction::ChangeDestination(moved.clone()),
            SubscriptionAction::SetMessages(only_created.clone()),
        ],
    )
    .unwrap();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.destination, moved);
    assert_eq!(updated.messages, only_created);
    assert_eq!(updated.created_at, record.created_at);
    assert_eq!(updated.last_modified_at, "2026-01-01T00:00:01.000Z");
    let json = serde_json::to_value(&updated).unwrap();
    assert_eq!(json["lastModifiedBy"]["clientId"], "operator");
    assert_eq!(get(&store, &shop, &by).unwrap(), updated);
    assert_eq!(
        state_of(&store, &updated).unwrap().lag,
        4,
        "the Messages still to deliver stay to deliver"
    );

    // Refused updates name their rule and change nothing.
    assert!(matches!(
        update_at(1, vec![SubscriptionAction::SetKey(None)]),
        Err(SubscriptionError::Conflict {
            current_version: 2,
            ..
        })
    ));
    let bad_url = Destination::Http {
        url: "ftp://hooks.example.com".to_owned(),
        secret: "0123456789abcdef".to_owned(),
    };
    assert!(matches!(
        update_at(2, vec![SubscriptionAction::ChangeDestination(bad_url)]),
        Err(SubscriptionError::Rejected(
            SubscriptionRejection::InvalidUrl { .. }
        ))
    ));
    assert!(matches!(
        update_at(2, vec![SubscriptionAction::SetMessages(vec![])]),
        Err(SubscriptionError::Rejected(
            SubscriptionRejection::NoMessages
        ))
    ));
    assert!(matches!(
        update_at(
            2,
            vec![SubscriptionAction::SetKey(Some("other-hook".to_owned()))]
        ),
        Err(SubscriptionError::Rejected(
            SubscriptionRejection::DuplicateKey { .. }
        ))
    ));
    assert_eq!(get(&store, &shop, &by).unwrap(), updated);

    // Nothing changed, nothing written.
    let same = update_at(2, vec![SubscriptionAction::ChangeDestination(moved)]).unwrap();
    assert_eq!(same, updated);

    // Removing the key: found by id only.
    let keyless = update_at(2, vec![SubscriptionAction::SetKey(None)]).unwrap();
    assert_eq!((keyless.version, keyless.key.as_deref()), (3, None));
    assert!(matches!(
        get(&store, &shop, &ResourceRef::Key("hook".into())),
        Err(SubscriptionError::NotFound)
    ));
}

#[test]
fn the_status_follows_the_failure_holding_a_cursor_back() {
    let store = MemoryStore::with_partitions(2);
    let record = create(&store, &project("shop"), draft(), TYPES, &meta()).unwrap();
    let consumer = consumer_name(&record.id);
    let mut cursor = Cursor::load(&store, &consumer, 1).unwrap();
    let failure = |status, at_unix_ms| CursorError {
        at_unix_ms,
        message: DeliveryFailure {
            status,
            attempt: 2,
            message_id: "m".to_owned(),
            detail: "HTTP 503".to_owned(),
        }
        .to_string(),
        retry: None,
    };
    cursor
        .save_error(&store, failure(HealthStatus::TemporaryError, 5))
        .unwrap();
    let state = delivery_state(&store, &consumer).unwrap();
    assert_eq!(state.status, HealthStatus::TemporaryError);
    assert_eq!(
        state.last_error.unwrap().message,
        "TemporaryError: attempt 2 of message m: HTTP 503"
    );

    let mut other = Cursor::load(&store, &consumer, 0).unwrap();
    other
        .save_error(&store, failure(HealthStatus::ConfigurationError, 9))
        .unwrap();
    assert_eq!(
        delivery_state(&store, &consumer).unwrap().status,
        HealthStatus::ConfigurationError,
        "the most recent failure wins"
    );
    let stopped = delivery_state(&store, &consumer)
        .unwrap()
        .with_stop(Some(&a_stop("bound")));
    assert_eq!(
        stopped.status,
        HealthStatus::ConfigurationErrorDeliveryStopped
    );
    assert_eq!(
        stopped.with_stop(None).status,
        HealthStatus::ConfigurationError,
        "without the stop, the cursors decide again"
    );

    other.save(&store, 0).unwrap();
    cursor.save(&store, 0).unwrap();
    let state = delivery_state(&store, &consumer).unwrap();
    assert_eq!(state.status, HealthStatus::Healthy);
    assert_eq!(state.last_error, None);
}

proptest::proptest! {
    #[test]
    fn a_recorded_delivery_failure_reads_back_as_itself(
        status in proptest::sample::select(vec![
            HealthStatus::TemporaryError,
            HealthStatus::ConfigurationError,
        ]),
        attempt in 1u32..,
        message_id in "[0-9a-f-]{1,36}",
        detail in "\\PC*",
    ) {
        let failure = DeliveryFailure { status, attempt, message_id, detail };
        proptest::prop_assert_eq!(failure.to_string().parse::<DeliveryFailure>(), Ok(failure));
    }
}

#[test]
fn a_failure_that_is_not_a_delivery_counts_as_temporary() {
    let store = MemoryStore::with_partitions(1);
    let record = create(&store, &project("shop"), draft(), TYPES, &meta()).unwrap();
    let consumer = consumer_name(&record.id);
    let mut cursor = Cursor::load(&store, &consumer, 0).unwrap();
    // Even one that starts like a configuration error.
    cursor
        .save_error(
            &store,
            CursorError::at(5, "ConfigurationError in the store"),
        )
        .unwrap();
    assert_eq!(
        delivery_state(&store, &consumer).unwrap().status,
        HealthStatus::TemporaryError
    );
    assert_eq!(
        "Healthy: attempt x of message m: d".parse::<DeliveryFailure>(),
        Err(UnreadableFailure)
    );
}
