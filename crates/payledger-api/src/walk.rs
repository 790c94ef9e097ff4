//! Walking JSON request bodies by hand: every error names its place
//! (`fieldDefinitions -> name: Missing required value`) and an explicit
//! `null` reads as absent, as commercetools does.

use crate::ApiError;
use serde_json::{Map, Value};

/// Where a value sits in the body: `a -> b -> c` (array positions are not
/// named, as in commercetools).
#[derive(Clone, Debug, Default)]
pub(crate) struct At(Vec<String>);

impl At {
    pub(crate) fn root() -> Self {
        Self::default()
    }

    pub(crate) fn child(&self, name: &str) -> Self {
        let mut segments = self.0.clone();
        segments.push(name.to_owned());
        Self(segments)
    }

    /// A 400 InvalidJsonInput whose detail is `path: detail`.
    pub(crate) fn error(&self, detail: &str) -> ApiError {
        if self.0.is_empty() {
            ApiError::invalid_json(detail)
        } else {
            ApiError::invalid_json(format!("{}: {detail}", self.0.join(" -> ")))
        }
    }

    pub(crate) fn missing(&self) -> ApiError {
        self.error("Missing required value")
    }

    pub(crate) fn expected(&self, what: &str) -> ApiError {
        self.error(&format!("JSON {what} expected."))
    }

    pub(crate) fn unknown(&self, text: &str, allowed: &[&str]) -> ApiError {
        self.error(&format!(
            "Unknown value '{text}'. Allowed values: {}.",
            allowed.join(", ")
        ))
    }
}

/// A JSON object with its place.
#[derive(Clone, Debug)]
pub(crate) struct Obj<'a> {
    pub(crate) map: &'a Map<String, Value>,
    pub(crate) at: At,
}

impl<'a> Obj<'a> {
    pub(crate) fn new(value: &'a Value, at: At) -> Result<Self, ApiError> {
        match value {
            Value::Object(map) => Ok(Self { map, at }),
            _ => Err(at.expected("Object")),
        }
    }

    /// Field `name`, or `None` when absent or `null`.
    pub(crate) fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    pub(crate) fn opt<T>(
        &self,
        name: &str,
        decode: impl FnOnce(&'a Value, At) -> Result<T, ApiError>,
    ) -> Result<Option<T>, ApiError> {
        self.get(name)
            .map(|v| decode(v, self.at.child(name)))
            .transpose()
    }

    pub(crate) fn req<T>(
        &self,
        name: &str,
        decode: impl FnOnce(&'a Value, At) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        match self.get(name) {
            Some(value) => decode(value, self.at.child(name)),
            None => Err(self.at.child(name).missing()),
        }
    }
}

pub(crate) fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::invalid_json(format!("Invalid JSON: {e}")))
}

pub(crate) fn string(value: &Value, at: At) -> Result<String, ApiError> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| at.expected("String"))
}

pub(crate) fn boolean(value: &Value, at: At) -> Result<bool, ApiError> {
    value.as_bool().ok_or_else(|| at.expected("Boolean"))
}

/// The non-null elements of an array, each with the array's place.
pub(crate) fn array(value: &Value, at: At) -> Result<Vec<(&Value, At)>, ApiError> {
    match value {
        Value::Array(items) => Ok(items
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| (v, at.clone()))
            .collect()),
        _ => Err(at.expected("Array")),
    }
}
