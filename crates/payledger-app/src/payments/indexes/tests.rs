//! The transaction interface id index changes exactly as recomputing it
//! from every transaction of both versions would, while reading only the
//! transactions a version does not share with the one before.

use super::*;
use payledger_domain::payment::{Transaction, TransactionState, TransactionType};
use payledger_domain::{CurrencyCode, Money, TransactionId};
use proptest::prelude::*;
use std::sync::Arc;

fn project() -> ProjectKey {
    ProjectKey::parse("shop").expect("project key")
}

/// Interface ids from a pool of three (or none), so versions share ids
/// and a payment may even hold one twice, as no rule here forbids.
fn interface_id(pick: u8) -> Option<String> {
    (!pick.is_multiple_of(4)).then(|| format!("pi_{}", pick % 4))
}

fn transaction(n: u128, pick: u8) -> Transaction {
    Transaction {
        id: TransactionId::from_bytes(n.to_be_bytes()),
        timestamp: None,
        kind: TransactionType::Charge,
        amount: Money::new(100, CurrencyCode::parse("EUR").expect("EUR")),
        interaction_id: None,
        interface_id: interface_id(pick),
        state: TransactionState::Initial,
        custom: None,
    }
}

fn payment(picks: &[u8]) -> Payment {
    let transactions = (picks.iter().enumerate())
        .map(|(n, pick)| transaction(n as u128 + 1, *pick))
        .collect();
    crate::test_payments::payment([7; 16], transactions)
}

/// The index's writes recomputed from every transaction of both sides.
fn recomputed(before: Option<&Payment>, after: &Payment) -> Vec<KvWrite> {
    let keys = |p: &Payment| -> BTreeSet<Vec<u8>> {
        if p.deleted {
            return BTreeSet::new();
        }
        (p.transactions.iter())
            .filter_map(|t| t.interface_id.as_deref())
            .map(|id| table_keys::transaction_interface_key(&project(), id, p.id))
            .collect()
    };
    key_changes(&before.map(keys).unwrap_or_default(), &keys(after))
}

#[derive(Clone, Debug)]
enum Change {
    /// Sets the interface id of the transaction at this index.
    SetId(prop::sample::Index, u8),
    /// Adds a transaction with this interface id pick.
    Add(u8),
    Delete,
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        3 => (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(at, pick)| Change::SetId(at, pick)),
        3 => any::<u8>().prop_map(Change::Add),
        1 => Just(Change::Delete),
    ]
}

proptest! {
    #[test]
    fn an_update_changes_the_index_as_a_recomputation_would(
        picks in prop::collection::vec(any::<u8>(), 0..80),
        changes in prop::collection::vec(change(), 0..5),
        created in prop::bool::weighted(0.1),
    ) {
        let before = payment(&picks);
        let mut after = before.clone();
        let mut next = picks.len() as u128 + 1;
        for change in changes {
            match change {
                Change::SetId(at, pick) if !after.transactions.is_empty() => {
                    let id = after.transactions[at.index(after.transactions.len())].id;
                    after.transactions.update(id, |t| t.interface_id = interface_id(pick));
                }
                Change::Add(pick) => {
                    after.transactions.push(Arc::new(transaction(next, pick)));
                    next += 1;
                }
                Change::Delete => after.deleted = true,
                Change::SetId(..) => {}
            }
        }
        let before = (!created).then_some(&before);
        prop_assert_eq!(
            transaction_interface_writes(&project(), before, &after),
            recomputed(before, &after)
        );
    }
}

#[test]
fn an_update_that_touches_no_interface_id_writes_nothing() {
    let before = payment(&[1, 2, 3, 0]);
    let mut after = before.clone();
    after.transactions.push(Arc::new(transaction(5, 0)));
    let id = after.transactions[1].id;
    after
        .transactions
        .update(id, |t| t.state = TransactionState::Success);
    assert_eq!(
        transaction_interface_writes(&project(), Some(&before), &after),
        Vec::new()
    );
}

#[test]
fn an_id_still_held_by_another_transaction_keeps_its_key() {
    // Two transactions hold pi_1; one of them moves to pi_2.
    let before = payment(&[1, 1]);
    let mut after = before.clone();
    let id = after.transactions[0].id;
    after
        .transactions
        .update(id, |t| t.interface_id = Some("pi_2".into()));
    let writes = transaction_interface_writes(&project(), Some(&before), &after);
    assert_eq!(
        writes,
        vec![KvWrite {
            table: Table::TransactionInterfaceIndex,
            key: table_keys::transaction_interface_key(&project(), "pi_2", after.id),
            value: Some(Vec::new()),
        }]
    );
}
