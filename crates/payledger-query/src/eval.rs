//! Evaluating a [`Predicate`] against a JSON document.
//!
//! Variables are checked once, before any document is looked at
//! ([`Predicate::bind`]), so an unknown variable is a 400 even when no
//! document would have reached it; evaluating a bound predicate cannot fail.
//!
//! Semantics, where commercetools leaves room:
//!
//! - A field is looked up as a key of the current object. A missing field and
//!   an explicit `null` are the same: absent.
//! - On an absent field every comparison is false, **including `!=` and
//!   `not in`**, as in commercetools; only `is not defined` and `is empty`
//!   are true there.
//! - Scalars compare by kind: strings by code point (case-sensitive, so ISO
//!   timestamps in the fixed `YYYY-MM-DDTHH:MM:SS.sssZ` form compare by time),
//!   numbers exactly (see `number`), booleans with false < true. A scalar of
//!   another kind than the value (`version = "2"`) is unequal and unordered:
//!   `!=` and `not in` are true, the rest false. Objects compare with nothing.
//! - A variable's values are text; against a number or boolean field a value
//!   is read as a number or boolean (`var.v=2` matches `version = :v`), and if
//!   it does not read as one it is of another kind.
//! - On an array field, a comparison, `in` or `not in` holds when it holds for
//!   some element (one level: elements that are arrays count as objects do),
//!   and `field(p)` holds when `p` holds inside some element that is an
//!   object. `field(p)` on a scalar is false.
//! - `contains any|all` needs an array field: some / every listed value equals
//!   an element. `all` of an empty list (an empty variable) is true.
//! - `is defined`: present and not null. `is empty`: absent, `[]` or `{}`
//!   (commercetools always renders its arrays, so "absent" only arises for
//!   optional collections). `is not …` is the exact negation.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde_json::Value;

use crate::ast::{CompareOp, ContainsMode, IsCheck, Literal, Operand, Predicate, ValueList};
use crate::error::EvalError;
use crate::number::Number;

/// The `var.<name>=<value>` parameters of a request: each name has one or
/// more text values, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Variables {
    values: BTreeMap<String, Vec<String>>,
}

impl Variables {
    /// No variables.
    pub fn new() -> Variables {
        Variables::default()
    }

    /// Adds one value to `name` (a repeated `var.name` parameter).
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.values
            .entry(name.into())
            .or_default()
            .push(value.into());
    }

    /// The values of `name`, if it was given.
    pub fn get(&self, name: &str) -> Option<&[String]> {
        self.values.get(name).map(Vec::as_slice)
    }
}

impl From<BTreeMap<String, Vec<String>>> for Variables {
    fn from(values: BTreeMap<String, Vec<String>>) -> Variables {
        Variables { values }
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Variables {
    /// Collects `(name, value)` pairs, appending repeated names in order.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Variables {
        let mut variables = Variables::new();
        for (name, value) in pairs {
            variables.push(name, value);
        }
        variables
    }
}

/// A predicate whose variables are known to resolve: evaluation cannot fail.
#[derive(Debug, Clone, Copy)]
pub struct BoundPredicate<'a> {
    predicate: &'a Predicate,
    vars: &'a Variables,
}

impl BoundPredicate<'_> {
    /// Whether `doc` satisfies the predicate.
    pub fn matches(&self, doc: &Value) -> bool {
        eval(self.predicate, doc, self.vars)
    }
}

impl Predicate {
    /// Checks that every variable used is given, with exactly one value where
    /// it is compared with an operator.
    pub fn check_variables(&self, vars: &Variables) -> Result<(), EvalError> {
        match self {
            Predicate::Or(items) | Predicate::And(items) => {
                items.iter().try_for_each(|item| item.check_variables(vars))
            }
            Predicate::Not(inner) | Predicate::Nested { inner, .. } => inner.check_variables(vars),
            Predicate::Compare { value, .. } => match value {
                Operand::Literal(_) => Ok(()),
                Operand::Variable(name) => match lookup_variable(name, vars)? {
                    [_] => Ok(()),
                    values => Err(EvalError::VariableNotSingle {
                        name: name.clone(),
                        count: values.len(),
                    }),
                },
            },
            Predicate::In { values, .. } | Predicate::Contains { values, .. } => match values {
                ValueList::Variable(name) => lookup_variable(name, vars).map(|_| ()),
                ValueList::Values(operands) => {
                    operands.iter().try_for_each(|operand| match operand {
                        Operand::Literal(_) => Ok(()),
                        Operand::Variable(name) => lookup_variable(name, vars).map(|_| ()),
                    })
                }
            },
            Predicate::Is { .. } => Ok(()),
        }
    }

    /// Checks the variables once, for evaluating many documents.
    pub fn bind<'a>(&'a self, vars: &'a Variables) -> Result<BoundPredicate<'a>, EvalError> {
        self.check_variables(vars)?;
        Ok(BoundPredicate {
            predicate: self,
            vars,
        })
    }

    /// Whether `doc` satisfies the predicate; fails only on variables.
    pub fn matches(&self, doc: &Value, vars: &Variables) -> Result<bool, EvalError> {
        Ok(self.bind(vars)?.matches(doc))
    }
}

fn lookup_variable<'a>(name: &str, vars: &'a Variables) -> Result<&'a [String], EvalError> {
    vars.get(name)
        .ok_or_else(|| EvalError::UnknownVariable(name.to_owned()))
}

/// A resolved value to compare a field with.
#[derive(Debug, Clone, Copy)]
enum Probe<'a> {
    Literal(&'a Literal),
    /// A variable's value: typed by the field it meets.
    Text(&'a str),
}

/// How a scalar field value relates to a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relation {
    Ordered(Ordering),
    /// Different kinds: unequal and unordered.
    OtherKind,
    /// The field value is not a scalar: nothing holds.
    NotScalar,
}

fn eval(predicate: &Predicate, doc: &Value, vars: &Variables) -> bool {
    match predicate {
        Predicate::Or(items) => items.iter().any(|item| eval(item, doc, vars)),
        Predicate::And(items) => items.iter().all(|item| eval(item, doc, vars)),
        Predicate::Not(inner) => !eval(inner, doc, vars),
        Predicate::Nested { field, inner } => {
            field_value(doc, field).is_some_and(|value| match value {
                Value::Object(_) => eval(inner, value, vars),
                Value::Array(elements) => elements
                    .iter()
                    .any(|element| element.is_object() && eval(inner, element, vars)),
                _ => false,
            })
        }
        Predicate::Compare { field, op, value } => {
            let Some(probe) = single_probe(value, vars) else {
                return false; // Unreachable after `bind`.
            };
            some_element(doc, field, |scalar| match relate(scalar, probe) {
                Relation::Ordered(ordering) => op.accepts(ordering),
                Relation::OtherKind => *op == CompareOp::Ne,
                Relation::NotScalar => false,
            })
        }
        Predicate::In {
            field,
            negated,
            values,
        } => some_element(doc, field, |scalar| {
            is_scalar(scalar)
                && probes(values, vars)
                    .any(|probe| relate(scalar, probe) == Relation::Ordered(Ordering::Equal))
                    != *negated
        }),
        Predicate::Contains {
            field,
            mode,
            values,
        } => {
            let Some(Value::Array(elements)) = field_value(doc, field) else {
                return false;
            };
            let present = |probe: Probe<'_>| {
                elements
                    .iter()
                    .any(|element| relate(element, probe) == Relation::Ordered(Ordering::Equal))
            };
            match mode {
                ContainsMode::Any => probes(values, vars).any(present),
                ContainsMode::All => probes(values, vars).all(present),
            }
        }
        Predicate::Is {
            field,
            negated,
            check,
        } => {
            let value = field_value(doc, field);
            let holds = match check {
                IsCheck::Defined => value.is_some(),
                IsCheck::Empty => match value {
                    None => true,
                    Some(Value::Array(elements)) => elements.is_empty(),
                    Some(Value::Object(members)) => members.is_empty(),
                    Some(_) => false,
                },
            };
            holds != *negated
        }
    }
}

/// The value of `field` in `doc`, treating `null` as absent.
fn field_value<'a>(doc: &'a Value, field: &str) -> Option<&'a Value> {
    doc.as_object()?.get(field).filter(|value| !value.is_null())
}

/// Applies `test` to the field's value, or to each element of an array value
/// until one passes. Absent is false.
fn some_element(doc: &Value, field: &str, test: impl Fn(&Value) -> bool) -> bool {
    match field_value(doc, field) {
        None => false,
        Some(Value::Array(elements)) => elements
            .iter()
            .any(|element| !element.is_null() && test(element)),
        Some(value) => test(value),
    }
}

fn is_scalar(value: &Value) -> bool {
    match value {
        Value::String(_) | Value::Bool(_) => true,
        Value::Number(number) => Number::from_json(number).is_some(),
        Value::Null | Value::Array(_) | Value::Object(_) => false,
    }
}

/// The one value of a comparison's operand.
fn single_probe<'a>(operand: &'a Operand, vars: &'a Variables) -> Option<Probe<'a>> {
    match operand {
        Operand::Literal(literal) => Some(Probe::Literal(literal)),
        Operand::Variable(name) => match vars.get(name)? {
            [value] => Some(Probe::Text(value)),
            _ => None,
        },
    }
}

/// Every value of a list, variables expanded in place.
fn probes<'a>(list: &'a ValueList, vars: &'a Variables) -> impl Iterator<Item = Probe<'a>> + 'a {
    let (operands, variable): (&'a [Operand], Option<&'a str>) = match list {
        ValueList::Values(operands) => (operands, None),
        ValueList::Variable(name) => (&[], Some(name)),
    };
    let from_operands = operands.iter().flat_map(move |operand| {
        let (literal, variable) = match operand {
            Operand::Literal(literal) => (Some(Probe::Literal(literal)), None),
            Operand::Variable(name) => (None, Some(name.as_str())),
        };
        literal.into_iter().chain(variable_probes(variable, vars))
    });
    from_operands.chain(variable_probes(variable, vars))
}

fn variable_probes<'a>(
    name: Option<&str>,
    vars: &'a Variables,
) -> impl Iterator<Item = Probe<'a>> + 'a {
    name.and_then(|name| vars.get(name))
        .unwrap_or_default()
        .iter()
        .map(|value| Probe::Text(value))
}

/// Compares a field value with a probe.
fn relate(value: &Value, probe: Probe<'_>) -> Relation {
    match value {
        Value::String(text) => match probe {
            Probe::Literal(Literal::String(other)) => Relation::Ordered(text.as_str().cmp(other)),
            Probe::Text(other) => Relation::Ordered(text.as_str().cmp(other)),
            Probe::Literal(Literal::Number(_) | Literal::Bool(_)) => Relation::OtherKind,
        },
        Value::Number(number) => {
            let Some(number) = Number::from_json(number) else {
                return Relation::NotScalar;
            };
            let other = match probe {
                Probe::Literal(Literal::Number(other)) => Some(*other),
                Probe::Text(text) => Number::parse_text(text),
                Probe::Literal(Literal::String(_) | Literal::Bool(_)) => None,
            };
            other.map_or(Relation::OtherKind, |other| {
                Relation::Ordered(number.cmp_exact(&other))
            })
        }
        Value::Bool(flag) => {
            let other = match probe {
                Probe::Literal(Literal::Bool(other)) => Some(*other),
                Probe::Text(text) if text.eq_ignore_ascii_case("true") => Some(true),
                Probe::Text(text) if text.eq_ignore_ascii_case("false") => Some(false),
                Probe::Text(_) | Probe::Literal(Literal::String(_) | Literal::Number(_)) => None,
            };
            other.map_or(Relation::OtherKind, |other| {
                Relation::Ordered(flag.cmp(&other))
            })
        }
        Value::Null | Value::Array(_) | Value::Object(_) => Relation::NotScalar,
    }
}

#[cfg(test)]
mod tests;
