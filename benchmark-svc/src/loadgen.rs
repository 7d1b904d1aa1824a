//! A ComputeBenchmark load generator: drives a running benchmark-svc over gRPC with `concurrency`
//! in-flight calls and reports round trips per second and latency percentiles. Every request has a
//! fresh request_id (so each one is a durable write) and a deterministic, varied input.

use acorn_proto::{
    benchmark::v1::{
        BenchmarkInput, BenchmarkYear, ComputeBenchmarkRequest, EnrollmentTypeAggregate,
        EnrollmentTypeAmount, PreviewBenchmarkRequest,
        benchmark_service_client::BenchmarkServiceClient,
    },
    common::v1::{Date, EnrollmentType},
    load,
};

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
pub async fn run(args: load::Args) -> anyhow::Result<()> {
    let run_id = uuid::Uuid::now_v7().simple().to_string();
    let clients = args.channels("benchmark-svc").await?;
    let clients = clients
        .into_iter()
        .map(BenchmarkServiceClient::new)
        .collect();
    let preview = args.preview;
    let report = load::closed_loop(clients, &args, move |mut client, i| {
        let request_id = format!("{run_id}-{i}");
        async move {
            if preview {
                let request = PreviewBenchmarkRequest {
                    input: Some(input(i)),
                    performance_year: None,
                };
                client.preview_benchmark(request).await?;
            } else {
                let request = ComputeBenchmarkRequest {
                    request_id,
                    input: Some(input(i)),
                };
                client.compute_benchmark(request).await?;
            }
            Ok(())
        }
    })
    .await?;
    let rpc = if preview {
        "PreviewBenchmark"
    } else {
        "ComputeBenchmark"
    };
    println!("{rpc}: {report}");
    Ok(())
}
