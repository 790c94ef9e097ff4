//! Order use cases over the reference store: the stored view equals the
//! fold of the order's events, unique values stay unique under
//! concurrency, and the totals follow the payments.

use super::*;
use crate::payments::{PaymentCommand, PaymentRef};
use payledger_domain::command::{PaymentDraftInput, TransactionDraftInput};
use payledger_domain::order::{OrderState, fold_order};
use payledger_domain::payment::{TransactionState, TransactionType};
use payledger_domain::{Actor, CurrencyCode, Money, OrderPaymentState, Timestamp, UpdateAction};
use payledger_store::VersionRange;
use payledger_store::memory::MemoryStore;

fn project() -> ProjectKey {
    ProjectKey::parse("shop").unwrap()
}

fn eur(cents: i64) -> Money {
    Money::new(cents, CurrencyCode::parse("EUR").unwrap())
}

fn meta() -> CommandMeta {
    CommandMeta {
        project: project(),
        actor: Actor::Client("tester".into()),
        now: Timestamp(1_767_225_600_000),
        correlation_id: None,
        idempotency: None,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

struct World {
    rt: tokio::runtime::Runtime,
    ledger: Ledger<MemoryStore>,
    orders: Orders<MemoryStore>,
}

impl World {
    fn new() -> Self {
        let ledger = Ledger::new(Arc::new(MemoryStore::new()));
        Self {
            rt: runtime(),
            orders: Orders::new(ledger.clone()),
            ledger,
        }
    }

    fn create(&self, number: &str, key: Option<&str>, total: i64) -> Result<OrderView, AppError> {
        let draft = OrderDraft {
            order_number: number.into(),
            key: key.map(str::to_owned),
            total_price: eur(total),
            customer_id: None,
            customer_email: Some("ann@example.com".into()),
            recurring: false,
        };
        self.rt.block_on(
            self.orders
                .execute(meta(), None, OrderCommand::Create(draft)),
        )
    }

    fn update(&self, order: &Order, actions: Vec<OrderAction>) -> Result<OrderView, AppError> {
        self.rt.block_on(self.orders.execute(
            meta(),
            None,
            OrderCommand::Update {
                target: OrderRef::Id(order.id),
                version: order.version,
                actions,
            },
        ))
    }

    fn payment(&self, cents: i64) -> Payment {
        let command = PaymentCommand::Create(Box::new(PaymentDraftInput::new(eur(cents))));
        let committed = self
            .rt
            .block_on(self.ledger.execute(meta(), command))
            .unwrap();
        Arc::unwrap_or_clone(committed.payment)
    }

    /// Adds a transaction of `kind` in `state` to the payment.
    fn transact(
        &self,
        payment: &Payment,
        kind: TransactionType,
        cents: i64,
        state: TransactionState,
    ) -> Payment {
        let mut draft = TransactionDraftInput::new(kind, eur(cents));
        draft.state = Some(state);
        let command = PaymentCommand::Update {
            target: PaymentRef::Id(payment.id),
            version: payment.version,
            actions: vec![UpdateAction::AddTransaction(draft)],
        };
        let committed = self
            .rt
            .block_on(self.ledger.execute(meta(), command))
            .unwrap();
        Arc::unwrap_or_clone(committed.payment)
    }

    fn get(&self, target: OrderRef) -> Option<OrderView> {
        self.orders.get(&project(), &target).unwrap()
    }

    /// The order folded from its stored events.
    fn replayed(&self, id: OrderId) -> Order {
        let events = self
            .ledger
            .store()
            .read_stream(StreamId::order(id), VersionRange::ALL)
            .unwrap();
        fold_order(&events).unwrap()
    }
}

fn rejection(result: Result<OrderView, AppError>) -> Rejection {
    match result {
        Err(AppError::Rejected(rejection)) => rejection,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn a_created_order_is_found_by_id_number_and_key_and_equals_its_replay() {
    let world = World::new();
    let created = world.create("A-1", Some("order-a1"), 3300).unwrap();
    assert_eq!(created.order.version, 1);
    assert_eq!(created.totals.payment_state, OrderPaymentState::BalanceDue);
    assert_eq!(created.totals.total_outstanding, eur(3300));
    let id = created.order.id;
    for target in [
        OrderRef::Id(id),
        OrderRef::Number("A-1".into()),
        OrderRef::Key("order-a1".into()),
    ] {
        assert_eq!(world.get(target).as_ref(), Some(&created));
    }
    assert_eq!(world.replayed(id), created.order);
    assert_eq!(world.get(OrderRef::Number("A-2".into())), None);
    let other_project = ProjectKey::parse("other").unwrap();
    assert_eq!(
        world.orders.get(&other_project, &OrderRef::Id(id)).unwrap(),
        None
    );
}

#[test]
fn order_numbers_and_keys_are_unique_per_project_and_a_refusal_writes_nothing() {
    let world = World::new();
    world.create("A-1", Some("k-1"), 100).unwrap();
    assert_eq!(
        rejection(world.create("A-1", None, 100)),
        Rejection::DuplicateOrderNumber {
            order_number: "A-1".into()
        }
    );
    assert_eq!(
        rejection(world.create("A-2", Some("k-1"), 100)),
        Rejection::DuplicateKey { key: "k-1".into() }
    );
    assert_eq!(world.get(OrderRef::Number("A-2".into())), None);
    assert_eq!(world.orders.list(&project(), 10).unwrap().len(), 1);
}

#[test]
fn totals_follow_the_payments_through_charge_refund_and_failure() {
    let world = World::new();
    let order = world.create("A-1", None, 3300).unwrap().order;
    let failed = world.payment(3300);
    let order = world
        .update(&order, vec![OrderAction::AddPayment(failed.id)])
        .unwrap()
        .order;
    let state = || world.get(OrderRef::Id(order.id)).unwrap().totals;
    assert_eq!(state().payment_state, OrderPaymentState::BalanceDue);
    world.transact(
        &failed,
        TransactionType::Charge,
        3300,
        TransactionState::Failure,
    );
    assert_eq!(state().payment_state, OrderPaymentState::Failed);

    let retry = world.payment(3300);
    let order = world
        .update(&order, vec![OrderAction::AddPayment(retry.id)])
        .unwrap()
        .order;
    let retry = world.transact(
        &retry,
        TransactionType::Charge,
        3300,
        TransactionState::Pending,
    );
    assert_eq!(state().payment_state, OrderPaymentState::Pending);
    let charged = {
        let tx = retry.transactions[0].id;
        let command = PaymentCommand::Update {
            target: PaymentRef::Id(retry.id),
            version: retry.version,
            actions: vec![UpdateAction::ChangeTransactionState {
                transaction_id: tx,
                state: TransactionState::Success,
            }],
        };
        Arc::unwrap_or_clone(
            world
                .rt
                .block_on(world.ledger.execute(meta(), command))
                .unwrap()
                .payment,
        )
    };
    let paid = state();
    assert_eq!(paid.payment_state, OrderPaymentState::Paid);
    assert_eq!(paid.total_paid, eur(3300));
    assert_eq!(paid.total_outstanding, eur(0));

    world.transact(
        &charged,
        TransactionType::Refund,
        1000,
        TransactionState::Success,
    );
    let refunded = state();
    assert_eq!(refunded.payment_state, OrderPaymentState::BalanceDue);
    assert_eq!(refunded.total_refunded, eur(1000));
    assert_eq!(refunded.total_outstanding, eur(1000));
    assert_eq!(
        world.replayed(order.id),
        world.get(OrderRef::Id(order.id)).unwrap().order
    );
}

#[test]
fn a_payment_belongs_to_at_most_one_order_until_it_is_removed() {
    let world = World::new();
    let first = world.create("A-1", None, 100).unwrap().order;
    let second = world.create("A-2", None, 100).unwrap().order;
    let payment = world.payment(100);
    let first = world
        .update(&first, vec![OrderAction::AddPayment(payment.id)])
        .unwrap()
        .order;
    assert_eq!(
        world
            .orders
            .order_of_payment(&project(), payment.id)
            .unwrap(),
        Some(first.id)
    );
    assert_eq!(
        rejection(world.update(&second, vec![OrderAction::AddPayment(payment.id)])),
        Rejection::PaymentAlreadyInOrder {
            payment: payment.id,
            order: Some(first.id)
        }
    );
    world
        .update(&first, vec![OrderAction::RemovePayment(payment.id)])
        .unwrap();
    assert_eq!(
        world
            .orders
            .order_of_payment(&project(), payment.id)
            .unwrap(),
        None
    );
    let second = world
        .update(&second, vec![OrderAction::AddPayment(payment.id)])
        .unwrap();
    assert_eq!(second.order.payments, vec![payment.id]);
    for order in [first.id, second.order.id] {
        let events = (world.ledger.store())
            .read_stream(StreamId::order(order), VersionRange::ALL)
            .unwrap();
        assert_eq!(
            crate::projections::stored_differences(&**world.ledger.store(), &events).unwrap(),
            Vec::new(),
            "an order's rows written a change at a time are its rows from scratch"
        );
    }
}

#[test]
fn concurrent_links_of_one_payment_leave_it_in_exactly_one_order() {
    let world = World::new();
    let payment = world.payment(100);
    let orders: Vec<Order> = (0..8)
        .map(|n| world.create(&format!("A-{n}"), None, 100).unwrap().order)
        .collect();
    let outcomes = world.rt.block_on(async {
        let tasks: Vec<_> = orders
            .iter()
            .map(|order| {
                let orders = world.orders.clone();
                let command = OrderCommand::Update {
                    target: OrderRef::Id(order.id),
                    version: order.version,
                    actions: vec![OrderAction::AddPayment(payment.id)],
                };
                tokio::spawn(async move { orders.execute(meta(), None, command).await })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap());
        }
        outcomes
    });
    let linked: Vec<&OrderView> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(linked.len(), 1, "{outcomes:?}");
    for refused in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        assert!(
            matches!(
                refused,
                AppError::Rejected(Rejection::PaymentAlreadyInOrder { .. })
            ),
            "{refused:?}"
        );
    }
    let holders: Vec<_> = orders
        .iter()
        .filter(|o| {
            !world
                .get(OrderRef::Id(o.id))
                .unwrap()
                .order
                .payments
                .is_empty()
        })
        .collect();
    assert_eq!(holders.len(), 1);
}

#[test]
fn a_stale_version_conflicts_and_an_unknown_order_is_not_found() {
    let world = World::new();
    let order = world.create("A-1", None, 100).unwrap().order;
    world.update(&order, vec![OrderAction::Cancel]).unwrap();
    assert!(matches!(
        world.update(&order, vec![OrderAction::SetKey(Some("kk".into()))]),
        Err(AppError::Conflict {
            expected: 1,
            current_version: 2,
            ..
        })
    ));
    let cancelled = world.get(OrderRef::Id(order.id)).unwrap().order;
    assert_eq!(cancelled.order_state, OrderState::Cancelled);
    let mut unknown = order.clone();
    unknown.id = OrderId::from_bytes([0xaa; 16]);
    assert!(matches!(
        world.update(&unknown, vec![OrderAction::Cancel]),
        Err(AppError::NotFound)
    ));
}
