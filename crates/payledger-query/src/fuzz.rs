//! Fuzz targets of the query language (`make fuzz` runs each with
//! 1,000,000 cases, `make test` with a short sample; see `payledger-fuzz`).
//!
//! - `fuzz_where_text`: any text through the lexer and parser. Parsing
//!   never panics; an error's position lies within the text; an accepted
//!   predicate prints to a text that parses back to the same tree; its
//!   index hints and its evaluation over the fixture payments and random
//!   documents, with and without variables, never panic.
//! - `fuzz_where_eval`: generated predicate trees over random documents
//!   and random variables (missing, empty, several values): binding fails
//!   only with an [`EvalError`](crate::EvalError), evaluation never panics
//!   and agrees with `not(…)`.
//! - `fuzz_sort_text`: any text through `parse_sort`, with the same
//!   position and round-trip properties, and `compare_by` a total order.

use payledger_fuzz::mutate::{self, Corpus};
use payledger_fuzz::{Input, check, run};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::Value;

use crate::{Predicate, Variables, compare_by, fixture, parse, parse_sort};

/// Valid `where` texts: the API contract's examples and every construct
/// of the grammar.
const WHERE_SEEDS: &[&str] = &[
    r#"paymentMethodInfo(paymentInterface = "stripe")"#,
    r#"amountPlanned(centAmount > 1000 and currencyCode = "EUR")"#,
    r#"transactions(type = "Charge" and state = "Success")"#,
    "key in :keys",
    r#"custom(fields(orderNumber = "A-1" or tags contains any ("vip", :t)))"#,
    r#"createdAt > "2026-01-01T00:00:00.000Z""#,
    "not(paymentStatus(interfaceCode is defined))",
    r#"id = "776f9240-09e1-4416-a34f-32fa80f0333f""#,
    "version >= 2 and version <> 7 or version <= -0.5E-1",
    "key NOT IN (\"a\", 1, true, :v) AND tags contains all :many",
    "`my-field` = 1 or `a``b`(x is not empty) or a = :`my-var`",
    r#"a = "q\"\\\n\t\u00e9\ud83d\ude00\/" and b = 123456789012345678901234567890"#,
    "((a = 1) or (b != 2)) and not(c < 3)",
];

/// Keywords, operators and the pieces of literals the lexer must split.
const WHERE_TOKENS: &[&str] = &[
    "and",
    "or",
    "not",
    "in",
    "contains",
    "any",
    "all",
    "is",
    "defined",
    "empty",
    "true",
    "false",
    "asc",
    "desc",
    "(",
    ")",
    ",",
    ":",
    "=",
    "!=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "\"",
    "\\",
    "\\u",
    "\\ud800",
    "`",
    "``",
    ".",
    "-",
    "e",
    "E+",
    "1e999",
    "0.",
    "9223372036854775808",
    "170141183460469231731687303715884105728",
    " ",
    "\t",
    "é",
    "😀",
    "a",
    "key",
    "custom",
    "fields",
    ":v",
    ":many",
];

/// Valid `sort` texts.
const SORT_SEEDS: &[&str] = &[
    "createdAt desc",
    "amountPlanned.centAmount asc",
    "key",
    "custom.fields.`my-field` DESC",
    "`a``b`.c",
];

/// Random and mutated texts, and printed random trees with a few edits
/// (zero edits leaves them valid).
fn where_inputs() -> impl Strategy<Value = Input> {
    let tokens = mutate::corpus(WHERE_TOKENS);
    let printed = crate::arbitrary::predicate().prop_map(|p| p.to_string().into_bytes());
    prop_oneof![
        2 => mutate::inputs(mutate::corpus(WHERE_SEEDS), tokens.clone()),
        1 => mutate::edited(printed, tokens),
    ]
}

/// Field values the strategies of `arbitrary` and the fixtures use.
fn variables() -> impl Strategy<Value = Variables> {
    let value = proptest::sample::select(&["a", "5", "TRUE", "-0.5", "", "1e999", "x y"][..]);
    let name = proptest::sample::select(&["one", "num", "flag", "many", "none", "keys", "v"][..]);
    btree_map(name, vec(value, 0..3), 0..6).prop_map(|map| {
        map.into_iter()
            .flat_map(|(name, values)| values.into_iter().map(move |v| (name, v)))
            .collect()
    })
}

fn documents() -> Vec<Value> {
    vec![fixture::payment(), fixture::other_payment(), Value::Null]
}

/// Parsing `text` never panics; errors point into the text; what parses
/// prints back to itself.
fn check_where(text: &str) -> Result<Option<Predicate>, TestCaseError> {
    match parse(text) {
        Err(error) => {
            let chars = text.chars().count();
            check(error.position <= chars, || {
                format!("{error} beyond {chars} chars")
            })?;
            Ok(None)
        }
        Ok(predicate) => {
            let printed = predicate.to_string();
            let reparsed = parse(&printed);
            check(reparsed.as_ref() == Ok(&predicate), || {
                format!("{text:?} printed as {printed:?} parses to {reparsed:?}")
            })?;
            Ok(Some(predicate))
        }
    }
}

/// Evaluating `predicate` never panics and `not(…)` is its negation,
/// whether the variables bind or not.
fn check_eval(
    predicate: &Predicate,
    vars: &Variables,
    docs: &[Value],
) -> Result<(), TestCaseError> {
    let _hints = predicate.index_hints(vars);
    let negated = Predicate::Not(Box::new(predicate.clone()));
    for doc in docs {
        let plain = predicate.matches(doc, vars);
        let not = negated.matches(doc, vars);
        let agree = match (&plain, &not) {
            (Ok(a), Ok(b)) => a != b,
            (Err(a), Err(b)) => a == b,
            _ => false,
        };
        check(agree, || {
            format!("{predicate} is {plain:?}, not(…) is {not:?} on {doc}")
        })?;
    }
    Ok(())
}

#[test]
fn fuzz_where_text() {
    let docs = documents();
    let inputs = (where_inputs(), variables());
    run("where_text", inputs, |(input, vars)| {
        if let Some(predicate) = check_where(&input.text())? {
            check_eval(&predicate, &vars, &docs)?;
            check_eval(&predicate, &crate::arbitrary::variables(), &docs)?;
        }
        Ok(())
    });
}

#[test]
fn fuzz_where_eval() {
    let inputs = (
        crate::arbitrary::predicate(),
        variables(),
        vec(crate::arbitrary::document(), 1..4),
    );
    run("where_eval", inputs, |(predicate, vars, mut docs)| {
        docs.extend(documents());
        check_eval(&predicate, &vars, &docs)
    });
}

fn sort_inputs() -> impl Strategy<Value = Input> {
    let tokens: Corpus = mutate::corpus(WHERE_TOKENS);
    mutate::inputs(mutate::corpus(SORT_SEEDS), tokens)
}

#[test]
fn fuzz_sort_text() {
    let docs = documents();
    run(
        "sort_text",
        (sort_inputs(), crate::arbitrary::document()),
        |(input, doc)| {
            let text = input.text();
            let key = match parse_sort(&text) {
                Err(error) => {
                    let chars = text.chars().count();
                    return check(error.position <= chars, || {
                        format!("{error} beyond {chars}")
                    });
                }
                Ok(key) => key,
            };
            let printed = key.to_string();
            let reparsed = parse_sort(&printed);
            check(reparsed.as_ref() == Ok(&key), || {
                format!("{text:?} printed as {printed:?} parses to {reparsed:?}")
            })?;
            let keys = [key];
            for other in &docs {
                let forth = compare_by(&keys, &doc, other);
                let back = compare_by(&keys, other, &doc);
                check(forth == back.reverse(), || {
                    format!("{forth:?} vs {back:?} on {doc}")
                })?;
            }
            Ok(())
        },
    );
}
