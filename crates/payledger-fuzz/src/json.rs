//! Structure-aware inputs for JSON readers: valid seed documents with a
//! few tree edits (a value replaced by one of another kind or an edge
//! value, a member added, removed or renamed, an array element removed or
//! repeated), serialized again. Byte edits mostly break the syntax; these
//! reach the readers' field-by-field checks.

use std::sync::Arc;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Map, Value, json};

use crate::mutate::{self, Corpus, EDITS_MAX, Input};

/// Most elements or members of a generated container.
const CONTAINER_LEN_MAX: usize = 4;

/// One edit of a document; `at` picks a node in pre-order.
#[derive(Clone, Debug)]
enum Edit {
    Replace {
        at: Index,
        with: Value,
    },
    Insert {
        at: Index,
        name: Index,
        with: Value,
    },
    Remove {
        at: Index,
        which: Index,
    },
    Rename {
        at: Index,
        which: Index,
        name: Index,
    },
    Repeat {
        at: Index,
        which: Index,
    },
}

/// Numbers, strings and shapes that sit on the edges of what readers take.
fn edge_scalar() -> impl Strategy<Value = Value> {
    let fixed = vec![
        Value::Null,
        json!(true),
        json!(false),
        json!(0),
        json!(-1),
        json!(1),
        json!(i64::MAX),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(9_007_199_254_740_993_u64),
        json!(0.5),
        json!(-0.0),
        json!(1e308),
        json!(-1e-308),
        json!(""),
        json!(" "),
        json!("0"),
        json!("-1"),
        json!("\u{0}"),
        json!("é😀\u{202e}"),
        json!("x".repeat(300)),
        json!("2026-02-03T10:15:00.000Z"),
        json!("2026-13-45T99:99:99Z"),
        json!("9999-12-31T23:59:59.999Z"),
        json!("776f9240-09e1-4416-a34f-32fa80f0333f"),
        json!("https://example.com/hook"),
        json!({}),
        json!([]),
    ];
    prop_oneof![
        4 => proptest::sample::select(fixed),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(Value::from),
        1 => "\\PC{0,16}".prop_map(Value::from),
    ]
}

/// A replacement value: an edge scalar, one of the target's names as a
/// string, or a small container of those.
fn value(names: Corpus) -> impl Strategy<Value = Value> {
    let name = any::<Index>().prop_map(move |i| Value::from(pick(&i, &names)));
    let leaf = prop_oneof![3 => edge_scalar(), 2 => name];
    leaf.prop_recursive(2, 12, CONTAINER_LEN_MAX as u32, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..=CONTAINER_LEN_MAX).prop_map(Value::Array),
            vec(inner, 0..=CONTAINER_LEN_MAX).prop_map(|items| {
                let members = items.into_iter().enumerate();
                Value::Object(members.map(|(i, v)| (format!("f{i}"), v)).collect())
            }),
        ]
    })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn pick(index: &Index, corpus: &Corpus) -> String {
    text(index.get::<Vec<u8>>(corpus))
}

fn edit(names: Corpus) -> impl Strategy<Value = Edit> {
    let at = any::<Index>;
    prop_oneof![
        4 => (at(), value(names.clone())).prop_map(|(at, with)| Edit::Replace { at, with }),
        2 => (at(), at(), value(names.clone()))
            .prop_map(|(at, name, with)| Edit::Insert { at, name, with }),
        2 => (at(), at()).prop_map(|(at, which)| Edit::Remove { at, which }),
        1 => (at(), at(), at()).prop_map(|(at, which, name)| Edit::Rename { at, which, name }),
        1 => (at(), at()).prop_map(|(at, which)| Edit::Repeat { at, which }),
    ]
}

fn count_nodes(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(members) => members.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// The `n`th node in pre-order, counting down `n`.
fn nth_node<'a>(value: &'a mut Value, n: &mut usize) -> Option<&'a mut Value> {
    if *n == 0 {
        return Some(value);
    }
    *n -= 1;
    match value {
        Value::Array(items) => items.iter_mut().find_map(|v| nth_node(v, n)),
        Value::Object(members) => members.values_mut().find_map(|v| nth_node(v, n)),
        _ => None,
    }
}

fn nth_key(members: &Map<String, Value>, which: &Index) -> Option<String> {
    if members.is_empty() {
        return None;
    }
    members.keys().nth(which.index(members.len())).cloned()
}

fn apply(document: &mut Value, edit: &Edit, names: &Corpus) {
    let at = match edit {
        Edit::Replace { at, .. }
        | Edit::Insert { at, .. }
        | Edit::Remove { at, .. }
        | Edit::Rename { at, .. }
        | Edit::Repeat { at, .. } => at,
    };
    let mut n = at.index(count_nodes(document));
    let Some(node) = nth_node(document, &mut n) else {
        return;
    };
    match (edit, node) {
        (Edit::Replace { with, .. }, node) => *node = with.clone(),
        (Edit::Insert { name, with, .. }, Value::Object(members)) => {
            members.insert(pick(name, names), with.clone());
        }
        (Edit::Insert { with, .. }, Value::Array(items)) => items.push(with.clone()),
        (Edit::Remove { which, .. }, Value::Object(members)) => {
            if let Some(key) = nth_key(members, which) {
                members.remove(&key);
            }
        }
        (Edit::Remove { which, .. }, Value::Array(items)) if !items.is_empty() => {
            items.remove(which.index(items.len()));
        }
        (Edit::Rename { which, name, .. }, Value::Object(members)) => {
            if let Some(key) = nth_key(members, which)
                && let Some(moved) = members.remove(&key)
            {
                members.insert(pick(name, names), moved);
            }
        }
        (Edit::Repeat { which, .. }, Value::Array(items)) if !items.is_empty() => {
            let copy = items[which.index(items.len())].clone();
            items.push(copy);
        }
        _ => {}
    }
}

/// A seed document with 1 to [`EDITS_MAX`] tree edits, serialized.
/// `names` are the field names and enum values of the format: inserted
/// members are named from it and strings drawn from it.
pub fn mutated(seeds: Arc<[Value]>, names: Corpus) -> impl Strategy<Value = Input> {
    assert!(
        !seeds.is_empty() && !names.is_empty(),
        "seeds and names are needed"
    );
    (any::<Index>(), vec(edit(names.clone()), 1..=EDITS_MAX)).prop_map(move |(seed, edits)| {
        let mut document = seed.get(&seeds).clone();
        for edit in &edits {
            apply(&mut document, edit, &names);
        }
        Input(serde_json::to_vec(&document).unwrap_or_default())
    })
}

/// JSON punctuation and literals, plus the format's `names` quoted.
pub fn dictionary(names: &Corpus) -> Corpus {
    let punctuation = [
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"",
        "null",
        "true",
        "false",
        "-",
        "0",
        "1e999",
        "-0",
        "18446744073709551616",
        "\\u0000",
        "\\ud800",
        "\\",
        " ",
        "\"\":",
    ];
    let quoted = names
        .iter()
        .map(|n| format!("\"{}\"", text(n)).into_bytes());
    // Deeper than serde_json's recursion limit (128).
    let deep = [
        "[".repeat(160).into_bytes(),
        "{\"a\":".repeat(160).into_bytes(),
    ];
    punctuation
        .iter()
        .map(|p| p.as_bytes().to_vec())
        .chain(deep)
        .chain(quoted)
        .collect()
}

/// The mix of a JSON target: random bytes and token soups, byte-mutated
/// seeds, mostly tree-mutated seeds, and the seeds themselves.
pub fn inputs(seeds: &[Value], names: &[&str]) -> impl Strategy<Value = Input> {
    let names = mutate::corpus(names);
    let dictionary = dictionary(&names);
    let bytes = mutate::corpus(
        seeds
            .iter()
            .map(|s| serde_json::to_vec(s).unwrap_or_default()),
    );
    let seeds: Arc<[Value]> = seeds.into();
    prop_oneof![
        1 => mutate::random_bytes(),
        1 => mutate::token_soup(dictionary.clone()),
        3 => mutate::mutated(bytes.clone(), dictionary),
        6 => mutated(seeds, names),
        1 => any::<Index>().prop_map(move |i| Input(i.get(&bytes).clone())),
    ]
}
