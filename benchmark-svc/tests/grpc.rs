//! The real server on 127.0.0.1 through the generated client: compute, read back after a restart on
//! the same SQLite file, idempotent retries, conflicting reuse, pagination, updates, beneficiary-level
//! streaming, bad input naming its field with nothing written, and the edges a new user finds: a retry
//! that differs in any field of the request (or of the stream) is refused rather than answered with the
//! first result, and ListBenchmarks page tokens are opaque and bound to their query.

use std::path::Path;

use acorn_proto::{
    benchmark::v1::{
        self as pb, benchmark_service_client::BenchmarkServiceClient,
        benchmark_service_server::BenchmarkServiceServer,
        compute_benchmark_from_beneficiaries_request::Message,
    },
    common::v1::{Date, EnrollmentType},
    ledger::Ledger,
    store::Location,
};
use acorn_testkit::{
    Running, assert_already_exists, assert_invalid_argument, assert_opaque, assert_refused,
    bad_request_fields, fixtures::amounts, serve_args,
};
use benchmark_svc::server::BenchmarkApi;
use tempfile::TempDir;
use tonic::{Code, service::Routes, transport::Channel};

async fn start(db: &Path) -> Running {
    let store = Ledger::open(&Location::Sqlite(db.to_path_buf()))
        .await
        .expect("open ledger");
    let routes = Routes::new(BenchmarkServiceServer::new(BenchmarkApi::new(store)));
    Running::start(routes, "acorn.benchmark.v1.BenchmarkService", serve_args()).await
}

/// The name of the test server's SQLite file.
const DB: &str = "ledger.db";

/// The generated client of the test server.
type Client = BenchmarkServiceClient<Channel>;

/// The server on a ledger of its own (hold the folder to the end of the test), and a client of it.
async fn served() -> (TempDir, Running, Client) {
    acorn_testkit::served(DB, start, Client::new).await
}

/// The benchmark ComputeBenchmark records for `request` (`what` names the call).
async fn computed(
    client: &mut Client,
    request: pb::ComputeBenchmarkRequest,
    what: &str,
) -> pb::Benchmark {
    let response = client.compute_benchmark(request).await.expect(what);
    response.into_inner().benchmark.expect("benchmark")
}

/// The benchmark GetBenchmark reads under `id`.
async fn get(client: &mut Client, id: &str) -> Result<pb::Benchmark, tonic::Status> {
    let request = pb::GetBenchmarkRequest { id: id.into() };
    let answer = client.get_benchmark(request).await?;
    Ok(answer.into_inner().benchmark.expect("benchmark"))
}

/// The updated benchmark UpdateBenchmark records for `request` (`what` names the call).
async fn update_recorded(
    client: &mut Client,
    request: pb::UpdateBenchmarkRequest,
    what: &str,
) -> pb::Benchmark {
    let response = client.update_benchmark(request).await.expect(what);
    response.into_inner().benchmark.expect("benchmark")
}

fn year(y: i32, per_capita: [&str; 4], risk: [&str; 4]) -> pb::BenchmarkYear {
    let people = ["100", "1000", "900", "8000"];
    pb::BenchmarkYear {
        year: y,
        enrollment_types: (0..4)
            .map(|i| pb::EnrollmentTypeAggregate {
                enrollment_type: EnrollmentType::ALL[i].into(),
                person_years: people[i].into(),
                per_capita_expenditures: per_capita[i].into(),
                risk_score: risk[i].into(),
            })
            .collect(),
    }
}

/// The engine's worked first-agreement example (engine/tests.rs): historical benchmark 12,590.089.
fn first_agreement(aco: &str) -> pb::BenchmarkInput {
    pb::BenchmarkInput {
        aco_id: aco.into(),
        agreement_start_date: Some(Date {
            year: 2014,
            month: 1,
            day: 1,
        }),
        agreement_period: 1,
        benchmark_years: vec![
            year(
                2011,
                ["80000", "12000", "18000", "10000"],
                ["1", "0.8", "1", "1.25"],
            ),
            year(
                2012,
                ["85000", "12500", "19000", "10500"],
                ["1", "1", "1", "1"],
            ),
            year(
                2013,
                ["90000", "13000", "20000", "11000"],
                ["1", "1", "1.1", "1"],
            ),
        ],
        trend_by1_to_by3: amounts(["1.05", "1.04", "1.03", "1.06"]),
        trend_by2_to_by3: amounts(["1.02", "1.02", "1.01", "1.03"]),
        ..Default::default()
    }
}

fn compute(request_id: &str, input: pb::BenchmarkInput) -> pb::ComputeBenchmarkRequest {
    pb::ComputeBenchmarkRequest {
        request_id: request_id.into(),
        input: Some(input),
    }
}

async fn count(client: &mut Client) -> usize {
    let list = |page_token| pb::ListBenchmarksRequest {
        page_token,
        ..Default::default()
    };
    acorn_testkit::count(async |token| client.list_benchmarks(list(token)).await).await
}

/// The first-agreement update of engine/tests.rs: updated total 134,068,348.60, per capita 12,695.87.
fn performance_year() -> pb::PerformanceYearInputs {
    let people = ["110", "1100", "950", "8400"];
    let group = |py: &str, hcc: &str, demo: &str| pb::RiskGroup {
        person_years: py.into(),
        risk_score: hcc.into(),
        demographic_risk_score: demo.into(),
    };
    let groups = [
        (group("20", "1.1", "1.3"), group("80", "1.05", "1.02")),
        (group("0", "1", "1"), group("100", "1", "1")),
        (group("0", "1", "1"), group("100", "1.1", "1")),
        (group("0", "1", "1"), group("500", "0.95", "1.01")),
    ];
    pb::PerformanceYearInputs {
        performance_year: 2015,
        enrollment_types: (0..4)
            .map(|i| pb::PerformanceYearEnrollmentType {
                enrollment_type: EnrollmentType::ALL[i].into(),
                person_years: people[i].into(),
                by3_demographic_risk_score: "1".into(),
                newly_assigned: Some(groups[i].0.clone()),
                continuously_assigned: Some(groups[i].1.clone()),
                ..Default::default()
            })
            .collect(),
        national_flat_update: amounts(["3000", "500", "600", "400"]),
        ..Default::default()
    }
}

#[tokio::test]
async fn compute_survives_a_restart_is_idempotent_and_lists() {
    let (dir, server, mut client) = served().await;
    let db = dir.path().join(DB);

    let b = computed(
        &mut client,
        compute("req-1", first_agreement("A1")),
        "compute",
    )
    .await;
    let result = b.result.clone().expect("result");
    assert_eq!(result.rule_set, "mssp-2012-first");
    assert_eq!(result.historical_per_capita, "12590.09");
    assert_eq!(
        result
            .enrollment_types
            .iter()
            .map(|t| t.historical_per_capita.as_str())
            .collect::<Vec<_>>(),
        ["88410.00", "13185.00", "20372.10", "10692.50"]
    );
    assert!(
        result
            .explanation
            .iter()
            .any(|s| s.rule == "benchmark.weighted_years" && s.citation == "42 CFR 425.602(a)(7)")
    );

    // Idempotent retry: the same benchmark; the same id with another input: ALREADY_EXISTS.
    let again = computed(
        &mut client,
        compute("req-1", first_agreement("A1")),
        "retry",
    )
    .await;
    assert_eq!(again.id, b.id);
    let conflict = client
        .compute_benchmark(compute("req-1", first_agreement("A2")))
        .await
        .expect_err("conflict");
    assert_eq!(conflict.code(), Code::AlreadyExists);

    for (i, aco) in ["A1", "A2", "A1"].iter().enumerate() {
        computed(
            &mut client,
            compute(&format!("req-more-{i}"), first_agreement(aco)),
            "compute",
        )
        .await;
    }
    let page = client
        .list_benchmarks(pb::ListBenchmarksRequest {
            aco_id: "A1".into(),
            agreement_period: 1,
            page_size: 2,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(page.benchmarks.len(), 2);
    assert!(!page.next_page_token.is_empty());
    // The next page repeats the query's filters (the token is bound to them).
    let rest = client
        .list_benchmarks(pb::ListBenchmarksRequest {
            aco_id: "A1".into(),
            agreement_period: 1,
            page_size: 2,
            page_token: page.next_page_token,
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        (rest.benchmarks.len(), rest.next_page_token.as_str()),
        (1, "")
    );
    let none = client
        .list_benchmarks(pb::ListBenchmarksRequest {
            agreement_period: 2,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert!(none.benchmarks.is_empty());
    let (server, mut client) =
        acorn_testkit::restart(server, &db, start, BenchmarkServiceClient::new).await;
    assert_eq!(get(&mut client, &b.id).await.expect("get"), b);
    assert_eq!(count(&mut client).await, 4);
    assert_refused(Code::NotFound, "missing", get(&mut client, "nope").await);
    server.stop().await;
}

#[tokio::test]
async fn update_records_the_updated_benchmark_settlement_reads() {
    let (_dir, server, mut client) = served().await;
    let hist = computed(
        &mut client,
        compute("h-1", first_agreement("A1")),
        "compute",
    )
    .await;

    let update = |request_id: &str, id: &str| pb::UpdateBenchmarkRequest {
        request_id: request_id.into(),
        benchmark_id: id.into(),
        performance_year: Some(performance_year()),
    };
    let updated = update_recorded(&mut client, update("u-1", &hist.id), "update").await;
    assert_eq!(updated.parent_id, hist.id);
    let got = get(&mut client, &updated.id).await.expect("get");
    let r = got.result.expect("result");
    // What settlement-svc reads by reference.
    assert_eq!(
        (
            r.performance_year,
            r.updated_total.as_str(),
            r.updated_per_capita.as_str()
        ),
        (2015, "134068348.60", "12695.87")
    );
    assert_eq!(r.performance_year_person_years, "10560");
    assert_eq!(
        r.enrollment_types
            .iter()
            .map(|t| (
                t.updated_per_capita.as_str(),
                t.performance_year_person_years.as_str()
            ))
            .collect::<Vec<_>>(),
        [
            ("94592.76", "110"),
            ("13685.00", "1100"),
            ("20972.10", "950"),
            ("10557.88", "8400")
        ]
    );
    assert_eq!(got.input.expect("input").aco_id, "A1");

    // Retry, conflict, not found, and updating an updated benchmark.
    let retry = update_recorded(&mut client, update("u-1", &hist.id), "retry").await;
    assert_eq!(retry.id, updated.id);
    let mut other = update("u-1", &hist.id);
    other
        .performance_year
        .as_mut()
        .expect("py")
        .performance_year = 2016;
    assert_already_exists("conflict", client.update_benchmark(other).await);
    assert_eq!(
        client
            .update_benchmark(update("u-2", "missing"))
            .await
            .expect_err("missing")
            .code(),
        Code::NotFound
    );
    let twice = client
        .update_benchmark(update("u-3", &updated.id))
        .await
        .expect_err("updated");
    assert_eq!(bad_request_fields(&twice), ["benchmark_id"]);
    // A rule-set input the update needs: missing flat-dollar update names the field.
    let mut no_flat = update("u-4", &hist.id);
    no_flat
        .performance_year
        .as_mut()
        .expect("py")
        .national_flat_update
        .clear();
    let err = client
        .update_benchmark(no_flat)
        .await
        .expect_err("missing update");
    assert_eq!(
        bad_request_fields(&err),
        ["performance_year.national_flat_update"]
    );
    assert_eq!(count(&mut client).await, 2);

    // Preview computes both without recording.
    let preview = client
        .preview_benchmark(pb::PreviewBenchmarkRequest {
            input: Some(first_agreement("A1")),
            performance_year: Some(performance_year()),
        })
        .await
        .expect("preview")
        .into_inner()
        .result
        .expect("result");
    assert_eq!(preview.updated_total, "134068348.60");
    assert_eq!(count(&mut client).await, 2);
    server.stop().await;
}

#[tokio::test]
async fn bad_input_names_the_field_and_writes_nothing() {
    let (_dir, server, mut client) = served().await;
    let cases: Vec<(Mangle, &str)> = vec![
        (
            Box::new(|i| i.benchmark_years[1].enrollment_types[2].person_years = "-1".into()),
            "input.benchmark_years[1].enrollment_types[2].person_years",
        ),
        (
            Box::new(|i| {
                i.benchmark_years[0].enrollment_types[0].per_capita_expenditures = "-5".into()
            }),
            "input.benchmark_years[0].enrollment_types[0].per_capita_expenditures",
        ),
        (
            Box::new(|i| {
                i.benchmark_years[2].enrollment_types.pop();
            }),
            "input.benchmark_years[2].enrollment_types",
        ),
        (
            Box::new(|i| i.benchmark_years[2].enrollment_types[3].risk_score = "0".into()),
            "input.benchmark_years[2].enrollment_types[3].risk_score",
        ),
        (
            Box::new(|i| i.benchmark_years.swap(0, 2)),
            "input.benchmark_years",
        ),
        (
            Box::new(|i| {
                i.benchmark_years[0].enrollment_types[1].enrollment_type =
                    EnrollmentType::Esrd.into()
            }),
            "input.benchmark_years[0].enrollment_types[1].enrollment_type",
        ),
        (
            Box::new(|i| {
                i.agreement_start_date = Some(Date {
                    year: 2011,
                    month: 1,
                    day: 1,
                })
            }),
            "input.agreement_start_date",
        ),
        (
            Box::new(|i| i.agreement_period = 0),
            "input.agreement_period",
        ),
        (
            Box::new(|i| i.trend_by1_to_by3.clear()),
            "input.trend_by2_to_by3",
        ),
        (
            Box::new(|i| {
                i.agreement_start_date = Some(Date {
                    year: 2020,
                    month: 1,
                    day: 1,
                });
            }),
            "input.regional.regional_trend_by1_to_by3",
        ),
    ];
    for (mangle, field) in cases {
        let mut input = first_agreement("A1");
        mangle(&mut input);
        let err = client
            .compute_benchmark(compute("bad", input.clone()))
            .await
            .expect_err(field);
        assert_eq!(err.code(), Code::InvalidArgument, "{field}: {err:?}");
        assert!(
            bad_request_fields(&err).contains(&field.to_string()),
            "{field}: {:?}",
            bad_request_fields(&err)
        );
        let err = client
            .preview_benchmark(pb::PreviewBenchmarkRequest {
                input: Some(input),
                performance_year: None,
            })
            .await
            .expect_err(field);
        assert_eq!(err.code(), Code::InvalidArgument);
    }
    let err = client
        .compute_benchmark(compute("", first_agreement("A1")))
        .await
        .expect_err("request id");
    assert_eq!(bad_request_fields(&err), ["request_id"]);
    let err = client
        .list_benchmarks(pb::ListBenchmarksRequest {
            page_size: -1,
            page_token: "x".into(),
            ..Default::default()
        })
        .await
        .expect_err("page");
    assert_eq!(bad_request_fields(&err), ["page_size", "page_token"]);
    assert_eq!(count(&mut client).await, 0);
    server.stop().await;
}

/// A change that makes an input invalid.
type Mangle = Box<dyn Fn(&mut pb::BenchmarkInput)>;

fn header(request_id: &str) -> pb::ComputeBenchmarkFromBeneficiariesRequest {
    let mut input = first_agreement("A9");
    input.benchmark_years.clear();
    input.trend_by1_to_by3 = amounts(["1", "1", "1", "1"]);
    input.trend_by2_to_by3 = amounts(["1", "1", "1", "1"]);
    let thresholds = (2011..=2013)
        .flat_map(|y| {
            EnrollmentType::ALL
                .iter()
                .map(move |t| pb::TruncationThreshold {
                    year: y,
                    enrollment_type: (*t).into(),
                    threshold: "100000".into(),
                })
        })
        .collect();
    pb::ComputeBenchmarkFromBeneficiariesRequest {
        message: Some(Message::Header(pb::BeneficiaryComputationHeader {
            request_id: request_id.into(),
            input: Some(input),
            truncation_thresholds: thresholds,
        })),
    }
}

fn record(year: i32, t: EnrollmentType, dollars: &str) -> pb::BeneficiaryYear {
    pb::BeneficiaryYear {
        year,
        enrollment_type: t.into(),
        eligible_months: 12,
        expenditures: dollars.into(),
        risk_score: "1".into(),
    }
}

/// engine/tests.rs `truncation_changes_the_benchmark`, streamed: 36,800 with the $190,000
/// beneficiary truncated at $100,000.
fn beneficiaries() -> Vec<pb::ComputeBenchmarkFromBeneficiariesRequest> {
    let costs = ["80000", "12000", "18000", "10000"];
    let mut records: Vec<pb::BeneficiaryYear> = (2011..=2013)
        .flat_map(|y| (0..4).map(move |i| record(y, EnrollmentType::ALL[i], costs[i])))
        .collect();
    records.push(record(2013, EnrollmentType::AgedNonDual, "190000"));
    records
        .chunks(5)
        .map(|c| pb::ComputeBenchmarkFromBeneficiariesRequest {
            message: Some(Message::Batch(pb::BeneficiaryYearBatch {
                records: c.to_vec(),
            })),
        })
        .collect()
}

#[tokio::test]
async fn beneficiary_level_records_stream_and_truncate() {
    let (_dir, server, mut client) = served().await;
    let mut messages = vec![header("stream-1")];
    messages.extend(beneficiaries());
    let response = client
        .compute_benchmark_from_beneficiaries(tokio_stream::iter(messages.clone()))
        .await
        .expect("stream")
        .into_inner();
    assert_eq!((response.records, response.truncated_records), (13, 1));
    let b = response.benchmark.expect("benchmark");
    assert_eq!(b.result.expect("result").historical_per_capita, "36800.00");
    let by3 = &b.input.expect("input").benchmark_years[2].enrollment_types[3];
    assert_eq!(
        (
            by3.person_years.as_str(),
            by3.per_capita_expenditures.as_str()
        ),
        ("2", "55000")
    );
    // Same stream again: the stored benchmark.
    let again = client
        .compute_benchmark_from_beneficiaries(tokio_stream::iter(messages))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(again.benchmark.expect("benchmark").id, b.id);

    // A bad record names itself; nothing is written.
    let mut bad = vec![header("stream-2")];
    let mut batches = beneficiaries();
    if let Some(Message::Batch(b)) = batches[1].message.as_mut() {
        b.records[2].expenditures = "12.345".into();
    }
    bad.extend(batches);
    let err = client
        .compute_benchmark_from_beneficiaries(tokio_stream::iter(bad))
        .await
        .expect_err("bad record");
    assert_eq!(bad_request_fields(&err), ["records[7].expenditures"]);
    let no_header = beneficiaries();
    let err = client
        .compute_benchmark_from_beneficiaries(tokio_stream::iter(no_header))
        .await
        .expect_err("no header");
    assert_eq!(err.code(), Code::InvalidArgument);
    let mut missing_year = vec![header("stream-3")];
    missing_year.push(pb::ComputeBenchmarkFromBeneficiariesRequest {
        message: Some(Message::Batch(pb::BeneficiaryYearBatch {
            records: vec![record(2013, EnrollmentType::Esrd, "1000")],
        })),
    });
    let err = client
        .compute_benchmark_from_beneficiaries(tokio_stream::iter(missing_year))
        .await
        .expect_err("missing years");
    assert_eq!(bad_request_fields(&err), ["records"]);
    assert_eq!(count(&mut client).await, 1);
    server.stop().await;
}

/// `PerformanceYearInputs.regional_risk` (425.655): each list is required once the message is
/// given, every value is checked against its bound and named; the engine's "missing" and
/// "unrepresentable" answers name the performance-year field too.
#[test]
fn regional_risk_growth_is_validated_field_by_field() {
    use benchmark_rules::{BenchmarkError, Input};
    use benchmark_svc::server::{engine_status, validate_performance_year};
    let mut py = performance_year();
    py.regional_risk = Some(pb::RegionalRiskGrowth {
        hcc_growth: amounts(["1.2", "1.04", "1.06", "1.08"]),
        demographic_growth: amounts(["1.01"; 4]),
        market_share: amounts(["0.5", "0.2", "0.1", "0.1"]),
    });
    let ok = validate_performance_year(Some(&py), "performance_year").expect("valid");
    let r = ok.regional_risk.expect("given");
    assert_eq!(r.hcc_growth[0].to_string(), "1.2");
    assert_eq!(r.market_share[1].to_string(), "0.2");

    let mut bad = py.clone();
    if let Some(r) = bad.regional_risk.as_mut() {
        r.market_share[2].amount = "1.5".into();
        r.hcc_growth[0].amount = "0".into();
        r.demographic_growth.clear();
    }
    let err = validate_performance_year(Some(&bad), "performance_year").expect_err("invalid");
    assert_eq!(err.code(), Code::InvalidArgument);
    let mut got = bad_request_fields(&err);
    got.sort();
    assert_eq!(
        got,
        [
            "performance_year.regional_risk.demographic_growth",
            "performance_year.regional_risk.hcc_growth[0].amount",
            "performance_year.regional_risk.market_share[2].amount",
        ]
    );
    // Absent: no regional risk input (the engine asks for it where the rule set needs it).
    assert_eq!(
        validate_performance_year(Some(&performance_year()), "performance_year")
            .expect("valid")
            .regional_risk,
        None
    );
    let missing = engine_status(
        &BenchmarkError::Missing {
            input: Input::RegionalRisk,
            rule_set: "mssp-2024-first",
        },
        "input",
        "performance_year",
    );
    assert_eq!(
        bad_request_fields(&missing),
        ["performance_year.regional_risk"]
    );
    let too_big = engine_status(
        &BenchmarkError::Unrepresentable {
            input: Input::PerformanceYearTypes,
        },
        "input",
        "performance_year",
    );
    assert_eq!(
        bad_request_fields(&too_big),
        ["performance_year.enrollment_types"]
    );
}

/// A 2024 first agreement updated through the real server with `regional_risk`: the worked
/// 425.655 example of engine/tests.rs (cap 1.044738125; ESRD factor 1.20 / 1.044738125; updated
/// total 136,703,931.77, per capita 13,670.39). Without `regional_risk` the update is
/// INVALID_ARGUMENT naming `performance_year.regional_risk`.
#[tokio::test]
async fn update_2024_applies_the_regional_risk_score_growth_cap() {
    let (_dir, server, mut client) = served().await;
    let flat = ["90000", "13000", "20000", "11000"];
    let ones = ["1"; 4];
    let input = pb::BenchmarkInput {
        aco_id: "A24".into(),
        agreement_start_date: Some(Date {
            year: 2024,
            month: 1,
            day: 1,
        }),
        agreement_period: 1,
        benchmark_years: vec![
            year(2021, flat, ones),
            year(2022, flat, ones),
            year(2023, flat, ones),
        ],
        trend_by1_to_by3: amounts(ones),
        trend_by2_to_by3: amounts(ones),
        regional: Some(pb::RegionalInputs {
            regional_per_capita: amounts(flat),
            national_per_capita: amounts(["95000", "14000", "20000", "12000"]),
            national_weight: "0.2".into(),
            regional_trend_by1_to_by3: amounts(ones),
            regional_trend_by2_to_by3: amounts(ones),
            dual_eligible_share: "0.1".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let people = ["100", "1000", "900", "8000"];
    let mut py = pb::PerformanceYearInputs {
        performance_year: 2024,
        enrollment_types: (0..4)
            .map(|i| pb::PerformanceYearEnrollmentType {
                enrollment_type: EnrollmentType::ALL[i].into(),
                person_years: people[i].into(),
                risk_score: "1".into(),
                demographic_risk_score: "1".into(),
                by3_demographic_risk_score: "1".into(),
                ..Default::default()
            })
            .collect(),
        national_growth: amounts(["1.06"; 4]),
        regional_growth: amounts(["1.06"; 4]),
        acpt: amounts(["300"; 4]),
        ..Default::default()
    };
    let preview = |py: pb::PerformanceYearInputs| pb::PreviewBenchmarkRequest {
        input: Some(input.clone()),
        performance_year: Some(py),
    };
    let err = client
        .preview_benchmark(preview(py.clone()))
        .await
        .expect_err("regional_risk is required from 2024");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_request_fields(&err), ["performance_year.regional_risk"]);

    py.regional_risk = Some(pb::RegionalRiskGrowth {
        hcc_growth: amounts(["1.20", "1.04", "1.06", "1.08"]),
        demographic_growth: amounts(["1.01"; 4]),
        market_share: amounts(["0.5", "0.2", "0.1", "0.1"]),
    });
    let result = client
        .preview_benchmark(preview(py))
        .await
        .expect("preview")
        .into_inner()
        .result
        .expect("result");
    assert_eq!(result.rule_set, "mssp-2024-first");
    assert_eq!(result.updated_total, "136703931.77");
    assert_eq!(result.updated_per_capita, "13670.39");
    assert_eq!(result.two_way_blend_updated_total, "139555897.66");
    let factors: Vec<&str> = result
        .enrollment_types
        .iter()
        .map(|t| t.regional_risk_cap_factor.as_str())
        .collect();
    assert!(factors[0].starts_with("1.14861"), "{factors:?}");
    assert_eq!(factors[1], "1");
    assert!(
        result
            .explanation
            .iter()
            .any(|s| s.rule == "benchmark.regional_risk_growth_cap"
                && s.citation.contains("425.655")),
        "the cap is explained with its citation"
    );
    server.stop().await;
}

fn stream(
    header: pb::ComputeBenchmarkFromBeneficiariesRequest,
    edit: impl FnOnce(&mut Vec<pb::ComputeBenchmarkFromBeneficiariesRequest>),
) -> Vec<pb::ComputeBenchmarkFromBeneficiariesRequest> {
    let mut messages = vec![header];
    messages.extend(beneficiaries());
    edit(&mut messages);
    messages
}

fn header_of(
    m: &mut pb::ComputeBenchmarkFromBeneficiariesRequest,
) -> &mut pb::BeneficiaryComputationHeader {
    match m.message.as_mut() {
        Some(Message::Header(h)) => h,
        _ => panic!("not a header"),
    }
}

fn records_of(
    m: &mut pb::ComputeBenchmarkFromBeneficiariesRequest,
) -> &mut Vec<pb::BeneficiaryYear> {
    match m.message.as_mut() {
        Some(Message::Batch(b)) => &mut b.records,
        _ => panic!("not a batch"),
    }
}

/// The fingerprint of ComputeBenchmarkFromBeneficiaries covers the stream as sent, not only the
/// aggregate it gives: a retry that changes a truncation threshold, or a record in a way that
/// aggregates alike (a truncated amount, or a record moved to another position), is ALREADY_EXISTS
/// instead of silently answered with the first benchmark. Splitting the same records into other
/// batches is the same request.
#[tokio::test]
async fn a_beneficiary_stream_retry_differing_anywhere_is_already_exists() {
    let (_dir, server, mut client) = served().await;
    let first = client
        .compute_benchmark_from_beneficiaries(tokio_stream::iter(stream(header("s"), |_| {})))
        .await
        .expect("first")
        .into_inner()
        .benchmark
        .expect("benchmark");
    // The same records in other batches: the same request.
    let rebatched = stream(header("s"), |m| {
        let records: Vec<_> = m
            .drain(1..)
            .flat_map(|mut b| records_of(&mut b).clone())
            .collect();
        m.extend(
            records
                .chunks(3)
                .map(|c| pb::ComputeBenchmarkFromBeneficiariesRequest {
                    message: Some(Message::Batch(pb::BeneficiaryYearBatch {
                        records: c.to_vec(),
                    })),
                }),
        );
    });
    let again = client
        .compute_benchmark_from_beneficiaries(tokio_stream::iter(rebatched))
        .await
        .expect("rebatched retry")
        .into_inner();
    assert_eq!(again.benchmark.expect("benchmark").id, first.id);

    type Edit = fn(&mut Vec<pb::ComputeBenchmarkFromBeneficiariesRequest>);
    let edits: [(&str, Edit); 5] = [
        // No record reaches either threshold: the aggregate is the same.
        ("a truncation threshold", |m| {
            header_of(&mut m[0]).truncation_thresholds[0].threshold = "150000".into()
        }),
        // Truncated at 100,000 either way: the aggregate is the same.
        ("a truncated record's expenditures", |m| {
            let last = m.len() - 1;
            let records = records_of(&mut m[last]);
            let n = records.len() - 1;
            records[n].expenditures = "200000".into();
        }),
        // Two records of the same year and type, swapped.
        ("the order of the records", |m| {
            let last = m.len() - 1;
            let records = records_of(&mut m[last]);
            let n = records.len();
            records.swap(n - 1, n - 2);
        }),
        ("a record's risk score", |m| {
            records_of(&mut m[1])[0].risk_score = "1.1".into()
        }),
        ("the header input", |m| {
            header_of(&mut m[0]).input.as_mut().expect("input").aco_id = "A10".into()
        }),
    ];
    for (what, edit) in edits {
        let messages = stream(header("s"), edit);
        let mut with_new_id = messages.clone();
        header_of(&mut with_new_id[0]).request_id = format!("fresh {what}");
        client
            .compute_benchmark_from_beneficiaries(tokio_stream::iter(with_new_id))
            .await
            .unwrap_or_else(|e| panic!("{what}: the changed stream is invalid: {e:?}"));
        let retry = client
            .compute_benchmark_from_beneficiaries(tokio_stream::iter(messages))
            .await;
        assert_already_exists(what, retry);
    }
    server.stop().await;
}

/// ComputeBenchmark and UpdateBenchmark: a retry with any single field changed is ALREADY_EXISTS.
#[tokio::test]
async fn compute_and_update_retries_differing_in_a_field_are_already_exists() {
    let (_dir, server, mut client) = served().await;
    let hist = computed(&mut client, compute("c", first_agreement("A1")), "compute").await;
    type Change = fn(&mut pb::BenchmarkInput);
    let changes: [(&str, Change); 6] = [
        ("aco_id", |i| i.aco_id = "A2".into()),
        ("agreement_start_date", |i| {
            i.agreement_start_date = Some(Date {
                year: 2015,
                month: 1,
                day: 1,
            })
        }),
        ("benchmark_years", |i| {
            i.benchmark_years[1].enrollment_types[2].per_capita_expenditures = "19000.01".into()
        }),
        ("benchmark_years.person_years", |i| {
            i.benchmark_years[2].enrollment_types[0].person_years = "101".into()
        }),
        ("trend_by1_to_by3", |i| {
            i.trend_by1_to_by3[0].amount = "1.051".into()
        }),
        ("trend_by2_to_by3", |i| {
            i.trend_by2_to_by3[3].amount = "1.031".into()
        }),
    ];
    for (field, change) in changes {
        let mut input = first_agreement("A1");
        change(&mut input);
        client
            .preview_benchmark(pb::PreviewBenchmarkRequest {
                input: Some(input.clone()),
                performance_year: None,
            })
            .await
            .unwrap_or_else(|e| panic!("{field}: the changed input is invalid: {e:?}"));
        assert_already_exists(field, client.compute_benchmark(compute("c", input)).await);
    }

    let other = computed(&mut client, compute("c2", first_agreement("A1")), "compute").await;
    let update = |id: &str, py: pb::PerformanceYearInputs| pb::UpdateBenchmarkRequest {
        request_id: "u".into(),
        benchmark_id: id.into(),
        performance_year: Some(py),
    };
    let updated =
        update_recorded(&mut client, update(&hist.id, performance_year()), "update").await;
    let again = update_recorded(
        &mut client,
        update(&hist.id, performance_year()),
        "identical retry",
    )
    .await;
    assert_eq!(again.id, updated.id);
    let mut flat = performance_year();
    flat.national_flat_update[1].amount = "501".into();
    let mut people = performance_year();
    people.enrollment_types[3].person_years = "8401".into();
    for (what, req) in [
        ("benchmark_id", update(&other.id, performance_year())),
        ("national_flat_update", update(&hist.id, flat)),
        ("enrollment_types.person_years", update(&hist.id, people)),
    ] {
        let retry = client.update_benchmark(req).await;
        assert_already_exists(what, retry);
    }
    server.stop().await;
}

/// ListBenchmarks page tokens carry no ACO id, request id or benchmark id in any encoding and are
/// refused (INVALID_ARGUMENT naming page_token) under another filter.
#[tokio::test]
async fn list_page_tokens_are_opaque_and_bound_to_the_query() {
    let (_dir, server, mut client) = served().await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let b = computed(
            &mut client,
            compute(&format!("list-{n}"), first_agreement("A1")),
            "compute",
        )
        .await;
        ids.push(b.id);
    }
    let list = |aco: &str, period: u32, token: &str| pb::ListBenchmarksRequest {
        aco_id: aco.into(),
        agreement_period: period,
        page_size: 1,
        page_token: token.into(),
    };
    let page = client
        .list_benchmarks(list("A1", 1, ""))
        .await
        .expect("page")
        .into_inner();
    let token = page.next_page_token;
    assert!(!token.is_empty());
    let mut secrets = vec!["A1".to_string()];
    secrets.extend(ids.iter().cloned());
    secrets.extend((0..3).map(|n| format!("list-{n}")));
    assert_opaque(&token, &secrets);
    let next = client
        .list_benchmarks(list("A1", 1, &token))
        .await
        .expect("same query")
        .into_inner();
    assert_eq!(next.benchmarks.len(), 1);
    for (aco, period) in [("A2", 1), ("", 1), ("A1", 2), ("A1", 0)] {
        let err = client
            .list_benchmarks(list(aco, period, &token))
            .await
            .expect_err("another query");
        assert_invalid_argument(&err, &["page_token"], &format!("{aco} {period}"));
    }
    server.stop().await;
}
