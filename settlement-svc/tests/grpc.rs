//! The real server on 127.0.0.1 through the generated client: reconcile, read back after a restart on
//! the same SQLite file, idempotent retries, conflicting reuse, pagination, bad input, health and
//! reflection.

mod common;

use std::{path::Path, sync::Arc};

use common::{
    a1215, a1215_by_reference, date, flat_schedule, genesys, genesys_arrangement, quality,
    reconcile, reconciled, totals,
};

use acorn_proto::{
    common::v1::EnrollmentType,
    settlement::v1::{
        self as pb, EnrollmentTypeBreakdown, EnrollmentTypeExperience, ExtremeUncontrollable,
        MinimumSavingsRateOption, ReconcileRequest, ReconciliationInput, Track,
        extreme_uncontrollable::Reduction, reconciliation_input::Experience,
        settlement_service_client::SettlementServiceClient,
    },
};
use acorn_testkit::{Running, assert_refused, bad_request_fields, listed, serve_args};
use rust_decimal_macros::dec;
use settlement_svc::benchmarks::{BenchmarkSource, InMemoryBenchmarks, RecordedBenchmark};
use tempfile::TempDir;
use tonic::{Code, transport::Channel};

async fn start(db: &Path) -> Running {
    start_with(db, None).await
}

async fn start_with(db: &Path, benchmarks: Option<Arc<dyn BenchmarkSource>>) -> Running {
    common::start(db, benchmarks, serve_args()).await
}

/// The name of the test server's SQLite file.
const DB: &str = "ledger.db";

/// The server on a ledger of its own (hold the folder to the end of the test), and a client of it.
async fn served() -> (TempDir, Running, SettlementServiceClient<Channel>) {
    acorn_testkit::served(DB, start, SettlementServiceClient::new).await
}

/// `PreviewReconciliation` of `input`: the computed result.
async fn preview(
    client: &mut SettlementServiceClient<Channel>,
    input: ReconciliationInput,
) -> pb::SettlementResult {
    client
        .preview_reconciliation(pb::PreviewReconciliationRequest { input: Some(input) })
        .await
        .expect("preview")
        .into_inner()
        .result
        .expect("result")
}

/// The corridor a `GetMinimumSavingsRate` answer states: (MSR, MLR).
fn corridor(r: &pb::GetMinimumSavingsRateResponse) -> (&str, &str) {
    (
        r.minimum_savings_rate.as_str(),
        r.minimum_loss_rate.as_str(),
    )
}

async fn count(client: &mut SettlementServiceClient<Channel>) -> usize {
    let list = |page_token| pb::ListReconciliationsRequest {
        page_token,
        ..Default::default()
    };
    acorn_testkit::count(async |token| client.list_reconciliations(list(token)).await).await
}

#[tokio::test]
async fn reconcile_survives_a_restart_and_is_idempotent() {
    let (dir, server, mut client) = served().await;
    let db = dir.path().join(DB);

    let rec = reconciled(&mut client, reconcile("req-1", a1215()), "reconcile").await;
    let result = rec.result.clone().expect("result");
    assert_eq!(result.net_amount, "-6101212.20");
    assert_eq!(result.shared_loss_rate, "0.4");
    assert_eq!(result.outcome(), pb::Outcome::SharedLosses);
    assert!(
        result
            .explanation
            .iter()
            .any(|s| s.citation.contains("425.610(f)"))
    );

    // A retry returns the stored reconciliation; the same id with another input is ALREADY_EXISTS.
    let retry = reconciled(&mut client, reconcile("req-1", a1215()), "retry").await;
    assert_eq!(retry, rec);
    let mut other = a1215();
    other.assigned_beneficiaries += 1;
    let conflict = client
        .reconcile(reconcile("req-1", other))
        .await
        .expect_err("conflict");
    assert_eq!(conflict.code(), Code::AlreadyExists);
    assert_eq!(count(&mut client).await, 1);

    let (server, mut client) =
        acorn_testkit::restart(server, &db, start, SettlementServiceClient::new).await;
    let got = client
        .get_reconciliation(pb::GetReconciliationRequest { id: rec.id.clone() })
        .await
        .expect("get after restart")
        .into_inner();
    assert_eq!(got.reconciliation, Some(rec));
    let missing = pb::GetReconciliationRequest { id: "nope".into() };
    let missing = client.get_reconciliation(missing).await;
    assert_refused(Code::NotFound, "not found", missing);
    server.stop().await;
}

#[tokio::test]
async fn lists_by_aco_and_year_with_pagination() {
    let (_dir, server, mut client) = served().await;
    for i in 0..5 {
        let mut input = a1215();
        input.aco_id = if i % 2 == 0 { "A1".into() } else { "A2".into() };
        reconciled(&mut client, reconcile(&format!("r{i}"), input), "reconcile").await;
    }
    let list = |page_token| pb::ListReconciliationsRequest {
        aco_id: "A1".into(),
        performance_year: 2018,
        page_size: 2,
        page_token,
    };
    let (records, _) = listed(async |token| client.list_reconciliations(list(token)).await).await;
    let ids: Vec<String> = records.into_iter().map(|r| r.request_id).collect();
    assert_eq!(ids, ["r4", "r2", "r0"]);
    let bad = client
        .list_reconciliations(pb::ListReconciliationsRequest {
            page_token: "garbage".into(),
            ..Default::default()
        })
        .await;
    assert_refused(Code::InvalidArgument, "bad token", bad);
    server.stop().await;
}

/// Each bad input is INVALID_ARGUMENT naming the field, and nothing is stored.
#[tokio::test]
async fn bad_input_names_the_field_and_stores_nothing() {
    let (_dir, server, mut client) = served().await;
    // Totals that are no benchmark and expenditures: (field, updated benchmark, expenditures).
    let bad_totals = [
        ("input.totals.expenditures", "100", "-1"),
        ("input.totals.updated_benchmark", "12abc", "1"),
        ("input.totals.updated_benchmark", "0", "1"),
        ("input.totals.expenditures", "100", "NaN"),
        ("input.totals.expenditures", "100", "Infinity"),
        ("input.totals.expenditures", "100", "1e9"),
        // Section 5 of the conformance issue: a tiny benchmark (or a cent against 1e27 of
        // expenditures) overflowed the savings rate and panicked the handler (CANCELLED).
        (
            "input.totals.updated_benchmark",
            "0.0000000000000000000000000001",
            "812497275",
        ),
        (
            "input.totals.updated_benchmark",
            "0.01",
            "1000000000000000000000000000",
        ),
    ];
    type Edit = fn(&mut ReconciliationInput);
    let edits: Vec<(&str, Edit)> = vec![
        ("input.track", |i| i.track = 0),
        ("input.track", |i| i.track = 99),
        ("input.msr_option", |i| i.msr_option = 42),
        ("input.quality.score", |i| i.quality = quality(0, "1.5")),
        ("input.quality.score", |i| i.quality = quality(0, "-0.1")),
        ("input.quality.standard", |i| i.quality = quality(7, "0.5")),
        ("input.aco_id", |i| i.aco_id.clear()),
        ("input.agreement_start_date", |i| {
            i.agreement_start_date = date(2016, 2, 30)
        }),
        ("input.agreement_start_date", |i| {
            i.agreement_start_date = None
        }),
        ("input.performance_year", |i| i.performance_year = 1999),
        ("input.totals", |i| i.experience = None),
        ("input.msr_option", |i| i.msr_option = 0),
        ("input.msr_schedule", |i| {
            // A supplied schedule that starts above the ACO's population.
            i.assigned_beneficiaries = 4_000;
            i.msr_option = MinimumSavingsRateOption::Variable.into();
            i.msr_schedule = flat_schedule(5_000, "0.02");
        }),
        // 425.200: no agreement starts 2016-03-01; Track 3 from 2016 has no PY2020 (its term
        // ended with the 6-month PY2019).
        ("input.agreement_start_date", |i| {
            i.agreement_start_date = date(2016, 3, 1)
        }),
        ("input.performance_year", |i| i.performance_year = 2020),
        // Pioneer arrangement: fractions in [0, 1], TRACK_PIONEER only.
        ("input.pioneer_arrangement", |i| {
            i.pioneer_arrangement = Some(pb::PioneerArrangement {
                shared_loss_rate: "0.5".into(),
                ..Default::default()
            })
        }),
        ("input.pioneer_arrangement.minimum_loss_rate", |i| {
            i.track = Track::Pioneer.into();
            i.pioneer_arrangement = Some(pb::PioneerArrangement {
                minimum_loss_rate: "1.2".into(),
                ..Default::default()
            })
        }),
        ("input.pioneer_arrangement.sharing_rate", |i| {
            i.track = Track::Pioneer.into();
            i.pioneer_arrangement = Some(pb::PioneerArrangement {
                sharing_rate: "-0.1".into(),
                ..Default::default()
            })
        }),
        // Pioneer PY3 (2014) is in the model's term but not modelled.
        ("input.performance_year", |i| {
            i.track = Track::Pioneer.into();
            i.performance_year = 2014;
            i.agreement_start_date = date(2012, 1, 1);
        }),
        ("input.track", |i| i.track = Track::BasicA.into()),
        ("input.participation_months", |i| {
            i.participation_months = 13
        }),
        ("input.by_enrollment_type.rows[0].enrollment_type", |i| {
            i.experience = Some(Experience::ByEnrollmentType(EnrollmentTypeBreakdown {
                rows: vec![EnrollmentTypeExperience {
                    enrollment_type: 0,
                    person_years: "1".into(),
                    updated_benchmark_per_capita: "1".into(),
                    expenditures_per_capita: "1".into(),
                }],
            }))
        }),
        ("input.by_enrollment_type.rows[1].enrollment_type", |i| {
            let row = EnrollmentTypeExperience {
                enrollment_type: EnrollmentType::Esrd.into(),
                person_years: "1".into(),
                updated_benchmark_per_capita: "1".into(),
                expenditures_per_capita: "1".into(),
            };
            i.experience = Some(Experience::ByEnrollmentType(EnrollmentTypeBreakdown {
                rows: vec![row.clone(), row],
            }))
        }),
        ("input.extreme_uncontrollable.amount", |i| {
            i.extreme_uncontrollable = Some(ExtremeUncontrollable {
                reduction: Some(Reduction::Amount("-5".into())),
            })
        }),
    ];
    let with_totals = bad_totals.map(|(field, benchmark, expenditures)| {
        let experience = totals(benchmark, expenditures);
        (
            field,
            ReconciliationInput {
                experience,
                ..a1215()
            },
        )
    });
    let edited = edits.into_iter().map(|(field, edit)| {
        let mut input = a1215();
        edit(&mut input);
        (field, input)
    });
    for (n, (field, input)) in with_totals.into_iter().chain(edited).enumerate() {
        let err = client
            .reconcile(reconcile(&format!("bad-{n}"), input))
            .await
            .expect_err(field);
        assert_eq!(
            err.code(),
            Code::InvalidArgument,
            "case {n} ({field}): {err:?}"
        );
        let fields = bad_request_fields(&err);
        assert!(
            fields.iter().any(|f| f == field),
            "case {n}: expected {field}, got {fields:?} ({})",
            err.message()
        );
    }
    let no_id = client
        .reconcile(reconcile("", a1215()))
        .await
        .expect_err("request_id");
    assert_eq!(no_id.code(), Code::InvalidArgument);
    let no_input = client
        .reconcile(ReconcileRequest {
            request_id: "x".into(),
            input: None,
        })
        .await;
    assert_refused(Code::InvalidArgument, "input", no_input);
    assert_eq!(count(&mut client).await, 0);
    server.stop().await;
}

#[tokio::test]
async fn preview_and_minimum_savings_rate() {
    let (_dir, server, mut client) = served().await;
    assert_eq!(
        preview(&mut client, a1215()).await.net_amount,
        "-6101212.20"
    );
    assert_eq!(count(&mut client).await, 0);

    let msr = |n: u64| pb::GetMinimumSavingsRateRequest {
        track: Track::Track1.into(),
        performance_year: 2014,
        agreement_start_date: date(2012, 7, 1),
        assigned_beneficiaries: n,
        ..Default::default()
    };
    let mut rate = async |n| {
        let answer = client.get_minimum_savings_rate(msr(n)).await;
        answer
            .unwrap_or_else(|e| panic!("msr {n}: {e:?}"))
            .into_inner()
    };
    assert_eq!(corridor(&rate(6_000).await), ("0.036", ""));
    // Below 5,000 the default is CMS's published scale, tagged with its source: PY2014 Track 1
    // with 4,845 assigned beneficiaries -> 3.984742371% (the PUF's MinSavPerc).
    for (n, prefix) in [(7_500, "0.0329989989"), (4_845, "0.03984742371")] {
        let msr = rate(n).await.minimum_savings_rate;
        assert!(msr.starts_with(prefix), "{n}: {msr}");
    }
    assert!(
        rate(4_845).await.explanation[0]
            .citation
            .contains("Tuva Project")
    );
    // A supplied schedule overrides it, and one that does not reach the ACO is refused.
    let mut supplied = msr(4_845);
    supplied.msr_schedule = flat_schedule(5_000, "0.02");
    let refused = client
        .get_minimum_savings_rate(supplied)
        .await
        .expect_err("schedule from 5,000");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains("5000"), "{}", refused.message());
    server.stop().await;
}

/// A Pioneer ACO with its own arrangement (the README example): Genesys PHO's PY2012, a 5,100,000
/// loss on a 175,000,000 benchmark (2.914%) shared at 50%, not the core 60% [S mssp-rules.md
/// section 5]: 2,550,000 owed. Without the arrangement the core 60% gives 3,060,000.
#[tokio::test]
async fn pioneer_arrangement() {
    let (_dir, server, mut client) = served().await;
    let mut input = genesys("180100000", Some(genesys_arrangement("0.5")));
    let r = preview(&mut client, input.clone()).await;
    assert_eq!(
        (
            r.minimum_savings_rate.as_str(),
            r.minimum_loss_rate.as_str(),
            r.shared_loss_rate.as_str(),
            r.net_amount.as_str()
        ),
        ("0.01", "0.02", "0.5", "-2550000.00")
    );
    assert!(
        r.explanation
            .iter()
            .any(|st| st.rule == "settlement.shared_loss_rate")
    );
    input.pioneer_arrangement = None;
    let core = preview(&mut client, input).await;
    assert_eq!(core.net_amount, "-3060000.00");
    server.stop().await;
}

/// GetMinimumSavingsRate answers the corridor Reconcile applies: for Genesys PHO's PY2012 (Pioneer,
/// 15,000 beneficiaries, a fixed 1% MSR), the arrangement's own 2% MLR in place of the mirrored 1%
/// [S mssp-rules.md section 5; the step cites the Pioneer ACO Model participation agreement]. Worked:
/// a 2,625,000 loss on the 175,000,000 benchmark (expenditures 177,625,000, 1.5%) is inside the 2%
/// corridor, so nothing is owed; at the mirrored 1% the core 60% owes 0.6 x 2,625,000 = 1,575,000.
#[tokio::test]
async fn pioneer_minimum_loss_rate() {
    let (_dir, server, mut client) = served().await;
    let arrangement = genesys_arrangement("0.5");
    let rates = |pioneer_arrangement| pb::GetMinimumSavingsRateRequest {
        track: Track::Pioneer.into(),
        performance_year: 2012,
        agreement_start_date: date(2012, 1, 1),
        assigned_beneficiaries: 15_000,
        msr_option: MinimumSavingsRateOption::Fixed10.into(),
        pioneer_arrangement,
        ..Default::default()
    };
    let own = client
        .get_minimum_savings_rate(rates(Some(arrangement.clone())))
        .await
        .expect("own arrangement")
        .into_inner();
    assert_eq!(corridor(&own), ("0.01", "0.02"));
    let step = own
        .explanation
        .iter()
        .find(|st| st.rule == "settlement.minimum_loss_rate")
        .expect("the arrangement's MLR step");
    assert!(
        step.citation
            .starts_with("Pioneer ACO Model participation agreement"),
        "{}",
        step.citation
    );
    let core = client
        .get_minimum_savings_rate(rates(None))
        .await
        .expect("core arrangement")
        .into_inner();
    assert_eq!(corridor(&core), ("0.01", "0.01"));

    // What Reconcile applies, on the same terms.
    for (arrangement, rates, net) in [
        (Some(arrangement.clone()), &own, "0.00"),
        (None, &core, "-1575000.00"),
    ] {
        let r = preview(&mut client, genesys("177625000", arrangement)).await;
        assert_eq!(
            (
                r.minimum_savings_rate.as_str(),
                r.minimum_loss_rate.as_str()
            ),
            corridor(rates)
        );
        assert_eq!(r.net_amount, net);
    }

    // As in Reconcile, the arrangement is TRACK_PIONEER's only.
    let mut track3 = rates(Some(arrangement));
    track3.track = Track::Track3.into();
    track3.agreement_start_date = date(2016, 1, 1);
    track3.performance_year = 2018;
    let err = client
        .get_minimum_savings_rate(track3)
        .await
        .expect_err("not Pioneer");
    assert_eq!(err.code(), Code::InvalidArgument);
    let fields = bad_request_fields(&err);
    assert_eq!(fields, ["pioneer_arrangement"]);
    server.stop().await;
}

#[tokio::test]
async fn health_and_reflection() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_reflection::pb::{v1, v1alpha};
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir.path().join("ledger.db")).await;
    let channel = server.channel().await;

    for service in ["", "acorn.settlement.v1.SettlementService"] {
        let status = acorn_testkit::health(channel.clone(), service).await;
        assert_eq!(status.expect("health"), ServingStatus::Serving);
    }

    use v1::server_reflection_request::MessageRequest;
    use v1::server_reflection_response::MessageResponse;
    let refl = v1::server_reflection_client::ServerReflectionClient::new(channel.clone());
    let ask = |request: MessageRequest| {
        let mut refl = refl.clone();
        async move {
            let request = v1::ServerReflectionRequest {
                host: String::new(),
                message_request: Some(request),
            };
            refl.server_reflection_info(tokio_stream::iter([request]))
                .await
                .expect("reflection v1")
                .into_inner()
                .message()
                .await
                .expect("message")
                .expect("response")
                .message_response
        }
    };
    let Some(MessageResponse::ListServicesResponse(services)) =
        ask(MessageRequest::ListServices(String::new())).await
    else {
        panic!("unexpected reflection response");
    };
    let names: Vec<String> = services.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "acorn.settlement.v1.SettlementService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }

    // The error details every INVALID_ARGUMENT carries are decodable by any reflection client
    // (grpcurl printed "google.rpc.BadRequest is not recognized" before they were registered).
    let Some(MessageResponse::FileDescriptorResponse(files)) = ask(
        MessageRequest::FileContainingSymbol("google.rpc.BadRequest".into()),
    )
    .await
    else {
        panic!("google.rpc.BadRequest is not served by reflection");
    };
    assert!(!files.file_descriptor_proto.is_empty());

    let mut alpha = v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
    let req = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut stream = alpha
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .expect("v1alpha")
        .into_inner();
    assert!(stream.message().await.expect("message").is_some());
    server.stop().await;
}

/// A benchmark by reference is read from the benchmark source (here in process: two recorded
/// benchmarks of A1215, `updated-2018` updated to PY2018, the published ABtotBnchmk, and `historical`,
/// not updated) and must be this ACO's update to this performance year. The read from benchmark-svc
/// over gRPC is tests/edges.rs's.
#[tokio::test]
async fn benchmark_by_reference() {
    let recorded = |performance_year, updated_total| RecordedBenchmark {
        aco_id: "A1215".into(),
        performance_year,
        updated_total,
        two_way_blend_updated_total: None,
    };
    let benchmarks: InMemoryBenchmarks = [
        (
            "updated-2018".to_string(),
            recorded(Some(2018), Some(dec!(797237607.00))),
        ),
        ("historical".to_string(), recorded(None, None)),
    ]
    .into_iter()
    .collect();
    let benchmarks: Arc<dyn BenchmarkSource> = Arc::new(benchmarks);
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_with(&dir.path().join("ledger.db"), Some(benchmarks)).await;
    let mut client = server.client(SettlementServiceClient::new).await;
    let by_reference = a1215_by_reference;
    let rec = reconciled(
        &mut client,
        reconcile("ref-1", by_reference("updated-2018")),
        "reconcile by reference",
    )
    .await;
    let result = rec.result.expect("result");
    assert_eq!(
        (
            result.updated_benchmark.as_str(),
            result.net_amount.as_str()
        ),
        ("797237607", "-6101212.20")
    );

    let historical = client
        .reconcile(reconcile("ref-2", by_reference("historical")))
        .await;
    assert_refused(Code::FailedPrecondition, "historical", historical);
    let mut wrong_year = by_reference("updated-2018");
    wrong_year.performance_year = 2019;
    let wrong_year = client.reconcile(reconcile("ref-3", wrong_year)).await;
    assert_refused(Code::FailedPrecondition, "other year", wrong_year);
    let missing = client
        .reconcile(reconcile("ref-4", by_reference("nope")))
        .await;
    assert_refused(Code::NotFound, "missing", missing);
    assert_eq!(count(&mut client).await, 1);
    server.stop().await;

    // Without --benchmark-svc, a reference cannot be resolved.
    let server = start(&dir.path().join("other.db")).await;
    let mut client = server.client(SettlementServiceClient::new).await;
    let unconfigured = client
        .reconcile(reconcile("ref-5", by_reference("updated-2018")))
        .await;
    assert_refused(Code::FailedPrecondition, "unconfigured", unconfigured);
    server.stop().await;
}
