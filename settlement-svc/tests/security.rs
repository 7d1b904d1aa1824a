//! Transport security and bearer tokens on the real settlement server (the shared
//! `acorn_proto::serve` stack), with certificates generated in the test (rcgen):
//! - a wrong or missing token is UNAUTHENTICATED on writes and on reads of stored results, and
//!   nothing is written; health stays open; reflection can be switched off;
//! - TLS from certificate files; with a client CA, a client certificate signed by another CA (or
//!   none) is refused at the TLS handshake, and one the CA signed is served;
//! - the plaintext health listener answers while the main port speaks TLS only.

mod common;

use std::{net::SocketAddr, path::Path};

use acorn_proto::{
    security::SecurityArgs,
    serve::ServeArgs,
    settlement::v1::{
        self as pb, settlement_service_client::SettlementServiceClient,
        settlement_service_server::SettlementServiceServer,
    },
};
use acorn_testkit::{
    Running, health, serve_args,
    tls::{Ca, write},
};
use settlement_svc::server::SettlementApi;
use tonic::{
    Code, Request,
    service::Routes,
    transport::{Certificate, Channel, ClientTlsConfig, Identity},
};
use tonic_health::pb::health_check_response::ServingStatus;

const TOKEN: &str = "test-token-0123456789abcdef";
const SERVICE: &str = "acorn.settlement.v1.SettlementService";

async fn start(db: &Path, args: ServeArgs) -> Running {
    common::start(db, None, args).await
}

fn with_tokens() -> ServeArgs {
    ServeArgs {
        security: SecurityArgs {
            auth_tokens: vec![TOKEN.into()],
            ..SecurityArgs::default()
        },
        ..serve_args()
    }
}

/// `request` with `authorization: <value>` (none for `None`).
fn authorized<T>(message: T, value: Option<&str>) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(v) = value {
        request
            .metadata_mut()
            .insert("authorization", v.parse().expect("ascii"));
    }
    request
}

fn list() -> pb::ListReconciliationsRequest {
    pb::ListReconciliationsRequest {
        page_size: 100,
        ..Default::default()
    }
}

/// A Reconcile that would be recorded if it got through (CMS PUF PY2018 A1215, as in grpc.rs).
fn reconcile() -> pb::ReconcileRequest {
    common::reconcile("security-1", common::a1215())
}

#[tokio::test]
async fn a_wrong_or_missing_token_is_unauthenticated_and_health_stays_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir.path().join("ledger.db"), with_tokens()).await;
    let mut client = server.client(SettlementServiceClient::new).await;
    let good = format!("Bearer {TOKEN}");
    let wrong = format!("Bearer {TOKEN}x");

    for auth in [
        None,
        Some(wrong.as_str()),
        Some(TOKEN),
        Some("Bearer "),
        Some("Basic dXNlcjpwYXNz"),
    ] {
        let write = client
            .reconcile(authorized(reconcile(), auth))
            .await
            .expect_err("write refused");
        assert_eq!(write.code(), Code::Unauthenticated, "{auth:?}: {write:?}");
        assert!(!write.message().contains(TOKEN), "{}", write.message());
        let read = client
            .list_reconciliations(authorized(list(), auth))
            .await
            .expect_err("read refused");
        assert_eq!(read.code(), Code::Unauthenticated, "{auth:?}: {read:?}");
    }
    // Nothing was written by the refused calls.
    let listed = client
        .list_reconciliations(authorized(list(), Some(&good)))
        .await
        .expect("list with the token")
        .into_inner();
    assert!(listed.reconciliations.is_empty(), "{listed:?}");
    // With the token the write goes through and reads back.
    client
        .reconcile(authorized(reconcile(), Some(&good)))
        .await
        .expect("reconcile with the token");
    let listed = client
        .list_reconciliations(authorized(list(), Some(&good)))
        .await
        .expect("list with the token")
        .into_inner();
    assert_eq!(listed.reconciliations.len(), 1);

    // Health needs no token.
    let status = health(server.channel().await, SERVICE).await;
    assert_eq!(
        status.expect("health without a token"),
        ServingStatus::Serving
    );
    server.stop().await;
}

#[tokio::test]
async fn reflection_can_be_switched_off() {
    use tonic_reflection::pb::v1;
    let dir = tempfile::tempdir().expect("tempdir");
    for on in [true, false] {
        let args = ServeArgs {
            security: SecurityArgs {
                reflection: on,
                ..SecurityArgs::default()
            },
            ..serve_args()
        };
        let server = start(&dir.path().join(format!("{on}.db")), args).await;
        let mut refl =
            v1::server_reflection_client::ServerReflectionClient::new(server.channel().await);
        let request = v1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
                String::new(),
            )),
        };
        let answer = refl
            .server_reflection_info(tokio_stream::iter([request]))
            .await;
        match answer {
            Ok(_) => assert!(on, "reflection answered while off"),
            Err(e) => {
                assert!(!on, "reflection refused while on: {e:?}");
                assert_eq!(e.code(), Code::Unimplemented, "{e:?}");
            }
        }
        server.stop().await;
    }
}

/// A port that was free a moment ago (for --health-listen, which binds its own listener).
fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

/// The result of one GetMinimumSavingsRate over TLS to `addr`, trusting `ca`, presenting
/// `identity` (a client certificate) or none.
async fn call_over_tls(
    addr: SocketAddr,
    ca: &str,
    identity: Option<&(String, String)>,
) -> Result<(), String> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .domain_name("localhost");
    if let Some((cert, key)) = identity {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    let channel = Channel::from_shared(format!("https://localhost:{}", addr.port()))
        .expect("uri")
        .tls_config(tls)
        .map_err(|e| format!("tls config: {e}"))?
        .connect()
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    SettlementServiceClient::new(channel)
        .get_minimum_savings_rate(pb::GetMinimumSavingsRateRequest {
            track: pb::Track::Track1.into(),
            performance_year: 2018,
            assigned_beneficiaries: 10_000,
            agreement_start_date: Some(acorn_proto::common::v1::Date {
                year: 2016,
                month: 1,
                day: 1,
            }),
            ..Default::default()
        })
        .await
        .map(|_| ())
        .map_err(|e| format!("call: {e:?}"))
}

#[tokio::test]
async fn mutual_tls_refuses_a_client_certificate_from_an_untrusted_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new("acorn test CA");
    let other = Ca::new("someone else's CA");
    let (cert, key) = ca.issue(&["localhost"]);
    let trusted_client = ca.issue(&["client.acorn.test"]);
    let untrusted_client = other.issue(&["client.acorn.test"]);
    let health_addr = free_port();
    let args = ServeArgs {
        security: SecurityArgs {
            tls_cert: Some(write(dir.path(), "server.crt", &cert)),
            tls_key: Some(write(dir.path(), "server.key", &key)),
            tls_client_ca: Some(write(dir.path(), "ca.crt", &ca.pem)),
            health_listen: Some(health_addr),
            ..SecurityArgs::default()
        },
        ..serve_args()
    };
    let server = start(&dir.path().join("ledger.db"), args).await;
    let addr = server.addr();

    call_over_tls(addr, &ca.pem, Some(&trusted_client))
        .await
        .expect("a client certificate the CA signed is served");
    let refused = call_over_tls(addr, &ca.pem, Some(&untrusted_client))
        .await
        .expect_err("a client certificate from another CA is refused");
    // Refused by the TLS layer (the call never reached gRPC, so there is no gRPC status code
    // from the server): tonic reports a transport error.
    assert!(
        refused.contains("connect:")
            || refused.contains("Unavailable")
            || refused.contains("Unknown"),
        "{refused}"
    );
    assert!(!refused.contains("InvalidArgument"), "{refused}");
    call_over_tls(addr, &ca.pem, None)
        .await
        .expect_err("no client certificate is refused");
    // Plaintext to the TLS port: refused.
    let plaintext = Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await;
    if let Ok(channel) = plaintext {
        health(channel, "")
            .await
            .expect_err("plaintext to a TLS port");
    }

    // The plaintext health listener answers (kubelet's probes), and serves nothing else.
    let channel = Channel::from_shared(format!("http://{health_addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect to the health listener");
    let status = health(channel.clone(), SERVICE).await;
    assert_eq!(status.expect("plaintext health"), ServingStatus::Serving);
    let e = SettlementServiceClient::new(channel)
        .list_reconciliations(list())
        .await
        .expect_err("only health on the health listener");
    assert_eq!(e.code(), Code::Unimplemented, "{e:?}");
    server.stop().await;
}

#[tokio::test]
async fn tls_without_client_certificates_serves_any_client_that_trusts_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new("acorn test CA");
    let (cert, key) = ca.issue(&["localhost"]);
    let args = ServeArgs {
        security: SecurityArgs {
            tls_cert: Some(write(dir.path(), "server.crt", &cert)),
            tls_key: Some(write(dir.path(), "server.key", &key)),
            ..SecurityArgs::default()
        },
        ..serve_args()
    };
    let server = start(&dir.path().join("ledger.db"), args).await;
    call_over_tls(server.addr(), &ca.pem, None)
        .await
        .expect("served over TLS");
    // A client that trusts another CA refuses the server's certificate.
    let other = Ca::new("someone else's CA");
    call_over_tls(server.addr(), &other.pem, None)
        .await
        .expect_err("server certificate not trusted");
    server.stop().await;
}

#[tokio::test]
async fn a_missing_certificate_file_stops_the_server_at_startup_naming_the_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = ServeArgs {
        security: SecurityArgs {
            tls_cert: Some(dir.path().join("absent.crt")),
            tls_key: Some(dir.path().join("absent.key")),
            ..SecurityArgs::default()
        },
        ..serve_args()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let store = acorn_proto::ledger::Ledger::open(&dir.path().join("ledger.db"))
        .await
        .expect("open ledger");
    let routes = Routes::new(SettlementServiceServer::new(SettlementApi::new(
        store, None,
    )));
    let e = acorn_proto::serve::serve(listener, routes, &[SERVICE], &args, async {})
        .await
        .expect_err("no certificate");
    assert!(format!("{e:#}").contains("--tls-cert"), "{e:#}");
}
