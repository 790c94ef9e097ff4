//! `payledger bench`: benchmarks that print figures for BENCHMARKS.md.
//!
//! Every benchmark measures its own baseline in the same run, because these
//! machines are noisy and only ratios travel between them.

mod append;
mod http;
pub(crate) mod psp;
mod relay;
pub(crate) mod webhooks;

use crate::cli::{BenchArgs, BenchKind};
use hdrhistogram::Histogram;
use std::time::Duration;

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    match &args.which {
        BenchKind::Append(append) => append::run(append),
        BenchKind::Http(http) => http::run(http),
        BenchKind::Psp(psp) => psp::run(psp),
        BenchKind::Relay(relay) => relay::run(relay),
        BenchKind::Webhooks(webhooks) => webhooks::run(webhooks),
    }
}

/// A latency histogram in microseconds, 1 µs to 60 s.
pub(crate) fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("static histogram bounds are valid")
}

pub(crate) fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// Formats microseconds as milliseconds with three decimals.
pub(crate) fn ms(micros: u64) -> String {
    format!("{:.3}", micros as f64 / 1_000.0)
}
