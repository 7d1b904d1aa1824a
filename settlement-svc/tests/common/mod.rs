//! Fixtures shared by the settlement server's tests: the server on a SQLite ledger and the CMS rows
//! the tests reconcile.

#![allow(dead_code, unreachable_pub)]

use std::{path::Path, sync::Arc};

use acorn_proto::{
    common::v1::Date,
    ledger::Ledger,
    serve::ServeArgs,
    settlement::v1::{
        BenchmarkReference, ExpenditureTotals, MinimumSavingsRateOption, MsrBand,
        PioneerArrangement, Quality, ReconcileRequest, Reconciliation, ReconciliationInput, Track,
        reconciliation_input::Experience, settlement_service_client::SettlementServiceClient,
        settlement_service_server::SettlementServiceServer,
    },
};
use acorn_testkit::Running;
use settlement_svc::{benchmarks::BenchmarkSource, server::SettlementApi};
use tonic::{service::Routes, transport::Channel};

/// The settlement server on the ledger `db`, reading benchmarks by reference from `benchmarks`.
pub async fn start(
    db: &Path,
    benchmarks: Option<Arc<dyn BenchmarkSource>>,
    args: ServeArgs,
) -> Running {
    let store = Ledger::open(db).await.expect("open ledger");
    let routes = Routes::new(SettlementServiceServer::new(SettlementApi::new(
        store, benchmarks,
    )));
    Running::start(routes, "acorn.settlement.v1.SettlementService", args).await
}

/// The reconciliation Reconcile records for `request` (`what` names the call).
pub async fn reconciled(
    client: &mut SettlementServiceClient<Channel>,
    request: ReconcileRequest,
    what: &str,
) -> Reconciliation {
    let response = client.reconcile(request).await.expect(what);
    response
        .into_inner()
        .reconciliation
        .expect("reconciliation")
}

pub use acorn_testkit::fixtures::a1215;

/// [`a1215`] with its benchmark given by reference to the benchmark `id`.
pub fn a1215_by_reference(id: &str) -> ReconciliationInput {
    let mut input = a1215();
    input.experience = by_reference(id, "812497275");
    input
}

/// Genesys PHO's PY2012 as a Pioneer ACO (mssp-rules.md section 5): 15,000 beneficiaries, a
/// 175,000,000 benchmark, the given expenditures and arrangement.
pub fn genesys(expenditures: &str, arrangement: Option<PioneerArrangement>) -> ReconciliationInput {
    ReconciliationInput {
        aco_id: "PIONEER-GENESYS".into(),
        performance_year: 2012,
        agreement_start_date: date(2012, 1, 1),
        track: Track::Pioneer.into(),
        assigned_beneficiaries: 15_000,
        experience: totals("175000000", expenditures),
        quality: quality(0, "1"),
        msr_option: MinimumSavingsRateOption::Fixed10.into(),
        pioneer_arrangement: arrangement,
        ..Default::default()
    }
}

/// Genesys PHO's own arrangement: a 2% MLR and the given shared loss rate (core sharing rate).
pub fn genesys_arrangement(shared_loss_rate: &str) -> PioneerArrangement {
    PioneerArrangement {
        minimum_loss_rate: "0.02".into(),
        shared_loss_rate: shared_loss_rate.into(),
        sharing_rate: String::new(),
    }
}

/// Experience as totals: the updated benchmark and the expenditures, total dollars.
pub fn totals(updated_benchmark: &str, expenditures: &str) -> Option<Experience> {
    Some(Experience::Totals(ExpenditureTotals {
        updated_benchmark: updated_benchmark.into(),
        expenditures: expenditures.into(),
    }))
}

/// Experience as a benchmark recorded by benchmark-svc and the expenditures, total dollars.
pub fn by_reference(benchmark_id: &str, expenditures: &str) -> Option<Experience> {
    Some(Experience::BenchmarkReference(BenchmarkReference {
        benchmark_id: benchmark_id.into(),
        expenditures: expenditures.into(),
    }))
}

/// A quality result (`standard` as the contract's enum number).
pub fn quality(standard: i32, score: &str) -> Option<Quality> {
    Some(Quality {
        standard,
        score: score.into(),
    })
}

/// A contract date.
pub fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

/// An MSR schedule of one band: `rate` from `min_beneficiaries` up.
pub fn flat_schedule(min_beneficiaries: u64, rate: &str) -> Vec<MsrBand> {
    vec![MsrBand {
        min_beneficiaries,
        max_beneficiaries: 0,
        rate_at_min: rate.into(),
        rate_at_max: rate.into(),
    }]
}

/// A `Reconcile` request.
pub fn reconcile(request_id: &str, input: ReconciliationInput) -> ReconcileRequest {
    ReconcileRequest {
        request_id: request_id.into(),
        input: Some(input),
    }
}
