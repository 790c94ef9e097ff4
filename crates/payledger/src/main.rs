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
//! - `backup`, `restore`: a consistent copy of the store, taken through a
//!   running server's admin socket or from a stopped store, and its
//!   restoration into an empty data directory.
//! - `config check`: a TOML configuration of `serve` checked and shown
//!   (`config` also merges it into `serve`'s flags).

mod admin;
mod backup;
mod cli;
mod clients;
mod config;
mod export;
mod keys;
mod merchants;
mod progress;
mod psp;
mod replay;
mod serve;
mod shutdown;
mod status;
mod verify;

use clap::{CommandFactory, FromArgMatches};

/// mimalloc: the server allocates many short-lived buffers per request
/// (JSON, protobuf, batches); glibc malloc showed as ~15% of CPU under load.
/// Built without transparent huge pages (`no_thp` in the workspace's
/// Cargo.toml): faulting them in stalled requests for tens of milliseconds.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let matches = cli::Cli::command().get_matches();
    let cli = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match cli.command {
        cli::Command::Serve(mut args) => {
            if let Some(path) = args.config.clone() {
                let serve = matches.subcommand_matches("serve").expect("serve matched");
                config::apply(&mut args, config::ConfigFile::load(&path)?, serve);
            }
            serve::run(&args)
        }
        cli::Command::Config(args) => match &args.action {
            cli::ConfigAction::Check { file } => config::check(file),
        },
        cli::Command::Clients(args) => clients::run(&args),
        cli::Command::Merchants(args) => merchants::run(&args),
        cli::Command::Keys(args) => keys::run(&args),
        cli::Command::Status(args) => status::run(&args),
        cli::Command::Verify(args) => verify::run(&args),
        cli::Command::Replay(args) => replay::run(&args),
        cli::Command::Export(args) => export::run(&args),
        cli::Command::Backup(args) => backup::run_backup(&args),
        cli::Command::Restore(args) => backup::run_restore(&args),
    }
}
