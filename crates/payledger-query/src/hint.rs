//! Index hints: which indexed lookups a predicate implies.
//!
//! The planner fetches candidates by index instead of scanning, then still
//! evaluates the whole predicate on each candidate. A hint is therefore only
//! useful if it is sound: every document the predicate matches must be among
//! the hint's candidates. That holds for conditions that every match must
//! meet: the top-level conjuncts (through nested `and`s and parentheses),
//! never anything under `or` or `not`.
//!
//! | conjunct                                   | hint            |
//! |--------------------------------------------|-----------------|
//! | `id = "x"`, `id in ("x", …)`, `id in :v`   | `Id`            |
//! | `key = …`, `key in …`                      | `Key`           |
//! | `interfaceId = …`, `interfaceId in …`      | `InterfaceId`   |
//! | `customer(id = …)`, `customer(id in …)`    | `CustomerId`    |
//!
//! Values must be string literals or variables (whose values are text);
//! anything else gives no hint for that conjunct. Several conjuncts on the
//! same index intersect. A variable that does not resolve gives no hint
//! (evaluation reports it).

use std::collections::BTreeSet;

use crate::ast::{CompareOp, Literal, Operand, Predicate, ValueList};
use crate::eval::Variables;

/// A sound candidate set for a predicate: every match has one of `values`
/// in the named index. An empty list means nothing can match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexHint {
    /// By payment id.
    Id(Vec<String>),
    /// By payment key.
    Key(Vec<String>),
    /// By `interfaceId`.
    InterfaceId(Vec<String>),
    /// By `customer.id`.
    CustomerId(Vec<String>),
}

impl IndexHint {
    /// The candidate values, sorted and distinct.
    pub fn values(&self) -> &[String] {
        match self {
            IndexHint::Id(values)
            | IndexHint::Key(values)
            | IndexHint::InterfaceId(values)
            | IndexHint::CustomerId(values) => values,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Index {
    Id,
    Key,
    InterfaceId,
    CustomerId,
}

/// The candidate set per index, intersected over conjuncts.
#[derive(Debug, Default)]
struct Hints {
    sets: [Option<BTreeSet<String>>; 4],
}

impl Hints {
    fn narrow(&mut self, index: Index, values: BTreeSet<String>) {
        let slot = &mut self.sets[index as usize];
        *slot = Some(match slot.take() {
            None => values,
            Some(current) => current.intersection(&values).cloned().collect(),
        });
    }

    fn into_vec(self) -> Vec<IndexHint> {
        let [id, key, interface_id, customer_id] = self.sets;
        let make = |set: Option<BTreeSet<String>>, variant: fn(Vec<String>) -> IndexHint| {
            set.map(|set| variant(set.into_iter().collect()))
        };
        [
            make(id, IndexHint::Id),
            make(key, IndexHint::Key),
            make(interface_id, IndexHint::InterfaceId),
            make(customer_id, IndexHint::CustomerId),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

impl Predicate {
    /// The index lookups this predicate implies, at most one per index, in the
    /// order `Id`, `Key`, `InterfaceId`, `CustomerId`; empty if none.
    pub fn index_hints(&self, vars: &Variables) -> Vec<IndexHint> {
        let mut hints = Hints::default();
        collect(self, vars, false, &mut hints);
        hints.into_vec()
    }
}

/// Adds the hints of the conjuncts of `predicate`; `in_customer` when inside
/// `customer(…)`, where only `id` is indexed.
fn collect(predicate: &Predicate, vars: &Variables, in_customer: bool, hints: &mut Hints) {
    match predicate {
        Predicate::And(items) => {
            for item in items {
                collect(item, vars, in_customer, hints);
            }
        }
        Predicate::Nested { field, inner } if !in_customer && field == "customer" => {
            collect(inner, vars, true, hints);
        }
        Predicate::Compare {
            field,
            op: CompareOp::Eq,
            value,
        } => {
            if let (Some(index), Some(values)) = (
                index_of(field, in_customer),
                operand_values(value, vars, true),
            ) {
                hints.narrow(index, values.into_iter().collect());
            }
        }
        Predicate::In {
            field,
            negated: false,
            values,
        } => {
            if let (Some(index), Some(values)) =
                (index_of(field, in_customer), list_values(values, vars))
            {
                hints.narrow(index, values);
            }
        }
        _ => {}
    }
}

fn index_of(field: &str, in_customer: bool) -> Option<Index> {
    match (in_customer, field) {
        (false, "id") => Some(Index::Id),
        (false, "key") => Some(Index::Key),
        (false, "interfaceId") => Some(Index::InterfaceId),
        (true, "id") => Some(Index::CustomerId),
        _ => None,
    }
}

/// The text values of one operand; `single` requires a variable to have
/// exactly one value, as a comparison does.
pub(crate) fn operand_values(
    operand: &Operand,
    vars: &Variables,
    single: bool,
) -> Option<Vec<String>> {
    match operand {
        Operand::Literal(Literal::String(text)) => Some(vec![text.clone()]),
        Operand::Literal(Literal::Number(_) | Literal::Bool(_)) => None,
        Operand::Variable(name) => {
            let values = vars.get(name)?;
            (!single || values.len() == 1).then(|| values.to_vec())
        }
    }
}

pub(crate) fn list_values(list: &ValueList, vars: &Variables) -> Option<BTreeSet<String>> {
    match list {
        ValueList::Variable(name) => Some(vars.get(name)?.iter().cloned().collect()),
        ValueList::Values(operands) => {
            let mut values = BTreeSet::new();
            for operand in operands {
                values.extend(operand_values(operand, vars, false)?);
            }
            Some(values)
        }
    }
}

#[cfg(test)]
mod tests;
