//! The Message index against a scan of every partition log: for random
//! histories (two projects, keys set and changed, deletions, orders, a
//! clock that repeats and jumps) and random selections, the index reads
//! exactly the Messages the scan selects, with the keys the scan names;
//! reads at the limit are served whole or refused whole.

use super::*;
use crate::{CommandMeta, OrderCommand, Orders, PaymentCommand, PaymentRef};
use payledger_domain::command::{PaymentDraftInput, TransactionDraftInput, UpdateAction};
use payledger_domain::order::OrderDraft;
use payledger_domain::payment::TransactionType;
use payledger_domain::{Actor, CurrencyCode, EventId, Money, Payment};
use payledger_store::memory::MemoryStore;
use payledger_wire::json::MessageKeys;
use proptest::prelude::*;
use std::sync::Arc;

const PROJECTS: [&str; 2] = ["shop", "other"];
/// Distinct instants of the random histories, 0.5 s apart.
const INSTANTS: u8 = 12;

fn project(n: usize) -> ProjectKey {
    ProjectKey::parse(PROJECTS[n]).expect("project key")
}

fn instant(n: u8) -> Timestamp {
    Timestamp(1_767_225_600_000 + 500 * i64::from(n))
}

fn eur(cents: i64) -> Money {
    Money::new(cents, CurrencyCode::parse("EUR").expect("EUR"))
}

fn meta(project_n: usize, at: u8) -> CommandMeta {
    CommandMeta {
        project: project(project_n),
        actor: Actor::Client("indexer".into()),
        now: instant(at),
        correlation_id: None,
        idempotency: None,
    }
}

/// One command of a random history, at one of [`INSTANTS`].
#[derive(Clone, Debug)]
enum Step {
    Create { project: usize, key: Option<u8> },
    Key { payment: usize, key: Option<u8> },
    Charge { payment: usize, cents: i64 },
    Delete { payment: usize },
    Order { project: usize },
}

fn step() -> impl Strategy<Value = (Step, u8)> {
    let step = prop_oneof![
        (0..2usize, proptest::option::of(0..4u8))
            .prop_map(|(project, key)| Step::Create { project, key }),
        (0..8usize, proptest::option::of(0..4u8))
            .prop_map(|(payment, key)| Step::Key { payment, key }),
        (0..8usize, 1..900i64).prop_map(|(payment, cents)| Step::Charge { payment, cents }),
        (0..8usize).prop_map(|payment| Step::Delete { payment }),
        (0..2usize).prop_map(|project| Step::Order { project }),
    ];
    (step, 0..INSTANTS)
}

/// A ledger after `steps`; commands the domain refuses (a taken key, a
/// deleted payment) change nothing and are skipped.
fn run(steps: &[(Step, u8)]) -> Ledger<MemoryStore> {
    let ledger = Ledger::new(Arc::new(MemoryStore::new()));
    let orders = Orders::new(ledger.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut payments: Vec<(usize, Arc<Payment>)> = Vec::new();
    for (n, (step, at)) in steps.iter().enumerate() {
        let update = |payment: usize, actions: Vec<UpdateAction>| {
            let (project_n, view) = payments.get(payment)?;
            let command = PaymentCommand::Update {
                target: PaymentRef::Id(view.id),
                version: view.version,
                actions,
            };
            let done = runtime.block_on(ledger.execute(meta(*project_n, *at), command));
            Some((*project_n, done.ok()?.payment))
        };
        let changed = match step {
            Step::Create { project, key } => {
                let mut draft = PaymentDraftInput::new(eur(1_000));
                draft.key = key.map(|k| format!("key-{k}"));
                let command = PaymentCommand::Create(Box::new(draft));
                let created = runtime.block_on(ledger.execute(meta(*project, *at), command));
                if let Ok(created) = created {
                    payments.push((*project, created.payment));
                }
                None
            }
            Step::Key { payment, key } => update(
                *payment,
                vec![UpdateAction::SetKey(key.map(|k| format!("key-{k}")))],
            ),
            Step::Charge { payment, cents } => update(
                *payment,
                vec![UpdateAction::AddTransaction(TransactionDraftInput::new(
                    TransactionType::Charge,
                    eur(*cents),
                ))],
            ),
            Step::Delete { payment } => {
                if let Some((project_n, view)) = payments.get(*payment) {
                    let command = PaymentCommand::Delete {
                        target: PaymentRef::Id(view.id),
                        version: view.version,
                        data_erasure: n % 2 == 0,
                    };
                    let _refused = runtime.block_on(ledger.execute(meta(*project_n, *at), command));
                }
                None
            }
            Step::Order { project } => {
                let draft = OrderDraft {
                    order_number: format!("N-{n}"),
                    key: None,
                    total_price: eur(100),
                    customer_id: None,
                    customer_email: None,
                    recurring: false,
                };
                let command = OrderCommand::Create(draft);
                runtime
                    .block_on(orders.execute(meta(*project, *at), None, command))
                    .expect("create order");
                None
            }
        };
        if let (Some(changed), Step::Key { payment, .. } | Step::Charge { payment, .. }) =
            (changed, step)
        {
            payments[*payment] = changed;
        }
    }
    ledger
}

/// The Messages of `project` that `selection` holds, as a scan of every
/// partition log finds them: (event id, the key the Message names).
fn scanned(
    ledger: &Ledger<MemoryStore>,
    project: &ProjectKey,
    selection: &MessageSelection,
) -> Vec<(EventId, Option<String>)> {
    let store = ledger.store();
    let mut keys = MessageKeys::default();
    let mut found = Vec::new();
    for partition in 0..store.partition_count() {
        for event in store.read_log(partition, 1, usize::MAX).expect("log") {
            let key = keys.observe(&event).map(str::to_owned);
            let created_at = format_timestamp(event.meta.recorded_at);
            if &event.meta.project == project
                && selection.holds(message_type(&event.event), &created_at)
            {
                found.push((event.meta.event_id, key));
            }
        }
    }
    found.sort();
    found
}

/// The same, as the index reads them.
fn indexed(
    ledger: &Ledger<MemoryStore>,
    project: &ProjectKey,
    selection: &MessageSelection,
) -> Vec<(EventId, Option<String>)> {
    let mut found: Vec<_> = ledger
        .messages(project, selection, usize::MAX)
        .expect("messages")
        .into_iter()
        .map(|m| (m.envelope.meta.event_id, m.key))
        .collect();
    found.sort();
    found
}

/// Text to compare `createdAt` with: a timestamp of the histories cut
/// short anywhere and followed by nothing, a 0 byte, a 1 byte or `~`
/// (past every digit).
fn bound_text() -> impl Strategy<Value = String> {
    (0..INSTANTS + 2, 0..=25usize, 0..4usize).prop_map(|(n, cut, tail)| {
        let text = format_timestamp(instant(n));
        let cut = &text[..cut.min(text.len())];
        format!("{cut}{}", ["", "\u{0}", "\u{1}", "~"][tail])
    })
}

fn selection() -> impl Strategy<Value = MessageSelection> {
    let types = [
        "PaymentCreated",
        "PaymentKeySet",
        "PaymentTransactionAdded",
        "PaymentDeleted",
        "OrderCreated",
        "NoSuchType",
    ];
    let bound = (0..4usize, bound_text()).prop_map(|(op, text)| match op {
        0 => TextBound::Above(text),
        1 => TextBound::AtLeast(text),
        2 => TextBound::Below(text),
        _ => TextBound::AtMost(text),
    });
    (
        proptest::option::of(proptest::sample::subsequence(types.to_vec(), 0..=3)),
        proptest::collection::vec(bound, 0..3),
    )
        .prop_map(|(types, created_at)| MessageSelection {
            types: types.map(|t| t.into_iter().map(str::to_owned).collect()),
            created_at,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_index_reads_exactly_what_a_scan_of_every_log_selects_with_the_same_keys(
        steps in proptest::collection::vec(step(), 0..40),
        selections in proptest::collection::vec(selection(), 1..8),
    ) {
        let ledger = run(&steps);
        for selection in &selections {
            for n in 0..PROJECTS.len() {
                let project = project(n);
                prop_assert_eq!(
                    indexed(&ledger, &project, selection),
                    scanned(&ledger, &project, selection),
                    "{:?} in {}", selection, project
                );
            }
        }
    }
}

/// A history of `creates` payments in project 0, each then given a key.
fn keyed_payments(creates: u8) -> Ledger<MemoryStore> {
    let steps: Vec<(Step, u8)> = (0..creates)
        .flat_map(|n| {
            let payment = usize::from(n);
            [
                (
                    Step::Create {
                        project: 0,
                        key: None,
                    },
                    n % INSTANTS,
                ),
                (
                    Step::Key {
                        payment,
                        key: Some(n),
                    },
                    n % INSTANTS,
                ),
            ]
        })
        .collect();
    run(&steps)
}

fn types(names: &[&str]) -> Option<BTreeSet<String>> {
    Some(names.iter().map(|t| (*t).to_owned()).collect())
}

fn refusal(result: Result<Vec<IndexedMessage>, AppError>) -> String {
    match result {
        Err(refused @ AppError::ScanLimit { limit, .. }) => {
            assert_eq!(limit, "MESSAGE_SCAN_EVENTS_MAX");
            refused.to_string()
        }
        other => panic!("expected a refusal naming the limit, got {other:?}"),
    }
}

#[test]
fn a_selection_of_exactly_the_limit_is_served_whole_and_one_more_is_refused() {
    let ledger = keyed_payments(3);
    let shop = project(0);
    let everything = MessageSelection::default();
    let served = ledger
        .messages(&shop, &everything, 6)
        .expect("at the limit");
    assert_eq!(served.len(), 6);
    let text = refusal(ledger.messages(&shop, &everything, 5));
    assert!(
        text.contains("narrowed by neither type, createdAt nor resource")
            && text.contains("narrow it by type or createdAt"),
        "{text}"
    );
    let created = MessageSelection {
        types: types(&["PaymentCreated", "PaymentKeySet"]),
        ..MessageSelection::default()
    };
    assert_eq!(ledger.messages(&shop, &created, 6).expect("6").len(), 6);
    let text = refusal(ledger.messages(&shop, &created, 5));
    assert!(text.contains("by type or createdAt"), "{text}");
}

#[test]
fn an_indexed_selection_is_served_whole_from_a_project_holding_more_than_the_limit() {
    let ledger = keyed_payments(10);
    let shop = project(0);
    let max = 5;
    let all = ledger.messages(&shop, &MessageSelection::default(), 100);
    assert_eq!(all.expect("20 Messages").len(), 20);
    let keys_set = MessageSelection {
        types: types(&["PaymentKeySet"]),
        created_at: vec![TextBound::AtLeast(format_timestamp(instant(6)))],
    };
    let served = ledger.messages(&shop, &keys_set, max).expect("4 of 20");
    let mut named: Vec<_> = served.iter().filter_map(|m| m.key.clone()).collect();
    named.sort();
    assert_eq!(named, ["key-6", "key-7", "key-8", "key-9"]);
    assert!(
        served
            .iter()
            .all(|m| message_type(&m.envelope.event) == "PaymentKeySet")
    );
    // The other project's Messages are never read, however many there are.
    assert_eq!(
        ledger
            .messages(&project(1), &MessageSelection::default(), 0)
            .expect("none"),
        Vec::new()
    );
}

#[test]
fn the_stored_index_row_format_is_stable() {
    let stream = StreamId::payment(payledger_domain::PaymentId::from_uuid(
        uuid::Uuid::from_u128(7),
    ));
    let order = StreamId::order(payledger_domain::OrderId::from_uuid(uuid::Uuid::from_u128(
        9,
    )));
    let key_set = Event::KeySet(Some("k-1".into()));
    let removed = Event::KeySet(None);
    let rows = index_rows(
        &project(0),
        stream,
        None,
        [
            (2, Timestamp(1_767_225_600_000), &key_set),
            (3, Timestamp(1_767_225_600_001), &removed),
        ],
    );
    let order_created = Event::Order(payledger_domain::OrderEvent::CustomerEmailSet(None));
    let order_rows = index_rows(
        &project(0),
        order,
        None,
        [(4, Timestamp(0), &order_created)],
    );
    let [by_type, by_time, _, removed_by_time] = &rows[..] else {
        panic!("two rows per event")
    };
    let value = |w: &KvWrite| w.value.clone().expect("a put");
    let stored = crate::golden::check(
        "message_index_rows_v1.txt",
        &[
            ("payment by type key", by_type.key.clone()),
            ("payment by time key", by_time.key.clone()),
            ("value with key", value(by_time)),
            ("value without key", value(removed_by_time)),
            ("order by type key", order_rows[0].key.clone()),
            ("order by time key", order_rows[1].key.clone()),
        ],
    );
    let decode = |key: &str, value: &str| decode_entry(&stored[key], &stored[value]);
    assert_eq!(
        decode("payment by type key", "value with key"),
        Some((stream, 2, Some("k-1".into())))
    );
    assert_eq!(
        decode("order by time key", "value without key"),
        Some((order, 4, None))
    );
}
