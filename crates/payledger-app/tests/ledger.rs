//! The payment use cases over a real store: inline projections stay equal
//! to the fold of the events, unique values stay unique across partitions,
//! and idempotency keys replay.

use payledger_app::{AppError, CommandMeta, Idempotency, Ledger, PaymentCommand, PaymentRef};
use payledger_domain::command::{PaymentDraftInput, TransactionDraftInput};
use payledger_domain::payment::{TransactionState, TransactionType};
use payledger_domain::{
    Actor, CurrencyCode, Money, Payment, ProjectKey, Rejection, Timestamp, TransactionId,
    UpdateAction, fold,
};
use payledger_store::memory::MemoryStore;
use payledger_store::{EventStore, VersionRange};
use proptest::prelude::*;
use std::sync::Arc;

fn project() -> ProjectKey {
    ProjectKey::parse("shop").expect("project key")
}

fn eur(cents: i64) -> Money {
    Money::new(cents, CurrencyCode::parse("EUR").expect("EUR"))
}

fn meta(idempotency: Option<&str>) -> CommandMeta {
    CommandMeta {
        project: project(),
        actor: Actor::Client("tester".into()),
        now: Timestamp(1_767_225_600_000),
        correlation_id: None,
        idempotency: idempotency.map(|key| Idempotency {
            key: key.into(),
            request_hash: [1; 32],
        }),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

fn create(ledger: &Ledger<MemoryStore>, key: Option<&str>) -> Result<Payment, AppError> {
    let mut draft = PaymentDraftInput::new(eur(1_000));
    draft.key = key.map(str::to_owned);
    let command = PaymentCommand::Create(Box::new(draft));
    runtime()
        .block_on(ledger.execute(meta(None), command))
        .map(|o| Arc::unwrap_or_clone(o.payment))
}

fn update(
    ledger: &Ledger<MemoryStore>,
    payment: &Payment,
    actions: Vec<UpdateAction>,
) -> Result<Payment, AppError> {
    let command = PaymentCommand::Update {
        target: PaymentRef::Id(payment.id),
        version: payment.version,
        actions,
    };
    runtime()
        .block_on(ledger.execute(meta(None), command))
        .map(|o| Arc::unwrap_or_clone(o.payment))
}

/// A recipe for an action, turned into a real action against the current
/// payment (transaction ids are picked from the payment).
#[derive(Clone, Debug)]
enum Recipe {
    AddTransaction(i64),
    ChangeState(usize, usize),
    SetKey(Option<u8>),
    SetCode(Option<u8>),
    SetMethod(Option<u8>),
    ChangeAmount(i64),
    SetInterfaceId(u8),
    UnknownTransaction,
}

fn recipe() -> impl Strategy<Value = Recipe> {
    prop_oneof![
        (1i64..5_000).prop_map(Recipe::AddTransaction),
        (0usize..4, 0usize..4).prop_map(|(t, s)| Recipe::ChangeState(t, s)),
        proptest::option::of(0u8..4).prop_map(Recipe::SetKey),
        proptest::option::of(0u8..3).prop_map(Recipe::SetCode),
        proptest::option::of(0u8..3).prop_map(Recipe::SetMethod),
        (1i64..9_000).prop_map(Recipe::ChangeAmount),
        (0u8..3).prop_map(Recipe::SetInterfaceId),
        Just(Recipe::UnknownTransaction),
    ]
}

fn materialise(recipe: &Recipe, payment: &Payment) -> UpdateAction {
    match recipe {
        Recipe::AddTransaction(cents) => UpdateAction::AddTransaction(TransactionDraftInput::new(
            TransactionType::Charge,
            eur(*cents),
        )),
        Recipe::ChangeState(t, s) => match payment.transactions.get(*t) {
            Some(tx) => UpdateAction::ChangeTransactionState {
                transaction_id: tx.id,
                state: TransactionState::ALL[*s],
            },
            None => UpdateAction::SetStatusInterfaceText(Some(format!("no tx {t}"))),
        },
        Recipe::SetKey(k) => UpdateAction::SetKey(k.map(|k| format!("key-{k}"))),
        Recipe::SetCode(c) => UpdateAction::SetStatusInterfaceCode(c.map(|c| format!("code-{c}"))),
        Recipe::SetMethod(m) => UpdateAction::SetMethodInfoMethod(m.map(|m| format!("method-{m}"))),
        Recipe::ChangeAmount(cents) => UpdateAction::ChangeAmountPlanned(eur(*cents)),
        Recipe::SetInterfaceId(i) => UpdateAction::SetInterfaceId(format!("iface-{i}")),
        Recipe::UnknownTransaction => UpdateAction::ChangeTransactionState {
            transaction_id: TransactionId::from_bytes([0xee; 16]),
            state: TransactionState::Success,
        },
    }
}

/// The stored view equals the fold of the stored events, and the version
/// equals their number.
fn assert_view_is_replay(ledger: &Ledger<MemoryStore>, payment: &Payment) {
    let events = ledger
        .store()
        .read_stream(payment.id.into(), VersionRange::ALL)
        .expect("read stream");
    let replayed = fold(&events).expect("a stream has events");
    let view = ledger
        .view(&project(), payment.id)
        .expect("view")
        .expect("live payment");
    assert_eq!(replayed, view);
    // The same from the stored rows alone (a ledger with an empty cache).
    let uncached = Ledger::new(Arc::clone(ledger.store()))
        .view(&project(), payment.id)
        .expect("view")
        .expect("live payment");
    assert_eq!(
        replayed, uncached,
        "the stored header and rows are the replay"
    );
    assert_eq!(view.version, events.len() as u64);
    let differences = payledger_app::projections::stored_differences(&**ledger.store(), &events)
        .expect("compare");
    assert_eq!(
        differences,
        Vec::new(),
        "rows written a change at a time are the rows written from scratch"
    );
    if let Some(key) = &view.key {
        let by_key = ledger
            .get(&project(), &PaymentRef::Key(key.clone()))
            .expect("get");
        assert_eq!(
            by_key.map(|p| p.id),
            Some(view.id),
            "the key index follows the view"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_stored_view_is_always_the_replay_of_the_stored_events(
        requests in proptest::collection::vec(proptest::collection::vec(recipe(), 1..4), 1..12)
    ) {
        let ledger = Ledger::new(Arc::new(MemoryStore::new()));
        let mut payment = create(&ledger, None).expect("create");
        for request in requests {
            let actions = request.iter().map(|r| materialise(r, &payment)).collect();
            let before = ledger.view(&project(), payment.id).expect("view").expect("live");
            match update(&ledger, &payment, actions) {
                Ok(after) => payment = after,
                Err(AppError::Rejected(_)) => {
                    let unchanged = ledger.view(&project(), payment.id).expect("view").expect("live");
                    prop_assert_eq!(unchanged, before, "a rejected request changes nothing");
                }
                Err(other) => panic!("unexpected failure: {other}"),
            }
            assert_view_is_replay(&ledger, &payment);
        }
    }
}

#[test]
fn a_key_is_unique_in_the_project_even_under_concurrency() {
    let ledger = Ledger::new(Arc::new(MemoryStore::new()));
    create(&ledger, Some("taken")).expect("first");
    match create(&ledger, Some("taken")) {
        Err(AppError::Rejected(Rejection::DuplicateKey { key })) => assert_eq!(key, "taken"),
        other => panic!("expected DuplicateKey, got {other:?}"),
    }
    // Many payments (spread over partitions) race for one key: one wins.
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let ledger = ledger.clone();
            std::thread::spawn(move || create(&ledger, Some("raced")).is_ok())
        })
        .collect();
    let winners = threads
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .filter(|ok| *ok)
        .count();
    assert_eq!(winners, 1);
}

#[test]
fn setting_a_key_frees_the_old_one_and_deleting_frees_all() {
    let ledger = Ledger::new(Arc::new(MemoryStore::new()));
    let payment = create(&ledger, Some("old")).expect("create");
    let payment = update(
        &ledger,
        &payment,
        vec![UpdateAction::SetKey(Some("new".into()))],
    )
    .expect("set key");
    assert!(
        ledger
            .get(&project(), &PaymentRef::Key("old".into()))
            .expect("get")
            .is_none()
    );
    create(&ledger, Some("old")).expect("the old key is free");
    let command = PaymentCommand::Delete {
        target: PaymentRef::Key("new".into()),
        version: payment.version,
        data_erasure: false,
    };
    let deleted = runtime()
        .block_on(ledger.execute(meta(None), command))
        .expect("delete");
    assert!(deleted.payment.deleted);
    assert!(ledger.view(&project(), payment.id).expect("view").is_none());
    create(&ledger, Some("new")).expect("a deleted payment's key is free");
    let events = ledger
        .store()
        .read_stream(payment.id.into(), VersionRange::ALL)
        .expect("read stream");
    let differences = payledger_app::projections::stored_differences(&**ledger.store(), &events)
        .expect("compare");
    assert_eq!(differences, Vec::new(), "a deleted payment leaves no rows");
}

#[test]
fn an_idempotent_repeat_replays_and_a_different_request_is_refused() {
    let ledger = Ledger::new(Arc::new(MemoryStore::new()));
    let command = || PaymentCommand::Create(Box::new(PaymentDraftInput::new(eur(10))));
    let rt = runtime();
    let first = rt
        .block_on(ledger.execute(meta(Some("k1")), command()))
        .expect("first");
    let again = rt
        .block_on(ledger.execute(meta(Some("k1")), command()))
        .expect("again");
    assert!(again.replayed);
    assert_eq!(again.payment, first.payment);
    let mut other = meta(Some("k1"));
    other.idempotency.as_mut().expect("key").request_hash = [2; 32];
    let refused = rt.block_on(ledger.execute(other, command()));
    assert!(
        matches!(refused, Err(AppError::IdempotencyKeyReused)),
        "{refused:?}"
    );
    let heads: u64 = (0..ledger.store().partition_count())
        .map(|p| ledger.store().log_head(p).expect("log head"))
        .sum();
    assert_eq!(heads, 1, "only the first request appended");
}

/// A store failure while resolving a Type is a store failure (a 500 at the
/// edge), never the "Type not found" rejection the rules would conclude.
#[test]
fn a_catalog_read_failure_is_a_store_failure_not_a_rejection() {
    use payledger_app::catalog::CatalogKind;
    use payledger_app::catalog::record_key;
    use payledger_domain::ResourceRef;
    use payledger_domain::command::CustomFieldsInput;
    use payledger_store::{KvWrite, Table};

    let store = Arc::new(MemoryStore::new());
    let ledger = Ledger::new(Arc::clone(&store));
    let payment = create(&ledger, None).expect("create");
    let set_type = |type_id: &str| PaymentCommand::Update {
        target: PaymentRef::Id(payment.id),
        version: payment.version,
        actions: vec![UpdateAction::SetCustomType(Some(CustomFieldsInput {
            type_ref: ResourceRef::Id(type_id.to_owned()),
            fields: Default::default(),
        }))],
    };

    // A Type that does not exist: the rules reject the reference.
    let Err(missing) = ledger.prepare_stored(&meta(None), set_type("no-such-type")) else {
        panic!("a reference to a missing Type was accepted");
    };
    assert!(matches!(missing, AppError::Rejected(_)), "{missing:?}");

    // A Type whose stored record cannot be read: the failure is the answer.
    let type_id = "6f1c9c1e-4a52-4d8e-9f57-0a4e3c1b2d01";
    store
        .write(vec![KvWrite {
            table: Table::Catalog,
            key: record_key(&project(), CatalogKind::Type, type_id),
            value: Some(b"not a type record".to_vec()),
        }])
        .expect("write the unreadable record");
    let Err(unreadable) = ledger.prepare_stored(&meta(None), set_type(type_id)) else {
        panic!("a reference to an unreadable Type was accepted");
    };
    assert!(matches!(unreadable, AppError::Store(_)), "{unreadable:?}");
    let after = ledger
        .get(&project(), &PaymentRef::Id(payment.id))
        .expect("read")
        .expect("payment");
    assert_eq!(after.version, payment.version, "nothing was written");
}
