//! A ComputeBenchmark load generator: drives a running benchmark-svc over gRPC with `concurrency`
//! in-flight calls and reports round trips per second and latency percentiles. Every request has a
//! fresh request_id (so each one is a durable write) and a deterministic, varied input.

use std::time::{Duration, Instant};

use acorn_proto::{
    benchmark::v1::{
        BenchmarkInput, BenchmarkYear, ComputeBenchmarkRequest, EnrollmentTypeAggregate,
        EnrollmentTypeAmount, PreviewBenchmarkRequest,
        benchmark_service_client::BenchmarkServiceClient,
    },
    common::v1::{Date, EnrollmentType},
};
use anyhow::Context;

/// Load generator flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Server address.
    #[arg(long, default_value = "http://127.0.0.1:50052")]
    pub target: String,
    /// Total calls.
    #[arg(long, default_value_t = 100_000)]
    pub requests: u64,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: u64,
    /// Number of HTTP/2 connections the calls are spread over.
    #[arg(long, default_value_t = 4)]
    pub connections: u64,
    /// Call PreviewBenchmark (compute only) instead of ComputeBenchmark (compute and record).
    #[arg(long)]
    pub preview: bool,
}

const TYPES: [EnrollmentType; 4] = [
    EnrollmentType::Esrd,
    EnrollmentType::Disabled,
    EnrollmentType::AgedDual,
    EnrollmentType::AgedNonDual,
];

fn amounts(values: [&str; 4]) -> Vec<EnrollmentTypeAmount> {
    TYPES
        .iter()
        .zip(values)
        .map(|(t, v)| EnrollmentTypeAmount {
            enrollment_type: (*t).into(),
            amount: v.into(),
        })
        .collect()
}

/// A deterministic, varied first-agreement (2014 start) benchmark input for call `i`.
pub fn input(i: u64) -> BenchmarkInput {
    let base = [
        80_000 + i % 5_000,
        12_000 + i % 900,
        18_000 + i % 700,
        10_000 + i % 1_000,
    ];
    let people = [
        100 + i % 50,
        1_000 + i % 300,
        900 + i % 200,
        8_000 + i % 4_000,
    ];
    BenchmarkInput {
        aco_id: format!("A{}", 1000 + i % 500),
        agreement_start_date: Some(Date {
            year: 2014,
            month: 1,
            day: 1,
        }),
        agreement_period: 1,
        benchmark_years: (0..3u64)
            .map(|k| BenchmarkYear {
                year: 2011 + k as i32,
                enrollment_types: TYPES
                    .iter()
                    .enumerate()
                    .map(|(e, t)| EnrollmentTypeAggregate {
                        enrollment_type: (*t).into(),
                        person_years: people[e].to_string(),
                        per_capita_expenditures: (base[e] + 250 * k).to_string(),
                        risk_score: format!("1.{:03}", (i + 37 * k + 11 * e as u64) % 200),
                    })
                    .collect(),
            })
            .collect(),
        trend_by1_to_by3: amounts(["1.05", "1.06", "1.04", "1.05"]),
        trend_by2_to_by3: amounts(["1.02", "1.03", "1.02", "1.025"]),
        ..Default::default()
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
        clients.push(BenchmarkServiceClient::new(channel));
    }
    let started = Instant::now();
    let concurrency = args.concurrency.max(1);
    let per_worker = args.requests / concurrency;
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let mut client = clients[(w as usize) % clients.len()].clone();
        let run_id = run_id.clone();
        let preview = args.preview;
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_worker as usize);
            for k in 0..per_worker {
                let i = w * per_worker + k;
                let t = Instant::now();
                if preview {
                    client
                        .preview_benchmark(PreviewBenchmarkRequest {
                            input: Some(input(i)),
                            performance_year: None,
                        })
                        .await?;
                } else {
                    client
                        .compute_benchmark(ComputeBenchmarkRequest {
                            request_id: format!("{run_id}-{i}"),
                            input: Some(input(i)),
                        })
                        .await?;
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
            "PreviewBenchmark"
        } else {
            "ComputeBenchmark"
        },
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        concurrency,
        args.connections,
    );
    Ok(())
}
