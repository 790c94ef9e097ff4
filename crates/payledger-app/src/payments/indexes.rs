//! The indexes a payment write keeps: the unique ones (key, interface id)
//! with the rejection for an entry another payment holds, the customer
//! index and the transaction interface ids, as the inline writes that take
//! a payment from one state to the next.

use crate::error::AppError;
use crate::table_keys;
use payledger_domain::payment::TransactionList;
use payledger_domain::{Payment, ProjectKey, Rejection};
use payledger_store::{KvWrite, Table};
use std::collections::BTreeSet;

/// The rejection for a unique index entry another payment holds. Index keys
/// are length-prefixed text: project, then the key, or project, interface
/// id and payment interface.
pub(super) fn duplicate(table: Table, key: &[u8]) -> AppError {
    let components = text_components(key);
    let value = |index: usize| {
        components
            .get(index)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .unwrap_or_default()
    };
    AppError::Rejected(match table {
        Table::InterfaceIndex => Rejection::DuplicateInterfaceId {
            interface_id: value(1),
        },
        _ => Rejection::DuplicateKey { key: value(1) },
    })
}

/// The length-prefixed text components of a key.
fn text_components(key: &[u8]) -> Vec<&[u8]> {
    let mut rest = key;
    let mut components = Vec::new();
    while let Some((component, after)) = table_keys::split_text(rest) {
        components.push(component);
        rest = after;
    }
    components
}

/// Unique index entries a set of inline writes puts.
pub(super) fn unique_values(writes: &[KvWrite]) -> impl Iterator<Item = (Table, &[u8])> {
    writes.iter().filter_map(|w| match (w.table, &w.value) {
        (Table::KeyIndex | Table::InterfaceIndex, Some(_)) => Some((w.table, w.key.as_slice())),
        _ => None,
    })
}

/// The index writes that take a payment from `before` to `after`.
pub(crate) fn index_writes(
    project: &ProjectKey,
    before: Option<&Payment>,
    after: &Payment,
) -> Vec<KvWrite> {
    let id = after.id;
    let live = |p: &Payment| !p.deleted;
    let key_of = |p: &Payment| {
        p.key
            .clone()
            .filter(|_| live(p))
            .map(|k| table_keys::key_index_key(project, &k))
    };
    let interface_of =
        |p: &Payment| match (&p.payment_method_info.payment_interface, &p.interface_id) {
            (Some(interface), Some(interface_id)) if live(p) => Some(
                table_keys::interface_index_key(project, interface, interface_id),
            ),
            _ => None,
        };
    let customer_of = |p: &Payment| {
        p.customer_id
            .clone()
            .filter(|_| live(p))
            .map(|c| table_keys::customer_index_key(project, &c, id))
    };
    let mut writes = Vec::new();
    let id_value = id.as_bytes().to_vec();
    for (table, old, new, value) in [
        (
            Table::KeyIndex,
            before.and_then(key_of),
            key_of(after),
            id_value.clone(),
        ),
        (
            Table::InterfaceIndex,
            before.and_then(interface_of),
            interface_of(after),
            id_value,
        ),
        (
            Table::CustomerIndex,
            before.and_then(customer_of),
            customer_of(after),
            Vec::new(),
        ),
    ] {
        if old == new {
            continue;
        }
        if let Some(old) = old {
            writes.push(KvWrite {
                table,
                key: old,
                value: None,
            });
        }
        if let Some(new) = new {
            writes.push(KvWrite {
                table,
                key: new,
                value: Some(value),
            });
        }
    }
    writes.extend(transaction_interface_writes(project, before, after));
    writes
}

/// The changes of the (non-unique) index of transaction interface ids:
/// a PSP object id finds its payment without a scan.
///
/// Between two live versions only the positions whose transaction is not
/// the very one of the version before are read (most updates add one
/// transaction and change another, whatever the payment's size); an id
/// that appears or goes there is looked for among the other transactions
/// before its key is written or deleted.
fn transaction_interface_writes(
    project: &ProjectKey,
    before: Option<&Payment>,
    after: &Payment,
) -> Vec<KvWrite> {
    let key =
        |interface_id: &str| table_keys::transaction_interface_key(project, interface_id, after.id);
    let Some(before) = before.filter(|b| b.deleted == after.deleted && !after.deleted) else {
        // A creation or a deletion: every id of each side.
        let keys = |p: &Payment| -> BTreeSet<Vec<u8>> {
            if p.deleted {
                return BTreeSet::new();
            }
            (p.transactions.iter())
                .filter_map(|t| t.interface_id.as_deref())
                .map(key)
                .collect()
        };
        return key_changes(&before.map(keys).unwrap_or_default(), &keys(after));
    };
    let (old, new) = (&before.transactions, &after.transactions);
    let changed: Vec<usize> = new.differs_from(old).chain(new.len()..old.len()).collect();
    let (old_ids, new_ids) = (ids_at(old, &changed), ids_at(new, &changed));
    if old_ids == new_ids {
        // Most updates (states, interactions, transactions without ids).
        return Vec::new();
    }
    // The positions both versions share hold the same ids in both.
    let held_elsewhere = |id: &str| {
        (new.iter().enumerate().take(old.len()))
            .filter(|(at, _)| changed.binary_search(at).is_err())
            .any(|(_, t)| t.interface_id.as_deref() == Some(id))
    };
    let keys = |ids: &BTreeSet<&str>, others: &BTreeSet<&str>| -> BTreeSet<Vec<u8>> {
        (ids.difference(others))
            .filter(|id| !held_elsewhere(id))
            .map(|id| key(id))
            .collect()
    };
    let (gone, came) = (keys(&old_ids, &new_ids), keys(&new_ids, &old_ids));
    key_changes(&gone, &came)
}

/// The interface ids of the transactions at `positions` of `list`.
fn ids_at<'a>(list: &'a TransactionList, positions: &[usize]) -> BTreeSet<&'a str> {
    (positions.iter())
        .filter_map(|at| list.get(*at)?.interface_id.as_deref())
        .collect()
}

/// Deletes the keys of `old` that `new` lacks and puts the keys of `new`
/// that `old` lacks.
fn key_changes(old: &BTreeSet<Vec<u8>>, new: &BTreeSet<Vec<u8>>) -> Vec<KvWrite> {
    let removed = old.difference(new).map(|key| KvWrite {
        table: Table::TransactionInterfaceIndex,
        key: key.clone(),
        value: None,
    });
    let added = new.difference(old).map(|key| KvWrite {
        table: Table::TransactionInterfaceIndex,
        key: key.clone(),
        value: Some(Vec::new()),
    });
    removed.chain(added).collect()
}

#[cfg(test)]
mod tests;
