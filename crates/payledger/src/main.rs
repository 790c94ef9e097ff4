//! The `payledger` binary: argument parsing and wiring, nothing else.
//!
//! - `serve`: the HTTP server on a RocksDB store (with `psp`: the PSP
//!   executor and task runner when `--psp-config` is given).
//! - `clients`: API client management, on the store or through a running
//!   server's admin socket (`admin`).
//! - `status`: log consumers' cursors and lag on a stopped server's store.
//! - `verify`: the stored history checked, beside a running server
//!   (`progress` draws its progress).
//! - `replay`: the derived tables rebuilt from the events, or checked.
//! - `export`: every event as a flat row, NDJSON or Parquet.

mod admin;
mod cli;
mod clients;
mod export;
mod keys;
mod merchants;
mod progress;
mod psp;
mod replay;
mod serve;
mod status;
mod verify;

use clap::Parser;

/// mimalloc: the server allocates many short-lived buffers per request
/// (JSON, protobuf, batches); glibc malloc showed as ~15% of CPU under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::Serve(args) => serve::run(&args),
        cli::Command::Clients(args) => clients::run(&args),
        cli::Command::Merchants(args) => merchants::run(&args),
        cli::Command::Keys(args) => keys::run(&args),
        cli::Command::Status(args) => status::run(&args),
        cli::Command::Verify(args) => verify::run(&args),
        cli::Command::Replay(args) => replay::run(&args),
        cli::Command::Export(args) => export::run(&args),
    }
}
