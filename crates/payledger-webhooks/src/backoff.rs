//! The delivery retry schedule: payledger's one [`Backoff`] (with jitter)
//! and the defaults of `--webhook-backoff-min-ms` / `--webhook-backoff-max-ms`.

pub use payledger_app::backoff::Backoff;

/// Default first wait after a failed delivery, in milliseconds.
pub const BACKOFF_MS_MIN_DEFAULT: u64 = 250;
/// Default longest wait between two attempts of a delivery, in
/// milliseconds.
pub const BACKOFF_MS_MAX_DEFAULT: u64 = 60_000;

/// The schedule deliveries use unless configured otherwise.
pub const BACKOFF_DEFAULT: Backoff = Backoff {
    min_ms: BACKOFF_MS_MIN_DEFAULT,
    max_ms: BACKOFF_MS_MAX_DEFAULT,
};
