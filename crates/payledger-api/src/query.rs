//! Query parameters shared by every query endpoint: `where` (repeatable,
//! ANDed), `var.<name>` (repeatable), `sort` (repeatable), `limit`,
//! `offset`, `withTotal` and `expand`, and the paged response
//! `{limit, offset, count, total?, results}`.
//!
//! Filtering and sorting run over the JSON documents the endpoint returns,
//! so a predicate sees exactly the field names a client sees.

use crate::ApiError;
use crate::request::QueryPairs;
use payledger_query::{
    BoundPredicate, IndexHint, Predicate, SortKey, Variables, compare_by, parse, parse_sort,
};
use serde_json::{Value, json};
use std::cmp::Ordering;

/// Page size when `limit` is absent.
pub const LIMIT_DEFAULT: u64 = 20;
/// Largest accepted `limit`.
pub const LIMIT_MAX: u64 = 500;
/// Largest accepted `offset`.
pub const OFFSET_MAX: u64 = 10_000;
/// Most `where`, `sort`, `expand` and `var.*` parameters in one request.
pub const QUERY_PARAMETERS_MAX: usize = 100;

/// A parsed query.
#[derive(Debug, Default)]
pub struct QuerySpec {
    pub predicate: Option<Predicate>,
    pub variables: Variables,
    pub sort: Vec<SortKey>,
    pub limit: u64,
    pub offset: u64,
    pub with_total: bool,
    pub expand: Vec<String>,
}

impl QuerySpec {
    /// Parses the query parameters of a request.
    pub fn parse(pairs: &QueryPairs) -> Result<Self, ApiError> {
        if pairs.0.len() > QUERY_PARAMETERS_MAX {
            return Err(ApiError::invalid_input(format!(
                "A query takes at most {QUERY_PARAMETERS_MAX} parameters (query_parameters_max)."
            )));
        }
        let predicates = pairs
            .all("where")
            .map(|text| parse(text).map_err(|e| ApiError::invalid_input(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        let sort = pairs
            .all("sort")
            .map(|text| parse_sort(text).map_err(|e| ApiError::invalid_input(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        let mut variables = Variables::new();
        for (name, value) in &pairs.0 {
            if let Some(var) = name.strip_prefix("var.") {
                variables.push(var, value);
            }
        }
        let predicate = Predicate::all(predicates);
        if let Some(predicate) = &predicate {
            predicate
                .check_variables(&variables)
                .map_err(|e| ApiError::invalid_input(format!("Malformed parameter: where: {e}")))?;
        }
        Ok(Self {
            predicate,
            variables,
            sort,
            limit: pairs.number("limit", LIMIT_DEFAULT, LIMIT_MAX)?,
            offset: pairs.number("offset", 0, OFFSET_MAX)?,
            with_total: pairs.boolean("withTotal", true)?,
            expand: pairs.all("expand").map(str::to_owned).collect(),
        })
    }

    /// Index lookups the predicate allows instead of a full scan.
    pub fn index_hints(&self) -> Vec<IndexHint> {
        self.predicate
            .as_ref()
            .map_or_else(Vec::new, |p| p.index_hints(&self.variables))
    }

    /// The predicate bound to its variables once, for many documents
    /// (`None`: every document matches).
    fn matcher(&self) -> Result<Option<BoundPredicate<'_>>, ApiError> {
        self.predicate
            .as_ref()
            .map(|p| p.bind(&self.variables))
            .transpose()
            .map_err(|e| ApiError::invalid_input(format!("Malformed parameter: where: {e}")))
    }

    /// Whether any of `documents` matches (`HEAD` of a query).
    pub fn matches_any(
        &self,
        documents: impl IntoIterator<Item = Value>,
    ) -> Result<bool, ApiError> {
        let matcher = self.matcher()?;
        Ok(documents
            .into_iter()
            .any(|d| matcher.as_ref().is_none_or(|m| m.matches(&d))))
    }

    /// Filters, sorts (ties broken by `id`) and pages documents.
    pub fn page(&self, documents: impl IntoIterator<Item = Value>) -> Result<Value, ApiError> {
        let matcher = self.matcher()?;
        let mut matching: Vec<Value> = documents
            .into_iter()
            .filter(|d| matcher.as_ref().is_none_or(|m| m.matches(d)))
            .collect();
        matching.sort_by(|a, b| match compare_by(&self.sort, a, b) {
            Ordering::Equal => a
                .get("id")
                .map(Value::to_string)
                .cmp(&b.get("id").map(Value::to_string)),
            other => other,
        });
        let total = matching.len();
        let results: Vec<Value> = matching
            .into_iter()
            .skip(usize::try_from(self.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(self.limit).unwrap_or(usize::MAX))
            .collect();
        let mut response = json!({
            "limit": self.limit,
            "offset": self.offset,
            "count": results.len(),
            "results": results,
        });
        if self.with_total {
            response["total"] = json!(total);
        }
        Ok(response)
    }
}
