//! `payledger-bench audit`: builds a store for the audit commands to be
//! measured on, and measures as-of reads of a long stream.
//!
//! It writes `--payments` payments of five events each (a create and four
//! updates, 64 at a time) and one payment of `--long-stream-events`
//! events, all through the one command path, then times
//! `history::payment_as_of` of the long payment at its first, middle and
//! last version and at the moment of its middle version (each reads the
//! latest snapshot before and folds the events after it). `payledger
//! verify`, `payledger replay --check` and `payledger replay` then run on
//! the same directory and print their own events/s.

use super::{latency_histogram, micros, ms};
use anyhow::Context;
use clap::Args;
use payledger_app::history::{AsOf, AsOfAnswer, payment_as_of};
use payledger_app::snapshots;
use payledger_app::{CommandMeta, Ledger, PaymentCommand, PaymentRef};
use payledger_domain::command::{PaymentDraftInput, UpdateAction};
use payledger_domain::{Actor, CurrencyCode, Money, Payment, ProjectKey, Timestamp};
use payledger_rocksdb::{RocksConfig, RocksStore};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct BenchAuditArgs {
    /// Directory of a new store (must not hold one).
    #[arg(long)]
    pub data: PathBuf,
    /// Payments of five events each.
    #[arg(long, default_value_t = 20_000)]
    pub payments: u64,
    /// Events of the one long payment whose as-of reads are timed.
    #[arg(long, default_value_t = 10_000)]
    pub long_stream_events: u64,
    /// Timed reads per as-of target.
    #[arg(long, default_value_t = 200)]
    pub reads: u64,
}

/// Payments written at once while filling the store.
const WRITERS: u64 = 64;

pub fn run(args: &BenchAuditArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        !args.data.join("CURRENT").exists(),
        "{} already holds a store: give a new directory",
        args.data.display()
    );
    anyhow::ensure!(
        args.long_stream_events >= 2,
        "--long-stream-events: at least 2"
    );
    let store = Arc::new(RocksStore::open(&args.data, &RocksConfig::default())?);
    let ledger = Ledger::new(store);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start runtime")?;
    let started = Instant::now();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let ledger = ledger.clone();
                let count = args.payments / WRITERS + u64::from(writer < args.payments % WRITERS);
                tokio::spawn(async move {
                    for _ in 0..count {
                        let mut payment = create(&ledger).await?;
                        for n in 0..4 {
                            payment = update(&ledger, &payment, n).await?;
                        }
                    }
                    anyhow::Ok(())
                })
            })
            .collect();
        for task in tasks {
            task.await??;
        }
        anyhow::Ok(())
    })?;
    let long = runtime.block_on(async {
        let mut payment = create(&ledger).await?;
        for n in 1..args.long_stream_events {
            payment = update(&ledger, &payment, n).await?;
        }
        anyhow::Ok(payment)
    })?;
    let events = args.payments * 5 + args.long_stream_events;
    println!(
        "wrote {events} events ({} payments of 5, one of {}) in {:.1} s",
        args.payments,
        args.long_stream_events,
        started.elapsed().as_secs_f64()
    );
    let middle = (args.long_stream_events / 2).max(1);
    let middle_at = match payment_as_of(
        &ledger,
        &project(),
        &PaymentRef::Id(long.id),
        AsOf::Version(middle),
    )? {
        AsOfAnswer::Found(payment) => payment.last_modified_at,
        other => anyhow::bail!("the long payment at version {middle}: {other:?}"),
    };
    println!("| as of | events folded after its snapshot | p50 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|---:|");
    let after_snapshot = |version: u64| version - snapshots::due_at_or_before(version);
    let last = args.long_stream_events;
    // The most events a read folds: the version just before a snapshot.
    let worst = snapshots::due_at_or_before(last).saturating_sub(1).max(1);
    let targets = [
        ("version 1".to_owned(), AsOf::Version(1), 1),
        (
            format!("version {middle}"),
            AsOf::Version(middle),
            after_snapshot(middle),
        ),
        (
            format!("version {worst}"),
            AsOf::Version(worst),
            after_snapshot(worst),
        ),
        (
            format!("version {last}"),
            AsOf::Version(last),
            after_snapshot(last),
        ),
        (
            format!("the time of version {middle}"),
            AsOf::Time(middle_at),
            after_snapshot(middle),
        ),
    ];
    for (name, as_of, folded) in targets {
        let mut latency = latency_histogram();
        for _ in 0..args.reads {
            let begun = Instant::now();
            let answer = payment_as_of(&ledger, &project(), &PaymentRef::Id(long.id), as_of)?;
            latency.record(micros(begun.elapsed()))?;
            anyhow::ensure!(matches!(answer, AsOfAnswer::Found(_)), "{name}: not found");
        }
        println!(
            "| {name} | {folded} | {} | {} | {} |",
            ms(latency.value_at_quantile(0.5)),
            ms(latency.value_at_quantile(0.99)),
            ms(latency.max())
        );
    }
    println!(
        "now run: payledger verify --data {0}; payledger replay --check --data {0}; payledger replay --data {0}",
        args.data.display()
    );
    Ok(())
}

fn project() -> ProjectKey {
    ProjectKey::parse("audit-bench").expect("valid project key")
}

fn meta() -> CommandMeta {
    use payledger_app::clock::{Clock, SystemClock};
    CommandMeta {
        project: project(),
        actor: Actor::Client("bench".into()),
        now: Timestamp(SystemClock.now_ms()),
        correlation_id: None,
        idempotency: None,
    }
}

async fn create(ledger: &Ledger<RocksStore>) -> anyhow::Result<Payment> {
    let currency = CurrencyCode::parse("EUR").map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let draft = PaymentDraftInput::new(Money::new(100, currency));
    let committed = ledger
        .execute(meta(), PaymentCommand::Create(Box::new(draft)))
        .await?;
    Ok((*committed.payment).clone())
}

async fn update(ledger: &Ledger<RocksStore>, payment: &Payment, n: u64) -> anyhow::Result<Payment> {
    let command = PaymentCommand::Update {
        target: PaymentRef::Id(payment.id),
        version: payment.version,
        actions: vec![UpdateAction::SetStatusInterfaceText(Some(format!(
            "step {n}"
        )))],
    };
    Ok((*ledger.execute(meta(), command).await?.payment).clone())
}
