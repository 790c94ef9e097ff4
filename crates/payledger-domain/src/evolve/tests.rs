//! Folding events: what each event does to a payment, the invariants a fold
//! asserts, and the property that replaying decided events reproduces the
//! state they were decided against.

use super::*;
use crate::command::{
    CustomFieldsInput, MethodInfoInput, ResourceRef, TransactionDraftInput, UpdateAction,
    UpdateAction as A,
};
use crate::decide::{Context, CountingIds, decide_update, decide_update_with_state};
use crate::event::Actor;
use crate::money::Money;
use crate::payment::{Timestamp, Transaction, TransactionState, TransactionType};
use crate::rejection::Rejection;
use crate::testkit::*;
use proptest::prelude::*;

/// Folds `events` onto `before` and compares the result with what
/// `expect` makes of `before` (besides version and stamps).
fn check_on(before: Payment, events: Vec<Event>, expect: impl FnOnce(&mut Payment)) {
    let count = events.len() as u64;
    let got = fold_onto(Some(before.clone()), events);
    let mut want = before;
    expect(&mut want);
    want.version += count;
    want.last_modified_at = got.last_modified_at;
    want.last_modified_by = got.last_modified_by.clone();
    assert_eq!(got, want);
}

/// [`check_on`] a fresh payment.
fn check(events: Vec<Event>, expect: impl FnOnce(&mut Payment)) {
    check_on(payment(), events, expect);
}

fn custom(type_id: &str, entries: &[(&str, crate::payment::FieldValue)]) -> CustomFields {
    CustomFields {
        type_id: type_id.to_owned(),
        fields: fields(entries),
    }
}

#[test]
fn creation_builds_version_1_stamped_by_the_envelope() {
    let p = payment();
    assert_eq!((p.id, p.version, p.deleted), (PAYMENT_ID, 1, false));
    assert_eq!(
        (p.created_at, p.last_modified_at),
        (Timestamp(1_000), Timestamp(1_000))
    );
    assert_eq!(p.created_by, Actor::Client("client-1".into()));
    assert_eq!(p.last_modified_by, p.created_by);
}

#[test]
fn every_later_event_bumps_the_version_and_the_modification_stamps() {
    let p = fold_onto(
        Some(payment()),
        vec![Event::KeySet(Some("k1".into())), Event::KeySet(None)],
    );
    assert_eq!(p.version, 3);
    assert_eq!(p.created_at, Timestamp(1_000));
    assert_eq!(p.last_modified_at, Timestamp(3_000));
    assert_eq!(p.last_modified_by, Actor::Client("client-3".into()));
}

#[test]
fn set_method_info_changes_the_given_fields_and_keeps_the_others() {
    let first = MethodInfoUpdate {
        payment_interface: Some("stripe".into()),
        method: Some("card".into()),
        ..MethodInfoUpdate::default()
    };
    let second = MethodInfoUpdate {
        token: Some("pm_1".into()),
        custom: Some(custom("type-method", &[])),
        ..MethodInfoUpdate::default()
    };
    check(
        vec![Event::MethodInfoSet(first), Event::MethodInfoSet(second)],
        |p| {
            let info = &mut p.payment_method_info;
            info.payment_interface = Some("stripe".into());
            info.method = Some("card".into());
            info.token = Some("pm_1".into());
            info.custom = Some(custom("type-method", &[]));
        },
    );
}

#[test]
fn a_custom_field_set_to_none_is_removed() {
    let events = vec![
        Event::CustomTypeSet(Some(custom("type-payment", &[("orderNumber", text("A"))]))),
        Event::CustomFieldSet {
            name: "note".into(),
            value: Some(text("n")),
        },
        Event::CustomFieldSet {
            name: "note".into(),
            value: None,
        },
    ];
    check(events, |p| {
        p.custom = Some(custom("type-payment", &[("orderNumber", text("A"))]))
    });
}

#[test]
fn authorization_without_an_amount_clears_until() {
    let events = vec![
        Event::AuthorizationSet {
            amount: Some(eur(5)),
            until: Some(Timestamp(9)),
        },
        Event::AuthorizationSet {
            amount: None,
            until: Some(Timestamp(9)),
        },
    ];
    check(events, |_| {});
}

#[test]
fn deletion_marks_the_payment_deleted() {
    check(vec![Event::Deleted { data_erasure: true }], |p| {
        p.deleted = true
    });
}

#[test]
fn each_payment_event_sets_the_field_it_names() {
    let name: crate::payment::LocalizedString = [("en".to_owned(), "Card".to_owned())].into();
    let typed = || Some(custom("type-payment", &[]));
    check(vec![Event::AmountPlannedChanged(usd(5))], |p| {
        p.amount_planned = usd(5)
    });
    check(vec![Event::KeySet(Some("k".into()))], |p| {
        p.key = Some("k".into())
    });
    check(vec![Event::CustomerSet(Some("c".into()))], |p| {
        p.customer_id = Some("c".into())
    });
    check(vec![Event::AnonymousIdSet(Some("a".into()))], |p| {
        p.anonymous_id = Some("a".into())
    });
    check(vec![Event::InterfaceIdSet("pi".into())], |p| {
        p.interface_id = Some("pi".into())
    });
    check(vec![Event::ExternalIdSet(Some("e".into()))], |p| {
        p.external_id = Some("e".into())
    });
    check(vec![Event::AmountPaidSet(Some(eur(1)))], |p| {
        p.amount_paid = Some(eur(1))
    });
    check(vec![Event::AmountRefundedSet(Some(eur(2)))], |p| {
        p.amount_refunded = Some(eur(2))
    });
    check(
        vec![Event::AuthorizationSet {
            amount: Some(eur(3)),
            until: Some(Timestamp(4)),
        }],
        |p| {
            p.amount_authorized = Some(eur(3));
            p.authorized_until = Some(Timestamp(4));
        },
    );
    check(vec![Event::MethodInfoInterfaceSet("stripe".into())], |p| {
        p.payment_method_info.payment_interface = Some("stripe".into())
    });
    check(vec![Event::MethodInfoMethodSet(Some("card".into()))], |p| {
        p.payment_method_info.method = Some("card".into())
    });
    check(vec![Event::MethodInfoNameSet(Some(name.clone()))], |p| {
        p.payment_method_info.name = Some(name)
    });
    check(vec![Event::MethodInfoTokenSet(Some("pm".into()))], |p| {
        p.payment_method_info.token = Some("pm".into())
    });
    check(
        vec![Event::MethodInfoInterfaceAccountSet(Some("ac".into()))],
        |p| p.payment_method_info.interface_account = Some("ac".into()),
    );
    check(vec![Event::MethodInfoCustomTypeSet(typed())], |p| {
        p.payment_method_info.custom = typed()
    });
    check(
        vec![
            Event::MethodInfoCustomTypeSet(typed()),
            Event::MethodInfoCustomFieldSet {
                name: "f".into(),
                value: Some(text("v")),
            },
        ],
        |p| p.payment_method_info.custom = Some(custom("type-payment", &[("f", text("v"))])),
    );
    check(
        vec![Event::StatusInterfaceCodeSet(Some("200".into()))],
        |p| p.payment_status.interface_code = Some("200".into()),
    );
    check(
        vec![Event::StatusInterfaceTextSet(Some("ok".into()))],
        |p| p.payment_status.interface_text = Some("ok".into()),
    );
    check(
        vec![Event::StateTransitioned {
            state_id: "s".into(),
            force: true,
        }],
        |p| p.payment_status.state_id = Some("s".into()),
    );
    check(vec![Event::CustomTypeSet(typed())], |p| p.custom = typed());
    let interaction = custom("type-interaction", &[("status", text("ok"))]);
    check(
        vec![Event::InterfaceInteractionAdded(interaction.clone())],
        |p| p.interface_interactions = vec![interaction],
    );
}

#[test]
fn each_transaction_event_changes_only_its_transaction() {
    let charge = Transaction {
        id: tx(1),
        timestamp: None,
        kind: TransactionType::Charge,
        amount: eur(5),
        interaction_id: None,
        interface_id: None,
        state: TransactionState::Initial,
        custom: None,
    };
    let refund = Transaction {
        id: tx(2),
        kind: TransactionType::Refund,
        ..charge.clone()
    };
    let before = fold_onto(
        Some(payment()),
        vec![
            Event::TransactionAdded(charge),
            Event::TransactionAdded(refund),
        ],
    );
    let on_refund = |event_of: fn(TransactionId) -> Event, change: fn(&mut Transaction)| {
        check_on(before.clone(), vec![event_of(tx(2))], |p| {
            p.transactions.update(tx(2), change);
        });
    };
    on_refund(
        |id| Event::TransactionStateChanged {
            transaction_id: id,
            state: TransactionState::Success,
        },
        |t| t.state = TransactionState::Success,
    );
    on_refund(
        |id| Event::TransactionTimestampChanged {
            transaction_id: id,
            timestamp: Timestamp(8),
        },
        |t| t.timestamp = Some(Timestamp(8)),
    );
    on_refund(
        |id| Event::TransactionInteractionIdChanged {
            transaction_id: id,
            interaction_id: "i".into(),
        },
        |t| t.interaction_id = Some("i".into()),
    );
    on_refund(
        |id| Event::TransactionInterfaceIdSet {
            transaction_id: id,
            interface_id: Some("re".into()),
        },
        |t| t.interface_id = Some("re".into()),
    );
    on_refund(
        |id| Event::TransactionCustomTypeSet {
            transaction_id: id,
            custom: Some(custom("type-txn", &[])),
        },
        |t| t.custom = Some(custom("type-txn", &[])),
    );
    let typed = fold_onto(
        Some(before.clone()),
        vec![Event::TransactionCustomTypeSet {
            transaction_id: tx(2),
            custom: Some(custom("type-txn", &[])),
        }],
    );
    let field = Event::TransactionCustomFieldSet {
        transaction_id: tx(2),
        name: "f".into(),
        value: Some(text("v")),
    };
    check_on(typed, vec![field], |p| {
        let custom = Some(custom("type-txn", &[("f", text("v"))]));
        p.transactions.update(tx(2), |t| t.custom = custom);
    });
}

#[test]
fn fold_of_an_empty_stream_is_nothing() {
    assert_eq!(fold(&[]), None);
}

#[test]
#[should_panic(expected = "cannot apply at v1")]
fn an_event_before_creation_is_a_broken_stream() {
    evolve(None, &envelope(1, Event::KeySet(None)));
}

#[test]
#[should_panic(expected = "stream version gap")]
fn a_version_gap_is_a_broken_stream() {
    evolve(Some(payment()), &envelope(3, Event::KeySet(None)));
}

#[test]
#[should_panic(expected = "after deletion")]
fn an_event_after_deletion_is_a_broken_stream() {
    let deleted = fold_onto(
        Some(payment()),
        vec![Event::Deleted {
            data_erasure: false,
        }],
    );
    evolve(Some(deleted), &envelope(3, Event::KeySet(None)));
}

#[test]
#[should_panic(expected = "does not have")]
fn an_event_for_a_missing_transaction_is_a_broken_stream() {
    let event = Event::TransactionStateChanged {
        transaction_id: tx(1),
        state: TransactionState::Pending,
    };
    fold_onto(Some(payment()), vec![event]);
}

// ------------------------------------------------------------ properties

fn pick(prefix: &'static str) -> impl Strategy<Value = String> {
    (0..3u8).prop_map(move |n| format!("{prefix}{n}"))
}

fn maybe(prefix: &'static str) -> impl Strategy<Value = Option<String>> {
    prop::option::of(pick(prefix))
}

fn any_money() -> impl Strategy<Value = Money> {
    (prop::bool::weighted(0.9), 0..3i64)
        .prop_map(|(euro, n)| if euro { eur(n * 100) } else { usd(n * 100) })
}

/// Transaction ids 1–5: the ones the first five `addTransaction`s get.
fn any_txn() -> impl Strategy<Value = TransactionId> {
    (1..=5u128).prop_map(tx)
}

fn any_state() -> impl Strategy<Value = TransactionState> {
    prop::sample::select(TransactionState::ALL.to_vec())
}

fn input(type_key: &str, entries: &[(&str, crate::payment::FieldValue)]) -> CustomFieldsInput {
    CustomFieldsInput {
        type_ref: ResourceRef::Key(type_key.into()),
        fields: fields(entries),
    }
}

fn transaction_actions() -> impl Strategy<Value = UpdateAction> {
    let kinds = prop::sample::select(TransactionType::ALL.to_vec());
    prop_oneof![
        (
            kinds,
            any_money(),
            maybe("pi"),
            prop::option::of(any_state())
        )
            .prop_map(|(kind, amount, interface_id, state)| {
                A::AddTransaction(TransactionDraftInput {
                    interface_id,
                    state,
                    ..TransactionDraftInput::new(kind, amount)
                })
            }),
        (any_txn(), any_state()).prop_map(|(transaction_id, state)| A::ChangeTransactionState {
            transaction_id,
            state
        }),
        (any_txn(), 0..3i64).prop_map(|(transaction_id, t)| A::ChangeTransactionTimestamp {
            transaction_id,
            timestamp: Timestamp(t)
        }),
        (any_txn(), pick("i")).prop_map(|(transaction_id, interaction_id)| {
            A::ChangeTransactionInteractionId {
                transaction_id,
                interaction_id,
            }
        }),
        (any_txn(), maybe("pi")).prop_map(|(transaction_id, interface_id)| {
            A::SetTransactionInterfaceId {
                transaction_id,
                interface_id,
            }
        }),
        (any_txn(), any::<bool>()).prop_map(|(transaction_id, set)| A::SetTransactionCustomType {
            transaction_id,
            custom: set.then(|| input("txn-fields", &[])),
        }),
        (any_txn(), maybe("psp")).prop_map(|(transaction_id, value)| {
            A::SetTransactionCustomField {
                transaction_id,
                name: "pspReference".into(),
                value: value.map(|v| text(&v)),
            }
        }),
    ]
}

fn method_info_actions() -> impl Strategy<Value = UpdateAction> {
    prop_oneof![
        pick("psp").prop_map(A::SetMethodInfoInterface),
        maybe("m").prop_map(A::SetMethodInfoMethod),
        maybe("n").prop_map(|n| A::SetMethodInfoName(n.map(|n| [("en".to_owned(), n)].into()))),
        maybe("tok").prop_map(A::SetMethodInfoToken),
        maybe("acct").prop_map(A::SetMethodInfoInterfaceAccount),
        any::<bool>().prop_map(|set| A::SetMethodInfoCustomType(
            set.then(|| input("method-fields", &[("brand", text("visa"))]))
        )),
        maybe("b").prop_map(|v| A::SetMethodInfoCustomField {
            name: "brand".into(),
            value: v.map(|v| text(&v))
        }),
        (maybe("psp"), maybe("m"), maybe("tok"), any::<bool>()).prop_map(
            |(payment_interface, method, token, custom)| {
                A::SetMethodInfo(MethodInfoInput {
                    payment_interface,
                    method,
                    token,
                    custom: custom.then(|| input("method-fields", &[])),
                    ..MethodInfoInput::default()
                })
            }
        ),
    ]
}

fn payment_actions() -> impl Strategy<Value = UpdateAction> {
    let custom_names = prop::sample::select(vec!["note", "orderNumber", "color"]);
    let colors = prop::option::of(prop::sample::select(vec!["red", "green", "blue"]));
    let states = prop::sample::select(vec!["open", "paid", "refunded"]);
    prop_oneof![
        pick("s").prop_map(|s| A::AddInterfaceInteraction(input(
            "interaction-fields",
            &[("status", text(&s))]
        ))),
        any_money().prop_map(A::ChangeAmountPlanned),
        maybe("key").prop_map(A::SetKey),
        maybe("c").prop_map(A::SetCustomer),
        maybe("anon").prop_map(A::SetAnonymousId),
        pick("pi").prop_map(A::SetInterfaceId),
        maybe("200").prop_map(A::SetStatusInterfaceCode),
        prop::option::of(prop::sample::select(vec!["", "ok", "declined"]))
            .prop_map(|t| A::SetStatusInterfaceText(t.map(str::to_owned))),
        any::<bool>().prop_map(|set| A::SetCustomType(
            set.then(|| input("payment-fields", &[("orderNumber", text("A"))]))
        )),
        (custom_names, colors).prop_map(|(name, value)| A::SetCustomField {
            name: name.into(),
            value: value.map(text)
        }),
        (states, any::<bool>()).prop_map(|(key, force)| A::TransitionState {
            state: ResourceRef::Key(key.into()),
            force
        }),
        prop::option::of(any_money()).prop_map(A::SetAmountPaid),
        prop::option::of(any_money()).prop_map(A::SetAmountRefunded),
        (prop::option::of(any_money()), prop::option::of(0..3i64)).prop_map(|(amount, until)| {
            A::SetAuthorization {
                amount,
                until: until.map(Timestamp),
            }
        }),
        maybe("ext").prop_map(A::SetExternalId),
    ]
}

fn any_action() -> impl Strategy<Value = UpdateAction> {
    prop_oneof![
        transaction_actions(),
        method_info_actions(),
        payment_actions()
    ]
}

/// Decides `actions` one request each, folding as it goes. Each accepted
/// action must then be settled: deciding it again right away changes
/// nothing, which holds only if folding its event really did what deciding
/// meant (adding is never settled; removing a custom field twice is
/// refused).
fn one_by_one(
    mut state: Payment,
    actions: &[UpdateAction],
    ctx: &mut Context<'_>,
) -> Result<Vec<Event>, Rejection> {
    let mut all = Vec::new();
    for action in actions {
        let once = std::slice::from_ref(action);
        let events = decide_update(&state, once, ctx)?;
        state = fold_onto(Some(state), events.clone());
        all.extend(events);
        let mut scratch_ids = CountingIds::starting_after(u128::from(u64::MAX));
        let mut scratch = Context {
            catalog: ctx.catalog,
            ids: &mut scratch_ids,
        };
        let again = decide_update(&state, once, &mut scratch);
        assert!(is_settled(action, &again), "{action:?} then {again:?}");
    }
    Ok(all)
}

fn is_settled(action: &UpdateAction, again: &Result<Vec<Event>, Rejection>) -> bool {
    let removes_field = matches!(
        action,
        A::SetCustomField { value: None, .. }
            | A::SetMethodInfoCustomField { value: None, .. }
            | A::SetTransactionCustomField { value: None, .. }
    );
    match again {
        _ if matches!(action, A::AddTransaction(_) | A::AddInterfaceInteraction(_)) => true,
        Ok(events) => events.is_empty(),
        Err(Rejection::RemovingMissingCustomField { .. }) => removes_field,
        Err(_) => false,
    }
}

/// The payment's fields, without version and modification stamps.
fn fields_of(payment: &Payment) -> Payment {
    let mut p = payment.clone();
    p.version = 0;
    p.last_modified_at = Timestamp(0);
    p.last_modified_by = Actor::Internal(String::new());
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Replay equals state: for random requests of random actions, folding
    /// the decided events gives the state decide worked against, the whole
    /// log replays to the live state, and the version counts the events.
    /// A request decides as its actions would one request at a time.
    #[test]
    fn replaying_decided_events_reproduces_the_state(
        requests in prop::collection::vec(prop::collection::vec(any_action(), 1..6), 1..30),
        delete in any::<bool>(),
    ) {
        let catalog = catalog();
        let mut ids = CountingIds::default();
        let mut state = payment();
        let mut log = vec![envelope(1, fold_created_event())];
        for actions in &requests {
            let mut single_ids = ids.clone();
            let mut ctx = Context { catalog: &catalog, ids: &mut single_ids };
            let singly = one_by_one(state.clone(), actions, &mut ctx);
            let mut ctx = Context { catalog: &catalog, ids: &mut ids };
            let decided = decide_update_with_state(&state, actions, &mut ctx);
            prop_assert_eq!(decided.as_ref().map(|(events, _)| events), singly.as_ref());
            let Ok((events, working)) = decided else { continue };
            let before = state.clone();
            for event in events {
                let next = envelope(state.version + 1, event);
                state = evolve(Some(state), &next);
                log.push(next);
            }
            prop_assert_eq!(fields_of(&state), fields_of(&working));
            // What the write path keeps instead of folding the events again.
            let stamped = match log.last() {
                Some(last) if state.version > before.version => {
                    crate::evolve::stamp_decided(working, last.version, &last.meta)
                }
                _ => working,
            };
            prop_assert_eq!(&stamped, &state);
        }
        if delete {
            let next = envelope(state.version + 1, crate::decide::decide_delete(&state, false).unwrap());
            state = evolve(Some(state), &next);
            log.push(next);
        }
        prop_assert_eq!(fold(&log), Some(state.clone()));
        prop_assert_eq!(state.version, log.len() as u64);
    }
}

/// The creation event of [`payment`].
fn fold_created_event() -> Event {
    let catalog = catalog();
    let mut ids = CountingIds::default();
    let mut ctx = Context {
        catalog: &catalog,
        ids: &mut ids,
    };
    crate::decide::decide_create(&crate::command::PaymentDraftInput::new(eur(1000)), &mut ctx)
        .unwrap()
}
