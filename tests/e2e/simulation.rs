//! A seeded fault simulation (after TigerBeetle's VOPR, lighter): from a
//! seed, a ChaCha8 stream plans a mix of API commands (payments created
//! and changed, requests repeated under their `Idempotency-Key`, updates
//! racing at one version), PSP outcomes at localstripe (successful,
//! declined and 3-D Secure cards, the shopper's answer), webhook
//! deliveries that are duplicated, reordered, forged or tampered with,
//! Kafka broker outages and refused produce requests (librdkafka's mock
//! cluster), and `kill -9` of the server, alone or while writers are being
//! answered. After every step the model's invariants are checked on the
//! real system:
//!
//! - no acknowledged effect is lost (after every restart too), no request
//!   is applied twice, a finished transaction never changes;
//! - every payment's versions are contiguous (its Messages are 1, 2, …);
//! - the views equal replay (`payledger replay --check`);
//! - never two PSP objects for one transaction at localstripe;
//! - every new Kafka record of a payment is the next version.
//!
//! At the end the broker comes back, the server is killed once more, and
//! once the PSP work has settled every PSP object is recorded on its
//! transaction, every transaction agrees with Stripe, every Message is on
//! Kafka, and `payledger verify` passes.
//!
//! `make test` runs [`FIXED_SEEDS`]; `make simulate SEEDS=N` runs N seeds
//! from a random start and `make simulate SEED=n` one seed.

mod kafka;
mod model;
mod plan;
mod steps;
mod world;

use anyhow::{Context, Result, bail, ensure};
use model::{Kind, check_contiguous, transactions};
use serde_json::Value;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};
use steps::Sim;

/// The seeds `make test` runs.
const FIXED_SEEDS: [u64; 4] = [1, 2, 3, 4];
/// Steps of a run unless `PAYLEDGER_SIM_STEPS` says otherwise.
const STEPS_DEFAULT: usize = 30;
/// How long the PSP work, the relay and the consumer may take to settle.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a settling condition is looked at again.
const SETTLE_POLL: Duration = Duration::from_millis(200);
/// Lines of the server's log a failure report shows.
const LOG_TAIL_LINES: usize = 30;

/// How one seed ended.
#[derive(Debug)]
struct Outcome {
    seed: u64,
    steps: usize,
    failure: Option<String>,
}

#[test]
fn seeded_runs_keep_every_invariant() {
    let steps = env_number("PAYLEDGER_SIM_STEPS").map_or(STEPS_DEFAULT, |n| n as usize);
    let seeds: Vec<u64> = match (
        env_number("PAYLEDGER_SIM_SEED"),
        env_number("PAYLEDGER_SIM_SEEDS"),
    ) {
        (Some(seed), _) => vec![seed],
        (None, Some(count)) => {
            let start = env_number("PAYLEDGER_SIM_START").unwrap_or_else(rand::random::<u64>);
            println!("simulating {count} seeds from {start} ({steps} steps each)");
            (0..count).map(|n| start.wrapping_add(n)).collect()
        }
        (None, None) => FIXED_SEEDS.to_vec(),
    };
    let started = Instant::now();
    let outcomes: Vec<Outcome> = seeds.iter().map(|seed| run(*seed, steps)).collect();
    let elapsed = started.elapsed();
    let failures: Vec<&Outcome> = outcomes.iter().filter(|o| o.failure.is_some()).collect();
    println!(
        "simulation: {} seeds, {} steps, {} failed, {:.1} s ({:.1} seeds per minute)",
        outcomes.len(),
        outcomes.iter().map(|o| o.steps).sum::<usize>(),
        failures.len(),
        elapsed.as_secs_f64(),
        outcomes.len() as f64 * 60.0 / elapsed.as_secs_f64().max(0.001)
    );
    let again = match steps {
        STEPS_DEFAULT => String::new(),
        n => format!(" STEPS={n}"),
    };
    let report: Vec<String> = failures
        .iter()
        .map(|o| {
            format!(
                "seed {} failed: {}\n  rerun: make simulate SEED={}{again}",
                o.seed,
                o.failure.as_deref().unwrap_or_default(),
                o.seed
            )
        })
        .collect();
    assert!(report.is_empty(), "\n{}", report.join("\n"));
}

/// A decimal number from the environment; unset or empty is none.
fn env_number(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok().filter(|t| !t.trim().is_empty())?;
    Some(
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text} is not a number")),
    )
}

/// Runs one seed; a panic is a failure of that seed too.
fn run(seed: u64, steps: usize) -> Outcome {
    let plan = plan::plan(seed, steps);
    let mut at = String::from("starting the peers");
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| run_plan(seed, &plan, &mut at)));
    let failure = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(error)) => Some(format!("{at}: {error:#}")),
        Err(panic) => {
            let text = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            Some(format!("{at}: panicked: {text}"))
        }
    };
    if let Some(failure) = &failure {
        eprintln!("seed {seed} failed {failure}");
    }
    Outcome {
        seed,
        steps,
        failure,
    }
}

fn run_plan(seed: u64, plan: &[plan::Action], at: &mut String) -> Result<()> {
    let mut sim = Sim::start(seed)?;
    let result = (|| {
        for (step, action) in plan.iter().enumerate() {
            *at = format!("at step {step} ({action})");
            sim.step = step;
            sim.apply(*action)?;
            *at = format!("after step {step} ({action})");
            sim.check()?;
        }
        *at = format!("settling after step {}", plan.len());
        sim.settle()
    })();
    let stats = sim.stats;
    println!(
        "seed {seed}: {} steps ({} skipped), {} crashes ({} updates acknowledged in flight), \
         {} webhooks refused, {} repeated, {} Kafka records taken ({} duplicates dropped)",
        sim.step + 1,
        stats.skipped,
        stats.crashes,
        stats.acked_in_flight,
        sim.model.refused_events.len(),
        sim.model.repeated_events.len(),
        sim.reader
            .taken
            .payments
            .values()
            .map(Vec::len)
            .sum::<usize>(),
        sim.reader.taken.duplicates
    );
    result.map_err(|error| {
        let log = std::fs::read_to_string(sim.world.log()).unwrap_or_default();
        let kept = std::env::temp_dir().join(format!("payledger-simulation-{seed}.log"));
        let kept = match std::fs::write(&kept, &log) {
            Ok(()) => format!("the server's whole log: {}\n", kept.display()),
            Err(_) => String::new(),
        };
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
            .collect();
        let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
        error.context(format!(
            "{kept}the server's last warnings and errors:\n{tail}\n"
        ))
    })
}

impl Sim {
    /// The invariants of every moment, and the order of Kafka records.
    fn check(&mut self) -> Result<()> {
        self.model.check(&self.world)?;
        self.reader.drain(Duration::ZERO)
    }

    /// The end of a run: the broker back, one more `kill -9`, then
    /// everything eventual must have happened.
    fn settle(&mut self) -> Result<()> {
        if self.world.broker_down {
            self.world.cluster.broker_up(1)?;
            self.world.broker_down = false;
        }
        self.world.crash_and_restart()?;
        self.model.check(&self.world)?;
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        while let Err(unsettled) = self.psp_settled() {
            if Instant::now() >= deadline {
                return Err(
                    unsettled.context(format!("the PSP work did not settle in {SETTLE_TIMEOUT:?}"))
                );
            }
            // PSP work ends in events, and every event reaches Kafka:
            // wait for the next records (also taking them in order).
            self.reader.drain(SETTLE_POLL)?;
        }
        self.model.check(&self.world)?;
        while let Err(behind) = self.kafka_complete() {
            if Instant::now() >= deadline {
                return Err(behind.context(format!("Kafka did not catch up in {SETTLE_TIMEOUT:?}")));
            }
            self.reader.drain(SETTLE_POLL)?;
        }
        self.world
            .payledger(&["verify"])
            .context("payledger verify")?;
        Ok(())
    }

    /// Every Stripe transaction agrees with its PSP object, and every PSP
    /// object is recorded on its transaction (exactly once at Stripe).
    fn psp_settled(&self) -> Result<()> {
        let mut objects: HashMap<String, Value> = HashMap::new();
        let mut recorded: HashMap<String, String> = HashMap::new();
        for path in ["/v1/payment_intents", "/v1/refunds"] {
            for object in self.world.stripe.list(path)? {
                objects.insert(object["id"].as_str().unwrap_or_default().to_owned(), object);
            }
        }
        for known in self.model.known(Kind::Stripe) {
            let view = self
                .world
                .http
                .get(&format!("/payments/{}", known.id))?
                .body;
            // The executor holds a Charge back while an Authorization, and a
            // Refund while a Charge, is still under way at the PSP (3-D
            // Secure waits for the shopper as long as it likes).
            let waiting = transactions(&view).iter().any(|t| {
                t.state == "Pending"
                    && t.interface_id
                        .as_ref()
                        .is_some_and(|id| id.starts_with("pi_"))
            });
            for txn in transactions(&view) {
                let expected = match txn.interface_id.as_deref() {
                    None if txn.state == "Initial" && waiting => continue,
                    None if txn.state == "Initial" || txn.state == "Pending" => {
                        bail!(
                            "{} {} of {} is {} without a PSP object: {:#}",
                            txn.kind,
                            txn.id,
                            known.id,
                            txn.state,
                            summary(&view)
                        )
                    }
                    None => continue,
                    Some(id) if id.starts_with("pi_") => {
                        let intent = objects
                            .get(id)
                            .with_context(|| format!("{id} is not at Stripe"))?;
                        expected_state(&txn.kind, intent["status"].as_str().unwrap_or_default())
                    }
                    Some(_) => "Success",
                };
                if let Some(id) = &txn.interface_id {
                    recorded.insert(id.clone(), txn.id.clone());
                }
                ensure!(
                    txn.state == expected,
                    "transaction {} ({}) of {} is {}, Stripe says {expected}",
                    txn.id,
                    txn.kind,
                    known.id,
                    txn.state
                );
            }
        }
        for (id, object) in &objects {
            let Some(txn) = object["metadata"]["payledger_transaction_id"].as_str() else {
                continue;
            };
            if id.starts_with("pi_") || id.starts_with("re_") {
                ensure!(
                    recorded.get(id).map(String::as_str) == Some(txn),
                    "{id} at Stripe (transaction {txn}) is recorded on no transaction"
                );
            }
        }
        Ok(())
    }

    /// Every Message of every payment was taken from Kafka, in order.
    fn kafka_complete(&self) -> Result<()> {
        for known in &self.model.payments {
            let ids = check_contiguous(&self.world, &known.id, known.acked_version)?;
            self.reader.delivered(&known.id, &ids)?;
        }
        Ok(())
    }
}

/// A payment's transactions and interactions, one line each.
fn summary(view: &Value) -> Value {
    let txns: Vec<String> = transactions(view)
        .iter()
        .map(|t| {
            format!(
                "{} {} {} {} {:?}",
                t.id, t.kind, t.amount, t.state, t.interface_id
            )
        })
        .collect();
    let interactions: Vec<&Value> = view["interfaceInteractions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| &i["fields"])
        .collect();
    serde_json::json!({"version": view["version"], "transactions": txns,
        "interactions": interactions, "paymentStatus": view["paymentStatus"]})
}

/// The state a transaction has once payledger knows the PaymentIntent's
/// `status`.
fn expected_state(kind: &str, status: &str) -> &'static str {
    match (kind, status) {
        ("Authorization", "requires_capture" | "succeeded") => "Success",
        ("Charge", "succeeded") => "Success",
        (_, "requires_payment_method" | "canceled") => "Failure",
        _ => "Pending",
    }
}
