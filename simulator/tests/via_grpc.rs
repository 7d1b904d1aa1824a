//! `--via grpc`: benchmark-svc and settlement-svc started in this process on 127.0.0.1:0 (the
//! binaries' serving stack, acorn-testkit), the `simulator` binary pointed at them, and every
//! `--out` file byte-identical to the in-process run of the same seed. Also: the services
//! unreachable is a clear error with nothing written.
#![cfg(feature = "grpc")]

mod common;

use common::{REBASED, files, ok, simulator};

use acorn_proto::benchmark::v1::benchmark_service_server::BenchmarkServiceServer;
use acorn_proto::ledger::Ledger;
use acorn_proto::settlement::v1::settlement_service_server::SettlementServiceServer;
use acorn_testkit::{Running, serve_args, tls::MutualTls};
use benchmark_svc::server::BenchmarkApi;
use settlement_svc::server::SettlementApi;
use tonic::service::Routes;

/// Both services on 127.0.0.1:0, on their own runtime (the simulator is another process).
struct Services {
    runtime: tokio::runtime::Runtime,
    benchmark: Running,
    settlement: Running,
    _db: tempfile::TempDir,
}

impl Services {
    fn start() -> Self {
        Self::start_with(serve_args)
    }

    /// Both with TLS (a certificate for localhost), client certificates and a bearer token:
    /// the services and the simulator's flags for them.
    fn start_secure(dir: &std::path::Path) -> (Self, Vec<String>) {
        let tls = MutualTls::new(dir);
        let services = Self::start_with(|| tls.serve_args());
        let mut flags = tls.tls_flags();
        flags.extend(tls.token_flags());
        (services, flags)
    }

    fn start_with(serve: impl Fn() -> acorn_proto::serve::ServeArgs) -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let db = tempfile::tempdir().unwrap();
        let (benchmark, settlement) = runtime.block_on(async {
            let b = Ledger::open(&db.path().join("b.db")).await.unwrap();
            let s = Ledger::open(&db.path().join("s.db")).await.unwrap();
            let benchmark = Running::start(
                Routes::new(BenchmarkServiceServer::new(BenchmarkApi::new(b))),
                "acorn.benchmark.v1.BenchmarkService",
                serve(),
            )
            .await;
            let settlement = Running::start(
                Routes::new(SettlementServiceServer::new(SettlementApi::new(s, None))),
                "acorn.settlement.v1.SettlementService",
                serve(),
            )
            .await;
            (benchmark, settlement)
        });
        Self {
            runtime,
            benchmark,
            settlement,
            _db: db,
        }
    }

    /// The addresses: `http://127.0.0.1:PORT`, or `https://localhost:PORT` (the name the
    /// certificates carry).
    fn urls(&self, tls: bool) -> [String; 2] {
        [self.benchmark.addr(), self.settlement.addr()].map(|a| {
            if tls {
                format!("https://localhost:{}", a.port())
            } else {
                format!("http://{a}")
            }
        })
    }

    /// The flags that send `run` to these services (over TLS with `tls`; the client's TLS and
    /// token flags are the caller's).
    fn via(&self, tls: bool) -> Vec<String> {
        let [b, s] = self.urls(tls);
        [
            "--via",
            "grpc",
            "--benchmark-url",
            &b,
            "--settlement-url",
            &s,
        ]
        .map(str::to_owned)
        .to_vec()
    }

    fn stop(self) {
        self.runtime.block_on(async {
            self.benchmark.stop().await;
            self.settlement.stop().await;
        });
    }
}

fn same_bytes_via_grpc(scenario: &str, replicates: &str, extra: &[&str]) {
    let services = Services::start();
    let via = services.via(false);
    same_bytes(&via, scenario, replicates, extra);
    services.stop();
}

/// `simulator run` in process and with the `via` flags write the same bytes.
fn same_bytes(via: &[String], scenario: &str, replicates: &str, extra: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("local");
    let remote = tmp.path().join("grpc");
    let base = [
        "run",
        "--scenario",
        scenario,
        "--replicates",
        replicates,
        "--seed",
        "2012",
    ];
    ok(&[&base[..], extra, &["--out", local.to_str().unwrap()]].concat());
    let via: Vec<&str> = via.iter().map(String::as_str).collect();
    let stdout = ok(&[
        &base[..],
        extra,
        &via,
        &["--threads", "4", "--out", remote.to_str().unwrap()],
    ]
    .concat());
    assert!(stdout.contains("net_to_medicare"), "{stdout}");
    let (l, r) = (files(&local), files(&remote));
    assert!(l.contains_key("summary.json") && l.contains_key("acos.csv"));
    assert_eq!(
        String::from_utf8_lossy(&l["summary.json"]),
        String::from_utf8_lossy(&r["summary.json"]),
        "summary.json differs between in-process and --via grpc"
    );
    for (name, bytes) in &l {
        assert!(r.get(name) == Some(bytes), "{name} differs via gRPC");
    }
}

#[test]
fn pioneer_via_grpc_over_mutual_tls_with_a_token_gives_the_same_bytes() {
    let certs = tempfile::tempdir().unwrap();
    let (services, flags) = Services::start_secure(certs.path());
    // With the CA, the client certificate and the token.
    let mut via = services.via(true);
    via.extend(flags.iter().cloned());
    same_bytes(&via, "pioneer-2012-2013", "1", &[]);
    // Without the token (the TLS flags only): UNAUTHENTICATED, said, and nothing written.
    let out = certs.path().join("out");
    let mut argv: Vec<&str> = vec![
        "run",
        "--scenario",
        "pioneer-2012-2013",
        "--replicates",
        "1",
    ];
    argv.extend(via[..via.len() - 2].iter().map(String::as_str));
    argv.extend(["--out", out.to_str().unwrap()]);
    let r = simulator(&argv);
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("Unauthenticated"), "{err}");
    assert!(!out.join("summary.json").exists());
    services.stop();
}

#[test]
fn pioneer_via_grpc_gives_the_same_bytes() {
    same_bytes_via_grpc("pioneer-2012-2013", "3", &[]);
}

#[test]
fn mssp_2012_cohort_via_grpc_gives_the_same_bytes() {
    same_bytes_via_grpc("mssp-2012-cohort", "2", &[]);
}

/// Claims mode (MODEL.md 3.5): attribution stays in process, the benchmark and settlement steps
/// go to the services, and the files are the same.
#[test]
fn claims_mode_via_grpc_gives_the_same_bytes() {
    let small = ["population.acos=2", "population.total_assigned=30000"];
    same_bytes_via_grpc(
        "pioneer-2012-2013",
        "2",
        &["--mode", "claims", "--set", small[0], "--set", small[1]],
    );
}

/// A 2016 rebase inside the scenario (MODEL.md 5.5): benchmark-svc's `mssp-2016-rebased` with no
/// prior-savings input computes the simulator's rules exactly (its 425.603(b)(1) add-on needs
/// that input), so the rebased years go over gRPC too.
#[test]
fn a_2016_rebase_via_grpc_gives_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("rebased.toml");
    std::fs::write(&path, REBASED).unwrap();
    same_bytes_via_grpc(path.to_str().unwrap(), "2", &[]);
}

/// mssp-2018 (136 ACOs in 2017-2018 second agreements, `mssp-2017-rebased`) and mssp-2024 (every
/// ACO under the 2019 Pathways rule sets): benchmark-svc computes those benchmarks' regional
/// adjustment, trend and update from regional inputs the simulator does not model, so `--via
/// grpc` refuses them with the rule set named, and writes nothing (MODEL.md 5.4).
#[test]
fn national_only_rule_sets_are_refused_by_name() {
    let services = Services::start();
    let via = services.via(false);
    let via: Vec<&str> = via.iter().map(String::as_str).collect();
    let tmp = tempfile::tempdir().unwrap();
    for (preset, rule_set) in [
        ("mssp-2018", "mssp-2017-rebased"),
        ("mssp-2024", "mssp-2019-"),
    ] {
        let out = tmp.path().join(preset);
        let run = ["run", "--scenario", preset, "--replicates", "1"];
        let r = simulator(&[&run[..], &via, &["--out", out.to_str().unwrap()]].concat());
        assert!(!r.status.success(), "{preset} ran via gRPC");
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(
            err.contains(&format!("benchmark rule set {rule_set}"))
                && err.contains("regional inputs the simulator does not model"),
            "{preset}: {err}"
        );
        assert!(!out.join("summary.json").exists(), "{preset}");
    }
    services.stop();
}

#[test]
fn unreachable_services_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let r = simulator(&[
        "run",
        "--scenario",
        "pioneer-2012-2013",
        "--replicates",
        "1",
        "--via",
        "grpc",
        "--benchmark-url",
        "http://127.0.0.1:9",
        "--settlement-url",
        "http://127.0.0.1:9",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("cannot reach benchmark-svc"), "{err}");
    assert!(!out.join("summary.json").exists());
}
