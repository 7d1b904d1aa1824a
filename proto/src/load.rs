//! Closed-loop load for unary RPCs: `concurrency` workers spread over `connections` HTTP/2
//! connections each send their share of `requests` calls back to back; the report gives round trips
//! per second and latency percentiles. The services' `loadgen` subcommands build their requests and
//! hand them to [`closed_loop`].

use std::{
    future::Future,
    time::{Duration, Instant},
};

use anyhow::Context;
use tonic::transport::{Channel, Endpoint};

/// Load generator flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Server address [default: http://127.0.0.1 and the service's port].
    #[arg(long)]
    pub target: Option<String>,
    /// Total calls.
    #[arg(long, default_value_t = 100_000)]
    pub requests: u64,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: u64,
    /// Number of HTTP/2 connections the calls are spread over.
    #[arg(long, default_value_t = 4)]
    pub connections: u64,
    /// Call the compute-only RPC instead of the recording one.
    #[arg(long)]
    pub preview: bool,
}

impl Args {
    /// Opens `--connections` channels to `--target` (or the service's default address).
    pub async fn channels(&self, service: &str) -> anyhow::Result<Vec<Channel>> {
        let target = self.target.clone().unwrap_or_else(|| {
            let port = crate::serve::DEFAULT_PORTS
                .iter()
                .find(|(name, _)| *name == service)
                .map_or(0, |(_, port)| *port);
            format!("http://127.0.0.1:{port}")
        });
        let mut channels = Vec::new();
        for _ in 0..self.connections.max(1) {
            let channel = Endpoint::from_shared(target.clone())?
                .tcp_nodelay(true)
                .connect()
                .await
                .with_context(|| format!("connecting to {target}"))?;
            channels.push(channel);
        }
        Ok(channels)
    }
}

/// What a load run measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Calls completed.
    pub calls: usize,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Workers.
    pub concurrency: u64,
    /// Connections.
    pub connections: usize,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} calls in {:.2}s: {:.0} round trips/s; latency p50 {:.2} ms, p99 {:.2} ms (concurrency {}, connections {})",
            self.calls,
            self.elapsed.as_secs_f64(),
            self.calls as f64 / self.elapsed.as_secs_f64(),
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3,
            self.concurrency,
            self.connections,
        )
    }
}

/// Runs `requests` calls (rounded down to a multiple of `concurrency`): call `i` is `call(client, i)`
/// with the workers' clients taken round-robin from `clients`. Fails on the first failed call.
pub async fn closed_loop<C, F, Fut>(clients: Vec<C>, args: &Args, call: F) -> anyhow::Result<Report>
where
    C: Clone + Send + 'static,
    F: Fn(C, u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), tonic::Status>> + Send,
{
    anyhow::ensure!(!clients.is_empty(), "no connections");
    let concurrency = args.concurrency.max(1);
    let per_worker = args.requests / concurrency;
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let client = clients[(w as usize) % clients.len()].clone();
        let call = call.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_worker as usize);
            for k in 0..per_worker {
                let t = Instant::now();
                call(client.clone(), w * per_worker + k).await?;
                latencies.push(t.elapsed());
            }
            Ok::<_, tonic::Status>(latencies)
        }));
    }
    let mut latencies: Vec<Duration> = Vec::new();
    for w in workers {
        latencies.extend(w.await??);
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let pct = |p: f64| {
        let i = ((latencies.len().saturating_sub(1)) as f64 * p) as usize;
        latencies.get(i).copied().unwrap_or_default()
    };
    Ok(Report {
        calls: latencies.len(),
        elapsed,
        p50: pct(0.5),
        p99: pct(0.99),
        concurrency,
        connections: clients.len(),
    })
}
