//! Sort tests: parsing `path asc|desc`, ordering documents by several
//! keys, and the total-order property `slice::sort_by` relies on.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::arbitrary;

/// Parses `text` and compares the canonical text of the key.
fn check_parse(text: &str, canonical: &str) {
    let key = parse_sort(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    assert_eq!(key.to_string(), canonical, "for {text:?}");
    assert_eq!(parse_sort(canonical), Ok(key));
}

fn check_parse_error(text: &str, message: &str) {
    let error = parse_sort(text).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("Malformed parameter: sort: {message}"),
        "for {text:?}"
    );
}

/// Sorts `docs` (each with an `id`) by the `sort` texts and compares the ids.
fn check(sorts: &[&str], docs: &[Value], expect: &[&str]) {
    let keys: Vec<SortKey> = sorts.iter().map(|s| parse_sort(s).unwrap()).collect();
    let mut sorted = docs.to_vec();
    sorted.sort_by(|a, b| compare_by(&keys, a, b));
    let ids: Vec<&str> = sorted
        .iter()
        .map(|doc| doc["id"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(ids, expect, "sort by {sorts:?}");
}

#[test]
fn parses_paths_and_directions() {
    check_parse("createdAt asc", "createdAt asc");
    check_parse(
        "amountPlanned.centAmount desc",
        "amountPlanned.centAmount desc",
    );
    check_parse("key", "key asc");
    check_parse("  key   DESC ", "key desc");
    check_parse("key Asc", "key asc");
    check_parse(
        "custom.fields.`my-field` desc",
        "custom.fields.`my-field` desc",
    );
    assert_eq!(
        parse_sort("amountPlanned.centAmount desc"),
        Ok(SortKey {
            path: vec!["amountPlanned".to_owned(), "centAmount".to_owned()],
            direction: SortDirection::Desc,
        })
    );
}

#[test]
fn parse_errors() {
    check_parse_error(
        "",
        "expected a field path, found end of input at position 0",
    );
    check_parse_error(
        "key up",
        "expected 'asc' or 'desc', found 'up' at position 4",
    );
    check_parse_error(
        "a..b",
        "expected a field name after '.', found '.' at position 2",
    );
    check_parse_error(
        "a.",
        "expected a field name after '.', found end of input at position 2",
    );
    check_parse_error(
        "key asc desc",
        "expected end of sort after the direction, found 'desc' at position 8",
    );
    check_parse_error(
        "key = 1",
        "expected 'asc' or 'desc', found '=' at position 4",
    );
    check_parse_error(
        "\"key\" asc",
        "expected a field path, found a string at position 0",
    );
    check_parse_error("k#y", "unexpected character '#' at position 1");
    check_parse_error(
        &"k".repeat(SORT_BYTES_MAX + 1),
        "sort of 1001 bytes exceeds the limit of 1000 bytes at position 0",
    );
}

fn docs() -> Vec<Value> {
    vec![
        json!({ "id": "p1", "amountPlanned": { "centAmount": 500 }, "createdAt": "2026-01-02T00:00:00.000Z", "key": "b" }),
        json!({ "id": "p2", "amountPlanned": { "centAmount": 2500 }, "createdAt": "2026-01-01T00:00:00.000Z" }),
        json!({ "id": "p3", "amountPlanned": { "centAmount": 500 }, "createdAt": "2026-01-01T00:00:00.000Z", "key": "a" }),
        json!({ "id": "p4", "createdAt": "2026-01-03T00:00:00.000Z", "key": "c" }),
        json!({ "id": "p5", "amountPlanned": { "centAmount": 10000 }, "createdAt": "2026-01-03T00:00:00.000Z", "key": null }),
    ]
}

#[test]
fn sorts_by_one_key() {
    check(&["createdAt asc"], &docs(), &["p2", "p3", "p1", "p4", "p5"]);
    check(
        &["createdAt desc"],
        &docs(),
        &["p4", "p5", "p1", "p2", "p3"],
    );
    // Numbers numerically (500 < 2500 < 10000, unlike their text); absent last
    // ascending, first descending.
    check(
        &["amountPlanned.centAmount"],
        &docs(),
        &["p1", "p3", "p2", "p5", "p4"],
    );
    check(
        &["amountPlanned.centAmount desc"],
        &docs(),
        &["p4", "p5", "p2", "p1", "p3"],
    );
    // null is absent.
    check(&["key asc"], &docs(), &["p3", "p1", "p4", "p2", "p5"]);
}

#[test]
fn sorts_by_several_keys_in_order() {
    check(
        &["amountPlanned.centAmount asc", "createdAt desc"],
        &docs(),
        &["p1", "p3", "p2", "p5", "p4"],
    );
    check(
        &["amountPlanned.centAmount asc", "createdAt asc"],
        &docs(),
        &["p3", "p1", "p2", "p5", "p4"],
    );
    check(
        &["createdAt asc", "key desc"],
        &docs(),
        &["p2", "p3", "p1", "p5", "p4"],
    );
    // A repeated key changes nothing; the first occurrence decides.
    check(
        &["createdAt asc", "createdAt desc", "key asc"],
        &docs(),
        &["p3", "p2", "p1", "p4", "p5"],
    );
    assert_eq!(compare_by(&[], &docs()[0], &docs()[1]), Ordering::Equal);
}

#[test]
fn kinds_rank_booleans_numbers_strings_then_absent() {
    let mixed = vec![
        json!({ "id": "string", "v": "1" }),
        json!({ "id": "absent" }),
        json!({ "id": "true", "v": true }),
        json!({ "id": "array", "v": [1] }),
        json!({ "id": "float", "v": 1.5 }),
        json!({ "id": "false", "v": false }),
        json!({ "id": "int", "v": 1 }),
    ];
    check(
        &["v"],
        &mixed,
        &["false", "true", "int", "float", "string", "absent", "array"],
    );
    check(
        &["v desc"],
        &mixed,
        &["absent", "array", "string", "float", "int", "true", "false"],
    );
}

fn sort_key() -> impl Strategy<Value = SortKey> {
    (
        proptest::collection::vec(proptest::sample::select(&["a", "b", "tags"][..]), 1..3),
        any::<bool>(),
    )
        .prop_map(|(path, desc)| SortKey {
            path: path.into_iter().map(str::to_owned).collect(),
            direction: if desc {
                SortDirection::Desc
            } else {
                SortDirection::Asc
            },
        })
}

proptest! {
    /// `slice::sort_by` may panic on an order that is not total.
    #[test]
    fn compare_by_is_a_total_order(
        keys in proptest::collection::vec(sort_key(), 0..3),
        a in arbitrary::document(),
        b in arbitrary::document(),
        c in arbitrary::document(),
    ) {
        prop_assert_eq!(compare_by(&keys, &a, &b), compare_by(&keys, &b, &a).reverse());
        prop_assert_eq!(compare_by(&keys, &a, &a), Ordering::Equal);
        if compare_by(&keys, &a, &b).is_le() && compare_by(&keys, &b, &c).is_le() {
            prop_assert!(compare_by(&keys, &a, &c).is_le());
        }
    }

    #[test]
    fn printing_then_parsing_gives_the_same_key(key in sort_key()) {
        prop_assert_eq!(parse_sort(&key.to_string()), Ok(key));
    }
}
