//! `simulator load` against the three services in process (acorn-testkit, the binaries' serving
//! stack on 127.0.0.1:0) and the echo service: every RPC, a share of its requests deliberately
//! invalid, and every call's status counted: the valid ones OK, the invalid ones INVALID_ARGUMENT,
//! call by call (from the per-call CSV).
#![cfg(feature = "grpc")]

use std::{collections::BTreeMap, path::Path};

use acorn_proto::{
    benchmark::v1::benchmark_service_server::BenchmarkServiceServer, ledger::Ledger,
    serve::ServeArgs, settlement::v1::settlement_service_server::SettlementServiceServer,
};
use acorn_testkit::{Running, serve_args, tls::MutualTls};
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

/// settlement-svc (no benchmark source) on a ledger at `db`, served with `serve`.
async fn settlement_svc(db: &Path, serve: ServeArgs) -> Running {
    let ledger = Ledger::open(db).await.expect("ledger");
    Running::start(
        Routes::new(SettlementServiceServer::new(
            settlement_svc::server::SettlementApi::new(ledger, None),
        )),
        "acorn.settlement.v1.SettlementService",
        serve,
    )
    .await
}

/// benchmark-svc on a ledger at `db`, served with `serve`.
async fn benchmark_svc(db: &Path, serve: ServeArgs) -> Running {
    let ledger = Ledger::open(db).await.expect("ledger");
    Running::start(
        Routes::new(BenchmarkServiceServer::new(
            benchmark_svc::server::BenchmarkApi::new(ledger),
        )),
        "acorn.benchmark.v1.BenchmarkService",
        serve,
    )
    .await
}

async fn servers() -> Servers {
    let dir = tempfile::tempdir().expect("tempdir");
    let settlement = settlement_svc(&dir.path().join("s.db"), serve_args()).await;
    let benchmark = benchmark_svc(&dir.path().join("b.db"), serve_args()).await;
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
    let mut serve = serve_args();
    serve.ops.max_concurrency = 2;
    serve.ops.max_queue = 0;
    let server = settlement_svc(&dir.path().join("s.db"), serve).await;
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
    let dir = tempfile::tempdir().expect("tempdir");
    let tls = MutualTls::new(dir.path());
    let server = benchmark_svc(&dir.path().join("b.db"), tls.serve_args()).await;
    let target = format!("https://localhost:{}", server.addr().port());
    let acked = dir.path().join("acked.txt");
    let tls_flags = tls.tls_flags();
    let mut base = vec![
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
    ];
    base.extend(tls_flags.iter().map(String::as_str));
    let token_flags = tls.token_flags();
    let mut with_token = base.clone();
    with_token.extend(token_flags.iter().map(String::as_str));
    with_token.extend(["--tag", "tls", "--acked", acked.to_str().expect("utf-8")]);
    let a = args(&with_token);
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
        tls.client
            .tls_ca
            .as_ref()
            .and_then(|p| p.to_str())
            .expect("utf-8"),
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
