//! The rules of every update action, written as specifications: a payment,
//! the actions, and the events or the rejection they must give.

use super::*;
use crate::command::{
    CustomFieldsInput, MethodInfoInput, PaymentDraftInput, PaymentStatusInput, ResourceRef,
    TransactionDraftInput, UpdateAction as A,
};
use crate::event::MethodInfoUpdate;
use crate::money::CurrencyCode;
use crate::payment::{
    CustomFields, FieldValue, LocalizedString, Timestamp, Transaction, TransactionState,
    TransactionType,
};
use crate::rejection::RejectionCode;
use crate::testkit::*;
use crate::types::{FieldType, StateType};

type Expect = Result<Vec<Event>, Rejection>;

/// Decides `actions` against `payment` and compares with `expect`. When the
/// actions are accepted, the events must also fold onto the payment with
/// exactly one version per event.
fn check(payment: &Payment, actions: &[UpdateAction], expect: Expect) {
    let catalog = catalog();
    let mut ids = ids_after(payment);
    let mut ctx = Context {
        catalog: &catalog,
        ids: &mut ids,
    };
    let got = decide_update(payment, actions, &mut ctx);
    assert_eq!(got, expect, "actions: {actions:?}");
    if let Ok(events) = got {
        let count = events.len() as u64;
        let folded = fold_onto(Some(payment.clone()), events);
        assert_eq!(folded.version, payment.version + count);
    }
}

/// Decides the creation of `draft` and compares with `expect`.
fn check_create(draft: &PaymentDraftInput, expect: Result<Event, Rejection>) {
    let catalog = catalog();
    let mut ids = CountingIds::default();
    let mut ctx = Context {
        catalog: &catalog,
        ids: &mut ids,
    };
    assert_eq!(decide_create(draft, &mut ctx), expect, "draft: {draft:?}");
}

fn nothing() -> Expect {
    Ok(vec![])
}

fn by_key(key: &str) -> ResourceRef {
    ResourceRef::Key(key.to_owned())
}

fn by_id(id: &str) -> ResourceRef {
    ResourceRef::Id(id.to_owned())
}

fn custom_input(type_key: &str, entries: &[(&str, FieldValue)]) -> CustomFieldsInput {
    CustomFieldsInput {
        type_ref: by_key(type_key),
        fields: fields(entries),
    }
}

fn custom(type_id: &str, entries: &[(&str, FieldValue)]) -> CustomFields {
    CustomFields {
        type_id: type_id.to_owned(),
        fields: fields(entries),
    }
}

fn some(text: &str) -> Option<String> {
    Some(text.to_owned())
}

fn charge(cents: i64) -> TransactionDraftInput {
    TransactionDraftInput::new(TransactionType::Charge, eur(cents))
}

fn add(draft: TransactionDraftInput) -> UpdateAction {
    A::AddTransaction(draft)
}

/// A payment with one Initial charge (id `tx(1)`, interface id `pi_1`).
fn with_charge() -> Payment {
    let mut draft = charge(1000);
    draft.interface_id = some("pi_1");
    after(payment(), &[add(draft)])
}

/// A payment whose custom fields use `payment-fields`.
fn with_custom() -> Payment {
    let input = custom_input("payment-fields", &[("orderNumber", text("A-1"))]);
    after(payment(), &[A::SetCustomType(Some(input))])
}

// ---------------------------------------------------------------- create

#[test]
fn create_assigns_transaction_ids_and_defaults_the_state_to_initial() {
    let mut draft = PaymentDraftInput::new(eur(1000));
    draft.transactions = vec![charge(400), charge(600)];
    let Ok(Event::Created(created)) = decide_create(
        &draft,
        &mut Context {
            catalog: &catalog(),
            ids: &mut CountingIds::default(),
        },
    ) else {
        panic!("draft refused");
    };
    let ids: Vec<_> = created
        .transactions
        .iter()
        .map(|t| (t.id, t.state))
        .collect();
    assert_eq!(
        ids,
        [
            (tx(1), TransactionState::Initial),
            (tx(2), TransactionState::Initial)
        ]
    );
}

#[test]
fn create_resolves_types_and_states_by_key_to_their_ids() {
    let mut draft = PaymentDraftInput::new(eur(1000));
    draft.custom = Some(custom_input(
        "payment-fields",
        &[("orderNumber", text("A-1"))],
    ));
    draft.payment_status = PaymentStatusInput {
        state: Some(by_key("paid")),
        ..PaymentStatusInput::default()
    };
    draft.interface_interactions = vec![custom_input(
        "interaction-fields",
        &[("status", text("ok"))],
    )];
    let payment = created(&draft);
    assert_eq!(
        payment.custom,
        Some(custom("type-payment", &[("orderNumber", text("A-1"))]))
    );
    assert_eq!(payment.payment_status.state_id, some("state-paid"));
    assert_eq!(
        payment.interface_interactions[0].type_id,
        "type-interaction"
    );
    assert_eq!((payment.version, payment.deleted), (1, false));
}

#[test]
fn create_refuses_what_the_update_actions_would_refuse() {
    let base = PaymentDraftInput::new(eur(1000));
    let cases: Vec<(PaymentDraftInput, Rejection)> = vec![
        (
            PaymentDraftInput {
                key: some("a"),
                ..base.clone()
            },
            Rejection::KeyInvalid { key: "a".into() },
        ),
        (
            PaymentDraftInput {
                transactions: vec![TransactionDraftInput::new(TransactionType::Charge, usd(5))],
                ..base.clone()
            },
            Rejection::CurrencyMismatch {
                expected: eur(0).currency,
                actual: usd(0).currency,
            },
        ),
        (
            PaymentDraftInput {
                transactions: vec![
                    TransactionDraftInput {
                        interface_id: some("pi"),
                        ..charge(1)
                    },
                    TransactionDraftInput {
                        interface_id: some("pi"),
                        ..charge(2)
                    },
                ],
                ..base.clone()
            },
            Rejection::DuplicateTransactionInterfaceId {
                interface_id: "pi".into(),
            },
        ),
        (
            PaymentDraftInput {
                custom: Some(custom_input("nope", &[])),
                ..base.clone()
            },
            Rejection::TypeNotFound { by: by_key("nope") },
        ),
        (
            PaymentDraftInput {
                custom: Some(custom_input("payment-fields", &[])),
                ..base.clone()
            },
            Rejection::CustomFieldRequiredMissing {
                name: "orderNumber".into(),
            },
        ),
        (
            PaymentDraftInput {
                payment_method_info: MethodInfoInput {
                    custom: Some(custom_input("txn-fields", &[])),
                    ..MethodInfoInput::default()
                },
                ..base.clone()
            },
            Rejection::TypeNotForResource {
                type_key: "txn-fields".into(),
                resource: CustomResource::PaymentMethodInfo,
            },
        ),
        (
            PaymentDraftInput {
                payment_status: PaymentStatusInput {
                    state: Some(by_key("order-open")),
                    ..PaymentStatusInput::default()
                },
                ..base.clone()
            },
            Rejection::StateNotPaymentState {
                key: "order-open".into(),
                state_type: StateType::OrderState,
            },
        ),
        (
            PaymentDraftInput {
                payment_status: PaymentStatusInput {
                    state: Some(by_id("gone")),
                    ..PaymentStatusInput::default()
                },
                ..base.clone()
            },
            Rejection::StateNotFound { by: by_id("gone") },
        ),
    ];
    for (draft, rejection) in cases {
        check_create(&draft, Err(rejection));
    }
}

// ---------------------------------------------------------- transactions

#[test]
fn add_transaction_assigns_an_id_and_defaults_to_initial() {
    let expected = Transaction {
        id: tx(1),
        timestamp: None,
        kind: TransactionType::Charge,
        amount: eur(500),
        interaction_id: None,
        interface_id: None,
        state: TransactionState::Initial,
        custom: None,
    };
    check(
        &payment(),
        &[add(charge(500))],
        Ok(vec![Event::TransactionAdded(expected)]),
    );
}

#[test]
fn add_transaction_keeps_a_given_state_and_resolves_its_custom_type() {
    let draft = TransactionDraftInput {
        state: Some(TransactionState::Success),
        custom: Some(custom_input(
            "txn-fields",
            &[("pspReference", text("ch_1"))],
        )),
        ..charge(500)
    };
    let p = after(payment(), &[add(draft)]);
    assert_eq!(p.transactions[0].state, TransactionState::Success);
    assert_eq!(
        p.transactions[0].custom,
        Some(custom("type-txn", &[("pspReference", text("ch_1"))]))
    );
}

#[test]
fn add_transaction_needs_the_payment_currency_and_a_free_interface_id() {
    let foreign = TransactionDraftInput::new(TransactionType::Refund, usd(5));
    let expected = eur(0).currency;
    check(
        &payment(),
        &[add(foreign)],
        Err(Rejection::CurrencyMismatch {
            expected,
            actual: usd(0).currency,
        }),
    );
    let clash = TransactionDraftInput {
        interface_id: some("pi_1"),
        ..charge(5)
    };
    check(
        &with_charge(),
        &[add(clash)],
        Err(Rejection::DuplicateTransactionInterfaceId {
            interface_id: "pi_1".into(),
        }),
    );
}

#[test]
fn a_later_action_sees_a_transaction_added_by_an_earlier_one() {
    let actions = [
        add(charge(500)),
        A::ChangeTransactionState {
            transaction_id: tx(1),
            state: TransactionState::Success,
        },
    ];
    let p = after(payment(), &actions);
    assert_eq!(p.transactions[0].state, TransactionState::Success);
    assert_eq!(p.version, 3);
}

#[test]
fn transaction_actions_on_an_unknown_transaction_are_refused() {
    let unknown = tx(99);
    let not_found = || {
        Err(Rejection::TransactionNotFound {
            id: unknown.to_string(),
        })
    };
    let actions = [
        A::ChangeTransactionState {
            transaction_id: unknown,
            state: TransactionState::Failure,
        },
        A::ChangeTransactionTimestamp {
            transaction_id: unknown,
            timestamp: Timestamp(5),
        },
        A::ChangeTransactionInteractionId {
            transaction_id: unknown,
            interaction_id: "i".into(),
        },
        A::SetTransactionInterfaceId {
            transaction_id: unknown,
            interface_id: None,
        },
        A::SetTransactionCustomType {
            transaction_id: unknown,
            custom: None,
        },
        A::SetTransactionCustomField {
            transaction_id: unknown,
            name: "pspReference".into(),
            value: None,
        },
    ];
    for action in actions {
        check(&with_charge(), &[action], not_found());
    }
}

#[test]
fn change_transaction_state_goes_anywhere_but_the_same_state_is_a_no_op() {
    let p = with_charge();
    for state in [
        TransactionState::Pending,
        TransactionState::Success,
        TransactionState::Failure,
    ] {
        let action = A::ChangeTransactionState {
            transaction_id: tx(1),
            state,
        };
        check(
            &p,
            &[action],
            Ok(vec![Event::TransactionStateChanged {
                transaction_id: tx(1),
                state,
            }]),
        );
    }
    let same = A::ChangeTransactionState {
        transaction_id: tx(1),
        state: TransactionState::Initial,
    };
    check(&p, &[same], nothing());
    let failed = after(
        p,
        &[A::ChangeTransactionState {
            transaction_id: tx(1),
            state: TransactionState::Failure,
        }],
    );
    let back = A::ChangeTransactionState {
        transaction_id: tx(1),
        state: TransactionState::Initial,
    };
    let event = Event::TransactionStateChanged {
        transaction_id: tx(1),
        state: TransactionState::Initial,
    };
    check(&failed, &[back], Ok(vec![event]));
}

#[test]
fn change_transaction_timestamp_and_interaction_id_skip_equal_values() {
    let p = after(
        with_charge(),
        &[
            A::ChangeTransactionTimestamp {
                transaction_id: tx(1),
                timestamp: Timestamp(7),
            },
            A::ChangeTransactionInteractionId {
                transaction_id: tx(1),
                interaction_id: "i-1".into(),
            },
        ],
    );
    assert_eq!(p.transactions[0].timestamp, Some(Timestamp(7)));
    assert_eq!(p.transactions[0].interaction_id, some("i-1"));
    check(
        &p,
        &[A::ChangeTransactionTimestamp {
            transaction_id: tx(1),
            timestamp: Timestamp(7),
        }],
        nothing(),
    );
    check(
        &p,
        &[A::ChangeTransactionInteractionId {
            transaction_id: tx(1),
            interaction_id: "i-1".into(),
        }],
        nothing(),
    );
}

#[test]
fn set_transaction_interface_id_is_unique_within_the_payment_and_absent_removes() {
    let p = after(with_charge(), &[add(charge(5))]);
    let set = |id: u128, value: Option<String>| A::SetTransactionInterfaceId {
        transaction_id: tx(id),
        interface_id: value,
    };
    check(
        &p,
        &[set(2, some("pi_1"))],
        Err(Rejection::DuplicateTransactionInterfaceId {
            interface_id: "pi_1".into(),
        }),
    );
    check(&p, &[set(1, some("pi_1"))], nothing());
    check(
        &p,
        &[set(1, None)],
        Ok(vec![Event::TransactionInterfaceIdSet {
            transaction_id: tx(1),
            interface_id: None,
        }]),
    );
    // Freed by the first action, taken by the second.
    let p = after(p, &[set(1, None), set(2, some("pi_1"))]);
    assert_eq!(p.transactions[1].interface_id, some("pi_1"));
}

#[test]
fn transaction_custom_type_and_fields_follow_the_custom_field_rules() {
    let p = with_charge();
    let field = |value: Option<FieldValue>| A::SetTransactionCustomField {
        transaction_id: tx(1),
        name: "pspReference".into(),
        value,
    };
    check(
        &p,
        &[field(Some(text("x")))],
        Err(Rejection::CustomTypeNotSet {
            resource: CustomResource::Transaction,
        }),
    );
    let set_type = |key: &str| A::SetTransactionCustomType {
        transaction_id: tx(1),
        custom: Some(custom_input(key, &[])),
    };
    check(
        &p,
        &[set_type("payment-fields")],
        Err(Rejection::TypeNotForResource {
            type_key: "payment-fields".into(),
            resource: CustomResource::Transaction,
        }),
    );
    let typed = after(p, &[set_type("txn-fields")]);
    check(&typed, &[set_type("txn-fields")], nothing());
    check(
        &typed,
        &[field(Some(text("ch_9")))],
        Ok(vec![Event::TransactionCustomFieldSet {
            transaction_id: tx(1),
            name: "pspReference".into(),
            value: Some(text("ch_9")),
        }]),
    );
    check(
        &typed,
        &[field(None)],
        Err(Rejection::RemovingMissingCustomField {
            name: "pspReference".into(),
        }),
    );
    let untyped = A::SetTransactionCustomType {
        transaction_id: tx(1),
        custom: None,
    };
    check(
        &typed,
        &[untyped],
        Ok(vec![Event::TransactionCustomTypeSet {
            transaction_id: tx(1),
            custom: None,
        }]),
    );
}

// ------------------------------------------------- payment-level fields

#[test]
fn add_interface_interaction_needs_an_interaction_type_and_its_required_fields() {
    let ok = custom_input("interaction-fields", &[("status", text("succeeded"))]);
    let event = Event::InterfaceInteractionAdded(custom(
        "type-interaction",
        &[("status", text("succeeded"))],
    ));
    check(
        &payment(),
        &[A::AddInterfaceInteraction(ok.clone())],
        Ok(vec![event]),
    );
    // Every interaction is a change, even a repeated one.
    assert_eq!(
        after(
            payment(),
            &[
                A::AddInterfaceInteraction(ok.clone()),
                A::AddInterfaceInteraction(ok)
            ]
        )
        .version,
        3
    );
    check(
        &payment(),
        &[A::AddInterfaceInteraction(custom_input(
            "interaction-fields",
            &[],
        ))],
        Err(Rejection::CustomFieldRequiredMissing {
            name: "status".into(),
        }),
    );
    check(
        &payment(),
        &[A::AddInterfaceInteraction(CustomFieldsInput {
            type_ref: by_id("type-payment"),
            fields: fields(&[]),
        })],
        Err(Rejection::TypeNotForResource {
            type_key: "payment-fields".into(),
            resource: CustomResource::PaymentInterfaceInteraction,
        }),
    );
}

#[test]
fn change_amount_planned_keeps_the_currency_once_transactions_exist() {
    check(&payment(), &[A::ChangeAmountPlanned(eur(1000))], nothing());
    check(
        &payment(),
        &[A::ChangeAmountPlanned(eur(1200))],
        Ok(vec![Event::AmountPlannedChanged(eur(1200))]),
    );
    check(
        &payment(),
        &[A::ChangeAmountPlanned(usd(1200))],
        Ok(vec![Event::AmountPlannedChanged(usd(1200))]),
    );
    check(
        &with_charge(),
        &[A::ChangeAmountPlanned(usd(1200))],
        Err(Rejection::CurrencyMismatch {
            expected: eur(0).currency,
            actual: usd(0).currency,
        }),
    );
}

#[test]
fn set_key_validates_the_key_and_absent_removes_it() {
    check(
        &payment(),
        &[A::SetKey(some("order-1_a"))],
        Ok(vec![Event::KeySet(some("order-1_a"))]),
    );
    check(&payment(), &[A::SetKey(None)], nothing());
    let keyed = after(payment(), &[A::SetKey(some("k1"))]);
    check(&keyed, &[A::SetKey(some("k1"))], nothing());
    check(&keyed, &[A::SetKey(None)], Ok(vec![Event::KeySet(None)]));
    for bad in ["a", "has space", "ümlaut", &"x".repeat(KEY_CHARS_MAX + 1)] {
        check(
            &payment(),
            &[A::SetKey(some(bad))],
            Err(Rejection::KeyInvalid { key: bad.into() }),
        );
    }
    assert_eq!(validate_key(&"x".repeat(KEY_CHARS_MAX)), Ok(()));
}

#[test]
fn an_anonymous_id_cannot_be_set_while_a_customer_is_set() {
    let p = after(payment(), &[A::SetCustomer(some("c-1"))]);
    check(&p, &[A::SetCustomer(some("c-1"))], nothing());
    check(
        &p,
        &[A::SetAnonymousId(some("anon"))],
        Err(Rejection::AnonymousIdWithCustomer),
    );
    check(&p, &[A::SetAnonymousId(None)], nothing());
    let p = after(p, &[A::SetCustomer(None), A::SetAnonymousId(some("anon"))]);
    assert_eq!((p.customer_id, p.anonymous_id), (None, some("anon")));
}

#[test]
fn interface_ids_are_set_once() {
    check(
        &payment(),
        &[A::SetInterfaceId("pi_1".into())],
        Ok(vec![Event::InterfaceIdSet("pi_1".into())]),
    );
    let p = after(
        payment(),
        &[
            A::SetInterfaceId("pi_1".into()),
            A::SetMethodInfoInterface("stripe".into()),
        ],
    );
    check(&p, &[A::SetInterfaceId("pi_1".into())], nothing());
    check(
        &p,
        &[A::SetInterfaceId("pi_2".into())],
        Err(Rejection::InterfaceIdAlreadySet {
            current: "pi_1".into(),
        }),
    );
    check(&p, &[A::SetMethodInfoInterface("stripe".into())], nothing());
    check(
        &p,
        &[A::SetMethodInfoInterface("adyen".into())],
        Err(Rejection::MethodInfoInterfaceAlreadySet {
            current: "stripe".into(),
        }),
    );
}

#[test]
fn method_info_setters_set_remove_and_skip_equal_values() {
    let name: Option<LocalizedString> = Some([("en".to_owned(), "Card".to_owned())].into());
    let cases: Vec<(UpdateAction, Event)> = vec![
        (
            A::SetMethodInfoMethod(some("card")),
            Event::MethodInfoMethodSet(some("card")),
        ),
        (
            A::SetMethodInfoName(name.clone()),
            Event::MethodInfoNameSet(name),
        ),
        (
            A::SetMethodInfoToken(some("pm_1")),
            Event::MethodInfoTokenSet(some("pm_1")),
        ),
        (
            A::SetMethodInfoInterfaceAccount(some("acct")),
            Event::MethodInfoInterfaceAccountSet(some("acct")),
        ),
        (
            A::SetStatusInterfaceCode(some("200")),
            Event::StatusInterfaceCodeSet(some("200")),
        ),
        (
            A::SetStatusInterfaceText(some("ok")),
            Event::StatusInterfaceTextSet(some("ok")),
        ),
        (
            A::SetExternalId(some("ext")),
            Event::ExternalIdSet(some("ext")),
        ),
        (
            A::SetAmountPaid(Some(eur(5))),
            Event::AmountPaidSet(Some(eur(5))),
        ),
        (
            A::SetAmountRefunded(Some(eur(5))),
            Event::AmountRefundedSet(Some(eur(5))),
        ),
    ];
    for (action, event) in cases {
        check(
            &payment(),
            std::slice::from_ref(&action),
            Ok(vec![event.clone()]),
        );
        let set = after(payment(), std::slice::from_ref(&action));
        check(&set, &[action], nothing());
    }
    let removals = [
        (
            A::SetMethodInfoMethod(None),
            Event::MethodInfoMethodSet(None),
        ),
        (
            A::SetStatusInterfaceText(some("")),
            Event::StatusInterfaceTextSet(None),
        ),
        (A::SetAmountPaid(None), Event::AmountPaidSet(None)),
    ];
    let full = after(
        payment(),
        &[
            A::SetMethodInfoMethod(some("card")),
            A::SetStatusInterfaceText(some("ok")),
            A::SetAmountPaid(Some(eur(1))),
        ],
    );
    for (action, event) in removals {
        check(&full, std::slice::from_ref(&action), Ok(vec![event]));
        check(&payment(), &[action], nothing());
    }
}

#[test]
fn set_method_info_records_only_the_fields_that_change() {
    let p = after(
        payment(),
        &[
            A::SetMethodInfoInterface("stripe".into()),
            A::SetMethodInfoMethod(some("card")),
        ],
    );
    let input = MethodInfoInput {
        payment_interface: some("stripe"),
        method: some("card"),
        token: some("pm_1"),
        custom: Some(custom_input("method-fields", &[("last4", number("4242"))])),
        ..MethodInfoInput::default()
    };
    let update = MethodInfoUpdate {
        token: some("pm_1"),
        custom: Some(custom("type-method", &[("last4", number("4242"))])),
        ..MethodInfoUpdate::default()
    };
    check(
        &p,
        &[A::SetMethodInfo(input.clone())],
        Ok(vec![Event::MethodInfoSet(update)]),
    );
    let set = after(p.clone(), &[A::SetMethodInfo(input.clone())]);
    assert_eq!(
        set.payment_method_info.method,
        some("card"),
        "omitted fields stay"
    );
    check(&set, &[A::SetMethodInfo(input)], nothing());
    check(
        &set,
        &[A::SetMethodInfo(MethodInfoInput::default())],
        nothing(),
    );
    let other = MethodInfoInput {
        payment_interface: some("adyen"),
        ..MethodInfoInput::default()
    };
    check(
        &p,
        &[A::SetMethodInfo(other)],
        Err(Rejection::MethodInfoInterfaceAlreadySet {
            current: "stripe".into(),
        }),
    );
}

#[test]
fn set_authorization_without_an_amount_removes_both_fields() {
    let set = A::SetAuthorization {
        amount: Some(eur(5)),
        until: Some(Timestamp(9)),
    };
    let p = after(payment(), std::slice::from_ref(&set));
    assert_eq!(
        (p.amount_authorized.clone(), p.authorized_until),
        (Some(eur(5)), Some(Timestamp(9)))
    );
    check(&p, &[set], nothing());
    let clear = A::SetAuthorization {
        amount: None,
        until: Some(Timestamp(9)),
    };
    check(
        &p,
        std::slice::from_ref(&clear),
        Ok(vec![Event::AuthorizationSet {
            amount: None,
            until: None,
        }]),
    );
    check(&payment(), &[clear], nothing());
}

// ---------------------------------------------------------- custom fields

#[test]
fn set_custom_type_resolves_the_type_and_checks_every_field() {
    let set = |entries: &[(&str, FieldValue)]| {
        A::SetCustomType(Some(custom_input("payment-fields", entries)))
    };
    let event = Event::CustomTypeSet(Some(custom(
        "type-payment",
        &[("orderNumber", text("A-1"))],
    )));
    check(
        &payment(),
        &[set(&[("orderNumber", text("A-1"))])],
        Ok(vec![event]),
    );
    check(
        &with_custom(),
        &[set(&[("orderNumber", text("A-1"))])],
        nothing(),
    );
    check(
        &with_custom(),
        &[A::SetCustomType(None)],
        Ok(vec![Event::CustomTypeSet(None)]),
    );
    check(&payment(), &[A::SetCustomType(None)], nothing());
    check(
        &payment(),
        &[set(&[])],
        Err(Rejection::CustomFieldRequiredMissing {
            name: "orderNumber".into(),
        }),
    );
    check(
        &payment(),
        &[set(&[("orderNumber", text("A-1")), ("flag", text("yes"))])],
        Err(Rejection::CustomFieldInvalid {
            name: "flag".into(),
            value: text("yes"),
            expected: FieldType::Boolean,
        }),
    );
    check(
        &payment(),
        &[set(&[("orderNumber", text("A-1")), ("extra", text("x"))])],
        Err(Rejection::CustomFieldUndefined {
            name: "extra".into(),
            type_key: "payment-fields".into(),
            value: text("x"),
        }),
    );
    check(
        &payment(),
        &[A::SetCustomType(Some(CustomFieldsInput {
            type_ref: by_id("missing"),
            fields: fields(&[]),
        }))],
        Err(Rejection::TypeNotFound {
            by: by_id("missing"),
        }),
    );
    check(
        &payment(),
        &[A::SetCustomType(Some(custom_input("order-fields", &[])))],
        Err(Rejection::TypeNotForResource {
            type_key: "order-fields".into(),
            resource: CustomResource::Payment,
        }),
    );
}

#[test]
fn set_custom_field_sets_replaces_and_removes_fields() {
    let set = |name: &str, value: Option<FieldValue>| A::SetCustomField {
        name: name.into(),
        value,
    };
    let event = |name: &str, value: Option<FieldValue>| Event::CustomFieldSet {
        name: name.into(),
        value,
    };
    check(
        &payment(),
        &[set("note", Some(text("n")))],
        Err(Rejection::CustomTypeNotSet {
            resource: CustomResource::Payment,
        }),
    );
    let p = with_custom();
    check(
        &p,
        &[set("note", Some(text("n")))],
        Ok(vec![event("note", Some(text("n")))]),
    );
    check(&p, &[set("orderNumber", Some(text("A-1")))], nothing());
    check(
        &p,
        &[set("orderNumber", Some(text("A-2")))],
        Ok(vec![event("orderNumber", Some(text("A-2")))]),
    );
    check(
        &p,
        &[set("color", Some(text("red")))],
        Ok(vec![event("color", Some(text("red")))]),
    );
    let blue = Rejection::CustomFieldInvalid {
        name: "color".into(),
        value: text("blue"),
        expected: FieldType::Enum {
            keys: vec!["red".into(), "green".into()],
        },
    };
    check(&p, &[set("color", Some(text("blue")))], Err(blue));
    check(
        &p,
        &[set("note", None)],
        Err(Rejection::RemovingMissingCustomField {
            name: "note".into(),
        }),
    );
    check(
        &p,
        &[set("orderNumber", None)],
        Err(Rejection::CustomFieldRequiredMissing {
            name: "orderNumber".into(),
        }),
    );
    let noted = after(p, &[set("note", Some(text("n")))]);
    check(&noted, &[set("note", None)], Ok(vec![event("note", None)]));
}

#[test]
fn method_info_custom_fields_use_method_info_types() {
    let set_type = A::SetMethodInfoCustomType(Some(custom_input(
        "method-fields",
        &[("brand", text("visa"))],
    )));
    let p = after(payment(), std::slice::from_ref(&set_type));
    check(&p, &[set_type], nothing());
    let field = A::SetMethodInfoCustomField {
        name: "last4".into(),
        value: Some(number("4242")),
    };
    check(
        &p,
        &[field],
        Ok(vec![Event::MethodInfoCustomFieldSet {
            name: "last4".into(),
            value: Some(number("4242")),
        }]),
    );
    check(
        &payment(),
        &[A::SetMethodInfoCustomField {
            name: "last4".into(),
            value: None,
        }],
        Err(Rejection::CustomTypeNotSet {
            resource: CustomResource::PaymentMethodInfo,
        }),
    );
}

// ------------------------------------------------------------ states

fn transition(key: &str, force: bool) -> UpdateAction {
    A::TransitionState {
        state: by_key(key),
        force,
    }
}

fn transitioned(id: &str, force: bool) -> Expect {
    Ok(vec![Event::StateTransitioned {
        state_id: id.into(),
        force,
    }])
}

#[test]
fn a_payment_without_a_state_enters_an_initial_state_unless_forced() {
    check(
        &payment(),
        &[transition("open", false)],
        transitioned("state-open", false),
    );
    check(
        &payment(),
        &[transition("paid", false)],
        Err(Rejection::StateNotInitial { key: "paid".into() }),
    );
    check(
        &payment(),
        &[transition("paid", true)],
        transitioned("state-paid", true),
    );
}

#[test]
fn transitions_follow_the_current_state_unless_forced() {
    let open = after(payment(), &[transition("open", false)]);
    check(
        &open,
        &[transition("paid", false)],
        transitioned("state-paid", false),
    );
    check(
        &open,
        &[transition("refunded", false)],
        Err(Rejection::TransitionNotAllowed {
            from: "open".into(),
            to: "refunded".into(),
        }),
    );
    check(
        &open,
        &[transition("refunded", true)],
        transitioned("state-refunded", true),
    );
    check(&open, &[transition("open", false)], nothing());
    let paid = after(open, &[transition("paid", false)]);
    check(
        &paid,
        &[A::TransitionState {
            state: by_id("state-refunded"),
            force: false,
        }],
        transitioned("state-refunded", false),
    );
}

#[test]
fn the_target_must_be_an_existing_payment_state_even_when_forced() {
    check(
        &payment(),
        &[transition("order-open", true)],
        Err(Rejection::StateNotPaymentState {
            key: "order-open".into(),
            state_type: StateType::OrderState,
        }),
    );
    check(
        &payment(),
        &[transition("nope", true)],
        Err(Rejection::StateNotFound { by: by_key("nope") }),
    );
}

// ------------------------------------------------ requests as a whole

#[test]
fn a_request_is_all_or_nothing() {
    let actions = [
        A::SetKey(some("k1")),
        A::SetInterfaceId("pi".into()),
        A::ChangeTransactionState {
            transaction_id: tx(9),
            state: TransactionState::Success,
        },
    ];
    check(
        &payment(),
        &actions,
        Err(Rejection::TransactionNotFound {
            id: tx(9).to_string(),
        }),
    );
}

#[test]
fn no_op_actions_give_no_events_between_real_changes() {
    let actions = [
        A::SetKey(some("k1")),
        A::SetKey(some("k1")),
        A::SetKey(None),
        A::SetKey(None),
    ];
    check(
        &payment(),
        &actions,
        Ok(vec![Event::KeySet(some("k1")), Event::KeySet(None)]),
    );
}

#[test]
fn at_most_500_actions_per_request() {
    let actions = vec![A::SetKey(None); ACTIONS_PER_REQUEST_MAX];
    check(&payment(), &actions, nothing());
    let actions = vec![A::SetKey(None); ACTIONS_PER_REQUEST_MAX + 1];
    check(
        &payment(),
        &actions,
        Err(Rejection::TooManyActions {
            count: 501,
            max: 500,
        }),
    );
}

#[test]
fn a_deleted_payment_accepts_no_command() {
    assert_eq!(
        decide_delete(&payment(), true),
        Ok(Event::Deleted { data_erasure: true })
    );
    let deleted = fold_onto(
        Some(payment()),
        vec![Event::Deleted {
            data_erasure: false,
        }],
    );
    let gone = Rejection::PaymentDeleted { id: PAYMENT_ID };
    check(&deleted, &[A::SetKey(None)], Err(gone.clone()));
    assert_eq!(decide_delete(&deleted, false), Err(gone));
}

// ------------------------------------------------ rejections on the wire

#[test]
fn rejections_name_their_commercetools_error_code() {
    let cases: Vec<(Rejection, &str)> = vec![
        (
            Rejection::TooManyActions {
                count: 501,
                max: 500,
            },
            "InvalidInput",
        ),
        (Rejection::KeyInvalid { key: "a".into() }, "InvalidInput"),
        (
            Rejection::PaymentDeleted { id: PAYMENT_ID },
            "ResourceNotFound",
        ),
        (
            Rejection::DuplicateKey { key: "k".into() },
            "DuplicateField",
        ),
        (
            Rejection::TransactionNotFound { id: "x".into() },
            "InvalidOperation",
        ),
        (
            Rejection::InterfaceIdAlreadySet {
                current: "a".into(),
            },
            "InvalidOperation",
        ),
        (Rejection::AnonymousIdWithCustomer, "InvalidOperation"),
        (
            Rejection::TypeNotFound { by: by_key("t") },
            "ReferencedResourceNotFound",
        ),
        (
            Rejection::StateNotFound { by: by_id("s") },
            "ReferencedResourceNotFound",
        ),
        (
            Rejection::CustomFieldInvalid {
                name: "f".into(),
                value: text("v"),
                expected: FieldType::Number,
            },
            "InvalidField",
        ),
        (
            Rejection::CustomFieldRequiredMissing { name: "f".into() },
            "RequiredField",
        ),
        (
            Rejection::TransitionNotAllowed {
                from: "a".into(),
                to: "b".into(),
            },
            "InvalidOperation",
        ),
    ];
    for (rejection, code) in cases {
        assert_eq!(rejection.code().name(), code, "{rejection:?}");
    }
}

#[test]
fn rejections_carry_the_extra_fields_of_their_error() {
    assert_eq!(
        Rejection::DuplicateKey { key: "k1".into() }.code(),
        RejectionCode::DuplicateField {
            field: "key".into(),
            duplicate_value: "k1".into()
        }
    );
    assert_eq!(
        Rejection::TypeNotFound { by: by_key("t") }.code(),
        RejectionCode::ReferencedResourceNotFound {
            type_id: "type",
            by: by_key("t")
        }
    );
    let invalid = Rejection::CustomFieldInvalid {
        name: "tags".into(),
        value: FieldValue::List(vec![text("a\"b"), number("1")]),
        expected: FieldType::Set(Box::new(FieldType::String)),
    };
    assert_eq!(
        invalid.message(),
        r#"The value '["a\"b",1]' is not valid for field 'tags' of type Set of String."#
    );
    assert_eq!(
        Rejection::DuplicateKey { key: "k1".into() }.to_string(),
        r#"A duplicate value '"k1"' exists for field 'key'."#
    );
    assert_eq!(
        Rejection::StateNotFound { by: by_key("s") }.message(),
        "The referenced object of type 'state' with key 's' was not found."
    );
}

#[test]
fn every_currency_mismatch_names_both_currencies() {
    let rejection = Rejection::CurrencyMismatch {
        expected: CurrencyCode::parse("EUR").unwrap(),
        actual: CurrencyCode::parse("USD").unwrap(),
    };
    assert_eq!(
        rejection.message(),
        "The currency USD differs from the payment's currency EUR."
    );
}
