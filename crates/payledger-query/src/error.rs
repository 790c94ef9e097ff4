//! The two ways a query can be refused: its text does not parse
//! ([`ParseError`], with a position) or it names variables the request did
//! not supply ([`EvalError`]). Both are client errors (400 InvalidInput at
//! the API); evaluation itself never fails on a document.

use std::fmt;

/// Which query parameter a [`ParseError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parameter {
    /// A `where` predicate.
    Where,
    /// A `sort` key.
    Sort,
}

impl fmt::Display for Parameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Parameter::Where => "where",
            Parameter::Sort => "sort",
        })
    }
}

/// A `where` or `sort` text that does not parse.
///
/// `message` is phrased so that " at position N" completes it, e.g.
/// `expected ')'` or `unterminated string starting`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Malformed parameter: {parameter}: {message} at position {position}")]
pub struct ParseError {
    /// The parameter the text came from.
    pub parameter: Parameter,
    /// 0-based offset in characters (not bytes) into the text.
    pub position: usize,
    /// What was wrong there.
    pub message: String,
}

impl ParseError {
    /// An error in a `where` text; `parse_sort` relabels its own errors.
    pub(crate) fn new(position: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            parameter: Parameter::Where,
            position,
            message: message.into(),
        }
    }
}

/// A parsed predicate that cannot be evaluated with the given variables.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// `:name` is used but no `var.name` parameter was given.
    #[error("unknown variable ':{0}': pass it as var.{0}=…")]
    UnknownVariable(String),
    /// `:name` is compared with an operator such as `=`, which needs exactly
    /// one value, but the request gave it `count` values.
    #[error(
        "variable ':{name}' has {count} values; a comparison needs exactly one (use 'in :{name}')"
    )]
    VariableNotSingle {
        /// The variable's name.
        name: String,
        /// How many values it has.
        count: usize,
    },
}
