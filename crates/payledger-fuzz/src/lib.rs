//! The fuzz driver shared by the crates' fuzz tests: each target is an
//! ordinary `#[test]` named `fuzz_<target>` that hands a proptest strategy
//! of untrusted inputs and a property to [`run`].
//!
//! No nightly toolchain is needed: inputs come from seeded proptest
//! strategies, not from a coverage-guided engine. Two sources are mixed:
//! purely random bytes or token soups, and structure-aware mutations of
//! valid inputs (byte edits in [`mutate`], JSON tree edits in [`json`]),
//! so most cases get past the first syntax check.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PAYLEDGER_FUZZ_CASES` | [`CASES_DEFAULT`] | cases per target |
//! | `PAYLEDGER_FUZZ_SEED` | [`SEED_DEFAULT`] | the run's seed; each target mixes in its name |
//!
//! `make test` runs every target with the defaults (a short, fixed
//! sample); `make fuzz` runs 1,000,000 cases per target. A failure names
//! the seed and the case count that reproduce it and the shrunk input,
//! which then becomes a named regression test beside the target.
//!
//! This crate is a dev-dependency only: no server code links it.

pub mod json;
pub mod mutate;

use std::fmt;
use std::time::Instant;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestCaseError, TestRunner};

pub use mutate::Input;

/// Cases per target when `PAYLEDGER_FUZZ_CASES` is not set: enough to
/// exercise every strategy in `make test`, within a second per target.
pub const CASES_DEFAULT: u32 = 2_000;

/// The seed when `PAYLEDGER_FUZZ_SEED` is not set, so `make test` is
/// deterministic.
pub const SEED_DEFAULT: u64 = 0x7061_796c_6564_6772;

/// Most shrinking steps after a failure, so a slow property cannot make
/// a failing run take hours.
pub const SHRINK_ITERS_MAX: u32 = 10_000;

/// The case count and seed of one run, from the environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    pub cases: u32,
    pub seed: u64,
}

impl Settings {
    /// Reads `PAYLEDGER_FUZZ_CASES` and `PAYLEDGER_FUZZ_SEED`; a value that
    /// is set but not a number fails the test rather than being ignored.
    pub fn from_env() -> Settings {
        Settings {
            cases: number("PAYLEDGER_FUZZ_CASES").unwrap_or(CASES_DEFAULT),
            seed: number("PAYLEDGER_FUZZ_SEED").unwrap_or(SEED_DEFAULT),
        }
    }
}

fn number<T: std::str::FromStr>(name: &str) -> Option<T> {
    let text = std::env::var(name).ok()?;
    match text.trim().replace('_', "").parse() {
        Ok(value) => Some(value),
        Err(_) => panic!("{name}={text:?} is not a number"),
    }
}

/// FNV-1a-64 of the target's name: each target draws its own stream of
/// cases from the run's seed.
fn target_seed(seed: u64, target: &str) -> u64 {
    target
        .bytes()
        .fold(seed ^ 0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
}

/// What one run did, as `make fuzz` prints it.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub target: String,
    pub cases: u32,
    pub seconds: f64,
    pub seed: u64,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rate = f64::from(self.cases) / self.seconds.max(1e-9);
        write!(
            f,
            "fuzz {}: {} cases, no failure, in {:.1} s ({rate:.0} cases/s), seed {}",
            self.target, self.cases, self.seconds, self.seed
        )
    }
}

/// Runs `property` over cases drawn from `inputs` with the settings of the
/// environment, prints a [`Report`] to stderr, and panics with the seed
/// and the shrunk input when a case fails or panics.
pub fn run<S>(target: &str, inputs: S, property: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S: Strategy,
{
    let report = run_with(Settings::from_env(), target, inputs, property);
    eprintln!("{report}");
}

/// [`run`] with explicit settings; returns the report instead of printing it.
pub fn run_with<S>(
    settings: Settings,
    target: &str,
    inputs: S,
    property: impl Fn(S::Value) -> Result<(), TestCaseError>,
) -> Report
where
    S: Strategy,
{
    let config = Config {
        cases: settings.cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(target_seed(settings.seed, target)),
        failure_persistence: None,
        max_shrink_iters: SHRINK_ITERS_MAX,
        ..Config::default()
    };
    let started = Instant::now();
    let mut runner = TestRunner::new(config);
    if let Err(failure) = runner.run(&inputs, property) {
        panic!(
            "fuzz {target}: {failure}\nreproduce with PAYLEDGER_FUZZ_SEED={} \
             PAYLEDGER_FUZZ_CASES={}",
            settings.seed, settings.cases
        );
    }
    Report {
        target: target.to_owned(),
        cases: settings.cases,
        seconds: started.elapsed().as_secs_f64(),
        seed: settings.seed,
    }
}

/// Fails the case unless `condition` holds; for properties that are not
/// written with `prop_assert!`.
pub fn check(condition: bool, what: impl FnOnce() -> String) -> Result<(), TestCaseError> {
    if condition {
        Ok(())
    } else {
        Err(TestCaseError::fail(what()))
    }
}
