//! Operability layers every acorn server shares (applied by [`crate::serve::serve`]):
//!
//! - **Overload**: at most `--max-concurrency` calls in flight (default [`DEFAULT_MAX_CONCURRENCY`];
//!   0: no limit). A call beyond it waits in a bounded queue (at most `--max-queue` calls, each for
//!   at most `--queue-timeout-ms`) for a call to finish; one that finds the queue full, or is still
//!   waiting at the timeout, is answered `RESOURCE_EXHAUSTED` with a `google.rpc.RetryInfo` detail
//!   and the `grpc-retry-pushback-ms` trailer (gRFC A6). So a server never holds more than
//!   `max_concurrency + max_queue` calls (memory stays flat however hard it is pushed) and a queued
//!   call waits a bounded time. Health checks are never refused (a probe must see a busy server as
//!   alive).
//! - **Metrics**: Prometheus text on `--metrics-listen ADDR` at `/metrics` (prometheus-client):
//!   `acorn_rpc_requests_total{method,code}`, `acorn_rpc_duration_seconds{method}` (histogram),
//!   `acorn_rpc_in_flight`, `acorn_rpc_rejected_total`, and `acorn_store_duration_seconds{op}` for
//!   the store's commits ([`observe_store`]).
//! - **Access log**: one line per RPC (target `acorn::access`, level info: method, gRPC code,
//!   milliseconds), never a request field, so no beneficiary identifier; `RUST_LOG=info,acorn::access=off`
//!   turns it off.
//!
//! The code and latency of a call are taken when its response body ends (unary and streaming
//! alike): the `grpc-status` header of a trailers-only answer, else the trailer.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::{
    counter::Counter,
    family::Family,
    gauge::Gauge,
    histogram::{Histogram, exponential_buckets},
};
use prometheus_client::registry::Registry;
use tokio::sync::{Semaphore, SemaphorePermit};
use tonic::codegen::http;

use crate::middleware::{Answer, Hook, HookLayer};

/// The default of `--max-concurrency`. With group commit a call's latency is about the calls in
/// flight over the throughput, so the limit sets both: at 70% of the sustained Reconcile rate on
/// the 2-core machine (about 6,000/s) the calls in flight peaked near 180 (p99 30 ms), which this
/// admits, while at 3x that rate the 256 admitted and queued answer in about 256 / 8,000 s = 32 ms
/// (BENCHMARKS.md, overload and soak).
pub const DEFAULT_MAX_CONCURRENCY: usize = 192;

/// The default of `--max-queue`: bursts beyond the limit wait rather than fail at once.
pub const DEFAULT_MAX_QUEUE: usize = 64;

/// The default of `--queue-timeout-ms`.
pub const DEFAULT_QUEUE_TIMEOUT_MS: u64 = 100;

/// Operability flags (flattened into [`crate::serve::ServeArgs`]).
#[derive(Debug, Clone, clap::Args)]
pub struct OpsArgs {
    /// Serve Prometheus metrics at http://ADDR/metrics (off when absent).
    #[arg(long, env = "ACORN_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Most calls in flight (0: no limit); beyond it calls wait in the queue (--max-queue).
    #[arg(long, env = "ACORN_MAX_CONCURRENCY", default_value_t = DEFAULT_MAX_CONCURRENCY)]
    pub max_concurrency: usize,
    /// Most calls waiting for one in flight to finish; beyond it a call is answered
    /// RESOURCE_EXHAUSTED at once (0: no queue).
    #[arg(long, env = "ACORN_MAX_QUEUE", default_value_t = DEFAULT_MAX_QUEUE)]
    pub max_queue: usize,
    /// Longest a queued call waits, milliseconds; then it is answered RESOURCE_EXHAUSTED.
    #[arg(long, env = "ACORN_QUEUE_TIMEOUT_MS", default_value_t = DEFAULT_QUEUE_TIMEOUT_MS)]
    pub queue_timeout_ms: u64,
}

/// The flags' defaults.
impl Default for OpsArgs {
    fn default() -> Self {
        Self {
            metrics_listen: None,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            max_queue: DEFAULT_MAX_QUEUE,
            queue_timeout_ms: DEFAULT_QUEUE_TIMEOUT_MS,
        }
    }
}

/// The retry hint sent with RESOURCE_EXHAUSTED.
pub const RETRY_AFTER: Duration = Duration::from_millis(50);

type Labels = Vec<(&'static str, String)>;

fn duration_histogram() -> Histogram {
    // 0.1 ms to about 3.3 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    duration: Family<Labels, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
    rejected: Counter,
    store: Family<Labels, Histogram, fn() -> Histogram>,
}

fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let mut registry = Registry::with_prefix("acorn");
        let requests = Family::<Labels, Counter>::default();
        let duration = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(
            duration_histogram,
        );
        let store = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(
            duration_histogram,
        );
        let in_flight = Gauge::default();
        let rejected = Counter::default();
        registry.register(
            "rpc_requests",
            "RPCs answered, by method and gRPC status code",
            requests.clone(),
        );
        registry.register(
            "rpc_duration_seconds",
            "RPC latency from arrival to the end of the response, by method",
            duration.clone(),
        );
        registry.register("rpc_in_flight", "RPCs being served", in_flight.clone());
        registry.register(
            "rpc_rejected",
            "RPCs refused RESOURCE_EXHAUSTED by the concurrency limit",
            rejected.clone(),
        );
        registry.register(
            "store_duration_seconds",
            "Store operations (each commit of the writer), by operation",
            store.clone(),
        );
        Metrics {
            registry,
            requests,
            duration,
            in_flight,
            rejected,
            store,
        }
    })
}

/// Records one store operation `op` (e.g. `commit`) that took `took`.
pub fn observe_store(op: &'static str, took: Duration) {
    metrics()
        .store
        .get_or_create(&vec![("op", op.to_string())])
        .observe(took.as_secs_f64());
}

/// The metrics in the Prometheus text format.
pub fn render() -> String {
    let mut s = String::new();
    let _ = encode(&mut s, &metrics().registry);
    s
}

/// Serves `/metrics` on `listener` until `shutdown`.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/metrics",
        get(|| async {
            (
                [(
                    http::header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )],
                render(),
            )
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// The canonical name of a gRPC status code number.
fn code_name(code: i32) -> &'static str {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    usize::try_from(code)
        .ok()
        .and_then(|i| NAMES.get(i).copied())
        .unwrap_or("UNKNOWN")
}

fn status_of(headers: &http::HeaderMap) -> Option<i32> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Applies the concurrency limit and its queue, the metrics and the access log.
pub type OpsLayer = HookLayer<Ops>;

impl OpsLayer {
    /// The limit of `args` (`--max-concurrency`, `--max-queue`, `--queue-timeout-ms`).
    pub fn new(args: &OpsArgs) -> Self {
        HookLayer(Ops {
            limit: (args.max_concurrency > 0).then(|| {
                Arc::new(Limit {
                    slots: Semaphore::new(args.max_concurrency),
                    queue: Semaphore::new(args.max_queue),
                    wait: Duration::from_millis(args.queue_timeout_ms),
                    max: args.max_concurrency,
                })
            }),
        })
    }
}

/// The concurrency limit: slots for the calls in flight, places in the queue for those waiting.
#[derive(Debug)]
struct Limit {
    slots: Semaphore,
    queue: Semaphore,
    wait: Duration,
    max: usize,
}

/// What [`OpsLayer`] does with each call.
#[derive(Debug, Clone)]
pub struct Ops {
    limit: Option<Arc<Limit>>,
}

/// A call's slot in flight, given back when its response body ends.
struct Permit(Arc<Limit>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.slots.add_permits(1);
    }
}

impl Limit {
    /// A slot now, or after waiting in the queue (if there is room) for at most `wait`; `None`:
    /// refused.
    async fn admit(self: Arc<Self>) -> Option<Permit> {
        if self
            .slots
            .try_acquire()
            .map(SemaphorePermit::forget)
            .is_ok()
        {
            return Some(Permit(self));
        }
        let place = self.queue.try_acquire().ok()?;
        let slot = tokio::time::timeout(self.wait, self.slots.acquire()).await;
        drop(place);
        slot.ok()?.ok()?.forget();
        Some(Permit(self))
    }
}

/// What is recorded when the response body ends (or is dropped).
struct Call {
    method: String,
    started: Instant,
    code: Option<i32>,
    _permit: Option<Permit>,
}

impl Drop for Call {
    fn drop(&mut self) {
        let m = metrics();
        m.in_flight.dec();
        // A body dropped before its trailer: the client went away.
        let code = code_name(self.code.unwrap_or(1));
        let took = self.started.elapsed();
        m.requests
            .get_or_create(&vec![
                ("method", self.method.clone()),
                ("code", code.into()),
            ])
            .inc();
        m.duration
            .get_or_create(&vec![("method", self.method.clone())])
            .observe(took.as_secs_f64());
        tracing::info!(
            target: "acorn::access",
            method = %self.method,
            code,
            ms = took.as_secs_f64() * 1e3,
            "rpc"
        );
    }
}

impl Call {
    /// The call was answered `code` here (it is recorded when the call is dropped).
    fn answered(&mut self, code: tonic::Code) {
        self.code = Some(code as i32);
    }
}

/// A response body that reports its call when it ends.
struct Observed {
    inner: tonic::body::Body,
    call: Option<Call>,
}

impl http_body::Body for Observed {
    type Data = tonic::codegen::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(t), Some(call)) = (frame.trailers_ref(), this.call.as_mut())
                    && let Some(code) = status_of(t)
                {
                    call.code = Some(code);
                }
            }
            Poll::Ready(None) => {
                if let Some(mut call) = this.call.take() {
                    call.code.get_or_insert(0);
                }
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

fn overloaded(limit: &Limit) -> http::Response<tonic::body::Body> {
    use tonic_types::{ErrorDetails, StatusExt as _};
    let mut status = tonic::Status::with_error_details(
        tonic::Code::ResourceExhausted,
        format!(
            "server overloaded: {} calls in flight and the queue full; retry after {} ms",
            limit.max,
            RETRY_AFTER.as_millis()
        ),
        ErrorDetails::with_retry_info(Some(RETRY_AFTER)),
    );
    if let Ok(v) = RETRY_AFTER.as_millis().to_string().parse() {
        status.metadata_mut().insert("grpc-retry-pushback-ms", v);
    }
    status.into_http()
}

impl Hook for Ops {
    fn call<S, B>(&self, inner: &mut S, req: http::Request<B>) -> Answer<S::Error>
    where
        S: tower_service::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
        S::Future: Send + 'static,
    {
        let method = req.uri().path().to_string();
        let started = Instant::now();
        metrics().in_flight.inc();
        let limit = self
            .limit
            .clone()
            .filter(|_| !method.starts_with("/grpc.health.v1."));
        let mut call = Call {
            method,
            started,
            code: None,
            _permit: None,
        };
        // The deadline layer inside counts from here: time spent queued is part of the call's.
        let fut = inner.call(req);
        Box::pin(async move {
            if let Some(limit) = limit {
                match limit.clone().admit().await {
                    Some(permit) => call._permit = Some(permit),
                    None => {
                        metrics().rejected.inc();
                        call.answered(tonic::Code::ResourceExhausted);
                        return Ok(overloaded(&limit));
                    }
                }
            }
            let res = fut.await?;
            call.code = status_of(res.headers());
            let (parts, body) = res.into_parts();
            let body = Observed {
                inner: body,
                call: Some(call),
            };
            Ok(http::Response::from_parts(
                parts,
                tonic::body::Body::new(body),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::middleware::testing::Slow;
    use tower_layer::Layer as _;
    use tower_service::Service as _;

    /// A handler that holds each call for `delay`, then answers NOT_FOUND.
    fn slow(delay: Duration) -> Slow {
        Slow {
            delay,
            code: tonic::Code::NotFound,
        }
    }

    fn request(path: &str) -> http::Request<()> {
        let mut r = http::Request::new(());
        *r.uri_mut() = path.parse().expect("uri");
        r
    }

    fn grpc_status(res: &http::Response<tonic::body::Body>) -> Option<i32> {
        status_of(res.headers())
    }

    /// The limit layer over [`slow`].
    type Limited = <OpsLayer as tower_layer::Layer<Slow>>::Service;

    /// One call of `path` through `svc` (which answers every call, refused ones too).
    async fn answer(svc: &Limited, path: &str) -> http::Response<tonic::body::Body> {
        svc.clone().call(request(path)).await.expect("infallible")
    }

    /// [`answer`] on a task of its own: its response, once joined.
    fn spawn_answer(
        svc: &Limited,
        path: &'static str,
    ) -> tokio::task::JoinHandle<http::Response<tonic::body::Body>> {
        let svc = svc.clone();
        tokio::spawn(async move { answer(&svc, path).await })
    }

    /// `n` of [`spawn_answer`], waiting `gap` after each.
    async fn spawn_answers(
        svc: &Limited,
        path: &'static str,
        n: usize,
        gap: Duration,
    ) -> Vec<tokio::task::JoinHandle<http::Response<tonic::body::Body>>> {
        let mut calls = Vec::new();
        for _ in 0..n {
            calls.push(spawn_answer(svc, path));
            tokio::time::sleep(gap).await;
        }
        calls
    }

    fn limit(max_concurrency: usize, max_queue: usize, queue_timeout_ms: u64) -> OpsArgs {
        OpsArgs {
            metrics_listen: None,
            max_concurrency,
            max_queue,
            queue_timeout_ms,
        }
    }

    #[tokio::test]
    async fn calls_beyond_the_limit_wait_in_a_bounded_queue_for_a_bounded_time() {
        // Two in flight, one place in the queue for 1 s: the third call waits for a slot, the
        // fourth (queue full) is refused at once.
        let svc = OpsLayer::new(&limit(2, 1, 1000)).layer(slow(Duration::from_millis(200)));
        let path = "/acorn.test.v1.Queue/Slow";
        let began = Instant::now();
        let calls = spawn_answers(&svc, path, 3, Duration::from_millis(20)).await;
        let refused = answer(&svc, path).await;
        assert_eq!(grpc_status(&refused), Some(8), "the queue is full");
        assert!(
            began.elapsed() < Duration::from_millis(150),
            "refused at once"
        );
        let mut answered = Vec::new();
        for c in calls {
            let res = c.await.expect("join");
            answered.push((grpc_status(&res), began.elapsed()));
        }
        assert!(
            answered.iter().all(|(code, _)| *code == Some(5)),
            "{answered:?}"
        );
        assert!(
            answered[2].1 >= Duration::from_millis(350),
            "the queued call was served after a slot came free: {answered:?}"
        );
        // A queued call still waiting at its timeout is refused.
        let svc = OpsLayer::new(&limit(1, 1, 50)).layer(slow(Duration::from_millis(500)));
        let held = spawn_answer(&svc, path);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let began = Instant::now();
        let res = answer(&svc, path).await;
        assert_eq!(grpc_status(&res), Some(8));
        let waited = began.elapsed();
        assert!(
            (Duration::from_millis(50)..Duration::from_millis(400)).contains(&waited),
            "{waited:?}"
        );
        assert_eq!(grpc_status(&held.await.expect("join")), Some(5));
    }

    #[test]
    fn the_limit_is_on_by_default() {
        use clap::Parser as _;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            ops: OpsArgs,
        }
        let cli = Cli::parse_from(["x"]);
        assert_eq!(cli.ops.max_concurrency, DEFAULT_MAX_CONCURRENCY);
        assert_eq!(cli.ops.max_queue, DEFAULT_MAX_QUEUE);
        assert_eq!(cli.ops.queue_timeout_ms, DEFAULT_QUEUE_TIMEOUT_MS);
        let d = OpsArgs::default();
        assert_eq!(
            (d.max_concurrency, d.max_queue, d.queue_timeout_ms),
            (
                cli.ops.max_concurrency,
                cli.ops.max_queue,
                cli.ops.queue_timeout_ms
            )
        );
        assert!(OpsLayer::new(&d).0.limit.is_some(), "a limit by default");
    }

    #[tokio::test]
    async fn calls_beyond_the_limit_are_resource_exhausted_with_a_retry_hint() {
        let svc = OpsLayer::new(&limit(2, 0, 0)).layer(slow(Duration::from_millis(300)));
        let path = "/acorn.test.v1.Test/Slow";
        let held = spawn_answers(&svc, path, 2, Duration::ZERO).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let res = answer(&svc, path).await;
        assert_eq!(grpc_status(&res), Some(8), "RESOURCE_EXHAUSTED is code 8");
        assert_eq!(res.headers()["grpc-retry-pushback-ms"], "50");
        let status = tonic::Status::from_header_map(res.headers()).expect("status");
        use tonic_types::StatusExt as _;
        assert_eq!(
            status.get_details_retry_info().and_then(|r| r.retry_delay),
            Some(RETRY_AFTER)
        );
        // Health is never refused.
        let res = answer(&svc, "/grpc.health.v1.Health/Check").await;
        assert_eq!(grpc_status(&res), Some(5), "reaches the handler");
        // Once the two held calls have answered (and their bodies are gone), calls are accepted.
        for h in held {
            let res = h.await.expect("join");
            assert_eq!(grpc_status(&res), Some(5));
        }
        let res = answer(&svc, path).await;
        assert_eq!(grpc_status(&res), Some(5));
        drop(res);
        let text = render();
        assert!(
            text.contains(
                "acorn_rpc_requests_total{method=\"/acorn.test.v1.Test/Slow\",code=\"RESOURCE_EXHAUSTED\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "acorn_rpc_requests_total{method=\"/acorn.test.v1.Test/Slow\",code=\"NOT_FOUND\"} 3"
            ),
            "{text}"
        );
        // Process-wide: the other tests of this module refuse calls too.
        let rejected = text
            .lines()
            .find_map(|l| l.strip_prefix("acorn_rpc_rejected_total "))
            .and_then(|n| n.trim().parse::<u64>().ok());
        assert!(rejected.is_some_and(|n| n >= 1), "{text}");
        assert!(
            text.contains(
                "acorn_rpc_duration_seconds_count{method=\"/acorn.test.v1.Test/Slow\"} 4"
            ),
            "{text}"
        );
    }

    #[tokio::test]
    async fn metrics_are_served_over_http() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        observe_store("commit", Duration::from_millis(3));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_metrics(listener, async {
            let _ = stopped.await;
        }));
        let mut c = tokio::net::TcpStream::connect(addr).await.expect("connect");
        c.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut text = String::new();
        c.read_to_string(&mut text).await.expect("read");
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        assert!(text.contains("text/plain; version=0.0.4"), "{text}");
        // The registry is process-wide: the store tests in this binary commit too, so at least one.
        let commits = text
            .lines()
            .find_map(|l| l.strip_prefix("acorn_store_duration_seconds_count{op=\"commit\"} "))
            .and_then(|n| n.trim().parse::<u64>().ok());
        assert!(commits.is_some_and(|n| n >= 1), "{text}");
        assert!(text.contains("# TYPE acorn_rpc_in_flight gauge"), "{text}");
        let _ = stop.send(());
        server.await.expect("join").expect("metrics server");
    }
}
