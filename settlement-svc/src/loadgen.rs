//! A Reconcile load generator: drives a running settlement-svc over gRPC with `concurrency`
//! in-flight calls and reports round trips per second and latency percentiles. Every request has a
//! fresh request_id (so each one is a durable write) and a deterministic, varied input.

use acorn_proto::{
    common::v1::Date,
    load,
    settlement::v1::{
        ExpenditureTotals, PreviewReconciliationRequest, Quality, ReconcileRequest,
        ReconciliationInput, Track, reconciliation_input::Experience,
        settlement_service_client::SettlementServiceClient,
    },
};

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
pub async fn run(args: load::Args) -> anyhow::Result<()> {
    let run_id = uuid::Uuid::now_v7().simple().to_string();
    let clients = args.channels("settlement-svc").await?;
    let clients = clients
        .into_iter()
        .map(SettlementServiceClient::new)
        .collect();
    let preview = args.preview;
    let report = load::closed_loop(clients, &args, move |mut client, i| {
        let req = request(&run_id, i);
        async move {
            if preview {
                let input = req.input;
                client
                    .preview_reconciliation(PreviewReconciliationRequest { input })
                    .await?;
            } else {
                client.reconcile(req).await?;
            }
            Ok(())
        }
    })
    .await?;
    let rpc = if preview {
        "PreviewReconciliation"
    } else {
        "Reconcile"
    };
    println!("{rpc}: {report}");
    Ok(())
}
