//! The command line of `payledger-bench`: one subcommand per benchmark,
//! plus `stress`, the writer the crash test kills.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "payledger-bench",
    version,
    about = "payledger's benchmarks (figures for BENCHMARKS.md) and the crash test's stress writer."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Durable appends/s and latency at 1, 16, 64 and 256 concurrent
    /// appenders and with 10-event batches, against a serial-fdatasync
    /// baseline measured in the same run and directory.
    Append(BenchAppendArgs),
    /// HTTP load: a closed loop of N clients, each owning its payments, for
    /// create, update (addTransaction + changeTransactionState), get and
    /// query-by-key; prints req/s and p50/p99 per workload.
    Http(BenchHttpArgs),
    /// External HTTP load: a closed loop of N keep-alive connections
    /// against a running server at --url (payledger or the commercetools
    /// mock) for create, update, get, query and a mix, at several payment
    /// sizes; prints req/s, p50/p99/max and the server's CPU per request.
    Load(crate::bench::load::LoadArgs),
    /// Overload: starts two `payledger serve` processes (admission control
    /// on and off), finds the sustainable update rate, offers multiples of
    /// it in an open loop and reports admitted p50/p99, refused share and
    /// latency, throughput, and that nothing acknowledged was lost.
    Overload(crate::bench::overload::OverloadArgs),
    /// Kafka relay: messages/s from a pre-filled log to the broker, then
    /// end-to-end latency (HTTP write acknowledged → consumer receives)
    /// p50/p99 under a steady write load.
    Relay(BenchRelayArgs),
    /// Webhook deliveries/s from a pre-filled log to a local receiver,
    /// against raw signed POSTs of the same bodies to it.
    Webhooks(BenchWebhooksArgs),
    /// PSP flows: signed webhook ingestion req/s and p99, and (with
    /// --stripe-url) executor authorizations/s against a Stripe emulator.
    Psp(crate::bench::psp::BenchPspArgs),
    /// Signed tokenization API: RSA verifications/s alone, and signed
    /// recurring requests/s and p99 with the charge at a Stripe emulator.
    Tokenization(crate::bench::tokenization::BenchTokenizationArgs),
    /// Fill a store for the audit commands and time as-of reads of a long
    /// payment.
    Audit(crate::bench::audit::BenchAuditArgs),
    /// Fill a store and time Message queries by type and time through the
    /// API (the Message index) against a scan of every partition log.
    Messages(crate::bench::messages::BenchMessagesArgs),
    /// Append events from many threads until killed, printing one line
    /// `ack <kind>/<id> <version>` per durable append (crash testing).
    Stress(StressArgs),
}

#[derive(Debug, Args)]
pub struct BenchRelayArgs {
    /// Directory to benchmark in; a fresh sub-directory is created and
    /// removed afterwards.
    #[arg(long)]
    pub data: PathBuf,
    /// Kafka bootstrap brokers, HOST:PORT[,HOST:PORT…].
    #[arg(long, env = "PAYLEDGER_KAFKA_BROKERS")]
    pub kafka_brokers: String,
    /// Events in the pre-filled log for the throughput run.
    #[arg(long, default_value_t = 200_000)]
    pub events: u64,
    /// Partitions of the benchmark topics.
    #[arg(long, default_value_t = payledger_kafka::config::TOPIC_PARTITIONS_DEFAULT)]
    pub kafka_topic_partitions: i32,
    /// Writes per second of the latency run (each an HTTP update request).
    #[arg(long, default_value_t = 5_000)]
    pub writes_per_second: u64,
    /// Seconds of the latency run.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Record value format of the benchmark topics.
    #[arg(long, default_value = "json")]
    pub kafka_format: payledger_kafka::MessageFormat,
    /// Producer linger (ms): how long a batch waits to fill.
    #[arg(long, default_value_t = payledger_kafka::config::LINGER_MS_DEFAULT)]
    pub kafka_linger_ms: u64,
}

#[derive(Debug, Args)]
pub struct BenchHttpArgs {
    /// Directory to benchmark in; a fresh sub-directory is created and
    /// removed afterwards.
    #[arg(long)]
    pub data: PathBuf,
    /// Seconds to run each workload.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Concurrent clients, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "64")]
    pub clients: Vec<usize>,
    /// Workloads to run, comma separated (create, update, get, query).
    #[arg(long, value_delimiter = ',', default_value = "create,update,get,query")]
    pub workloads: Vec<String>,
}

#[derive(Debug, Args)]
pub struct BenchAppendArgs {
    /// Directory to benchmark in; a fresh sub-directory is created and
    /// removed afterwards.
    #[arg(long)]
    pub data: PathBuf,
    /// Seconds to run each measurement.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Concurrency levels to measure, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64,256")]
    pub appenders: Vec<usize>,
}

#[derive(Debug, Args)]
pub struct StressArgs {
    /// Directory of the RocksDB store (created if missing).
    #[arg(long)]
    pub data: PathBuf,
    /// Partitions of a new store (ignored for an existing store).
    #[arg(long, default_value_t = payledger_store::PARTITIONS_DEFAULT)]
    pub partitions: u16,
    /// Number of appending threads.
    #[arg(long, default_value_t = 8)]
    pub writers: usize,
    /// Streams each writer appends to, round robin (payments and orders
    /// alternately).
    #[arg(long, default_value_t = 4)]
    pub streams_per_writer: usize,
}

#[derive(Debug, Args)]
pub struct BenchWebhooksArgs {
    /// Directory for the benchmark's store (removed afterwards).
    #[arg(long)]
    pub data: PathBuf,
    /// About how many events (Messages) to deliver.
    #[arg(long, default_value_t = 20_000)]
    pub events: u64,
}
