//! Conditions on one named field that every match of a predicate meets,
//! for planners that narrow candidates by a field of their own choosing
//! (the Message index by `type` and `createdAt`).
//!
//! As with [`crate::IndexHint`], only the top-level conjuncts count
//! (through nested `and`s), never anything under `or`, `not` or a nested
//! field, so the conditions are sound: a planner reads the candidates
//! they allow and still evaluates the whole predicate on each. Values
//! must be string literals or variables; any other conjunct on the field
//! narrows nothing.

use std::collections::BTreeSet;

use crate::ast::{CompareOp, Predicate};
use crate::eval::Variables;
use crate::hint::{list_values, operand_values};

impl Predicate {
    /// The values `field` must equal by its `field = …` and `field in …`
    /// conjuncts, intersected; `None` when none restricts it (an empty set:
    /// nothing matches).
    pub fn required_values(&self, field: &str, vars: &Variables) -> Option<BTreeSet<String>> {
        let mut required: Option<BTreeSet<String>> = None;
        for conjunct in conjuncts(self) {
            let values = match conjunct {
                Predicate::Compare {
                    field: name,
                    op: CompareOp::Eq,
                    value,
                } if name == field => operand_values(value, vars, true)
                    .map(|values| values.into_iter().collect::<BTreeSet<_>>()),
                Predicate::In {
                    field: name,
                    negated: false,
                    values,
                } if name == field => list_values(values, vars),
                _ => None,
            };
            if let Some(values) = values {
                required = Some(match required {
                    None => values,
                    Some(current) => current.intersection(&values).cloned().collect(),
                });
            }
        }
        required
    }

    /// The `field op text` conjuncts with `op` one of `=`, `<`, `<=`, `>`,
    /// `>=` and a string literal or a variable of one value.
    pub fn text_comparisons(&self, field: &str, vars: &Variables) -> Vec<(CompareOp, String)> {
        conjuncts(self)
            .into_iter()
            .filter_map(|conjunct| match conjunct {
                Predicate::Compare {
                    field: name,
                    op,
                    value,
                } if name == field && *op != CompareOp::Ne => {
                    let [text] =
                        <[String; 1]>::try_from(operand_values(value, vars, true)?).ok()?;
                    Some((*op, text))
                }
                _ => None,
            })
            .collect()
    }
}

/// The top-level conjuncts of `predicate`, nested `and`s flattened.
fn conjuncts(predicate: &Predicate) -> Vec<&Predicate> {
    match predicate {
        Predicate::And(items) => items.iter().flat_map(conjuncts).collect(),
        other => vec![other],
    }
}

#[cfg(test)]
mod tests;
