//! Exact number comparison tests, including integers beyond f64 precision.

use super::*;
use proptest::prelude::*;

fn check(a: Number, b: Number, expect: Ordering) {
    assert_eq!(a.cmp_exact(&b), expect, "{a} vs {b}");
    assert_eq!(b.cmp_exact(&a), expect.reverse(), "{b} vs {a}");
}

#[test]
fn exact_comparisons() {
    check(Number::Int(1), Number::Float(1.0), Ordering::Equal);
    check(Number::Int(0), Number::Float(-0.0), Ordering::Equal);
    check(Number::Int(1), Number::Float(1.5), Ordering::Less);
    check(Number::Int(-1), Number::Float(-1.5), Ordering::Greater);
    // 2^53 + 1 is not a float; rounding it would say Equal.
    let big = (1_i128 << 53) + 1;
    check(
        Number::Int(big),
        Number::Float(9_007_199_254_740_992.0),
        Ordering::Greater,
    );
    check(
        Number::Int(i128::from(i64::MAX)),
        Number::Int(i128::from(u64::MAX)),
        Ordering::Less,
    );
    check(Number::Int(i128::MAX), Number::Float(1e39), Ordering::Less);
    check(
        Number::Int(i128::MIN),
        Number::Float(-1e39),
        Ordering::Greater,
    );
}

#[test]
fn json_numbers() {
    let n = |v: serde_json::Value| v.as_number().and_then(Number::from_json);
    assert_eq!(
        n(serde_json::json!(u64::MAX)),
        Some(Number::Int(i128::from(u64::MAX)))
    );
    assert_eq!(n(serde_json::json!(-3)), Some(Number::Int(-3)));
    assert_eq!(n(serde_json::json!(2.5)), Some(Number::Float(2.5)));
}

#[test]
fn display_round_trips_as_float() {
    assert_eq!(Number::Float(1.0).to_string(), "1.0");
    assert_eq!(Number::Float(1e300).to_string(), "1e300");
    assert_eq!(Number::Int(-7).to_string(), "-7");
}

fn number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<i64>().prop_map(|i| Number::Int(i.into())),
        (-3_i128..3).prop_map(Number::Int),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Number::Float),
        (-3_i32..3).prop_map(|i| Number::Float(f64::from(i) / 2.0)),
    ]
}

proptest! {
    #[test]
    fn cmp_exact_is_a_total_order(a in number(), b in number(), c in number()) {
        prop_assert_eq!(a.cmp_exact(&b), b.cmp_exact(&a).reverse());
        if a.cmp_exact(&b) != Ordering::Greater && b.cmp_exact(&c) != Ordering::Greater {
            prop_assert_ne!(a.cmp_exact(&c), Ordering::Greater);
        }
    }
}
