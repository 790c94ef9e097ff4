//! Progress of a long command over a known number of items (events): a
//! bar redrawn in place on a terminal, plain lines otherwise (a log file
//! or CI output gets one line per tenth of the work, no escape codes).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Shortest time between two redraws of the bar on a terminal.
const REDRAW_INTERVAL: Duration = Duration::from_millis(100);
/// Width of the bar, in characters.
const BAR_CHARS: usize = 30;

pub struct Progress {
    label: &'static str,
    total: u64,
    started: Instant,
    terminal: bool,
    last_drawn: Option<Instant>,
    /// Tenths of the work reported so far (plain lines).
    tenths_reported: u64,
}

impl Progress {
    /// Progress of `label` over `total` items, written to stderr.
    pub fn new(label: &'static str, total: u64) -> Self {
        Self {
            label,
            total,
            started: Instant::now(),
            terminal: std::io::stderr().is_terminal(),
            last_drawn: None,
            tenths_reported: 0,
        }
    }

    /// Items per second since the start.
    pub fn rate(&self, done: u64) -> f64 {
        done as f64 / self.started.elapsed().as_secs_f64().max(1e-9)
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// `done` of the total items are finished.
    pub fn update(&mut self, done: u64) {
        if self.terminal {
            let now = Instant::now();
            if self
                .last_drawn
                .is_some_and(|at| now.duration_since(at) < REDRAW_INTERVAL)
            {
                return;
            }
            self.last_drawn = Some(now);
            eprint!("\r{}", self.line(done));
            let _ = std::io::stderr().flush();
        } else {
            let tenths = done.saturating_mul(10) / self.total.max(1);
            if tenths > self.tenths_reported {
                self.tenths_reported = tenths;
                eprintln!("{}", self.line(done));
            }
        }
    }

    /// The work is over: the bar's last state, then a new line.
    pub fn finish(&mut self, done: u64) {
        if self.terminal {
            eprintln!("\r{}", self.line(done));
        }
    }

    fn line(&self, done: u64) -> String {
        let fraction = (done as f64 / self.total.max(1) as f64).min(1.0);
        let rate = self.rate(done);
        let left = self.total.saturating_sub(done) as f64 / rate.max(1e-9);
        let eta = if done == 0 {
            "?".to_owned()
        } else {
            format!("{left:.0}s")
        };
        let filled = (fraction * BAR_CHARS as f64) as usize;
        let bar: String = "#".repeat(filled) + &"-".repeat(BAR_CHARS - filled);
        format!(
            "{} [{bar}] {:>3.0}% {done}/{} events, {:.0} events/s, ETA {eta}",
            self.label,
            fraction * 100.0,
            self.total,
            rate
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_shows_the_share_done_the_counts_and_the_rate() {
        let progress = Progress::new("verify", 200);
        let line = progress.line(50);
        assert!(line.starts_with("verify [#######-----"), "{line}");
        assert!(line.contains(" 25% 50/200 events"), "{line}");
        assert!(line.contains("events/s, ETA "), "{line}");
    }
}
