//! The Prometheus metrics of payledger: one process-wide registry that every
//! layer records into (the store's writers, the Kafka relay, webhook
//! deliveries, the PSP connector, the HTTP API), rendered in the text
//! exposition format by [`render`] for `GET /metrics`.
//!
//! Names follow Prometheus conventions: the `payledger_` prefix, the unit
//! in the name (`_seconds`, `_events`, `_requests`), `_total` on counters.
//! Labels are kept few and bounded: route templates, never paths; event
//! kinds, partitions, outcomes; a subscription id only in the gauges of
//! delivery lag.
//!
//! Counters and histograms are recorded where things happen. Gauges of
//! state that lives in the store (consumer lag, subscription states, due
//! tasks) are set just before a scrape by the API, which reads them
//! ([`Metrics`]'s `set_*` helpers).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use std::sync::LazyLock;

/// `route`, `method` and `status` of an HTTP request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// The route template (`/{pk}/payments/{id}`), or `unmatched`.
    pub route: String,
    pub method: String,
    pub status: u16,
}

/// `route` and `method` of an HTTP request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
    pub method: String,
}

/// One partition of the store.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartitionLabels {
    pub partition: u16,
}

/// The kind of a stored event (`TransactionAdded`, `OrderCreated`, …).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

/// How something ended: `ok`, or a short failure class.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

/// A PSP operation (`POST /v1/payment_intents/{id}/confirm`) and how it
/// ended (`ok`, `declined`, `network`, …).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PspLabels {
    pub psp: String,
    pub operation: String,
    pub outcome: String,
}

/// A PSP operation.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PspOperationLabels {
    pub psp: String,
    pub operation: String,
}

/// A log consumer and a partition.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConsumerLabels {
    pub consumer: String,
    pub partition: u16,
}

/// A webhook Subscription.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SubscriptionLabels {
    pub subscription: String,
}

/// A Subscription health status (`Healthy`, `TemporaryError`, …).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub status: String,
}

/// The named limit that refused a request (`REQUESTS_IN_FLIGHT_MAX`, …).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabels {
    pub limit: String,
}

/// Why a token request or a bearer token was refused.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Latencies from 100 µs to about 6.5 s, doubling.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.000_1, 2.0, 17))
}

/// Requests per group commit: 1, 2, 4, … 1024.
fn group_sizes() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 11))
}

/// Every metric payledger records.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_request_duration: Histograms<RouteLabels>,
    pub append_groups: Family<PartitionLabels, Counter>,
    pub append_group_requests: Histograms<PartitionLabels>,
    pub append_commit_duration: Histograms<PartitionLabels>,
    pub append_duration: Histograms<PartitionLabels>,
    pub append_queue_depth: Family<PartitionLabels, Gauge>,
    pub events_appended: Family<KindLabels, Counter>,
    pub kafka_relay_lag: Family<PartitionLabels, Gauge>,
    pub kafka_publish_errors: Family<PartitionLabels, Counter>,
    pub kafka_records_published: Family<PartitionLabels, Counter>,
    pub webhook_deliveries: Family<OutcomeLabels, Counter>,
    pub webhook_delivery_lag: Family<SubscriptionLabels, Gauge>,
    pub webhook_subscriptions: Family<StatusLabels, Gauge>,
    pub psp_calls: Family<PspLabels, Counter>,
    pub psp_call_duration: Histograms<PspOperationLabels>,
    pub psp_tasks_due: Gauge,
    pub psp_tasks_overdue: Gauge,
    pub consumer_lag: Family<ConsumerLabels, Gauge>,
    pub tokens_issued: Counter,
    pub tokens_refused: Family<ReasonLabels, Counter>,
    pub admission_admitted: Counter,
    pub admission_refused: Family<LimitLabels, Counter>,
    pub admission_wait: Histogram,
    pub requests_in_flight: Gauge,
    pub requests_queued: Gauge,
    pub admission_pace: Gauge,
    pub admission_slots: Gauge,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("payledger");
        let metrics = Self {
            http_requests: Family::default(),
            http_request_duration: Family::new_with_constructor(latency),
            append_groups: Family::default(),
            append_group_requests: Family::new_with_constructor(group_sizes),
            append_commit_duration: Family::new_with_constructor(latency),
            append_duration: Family::new_with_constructor(latency),
            append_queue_depth: Family::default(),
            events_appended: Family::default(),
            kafka_relay_lag: Family::default(),
            kafka_publish_errors: Family::default(),
            kafka_records_published: Family::default(),
            webhook_deliveries: Family::default(),
            webhook_delivery_lag: Family::default(),
            webhook_subscriptions: Family::default(),
            psp_calls: Family::default(),
            psp_call_duration: Family::new_with_constructor(latency),
            psp_tasks_due: Gauge::default(),
            psp_tasks_overdue: Gauge::default(),
            consumer_lag: Family::default(),
            tokens_issued: Counter::default(),
            tokens_refused: Family::default(),
            admission_admitted: Counter::default(),
            admission_refused: Family::default(),
            admission_wait: latency(),
            requests_in_flight: Gauge::default(),
            requests_queued: Gauge::default(),
            admission_pace: Gauge::default(),
            admission_slots: Gauge::default(),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            metrics.http_requests.clone(),
        );
        r.register_with_unit(
            "http_request_duration",
            "Time from a request's arrival to its answer, by route template and method",
            Unit::Seconds,
            metrics.http_request_duration.clone(),
        );
        r.register(
            "append_groups",
            "Group commits written to the store, by partition",
            metrics.append_groups.clone(),
        );
        r.register_with_unit(
            "append_group",
            "Append requests committed together in one synced write, by partition",
            Unit::Other("requests".into()),
            metrics.append_group_requests.clone(),
        );
        r.register_with_unit(
            "append_commit_duration",
            "Time to write one group commit, fsync included, by partition",
            Unit::Seconds,
            metrics.append_commit_duration.clone(),
        );
        r.register_with_unit(
            "append_duration",
            "Time from an append's hand-over to the writer until it is durable (its wait for \
             the writer, its group's write and fsync), by partition",
            Unit::Seconds,
            metrics.append_duration.clone(),
        );
        r.register_with_unit(
            "append_queue_depth",
            "Append requests of a partition waiting for the writer",
            Unit::Other("requests".into()),
            metrics.append_queue_depth.clone(),
        );
        r.register(
            "events_appended",
            "Events made durable, by event kind",
            metrics.events_appended.clone(),
        );
        r.register_with_unit(
            "kafka_relay_lag",
            "Events of a partition's log the Kafka relay has not published yet",
            Unit::Other("events".into()),
            metrics.kafka_relay_lag.clone(),
        );
        r.register(
            "kafka_publish_errors",
            "Kafka relay batches that failed and will be sent again, by partition",
            metrics.kafka_publish_errors.clone(),
        );
        r.register(
            "kafka_records_published",
            "Kafka records acknowledged by the brokers, by store partition",
            metrics.kafka_records_published.clone(),
        );
        r.register(
            "webhook_deliveries",
            "Webhook delivery attempts, by outcome",
            metrics.webhook_deliveries.clone(),
        );
        r.register_with_unit(
            "webhook_delivery_lag",
            "Events a Subscription has not delivered yet (all partitions)",
            Unit::Other("events".into()),
            metrics.webhook_delivery_lag.clone(),
        );
        r.register(
            "webhook_subscriptions",
            "Webhook Subscriptions, by health status",
            metrics.webhook_subscriptions.clone(),
        );
        r.register(
            "psp_calls",
            "Calls to a PSP, by operation and outcome",
            metrics.psp_calls.clone(),
        );
        r.register_with_unit(
            "psp_call_duration",
            "Time of one call to a PSP, by operation",
            Unit::Seconds,
            metrics.psp_call_duration.clone(),
        );
        r.register(
            "psp_tasks_due",
            "PSP tasks (status refreshes, expiries) whose time has come",
            metrics.psp_tasks_due.clone(),
        );
        r.register(
            "psp_tasks_overdue",
            "PSP tasks due for more than a minute",
            metrics.psp_tasks_overdue.clone(),
        );
        r.register_with_unit(
            "consumer_lag",
            "Events of a partition's log a consumer has not handled yet",
            Unit::Other("events".into()),
            metrics.consumer_lag.clone(),
        );
        r.register(
            "tokens_issued",
            "Access tokens issued",
            metrics.tokens_issued.clone(),
        );
        r.register(
            "tokens_refused",
            "Token requests and bearer tokens refused, by reason",
            metrics.tokens_refused.clone(),
        );
        r.register(
            "admission_admitted",
            "HTTP requests admitted by the admission gate",
            metrics.admission_admitted.clone(),
        );
        r.register(
            "admission_refused",
            "Requests and appends refused before they changed anything, by the named limit that refused them",
            metrics.admission_refused.clone(),
        );
        r.register_with_unit(
            "admission_wait",
            "Time an admitted HTTP request waited for a free slot",
            Unit::Seconds,
            metrics.admission_wait.clone(),
        );
        r.register_with_unit(
            "http_in_flight",
            "HTTP requests holding an admission slot now",
            Unit::Other("requests".into()),
            metrics.requests_in_flight.clone(),
        );
        r.register_with_unit(
            "http_queued",
            "HTTP requests waiting for an admission slot now",
            Unit::Other("requests".into()),
            metrics.requests_queued.clone(),
        );
        r.register_with_unit(
            "admission_pace",
            "Requests per second admitted at most while the CPU is over cpu_percent_max (0: not paced)",
            Unit::Other("requests_per_second".into()),
            metrics.admission_pace.clone(),
        );
        r.register_with_unit(
            "admission_slots",
            "Admission slots now: requests_in_flight_max, or fewer while the latency adaptation cut them",
            Unit::Other("requests".into()),
            metrics.admission_slots.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// Most label sets of the HTTP metrics whose handles one thread keeps.
pub const HTTP_HANDLES_PER_THREAD_MAX: usize = 32;

/// The handles of one label set of the HTTP metrics.
struct HttpHandles {
    route: Box<str>,
    method: Box<str>,
    status: u16,
    requests: Counter,
    duration: Histogram,
}

thread_local! {
    /// The HTTP metrics' handles this thread used last, oldest first.
    static HTTP_HANDLES: std::cell::RefCell<Vec<HttpHandles>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

/// The Prometheus text exposition of every metric.
pub fn render() -> String {
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &METRICS.registry)
        .expect("writing to a String cannot fail");
    out
}

/// The `Content-Type` of [`render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

impl Metrics {
    /// Counts one HTTP answer and its latency. The process's metrics keep
    /// the handles of the label sets each thread answered last
    /// ([`HTTP_HANDLES_PER_THREAD_MAX`]), so a request costs a short scan
    /// instead of two label allocations and two hashed lookups.
    pub fn http_answered(&self, route: &str, method: &str, status: u16, seconds: f64) {
        if !std::ptr::eq(self, &*METRICS) {
            let (requests, duration) = self.http_handles(route, method, status);
            requests.inc();
            duration.observe(seconds);
            return;
        }
        HTTP_HANDLES.with_borrow_mut(|handles| {
            let found = handles
                .iter()
                .position(|h| h.status == status && *h.route == *route && *h.method == *method);
            let at = found.unwrap_or_else(|| {
                if handles.len() >= HTTP_HANDLES_PER_THREAD_MAX {
                    handles.remove(0);
                }
                let (requests, duration) = self.http_handles(route, method, status);
                handles.push(HttpHandles {
                    route: route.into(),
                    method: method.into(),
                    status,
                    requests,
                    duration,
                });
                handles.len() - 1
            });
            handles[at].requests.inc();
            handles[at].duration.observe(seconds);
        });
    }

    /// The counter and histogram of one label set (shared with the
    /// families: they count into the same series).
    fn http_handles(&self, route: &str, method: &str, status: u16) -> (Counter, Histogram) {
        let requests = self
            .http_requests
            .get_or_create(&HttpLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
            })
            .clone();
        let duration = self
            .http_request_duration
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
                method: method.to_owned(),
            })
            .clone();
        (requests, duration)
    }

    /// Counts one call to a PSP and its latency.
    pub fn psp_called(&self, psp: &str, operation: &str, outcome: &str, seconds: f64) {
        self.psp_calls
            .get_or_create(&PspLabels {
                psp: psp.to_owned(),
                operation: operation.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
        self.psp_call_duration
            .get_or_create(&PspOperationLabels {
                psp: psp.to_owned(),
                operation: operation.to_owned(),
            })
            .observe(seconds);
    }

    /// Counts a refused token request or bearer token.
    pub fn token_refused(&self, reason: &str) {
        self.tokens_refused
            .get_or_create(&ReasonLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Counts work refused by the named `limit`.
    pub fn refused(&self, limit: &str) {
        self.admission_refused
            .get_or_create(&LimitLabels {
                limit: limit.to_owned(),
            })
            .inc();
    }

    /// Records an append of `partition` made durable `seconds` after it
    /// was handed to the writer.
    pub fn append_durable(&self, partition: u16, seconds: f64) {
        self.append_duration
            .get_or_create(&PartitionLabels { partition })
            .observe(seconds);
    }

    /// Sets a partition gauge of a family.
    pub fn set_partition(family: &Family<PartitionLabels, Gauge>, partition: u16, value: u64) {
        family
            .get_or_create(&PartitionLabels { partition })
            .set(i64::try_from(value).unwrap_or(i64::MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The count of one label set of `payledger_http_requests_total`.
    fn http_count(route: &str, method: &str, status: u16) -> Option<u64> {
        let series = format!(
            "payledger_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} "
        );
        render()
            .lines()
            .find_map(|line| line.strip_prefix(&series)?.parse().ok())
    }

    #[test]
    fn every_answer_counts_whichever_thread_and_however_many_label_sets_it_answered() {
        let sets = HTTP_HANDLES_PER_THREAD_MAX + 8;
        let threads: Vec<_> = (0..2)
            .map(|_| {
                std::thread::spawn(move || {
                    for round in 0..3 {
                        for n in 0..sets {
                            metrics().http_answered(&format!("/cached/{n}"), "GET", 200, 0.001);
                        }
                        metrics().http_answered("/cached/one", "POST", 201 + round, 0.001);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("thread");
        }
        for n in 0..sets {
            assert_eq!(
                http_count(&format!("/cached/{n}"), "GET", 200),
                Some(6),
                "{n}"
            );
        }
        for status in 201..204 {
            assert_eq!(
                http_count("/cached/one", "POST", status),
                Some(2),
                "{status}"
            );
        }
        assert_eq!(http_count("/cached/one", "GET", 201), None);
    }

    #[test]
    fn recorded_values_show_in_the_exposition_under_conventional_names() {
        let m = metrics();
        m.http_answered("/{pk}/payments/{id}", "GET", 200, 0.002);
        m.tokens_issued.inc();
        m.token_refused("bad_secret");
        m.refused("REQUESTS_IN_FLIGHT_MAX");
        m.admission_admitted.inc();
        m.requests_in_flight.set(3);
        Metrics::set_partition(&m.append_queue_depth, 3, 7);
        m.append_durable(3, 0.003);
        m.events_appended
            .get_or_create(&KindLabels {
                kind: "TransactionAdded".into(),
            })
            .inc();
        let text = render();
        for expected in [
            "payledger_http_requests_total{route=\"/{pk}/payments/{id}\",method=\"GET\",status=\"200\"} 1",
            "payledger_http_request_duration_seconds_bucket{le=\"0.0032\",route=\"/{pk}/payments/{id}\",method=\"GET\"} 1",
            "payledger_tokens_issued_total 1",
            "payledger_tokens_refused_total{reason=\"bad_secret\"} 1",
            "payledger_admission_refused_total{limit=\"REQUESTS_IN_FLIGHT_MAX\"} 1",
            "payledger_admission_admitted_total 1",
            "payledger_http_in_flight_requests 3",
            "payledger_append_queue_depth_requests{partition=\"3\"} 7",
            "payledger_append_duration_seconds_bucket{le=\"0.0032\",partition=\"3\"} 1",
            "payledger_events_appended_total{kind=\"TransactionAdded\"} 1",
            "# TYPE payledger_http_request_duration_seconds histogram",
            "# UNIT payledger_http_request_duration_seconds seconds",
        ] {
            assert!(text.contains(expected), "missing {expected} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
