//! The analytics route: transaction counts and amounts from the analytics
//! projection ([`payledger_app::analytics`]).
//!
//! | route | scope | success |
//! |---|---|---|
//! | `GET /{pk}/analytics/transactions?from=&to=&groupBy=` | view_analytics | `{from, to, groupBy, results}` |
//!
//! `from` and `to` are UTC dates (`YYYY-MM-DD`, both days included; both
//! required). `groupBy` is a comma-separated subset of `day`, `currency`,
//! `psp`, `type`, `state`, and must hold `currency`: amounts of different
//! currencies do not add up. Each result names the values of the grouped
//! dimensions and carries `count` and `centAmount`. The projection is a
//! log consumer: a transaction recorded a moment ago may not be counted
//! yet, and `pendingEvents` says how many events of the log (of every
//! project) were not counted when the answer was read.

use crate::auth::{Scope, authorize};
use crate::request::{QueryPairs, project_key};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use payledger_app::analytics::{Dimension, Group, day_of, pending_events, transaction_totals};
use payledger_domain::Timestamp;
use payledger_domain::time::{format_timestamp, parse_timestamp};
use serde_json::{Map, Value, json};

/// Longest range of days one query may name.
pub const ANALYTICS_RANGE_DAYS_MAX: i32 = 3_660;

pub fn routes() -> Router<AppState> {
    Router::new().route("/{pk}/analytics/transactions", get(transactions))
}

async fn transactions(
    State(state): State<AppState>,
    Path(pk): Path<String>,
    headers: HeaderMap,
    params: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let project = project_key(&pk)?;
    authorize(&state, &headers, &project, Scope::ViewAnalytics).await?;
    let from = day_param(&params, "from")?;
    let to = day_param(&params, "to")?;
    if to < from {
        return Err(ApiError::invalid_input("to is before from."));
    }
    if to - from >= ANALYTICS_RANGE_DAYS_MAX {
        return Err(ApiError::invalid_input(format!(
            "The range holds more than {ANALYTICS_RANGE_DAYS_MAX} days; ask for fewer."
        )));
    }
    let dimensions = group_by(&params)?;
    let names: Vec<&str> = dimensions.iter().map(|d| d.name()).collect();
    let query_dimensions = dimensions.clone();
    let (groups, pending) = state
        .blocking(move |s| {
            // Read before the totals: the answer misses at most this many.
            let pending = pending_events(&*s.store)?;
            let groups = transaction_totals(&*s.store, &project, from, to, &query_dimensions)?;
            Ok((groups, pending))
        })
        .await?;
    Ok(Json(json!({
        "from": day_text(from),
        "to": day_text(to),
        "groupBy": names,
        "pendingEvents": pending,
        "results": groups.iter().map(group_json).collect::<Vec<_>>(),
    })))
}

fn day_param(params: &QueryPairs, name: &str) -> Result<i32, ApiError> {
    let text = params
        .last(name)
        .ok_or_else(|| ApiError::invalid_input(format!("Missing required parameter: {name}.")))?;
    parse_timestamp(&format!("{text}T00:00:00Z"))
        .filter(|_| text.len() == 10)
        .map(day_of)
        .ok_or_else(|| {
            ApiError::invalid_input(format!(
                "Malformed parameter: {name}: expected a date such as 2026-12-06, got '{text}'."
            ))
        })
}

fn group_by(params: &QueryPairs) -> Result<Vec<Dimension>, ApiError> {
    let text = params.last("groupBy").unwrap_or("day,currency");
    let mut dimensions = Vec::new();
    for name in text.split(',').map(str::trim) {
        let dimension = Dimension::parse(name).ok_or_else(|| {
            ApiError::invalid_input(format!(
                "Malformed parameter: groupBy: unknown dimension '{name}'; known: day, currency, \
                 psp, type, state."
            ))
        })?;
        if !dimensions.contains(&dimension) {
            dimensions.push(dimension);
        }
    }
    if !dimensions.contains(&Dimension::Currency) {
        return Err(ApiError::invalid_input(
            "groupBy must include currency: amounts of different currencies do not add up.",
        ));
    }
    dimensions.sort();
    Ok(dimensions)
}

fn day_text(day: i32) -> String {
    format_timestamp(Timestamp(i64::from(day) * 86_400_000))[..10].to_owned()
}

fn group_json(group: &Group) -> Value {
    let mut out = Map::new();
    if let Some(day) = group.day {
        out.insert("day".into(), json!(day_text(day)));
    }
    if let Some(currency) = &group.currency {
        out.insert("currency".into(), json!(currency));
    }
    if let Some(psp) = &group.psp {
        out.insert(
            "psp".into(),
            if psp.is_empty() {
                Value::Null
            } else {
                json!(psp)
            },
        );
    }
    if let Some(kind) = group.kind {
        out.insert("type".into(), json!(kind.as_str()));
    }
    if let Some(state) = group.state {
        out.insert("state".into(), json!(state.as_str()));
    }
    out.insert("count".into(), json!(group.totals.count));
    out.insert("centAmount".into(), json!(group.totals.cent_amount));
    Value::Object(out)
}
