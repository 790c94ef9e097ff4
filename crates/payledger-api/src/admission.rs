//! Admission control: how much work the HTTP API takes on at once, and
//! the early, cheap refusal of the rest.
//!
//! Every gated request (every route but `/health`, `/ready`, `/metrics`,
//! `/openapi.json`, the payment page and the signed tokenization API)
//! holds one of `requests_in_flight_max` slots while it runs. When every
//! slot is taken it waits, first come first served, in a queue of at most
//! `requests_queued_max` requests and for at most `queue_wait_ms_max`
//! from its arrival. A request that finds the queue full, or whose wait
//! passes the budget, is refused with `503 Overloaded` and `Retry-After`
//! in the commercetools error body, naming the limit. The refusal comes
//! before the request's body is parsed, its token checked or anything is
//! read or written, so a refused request changed nothing and may be sent
//! again as it was (with the same `Idempotency-Key`).
//!
//! Why a queue and a budget, not slots alone: arrivals come in bursts, and
//! a short queue absorbs a burst the slots will serve within the budget;
//! what would wait longer is refused, so the latency of what is admitted
//! stays bounded by the budget plus the time `requests_in_flight_max`
//! requests take, however much more arrives.
//!
//! With `client_requests_per_s_max` set (off by default), each API client
//! also has a token bucket of that rate and `client_burst_requests_max`
//! requests: past it, [`crate::auth::authorize`] answers `429
//! TooManyRequests` with `Retry-After` before the route does anything.
//!
//! `requests_in_flight_max = 0` turns the gate off (nothing is counted or
//! refused), for comparison in the overload benchmark.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Duration, Instant};

/// Default of `requests_in_flight_max`, in requests.
pub const REQUESTS_IN_FLIGHT_MAX_DEFAULT: usize = 64;
/// Default of `requests_queued_max`, in requests.
pub const REQUESTS_QUEUED_MAX_DEFAULT: usize = 64;
/// Default of `queue_wait_ms_max`, in milliseconds.
pub const QUEUE_WAIT_MS_MAX_DEFAULT: u64 = 10;
/// `Retry-After` of a refusal by the server's own limits, in seconds.
pub const OVERLOADED_RETRY_AFTER_S: u64 = 1;
/// Most API clients whose rate buckets are kept; past it the fullest
/// buckets (clients that sent nothing for the longest) are forgotten.
pub const CLIENT_BUCKETS_MAX: usize = 10_000;

/// The limits of the gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdmissionConfig {
    /// Requests running at once; 0 turns admission control off.
    pub requests_in_flight_max: usize,
    /// Requests waiting for a slot at once (0: no waiting).
    pub requests_queued_max: usize,
    /// Longest a request may wait for a slot, from its arrival.
    pub queue_wait_ms_max: u64,
    /// Requests per second each API client may send; 0 is no limit.
    pub client_requests_per_s_max: u32,
    /// Requests a client may send at once (its bucket); 0: one second of
    /// its rate.
    pub client_burst_requests_max: u32,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        Self {
            requests_in_flight_max: REQUESTS_IN_FLIGHT_MAX_DEFAULT,
            requests_queued_max: REQUESTS_QUEUED_MAX_DEFAULT,
            queue_wait_ms_max: QUEUE_WAIT_MS_MAX_DEFAULT,
            client_requests_per_s_max: 0,
            client_burst_requests_max: 0,
        }
    }
}

/// Largest accepted `requests_in_flight_max` and `requests_queued_max`,
/// in requests.
pub const ADMISSION_REQUESTS_LIMIT_MAX: usize = 1_000_000;
/// Largest accepted `queue_wait_ms_max`, in milliseconds.
pub const QUEUE_WAIT_MS_LIMIT_MAX: u64 = 60_000;

impl AdmissionConfig {
    /// Checks the values; the error names the setting and its bound.
    pub fn check(&self) -> Result<(), String> {
        for (name, value) in [
            ("requests_in_flight_max", self.requests_in_flight_max),
            ("requests_queued_max", self.requests_queued_max),
        ] {
            if value > ADMISSION_REQUESTS_LIMIT_MAX {
                return Err(format!(
                    "{name} = {value} is above {ADMISSION_REQUESTS_LIMIT_MAX} \
                     (ADMISSION_REQUESTS_LIMIT_MAX); 0 turns admission control off"
                ));
            }
        }
        if self.queue_wait_ms_max > QUEUE_WAIT_MS_LIMIT_MAX {
            return Err(format!(
                "queue_wait_ms_max = {} is above {QUEUE_WAIT_MS_LIMIT_MAX} ms (QUEUE_WAIT_MS_LIMIT_MAX)",
                self.queue_wait_ms_max
            ));
        }
        Ok(())
    }

    /// The bucket size of a client: `client_burst_requests_max`, or one
    /// second of its rate when that is 0.
    fn burst(&self) -> f64 {
        match self.client_burst_requests_max {
            0 => f64::from(self.client_requests_per_s_max.max(1)),
            burst => f64::from(burst),
        }
    }
}

/// The limit that refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    RequestsInFlight,
    RequestsQueued,
    QueueWait,
    ClientRate,
}

impl Limit {
    /// The limit's name, as the error body and the metrics give it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::RequestsInFlight => "REQUESTS_IN_FLIGHT_MAX",
            Self::RequestsQueued => "REQUESTS_QUEUED_MAX",
            Self::QueueWait => "QUEUE_WAIT_MS_MAX",
            Self::ClientRate => "CLIENT_REQUESTS_PER_S_MAX",
        }
    }
}

/// A request refused by a limit, before it did anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused {
    pub limit: Limit,
    /// The limit's configured value, in its unit.
    pub value: u64,
    /// When to try again, in whole seconds.
    pub retry_after_s: u64,
}

/// A slot held by an admitted request; freed when dropped.
#[derive(Debug)]
pub struct Admitted {
    slot: Option<OwnedSemaphorePermit>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if self.slot.is_some() {
            payledger_metrics::metrics().requests_in_flight.dec();
        }
    }
}

/// A place in the queue, counted (and shown in the metrics) while held.
struct QueueSpot<'a>(&'a AtomicUsize);

impl<'a> QueueSpot<'a> {
    /// Counts the place `queued` already reserved for it.
    fn take(queued: &'a AtomicUsize) -> Self {
        payledger_metrics::metrics().requests_queued.inc();
        Self(queued)
    }
}

impl Drop for QueueSpot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
        payledger_metrics::metrics().requests_queued.dec();
    }
}

/// The gate every gated request passes (one per server).
#[derive(Debug)]
pub struct Gate {
    config: AdmissionConfig,
    slots: Arc<Semaphore>,
    queued: AtomicUsize,
    clients: Mutex<HashMap<String, Bucket>>,
}

impl Gate {
    pub fn new(config: AdmissionConfig) -> Self {
        Self {
            config,
            slots: Arc::new(Semaphore::new(
                config
                    .requests_in_flight_max
                    .min(ADMISSION_REQUESTS_LIMIT_MAX),
            )),
            queued: AtomicUsize::new(0),
            clients: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &AdmissionConfig {
        &self.config
    }

    /// Requests waiting for a slot now.
    pub fn queued_now(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Admits a request that arrived at `arrived`, waiting for a slot as
    /// the limits allow, or refuses it.
    pub async fn admit(&self, arrived: Instant) -> Result<Admitted, Refused> {
        if self.config.requests_in_flight_max == 0 {
            return Ok(Admitted { slot: None });
        }
        let m = payledger_metrics::metrics();
        let slot = match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => self.wait(arrived).await?,
        };
        m.requests_in_flight.inc();
        m.admission_admitted.inc();
        m.admission_wait.observe(arrived.elapsed().as_secs_f64());
        Ok(Admitted { slot: Some(slot) })
    }

    /// Waits in the queue for a slot, within its bound and the budget.
    async fn wait(&self, arrived: Instant) -> Result<OwnedSemaphorePermit, Refused> {
        let queued_max = self.config.requests_queued_max;
        if queued_max == 0 {
            return Err(self.overloaded(Limit::RequestsInFlight));
        }
        let taken = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < queued_max).then_some(n + 1)
            });
        if taken.is_err() {
            return Err(self.overloaded(Limit::RequestsQueued));
        }
        // Left when the wait ends, also when the client goes away meanwhile
        // (the future is dropped).
        let spot = QueueSpot::take(&self.queued);
        let budget = Duration::from_millis(self.config.queue_wait_ms_max);
        let waited =
            tokio::time::timeout_at(arrived + budget, Arc::clone(&self.slots).acquire_owned())
                .await;
        drop(spot);
        match waited {
            // Its work has not started: past the budget it is refused.
            Ok(Ok(slot)) if arrived.elapsed() <= budget => Ok(slot),
            _ => Err(self.overloaded(Limit::QueueWait)),
        }
    }

    fn overloaded(&self, limit: Limit) -> Refused {
        let value = match limit {
            Limit::RequestsInFlight => self.config.requests_in_flight_max as u64,
            Limit::RequestsQueued => self.config.requests_queued_max as u64,
            Limit::QueueWait => self.config.queue_wait_ms_max,
            Limit::ClientRate => u64::from(self.config.client_requests_per_s_max),
        };
        payledger_metrics::metrics().refused(limit.name());
        Refused {
            limit,
            value,
            retry_after_s: OVERLOADED_RETRY_AFTER_S,
        }
    }

    /// Takes one request from `client`'s bucket at `now`, or refuses it
    /// when the bucket is empty (never with the per-client limit off).
    pub fn take_client(&self, client: &str, now: Instant) -> Result<(), Refused> {
        let rate = self.config.client_requests_per_s_max;
        if rate == 0 {
            return Ok(());
        }
        let burst = self.config.burst();
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !clients.contains_key(client) && clients.len() >= CLIENT_BUCKETS_MAX {
            forget_fullest(&mut clients, now, f64::from(rate), burst);
        }
        let bucket = clients.entry(client.to_owned()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        bucket.refill(now, f64::from(rate), burst);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        // Whole seconds until one request's worth has come back, at least 1.
        let wait_s = ((1.0 - bucket.tokens) / f64::from(rate)).ceil().max(1.0);
        payledger_metrics::metrics().refused(Limit::ClientRate.name());
        Err(Refused {
            limit: Limit::ClientRate,
            value: u64::from(rate),
            retry_after_s: wait_s as u64,
        })
    }
}

/// One client's token bucket.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn refill(&mut self, now: Instant, rate: f64, burst: f64) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.at = now;
    }
}

/// Drops the buckets that are full by `now` (their clients would start
/// afresh anyway); if none is, the one idle longest.
fn forget_fullest(clients: &mut HashMap<String, Bucket>, now: Instant, rate: f64, burst: f64) {
    clients.retain(|_, bucket| {
        let mut later = *bucket;
        later.refill(now, rate, burst);
        later.tokens < burst
    });
    if clients.len() >= CLIENT_BUCKETS_MAX
        && let Some(oldest) = clients
            .iter()
            .min_by_key(|(_, bucket)| bucket.at)
            .map(|(id, _)| id.clone())
    {
        clients.remove(&oldest);
    }
}

/// The middleware of gated routes: admits the request or answers the
/// refusal at once.
pub async fn gate(State(gate): State<Arc<Gate>>, request: Request, next: Next) -> Response {
    let arrived = Instant::now();
    match gate.admit(arrived).await {
        Ok(admitted) => {
            let response = next.run(request).await;
            drop(admitted);
            response
        }
        Err(refused) => refuse(request, refused).await,
    }
}

/// Most bytes of a refused request's body read (and dropped) before the
/// refusal is answered, so the connection stays usable; past it the
/// connection is closed.
pub const REFUSED_BODY_DRAIN_BYTES_MAX: usize = 64 << 10;

/// Answers a refusal, after reading what the client already sent of a
/// small body: hyper reuses a keep-alive connection only once the request
/// was read whole, and a new connection would cost the client and the
/// server more than the refusal itself.
async fn refuse(request: Request, refused: Refused) -> Response {
    use http_body_util::BodyExt;
    let mut body = request.into_body();
    let mut seen = 0usize;
    while seen <= REFUSED_BODY_DRAIN_BYTES_MAX {
        match body.frame().await {
            Some(Ok(frame)) => seen += frame.data_ref().map_or(0, |d| d.len()),
            _ => break,
        }
    }
    crate::ApiError::from(refused).into_response()
}

#[cfg(test)]
mod tests;
