//! The list behaves as a vector of transactions does, and its versions
//! share every transaction and chunk that a change did not reach.

use super::*;
use crate::money::{CurrencyCode, Money};
use crate::payment::{TransactionState, TransactionType};
use proptest::prelude::*;

fn transaction(n: u128) -> Transaction {
    Transaction {
        id: TransactionId::from_bytes(n.to_be_bytes()),
        timestamp: None,
        kind: TransactionType::Charge,
        amount: Money::new(
            i64::try_from(n).unwrap_or(0),
            CurrencyCode::parse("EUR").unwrap(),
        ),
        interaction_id: None,
        interface_id: None,
        state: TransactionState::Initial,
        custom: None,
    }
}

fn id(n: u128) -> TransactionId {
    TransactionId::from_bytes(n.to_be_bytes())
}

fn list_of(count: u128) -> TransactionList {
    (1..=count).map(transaction).collect()
}

#[derive(Clone, Debug)]
enum Op {
    Push,
    /// Changes the state of the transaction at this index (modulo the
    /// length), found by its id.
    Succeed(usize),
    Remove(usize),
    /// Goes on with a copy; the list before must not change.
    Copy,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Push),
        2 => any::<usize>().prop_map(Op::Succeed),
        1 => any::<usize>().prop_map(Op::Remove),
        1 => Just(Op::Copy),
    ]
}

fn assert_same(list: &TransactionList, model: &[Transaction]) {
    assert_eq!(list.len(), model.len());
    assert_eq!(list.is_empty(), model.is_empty());
    let forward: Vec<Transaction> = list.iter().map(|t| (**t).clone()).collect();
    assert_eq!(forward, model);
    let mut backward: Vec<Transaction> = list.iter().rev().map(|t| (**t).clone()).collect();
    backward.reverse();
    assert_eq!(backward, model);
    for (index, t) in model.iter().enumerate() {
        assert_eq!(list.position(t.id), Some(index));
        assert_eq!(list.get(index).map(|t| &**t), Some(t));
    }
    assert_eq!(list.get(model.len()), None);
    assert_eq!(list.first().map(|t| &**t), model.first());
    assert_eq!(list.last().map(|t| &**t), model.last());
    assert_eq!(*list, model.iter().cloned().collect::<TransactionList>());
}

proptest! {
    #[test]
    fn every_operation_does_what_it_does_to_a_vector(ops in prop::collection::vec(op(), 0..300)) {
        let mut list = TransactionList::new();
        let mut model: Vec<Transaction> = Vec::new();
        let mut next = 0u128;
        for op in ops {
            match op {
                Op::Push => {
                    next += 1;
                    list.push(Arc::new(transaction(next)));
                    model.push(transaction(next));
                }
                Op::Succeed(at) if !model.is_empty() => {
                    let at = at % model.len();
                    let target = model[at].id;
                    list.update(target, |t| t.state = TransactionState::Success);
                    model[at].state = TransactionState::Success;
                }
                Op::Remove(at) if !model.is_empty() => {
                    let at = at % model.len();
                    let removed = list.remove(at).map(|t| (*t).clone());
                    prop_assert_eq!(removed, Some(model.remove(at)));
                }
                Op::Copy => {
                    let before = list.clone();
                    let snapshot = model.clone();
                    list = before.clone();
                    next += 1;
                    list.push(Arc::new(transaction(next)));
                    model.push(transaction(next));
                    assert_same(&before, &snapshot);
                }
                Op::Succeed(_) | Op::Remove(_) => {}
            }
            assert_same(&list, &model);
        }
    }

    #[test]
    fn iterators_skip_and_meet_in_the_middle(count in 0u128..100, skip in 0usize..120, from_back in 0usize..120) {
        let list = list_of(count);
        let model: Vec<TransactionId> = (1..=count).map(id).collect();
        let got: Vec<TransactionId> = list.iter().skip(skip).map(|t| t.id).collect();
        let want: Vec<TransactionId> = model.iter().copied().skip(skip).collect();
        prop_assert_eq!(got, want);
        let mut iter = list.iter();
        let back: Vec<TransactionId> = iter.by_ref().rev().take(from_back).map(|t| t.id).collect();
        let front: Vec<TransactionId> = iter.map(|t| t.id).collect();
        prop_assert_eq!(back.len() + front.len(), model.len());
        prop_assert_eq!(list.iter().len(), model.len());
    }
}

#[test]
fn a_copy_shares_every_transaction_until_one_changes() {
    let before = list_of(100);
    let mut after = before.clone();
    after.push(Arc::new(transaction(101)));
    after.update(id(100), |t| t.state = TransactionState::Success);
    for index in 0..99 {
        assert!(after.shares(&before, index), "transaction {index}");
    }
    assert!(!after.shares(&before, 99), "the changed one is a copy");
    assert_eq!(
        before.get(99).map(|t| t.state),
        Some(TransactionState::Initial)
    );
    assert_eq!(
        after.get(99).map(|t| t.state),
        Some(TransactionState::Success)
    );
    assert_eq!(before.len(), 100);
    assert_eq!(after.len(), 101);
    assert!(!after.shares(&before, 100), "past the end of one of them");
}

#[test]
fn a_copy_copies_a_pointer_per_chunk_and_a_change_copies_one_chunk() {
    let before = list_of(10 * TRANSACTION_CHUNK_LEN as u128);
    let mut after = before.clone();
    for (a, b) in after.chunks.iter().zip(&before.chunks) {
        assert!(Arc::ptr_eq(a, b));
    }
    after.update(id(1), |t| t.state = TransactionState::Failure);
    let shared = after
        .chunks
        .iter()
        .zip(&before.chunks)
        .filter(|(a, b)| Arc::ptr_eq(a, b))
        .count();
    assert_eq!(shared, 9, "only the first chunk was copied");
    // The whole chunks of both stay full.
    assert!(
        after
            .chunks
            .iter()
            .all(|c| c.len() == TRANSACTION_CHUNK_LEN)
    );
}

#[test]
fn finding_by_id_returns_the_transaction_and_nothing_for_an_unknown_id() {
    let list = list_of(70);
    assert_eq!(list.find(id(33)).map(|t| t.id), Some(id(33)));
    assert_eq!(list.position(id(70)), Some(69));
    assert!(list.contains(id(1)));
    assert!(!list.contains(id(71)));
    let mut list = list;
    assert_eq!(
        list.update(id(71), |t| t.state = TransactionState::Success),
        None
    );
    assert_eq!(list.remove(70), None);
}

#[test]
#[should_panic(expected = "a transaction's id never changes")]
fn an_update_may_not_change_the_id() {
    let mut list = list_of(3);
    list.update(id(2), |t| t.id = id(9));
}

#[test]
fn debug_shows_the_transactions_as_a_list() {
    let list = list_of(2);
    let vector: Vec<Arc<Transaction>> = list.iter().cloned().collect();
    assert_eq!(format!("{list:?}"), format!("{vector:?}"));
}

proptest! {
    /// Exactly the positions whose transaction is not the same pointer in
    /// the version before, whatever changed between them.
    #[test]
    fn differs_from_names_what_a_version_does_not_share(
        count in 0u128..120,
        changed in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        added in 0u128..40,
        removed in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let before = list_of(count);
        let mut after = before.clone();
        for at in changed.iter().filter(|_| count > 0) {
            let target = after[at.index(after.len())].id;
            after.update(target, |t| t.state = TransactionState::Pending);
        }
        for n in 0..added {
            after.push(Arc::new(transaction(1_000 + n)));
        }
        if let Some(at) = removed.filter(|_| !after.is_empty()) {
            after.remove(at.index(after.len()));
        }
        let naive: Vec<usize> = (0..after.len())
            .filter(|at| !after.shares(&before, *at))
            .collect();
        prop_assert_eq!(after.differs_from(&before).collect::<Vec<_>>(), naive);
        prop_assert_eq!(before.differs_from(&before).count(), 0);
    }
}
