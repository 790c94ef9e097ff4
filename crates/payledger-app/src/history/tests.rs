//! History pages and as-of reads against the views a ledger answered.

use super::*;
use crate::{CommandMeta, Ledger, PaymentCommand, PaymentRef};
use payledger_domain::command::{PaymentDraftInput, TransactionDraftInput, UpdateAction};
use payledger_domain::payment::{TransactionState, TransactionType};
use payledger_domain::{Actor, CurrencyCode, Money, Payment};
use payledger_store::envelope_hash;
use payledger_store::memory::MemoryStore;
use proptest::prelude::*;
use std::sync::Arc;

fn project() -> ProjectKey {
    ProjectKey::parse("history").expect("project key")
}

fn eur(cents: i64) -> Money {
    Money::new(cents, CurrencyCode::parse("EUR").expect("EUR"))
}

/// Commands at 1 s steps from 2026-01-01.
fn meta(step: u64) -> CommandMeta {
    CommandMeta {
        project: project(),
        actor: Actor::Client("auditor".into()),
        now: at(step),
        correlation_id: Some(format!("step-{step}")),
        idempotency: None,
    }
}

fn at(step: u64) -> Timestamp {
    Timestamp(1_767_225_600_000 + 1_000 * i64::try_from(step).expect("small"))
}

/// One single-action update of a random history.
#[derive(Clone, Debug)]
enum Step {
    Add(i64),
    Succeed(usize),
    Text(u8),
    Key(Option<u8>),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (1i64..5_000).prop_map(Step::Add),
        (0usize..4).prop_map(Step::Succeed),
        (0u8..3).prop_map(Step::Text),
        proptest::option::of(0u8..3).prop_map(Step::Key),
    ]
}

fn action(step: &Step, payment: &Payment) -> UpdateAction {
    match step {
        Step::Add(cents) => UpdateAction::AddTransaction(TransactionDraftInput::new(
            TransactionType::Charge,
            eur(*cents),
        )),
        Step::Succeed(n) => match payment.transactions.get(*n) {
            Some(t) if t.state != TransactionState::Success => {
                UpdateAction::ChangeTransactionState {
                    transaction_id: t.id,
                    state: TransactionState::Success,
                }
            }
            _ => UpdateAction::SetStatusInterfaceText(Some(format!("no change of {n}"))),
        },
        Step::Text(n) => UpdateAction::SetStatusInterfaceText(Some(format!("text {n}"))),
        Step::Key(k) => UpdateAction::SetKey(k.map(|k| format!("key-{k}"))),
    }
}

/// Runs `steps` on a new payment, the n-th at `time(n)`; the views it
/// answered by version.
fn history_at(
    steps: &[Step],
    time: impl Fn(u64) -> Timestamp,
) -> (Ledger<MemoryStore>, Vec<Payment>) {
    let ledger = Ledger::new(Arc::new(MemoryStore::new()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let timed = |step: u64| CommandMeta {
        now: time(step),
        ..meta(step)
    };
    let draft = PaymentDraftInput::new(eur(10_000));
    let mut payment = runtime
        .block_on(ledger.execute(timed(1), PaymentCommand::Create(Box::new(draft))))
        .expect("create")
        .payment;
    let mut answered = vec![(*payment).clone()];
    for (n, s) in steps.iter().enumerate() {
        let command = PaymentCommand::Update {
            target: PaymentRef::Id(payment.id),
            version: payment.version,
            actions: vec![action(s, &payment)],
        };
        let committed = runtime
            .block_on(ledger.execute(timed(n as u64 + 2), command))
            .expect("update");
        if committed.payment.version != payment.version {
            answered.push((*committed.payment).clone());
        }
        payment = committed.payment;
    }
    (ledger, answered)
}

/// [`history_at`] one second apart.
fn history(steps: &[Step]) -> (Ledger<MemoryStore>, Vec<Payment>) {
    history_at(steps, at)
}

fn as_of(ledger: &Ledger<MemoryStore>, id: StreamId, as_of: AsOf) -> Option<Payment> {
    let id = id.payment_id().expect("a payment stream");
    match payment_id_as_of(ledger, &project(), id, as_of).expect("read") {
        AsOfAnswer::Found(payment) => Some(payment),
        AsOfAnswer::NotFound => None,
        AsOfAnswer::PastCurrent { current_version } => {
            panic!("past the current version {current_version}")
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn as_of_every_version_and_moment_is_the_payment_answered_then(
        steps in proptest::collection::vec(step(), 0..24)
    ) {
        let (ledger, answered) = history(&steps);
        let stream = StreamId::payment(answered[0].id);
        for view in &answered {
            let by_version = as_of(&ledger, stream, AsOf::Version(view.version));
            prop_assert_eq!(by_version.as_ref(), Some(view));
            let by_time = as_of(&ledger, stream, AsOf::Time(view.last_modified_at));
            prop_assert_eq!(by_time.as_ref(), Some(view));
        }
        prop_assert_eq!(as_of(&ledger, stream, AsOf::Version(0)), None);
        let before = Timestamp(answered[0].created_at.0 - 1);
        prop_assert_eq!(as_of(&ledger, stream, AsOf::Time(before)), None);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    /// Streams longer than a few snapshot intervals, recorded by a clock
    /// that jumps back now and then: times never go back within the
    /// stream, and every as-of read (from a snapshot) is the fold of its
    /// whole prefix.
    #[test]
    fn as_of_reads_from_snapshots_equal_the_fold_of_the_whole_prefix(
        steps in proptest::collection::vec(
            step(),
            2 * SNAPSHOT_INTERVAL_EVENTS as usize..3 * SNAPSHOT_INTERVAL_EVENTS as usize + 9,
        ),
        jitter in proptest::collection::vec(-3i64..4, 8),
    ) {
        let time = |step: u64| {
            let back = jitter[usize::try_from(step).expect("small") % jitter.len()];
            Timestamp(at(step).0 + 1_000 * back)
        };
        let (ledger, answered) = history_at(&steps, time);
        let stream = StreamId::payment(answered[0].id);
        let store = &**ledger.store();
        let times: Vec<Timestamp> = answered.iter().map(|p| p.last_modified_at).collect();
        prop_assert!(times.windows(2).all(|w| w[0] <= w[1]), "times go back: {:?}", times);
        let all = store
            .read_stream(stream, VersionRange::new(1, u64::MAX))
            .expect("read");
        for view in &answered {
            let version = view.version;
            prop_assert_eq!(
                snapshots::read(store, stream, version).expect("read").is_some(),
                snapshots::is_due(version),
                "a snapshot after version {} exactly when it is due", version
            );
            let prefix = payledger_domain::fold(&all[..usize::try_from(version).expect("small")]);
            prop_assert_eq!(prefix.as_ref(), Some(view));
            let by_version = as_of(&ledger, stream, AsOf::Version(version));
            prop_assert_eq!(by_version.as_ref(), Some(view));
            let then = view.last_modified_at;
            let latest_then = answered.iter().rev().find(|p| p.last_modified_at <= then);
            let by_time = as_of(&ledger, stream, AsOf::Time(then));
            prop_assert_eq!(by_time.as_ref(), latest_then);
        }
        let before = Timestamp(answered[0].created_at.0 - 1);
        prop_assert_eq!(as_of(&ledger, stream, AsOf::Time(before)), None);
    }
}

#[test]
fn a_version_past_the_current_one_is_named_and_another_project_sees_nothing() {
    let (ledger, answered) = history(&[Step::Add(100), Step::Text(1)]);
    let stream = StreamId::payment(answered[0].id);
    let current = answered.last().expect("views").version;
    assert!(matches!(
        events_as_of(&**ledger.store(), &project(), stream, AsOf::Version(current + 1)),
        Ok(AsOfEvents::PastCurrent { current_version }) if current_version == current
    ));
    let other = ProjectKey::parse("other").expect("key");
    assert!(matches!(
        events_as_of(&**ledger.store(), &other, stream, AsOf::Version(1)),
        Ok(AsOfEvents::None)
    ));
    assert!(
        history_page(&**ledger.store(), &other, stream, 1, 10)
            .expect("read")
            .is_none()
    );
}

#[test]
fn pages_cover_the_stream_and_each_hash_is_the_stored_link_to_the_next() {
    let steps: Vec<Step> = (0..11).map(|n| Step::Add(100 + n)).collect();
    let (ledger, answered) = history(&steps);
    let stream = StreamId::payment(answered[0].id);
    let store = &**ledger.store();
    let mut all = Vec::new();
    let mut from = 1;
    loop {
        let page = history_page(store, &project(), stream, from, 5)
            .expect("read")
            .expect("exists");
        assert_eq!(page.current_version, 12);
        if page.events.is_empty() {
            break;
        }
        assert!(page.events.len() <= 5);
        from += page.events.len() as u64;
        all.extend(page.events);
    }
    let versions: Vec<u64> = all.iter().map(|(e, _)| e.version).collect();
    assert_eq!(versions, (1..=12).collect::<Vec<_>>());
    for ((event, hash), (next, _)) in all.iter().zip(all.iter().skip(1)) {
        assert_eq!(next.previous_hash, *hash, "version {}", event.version);
        assert_eq!(
            envelope_hash(&payledger_codec::encode_envelope(event)),
            *hash,
            "the hash of version {} is the SHA-256 of its envelope",
            event.version
        );
    }
    let head = store.stream_head(stream).expect("head").expect("some");
    assert_eq!(all.last().expect("events").1, head.last_hash);
    assert_eq!(all[3].0.meta.correlation_id.as_deref(), Some("step-4"));
}
