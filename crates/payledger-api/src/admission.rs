//! Admission control: how much work the HTTP API takes on at once, and
//! the early, cheap refusal of the rest.
//!
//! Every gated request (every path but `/health`, `/ready`, `/metrics`,
//! `/openapi.json`, the payment page and the signed tokenization API, see
//! [`gated`]) holds one of `requests_in_flight_max` slots while it runs. When every
//! slot is taken it waits, first come first served, in a queue of at most
//! `requests_queued_max` requests and for at most `queue_wait_ms_max`
//! from its arrival. A request that finds the queue full, or whose wait
//! passes the budget, is refused with `503 Overloaded` and `Retry-After`
//! in the commercetools error body, naming the limit. The gate is the
//! router's outermost layer ([`ShedLayer`]): the refusal comes before routing,
//! the request's span and metrics, its body parsed, its token checked or
//! anything read or written, so it costs the server little more than
//! reading the request and writing the answer, a refused request changed
//! nothing, and it may be sent again as it was (with the same
//! `Idempotency-Key`). Refusals are counted in
//! `payledger_admission_refused_total`, not in the per-route HTTP metrics.
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
//! Slots bound concurrency, not CPU: a refusal costs CPU too (reading the
//! request, writing the answer), and under a flood of arrivals the
//! refusals and the admitted work together can take every CPU the process
//! has; then every request, refused or admitted, first waits in the
//! kernel for the server to read it, where no slot or budget sees it.
//! With `cpu_percent_max` set (off by default), [`adapt_to_load`] samples the
//! process's CPU time every [`SAMPLE_INTERVAL`]. When the process used
//! more than that share of its CPUs while requests found every slot taken
//! (more arrived than the slots let run), the gate paces admissions: at most
//! [`PACE_CUT`] of the rate it admitted in that sample, refusing the rest
//! at once with `limit` `CPU_PERCENT_MAX`. While the CPU use stays more
//! than [`CPU_PERCENT_HYSTERESIS`] points below, the pace grows by
//! [`PACE_GROWTH`] per sample, and is lifted once it is twice what is
//! admitted. The slots stay as they are, so admitted requests still commit
//! together; what shrinks is the work admitted, to what the CPU left over
//! by the refusals can carry, and the server keeps the headroom that
//! lets it read every request promptly.
//!
//! With `latency_target_ms` set (5 ms by default; 0 turns it off), the same
//! task also adapts the slots to the mean time admitted requests took since
//! the last sample (from their admission to their answer). Above the
//! target, while at least [`SLOT_CUT_REFUSED_SHARE_MIN`] of the sample's
//! requests were refused by the slots, the queue or the budget (a flood,
//! not merely slow work), it cuts them in proportion to the overshoot, by
//! an eighth to a half, down to [`REQUESTS_IN_FLIGHT_MIN`]; otherwise it
//! gives a quarter back, up to `requests_in_flight_max`. The target is at
//! least [`LATENCY_TARGET_UNLOADED_MULTIPLE`] times the least mean of a
//! sample without a flood, in which some slot stayed free (a sample of
//! slow requests holding every slot would teach their time), so that on a disk or machine slower than the
//! configured target assumed a flood does not starve the server to the
//! fewest slots. The queue shrinks and grows with the slots, so that what
//! waits is not longer either. Slots cut while held are retired when their
//! request ends. Why these rules (BENCHMARKS.md "Overload"): a target on
//! the time from arrival counted the queue's wait, which fewer slots
//! lengthen, so the slots kept falling; cuts without the refused share
//! refused 8–20 % at the sustainable rate, and after a flood the slots
//! stayed low with 40 % of that rate refused; an eighth per 200 ms took
//! seconds to meet a flood.
//!
//! `requests_in_flight_max = 0` turns the gate off (nothing is counted or
//! refused), for comparison in the overload benchmark.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Duration, Instant};

/// Default of `requests_in_flight_max`, in requests.
pub const REQUESTS_IN_FLIGHT_MAX_DEFAULT: usize = 64;
/// Default of `requests_queued_max`, in requests.
pub const REQUESTS_QUEUED_MAX_DEFAULT: usize = 64;
/// Default of `queue_wait_ms_max`, in milliseconds. Measured on two
/// cores (BENCHMARKS.md "Overload", seventh session), against 10 ms: at
/// five times the sustainable update rate the admitted p50 falls from
/// 9–10 ms (what first come first served admits has waited almost the
/// whole budget) to 6.5–6.8 ms and the p99 from 31–48 ms to 17–32 ms,
/// while at the sustainable rate it refuses nothing more.
pub const QUEUE_WAIT_MS_MAX_DEFAULT: u64 = 2;
/// Default of `cpu_percent_max`, in percent of the process's CPUs: off.
/// Measured on two cores (BENCHMARKS.md "Overload"), pacing at 90 %
/// halves the admitted p99 at 1× the sustainable rate but refuses a
/// quarter to a third of it, and at 5× halves the admitted throughput
/// without shortening the tail: the refusals keep the CPU over the share,
/// so the pace keeps falling. It stays an operator's choice.
pub const CPU_PERCENT_MAX_DEFAULT: u32 = 0;
/// Default of `latency_target_ms`, in milliseconds. Measured on two
/// cores (BENCHMARKS.md "Overload"), at five times the sustainable update
/// rate it keeps the admitted p99 near 18–22 ms against 105–145 ms with
/// fixed slots and answers refusals within 5–8 ms against 30–80, while at
/// the sustainable rate it refuses nothing more than fixed slots do.
pub const LATENCY_TARGET_MS_DEFAULT: u64 = 5;
/// Fewest slots the latency adaptation leaves (or `requests_in_flight_max`
/// when that is smaller).
pub const REQUESTS_IN_FLIGHT_MIN: usize = 4;
/// Share of a sample's requests (refused by the slots, the queue or the
/// budget, against those admitted and answered) from which the latency
/// adaptation may cut the slots; under it they grow back. At the
/// sustainable rate the fixed slots refuse 0–4 % (BENCHMARKS.md
/// "Overload"): a slower answer there comes from the work itself, and
/// fewer slots would only refuse more and batch less.
pub const SLOT_CUT_REFUSED_SHARE_MIN: f64 = 0.5;
/// Least and most of the slots one cut of the latency adaptation keeps:
/// it keeps `target / mean`, within these bounds.
pub const SLOT_CUT_KEPT_MIN: f64 = 0.5;
pub const SLOT_CUT_KEPT_MAX: f64 = 0.875;
/// The latency adaptation's target is at least this many times the least
/// mean time of a sample without a flood in which some slot stayed free
/// ([`Gate::latency_target_now_ms`]).
pub const LATENCY_TARGET_UNLOADED_MULTIPLE: f64 = 4.0;
/// Fewest answered requests of a sample whose mean may count as the
/// unloaded time.
pub const UNLOADED_SAMPLE_REQUESTS_MIN: u64 = 8;
/// How far below `cpu_percent_max` the CPU use must fall, in percentage
/// points, before the pace grows.
pub const CPU_PERCENT_HYSTERESIS: u32 = 10;
/// How often [`adapt_to_load`] samples the process's CPU time and the
/// admitted requests' time in the server.
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(25);
/// The pace set when the CPU is over its share, as a part of the rate
/// admitted in the sample.
pub const PACE_CUT: f64 = 0.9;
/// Growth of the pace per sample while the CPU has headroom.
pub const PACE_GROWTH: f64 = 1.1;
/// Slowest pace, in requests per second.
pub const PACE_REQUESTS_PER_S_MIN: f64 = 10.0;
/// Requests the pace lets through at once, in seconds of its rate.
pub const PACE_BURST_S: f64 = 0.05;
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
    /// Share of the process's CPUs, in percent, above which admissions
    /// are paced (see the module); 0: never paced.
    pub cpu_percent_max: u32,
    /// Mean time an admitted request may take, from its admission to its
    /// answer, before a flood cuts the slots (see the module; at least
    /// [`LATENCY_TARGET_UNLOADED_MULTIPLE`] times the unloaded time); 0
    /// keeps `requests_in_flight_max` fixed.
    pub latency_target_ms: u64,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        Self {
            requests_in_flight_max: REQUESTS_IN_FLIGHT_MAX_DEFAULT,
            requests_queued_max: REQUESTS_QUEUED_MAX_DEFAULT,
            queue_wait_ms_max: QUEUE_WAIT_MS_MAX_DEFAULT,
            client_requests_per_s_max: 0,
            client_burst_requests_max: 0,
            cpu_percent_max: CPU_PERCENT_MAX_DEFAULT,
            latency_target_ms: LATENCY_TARGET_MS_DEFAULT,
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
        if self.cpu_percent_max > 100 {
            return Err(format!(
                "cpu_percent_max = {} is above 100 (percent of the process's CPUs); \
                 0 keeps the slots fixed",
                self.cpu_percent_max
            ));
        }
        if self.latency_target_ms > QUEUE_WAIT_MS_LIMIT_MAX {
            return Err(format!(
                "latency_target_ms = {} is above {QUEUE_WAIT_MS_LIMIT_MAX} ms; 0 keeps the slots fixed",
                self.latency_target_ms
            ));
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
    CpuPercent,
}

impl Limit {
    /// How many limits there are.
    pub const COUNT: usize = 5;

    /// The limit's place among [`Limit::COUNT`].
    pub const fn index(self) -> usize {
        match self {
            Self::RequestsInFlight => 0,
            Self::RequestsQueued => 1,
            Self::QueueWait => 2,
            Self::ClientRate => 3,
            Self::CpuPercent => 4,
        }
    }

    /// The limit's name, as the error body and the metrics give it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::RequestsInFlight => "REQUESTS_IN_FLIGHT_MAX",
            Self::RequestsQueued => "REQUESTS_QUEUED_MAX",
            Self::QueueWait => "QUEUE_WAIT_MS_MAX",
            Self::ClientRate => "CLIENT_REQUESTS_PER_S_MAX",
            Self::CpuPercent => "CPU_PERCENT_MAX",
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

/// A slot held by an admitted request; freed when dropped (or retired,
/// when the latency adaptation cut the slots while it ran).
#[derive(Debug)]
pub struct Admitted {
    slot: Option<(OwnedSemaphorePermit, Arc<AtomicUsize>)>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Some((slot, owed)) = self.slot.take() {
            payledger_metrics::metrics().requests_in_flight.dec();
            if owed
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
                .is_ok()
            {
                slot.forget();
            }
        }
    }
}

/// A place in the queue, counted (and shown in the metrics) while held.
#[derive(Debug)]
pub struct QueueSpot(Arc<AtomicUsize>);

impl QueueSpot {
    /// Counts the place `queued` already reserved for it.
    fn take(queued: &Arc<AtomicUsize>) -> Self {
        payledger_metrics::metrics().requests_queued.inc();
        Self(Arc::clone(queued))
    }
}

/// How a request entered the gate ([`Gate::enter`]).
#[derive(Debug)]
pub enum Entry {
    /// A slot was free: it runs now.
    Admitted(Admitted),
    /// Every slot was taken and it has a place in the queue: it waits
    /// ([`Gate::wait_queued`]).
    Queued(QueueSpot),
}

impl Drop for QueueSpot {
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
    /// Whether admissions are paced now (read by every request; the pace
    /// itself is locked only while it is on).
    paced: AtomicBool,
    pace: Mutex<Pace>,
    /// Requests admitted since the last [`Gate::adapt`].
    admitted: AtomicU64,
    /// Requests since the last [`Gate::adapt`] that found every slot taken
    /// (they waited or were refused) or were refused by the pace: the
    /// arrivals were more than the gate let run at once.
    pressed: AtomicU64,
    queued: Arc<AtomicUsize>,
    clients: Mutex<HashMap<String, Bucket>>,
    /// The slots now (`requests_in_flight_max` unless the latency
    /// adaptation cut them); changed only by [`Gate::adapt_slots`].
    slots_now: AtomicUsize,
    /// Slots cut while they were held: retired when their request ends.
    owed: Arc<AtomicUsize>,
    /// Admitted requests answered, and their time in the server in µs,
    /// since the last [`Gate::adapt_slots`].
    served: AtomicU64,
    served_us: AtomicU64,
    /// Requests the slots, the queue or the budget refused since the last
    /// [`Gate::adapt_slots`].
    refused_by_slots: AtomicU64,
    /// Whether every slot was held at some moment since the last
    /// [`Gate::adapt_slots`]: such a sample does not tell the unloaded time.
    exhausted: AtomicBool,
    /// The least mean time, in µs, of a sample without a flood in which
    /// some slot stayed free (see [`Gate::latency_target_now_ms`]);
    /// `u64::MAX` before one.
    unloaded_us: AtomicU64,
    /// The JSON answer to each limit's refusal, made once
    /// ([`Gate::refusal_body`]).
    refusal_bodies: [OnceLock<(Refused, shed::RefusalAnswer)>; Limit::COUNT],
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
            paced: AtomicBool::new(false),
            pace: Mutex::new(Pace {
                per_s: f64::INFINITY,
                bucket: Bucket {
                    tokens: 0.0,
                    at: Instant::now(),
                },
            }),
            admitted: AtomicU64::new(0),
            pressed: AtomicU64::new(0),
            queued: Arc::new(AtomicUsize::new(0)),
            clients: Mutex::new(HashMap::new()),
            slots_now: AtomicUsize::new(config.requests_in_flight_max),
            owed: Arc::new(AtomicUsize::new(0)),
            served: AtomicU64::new(0),
            served_us: AtomicU64::new(0),
            refused_by_slots: AtomicU64::new(0),
            exhausted: AtomicBool::new(false),
            unloaded_us: AtomicU64::new(u64::MAX),
            refusal_bodies: Default::default(),
        }
    }

    /// Slots now (see [`Gate::adapt_slots`]).
    pub fn slots_now(&self) -> usize {
        self.slots_now.load(Ordering::Acquire)
    }

    pub fn config(&self) -> &AdmissionConfig {
        &self.config
    }

    /// Most requests that may wait for a slot now: `requests_queued_max`,
    /// in proportion to the slots the latency adaptation left (a queue
    /// as long as before in front of fewer slots would be a longer wait).
    fn queued_max_now(&self) -> usize {
        let (queued, max) = (
            self.config.requests_queued_max,
            self.config.requests_in_flight_max,
        );
        let now = self.slots_now();
        if now >= max || max == 0 {
            return queued;
        }
        (queued * now).div_ceil(max)
    }

    /// Requests waiting for a slot now.
    pub fn queued_now(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Admits a request that arrived at `arrived`, waiting for a slot as
    /// the limits allow, or refuses it.
    pub async fn admit(&self, arrived: Instant) -> Result<Admitted, Refused> {
        match self.enter(arrived)? {
            Entry::Admitted(admitted) => Ok(admitted),
            Entry::Queued(spot) => self.wait_queued(spot, arrived).await,
        }
    }

    /// What can be decided about a request that arrived at `arrived`
    /// without waiting: admitted now, refused now, or queued for a slot.
    pub fn enter(&self, arrived: Instant) -> Result<Entry, Refused> {
        if self.config.requests_in_flight_max == 0 {
            return Ok(Entry::Admitted(Admitted { slot: None }));
        }
        self.take_pace(arrived)?;
        match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(slot) => Ok(Entry::Admitted(self.admitted(slot, arrived))),
            Err(_) => self.enqueue().map(Entry::Queued),
        }
    }

    /// Waits in the queue for a slot, within the budget from `arrived`.
    pub async fn wait_queued(
        &self,
        spot: QueueSpot,
        arrived: Instant,
    ) -> Result<Admitted, Refused> {
        let budget = Duration::from_millis(self.config.queue_wait_ms_max);
        // The spot is left when the wait ends, also when the client goes
        // away meanwhile (the future is dropped).
        let waited =
            tokio::time::timeout_at(arrived + budget, Arc::clone(&self.slots).acquire_owned())
                .await;
        drop(spot);
        match waited {
            // Its work has not started: past the budget it is refused.
            Ok(Ok(slot)) if arrived.elapsed() <= budget => Ok(self.admitted(slot, arrived)),
            _ => Err(self.overloaded(Limit::QueueWait)),
        }
    }

    /// Counts a request admitted with `slot`.
    fn admitted(&self, slot: OwnedSemaphorePermit, arrived: Instant) -> Admitted {
        let m = payledger_metrics::metrics();
        if self.config.latency_target_ms > 0 && self.slots.available_permits() == 0 {
            self.exhausted.store(true, Ordering::Relaxed);
        }
        m.requests_in_flight.inc();
        m.admission_admitted.inc();
        m.admission_wait.observe(arrived.elapsed().as_secs_f64());
        if self.config.cpu_percent_max > 0 {
            self.admitted.fetch_add(1, Ordering::Relaxed);
        }
        Admitted {
            slot: Some((slot, Arc::clone(&self.owed))),
        }
    }

    /// A place in the queue, within its bound now.
    fn enqueue(&self) -> Result<QueueSpot, Refused> {
        self.pressed.fetch_add(1, Ordering::Relaxed);
        let queued_max = self.queued_max_now();
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
        Ok(QueueSpot::take(&self.queued))
    }

    fn overloaded(&self, limit: Limit) -> Refused {
        let value = match limit {
            Limit::RequestsInFlight => self.config.requests_in_flight_max as u64,
            Limit::RequestsQueued => self.config.requests_queued_max as u64,
            Limit::QueueWait => self.config.queue_wait_ms_max,
            Limit::ClientRate => u64::from(self.config.client_requests_per_s_max),
            Limit::CpuPercent => u64::from(self.config.cpu_percent_max),
        };
        payledger_metrics::metrics().refused(limit.name());
        if self.config.latency_target_ms > 0
            && matches!(
                limit,
                Limit::RequestsInFlight | Limit::RequestsQueued | Limit::QueueWait
            )
        {
            self.refused_by_slots.fetch_add(1, Ordering::Relaxed);
        }
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

/// One client's token bucket (and the pace's).
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

/// Whether admission control applies to a request for `path`: every path
/// but health, readiness, metrics, the OpenAPI document, the payment page
/// and the signed tokenization API (with or without a project key), which
/// answer while the gate refuses.
pub fn gated(path: &str) -> bool {
    if matches!(path, "/health" | "/ready" | "/metrics" | "/openapi.json")
        || path.starts_with("/pay/")
        || path.starts_with("/tokenization/")
    {
        return false;
    }
    // `/{pk}/tokenization/…`
    let mut segments = path.trim_start_matches('/').splitn(3, '/');
    !(segments.next().is_some() && segments.next() == Some("tokenization"))
}

mod adapt;
mod shed;
use adapt::Pace;
pub use adapt::adapt_to_load;
pub use shed::{REFUSED_BODY_DRAIN_BYTES_MAX, Shed, ShedLayer};

#[cfg(test)]
mod tests;
