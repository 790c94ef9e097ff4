//! Which conjuncts narrow a field, as a table of predicates.

use super::*;
use crate::parse;

fn vars() -> Variables {
    [
        ("t", "PaymentCreated"),
        ("at", "2026-01-01"),
        ("many", "a"),
        ("many", "b"),
    ]
    .into_iter()
    .collect()
}

fn required(text: &str) -> Option<Vec<String>> {
    let predicate = parse(text).expect("parses");
    predicate
        .required_values("type", &vars())
        .map(|set| set.into_iter().collect())
}

fn comparisons(text: &str) -> Vec<(CompareOp, String)> {
    parse(text)
        .expect("parses")
        .text_comparisons("createdAt", &vars())
}

fn strings(values: &[&str]) -> Option<Vec<String>> {
    Some(values.iter().map(|v| (*v).to_owned()).collect())
}

#[test]
fn equalities_and_lists_of_top_level_conjuncts_narrow_and_intersect() {
    assert_eq!(required(r#"type = "A""#), strings(&["A"]));
    assert_eq!(required(r#"type in ("A", "B")"#), strings(&["A", "B"]));
    assert_eq!(required("type = :t"), strings(&["PaymentCreated"]));
    assert_eq!(required("type in :many"), strings(&["a", "b"]));
    assert_eq!(
        required(r#"type in ("A", "B") and (sequenceNumber > 1 and type in ("B", "C"))"#),
        strings(&["B"])
    );
    assert_eq!(required(r#"type = "A" and type = "B""#), strings(&[]));
}

#[test]
fn conditions_that_not_every_match_meets_narrow_nothing() {
    for text in [
        r#"sequenceNumber = 1"#,
        r#"type = "A" or sequenceNumber = 1"#,
        r#"not(type = "A")"#,
        r#"type != "A""#,
        r#"type not in ("A")"#,
        r#"resource(type = "A")"#,
        "type = 1",
        r#"type in ("A", 1)"#,
        "type = :many",
    ] {
        assert_eq!(required(text), None, "{text}");
    }
}

#[test]
fn text_comparisons_are_the_ordered_and_equal_conjuncts_with_text() {
    assert_eq!(
        comparisons(r#"createdAt >= "a" and createdAt < :at and createdAt = "c""#),
        vec![
            (CompareOp::Ge, "a".to_owned()),
            (CompareOp::Lt, "2026-01-01".to_owned()),
            (CompareOp::Eq, "c".to_owned()),
        ]
    );
    for text in [
        r#"createdAt != "a""#,
        r#"createdAt > "a" or type = "A""#,
        "createdAt > 5",
        "createdAt > :many",
        r#"lastModifiedAt > "a""#,
    ] {
        assert_eq!(comparisons(text), Vec::new(), "{text}");
    }
}
