//! `keel`: the server and its command-line tools in one binary.

mod cli;
mod doctor;
mod flows;
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
    /// List, inspect, follow, cancel, terminate, signal and reset workflow executions.
    Execution(cli::execution::Args),
    /// Planned runs: starts saved for later, by hand or at a time.
    Plan(cli::plan::Args),
    /// Declarative YAML flows: apply, validate, list, show and run them.
    Flow(cli::flow::Args),
    /// Show the workers polling Keel.
    Worker(cli::worker::Args),
    /// Show task queues: pollers, backlog, oldest task.
    Queue(cli::queue::Args),
    /// List and create namespaces.
    Namespace(cli::namespace::Args),
    /// Execution counts, success rate, durations and throughput over a period.
    Analytics(cli::analytics::Args),
    /// Check that everything stored decodes; name each row that does not.
    Doctor(doctor::Args),
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
        Command::Execution(args) => runtime.block_on(cli::execution::run(args)),
        Command::Plan(args) => runtime.block_on(cli::plan::run(args)),
        Command::Flow(args) => runtime.block_on(cli::flow::run(args)),
        Command::Worker(args) => runtime.block_on(cli::worker::run(args)),
        Command::Queue(args) => runtime.block_on(cli::queue::run(args)),
        Command::Namespace(args) => runtime.block_on(cli::namespace::run(args)),
        Command::Analytics(args) => runtime.block_on(cli::analytics::run(args)),
        Command::Doctor(args) => runtime.block_on(doctor::run(args)),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("keel: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_verbs_arguments_are_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
