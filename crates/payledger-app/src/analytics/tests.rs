//! The analytics projection against a brute-force count over the events:
//! through the consumer in batches of any size, and through a replay of
//! whole streams.

use super::records::{BucketKey, Totals, TxnFact};
use super::*;
use crate::{CommandMeta, Ledger, PaymentCommand, PaymentRef};
use payledger_domain::command::{PaymentDraftInput, TransactionDraftInput, UpdateAction};
use payledger_domain::payment::{TransactionState, TransactionType};
use payledger_domain::{Actor, CurrencyCode, Money, Payment, fold};
use payledger_store::VersionRange;
use payledger_store::memory::MemoryStore;
use proptest::prelude::*;

const PARTITIONS: u16 = 3;

fn project() -> ProjectKey {
    ProjectKey::parse("analytics").expect("project key")
}

fn meta(day: u8, step: u32) -> CommandMeta {
    CommandMeta {
        project: project(),
        actor: Actor::Client("analyst".into()),
        now: Timestamp(1_767_225_600_000 + i64::from(day) * DAY_MS + i64::from(step)),
        correlation_id: None,
        idempotency: None,
    }
}

fn money(cents: i64, currency: u8) -> Money {
    let code = ["EUR", "USD"][usize::from(currency % 2)];
    Money::new(cents, CurrencyCode::parse(code).expect("currency"))
}

/// One command of a random history.
#[derive(Clone, Debug)]
enum Step {
    /// A payment with a PSP or none, and some transactions.
    Create {
        psp: Option<u8>,
        transactions: Vec<(u8, i64, u8)>,
    },
    Add {
        payment: usize,
        kind: u8,
        cents: i64,
    },
    Change {
        payment: usize,
        transaction: usize,
        state: u8,
    },
    SetPsp {
        payment: usize,
        psp: u8,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let txn = (0u8..5, 1i64..10_000, 0u8..2);
    prop_oneof![
        (
            proptest::option::of(0u8..2),
            proptest::collection::vec(txn.clone(), 0..3)
        )
            .prop_map(|(psp, transactions)| Step::Create { psp, transactions }),
        (0usize..6, 0u8..5, 1i64..10_000).prop_map(|(payment, kind, cents)| {
            Step::Add {
                payment,
                kind,
                cents,
            }
        }),
        (0usize..6, 0usize..4, 0u8..4).prop_map(|(payment, transaction, state)| Step::Change {
            payment,
            transaction,
            state
        }),
        (0usize..6, 0u8..2).prop_map(|(payment, psp)| Step::SetPsp { payment, psp }),
    ]
}

fn psp_name(n: u8) -> String {
    ["stripe", "adyen"][usize::from(n % 2)].to_owned()
}

/// Runs a history (each step on its day); the payments it made.
fn run(ledger: &Ledger<MemoryStore>, steps: &[(u8, Step)]) -> Vec<Payment> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut payments: Vec<Payment> = Vec::new();
    for (n, (day, step)) in steps.iter().enumerate() {
        let meta = meta(*day, u32::try_from(n).expect("small"));
        let command = match step {
            Step::Create { psp, transactions } => {
                // A payment's transactions share its planned currency.
                let currency = transactions.first().map_or(0, |t| t.2);
                let mut draft = PaymentDraftInput::new(money(100, currency));
                draft.payment_method_info.payment_interface = psp.map(psp_name);
                draft.transactions = transactions
                    .iter()
                    .map(|(kind, cents, _)| {
                        TransactionDraftInput::new(
                            TransactionType::ALL[usize::from(*kind)],
                            money(*cents, currency),
                        )
                    })
                    .collect();
                PaymentCommand::Create(Box::new(draft))
            }
            Step::Add {
                payment,
                kind,
                cents,
            } => {
                let Some(p) = payments.get(*payment % payments.len().max(1)) else {
                    continue;
                };
                let amount = Money::new(*cents, p.amount_planned.currency.clone());
                update(
                    p,
                    UpdateAction::AddTransaction(TransactionDraftInput::new(
                        TransactionType::ALL[usize::from(*kind)],
                        amount,
                    )),
                )
            }
            Step::Change {
                payment,
                transaction,
                state,
            } => {
                let Some(p) = payments.get(*payment % payments.len().max(1)) else {
                    continue;
                };
                let Some(t) = p.transactions.get(*transaction) else {
                    continue;
                };
                update(
                    p,
                    UpdateAction::ChangeTransactionState {
                        transaction_id: t.id,
                        state: TransactionState::ALL[usize::from(*state)],
                    },
                )
            }
            Step::SetPsp { payment, psp } => {
                let Some(p) = payments.get(*payment % payments.len().max(1)) else {
                    continue;
                };
                update(p, UpdateAction::SetMethodInfoInterface(psp_name(*psp)))
            }
        };
        // Some steps are refused (an interface set twice, a forbidden state
        // change): refused commands write nothing, as in production.
        if let Ok(committed) = runtime.block_on(ledger.execute(meta, command)) {
            let payment = (*committed.payment).clone();
            match payments.iter_mut().find(|p| p.id == payment.id) {
                Some(slot) => *slot = payment,
                None => payments.push(payment),
            }
        }
    }
    payments
}

fn update(payment: &Payment, action: UpdateAction) -> PaymentCommand {
    PaymentCommand::Update {
        target: PaymentRef::Id(payment.id),
        version: payment.version,
        actions: vec![action],
    }
}

/// Every transaction's group by brute force: the day and PSP of the event
/// that added it (the PSP of the payment folded up to just before it),
/// and its final state from the fold of the whole stream.
fn brute_force(store: &MemoryStore, payments: &[Payment]) -> BTreeMap<GroupOf, Totals> {
    let mut groups = BTreeMap::new();
    for payment in payments {
        let events = store
            .read_stream(StreamId::payment(payment.id), VersionRange::ALL)
            .expect("read");
        let last = fold(&events).expect("a stream has a create");
        for t in &last.transactions {
            let added = (1..=events.len())
                .find(|n| {
                    fold(&events[..*n]).is_some_and(|p| p.transactions.iter().any(|x| x.id == t.id))
                })
                .expect("added by some event");
            let psp = fold(&events[..added])
                .and_then(|p| p.payment_method_info.payment_interface)
                .unwrap_or_default();
            let group = (
                day_of(events[added - 1].meta.recorded_at),
                t.amount.currency.as_str().to_owned(),
                psp,
                t.kind,
                t.state,
            );
            groups
                .entry(group)
                .or_insert_with(Totals::default)
                .add(Totals {
                    count: 1,
                    cent_amount: t.amount.cent_amount,
                });
        }
    }
    groups
}

use payledger_domain::StreamId;

type GroupOf = (i32, String, String, TransactionType, TransactionState);

fn all_groups(store: &dyn EventStore) -> BTreeMap<GroupOf, Totals> {
    transaction_totals(
        store,
        &project(),
        i32::MIN / 2,
        i32::MAX / 2,
        &Dimension::ALL,
    )
    .expect("query")
    .into_iter()
    .map(|g| {
        (
            (
                g.day.expect("day"),
                g.currency.expect("currency"),
                g.psp.expect("psp"),
                g.kind.expect("type"),
                g.state.expect("state"),
            ),
            g.totals,
        )
    })
    .collect()
}

/// Runs the consumer's step over every partition's log in batches of
/// `batch` events, one handler per partition as the runner keeps them
/// (so later batches take what earlier ones established from memory).
fn consume(store: &MemoryStore, batch: usize) {
    for partition in 0..PARTITIONS {
        let mut from = 1;
        let mut handler = AnalyticsHandler::default();
        loop {
            let events = store.read_log(partition, from, batch).expect("read log");
            if events.is_empty() {
                break;
            }
            from += events.len() as u64;
            handler.prepare(store, events).expect("prepare");
        }
        let cursor = Cursor::load(store, ANALYTICS_CONSUMER, partition).expect("cursor");
        assert_eq!(cursor.sequence, store.log_head(partition).expect("head"));
    }
}

fn history() -> impl Strategy<Value = Vec<(u8, Step)>> {
    proptest::collection::vec((0u8..3, step()), 1..40)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn the_consumer_and_a_replay_count_what_the_events_say(
        steps in history(),
        batch in 1usize..7,
    ) {
        let store = Arc::new(MemoryStore::with_partitions(PARTITIONS));
        let ledger = Ledger::new(Arc::clone(&store));
        let payments = run(&ledger, &steps);
        let expected = brute_force(&store, &payments);
        let counted: i64 = expected.values().map(|t| t.count).sum();
        let held: usize = payments.iter().map(|p| p.transactions.len()).sum();
        prop_assert_eq!(counted, i64::try_from(held).expect("small"), "every transaction counts once");

        consume(&store, batch);
        prop_assert_eq!(&all_groups(&*store), &expected);

        let mut replayed = Replayed::default();
        let fresh = MemoryStore::with_partitions(PARTITIONS);
        let mut rows = Vec::new();
        for payment in &payments {
            let events = store.read_stream(StreamId::payment(payment.id), VersionRange::ALL).expect("read");
            rows.extend(replayed.stream(&events).expect("replay"));
        }
        let heads: Vec<u64> = (0..PARTITIONS).map(|p| store.log_head(p).expect("head")).collect();
        rows.extend(replayed.finish(&heads));
        fresh.write(rows).expect("write");
        prop_assert_eq!(&all_groups(&fresh), &expected);
    }
}

#[test]
fn groups_add_up_over_the_dimensions_left_out_and_days_bound_the_range() {
    let store = Arc::new(MemoryStore::with_partitions(PARTITIONS));
    let ledger = Ledger::new(Arc::clone(&store));
    let steps = vec![
        (
            0,
            Step::Create {
                psp: Some(0),
                transactions: vec![(2, 300, 0), (2, 200, 0)],
            },
        ),
        (
            1,
            Step::Create {
                psp: Some(1),
                transactions: vec![(2, 50, 1), (3, 70, 1)],
            },
        ),
        (
            2,
            Step::Change {
                payment: 0,
                transaction: 0,
                state: 2,
            },
        ),
    ];
    run(&ledger, &steps);
    consume(&store, 100);
    let day0 = day_of(meta(0, 0).now);
    let by_currency =
        transaction_totals(&*store, &project(), day0, day0 + 2, &[Dimension::Currency])
            .expect("query");
    assert_eq!(by_currency.len(), 2);
    assert_eq!(by_currency[0].currency.as_deref(), Some("EUR"));
    assert_eq!(
        by_currency[0].totals,
        Totals {
            count: 2,
            cent_amount: 500
        }
    );
    assert_eq!(by_currency[1].currency.as_deref(), Some("USD"));
    assert_eq!(
        by_currency[1].totals,
        Totals {
            count: 2,
            cent_amount: 120
        }
    );
    assert!(by_currency[0].day.is_none() && by_currency[0].psp.is_none());
    let first_day = transaction_totals(
        &*store,
        &project(),
        day0,
        day0,
        &[Dimension::Currency, Dimension::State],
    )
    .expect("query");
    let states: Vec<_> = first_day
        .iter()
        .map(|g| (g.state, g.totals.count))
        .collect();
    assert_eq!(
        states,
        vec![
            (Some(TransactionState::Initial), 1),
            (Some(TransactionState::Success), 1)
        ],
        "the first day's two charges: one still Initial, one moved to Success on day 2"
    );
}

#[test]
fn the_analytics_rows_keep_their_stored_format() {
    let project = project();
    let payment = PaymentId::from_bytes([0x11; 16]);
    let txn = TransactionId::from_bytes([0x22; 16]);
    let fact = TxnFact {
        day: 20_453,
        kind: TransactionType::Charge,
        state: TransactionState::Success,
        cent_amount: 4_200,
        currency: "EUR".into(),
        psp: "stripe".into(),
    };
    let bucket = BucketKey {
        project: project.clone(),
        day: -3,
        currency: "EUR".into(),
        psp: String::new(),
        kind: TransactionType::Refund,
        state: TransactionState::Pending,
        partition: 7,
    };
    let totals = Totals {
        count: 3,
        cent_amount: -900,
    };
    let psp_row = records::psp_write(&project, payment, "stripe");
    let txn_row = records::txn_write(&project, payment, txn, &fact);
    let stored = crate::golden::check(
        "analytics_rows_v1.txt",
        &[
            ("psp key", psp_row.key.clone()),
            ("psp value", psp_row.value.clone().expect("value")),
            ("transaction key", txn_row.key.clone()),
            ("transaction value", txn_row.value.clone().expect("value")),
            ("bucket key", records::bucket_key(&bucket)),
            ("bucket value", records::bucket_value(totals)),
        ],
    );
    assert_eq!(
        records::decode_psp(&stored["psp value"]).as_deref(),
        Some("stripe")
    );
    assert_eq!(
        records::decode_txn(&stored["transaction value"]),
        Some(fact)
    );
    assert_eq!(
        records::decode_bucket_key(&project, &stored["bucket key"]),
        Some(bucket)
    );
    assert_eq!(
        records::decode_bucket_value(&stored["bucket value"]),
        Some(totals)
    );
}

#[test]
fn bucket_keys_sort_by_day_across_the_epoch() {
    let key = |day| records::bucket_day_prefix(&project(), day);
    assert!(key(-2) < key(-1) && key(-1) < key(0) && key(0) < key(1));
}

#[test]
fn a_worker_takes_the_facts_of_its_earlier_batches_from_memory() {
    let store = Arc::new(MemoryStore::with_partitions(1));
    let ledger = Ledger::new(Arc::clone(&store));
    let steps = [
        (
            0,
            Step::Create {
                psp: Some(1),
                transactions: vec![(0, 500, 0)],
            },
        ),
        (
            0,
            Step::Change {
                payment: 0,
                transaction: 0,
                state: 2,
            },
        ),
    ];
    let payments = run(&ledger, &steps);
    let created = store.read_log(0, 1, 1).expect("read log");
    let mut handler = AnalyticsHandler::default();
    handler.prepare(&*store, created).expect("count the create");
    // Facts rows gone behind the worker's back: what it wrote, it knows.
    let rows = store
        .scan(Table::AnalyticsFacts, &[], &[0xff; 64], 100)
        .expect("scan");
    assert!(!rows.is_empty());
    store
        .write(
            rows.into_iter()
                .map(|(key, _)| KvWrite {
                    table: Table::AnalyticsFacts,
                    key,
                    value: None,
                })
                .collect(),
        )
        .expect("delete facts");
    let changed = store.read_log(0, 2, 10).expect("read log");
    handler.prepare(&*store, changed).expect("count the change");
    assert_eq!(all_groups(&*store), brute_force(&store, &payments));
}
