//! The command line contract. Operators and later tooling rely on these
//! names; `--help` documents every flag.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "payledger",
    version,
    about = "An event-sourced payment ledger."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API on a RocksDB store.
    Serve(ServeArgs),
    /// Run a benchmark and print its figures.
    Bench(BenchArgs),
    /// Append events from many threads until killed, printing one line
    /// `ack <payment-id> <version>` per durable append (crash testing).
    Stress(StressArgs),
    /// Manage API clients (create, list, revoke) while the server is
    /// stopped.
    Clients(crate::clients::ClientsArgs),
}

#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Directory of the RocksDB store (created if missing).
    #[arg(long, default_value = "./data", env = "PAYLEDGER_DATA")]
    pub data: PathBuf,
    /// Partitions of a new store (ignored for an existing store, which keeps
    /// the count it was created with).
    #[arg(long, default_value_t = payledger_store::PARTITIONS_DEFAULT)]
    pub partitions: u16,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on, for example 127.0.0.1:8080 (port 0 picks a free
    /// port; the bound address is printed on startup).
    #[arg(long, default_value = "127.0.0.1:8080", env = "PAYLEDGER_LISTEN")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub which: BenchKind,
}

#[derive(Debug, Subcommand)]
pub enum BenchKind {
    /// Durable appends/s and latency at 1, 16, 64 and 256 concurrent
    /// appenders and with 10-event batches, against a serial-fdatasync
    /// baseline measured in the same run and directory.
    Append(BenchAppendArgs),
    /// HTTP load: a closed loop of N clients, each owning its payments, for
    /// create, update (addTransaction + changeTransactionState), get and
    /// query-by-key; prints req/s and p50/p99 per workload.
    Http(BenchHttpArgs),
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
    #[command(flatten)]
    pub store: StoreArgs,
    /// Number of appending threads.
    #[arg(long, default_value_t = 8)]
    pub writers: usize,
    /// Payments each writer appends to, round robin.
    #[arg(long, default_value_t = 4)]
    pub payments_per_writer: usize,
}
