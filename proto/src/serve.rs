//! The server conventions every acorn binary shares, written once.
//!
//! - `--listen` (default: a fixed loopback port per service, see [`DEFAULT_PORTS`]),
//! - `grpc.health.v1` health (`SERVING` while up, `NOT_SERVING` once shutdown starts),
//! - gRPC reflection v1 *and* v1alpha (grpcurl, grpcui, Postman, ghz), serving the `google.rpc`
//!   error-detail types too so that those clients decode `BadRequest` field violations,
//! - `tracing` with `RUST_LOG` and `--log-format json`, and optional OTLP trace export (see
//!   [`crate::telemetry`]),
//! - graceful shutdown on SIGINT/SIGTERM that drains in-flight calls (bounded by `--shutdown-grace`),
//! - TLS, mTLS, bearer tokens, optional reflection and a plaintext health port: see
//!   [`crate::security`],
//! - request limits: decoded message size (applied by each service to its generated server with
//!   [`ServeArgs::max_request_bytes`]), a per-request deadline and an HTTP/2 header-list limit.
//!
//! Deadlines: every call gets the sooner of the client's `grpc-timeout` and `--request-timeout`.
//! A call still running then is answered `DEADLINE_EXCEEDED` (as gRPC specifies; tonic's own
//! timeout would answer `CANCELLED` "Timeout expired"), and handlers can read the call's
//! [`Deadline`] to give the calls they make on its behalf no more than the time that is left.

use std::{future::Future, net::SocketAddr, time::Duration};

use tokio::{net::TcpListener, time::Instant};
use tonic::{
    codegen::http,
    service::Routes,
    transport::{Server, server::TcpIncoming},
};
use tonic_health::ServingStatus;

use crate::middleware::{Answer, Hook, HookLayer};

/// Default listen ports on 127.0.0.1: settlement 50051, benchmark 50052, attribution 50053.
pub const DEFAULT_PORTS: [(&str, u16); 3] = [
    ("settlement-svc", 50051),
    ("benchmark-svc", 50052),
    ("attribution-svc", 50053),
];

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Command-line flags shared by every acorn server (flatten into the binary's own `clap` struct).
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1 and the service's port].
    #[arg(long, env = "ACORN_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Log format; the level comes from RUST_LOG (default "info").
    #[arg(long, env = "ACORN_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Largest accepted request message, bytes.
    #[arg(long, env = "ACORN_MAX_REQUEST_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_request_bytes: usize,
    /// Per-request deadline, seconds.
    #[arg(long, env = "ACORN_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout: u64,
    /// How long shutdown waits for in-flight calls, seconds.
    #[arg(long, env = "ACORN_SHUTDOWN_GRACE", default_value_t = 30)]
    pub shutdown_grace: u64,
    /// TLS, client certificates, bearer tokens, reflection, plaintext health port.
    #[command(flatten)]
    pub security: crate::security::SecurityArgs,
    /// Metrics endpoint and the overload limit.
    #[command(flatten)]
    pub ops: crate::ops::OpsArgs,
    /// OpenTelemetry trace export.
    #[command(flatten)]
    pub telemetry: crate::telemetry::TelemetryArgs,
}

impl ServeArgs {
    /// The listen address: `--listen`, or 127.0.0.1 with the service's default port.
    pub fn listen_addr(&self, service: &str) -> SocketAddr {
        self.listen.unwrap_or_else(|| {
            let port = DEFAULT_PORTS
                .iter()
                .find(|(name, _)| *name == service)
                .map_or(0, |(_, port)| *port);
            SocketAddr::from(([127, 0, 0, 1], port))
        })
    }
}

/// Resolves when the process receives SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// The routes of one generated gRPC server (or a service that wraps some) with the name its
/// health and reflection report, as a `serve` command's service ([`run_on_store`]) makes them.
pub fn named_routes<G>(service: G) -> (Routes, &'static str)
where
    G: tonic::codegen::Service<http::Request<tonic::body::Body>, Error = std::convert::Infallible>
        + tonic::server::NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    G::Response: axum::response::IntoResponse,
    G::Future: Send + 'static,
{
    (Routes::new(service), G::NAME)
}

/// A binary's `serve` command on its durable store: the logs set up, the store (`what`, e.g.
/// "ledger") at the SQLite file `db` or the PostgreSQL `database_url` opened with `open`, the
/// routes that `service` makes of it (with the name of their gRPC service) [`run`] until shutdown,
/// then the store's step after a clean shutdown (a SQLite database file alone holds every record).
pub async fn run_on_store<S, E: std::error::Error + Send + Sync + 'static>(
    bin: &str,
    what: &str,
    db: &std::path::Path,
    database_url: Option<&str>,
    args: &ServeArgs,
    open: impl AsyncFnOnce(crate::store::Location) -> Result<S, E>,
    service: impl FnOnce(S) -> anyhow::Result<(Routes, &'static str)>,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let mut telemetry = crate::telemetry::init(args.log_format, &args.telemetry, bin)?;
    let location = crate::store::Location::new(db, database_url)?;
    let store = open(location.clone())
        .await
        .with_context(|| format!("opening the {what} {location}"))?;
    let (routes, name) = service(store)?;
    tracing::info!(db = %location, "{what} open");
    run(bin, routes, &[name], args).await?;
    location.after_shutdown().await;
    telemetry.shutdown();
    Ok(())
}

/// What a binary's `serve` does: binds `--listen` (or `service`'s default address), then [`serve`]s
/// `routes` until SIGINT or SIGTERM.
pub async fn run(
    service: &str,
    routes: Routes,
    service_names: &[&str],
    args: &ServeArgs,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let addr = args.listen_addr(service);
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    serve(listener, routes, service_names, args, shutdown_signal()).await
}

/// Serves `routes` (the service's own gRPC services) on `listener`, adding health and reflection,
/// until `shutdown` resolves; then reports `NOT_SERVING`, stops accepting, and lets in-flight calls
/// finish for up to `--shutdown-grace` seconds.
///
/// `service_names` are the fully qualified gRPC service names served (reported by health).
pub async fn serve(
    listener: TcpListener,
    mut routes: Routes,
    service_names: &[&str],
    args: &ServeArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (health, health_service) = tonic_health::server::health_reporter();
    for name in service_names.iter().copied().chain([""]) {
        health
            .set_service_status(name, ServingStatus::Serving)
            .await;
    }
    // Reflection advertises only what this binary serves (the descriptor set holds every contract).
    let advertised: Vec<&str> = service_names
        .iter()
        .copied()
        .chain([
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ])
        .collect();
    let reflection = || {
        advertised.iter().fold(
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(crate::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                // So that clients can decode the google.rpc.BadRequest in error details.
                .register_encoded_file_descriptor_set(crate::ERROR_DETAILS_DESCRIPTOR_SET),
            |b, name| b.with_service_name(*name),
        )
    };
    routes = routes.add_service(health_service.clone());
    if args.security.reflection {
        routes = routes
            .add_service(reflection().build_v1()?)
            .add_service(reflection().build_v1alpha()?);
    }
    let tls = args.security.tls()?;
    let tokens = args.security.tokens()?;
    let health_only = match args.security.health_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|e| anyhow::anyhow!("binding --health-listen {addr}: {e}"))?,
        ),
        None => None,
    };

    let addr = listener.local_addr()?;
    // Small unary calls must not wait for delayed ACKs (Nagle): set TCP_NODELAY on every connection.
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let grace = Duration::from_secs(args.shutdown_grace);
    let names: Vec<String> = service_names.iter().map(|s| s.to_string()).collect();
    // No `Server::timeout`: tonic answers its expiry CANCELLED; the deadline layer answers
    // DEADLINE_EXCEEDED (tonic still reads `grpc-timeout` too, see `DEADLINE_MARGIN`).
    let mut builder = Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls)?;
    }
    let mut health_stop = stop_rx.clone();
    if let Some(addr) = args.ops.metrics_listen {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("binding --metrics-listen {addr}: {e}"))?;
        let metrics_addr = listener.local_addr()?;
        let mut metrics_stop = stop_rx.clone();
        tracing::info!(%metrics_addr, "serving Prometheus metrics at /metrics");
        tokio::spawn(async move {
            let stop = async move {
                let _ = metrics_stop.changed().await;
            };
            if let Err(e) = crate::ops::serve_metrics(listener, stop).await {
                tracing::warn!(error = %e, "the metrics listener stopped");
            }
        });
    }
    let server = builder
        .http2_max_header_list_size(64 * 1024)
        // Outermost: overload is refused before any work, and every answer is counted and logged.
        .layer(crate::ops::OpsLayer::new(&args.ops))
        .layer(DeadlineLayer::new(Duration::from_secs(
            args.request_timeout,
        )))
        .layer(crate::security::AuthLayer::new(tokens.clone()))
        .layer(crate::telemetry::TraceLayer::new(
            cfg!(feature = "otlp") && args.telemetry.otlp_endpoint.is_some(),
        ))
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, async move {
            let _ = stop_rx.changed().await;
        });
    tracing::info!(
        %addr,
        services = ?names,
        tls = args.security.tls_cert.is_some(),
        client_certificates = args.security.tls_client_ca.is_some(),
        bearer_tokens = tokens.as_ref().map_or(0, crate::security::Tokens::len),
        reflection = args.security.reflection,
        "serving"
    );
    if let Some(listener) = health_only {
        let health_addr = listener.local_addr()?;
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let health_server = Server::builder()
            .add_service(health_service)
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = health_stop.changed().await;
            });
        tracing::info!(%health_addr, "serving grpc.health.v1 in plaintext");
        tokio::spawn(async move {
            if let Err(e) = health_server.await {
                tracing::warn!(error = %e, "the plaintext health listener stopped");
            }
        });
    }

    let mut server = std::pin::pin!(server);
    tokio::select! {
        res = &mut server => return Ok(res?),
        () = shutdown => {}
    }
    tracing::info!(
        grace_secs = grace.as_secs(),
        "shutdown requested: draining in-flight calls"
    );
    for name in names.iter().map(String::as_str).chain([""]) {
        health
            .set_service_status(name, ServingStatus::NotServing)
            .await;
    }
    let _ = stop_tx.send(true);
    match tokio::time::timeout(grace, server).await {
        Ok(res) => res?,
        Err(_) => tracing::warn!("shutdown grace period elapsed with calls still in flight"),
    }
    tracing::info!("stopped");
    Ok(())
}

/// When the call being served must be answered by: the sooner of the client's `grpc-timeout` and
/// the server's `--request-timeout`, from when the call arrived. Every call served by [`serve`]
/// carries one in its extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(Instant);

impl Deadline {
    /// The deadline of a call served by [`serve`] (`None` outside it, e.g. in a unit test that
    /// calls a handler directly).
    pub fn of<T>(request: &tonic::Request<T>) -> Option<Self> {
        request.extensions().get::<Self>().copied()
    }

    /// The time left (zero once passed).
    pub fn remaining(&self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }
}

/// How much sooner than the deadline the layer answers. tonic's server also enforces the client's
/// `grpc-timeout` (outside every layer, answering CANCELLED): expiring one timer tick earlier makes
/// DEADLINE_EXCEEDED the answer, never a race between the two.
const DEADLINE_MARGIN: Duration = Duration::from_millis(2);

/// Applies [`Deadline`]s: the sooner of `grpc-timeout` and the server default, answered
/// `DEADLINE_EXCEEDED` on expiry.
type DeadlineLayer = HookLayer<Deadlines>;

impl DeadlineLayer {
    fn new(default: Duration) -> Self {
        HookLayer(Deadlines { default })
    }
}

/// What [`DeadlineLayer`] does with each call.
#[derive(Debug, Clone, Copy)]
struct Deadlines {
    default: Duration,
}

impl Hook for Deadlines {
    fn call<S, B>(&self, inner: &mut S, mut req: http::Request<B>) -> Answer<S::Error>
    where
        S: tower_service::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
        S::Future: Send + 'static,
    {
        let timeout =
            grpc_timeout(req.headers()).map_or(self.default, |client| client.min(self.default));
        let arrived = Instant::now();
        let deadline = arrived.checked_add(timeout).unwrap_or(arrived);
        req.extensions_mut().insert(Deadline(deadline));
        let expiry = deadline
            .checked_sub(DEADLINE_MARGIN)
            .unwrap_or(arrived)
            .max(arrived);
        let call = inner.call(req);
        Box::pin(async move {
            match tokio::time::timeout_at(expiry, call).await {
                Ok(response) => response,
                Err(_) => {
                    tracing::info!(
                        timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                        "deadline exceeded"
                    );
                    Ok(tonic::Status::deadline_exceeded(format!(
                        "deadline exceeded: the call did not complete within {}",
                        humanize(timeout)
                    ))
                    .into_http())
                }
            }
        })
    }
}

fn humanize(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// The `grpc-timeout` request header (gRPC over HTTP/2: at most 8 digits and a unit, H M S m u n);
/// `None` when absent or malformed (the server default then applies).
fn grpc_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    let split = value.len().checked_sub(1)?;
    let (digits, unit) = (value.get(..split)?, value.get(split..)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::middleware::testing::Slow;
    use tower_layer::Layer as _;
    use tower_service::Service as _;

    fn headers(timeout: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(
            "grpc-timeout",
            http::HeaderValue::from_str(timeout).expect("header value"),
        );
        h
    }

    #[test]
    fn parses_grpc_timeout_headers() {
        assert_eq!(
            grpc_timeout(&headers("1H")),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(grpc_timeout(&headers("2M")), Some(Duration::from_secs(120)));
        assert_eq!(grpc_timeout(&headers("30S")), Some(Duration::from_secs(30)));
        assert_eq!(
            grpc_timeout(&headers("250m")),
            Some(Duration::from_millis(250))
        );
        assert_eq!(grpc_timeout(&headers("7u")), Some(Duration::from_micros(7)));
        assert_eq!(
            grpc_timeout(&headers("99999999n")),
            Some(Duration::from_nanos(99_999_999))
        );
        for bad in [
            "",
            "S",
            "1",
            "123456789S",
            "1s",
            "-1S",
            "+1S",
            "1.5S",
            "1 S",
            "éS",
        ] {
            assert_eq!(grpc_timeout(&headers(bad)), None, "{bad:?}");
        }
        assert_eq!(grpc_timeout(&http::HeaderMap::new()), None);
    }

    /// A stand-in handler that answers OK after `delay`, reporting the deadline it was given in an
    /// `x-remaining-ms` header.
    fn slow(delay: Duration) -> Slow {
        Slow {
            delay,
            code: tonic::Code::Ok,
        }
    }

    fn request(timeout: Option<&str>) -> http::Request<()> {
        let mut req = http::Request::new(());
        if let Some(t) = timeout {
            *req.headers_mut() = headers(t);
        }
        req
    }

    fn grpc_status(res: &http::Response<tonic::body::Body>) -> Option<&str> {
        res.headers()
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
    }

    /// The time left the handler saw (`slow` echoes it in `x-remaining-ms`).
    fn remaining_ms(res: &http::Response<tonic::body::Body>) -> u64 {
        res.headers()["x-remaining-ms"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("ms")
    }

    #[tokio::test]
    async fn an_expired_client_deadline_is_deadline_exceeded() {
        let mut svc =
            DeadlineLayer::new(Duration::from_secs(30)).layer(slow(Duration::from_secs(5)));
        let res = svc.call(request(Some("100m"))).await.expect("infallible");
        assert_eq!(grpc_status(&res), Some("4"), "DEADLINE_EXCEEDED is code 4");
    }

    #[tokio::test]
    async fn the_server_default_applies_without_or_above_it() {
        let mut svc =
            DeadlineLayer::new(Duration::from_millis(200)).layer(slow(Duration::from_secs(5)));
        for timeout in [None, Some("10S"), Some("bogus")] {
            let res = svc.call(request(timeout)).await.expect("infallible");
            assert_eq!(grpc_status(&res), Some("4"), "{timeout:?}");
        }
    }

    #[tokio::test]
    async fn a_call_within_its_deadline_answers_and_sees_the_time_left() {
        let mut svc =
            DeadlineLayer::new(Duration::from_secs(30)).layer(slow(Duration::from_millis(10)));
        let res = svc.call(request(Some("2S"))).await.expect("infallible");
        assert_eq!(grpc_status(&res), None);
        let left = remaining_ms(&res);
        assert!(
            (1900..=2000).contains(&left),
            "the handler sees the client's 2 s: {left}"
        );
        let res = svc.call(request(None)).await.expect("infallible");
        let left = remaining_ms(&res);
        assert!(
            (29_900..=30_000).contains(&left),
            "or the server's 30 s: {left}"
        );
    }
}
