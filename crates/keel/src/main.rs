//! `keel`: the server and its command-line tools in one binary.

mod bench;
mod server;

use clap::{Parser, Subcommand};

/// Keel: a durable execution engine that speaks Temporal's API.
#[derive(Parser)]
#[command(name = "keel", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: Temporal gRPC API, HTTP, embedded SQLite.
    Server(server::Args),
    /// Measure a Temporal-API server (Keel or another) with real SDK workers and clients.
    Bench(bench::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("keel: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Server(args) => runtime.block_on(server::run(args)),
        Command::Bench(args) => runtime.block_on(bench::run(args)),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("keel: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
