//! Proptest strategies for predicates, documents and variables.
//!
//! Names come from a small pool so that random predicates hit random
//! documents; the pool includes keywords and names that need backticks, to
//! exercise the printer. Comparisons only use single-valued variables, so
//! evaluation with [`variables`] never fails.

use std::collections::BTreeMap;

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Map, Value};

use crate::ast::{CompareOp, ContainsMode, IsCheck, Literal, Operand, Predicate, ValueList};
use crate::eval::Variables;
use crate::number::Number;

const FIELDS: [&str; 8] = ["a", "b", "tags", "and", "not", "my-field", "x`y", "État"];
const SINGLE_VARS: [&str; 3] = ["one", "num", "flag"];
const LIST_VARS: [&str; 5] = ["one", "num", "flag", "many", "none"];

/// The variables the strategies refer to.
pub(crate) fn variables() -> Variables {
    let values: [(&str, &[&str]); 5] = [
        ("one", &["a"]),
        ("num", &["5"]),
        ("flag", &["TRUE"]),
        ("many", &["a", "5", "b"]),
        ("none", &[]),
    ];
    let map: BTreeMap<String, Vec<String>> = values
        .iter()
        .map(|(name, values)| {
            (
                (*name).to_owned(),
                values.iter().map(|v| (*v).to_owned()).collect(),
            )
        })
        .collect();
    Variables::from(map)
}

fn field() -> impl Strategy<Value = String> {
    proptest::sample::select(&FIELDS[..]).prop_map(str::to_owned)
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(&["a", "b", "A", "", "5", "true"][..]).prop_map(str::to_owned),
        1 => proptest::sample::select(&["say \"hi\"", "back\\slash", "line\nbreak", "\u{1}\u{7f}", "😀 é"][..])
            .prop_map(str::to_owned),
        1 => "\\PC{0,12}",
    ]
}

fn number() -> impl Strategy<Value = Number> {
    prop_oneof![
        3 => (-3_i128..8).prop_map(Number::Int),
        1 => any::<i128>().prop_map(Number::Int),
        1 => (-4_i32..12).prop_map(|half| Number::Float(f64::from(half) / 2.0)),
        1 => any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Number::Float),
    ]
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        text().prop_map(Literal::String),
        number().prop_map(Literal::Number),
        any::<bool>().prop_map(Literal::Bool),
    ]
}

fn operand(var_names: &'static [&'static str]) -> impl Strategy<Value = Operand> {
    prop_oneof![
        4 => literal().prop_map(Operand::Literal),
        1 => proptest::sample::select(var_names).prop_map(|name| Operand::Variable(name.to_owned())),
    ]
}

fn value_list() -> impl Strategy<Value = ValueList> {
    prop_oneof![
        4 => vec(operand(&LIST_VARS), 1..4).prop_map(ValueList::Values),
        1 => proptest::sample::select(&LIST_VARS[..]).prop_map(|name| ValueList::Variable(name.to_owned())),
    ]
}

fn compare_op() -> impl Strategy<Value = CompareOp> {
    proptest::sample::select(
        &[
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Lt,
            CompareOp::Le,
            CompareOp::Gt,
            CompareOp::Ge,
        ][..],
    )
}

fn atom() -> impl Strategy<Value = Predicate> {
    prop_oneof![
        (field(), compare_op(), operand(&SINGLE_VARS))
            .prop_map(|(field, op, value)| Predicate::Compare { field, op, value }),
        (field(), any::<bool>(), value_list()).prop_map(|(field, negated, values)| Predicate::In {
            field,
            negated,
            values
        }),
        (
            field(),
            prop_oneof![Just(ContainsMode::Any), Just(ContainsMode::All)],
            value_list()
        )
            .prop_map(|(field, mode, values)| Predicate::Contains {
                field,
                mode,
                values
            }),
        (
            field(),
            any::<bool>(),
            prop_oneof![Just(IsCheck::Defined), Just(IsCheck::Empty)]
        )
            .prop_map(|(field, negated, check)| Predicate::Is {
                field,
                negated,
                check
            }),
    ]
}

/// Predicates shaped as the parser produces them (`Or`/`And` with ≥ 2 children).
pub(crate) fn predicate() -> impl Strategy<Value = Predicate> {
    atom().prop_recursive(5, 40, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 2..4).prop_map(Predicate::Or),
            vec(inner.clone(), 2..4).prop_map(Predicate::And),
            inner.clone().prop_map(|p| Predicate::Not(Box::new(p))),
            (field(), inner).prop_map(|(field, p)| Predicate::Nested {
                field,
                inner: Box::new(p)
            }),
        ]
    })
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3_i64..8).prop_map(Value::from),
        (-4_i32..12).prop_map(|half| Value::from(f64::from(half) / 2.0)),
        proptest::sample::select(&["a", "b", "A", "", "5", "true"][..]).prop_map(Value::from),
    ]
}

/// Objects keyed from the field pool, with nested objects and arrays.
pub(crate) fn document() -> impl Strategy<Value = Value> {
    let value = scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            object(inner),
        ]
    });
    object(value)
}

fn object(values: impl Strategy<Value = Value>) -> impl Strategy<Value = Value> {
    proptest::collection::btree_map(field(), values, 0..5)
        .prop_map(|members| Value::Object(members.into_iter().collect::<Map<String, Value>>()))
}
