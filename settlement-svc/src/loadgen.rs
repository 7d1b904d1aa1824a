//! A Reconcile load generator: drives a running settlement-svc over gRPC with `concurrency`
//! in-flight calls and reports round trips per second and latency percentiles. Every request has a
//! fresh request_id (so each one is a durable write) and a deterministic, varied input.

use std::time::{Duration, Instant};

use acorn_proto::{
    common::v1::Date,
    settlement::v1::{
        ExpenditureTotals, PreviewReconciliationRequest, Quality, ReconcileRequest,
        ReconciliationInput, Track, reconciliation_input::Experience,
        settlement_service_client::SettlementServiceClient,
    },
};
use anyhow::Context;

/// Load generator flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Server address.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    pub target: String,
    /// Total Reconcile calls.
    #[arg(long, default_value_t = 100_000)]
    pub requests: u64,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: u64,
    /// Number of HTTP/2 connections the calls are spread over.
    #[arg(long, default_value_t = 4)]
    pub connections: u64,
    /// Call PreviewReconciliation (compute only) instead of Reconcile (compute and record).
    #[arg(long)]
    pub preview: bool,
}

/// A deterministic, varied Track 1 PY2018 reconciliation for call `i`.
pub fn request(run: &str, i: u64) -> ReconcileRequest {
    let n = 5_000 + (i * 7_919) % 95_000;
    let benchmark = 10_000 * n;
    let expenditures = benchmark - benchmark * (i % 97) / 1_000;
    ReconcileRequest {
        request_id: format!("{run}-{i}"),
        input: Some(ReconciliationInput {
            aco_id: format!("A{}", 1000 + i % 500),
            performance_year: 2018,
            agreement_start_date: Some(Date {
                year: 2016,
                month: 1,
                day: 1,
            }),
            track: Track::Track1.into(),
            assigned_beneficiaries: n,
            experience: Some(Experience::Totals(ExpenditureTotals {
                updated_benchmark: benchmark.to_string(),
                expenditures: expenditures.to_string(),
            })),
            quality: Some(Quality {
                standard: 0,
                score: format!("0.{}", 80 + i % 20),
            }),
            ..Default::default()
        }),
    }
}

/// Runs the load and prints the figures.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let run_id = uuid::Uuid::now_v7().simple().to_string();
    let mut clients = Vec::new();
    for _ in 0..args.connections.max(1) {
        let channel = tonic::transport::Endpoint::from_shared(args.target.clone())?
            .tcp_nodelay(true)
            .connect()
            .await
            .with_context(|| format!("connecting to {}", args.target))?;
        clients.push(SettlementServiceClient::new(channel));
    }
    let started = Instant::now();
    let per_worker = args.requests / args.concurrency.max(1);
    let mut workers = Vec::new();
    for w in 0..args.concurrency.max(1) {
        let mut client = clients[(w as usize) % clients.len()].clone();
        let run_id = run_id.clone();
        let preview = args.preview;
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_worker as usize);
            for k in 0..per_worker {
                let req = request(&run_id, w * per_worker + k);
                let t = Instant::now();
                if preview {
                    let input = req.input;
                    client
                        .preview_reconciliation(PreviewReconciliationRequest { input })
                        .await?;
                } else {
                    client.reconcile(req).await?;
                }
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
        latencies
            .get(((latencies.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or_default()
    };
    println!(
        "{} {} calls in {:.2}s: {:.0} round trips/s; latency p50 {:.2} ms, p99 {:.2} ms (concurrency {}, connections {})",
        latencies.len(),
        if args.preview {
            "PreviewReconciliation"
        } else {
            "Reconcile"
        },
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        args.concurrency,
        args.connections,
    );
    Ok(())
}
