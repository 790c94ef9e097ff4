//! Which custom field values fit which field types.

use super::*;
use crate::testkit::{number, object, text};

/// Asserts `field_type` accepts every value in `good` and none in `bad`.
fn check(field_type: FieldType, good: &[FieldValue], bad: &[FieldValue]) {
    for value in good {
        assert!(
            field_type.accepts(value),
            "{field_type} should accept {value:?}"
        );
    }
    for value in bad {
        assert!(
            !field_type.accepts(value),
            "{field_type} should refuse {value:?}"
        );
    }
}

#[test]
fn scalars_need_their_own_json_kind() {
    check(
        FieldType::Boolean,
        &[FieldValue::Bool(false)],
        &[text("true"), number("1")],
    );
    check(
        FieldType::String,
        &[text(""), text("x")],
        &[number("1"), FieldValue::Bool(true)],
    );
    check(
        FieldType::Number,
        &[
            number("0"),
            number("-12.5"),
            number("1e3"),
            number("2.0E-7"),
        ],
        &[
            text("1"),
            number("01"),
            number("1."),
            number(".5"),
            number("1e"),
            number(""),
        ],
    );
}

#[test]
fn enums_accept_only_their_keys() {
    let keys = vec!["red".to_owned(), "green".to_owned()];
    check(
        FieldType::Enum { keys: keys.clone() },
        &[text("red")],
        &[text("Red"), text("blue")],
    );
    check(
        FieldType::LocalizedEnum { keys },
        &[text("green")],
        &[object(&[("key", text("green"))])],
    );
}

#[test]
fn localized_strings_are_objects_of_texts() {
    check(
        FieldType::LocalizedString,
        &[
            object(&[("en", text("Hi")), ("de", text("Hallo"))]),
            object(&[]),
        ],
        &[
            text("Hi"),
            object(&[("en", number("1"))]),
            object(&[("", text("x"))]),
        ],
    );
}

#[test]
fn money_needs_a_known_currency_and_an_integer_amount() {
    let eur = |cents: &str| object(&[("currencyCode", text("EUR")), ("centAmount", number(cents))]);
    let full = object(&[
        ("currencyCode", text("JPY")),
        ("centAmount", number("500")),
        ("fractionDigits", number("0")),
        ("type", text("centPrecision")),
    ]);
    let wrong_digits = object(&[
        ("currencyCode", text("EUR")),
        ("centAmount", number("5")),
        ("fractionDigits", number("3")),
    ]);
    let unknown = object(&[("currencyCode", text("ABC")), ("centAmount", number("5"))]);
    let extra = object(&[
        ("currencyCode", text("EUR")),
        ("centAmount", number("5")),
        ("x", text("y")),
    ]);
    check(
        FieldType::Money,
        &[eur("100"), eur("-3"), full],
        &[eur("1.5"), wrong_digits, unknown, extra, text("EUR 1")],
    );
}

#[test]
fn dates_and_times_follow_iso_8601() {
    check(
        FieldType::Date,
        &[text("2024-02-29"), text("2023-12-31")],
        &[
            text("2023-02-29"),
            text("2023-13-01"),
            text("2023-1-01"),
            text("2023-04-31"),
        ],
    );
    check(
        FieldType::Time,
        &[text("00:00:00"), text("23:59:59.999"), text("12:00:00.1")],
        &[
            text("24:00:00"),
            text("12:60:00"),
            text("12:00"),
            text("12:00:00."),
            text("12:00:00Z"),
        ],
    );
    check(
        FieldType::DateTime,
        &[
            text("2018-10-12T14:00:00.000Z"),
            text("2018-10-12T14:00:00+02:00"),
            text("2018-10-12T14:00:00-05:30"),
        ],
        &[
            text("2018-10-12T14:00:00"),
            text("2018-10-12 14:00:00Z"),
            text("2018-10-12T14:00:00+2:00"),
            text("2018-10-32T14:00:00Z"),
        ],
    );
}

#[test]
fn references_name_the_expected_resource_type() {
    let customer = |type_id: &str| object(&[("typeId", text(type_id)), ("id", text("c-1"))]);
    check(
        FieldType::Reference {
            reference_type_id: "customer".into(),
        },
        &[customer("customer")],
        &[
            customer("order"),
            object(&[("typeId", text("customer"))]),
            text("c-1"),
        ],
    );
}

#[test]
fn sets_check_every_element() {
    let strings = FieldType::Set(Box::new(FieldType::String));
    check(
        strings,
        &[
            FieldValue::List(vec![]),
            FieldValue::List(vec![text("a"), text("b")]),
        ],
        &[FieldValue::List(vec![text("a"), number("1")]), text("a")],
    );
}

#[test]
fn types_and_states_say_where_they_apply() {
    let definition = TypeDefinition {
        id: "t".into(),
        key: "k".into(),
        resource_type_ids: vec!["transaction".into(), "order".into()],
        field_definitions: vec![],
    };
    let usable: Vec<_> = CustomResource::ALL
        .into_iter()
        .filter(|r| definition.is_for(*r))
        .collect();
    assert_eq!(usable, [CustomResource::Transaction]);
    for state_type in StateType::ALL {
        assert_eq!(StateType::parse(state_type.as_str()), Some(state_type));
    }
}
