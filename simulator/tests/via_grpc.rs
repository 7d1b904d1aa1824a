//! `--via grpc`: benchmark-svc and settlement-svc started in this process on 127.0.0.1:0 (the
//! binaries' serving stack, acorn-testkit), the `simulator` binary pointed at them, and every
//! `--out` file byte-identical to the in-process run of the same seed. Also: the services
//! unreachable is a clear error with nothing written.
#![cfg(feature = "grpc")]

mod common;

use common::{files, ok, simulator};

use acorn_proto::benchmark::v1::benchmark_service_server::BenchmarkServiceServer;
use acorn_proto::ledger::Ledger;
use acorn_proto::settlement::v1::settlement_service_server::SettlementServiceServer;
use acorn_testkit::{Running, serve_args};
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
        use acorn_testkit::tls::{Ca, write};
        const TOKEN: &str = "via-grpc-token-0123456789abcdef";
        let ca = Ca::new("acorn test CA");
        let (cert, key) = ca.issue(&["localhost"]);
        let (client_cert, client_key) = ca.issue(&["simulator.acorn.test"]);
        let path = |name: &str, text: &str| write(dir, name, text).to_str().unwrap().to_owned();
        let (cert, key, ca_file) = (
            path("server.crt", &cert),
            path("server.key", &key),
            path("ca.crt", &ca.pem),
        );
        let serve = || {
            let mut args = serve_args();
            args.security.tls_cert = Some(cert.clone().into());
            args.security.tls_key = Some(key.clone().into());
            args.security.tls_client_ca = Some(ca_file.clone().into());
            args.security.auth_tokens = vec![TOKEN.into()];
            args
        };
        let services = Self::start_with(serve);
        let flags = vec![
            "--tls-ca".into(),
            ca_file.clone(),
            "--tls-cert".into(),
            path("client.crt", &client_cert),
            "--tls-key".into(),
            path("client.key", &client_key),
            "--auth-token-file".into(),
            path("token", TOKEN),
        ];
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

    fn stop(self) {
        self.runtime.block_on(async {
            self.benchmark.stop().await;
            self.settlement.stop().await;
        });
    }
}

fn same_bytes_via_grpc(scenario: &str, replicates: &str, extra: &[&str]) {
    let services = Services::start();
    let urls = services.urls(false);
    same_bytes(&urls, scenario, replicates, extra, &[]);
    services.stop();
}

/// `simulator run` in process and `--via grpc` at `urls` (with `client` flags) write the same bytes.
fn same_bytes(
    urls: &[String; 2],
    scenario: &str,
    replicates: &str,
    extra: &[&str],
    client: &[&str],
) {
    let [b, s] = urls;
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
    let stdout = ok(&[
        &base[..],
        extra,
        &[
            "--via",
            "grpc",
            "--benchmark-url",
            b,
            "--settlement-url",
            s,
            "--threads",
            "4",
            "--out",
            remote.to_str().unwrap(),
        ],
        client,
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
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let urls = services.urls(true);
    same_bytes(&urls, "pioneer-2012-2013", "1", &[], &flags);
    // Without the token: UNAUTHENTICATED, said, and nothing written.
    let out = certs.path().join("out");
    let r = simulator(
        &[
            &[
                "run",
                "--scenario",
                "pioneer-2012-2013",
                "--replicates",
                "1",
                "--via",
                "grpc",
                "--benchmark-url",
                &urls[0],
                "--settlement-url",
                &urls[1],
                "--out",
                out.to_str().unwrap(),
            ][..],
            &flags[..6],
        ]
        .concat(),
    );
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
