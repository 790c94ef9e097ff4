//! `GET /metrics`: the process's Prometheus metrics
//! ([`payledger_metrics`]) in the OpenMetrics text format, without a token
//! (like `/health`; serve it on a separate port with `--metrics-listen`
//! and keep the API port's `/metrics` off the internet at the proxy).
//!
//! Counters and histograms are recorded where things happen. The gauges
//! of what the store holds are read here, at each scrape: every log
//! consumer's lag per partition (the Kafka relay's also as
//! `payledger_kafka_relay_lag_events`), each Subscription's delivery lag
//! and the count of Subscriptions per status, and the PSP tasks due and
//! overdue. A scrape reads one cursor row per consumer and partition, the
//! Subscriptions, and at most [`TASKS_COUNTED_MAX`] task keys.

use crate::{ApiError, AppState};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use payledger_app::consumer::list_cursors;
use payledger_app::subscriptions::{self, HealthStatus};
use payledger_metrics::{ConsumerLabels, Metrics, StatusLabels, SubscriptionLabels, metrics};
use payledger_store::{EventStore, StoreError, Table};
use std::collections::BTreeMap;

/// Most due PSP tasks a scrape counts; the gauges stop there.
pub const TASKS_COUNTED_MAX: usize = 10_000;
/// A task due this long ago or more counts as overdue, in milliseconds.
pub const TASK_OVERDUE_AFTER_MS: i64 = 60_000;

/// `GET /metrics`.
pub async fn scrape(State(state): State<AppState>) -> Result<Response, ApiError> {
    state
        .blocking(|state| {
            let relay = state
                .config
                .kafka_relay
                .as_ref()
                .map(|r| r.consumer.as_str());
            read_gauges(&*state.store, relay).map_err(ApiError::from)
        })
        .await?;
    Ok((
        [(header::CONTENT_TYPE, payledger_metrics::CONTENT_TYPE)],
        payledger_metrics::render(),
    )
        .into_response())
}

/// Sets the gauges of what `store` holds now; `relay` names the Kafka
/// relay's cursor when the relay runs.
fn read_gauges(store: &dyn EventStore, relay: Option<&str>) -> Result<(), StoreError> {
    let m = metrics();
    let heads = store.log_heads()?;
    // Every saved cursor, and the relay's from 0 where it saved none yet.
    let mut cursors: BTreeMap<(String, u16), u64> = BTreeMap::new();
    if let Some(relay) = relay {
        for partition in 0..store.partition_count() {
            cursors.insert((relay.to_owned(), partition), 0);
        }
    }
    for cursor in list_cursors(store)? {
        cursors.insert((cursor.consumer, cursor.partition), cursor.sequence);
    }
    for ((consumer, partition), sequence) in cursors {
        let head = heads.get(usize::from(partition)).copied().unwrap_or(0);
        let lag = head.saturating_sub(sequence);
        if relay == Some(consumer.as_str()) {
            Metrics::set_partition(&m.kafka_relay_lag, partition, lag);
        }
        m.consumer_lag
            .get_or_create(&ConsumerLabels {
                consumer,
                partition,
            })
            .set(i64::try_from(lag).unwrap_or(i64::MAX));
    }
    let mut by_status: BTreeMap<&str, i64> = HealthStatus::ALL
        .into_iter()
        .map(|status| (status.as_str(), 0))
        .collect();
    for (_, record) in subscriptions::list_all(store)? {
        let state = subscriptions::state_of(store, &record)?;
        *by_status.entry(state.status.as_str()).or_default() += 1;
        m.webhook_delivery_lag
            .get_or_create(&SubscriptionLabels {
                subscription: record.id.clone(),
            })
            .set(i64::try_from(state.lag).unwrap_or(i64::MAX));
    }
    for (status, count) in by_status {
        m.webhook_subscriptions
            .get_or_create(&StatusLabels {
                status: status.to_owned(),
            })
            .set(count);
    }
    let now = payledger_app::clock::Clock::now_ms(&payledger_app::clock::SystemClock);
    let (due, overdue) = tasks_due(store, now)?;
    m.psp_tasks_due.set(due);
    m.psp_tasks_overdue.set(overdue);
    Ok(())
}

/// Tasks due at `now_ms` or before, and those due at least
/// [`TASK_OVERDUE_AFTER_MS`] before (at most [`TASKS_COUNTED_MAX`]).
fn tasks_due(store: &dyn EventStore, now_ms: i64) -> Result<(i64, i64), StoreError> {
    let end = u64::try_from(now_ms)
        .unwrap_or(0)
        .saturating_add(1)
        .to_be_bytes();
    let rows = store.scan(Table::Tasks, &[], &end, TASKS_COUNTED_MAX)?;
    let overdue_before = now_ms.saturating_sub(TASK_OVERDUE_AFTER_MS);
    let overdue = rows
        .iter()
        .filter_map(|(key, _)| key.get(..8)?.try_into().ok().map(u64::from_be_bytes))
        .filter(|due| i64::try_from(*due).is_ok_and(|due| due <= overdue_before))
        .count();
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    Ok((count(rows.len()), count(overdue)))
}
