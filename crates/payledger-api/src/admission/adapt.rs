//! The gate's adaptations to the load (see the parent module): the
//! latency target's slots and the CPU share's pace, and the task that
//! samples both every [`SAMPLE_INTERVAL`].

use super::{
    Bucket, CPU_PERCENT_HYSTERESIS, Gate, LATENCY_TARGET_UNLOADED_MULTIPLE, Limit, PACE_BURST_S,
    PACE_CUT, PACE_GROWTH, PACE_REQUESTS_PER_S_MIN, REQUESTS_IN_FLIGHT_MIN, Refused,
    SAMPLE_INTERVAL, SLOT_CUT_KEPT_MAX, SLOT_CUT_KEPT_MIN, SLOT_CUT_REFUSED_SHARE_MIN,
    UNLOADED_SAMPLE_REQUESTS_MIN,
};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::time::{Duration, Instant};

impl Gate {
    /// Counts an admitted request answered `took` after its admission
    /// (for the latency adaptation; nothing without a target).
    pub fn served(&self, took: Duration) {
        if self.config.latency_target_ms == 0 {
            return;
        }
        self.served.fetch_add(1, Ordering::Relaxed);
        self.served_us.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// One step of the latency adaptation: when the admitted requests
    /// answered since the last step took more than `latency_target_ms` on
    /// average while at least [`SLOT_CUT_REFUSED_SHARE_MIN`] of the
    /// requests were refused, keeps `target / mean` of the slots, within
    /// [`SLOT_CUT_KEPT_MIN`] and [`SLOT_CUT_KEPT_MAX`] (at least one fewer;
    /// not under [`REQUESTS_IN_FLIGHT_MIN`]); otherwise gives back a
    /// quarter (at least one), up to `requests_in_flight_max`. A step with
    /// no answered request changes nothing. Call it from one task only.
    pub fn adapt_slots(&self) {
        let (max, target_ms) = (
            self.config.requests_in_flight_max,
            self.config.latency_target_ms,
        );
        let served = self.served.swap(0, Ordering::AcqRel);
        let served_us = self.served_us.swap(0, Ordering::AcqRel);
        let refused = self.refused_by_slots.swap(0, Ordering::AcqRel);
        let exhausted = self.exhausted.swap(false, Ordering::AcqRel);
        if max == 0 || target_ms == 0 {
            return;
        }
        if served > 0 {
            self.adapt_slots_to(max, served, served_us, refused, exhausted);
        }
        // The next sample starts with every slot held if they are now
        // (held, or cut just now).
        if self.slots.available_permits() == 0 {
            self.exhausted.store(true, Ordering::Release);
        }
    }

    fn adapt_slots_to(
        &self,
        max: usize,
        served: u64,
        served_us: u64,
        refused: u64,
        exhausted: bool,
    ) {
        let mean_us = served_us / served;
        let pressed = refused as f64 >= SLOT_CUT_REFUSED_SHARE_MIN * (refused + served) as f64;
        // Answers of a sample in which every slot was held at some moment
        // may have been slow ones holding them all: not the unloaded time.
        if !pressed && !exhausted && served >= UNLOADED_SAMPLE_REQUESTS_MIN {
            self.unloaded_us.fetch_min(mean_us, Ordering::AcqRel);
        }
        let target_ms = self.latency_target_now_ms();
        let mean_ms = mean_us as f64 / 1e3;
        let now = self.slots_now();
        let to = if mean_ms > target_ms && pressed {
            // In proportion to the overshoot, at most by half: a sudden
            // flood needs few samples to reach slots that meet the target.
            let kept = (target_ms / mean_ms).clamp(SLOT_CUT_KEPT_MIN, SLOT_CUT_KEPT_MAX);
            let cut = ((now as f64 * kept) as usize).min(now - 1);
            cut.max(REQUESTS_IN_FLIGHT_MIN.min(max))
        } else {
            (now + (now / 4).max(1)).min(max)
        };
        self.resize(now, to);
    }

    /// The target the latency adaptation holds the slots to now, in
    /// milliseconds: `latency_target_ms`, or
    /// [`LATENCY_TARGET_UNLOADED_MULTIPLE`] times the least mean seen in a
    /// sample of at least [`UNLOADED_SAMPLE_REQUESTS_MIN`] answers with few
    /// refused and some slot free all along, when that is longer (a disk or a machine
    /// slower than the target assumed does not starve a flood to the
    /// fewest slots).
    pub fn latency_target_now_ms(&self) -> f64 {
        let configured = self.config.latency_target_ms as f64;
        match self.unloaded_us.load(Ordering::Acquire) {
            u64::MAX => configured,
            unloaded => configured.max(LATENCY_TARGET_UNLOADED_MULTIPLE * unloaded as f64 / 1e3),
        }
    }

    fn resize(&self, now: usize, to: usize) {
        if to < now {
            let cut = now - to;
            // Free slots go at once; held ones when their request ends.
            let forgotten = self.slots.forget_permits(cut);
            self.owed.fetch_add(cut - forgotten, Ordering::AcqRel);
        } else if to > now {
            let mut added = to - now;
            // Slots still owed need not be retired any more.
            if let Ok(owed) = self
                .owed
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    Some(n.saturating_sub(added))
                })
            {
                added -= owed.min(added);
            }
            self.slots.add_permits(added);
        }
        self.slots_now.store(to, Ordering::Release);
        payledger_metrics::metrics()
            .admission_slots
            .set(i64::try_from(to).unwrap_or(i64::MAX));
    }

    /// The pace of admissions now, in requests per second (`None`: not
    /// paced).
    pub fn pace_per_s(&self) -> Option<f64> {
        self.paced
            .load(Ordering::Acquire)
            .then(|| self.lock_pace().per_s)
    }

    /// One step of the CPU adaptation (see the module), at `now`, from
    /// the share of its CPUs (0 to 1) the process used over the `sample`
    /// since the last step. Call it from one task only.
    pub fn adapt(&self, cpu_share: f64, sample: Duration, now: Instant) {
        let percent_max = self.config.cpu_percent_max;
        let admitted = self.admitted.swap(0, Ordering::AcqRel);
        let pressed = self.pressed.swap(0, Ordering::AcqRel) > 0;
        if self.config.requests_in_flight_max == 0 || percent_max == 0 || sample.is_zero() {
            return;
        }
        let admitted_per_s = admitted as f64 / sample.as_secs_f64();
        let percent = cpu_share * 100.0;
        let paced = self.paced.load(Ordering::Acquire);
        let mut pace = self.lock_pace();
        // Without pressure the CPU went to something else (starting up, a
        // compaction) or to requests that all found a slot: pacing would
        // refuse what the server can do.
        if percent > f64::from(percent_max) && pressed {
            let per_s = (admitted_per_s * PACE_CUT).max(PACE_REQUESTS_PER_S_MIN);
            pace.per_s = if paced { per_s.min(pace.per_s) } else { per_s };
            if !paced {
                pace.bucket = Bucket {
                    tokens: pace.burst(),
                    at: now,
                };
            }
            self.paced.store(true, Ordering::Release);
        } else if paced && percent < f64::from(percent_max.saturating_sub(CPU_PERCENT_HYSTERESIS)) {
            pace.per_s *= PACE_GROWTH;
            if pace.per_s > 2.0 * admitted_per_s.max(PACE_REQUESTS_PER_S_MIN) {
                pace.per_s = f64::INFINITY;
                self.paced.store(false, Ordering::Release);
            }
        }
        let shown = if self.paced.load(Ordering::Acquire) {
            pace.per_s
        } else {
            0.0
        };
        payledger_metrics::metrics()
            .admission_pace
            .set(shown as i64);
    }

    /// Takes one admission from the pace at `now`, if it is on.
    pub(super) fn take_pace(&self, now: Instant) -> Result<(), Refused> {
        if !self.paced.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut pace = self.lock_pace();
        let (per_s, burst) = (pace.per_s, pace.burst());
        pace.bucket.refill(now, per_s, burst);
        if pace.bucket.tokens >= 1.0 {
            pace.bucket.tokens -= 1.0;
            return Ok(());
        }
        drop(pace);
        self.pressed.fetch_add(1, Ordering::Relaxed);
        Err(self.overloaded(Limit::CpuPercent))
    }

    fn lock_pace(&self) -> std::sync::MutexGuard<'_, Pace> {
        self.pace
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The pace of admissions while the CPU is over its share.
#[derive(Debug)]
pub(super) struct Pace {
    pub(super) per_s: f64,
    pub(super) bucket: Bucket,
}

impl Pace {
    fn burst(&self) -> f64 {
        (self.per_s * PACE_BURST_S).max(1.0)
    }
}

/// Adapts `gate` to the load every [`SAMPLE_INTERVAL`]: its pace to
/// the CPU the process uses and its slots to the time admitted requests
/// spend in the server (see the module), until `stopped` turns true. Does
/// nothing with both `cpu_percent_max` and `latency_target_ms` 0, or the
/// gate off.
pub async fn adapt_to_load(gate: Arc<Gate>, mut stopped: tokio::sync::watch::Receiver<bool>) {
    let config = gate.config();
    if config.requests_in_flight_max == 0
        || (config.cpu_percent_max == 0 && config.latency_target_ms == 0)
    {
        return;
    }
    payledger_metrics::metrics()
        .admission_slots
        .set(i64::try_from(config.requests_in_flight_max).unwrap_or(i64::MAX));
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let mut ticks = tokio::time::interval(SAMPLE_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut at, mut used) = (Instant::now(), process_cpu_time());
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
        let (now, now_used) = (Instant::now(), process_cpu_time());
        let sample = now.duration_since(at);
        let wall = sample.as_secs_f64() * cpus as f64;
        if wall > 0.0 {
            let share = now_used.saturating_sub(used).as_secs_f64() / wall;
            gate.adapt(share, sample, now);
        }
        gate.adapt_slots();
        (at, used) = (now, now_used);
    }
}

/// CPU time the whole process has used (all its threads).
fn process_cpu_time() -> std::time::Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    std::time::Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}
