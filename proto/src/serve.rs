//! The server conventions every acorn binary shares, written once.
//!
//! - `--listen` (default: a fixed loopback port per service, see [`DEFAULT_PORTS`]),
//! - `grpc.health.v1` health (`SERVING` while up, `NOT_SERVING` once shutdown starts),
//! - gRPC reflection v1 *and* v1alpha (grpcurl, grpcui, Postman, ghz),
//! - `tracing` with `RUST_LOG` and `--log-format json`,
//! - graceful shutdown on SIGINT/SIGTERM that drains in-flight calls (bounded by `--shutdown-grace`),
//! - request limits: decoded message size (applied by each service to its generated server with
//!   [`ServeArgs::max_request_bytes`]), a per-request timeout and an HTTP/2 header-list limit.

use std::{future::Future, net::SocketAddr, time::Duration};

use tokio::net::TcpListener;
use tonic::{
    service::Routes,
    transport::{Server, server::TcpIncoming},
};
use tonic_health::ServingStatus;

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

/// Installs the global `tracing` subscriber: level filter from `RUST_LOG` (default `info`), text or
/// JSON lines on stderr. Safe to call more than once (later calls are ignored).
pub fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
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
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET),
            |b, name| b.with_service_name(*name),
        )
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;
    routes = routes
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);

    let addr = listener.local_addr()?;
    // Small unary calls must not wait for delayed ACKs (Nagle): set TCP_NODELAY on every connection.
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let grace = Duration::from_secs(args.shutdown_grace);
    let names: Vec<String> = service_names.iter().map(|s| s.to_string()).collect();
    let server = Server::builder()
        .timeout(Duration::from_secs(args.request_timeout))
        .http2_max_header_list_size(64 * 1024)
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, async move {
            let _ = stop_rx.await;
        });
    tracing::info!(%addr, services = ?names, "serving");

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
    let _ = stop_tx.send(());
    match tokio::time::timeout(grace, server).await {
        Ok(res) => res?,
        Err(_) => tracing::warn!("shutdown grace period elapsed with calls still in flight"),
    }
    tracing::info!("stopped");
    Ok(())
}
