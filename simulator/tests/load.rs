//! `simulator load` against the three services in process (acorn-testkit, the binaries' serving
//! stack on 127.0.0.1:0) and the echo service: every RPC, a share of its requests deliberately
//! invalid, and every call's status counted: the valid ones OK, the invalid ones INVALID_ARGUMENT,
//! call by call (from the per-call CSV).
#![cfg(feature = "grpc")]

use std::collections::BTreeMap;

use acorn_proto::{
    benchmark::v1::benchmark_service_server::BenchmarkServiceServer, ledger::Ledger,
    settlement::v1::settlement_service_server::SettlementServiceServer,
};
use acorn_testkit::{Running, serve_args};
use clap::Parser;
use simulator::load::{self, LoadArgs, Rpc, Service, requests};
use tonic::service::Routes;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: LoadArgs,
}

fn args(argv: &[&str]) -> LoadArgs {
    Cli::try_parse_from(std::iter::once("load").chain(argv.iter().copied()))
        .expect("flags")
        .args
}

struct Servers {
    settlement: Running,
    benchmark: Running,
    attribution: Running,
    _dir: tempfile::TempDir,
}

async fn servers() -> Servers {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = Ledger::open(&dir.path().join("s.db"))
        .await
        .expect("ledger");
    let settlement = Running::start(
        Routes::new(SettlementServiceServer::new(
            settlement_svc::server::SettlementApi::new(ledger, None),
        )),
        "acorn.settlement.v1.SettlementService",
        serve_args(),
    )
    .await;
    let ledger = Ledger::open(&dir.path().join("b.db"))
        .await
        .expect("ledger");
    let benchmark = Running::start(
        Routes::new(BenchmarkServiceServer::new(
            benchmark_svc::server::BenchmarkApi::new(ledger),
        )),
        "acorn.benchmark.v1.BenchmarkService",
        serve_args(),
    )
    .await;
    let store = attribution_svc::store::Store::open(&dir.path().join("a.db"))
        .await
        .expect("store");
    let attribution = Running::start(
        Routes::new(attribution_svc::server::service(
            attribution_svc::server::AttributionApi::new(store),
            attribution_svc::server::Limits::default(),
        )),
        "acorn.attribution.v1.AttributionService",
        serve_args(),
    )
    .await;
    Servers {
        settlement,
        benchmark,
        attribution,
        _dir: dir,
    }
}

/// The CSV rows: call index -> status.
fn rows(csv: &str) -> BTreeMap<u64, String> {
    csv.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse().expect("index"), f[3].to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_counts_every_status_call_by_call() {
    let s = servers().await;
    let dir = tempfile::tempdir().expect("tempdir");
    for rpc in Rpc::ALL.iter().copied().filter(|r| *r != Rpc::Echo) {
        let addr = match rpc.service() {
            Service::Settlement => s.settlement.addr(),
            Service::Benchmark => s.benchmark.addr(),
            _ => s.attribution.addr(),
        };
        let target = format!("http://{addr}");
        let csv = dir.path().join(format!("{}.csv", rpc.method()));
        let json = dir.path().join(format!("{}.json", rpc.method()));
        let a = args(&[
            "--call",
            rpc.method(),
            "--target",
            &target,
            "-n",
            "24",
            "-c",
            "4",
            "--connections",
            "2",
            "--invalid-fraction",
            "0.25",
            "--seed",
            "3",
            "--acos",
            "12",
            "--pool",
            "30",
            "--beneficiaries",
            "5000",
            "--batch-beneficiaries",
            "40",
            "--stream-messages",
            "2",
            "--assigned",
            "300",
            "--records",
            "200",
            "--page-size",
            "5",
            "--csv",
            csv.to_str().expect("utf-8"),
            "--json",
            json.to_str().expect("utf-8"),
        ]);
        let report = load::run(&a).await.expect("load run");
        assert_eq!(report.count, 24, "{rpc:?}");
        let calls = rows(&std::fs::read_to_string(&csv).expect("csv"));
        assert_eq!(calls.len(), 24, "{rpc:?}");
        let mut invalid = 0;
        for (i, status) in &calls {
            let bad = requests::is_invalid(3, *i, 0.25);
            invalid += u64::from(bad);
            let want = if bad { "INVALID_ARGUMENT" } else { "OK" };
            assert_eq!(status, want, "{rpc:?} call {i}");
        }
        assert!(invalid > 0 && invalid < 24, "{rpc:?}: {invalid} invalid");
        assert_eq!(
            report.status.get("OK").copied(),
            Some(24 - invalid),
            "{rpc:?}"
        );
        assert_eq!(report.errors, invalid, "{rpc:?}");
        let j: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("json");
        assert_eq!(j["count"], 24);
        assert_eq!(j["status"]["INVALID_ARGUMENT"], invalid);
        if rpc == Rpc::UploadAssignmentData {
            assert!(report.units > 0, "claim lines counted");
        }
    }
    s.settlement.stop().await;
    s.benchmark.stop().await;
    s.attribution.stop().await;
}

/// `--max-concurrency 2 --max-queue 0` on a real server: 16 callers at once get RESOURCE_EXHAUSTED for the excess
/// and OK for the rest, nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_is_resource_exhausted_for_the_excess() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = Ledger::open(&dir.path().join("s.db"))
        .await
        .expect("ledger");
    let mut serve = serve_args();
    serve.ops.max_concurrency = 2;
    serve.ops.max_queue = 0;
    let server = Running::start(
        Routes::new(SettlementServiceServer::new(
            settlement_svc::server::SettlementApi::new(ledger, None),
        )),
        "acorn.settlement.v1.SettlementService",
        serve,
    )
    .await;
    let a = args(&[
        "--call",
        "Reconcile",
        "--target",
        &format!("http://{}", server.addr()),
        "-n",
        "400",
        "-c",
        "16",
        "--acos",
        "12",
    ]);
    let report = load::run(&a).await.expect("load run");
    let ok = report.status.get("OK").copied().unwrap_or(0);
    let shed = report
        .status
        .get("RESOURCE_EXHAUSTED")
        .copied()
        .unwrap_or(0);
    assert_eq!(ok + shed, 400, "{:?}", report.status);
    assert!(ok > 0 && shed > 0, "{:?}", report.status);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_echo_service_at_a_rate_keeps_the_schedule() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(load::echo::serve(listener, async {
        let _ = stopped.await;
    }));
    let a = args(&[
        "--call",
        "Echo",
        "--target",
        &format!("http://{addr}"),
        "--rps",
        "400",
        "-n",
        "200",
        "--warmup",
        "100ms",
        "--interval",
        "200ms",
    ]);
    let report = load::run(&a).await.expect("load run");
    assert_eq!(report.count, 200);
    assert_eq!(report.status.get("OK").copied(), Some(200));
    assert!(report.meta.coordinated_omission_corrected);
    // 200 calls due 2.5 ms apart: half a second, whatever the machine (calls are not sent early).
    assert!(
        (0.49..1.5).contains(&report.elapsed_s),
        "{}",
        report.elapsed_s
    );
    assert!(!report.interim.is_empty(), "interim lines");
    let _ = stop.send(());
    server.await.expect("join").expect("echo server");
}

/// A benchmark-svc with TLS, client certificates (mTLS) and a bearer token, driven with
/// `--tls-ca`, `--tls-cert/--tls-key` and `--auth-token-file`: every call OK, and the request_id
/// of each write in `--acked`; without the token every call is UNAUTHENTICATED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_server_with_tokens_is_driven_with_the_ca_client_certificate_and_token() {
    use acorn_testkit::tls::{Ca, write};
    const TOKEN: &str = "load-token-0123456789abcdef";
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new("acorn test CA");
    let (cert, key) = ca.issue(&["localhost"]);
    let (client_cert, client_key) = ca.issue(&["loadgen.acorn.test"]);
    let ca_file = write(dir.path(), "ca.crt", &ca.pem);
    let mut serve = serve_args();
    serve.security.tls_cert = Some(write(dir.path(), "server.crt", &cert));
    serve.security.tls_key = Some(write(dir.path(), "server.key", &key));
    serve.security.tls_client_ca = Some(ca_file.clone());
    serve.security.auth_tokens = vec![TOKEN.into()];
    let ledger = Ledger::open(&dir.path().join("b.db"))
        .await
        .expect("ledger");
    let server = Running::start(
        Routes::new(BenchmarkServiceServer::new(
            benchmark_svc::server::BenchmarkApi::new(ledger),
        )),
        "acorn.benchmark.v1.BenchmarkService",
        serve,
    )
    .await;
    let target = format!("https://localhost:{}", server.addr().port());
    let token_file = write(
        dir.path(),
        "token",
        &format!("# the load generator's\n{TOKEN}\n"),
    );
    let acked = dir.path().join("acked.txt");
    let paths = [
        ca_file.to_str().expect("utf-8").to_owned(),
        write(dir.path(), "client.crt", &client_cert)
            .to_str()
            .expect("utf-8")
            .to_owned(),
        write(dir.path(), "client.key", &client_key)
            .to_str()
            .expect("utf-8")
            .to_owned(),
    ];
    let base = [
        "--call",
        "ComputeBenchmark",
        "--target",
        &target,
        "-n",
        "20",
        "-c",
        "4",
        "--acos",
        "12",
        "--tls-ca",
        &paths[0],
        "--tls-cert",
        &paths[1],
        "--tls-key",
        &paths[2],
    ];
    let a = args(
        &[
            &base[..],
            &[
                "--auth-token-file",
                token_file.to_str().expect("utf-8"),
                "--tag",
                "tls",
                "--acked",
                acked.to_str().expect("utf-8"),
            ],
        ]
        .concat(),
    );
    let report = load::run(&a).await.expect("load run over TLS");
    assert_eq!(
        report.status.get("OK").copied(),
        Some(20),
        "{:?}",
        report.status
    );
    let ids: std::collections::BTreeSet<String> = std::fs::read_to_string(&acked)
        .expect("acked file")
        .lines()
        .map(str::to_owned)
        .collect();
    // The 20 measured calls are tls-0 .. tls-19 (no warm-up), each acknowledged once.
    let want: std::collections::BTreeSet<String> = (0..20).map(|i| format!("tls-{i}")).collect();
    assert_eq!(ids, want);

    let report = load::run(&args(&base))
        .await
        .expect("load run without a token");
    assert_eq!(
        report.status.get("UNAUTHENTICATED").copied(),
        Some(20),
        "{:?}",
        report.status
    );
    // No client certificate: refused at the handshake (TLS 1.3: the client may only learn it on
    // its first call), so nothing is answered OK.
    let no_cert = args(&[
        "--call",
        "ComputeBenchmark",
        "--target",
        &target,
        "-n",
        "1",
        "--tls-ca",
        &paths[0],
    ]);
    if let Ok(report) = load::run(&no_cert).await {
        assert_eq!(
            report.ok, 0,
            "served without a client certificate: {:?}",
            report.status
        );
    }
    server.stop().await;
}
