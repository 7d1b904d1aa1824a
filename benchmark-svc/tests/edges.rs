//! The edges a new user finds, through the real server: a retry that differs in any field of the
//! request (or of the stream) is refused rather than answered with the first result, and
//! ListBenchmarks page tokens are opaque and bound to their query. (Builders as in tests/grpc.rs.)

use std::{net::SocketAddr, path::Path};

use acorn_proto::{
    benchmark::v1::{
        self as pb, benchmark_service_client::BenchmarkServiceClient,
        benchmark_service_server::BenchmarkServiceServer,
        compute_benchmark_from_beneficiaries_request::Message,
    },
    common::v1::{Date, EnrollmentType},
    ledger::SqliteLedger,
    serve::{self, LogFormat, ServeArgs},
};
use base64::Engine as _;
use benchmark_svc::server::BenchmarkApi;
use tokio::{sync::oneshot, task::JoinHandle};
use tonic::{Code, service::Routes, transport::Channel};
use tonic_types::StatusExt;

struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

async fn start(db: &Path) -> Running {
    let store = SqliteLedger::open(db).await.expect("open ledger");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let args = ServeArgs {
        listen: None,
        log_format: LogFormat::Text,
        max_request_bytes: 4 * 1024 * 1024,
        request_timeout: 30,
        shutdown_grace: 5,
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let routes = Routes::new(BenchmarkServiceServer::new(BenchmarkApi::new(store)));
    let task = tokio::spawn(async move {
        serve::serve(
            listener,
            routes,
            &["acorn.benchmark.v1.BenchmarkService"],
            &args,
            async {
                let _ = stopped.await;
            },
        )
        .await
    });
    Running { addr, stop, task }
}

impl Running {
    async fn client(&self) -> BenchmarkServiceClient<Channel> {
        BenchmarkServiceClient::connect(format!("http://{}", self.addr))
            .await
            .expect("connect")
    }
    async fn stop(self) {
        let _ = self.stop.send(());
        self.task
            .await
            .expect("join")
            .expect("server exits cleanly");
    }
}

const TYPES: [EnrollmentType; 4] = [
    EnrollmentType::Esrd,
    EnrollmentType::Disabled,
    EnrollmentType::AgedDual,
    EnrollmentType::AgedNonDual,
];

fn amounts(values: [&str; 4]) -> Vec<pb::EnrollmentTypeAmount> {
    TYPES
        .iter()
        .zip(values)
        .map(|(t, v)| pb::EnrollmentTypeAmount {
            enrollment_type: (*t).into(),
            amount: v.into(),
        })
        .collect()
}

fn year(y: i32, per_capita: [&str; 4], risk: [&str; 4]) -> pb::BenchmarkYear {
    let people = ["100", "1000", "900", "8000"];
    pb::BenchmarkYear {
        year: y,
        enrollment_types: (0..4)
            .map(|i| pb::EnrollmentTypeAggregate {
                enrollment_type: TYPES[i].into(),
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
                enrollment_type: TYPES[i].into(),
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

fn header(request_id: &str) -> pb::ComputeBenchmarkFromBeneficiariesRequest {
    let mut input = first_agreement("A9");
    input.benchmark_years.clear();
    input.trend_by1_to_by3 = amounts(["1", "1", "1", "1"]);
    input.trend_by2_to_by3 = amounts(["1", "1", "1", "1"]);
    let thresholds = (2011..=2013)
        .flat_map(|y| {
            TYPES.iter().map(move |t| pb::TruncationThreshold {
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
        .flat_map(|y| (0..4).map(move |i| record(y, TYPES[i], costs[i])))
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
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir.path().join("ledger.db")).await;
    let mut client = server.client().await;
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
        assert_eq!(
            retry.map(|_| ()).expect_err(what).code(),
            Code::AlreadyExists,
            "{what}"
        );
    }
    server.stop().await;
}

/// ComputeBenchmark and UpdateBenchmark: a retry with any single field changed is ALREADY_EXISTS.
#[tokio::test]
async fn compute_and_update_retries_differing_in_a_field_are_already_exists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir.path().join("ledger.db")).await;
    let mut client = server.client().await;
    let hist = client
        .compute_benchmark(compute("c", first_agreement("A1")))
        .await
        .expect("compute")
        .into_inner()
        .benchmark
        .expect("benchmark");
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
        let retry = client.compute_benchmark(compute("c", input)).await;
        assert_eq!(
            retry.map(|_| ()).expect_err(field).code(),
            Code::AlreadyExists,
            "{field}"
        );
    }

    let other = client
        .compute_benchmark(compute("c2", first_agreement("A1")))
        .await
        .expect("compute")
        .into_inner()
        .benchmark
        .expect("benchmark");
    let update = |id: &str, py: pb::PerformanceYearInputs| pb::UpdateBenchmarkRequest {
        request_id: "u".into(),
        benchmark_id: id.into(),
        performance_year: Some(py),
    };
    let updated = client
        .update_benchmark(update(&hist.id, performance_year()))
        .await
        .expect("update")
        .into_inner()
        .benchmark
        .expect("benchmark");
    let again = client
        .update_benchmark(update(&hist.id, performance_year()))
        .await
        .expect("identical retry")
        .into_inner()
        .benchmark
        .expect("benchmark");
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
        assert_eq!(
            retry.map(|_| ()).expect_err(what).code(),
            Code::AlreadyExists,
            "{what}"
        );
    }
    server.stop().await;
}

/// Every text form an id could take in a token (as is, either case, hex, base64 at each alignment).
fn encodings(id: &str) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let hex: String = id.bytes().map(|b| format!("{b:02x}")).collect();
    let mut out = vec![
        id.to_string(),
        id.to_lowercase(),
        id.to_uppercase(),
        hex.clone(),
        hex.to_uppercase(),
    ];
    for pad in 0..3usize {
        let mut shifted = vec![0u8; pad];
        shifted.extend_from_slice(id.as_bytes());
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let b64 = engine.encode(&shifted);
            let (start, end) = ((pad * 8).div_ceil(6), ((pad + id.len()) * 8) / 6);
            if let Some(core) = b64.get(start..end).filter(|c| c.len() >= 4) {
                out.push(core.to_string());
            }
        }
    }
    out
}

/// ListBenchmarks page tokens carry no ACO id, request id or benchmark id in any encoding and are
/// refused (INVALID_ARGUMENT naming page_token) under another filter.
#[tokio::test]
async fn list_page_tokens_are_opaque_and_bound_to_the_query() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir.path().join("ledger.db")).await;
    let mut client = server.client().await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let b = client
            .compute_benchmark(compute(&format!("list-{n}"), first_agreement("A1")))
            .await
            .expect("compute")
            .into_inner()
            .benchmark
            .expect("benchmark");
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
    for secret in &secrets {
        for form in encodings(secret).into_iter().filter(|f| f.len() >= 4) {
            assert!(
                !token.contains(&form),
                "token {token} shows {secret} as {form}"
            );
        }
    }
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
        assert_eq!(err.code(), Code::InvalidArgument, "{aco} {period}");
        let fields: Vec<String> = err
            .get_details_bad_request()
            .map(|b| b.field_violations.into_iter().map(|f| f.field).collect())
            .unwrap_or_default();
        assert_eq!(fields, ["page_token"]);
    }
    server.stop().await;
}
