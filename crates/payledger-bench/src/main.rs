//! `payledger-bench`: the benchmark harness and the crash test's stress
//! writer, kept out of the server binary so that it carries no test-only
//! code, certificates or keys.
//!
//! - `append`, `http`, `relay`, `webhooks`, `psp`, `messages`: benchmarks that measure
//!   their own baseline in the same run and print the figures BENCHMARKS.md
//!   records.
//! - `stress`: appends until killed, printing every acknowledged append;
//!   the SIGKILL crash test drives it.

mod bench;
mod cli;
mod stress;

use clap::Parser;

/// The allocator the server uses, so the figures match it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    match cli::Cli::parse().command {
        cli::Command::Append(args) => bench::append(&args),
        cli::Command::Http(args) => bench::http(&args),
        cli::Command::Load(args) => bench::load(&args),
        cli::Command::Overload(args) => bench::overload(&args),
        cli::Command::Relay(args) => bench::relay(&args),
        cli::Command::Webhooks(args) => bench::webhooks(&args),
        cli::Command::Psp(args) => bench::psp(&args),
        cli::Command::Tokenization(args) => bench::tokenization(&args),
        cli::Command::Audit(args) => bench::audit(&args),
        cli::Command::Messages(args) => bench::messages(&args),
        cli::Command::Stress(args) => stress::run(&args),
    }
}
