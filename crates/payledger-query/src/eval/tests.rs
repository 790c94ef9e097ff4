//! Evaluation tests against a realistic payment document, one `check`
//! per expectation, and properties of `not` on random documents.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::arbitrary;
use crate::fixture;
use crate::parser::parse;

fn vars() -> Variables {
    [
        ("keys", "pay-1001"),
        ("keys", "pay-2"),
        ("orderNumber", "A-1"),
        ("ver", "3"),
        ("flag", "FALSE"),
        ("currencies", "EUR"),
        ("currencies", "USD"),
        ("tags", "vip"),
        ("tags", "b2b"),
    ]
    .into_iter()
    .collect()
}

/// Evaluates `predicate` on `doc` with [`vars`].
fn check_doc(doc: &Value, predicate: &str, expect: bool) {
    let parsed = parse(predicate).unwrap_or_else(|e| panic!("{predicate:?}: {e}"));
    assert_eq!(parsed.matches(doc, &vars()), Ok(expect), "{predicate}");
}

/// Evaluates `predicate` on the fixture payment.
fn check(predicate: &str, expect: bool) {
    check_doc(&fixture::payment(), predicate, expect);
}

#[test]
fn examples_from_the_api_contract() {
    check(r#"paymentMethodInfo(paymentInterface = "stripe")"#, true);
    check(
        r#"amountPlanned(centAmount > 1000 and currencyCode = "EUR")"#,
        true,
    );
    check(
        r#"transactions(type = "Charge" and state = "Success")"#,
        true,
    );
    check("key in :keys", true);
    check(r#"custom(fields(orderNumber = "A-1"))"#, true);
    check(r#"createdAt > "2026-01-01T00:00:00.000Z""#, true);
    check("not(paymentStatus(interfaceCode is defined))", true);
    check(r#"id = "776f9240-09e1-4416-a34f-32fa80f0333f""#, true);
    check("version >= 2", true);

    let other = fixture::other_payment();
    check_doc(
        &other,
        r#"paymentMethodInfo(paymentInterface = "stripe")"#,
        false,
    );
    check_doc(
        &other,
        r#"amountPlanned(centAmount > 1000 and currencyCode = "EUR")"#,
        false,
    );
    check_doc(
        &other,
        r#"transactions(type = "Charge" and state = "Success")"#,
        false,
    );
    check_doc(&other, "key in :keys", false);
    check_doc(&other, r#"custom(fields(orderNumber = "A-1"))"#, false);
    check_doc(&other, r#"createdAt > "2026-01-01T00:00:00.000Z""#, false);
    check_doc(
        &other,
        "not(paymentStatus(interfaceCode is defined))",
        false,
    );
    check_doc(&other, "version >= 2", false);
}

#[test]
fn strings_are_case_sensitive_and_timestamps_order() {
    check(r#"paymentMethodInfo(paymentInterface = "STRIPE")"#, false);
    check(r#"createdAt < "2026-02-03T10:14:59.481Z""#, true);
    check(r#"createdAt <= "2026-02-03T10:14:59.480Z""#, true);
    check(r#"createdAt < "2026-02-03T10:14:59.480Z""#, false);
    check(r#"key > "pay-1000" and key < "pay-1002""#, true);
}

#[test]
fn precedence() {
    // and binds tighter: `version = 3 or (version = 1 and key = "nope")`.
    check(r#"version = 3 or version = 1 and key = "nope""#, true);
    check(r#"version = 1 or version = 3 and key = "nope""#, false);
    check(r#"(version = 1 or version = 3) and key = "pay-1001""#, true);
    check(r#"version = 1 or version = 2 or version = 3"#, true);
}

#[test]
fn nesting_and_arrays() {
    check(r#"transactions(type = "Refund")"#, false);
    // The conditions in one `transactions(…)` must hold for the same element …
    check(
        r#"transactions(type = "Charge" and interactionId is not defined)"#,
        false,
    );
    // … while separate ones may hold for different elements.
    check(
        r#"transactions(type = "Authorization") and transactions(type = "Charge")"#,
        true,
    );
    check(
        r#"transactions(amount(centAmount = 2500 and currencyCode = "EUR"))"#,
        true,
    );
    check(r#"not(transactions(state != "Success"))"#, true);
    check(r#"customer(id = "cust-7")"#, true);
    check("createdBy(isPlatformClient = false)", true);
    check(r#"paymentMethodInfo(name(en = "Credit Card"))"#, true);
    // Only objects are entered.
    check("key(a is not defined)", false);
    check("custom(fields(tags(a is not defined)))", false);
    check(r#"missing(a = "b")"#, false);
    // Comparisons on arrays of scalars: some element.
    check(r#"custom(fields(tags = "vip"))"#, true);
    check(r#"custom(fields(tags = "gold"))"#, false);
    check(r#"custom(fields(tags != "vip"))"#, true);
    check(r#"custom(fields(tags > "c"))"#, true);
    check(r#"custom(fields(tags in ("b2b", "x")))"#, true);
}

#[test]
fn not_and_absent_fields() {
    check(r#"anonymousId = "x""#, false);
    check(r#"anonymousId != "x""#, false);
    check(r#"not(anonymousId = "x")"#, true);
    check(r#"anonymousId not in ("x")"#, false);
    check(r#"anonymousId in ("x")"#, false);
    check("anonymousId is not defined", true);
    check("anonymousId is defined", false);
    check(r#"not(key = "pay-1001")"#, false);
    check(r#"key != "x""#, true);
    check(r#"key <> "pay-1001""#, false);
    check("not(not(version = 3))", true);
    // An explicit null is absent.
    let doc = json!({ "anonymousId": null, "tags": [null, "a"] });
    check_doc(&doc, "anonymousId is defined", false);
    check_doc(&doc, "anonymousId is empty", true);
    check_doc(&doc, r#"anonymousId != "x""#, false);
    check_doc(&doc, r#"tags != "a""#, false);
}

#[test]
fn in_and_not_in() {
    check(r#"amountPlanned(currencyCode in ("USD", "EUR"))"#, true);
    check(
        r#"amountPlanned(currencyCode not in ("USD", "EUR"))"#,
        false,
    );
    check(r#"amountPlanned(currencyCode not in ("USD", "GBP"))"#, true);
    check("amountPlanned(currencyCode in :currencies)", true);
    check(r#"key in ("x", :keys)"#, true);
    check("version in (1, 2, 3)", true);
    check("version not in (1, 2)", true);
    check("version in (3.0)", true);
    check(r#"version in ("3")"#, false);
    check(r#"version not in ("3")"#, true);
}

#[test]
fn contains_any_and_all() {
    check(r#"custom(fields(tags contains any ("vip", "x")))"#, true);
    check(r#"custom(fields(tags contains any ("x", "y")))"#, false);
    check(r#"custom(fields(tags contains all ("b2b", "vip")))"#, true);
    check(r#"custom(fields(tags contains all ("vip", "x")))"#, false);
    check("custom(fields(tags contains all :tags))", true);
    check("custom(fields(tags contains any :currencies))", false);
    // Only arrays contain.
    check(r#"key contains any ("pay-1001")"#, false);
    check(r#"custom(fields(nothing contains all ("a")))"#, false);
}

#[test]
fn is_defined_and_empty() {
    check("key is defined", true);
    check("paymentStatus is defined", true);
    check("interfaceInteractions is empty", true);
    check("interfaceInteractions is not empty", false);
    check("transactions is empty", false);
    check("transactions is not empty", true);
    check("paymentStatus is empty", true);
    check("paymentMethodInfo is empty", false);
    check("key is empty", false);
    check("key is not empty", true);
    check("anonymousId is empty", true);
}

#[test]
fn numbers_and_booleans() {
    check(
        "custom(fields(ratio < 0.5 and ratio = 0.25 and ratio > 0))",
        true,
    );
    check("amountPlanned(centAmount = 2500.0)", true);
    check("amountPlanned(centAmount = 2500.5)", false);
    check("version > -1", true);
    // 9007199254740993 is not an f64: exact comparison tells it from …992.
    check("custom(fields(big = 9007199254740993))", true);
    check("custom(fields(big > 9007199254740992))", true);
    check("custom(fields(big = 9007199254740992.0))", false);
    check("custom(fields(rush = false))", true);
    check("custom(fields(rush = FALSE))", true);
    check("custom(fields(rush < true))", true);
    check("custom(fields(rush != true))", true);
    // Another kind is unequal and unordered.
    check(r#"version = "3""#, false);
    check(r#"version != "3""#, true);
    check(r#"version < "4""#, false);
    check("key = 3", false);
    check("custom(fields(rush = 0))", false);
    let huge = json!({ "n": u64::MAX });
    check_doc(&huge, "n = 18446744073709551615", true);
    check_doc(&huge, "n > 9223372036854775807", true);
}

#[test]
fn variables_take_the_field_kind() {
    check("version = :ver", true);
    check("version >= :ver", true);
    check("version > :ver", false);
    check("custom(fields(orderNumber = :orderNumber))", true);
    check("custom(fields(rush = :flag))", true);
    // A string field compares the text, not a number.
    check("key = :ver", false);
    check("key != :ver", true);
    // Text that is not a number is of another kind.
    check("version = :orderNumber", false);
    check("version != :orderNumber", true);
}

#[test]
fn variable_errors_do_not_depend_on_the_document() {
    let predicate = parse("version = 99 and key in :missing").unwrap();
    for doc in [fixture::payment(), json!({})] {
        assert_eq!(
            predicate.matches(&doc, &vars()),
            Err(EvalError::UnknownVariable("missing".to_owned()))
        );
    }
    assert_eq!(
        parse("version = :currencies")
            .unwrap()
            .bind(&vars())
            .map(|_| ()),
        Err(EvalError::VariableNotSingle {
            name: "currencies".to_owned(),
            count: 2
        })
    );
    assert_eq!(
        parse("key = :nope").unwrap().check_variables(&vars()),
        Err(EvalError::UnknownVariable("nope".to_owned()))
    );
    assert_eq!(
        EvalError::UnknownVariable("keys".to_owned()).to_string(),
        "unknown variable ':keys': pass it as var.keys=…"
    );
    // An empty list is allowed: `in` nothing is false, `contains all` nothing true.
    let empty = Variables::from(std::collections::BTreeMap::from([(
        "none".to_owned(),
        Vec::new(),
    )]));
    let doc = json!({ "k": "a", "tags": ["a"] });
    assert_eq!(
        parse("k in :none").unwrap().matches(&doc, &empty),
        Ok(false)
    );
    assert_eq!(
        parse("k not in :none").unwrap().matches(&doc, &empty),
        Ok(true)
    );
    assert_eq!(
        parse("tags contains all :none")
            .unwrap()
            .matches(&doc, &empty),
        Ok(true)
    );
}

#[test]
fn bound_predicate_evaluates_many_documents() {
    let predicate = parse("version >= 2").unwrap();
    let vars = Variables::new();
    let bound = predicate.bind(&vars).unwrap();
    let matched: Vec<bool> = [fixture::payment(), fixture::other_payment()]
        .iter()
        .map(|doc| bound.matches(doc))
        .collect();
    assert_eq!(matched, [true, false]);
}

proptest! {
    #[test]
    fn not_is_the_negation(predicate in arbitrary::predicate(), doc in arbitrary::document()) {
        let vars = arbitrary::variables();
        let plain = predicate.matches(&doc, &vars);
        prop_assert!(plain.is_ok());
        let negated = Predicate::Not(Box::new(predicate.clone())).matches(&doc, &vars);
        prop_assert_eq!(negated, plain.map(|b| !b), "predicate: {}, doc: {}", predicate, doc);
    }

    #[test]
    fn de_morgan_holds(a in arbitrary::predicate(), b in arbitrary::predicate(), doc in arbitrary::document()) {
        let vars = arbitrary::variables();
        let not = |p: Predicate| Predicate::Not(Box::new(p));
        let left = not(Predicate::Or(vec![a.clone(), b.clone()])).matches(&doc, &vars);
        let right = Predicate::And(vec![not(a), not(b)]).matches(&doc, &vars);
        prop_assert_eq!(left, right);
    }

    #[test]
    fn the_canonical_text_evaluates_the_same(predicate in arbitrary::predicate(), doc in arbitrary::document()) {
        let vars = arbitrary::variables();
        let reparsed = parse(&predicate.to_string()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(reparsed.matches(&doc, &vars), predicate.matches(&doc, &vars));
    }
}
