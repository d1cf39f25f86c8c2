//! `lifeline`: make keys, issue, verify and inspect Lifeline licenses.
//!
//! Exit codes: 0 success (for `verify`: `valid` or `grace`), 1 the license is not usable
//! (or cannot be decoded), 2 usage or I/O error (message on stderr, nothing on stdout).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod audit;
mod check;
mod drill;
mod failure;
mod files;
mod inspect;
mod issue;
mod keygen;
mod keys_cmd;
mod override_cmd;
mod progress;
mod provision;
mod remote;
mod seat;
mod serve;
mod verify;

use failure::CliError;

/// mimalloc instead of the system allocator: `lifeline serve` allocates per request (HTTP,
/// JSON, the answer), and glibc's malloc was a tenth of `validate`'s time (see the README's
/// benchmark notes).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Lifeline: Ed25519-signed licenses that keep working when things break.
#[derive(Debug, Parser)]
#[command(name = "lifeline", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Keygen(keygen::Args),
    Keys(keys_cmd::Args),
    Issue(issue::Args),
    Verify(verify::Args),
    Inspect(inspect::Args),
    Serve(serve::Args),
    Provision(provision::Args),
    Audit(audit::Args),
    Override(override_cmd::Args),
    Check(check::Args),
    Drill(drill::Args),
    Seat(seat::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Keygen(args) => keygen::run(&args),
        Command::Keys(args) => keys_cmd::run(&args),
        Command::Issue(args) => issue::run(&args),
        Command::Verify(args) => verify::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Provision(args) => provision::run(&args),
        Command::Audit(args) => audit::run(&args),
        Command::Override(args) => override_cmd::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Drill(args) => drill::run(&args),
        Command::Seat(args) => seat::run(&args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("{error}");
            CliError::exit_code()
        }
    }
}
