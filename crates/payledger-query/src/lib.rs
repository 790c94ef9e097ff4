//! The query language of the Payments API: `where` predicates, `sort` keys
//! and the index hints a query planner needs.
//!
//! A `where` text is tokenized and parsed once, by recursive descent, into a
//! [`Predicate`] tree; the tree is then evaluated against each candidate
//! document as a `serde_json::Value` in its API shape. Printing a predicate
//! (`Display`) gives its canonical text, which parses back to the same tree.
//!
//! - `lexer`: characters → tokens, with 0-based character positions.
//! - `parser`: tokens → [`Predicate`], with the size and nesting limits.
//! - `ast`: the tree and its canonical text form.
//! - `eval`: [`Predicate::matches`] over a JSON document and [`Variables`].
//! - `sort`: [`parse_sort`] and [`compare_by`], a total order on documents.
//! - `hint`: [`Predicate::index_hints`], sound index lookups for the planner.
//! - `conjuncts`: [`Predicate::required_values`] and
//!   [`Predicate::text_comparisons`], sound conditions on any named field.
//! - `number`: exact comparison of integers and floats.
//!
//! Architecture invariants: this crate knows nothing of HTTP, storage or the
//! payment domain types; apart from the names of the indexed fields in
//! `hint`, it never special-cases a field. Every error carries a position
//! (parse) or a variable name (evaluation) and maps to a 400 at the API.

mod ast;
mod conjuncts;
mod error;
mod eval;
mod hint;
mod lexer;
mod number;
mod parser;
mod sort;

#[cfg(test)]
mod arbitrary;
#[cfg(test)]
mod fixture;
#[cfg(test)]
mod fuzz;

pub use ast::{CompareOp, ContainsMode, IsCheck, Literal, Operand, Predicate, ValueList};
pub use error::{EvalError, Parameter, ParseError};
pub use eval::{BoundPredicate, Variables};
pub use hint::IndexHint;
pub use number::Number;
pub use parser::{PREDICATE_BYTES_MAX, PREDICATE_DEPTH_MAX, parse};
pub use sort::{SORT_BYTES_MAX, SortDirection, SortKey, compare_by, parse_sort};
