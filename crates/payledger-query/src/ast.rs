//! The predicate tree and its canonical text form.
//!
//! The parser produces `Or` and `And` with at least two children and drops
//! grouping parentheses; `Display` puts parentheses back exactly where the
//! grammar needs them (an `or` inside an `and`, and a nested `or`/`and` of
//! the same kind), so `parse(&p.to_string()) == Ok(p)` for every tree the
//! parser can produce. Field and variable names print bare when they are
//! plain identifiers and not keywords, else backtick-quoted.

use std::cmp::Ordering;
use std::fmt;

use crate::number::Number;

/// A parsed `where` predicate.
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    /// `p or q or …`: true when any child is (the parser gives ≥ 2 children).
    Or(Vec<Predicate>),
    /// `p and q and …`: true when every child is (the parser gives ≥ 2).
    And(Vec<Predicate>),
    /// `not(p)`.
    Not(Box<Predicate>),
    /// `field(p)`: `p` holds inside the object at `field`, or inside some
    /// element when `field` is an array.
    Nested {
        /// The object key.
        field: String,
        /// The predicate evaluated inside.
        inner: Box<Predicate>,
    },
    /// `field op value`.
    Compare {
        /// The object key.
        field: String,
        /// The comparison.
        op: CompareOp,
        /// The right-hand side.
        value: Operand,
    },
    /// `field [not] in (v, …)` or `field [not] in :var`.
    In {
        /// The object key.
        field: String,
        /// `not in`.
        negated: bool,
        /// The candidates.
        values: ValueList,
    },
    /// `field contains any|all (v, …)`.
    Contains {
        /// The object key (an array field).
        field: String,
        /// `any` or `all`.
        mode: ContainsMode,
        /// The values looked for.
        values: ValueList,
    },
    /// `field is [not] defined|empty`.
    Is {
        /// The object key.
        field: String,
        /// `is not`.
        negated: bool,
        /// `defined` or `empty`.
        check: IsCheck,
    },
}

impl Predicate {
    /// The conjunction of repeated `where` parameters: `None` for none, the
    /// predicate itself for one, else an `And` of all of them.
    pub fn all(mut predicates: Vec<Predicate>) -> Option<Predicate> {
        match predicates.len() {
            0 | 1 => predicates.pop(),
            _ => Some(Predicate::And(predicates)),
        }
    }
}

/// A comparison operator; `<>` parses as [`CompareOp::Ne`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `=`
    Eq,
    /// `!=` or `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CompareOp {
    /// The canonical spelling.
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }

    /// Whether `field op value` holds when `field` compares to `value` as
    /// `ordering`.
    pub(crate) fn accepts(self, ordering: Ordering) -> bool {
        match self {
            CompareOp::Eq => ordering == Ordering::Equal,
            CompareOp::Ne => ordering != Ordering::Equal,
            CompareOp::Lt => ordering == Ordering::Less,
            CompareOp::Le => ordering != Ordering::Greater,
            CompareOp::Gt => ordering == Ordering::Greater,
            CompareOp::Ge => ordering != Ordering::Less,
        }
    }
}

/// A constant in the predicate text.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `"text"`, escapes resolved.
    String(String),
    /// `12`, `-3`, `2.5`, `1e3`.
    Number(Number),
    /// `true` / `false`, any case.
    Bool(bool),
}

/// A value position: a constant or a `:variable`.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A constant.
    Literal(Literal),
    /// `:name`, resolved against [`crate::Variables`] at evaluation.
    Variable(String),
}

/// The right-hand side of `in` and `contains`.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueList {
    /// `(v, …)`; a variable inside contributes all of its values.
    Values(Vec<Operand>),
    /// `:name`: all values of the variable.
    Variable(String),
}

/// `contains any` or `contains all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainsMode {
    /// Some listed value is an element.
    Any,
    /// Every listed value is an element.
    All,
}

/// What `is` checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsCheck {
    /// Present and not null.
    Defined,
    /// An empty array or object, or absent.
    Empty,
}

/// Words that print backtick-quoted when used as names.
const KEYWORDS: [&str; 12] = [
    "and", "or", "not", "in", "contains", "any", "all", "is", "defined", "empty", "true", "false",
];

/// A plain identifier: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A field or variable name as it must be written in predicate text.
pub(crate) struct Name<'a>(pub(crate) &'a str);

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keyword = KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(self.0));
        if is_plain_identifier(self.0) && !keyword {
            return f.write_str(self.0);
        }
        f.write_str("`")?;
        f.write_str(&self.0.replace('`', "``"))?;
        f.write_str("`")
    }
}

impl fmt::Display for Predicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Predicate::Or(items) => {
                write_joined(f, items, " or ", |p| matches!(p, Predicate::Or(_)))
            }
            Predicate::And(items) => write_joined(f, items, " and ", |p| {
                matches!(p, Predicate::Or(_) | Predicate::And(_))
            }),
            Predicate::Not(inner) => write!(f, "not({inner})"),
            Predicate::Nested { field, inner } => write!(f, "{}({inner})", Name(field)),
            Predicate::Compare { field, op, value } => {
                write!(f, "{} {} {value}", Name(field), op.symbol())
            }
            Predicate::In {
                field,
                negated,
                values,
            } => {
                let not = if *negated { "not " } else { "" };
                write!(f, "{} {not}in {values}", Name(field))
            }
            Predicate::Contains {
                field,
                mode,
                values,
            } => {
                let mode = match mode {
                    ContainsMode::Any => "any",
                    ContainsMode::All => "all",
                };
                write!(f, "{} contains {mode} {values}", Name(field))
            }
            Predicate::Is {
                field,
                negated,
                check,
            } => {
                let not = if *negated { "not " } else { "" };
                let check = match check {
                    IsCheck::Defined => "defined",
                    IsCheck::Empty => "empty",
                };
                write!(f, "{} is {not}{check}", Name(field))
            }
        }
    }
}

/// Writes `items` separated by `separator`, parenthesizing the children for
/// which `needs_parens` holds.
fn write_joined(
    f: &mut fmt::Formatter<'_>,
    items: &[Predicate],
    separator: &str,
    needs_parens: impl Fn(&Predicate) -> bool,
) -> fmt::Result {
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            f.write_str(separator)?;
        }
        if needs_parens(item) {
            write!(f, "({item})")?;
        } else {
            write!(f, "{item}")?;
        }
    }
    Ok(())
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Literal(literal) => write!(f, "{literal}"),
            Operand::Variable(name) => write!(f, ":{}", Name(name)),
        }
    }
}

impl fmt::Display for ValueList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueList::Variable(name) => write!(f, ":{}", Name(name)),
            ValueList::Values(values) => {
                f.write_str("(")?;
                for (index, value) in values.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{value}")?;
                }
                f.write_str(")")
            }
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::String(text) => write_string(f, text),
            Literal::Number(number) => write!(f, "{number}"),
            Literal::Bool(value) => write!(f, "{value}"),
        }
    }
}

/// A double-quoted string with `"`, `\` and control characters escaped.
fn write_string(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in text.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c.is_control() => write!(f, "\\u{:04x}", u32::from(c))?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}
