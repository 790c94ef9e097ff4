//! Index hint tests: which conjuncts give hints, which must not, and a
//! property check that every match is among the hinted candidates.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::ast::{Literal, Operand};
use crate::parser::parse;

fn vars() -> Variables {
    [
        ("keys", "k2"),
        ("keys", "k1"),
        ("one", "x"),
        ("many", "a"),
        ("many", "b"),
    ]
    .into_iter()
    .collect()
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

fn check(predicate: &str, expect: &[IndexHint]) {
    let parsed = parse(predicate).unwrap_or_else(|e| panic!("{predicate:?}: {e}"));
    assert_eq!(parsed.index_hints(&vars()), expect, "{predicate}");
}

#[test]
fn indexed_equalities_give_hints() {
    check(r#"id = "x""#, &[IndexHint::Id(strings(&["x"]))]);
    check(
        r#"id in ("b", "a", "b")"#,
        &[IndexHint::Id(strings(&["a", "b"]))],
    );
    check(r#"key = "k""#, &[IndexHint::Key(strings(&["k"]))]);
    check("key in :keys", &[IndexHint::Key(strings(&["k1", "k2"]))]);
    check(
        r#"key in ("k0", :keys)"#,
        &[IndexHint::Key(strings(&["k0", "k1", "k2"]))],
    );
    check("key = :one", &[IndexHint::Key(strings(&["x"]))]);
    check(
        r#"interfaceId = "pi_1" and version > 1"#,
        &[IndexHint::InterfaceId(strings(&["pi_1"]))],
    );
    check(
        r#"customer(id = "c1")"#,
        &[IndexHint::CustomerId(strings(&["c1"]))],
    );
    check(
        r#"customer(typeId = "customer" and id in ("c2", "c1"))"#,
        &[IndexHint::CustomerId(strings(&["c1", "c2"]))],
    );
}

#[test]
fn conjuncts_combine_and_intersect() {
    check(
        r#"(key = "a" and id = "x") and amountPlanned(centAmount > 1) and customer(id = "c")"#,
        &[
            IndexHint::Id(strings(&["x"])),
            IndexHint::Key(strings(&["a"])),
            IndexHint::CustomerId(strings(&["c"])),
        ],
    );
    check(
        r#"id = "a" and id in ("a", "b")"#,
        &[IndexHint::Id(strings(&["a"]))],
    );
    // Contradictory: nothing can match.
    check(r#"id = "a" and id = "b""#, &[IndexHint::Id(Vec::new())]);
    // A sound hint from one conjunct survives an unindexable one.
    check(
        r#"id = "a" and (key = "k" or version = 1)"#,
        &[IndexHint::Id(strings(&["a"]))],
    );
}

#[test]
fn repeated_where_parameters_combine() {
    let wheres = [
        r#"id in ("a", "b")"#,
        r#"key = "k" or version = 1"#,
        r#"id = "b""#,
    ];
    let predicates = wheres.iter().map(|w| parse(w).unwrap()).collect();
    let all = Predicate::all(predicates).unwrap();
    assert_eq!(
        all.to_string(),
        r#"id in ("a", "b") and (key = "k" or version = 1) and id = "b""#
    );
    assert_eq!(all.index_hints(&vars()), [IndexHint::Id(strings(&["b"]))]);
    assert_eq!(Predicate::all(Vec::new()), None);
    let single = parse("version = 1").unwrap();
    assert_eq!(Predicate::all(vec![single.clone()]), Some(single));
}

#[test]
fn no_hint_unless_implied() {
    for predicate in [
        r#"id = "x" or key = "y""#,
        r#"not(id = "x")"#,
        r#"id != "x""#,
        r#"id not in ("x")"#,
        r#"id > "x""#,
        r#"transactions(id = "t1")"#,
        r#"customer(not(id = "c"))"#,
        r#"customer(id = "c" or id = "d")"#,
        r#"customer(key = "k")"#,
        r#"customer(customer(id = "c"))"#,
        r#"paymentMethodInfo(key = "k")"#,
        "id = 5",
        "id in (\"a\", 5)",
        "id = :many",
        "id = :unknown",
        "key in :unknown",
        "id is defined",
        r#"ID = "x""#,
    ] {
        check(predicate, &[]);
    }
}

#[test]
fn values_accessor() {
    assert_eq!(IndexHint::CustomerId(strings(&["c"])).values(), ["c"]);
}

const POOL: [&str; 3] = ["a", "b", "c"];

fn text_operand() -> impl Strategy<Value = Operand> {
    prop_oneof![
        4 => proptest::sample::select(&POOL[..]).prop_map(|v| Operand::Literal(Literal::String(v.to_owned()))),
        1 => Just(Operand::Variable("one".to_owned())),
    ]
}

fn atom(fields: &'static [&'static str]) -> impl Strategy<Value = Predicate> {
    let field = proptest::sample::select(fields).prop_map(str::to_owned);
    prop_oneof![
        (
            field.clone(),
            proptest::sample::select(
                &[CompareOp::Eq, CompareOp::Eq, CompareOp::Ne, CompareOp::Gt][..]
            ),
            text_operand()
        )
            .prop_map(|(field, op, value)| Predicate::Compare { field, op, value }),
        (
            field,
            any::<bool>(),
            prop_oneof![
                proptest::collection::vec(text_operand(), 1..3).prop_map(ValueList::Values),
                Just(ValueList::Variable("many".to_owned())),
            ]
        )
            .prop_map(|(field, negated, values)| Predicate::In {
                field,
                negated,
                values
            }),
    ]
}

/// Predicates over the indexed fields, including `customer(…)`, under
/// every connective.
fn predicate() -> impl Strategy<Value = Predicate> {
    let leaf = prop_oneof![
        3 => atom(&["id", "key", "interfaceId", "version"]),
        1 => atom(&["id", "typeId"]).prop_map(|inner| Predicate::Nested {
            field: "customer".to_owned(),
            inner: Box::new(inner),
        }),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Predicate::And),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Predicate::Or),
            inner.clone().prop_map(|p| Predicate::Not(Box::new(p))),
            inner.prop_map(|p| Predicate::Nested {
                field: "customer".to_owned(),
                inner: Box::new(p)
            }),
        ]
    })
}

fn maybe_text() -> impl Strategy<Value = Option<&'static str>> {
    proptest::option::of(proptest::sample::select(&["a", "b", "c", "x"][..]))
}

fn document() -> impl Strategy<Value = Value> {
    (
        maybe_text(),
        maybe_text(),
        maybe_text(),
        maybe_text(),
        0_i64..3,
    )
        .prop_map(|(id, key, interface_id, customer_id, version)| {
            json!({
                "id": id,
                "key": key,
                "interfaceId": interface_id,
                "customer": customer_id.map(|id| json!({ "typeId": "customer", "id": id })),
                "version": version,
            })
        })
}

proptest! {
    /// Every match is among every hint's candidates.
    #[test]
    fn hints_are_sound(predicate in predicate(), doc in document()) {
        let vars: Variables = [("one", "a"), ("many", "b"), ("many", "c")].into_iter().collect();
        if predicate.matches(&doc, &vars) == Ok(true) {
            for hint in predicate.index_hints(&vars) {
                let indexed = match &hint {
                    IndexHint::Id(_) => &doc["id"],
                    IndexHint::Key(_) => &doc["key"],
                    IndexHint::InterfaceId(_) => &doc["interfaceId"],
                    IndexHint::CustomerId(_) => &doc["customer"]["id"],
                };
                let indexed = indexed.as_str().unwrap_or("<absent>");
                prop_assert!(
                    hint.values().iter().any(|v| v == indexed),
                    "{} matches {} but {:?} misses it", predicate, doc, hint
                );
            }
        }
    }
}
