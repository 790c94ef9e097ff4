//! Parser tests: canonical text of parsed trees, exact error positions,
//! the limits, and print-then-parse round trips of random trees.

use proptest::prelude::*;

use super::*;
use crate::arbitrary;
use crate::ast::CompareOp;
use crate::number::Number;

/// Parses `text` and compares the canonical text of the tree.
fn check(text: &str, canonical: &str) {
    let predicate = parse(text).unwrap_or_else(|e| panic!("{text:?} does not parse: {e}"));
    assert_eq!(predicate.to_string(), canonical, "for {text:?}");
}

/// Parses `text` and compares the error's full message.
fn check_error(text: &str, expect: &str) {
    match parse(text) {
        Ok(predicate) => panic!("{text:?} parsed as {predicate:?}"),
        Err(error) => assert_eq!(error.to_string(), expect, "for {text:?}"),
    }
}

fn compare(field: &str, op: CompareOp, value: i128) -> Predicate {
    Predicate::Compare {
        field: field.to_owned(),
        op,
        value: Operand::Literal(Literal::Number(Number::Int(value))),
    }
}

#[test]
fn examples_from_the_api_contract() {
    for text in [
        r#"paymentMethodInfo(paymentInterface = "stripe")"#,
        r#"amountPlanned(centAmount > 1000 and currencyCode = "EUR")"#,
        r#"transactions(type = "Charge" and state = "Success")"#,
        "key in :keys",
        r#"custom(fields(orderNumber = "A-1"))"#,
        r#"createdAt > "2026-01-01T00:00:00.000Z""#,
        "not(paymentStatus(interfaceCode is defined))",
        r#"id = "776f9240-09e1-4416-a34f-32fa80f0333f""#,
        "version >= 2",
    ] {
        check(text, text);
    }
}

#[test]
fn and_binds_tighter_than_or() {
    let eq = CompareOp::Eq;
    assert_eq!(
        parse("a = 1 or b = 2 and c = 3"),
        Ok(Predicate::Or(vec![
            compare("a", eq, 1),
            Predicate::And(vec![compare("b", eq, 2), compare("c", eq, 3)]),
        ]))
    );
    assert_eq!(
        parse("a = 1 and b = 2 or c = 3"),
        Ok(Predicate::Or(vec![
            Predicate::And(vec![compare("a", eq, 1), compare("b", eq, 2)]),
            compare("c", eq, 3),
        ]))
    );
    check("(a = 1 or b = 2) and c = 3", "(a = 1 or b = 2) and c = 3");
    check("a = 1 or (b = 2 or c = 3)", "a = 1 or (b = 2 or c = 3)");
    check("a = 1 or b = 2 or c = 3", "a = 1 or b = 2 or c = 3");
    check("((a = 1))", "a = 1");
    check("a = 1 and (b = 2 and c = 3)", "a = 1 and (b = 2 and c = 3)");
}

#[test]
fn keywords_are_case_insensitive_and_names_are_not() {
    check(
        "Version = 1 AND key IN (\"a\") Or NOT(key Is Not Defined) aNd tags CONTAINS ALL (TRUE, False)",
        "Version = 1 and key in (\"a\") or not(key is not defined) and tags contains all (true, false)",
    );
    check("key NOT IN :Keys", "key not in :Keys");
    check("tags contains Any :t", "tags contains any :t");
    check("tags is EMPTY", "tags is empty");
}

#[test]
fn operators_and_values() {
    check("a <> 1", "a != 1");
    check("a!=1", "a != 1");
    check("a>=-1", "a >= -1");
    check("a<=2.50", "a <= 2.5");
    check("a < 1e3", "a < 1000.0");
    check("a > -0.5E-1", "a > -0.05");
    check("a = 007", "a = 7");
    check(
        "a = 123456789012345678901234567890123456789012",
        "a = 1.2345678901234568e41",
    );
    check("a = :v", "a = :v");
    check("a in (1, \"x\", :v, true)", "a in (1, \"x\", :v, true)");
    check(
        r#"a = "q\"\\\n\t\u00e9\ud83d\ude00\/""#,
        r#"a = "q\"\\\n\té😀/""#,
    );
    check("a = \"\u{1}\"", "a = \"\\u0001\"");
}

#[test]
fn names_that_need_quoting() {
    check("`my-field` = 1", "`my-field` = 1");
    check("`not` = 1", "`not` = 1");
    check("and = 1", "`and` = 1");
    check("`a``b`(x is defined)", "`a``b`(x is defined)");
    check("a = :`my-var`", "a = :`my-var`");
    check("_x9 = 1", "_x9 = 1");
}

#[test]
fn errors_name_the_position() {
    let cases = [
        ("", "empty predicate at position 0"),
        ("   ", "empty predicate at position 0"),
        (
            "amountPlanned(centAmount > 1000",
            "expected ')', found end of input at position 31",
        ),
        (
            "amountPlanned(centAmount > 1000 or)",
            "expected a field name, '(' or 'not', found ')' at position 34",
        ),
        ("key = \"abc", "unterminated string starting at position 6"),
        (
            "key = \"abc\\",
            "unterminated string starting at position 6",
        ),
        ("key == \"a\"", "unknown operator '==' at position 4"),
        ("key =! \"a\"", "unknown operator '=!' at position 4"),
        ("key like \"a\"", "unknown operator 'like' at position 4"),
        ("key =", "missing value after '=' at position 5"),
        (
            "key = )",
            "expected a value after '=', found ')' at position 6",
        ),
        (
            "state = Success",
            "unquoted value 'Success' after '=' (strings are double-quoted) at position 8",
        ),
        (
            "key = 'a'",
            "unexpected character \"'\" (strings are double-quoted) at position 6",
        ),
        (
            "a = 1 b = 2",
            "expected 'and', 'or' or end of predicate, found 'b' at position 6",
        ),
        ("a = 1)", "unbalanced ')' at position 5"),
        ("a = 1 and", "expected a predicate at position 9"),
        ("()", "expected a predicate inside '()' at position 1"),
        ("not a = 1", "expected '(' after 'not' at position 4"),
        ("not", "expected '(' after 'not' at position 3"),
        (
            "amountPlanned.centAmount > 5",
            "dotted paths are not supported; nest with parentheses, as in amountPlanned(…) at position 13",
        ),
        ("key", "missing operator after 'key' at position 3"),
        (
            "key 5",
            "expected an operator after 'key', found a number at position 4",
        ),
        (
            "\"a\" = 1",
            "expected a field name, '(' or 'not', found a string at position 0",
        ),
        (
            "key in \"a\"",
            "expected '(' or ':variable' after 'in', found a string at position 7",
        ),
        ("key in", "missing value list after 'in' at position 6"),
        (
            "key in ()",
            "expected a value after '(', found ')' at position 8",
        ),
        (
            "key in (\"a\" \"b\")",
            "expected ',' or ')', found a string at position 12",
        ),
        (
            "key in (\"a\",)",
            "expected a value after ',', found ')' at position 12",
        ),
        (
            "a not like (\"x\")",
            "expected 'in' after 'not' at position 6",
        ),
        (
            "tags contains some (\"a\")",
            "expected 'any' or 'all' after 'contains' at position 14",
        ),
        (
            "key is null",
            "expected 'defined' or 'empty' after 'is' at position 7",
        ),
        (
            "key is not nothing",
            "expected 'defined' or 'empty' after 'is not' at position 11",
        ),
        (
            "key = \"a\\q\"",
            "invalid escape '\\q' in string at position 8",
        ),
        (
            "key = \"\\u12\"",
            "invalid '\\u' escape: expected 4 hex digits at position 7",
        ),
        (
            "key = \"\\ud800\"",
            "unpaired UTF-16 surrogate in '\\u' escape at position 7",
        ),
        ("a = :", "expected a variable name after ':' at position 5"),
        (
            "a = : b",
            "expected a variable name after ':' at position 5",
        ),
        ("a = 1.", "expected a digit after '.' at position 6"),
        ("a = 1e", "expected a digit in the exponent at position 6"),
        (
            "a = 12abc",
            "unexpected character 'a' after a number at position 6",
        ),
        ("a = 1e999", "number out of range at position 4"),
        ("a # 1", "unexpected character '#' at position 2"),
        ("`` = 1", "empty quoted name at position 0"),
        (
            "`abc = 1",
            "unterminated quoted name starting at position 0",
        ),
        // Positions count characters, not bytes.
        (
            "`é` = \"ü\" and a == 1",
            "unknown operator '==' at position 16",
        ),
    ];
    for (text, message) in cases {
        check_error(text, &format!("Malformed parameter: where: {message}"));
    }
}

#[test]
fn error_fields() {
    let error = parse("key =").unwrap_err();
    assert_eq!(error.position, 5);
    assert_eq!(error.message, "missing value after '='");
    assert_eq!(error.parameter, crate::Parameter::Where);
}

fn nested(open: &str, depth: usize) -> String {
    format!("{}a = 1{}", open.repeat(depth), ")".repeat(depth))
}

#[test]
fn nesting_is_limited() {
    for open in ["(", "not(", "a("] {
        assert!(
            parse(&nested(open, PREDICATE_DEPTH_MAX)).is_ok(),
            "{open} × max"
        );
        let error = parse(&nested(open, PREDICATE_DEPTH_MAX + 1)).unwrap_err();
        assert_eq!(error.message, "predicate nests deeper than 32 levels");
        // Reported at the first '(' beyond the limit.
        assert_eq!(
            error.position,
            open.len() * PREDICATE_DEPTH_MAX + open.len() - 1
        );
    }
    // Depth is nesting, not length: a long flat chain is fine.
    let flat = vec!["a = 1"; 500].join(" or ");
    assert!(parse(&flat).is_ok());
}

#[test]
fn size_is_limited() {
    let fits = format!("key = \"{}\"", "x".repeat(PREDICATE_BYTES_MAX - 8));
    assert_eq!(fits.len(), PREDICATE_BYTES_MAX);
    assert!(parse(&fits).is_ok());
    check_error(
        &format!("key = \"{}\"", "x".repeat(PREDICATE_BYTES_MAX - 7)),
        "Malformed parameter: where: predicate of 10001 bytes exceeds the limit of 10000 bytes at position 10000",
    );
    // The position is in characters: 'é' is two bytes.
    let error = parse(&format!("key = \"{}\"", "é".repeat(PREDICATE_BYTES_MAX))).unwrap_err();
    assert_eq!(error.position, 7 + (PREDICATE_BYTES_MAX - 7).div_ceil(2));
}

proptest! {
    #[test]
    fn printing_then_parsing_gives_the_same_tree(predicate in arbitrary::predicate()) {
        let text = predicate.to_string();
        prop_assert_eq!(parse(&text), Ok(predicate), "text: {}", text);
    }
}
