//! The edges a new user finds, through the real server: a retry that differs in any single field is
//! refused, page tokens are opaque and bound to their query, an expired deadline answers
//! DEADLINE_EXCEEDED, and the read from benchmark-svc (the gRPC benchmark source) carries the call's
//! remaining deadline.

mod common;

use common::{
    a1215, a1215_by_reference, by_reference, date, flat_schedule, genesys, genesys_arrangement,
    quality, reconcile, reconciled, totals,
};
use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use acorn_proto::{
    benchmark::v1::{
        self as bpb,
        benchmark_service_client::BenchmarkServiceClient,
        benchmark_service_server::{BenchmarkService, BenchmarkServiceServer},
    },
    common::v1::EnrollmentType,
    security::ClientArgs,
    serve::ServeArgs,
    settlement::v1::{
        self as pb, EnrollmentTypeBreakdown, EnrollmentTypeExperience, ExtremeUncontrollable,
        MinimumSavingsRateOption, ReconciliationInput, Track, extreme_uncontrollable::Reduction,
        reconciliation_input::Experience, settlement_service_client::SettlementServiceClient,
    },
};
use acorn_testkit::{
    Running, assert_already_exists, assert_invalid_argument, assert_opaque, bad_request_fields,
    listed, serve_args, tls::MutualTls,
};
use prost::Message as _;
use settlement_svc::benchmarks::{BenchmarkSource, GrpcBenchmarks};
use tonic::{Code, service::Routes, transport::Channel};

async fn start(
    db: &Path,
    benchmarks: Option<BenchmarkServiceClient<Channel>>,
    request_timeout: u64,
) -> Running {
    let benchmarks =
        benchmarks.map(|b| Arc::new(GrpcBenchmarks::new(b)) as Arc<dyn BenchmarkSource>);
    let args = ServeArgs {
        request_timeout,
        ..serve_args()
    };
    common::start(db, benchmarks, args).await
}

/// A stand-in benchmark-svc: `updated-2018` (and any other id) is A1215's PY2018 benchmark; `slow`
/// never answers in time; `nope` is NOT_FOUND. It records the `grpc-timeout` of every read.
#[derive(Debug, Default, Clone)]
struct Benchmarks {
    timeouts: Arc<Mutex<Vec<Option<String>>>>,
}

/// `impl BenchmarkService for Benchmarks` with the methods given, every other RPC (each named with
/// its request and response message) answering UNIMPLEMENTED.
macro_rules! benchmark_service_with_stand_ins {
    ({ $($methods:tt)* } $($rpc:ident($req:ty) -> $resp:ty;)*) => {
        #[tonic::async_trait]
        impl BenchmarkService for Benchmarks {
            $($methods)*
            $(
                async fn $rpc(
                    &self,
                    _: tonic::Request<$req>,
                ) -> Result<tonic::Response<$resp>, tonic::Status> {
                    Err(tonic::Status::unimplemented("stand-in"))
                }
            )*
        }
    };
}

benchmark_service_with_stand_ins! {
    {
        async fn get_benchmark(
            &self,
            req: tonic::Request<bpb::GetBenchmarkRequest>,
        ) -> Result<tonic::Response<bpb::GetBenchmarkResponse>, tonic::Status> {
            let timeout = req
                .metadata()
                .get("grpc-timeout")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            self.timeouts.lock().expect("lock").push(timeout);
            match req.get_ref().id.as_str() {
                "slow" => tokio::time::sleep(Duration::from_secs(60)).await,
                "nope" => return Err(tonic::Status::not_found("no such benchmark")),
                _ => {}
            }
            Ok(tonic::Response::new(bpb::GetBenchmarkResponse {
                benchmark: Some(bpb::Benchmark {
                    id: req.get_ref().id.clone(),
                    input: Some(bpb::BenchmarkInput {
                        aco_id: "A1215".into(),
                        ..Default::default()
                    }),
                    result: Some(bpb::BenchmarkResult {
                        performance_year: 2018,
                        updated_total: "797237607.00".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            }))
        }
    }
    compute_benchmark(bpb::ComputeBenchmarkRequest) -> bpb::ComputeBenchmarkResponse;
    compute_benchmark_from_beneficiaries(
        tonic::Streaming<bpb::ComputeBenchmarkFromBeneficiariesRequest>
    ) -> bpb::ComputeBenchmarkFromBeneficiariesResponse;
    preview_benchmark(bpb::PreviewBenchmarkRequest) -> bpb::PreviewBenchmarkResponse;
    list_benchmarks(bpb::ListBenchmarksRequest) -> bpb::ListBenchmarksResponse;
    update_benchmark(bpb::UpdateBenchmarkRequest) -> bpb::UpdateBenchmarkResponse;
}

impl Benchmarks {
    /// The `grpc-timeout` of the last read.
    fn last_timeout(&self) -> String {
        let timeouts = self.timeouts.lock().expect("lock");
        timeouts
            .last()
            .cloned()
            .flatten()
            .expect("grpc-timeout sent on")
    }
}

async fn stand_in_benchmarks() -> (Benchmarks, BenchmarkServiceClient<Channel>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let benchmarks = Benchmarks::default();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(BenchmarkServiceServer::new(benchmarks.clone()))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let client = BenchmarkServiceClient::new(
        Channel::from_shared(format!("http://{addr}"))
            .expect("uri")
            .connect_lazy(),
    );
    (benchmarks, client)
}

/// A stand-in benchmark-svc, a settlement server on `db` reading from it, and the server's client.
async fn start_on_stand_in(
    db: &Path,
    request_timeout: u64,
) -> (Benchmarks, Running, SettlementServiceClient<Channel>) {
    let (seen, benchmarks) = stand_in_benchmarks().await;
    let server = start(db, Some(benchmarks), request_timeout).await;
    let client = server.client(SettlementServiceClient::new).await;
    (seen, server, client)
}

/// Every field of the top-level message `name` in the served descriptor set.
fn message_fields(name: &str) -> Vec<String> {
    let set = prost_types::FileDescriptorSet::decode(acorn_proto::FILE_DESCRIPTOR_SET)
        .expect("descriptor set");
    let (package, message) = name.rsplit_once('.').expect("qualified name");
    set.file
        .iter()
        .filter(|f| f.package() == package)
        .flat_map(|f| &f.message_type)
        .find(|m| m.name() == message)
        .map(|m| m.field.iter().map(|f| f.name().to_string()).collect())
        .unwrap_or_default()
}

type Change = (&'static str, fn(&mut ReconciliationInput));

/// One valid change of each field of `ReconciliationInput` (and of the fields inside its messages
/// that carry amounts or dates).
fn single_field_changes() -> Vec<Change> {
    vec![
        ("aco_id", |i| i.aco_id = "A1216".into()),
        ("performance_year", |i| i.performance_year = 2017),
        ("agreement_start_date", |i| {
            i.agreement_start_date = date(2017, 1, 1)
        }),
        ("track", |i| i.track = Track::Track2.into()),
        ("assigned_beneficiaries", |i| i.assigned_beneficiaries += 1),
        ("totals", |i| {
            i.experience = totals("797237607", "812497276")
        }),
        ("totals.updated_benchmark", |i| {
            i.experience = totals("797237607.01", "812497275")
        }),
        ("by_enrollment_type", |i| {
            i.experience = Some(Experience::ByEnrollmentType(EnrollmentTypeBreakdown {
                rows: vec![EnrollmentTypeExperience {
                    enrollment_type: EnrollmentType::AgedNonDual.into(),
                    person_years: "72033".into(),
                    updated_benchmark_per_capita: "11067.71".into(),
                    expenditures_per_capita: "11279.54".into(),
                }],
            }))
        }),
        ("benchmark_reference", |i| {
            i.experience = by_reference("updated-2018", "812497275")
        }),
        ("quality", |i| i.quality = quality(0, "0.8885")),
        ("msr_option", |i| {
            i.msr_option = MinimumSavingsRateOption::Fixed10.into()
        }),
        ("msr_schedule", |i| {
            i.msr_option = MinimumSavingsRateOption::Variable.into();
            i.msr_schedule = flat_schedule(60_000, "0.02");
        }),
        ("participant_revenue", |i| {
            i.participant_revenue = "1000000".into()
        }),
        ("sequestration_rate", |i| {
            i.sequestration_rate = "0.02".into()
        }),
        ("extreme_uncontrollable", |i| {
            i.extreme_uncontrollable = Some(ExtremeUncontrollable {
                reduction: Some(Reduction::Amount("2656".into())),
            })
        }),
        ("agreement_performance_year", |i| {
            i.agreement_performance_year = 3
        }),
        ("low_revenue", |i| i.low_revenue = true),
        ("two_way_blend_updated_benchmark", |i| {
            i.two_way_blend_updated_benchmark = "797237000".into()
        }),
        ("participation_months", |i| i.participation_months = 12),
    ]
}

/// The idempotency fingerprint covers every field: a retry of a request_id with any single field
/// changed is ALREADY_EXISTS (never the first reconciliation, silently), and the changes cover
/// every field the contract has.
#[tokio::test]
async fn a_retry_differing_in_any_single_field_is_already_exists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, server, mut client) = start_on_stand_in(&dir.path().join("ledger.db"), 30).await;
    let first = reconciled(&mut client, reconcile("same", a1215()), "first").await;
    let again = reconciled(&mut client, reconcile("same", a1215()), "identical retry").await;
    assert_eq!(again.id, first.id, "an identical retry returns the first");

    let changes = single_field_changes();
    let mut changed: Vec<&str> = changes.iter().map(|(f, _)| *f).collect();
    for (field, change) in changes {
        let mut input = a1215();
        change(&mut input);
        assert_ne!(input, a1215(), "{field}: not a change");
        // The changed request is valid on its own (so the refusal below is the fingerprint's).
        client
            .preview_reconciliation(pb::PreviewReconciliationRequest {
                input: Some(input.clone()),
            })
            .await
            .unwrap_or_else(|e| panic!("{field}: the changed input is invalid: {e:?}"));
        assert_already_exists(field, client.reconcile(reconcile("same", input)).await);
    }
    // Pioneer terms apply to TRACK_PIONEER only: changed on a Pioneer request (Genesys PHO, PY2012,
    // as in tests/grpc.rs).
    let pioneer =
        |shared_loss_rate| genesys("180100000", Some(genesys_arrangement(shared_loss_rate)));
    reconciled(
        &mut client,
        reconcile("same-pioneer", pioneer("0.5")),
        "pioneer",
    )
    .await;
    let retry = client
        .reconcile(reconcile("same-pioneer", pioneer("0.55")))
        .await;
    assert_already_exists("pioneer_arrangement", retry);
    changed.push("pioneer_arrangement");

    changed.retain(|f| !f.contains('.'));
    changed.dedup();
    let mut contract = message_fields("acorn.settlement.v1.ReconciliationInput");
    contract.sort();
    changed.sort();
    assert_eq!(
        changed, contract,
        "a change for every field of the contract"
    );
    server.stop().await;
}

/// ListReconciliations page tokens carry no ACO id, request id, reconciliation id or row number
/// in any encoding, and are bound to the filters: a token from one query is INVALID_ARGUMENT on
/// another (only page_size may change between pages).
#[tokio::test]
async fn page_tokens_are_opaque_and_bound_to_the_query() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir.path().join("ledger.db"), None, 30).await;
    let mut client = server.client(SettlementServiceClient::new).await;
    let mut ids = Vec::new();
    for n in 0..4 {
        let mut input = a1215();
        input.assigned_beneficiaries += n;
        let rec = reconciled(
            &mut client,
            reconcile(&format!("req-{n}"), input),
            "reconcile",
        )
        .await;
        ids.push(rec.id);
    }
    let list = |aco: &str, py: i32, size: i32, token: &str| pb::ListReconciliationsRequest {
        aco_id: aco.into(),
        performance_year: py,
        page_size: size,
        page_token: token.into(),
    };
    let (records, tokens) = listed(async |token| {
        let request = list("A1215", 2018, 1, &token);
        client.list_reconciliations(request).await
    })
    .await;
    let seen: Vec<String> = records.into_iter().map(|r| r.id).collect();
    ids.reverse();
    assert_eq!(seen, ids, "every record once, newest first");
    assert_eq!(tokens.len(), 3);
    let mut secrets: Vec<String> = vec!["A1215".into(), "2018".into()];
    secrets.extend(ids.iter().cloned());
    secrets.extend((0..4).map(|n| format!("req-{n}")));
    secrets.extend((1..=4).map(|seq: i64| format!("before:{seq}")));
    for t in &tokens {
        assert_opaque(t, &secrets);
    }

    let first = &tokens[0];
    // The same query continues, with any page size.
    let next = client
        .list_reconciliations(list("A1215", 2018, 10, first))
        .await
        .expect("same query, other page size")
        .into_inner();
    assert_eq!(next.reconciliations.len(), 3);
    // Any other filter, or a token that was never issued, is refused naming page_token.
    for (aco, py, token) in [
        ("A1216", 2018, first.as_str()),
        ("", 2018, first.as_str()),
        ("A1215", 2019, first.as_str()),
        ("A1215", 0, first.as_str()),
        ("A1215", 2018, "before:3"),
        ("A1215", 2018, "garbage"),
    ] {
        let err = client
            .list_reconciliations(list(aco, py, 1, token))
            .await
            .expect_err("a token from another query");
        assert_invalid_argument(&err, &["page_token"], &format!("{aco} {py} {token}"));
    }
    server.stop().await;
}

/// A call whose deadline passes is DEADLINE_EXCEEDED (not CANCELLED "Timeout expired"), and the read
/// from benchmark-svc is sent with the time left of the incoming call as its own deadline.
#[tokio::test]
async fn an_expired_deadline_is_deadline_exceeded_and_is_passed_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (seen, server, mut client) = start_on_stand_in(&dir.path().join("ledger.db"), 30).await;
    let by_reference = a1215_by_reference;
    // Client deadline 500 ms. (tonic's client also gives up on its own at that moment, reporting
    // CANCELLED "Timeout expired" if its timer fires before the server's answer arrives; the
    // server's own answer is checked below, with no client timer.)
    let mut req = tonic::Request::new(reconcile("slow-1", by_reference("slow")));
    req.set_timeout(Duration::from_millis(500));
    let started = std::time::Instant::now();
    let err = client.reconcile(req).await.expect_err("deadline");
    assert!(
        err.code() == Code::DeadlineExceeded
            || (err.code() == Code::Cancelled && err.message() == "Timeout expired"),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    let sent = seen.last_timeout();
    let micros = grpc_timeout_micros(&sent);
    assert!(
        micros > 0 && micros <= 500_000,
        "benchmark-svc was given {sent}, within the caller's 500 ms"
    );
    // The read that answers in time works as before.
    let mut req = tonic::Request::new(reconcile("fast-1", by_reference("updated-2018")));
    req.set_timeout(Duration::from_secs(10));
    client.reconcile(req).await.expect("in time");
    // benchmark-svc's NOT_FOUND reaches the caller as NOT_FOUND.
    let missing = client
        .reconcile(reconcile("missing-1", by_reference("nope")))
        .await;
    assert_eq!(missing.expect_err("missing").code(), Code::NotFound);
    server.stop().await;

    // Without a client deadline, the server's --request-timeout (1 s here) bounds the call and the
    // read it makes, and the server's answer is DEADLINE_EXCEEDED.
    let (seen, server, mut client) = start_on_stand_in(&dir.path().join("other.db"), 1).await;
    let err = client
        .reconcile(reconcile("slow-2", by_reference("slow")))
        .await
        .expect_err("server deadline");
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    let sent = seen.last_timeout();
    assert!(grpc_timeout_micros(&sent) <= 1_000_000, "{sent}");
    server.stop().await;
}

/// benchmark-svc under mutual TLS and bearer tokens: the settlement server's benchmark client
/// ([`GrpcBenchmarks::connect_lazy`] on the shared client flags, as the binary's `--benchmark-ca`
/// and `--benchmark-token-file` build it) reads with the CA, its client certificate and the token;
/// without the token benchmark-svc refuses the read, the caller is told UNAVAILABLE, and the
/// stand-in saw only the authorized read.
#[tokio::test]
async fn the_benchmark_read_goes_over_mutual_tls_with_the_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tls = MutualTls::new(dir.path());
    let stand_in = Benchmarks::default();
    let benchmark_svc = Running::start(
        Routes::new(BenchmarkServiceServer::new(stand_in.clone())),
        "acorn.benchmark.v1.BenchmarkService",
        tls.serve_args(),
    )
    .await;
    let url = format!("https://localhost:{}", benchmark_svc.addr().port());
    let with_token = tls.client;
    let without_token = ClientArgs {
        auth_token_file: None,
        ..with_token.clone()
    };
    for (db, client, expected) in [
        ("with.db", with_token, Code::Ok),
        ("without.db", without_token, Code::Unavailable),
    ] {
        let source = GrpcBenchmarks::connect_lazy(&url, &client).expect("benchmark client");
        let server =
            common::start(&dir.path().join(db), Some(Arc::new(source)), serve_args()).await;
        let mut client = server.client(SettlementServiceClient::new).await;
        let answer = client
            .reconcile(reconcile("tls-1", a1215_by_reference("updated-2018")))
            .await;
        assert_eq!(
            answer.map_or_else(|e| e.code(), |_| Code::Ok),
            expected,
            "{db}"
        );
        server.stop().await;
    }
    assert_eq!(stand_in.timeouts.lock().expect("lock").len(), 1);
    benchmark_svc.stop().await;
}

/// A `grpc-timeout` value in microseconds.
fn grpc_timeout_micros(value: &str) -> u64 {
    let (n, unit) = value.split_at(value.len() - 1);
    let n: u64 = n.parse().expect("digits");
    match unit {
        "H" => n * 3_600_000_000,
        "M" => n * 60_000_000,
        "S" => n * 1_000_000,
        "m" => n * 1_000,
        "u" => n,
        "n" => n / 1_000,
        other => panic!("unit {other}"),
    }
}

/// `by_enrollment_type` rows with no person-years give a zero benchmark: the violation names the
/// rows, not `totals.updated_benchmark` (a field the request does not have).
#[tokio::test]
async fn zero_person_years_by_enrollment_type_names_the_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir.path().join("ledger.db"), None, 30).await;
    let mut client = server.client(SettlementServiceClient::new).await;
    let mut input = a1215();
    input.experience = Some(Experience::ByEnrollmentType(EnrollmentTypeBreakdown {
        rows: vec![EnrollmentTypeExperience {
            enrollment_type: EnrollmentType::AgedNonDual.into(),
            person_years: "0".into(),
            updated_benchmark_per_capita: "11067.71".into(),
            expenditures_per_capita: "11279.54".into(),
        }],
    }));
    let err = client
        .reconcile(reconcile("zero-py", input))
        .await
        .expect_err("zero person-years");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_request_fields(&err), ["input.by_enrollment_type.rows"]);
    server.stop().await;
}
