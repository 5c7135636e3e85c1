//! `keel-bench`: the headline workload against any Temporal-API server
//! (`cargo run --release -p keel-bench -- --address HOST:PORT`).
//!
//! A workflow of three sequential no-op activities, run by an SDK worker in this process and
//! started and awaited by an SDK client. Two measurements: completed workflows per second
//! with `--concurrency` workflows in flight, and end-to-end latency one workflow at a time.
//!
//! Given several addresses (nodes sharing one database), it runs one worker per node and
//! starts each workflow through one node and awaits its result through the next, so tasks,
//! timers and results all cross nodes.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use temporalio_client::{
    Client, ClientOptions, Connection, ConnectionOptions, Url, WorkflowGetResultOptions,
    WorkflowStartOptions,
};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::runtime::RuntimeOptions;
use temporalio_sdk::{
    ActivityOptions, Runtime, Worker, WorkerOptions, WorkflowContext, WorkflowResult,
};
use tokio::sync::Semaphore;

/// Measure a Temporal-API server (Keel or another) with real SDK workers and clients.
#[derive(clap::Parser)]
#[command(name = "keel-bench", version, about)]
pub struct Args {
    /// The server to measure, HOST:PORT; several nodes of one cluster comma-separated.
    #[arg(long, default_value = "127.0.0.1:7233", value_delimiter = ',')]
    address: Vec<String>,
    #[arg(long, default_value = "default")]
    namespace: String,
    /// Workflows for the throughput run.
    #[arg(long, default_value_t = 1000)]
    workflows: usize,
    /// Workflows in flight during the throughput run.
    #[arg(long, default_value_t = 100)]
    concurrency: usize,
    /// Workflows run one at a time for the latency figures.
    #[arg(long, default_value_t = 200)]
    latency_samples: usize,
}

pub struct BenchActivities;

#[activities]
impl BenchActivities {
    #[activity]
    pub async fn noop(_ctx: ActivityContext, step: u32) -> Result<u32, ActivityError> {
        Ok(step)
    }
}

#[workflow]
#[derive(Default)]
pub struct ThreeSteps;

#[workflow_methods]
impl ThreeSteps {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, _input: u32) -> WorkflowResult<u32> {
        let mut total = 0;
        for step in 1..=3u32 {
            let options = ActivityOptions::start_to_close_timeout(Duration::from_secs(30));
            total += ctx
                .execute_activity(BenchActivities::noop, step, options)
                .await?;
        }
        Ok(total)
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    use clap::Parser;
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("keel-bench: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<()> {
    let runtime = Runtime::from_current_tokio(RuntimeOptions::default())?;
    let mut clients = Vec::new();
    for address in &args.address {
        clients.push(connect(address, &args.namespace).await?);
    }
    let task_queue = format!("keel-bench-{}", uuid::Uuid::new_v4());
    let mut workers = Vec::new();
    for client in &clients {
        let worker_options = WorkerOptions::new(&task_queue)
            .register_workflow::<ThreeSteps>()?
            .register_activities(BenchActivities)
            .graceful_shutdown_period(Duration::from_secs(2))
            .build();
        workers.push(Worker::new(&runtime, client.clone(), worker_options)?);
    }
    let shutdowns: Vec<_> = workers.iter().map(|w| w.shutdown_handle()).collect();
    let body = async {
        let result = measure(&clients, &task_queue, &args).await;
        for shutdown in &shutdowns {
            shutdown();
        }
        result
    };
    let runs = futures::future::join_all(workers.iter_mut().map(|worker| worker.run()));
    let (worker_results, body_result) = tokio::join!(runs, body);
    for result in worker_results {
        result?;
    }
    body_result
}

async fn connect(address: &str, namespace: &str) -> Result<Client> {
    let url = Url::from_str(&format!("http://{address}"))
        .with_context(|| format!("invalid --address {address}"))?;
    let connection = Connection::connect(
        ConnectionOptions::new(url)
            .identity("keel-bench".to_owned())
            .build(),
    )
    .await
    .with_context(|| format!("cannot connect to {address}"))?;
    Ok(Client::new(
        connection,
        ClientOptions::new(namespace.to_owned()).build(),
    )?)
}

/// Starts a workflow through `starter` and awaits its result through `awaiter`.
async fn run_one(
    starter: &Client,
    awaiter: &Client,
    task_queue: &str,
    workflow_id: String,
) -> Result<Duration> {
    let started = Instant::now();
    starter
        .start_workflow(
            ThreeSteps::run,
            0u32,
            WorkflowStartOptions::new(task_queue, &workflow_id).build(),
        )
        .await
        .with_context(|| format!("starting {workflow_id}"))?;
    let total = awaiter
        .get_workflow_handle::<ThreeSteps>(&workflow_id)
        .get_result(WorkflowGetResultOptions::default())
        .await
        .with_context(|| format!("awaiting {workflow_id}"))?;
    anyhow::ensure!(total == 6, "{workflow_id} returned {total}, expected 6");
    Ok(started.elapsed())
}

async fn measure(clients: &[Client], task_queue: &str, args: &Args) -> Result<()> {
    let prefix = uuid::Uuid::new_v4();
    let pair = |i: usize| {
        (
            &clients[i % clients.len()],
            &clients[(i + 1) % clients.len()],
        )
    };
    // Warm up connections and the worker's caches.
    for i in 0..5 {
        let (starter, awaiter) = pair(i);
        run_one(starter, awaiter, task_queue, format!("warmup-{prefix}-{i}")).await?;
    }

    let limit = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let started = Instant::now();
    let mut runs = tokio::task::JoinSet::new();
    for i in 0..args.workflows {
        let permit = limit.clone().acquire_owned().await?;
        let (starter, awaiter) = pair(i);
        let (starter, awaiter) = (starter.clone(), awaiter.clone());
        let task_queue = task_queue.to_owned();
        let workflow_id = format!("throughput-{prefix}-{i}");
        runs.spawn(async move {
            let result = run_one(&starter, &awaiter, &task_queue, workflow_id).await;
            drop(permit);
            result
        });
    }
    while let Some(result) = runs.join_next().await {
        result??;
    }
    let elapsed = started.elapsed();
    let throughput = args.workflows as f64 / elapsed.as_secs_f64();

    let mut latencies = Vec::with_capacity(args.latency_samples);
    for i in 0..args.latency_samples {
        let (starter, awaiter) = pair(i);
        let workflow_id = format!("latency-{prefix}-{i}");
        latencies.push(run_one(starter, awaiter, task_queue, workflow_id).await?);
    }
    latencies.sort();
    let percentile = |p: f64| -> Duration {
        if latencies.is_empty() {
            return Duration::ZERO;
        }
        let index = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[index]
    };
    println!("server: {}", args.address.join(", "));
    println!(
        "throughput: {throughput:.1} workflows/s ({} workflows, {} in flight, {:.2} s)",
        args.workflows,
        args.concurrency,
        elapsed.as_secs_f64()
    );
    println!(
        "latency one at a time ({} samples): p50 {:.2} ms, p99 {:.2} ms",
        latencies.len(),
        percentile(0.50).as_secs_f64() * 1000.0,
        percentile(0.99).as_secs_f64() * 1000.0
    );
    Ok(())
}
