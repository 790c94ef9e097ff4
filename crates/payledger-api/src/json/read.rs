//! A path-aware reader over parsed JSON, so every decoding error names the
//! place it happened, in the commercetools style
//! `transactions -> amount -> centAmount: Missing required value`.
//!
//! Explicit `null` reads as absent everywhere: older SDKs send `null` for
//! every unset field. Array positions are not part of a path (commercetools
//! does not name them either); the field names are.

use crate::ApiError;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Where a value sits in the request body: the field names from the root.
/// A child shares its parent: the reader makes one for every field it
/// reads, and nearly all of them are dropped unused, without an error.
#[derive(Clone, Debug, Default)]
pub(crate) struct Path(Option<Arc<Segment>>);

/// The last field name of a path, after the path it is in.
#[derive(Debug)]
pub(crate) struct Segment {
    parent: Path,
    name: Box<str>,
}

impl PartialEq for Path {
    fn eq(&self, other: &Self) -> bool {
        self.names() == other.names()
    }
}

impl Eq for Path {}

impl Path {
    /// The body itself.
    pub(crate) fn root() -> Self {
        Self::default()
    }

    /// The path of field `name` inside this one.
    pub(crate) fn child(&self, name: &str) -> Self {
        Self(Some(Arc::new(Segment {
            parent: self.clone(),
            name: name.into(),
        })))
    }

    /// The field names from the root.
    fn names(&self) -> Vec<&str> {
        let mut names = Vec::new();
        let mut at = self;
        while let Some(segment) = &at.0 {
            names.push(&*segment.name);
            at = &segment.parent;
        }
        names.reverse();
        names
    }

    /// `a -> b -> c`, as `detailedErrorMessage` names a place.
    pub(crate) fn arrows(&self) -> String {
        self.names().join(" -> ")
    }

    /// `a.b.c`, as the `field` of an `InvalidField` error names a field.
    pub(crate) fn dotted(&self) -> String {
        self.names().join(".")
    }

    /// A 400 InvalidJsonInput whose detail is `path: detail`.
    pub(crate) fn error(&self, detail: &str) -> ApiError {
        if self.0.is_none() {
            ApiError::invalid_json(detail)
        } else {
            ApiError::invalid_json(format!("{}: {detail}", self.arrows()))
        }
    }

    /// The field is required but absent (or `null`).
    pub(crate) fn missing(&self) -> ApiError {
        self.error("Missing required value")
    }

    /// The value has the wrong JSON type; `what` is `String`, `Number`, ….
    pub(crate) fn expected(&self, what: &str) -> ApiError {
        self.error(&format!("JSON {what} expected."))
    }

    /// `text` is none of the `allowed` values.
    pub(crate) fn unknown(&self, text: &str, allowed: &[&str]) -> ApiError {
        self.error(&format!(
            "Unknown value '{text}'. Allowed values: {}.",
            allowed.join(", ")
        ))
    }
}

/// Parses a request body into a JSON value; a syntax error names its line
/// and column.
pub(crate) fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::invalid_json(format!("Invalid JSON: {e}")))
}

/// A JSON object together with its path.
#[derive(Clone, Debug)]
pub(crate) struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: Path,
}

impl<'a> Obj<'a> {
    /// Reads `value` as an object.
    pub(crate) fn new(value: &'a Value, path: Path) -> Result<Self, ApiError> {
        match value {
            Value::Object(map) => Ok(Self { map, path }),
            _ => Err(path.expected("Object")),
        }
    }

    /// The path of this object.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The path of field `name`.
    pub(crate) fn at(&self, name: &str) -> Path {
        self.path.child(name)
    }

    /// Field `name`, or `None` when absent or `null`.
    pub(crate) fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    /// Decodes field `name` with `decode` when present.
    pub(crate) fn opt<T>(
        &self,
        name: &str,
        decode: impl FnOnce(&'a Value, Path) -> Result<T, ApiError>,
    ) -> Result<Option<T>, ApiError> {
        self.get(name).map(|v| decode(v, self.at(name))).transpose()
    }

    /// Decodes field `name` with `decode`; absent is an error.
    pub(crate) fn req<T>(
        &self,
        name: &str,
        decode: impl FnOnce(&'a Value, Path) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        match self.get(name) {
            Some(value) => decode(value, self.at(name)),
            None => Err(self.at(name).missing()),
        }
    }

    pub(crate) fn opt_string(&self, name: &str) -> Result<Option<String>, ApiError> {
        self.opt(name, string)
    }

    pub(crate) fn req_string(&self, name: &str) -> Result<String, ApiError> {
        self.req(name, string)
    }

    pub(crate) fn opt_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.opt(name, boolean)
    }

    pub(crate) fn opt_obj(&self, name: &str) -> Result<Option<Obj<'a>>, ApiError> {
        self.opt(name, Obj::new)
    }

    /// The present (non-null) elements of array field `name`, each with
    /// the field's path; absent reads as empty.
    pub(crate) fn array(&self, name: &str) -> Result<Vec<(&'a Value, Path)>, ApiError> {
        Ok(self.opt(name, array)?.unwrap_or_default())
    }

    /// The entries of this object whose values are not `null`.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&'a String, &'a Value)> + 'a {
        self.map.iter().filter(|(_, v)| !v.is_null())
    }
}

/// Reads a JSON string.
pub(crate) fn string(value: &Value, path: Path) -> Result<String, ApiError> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| path.expected("String"))
}

/// Reads a JSON boolean.
pub(crate) fn boolean(value: &Value, path: Path) -> Result<bool, ApiError> {
    value.as_bool().ok_or_else(|| path.expected("Boolean"))
}

/// Reads a JSON array: its non-null elements, each with the array's path.
pub(crate) fn array(value: &Value, path: Path) -> Result<Vec<(&Value, Path)>, ApiError> {
    match value {
        Value::Array(items) => Ok(items
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| (v, path.clone()))
            .collect()),
        _ => Err(path.expected("Array")),
    }
}

/// Reads a JSON number that is an integer within `i64`.
pub(crate) fn integer(value: &Value, path: Path) -> Result<i64, ApiError> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| path.error(&format!("64-bit integer expected, found {n}."))),
        _ => Err(path.expected("Number")),
    }
}
