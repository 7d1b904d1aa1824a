//! Logs and, optionally, OpenTelemetry traces for every acorn server.
//!
//! - Logs: `tracing` lines on stderr, text or JSON (`--log-format`), level from `RUST_LOG`.
//! - Traces (cargo feature `otlp`): with `--otlp-endpoint URL` (or the standard
//!   `OTEL_EXPORTER_OTLP_ENDPOINT`), one server span per RPC is exported over OTLP/gRPC to a
//!   collector (the OpenTelemetry Collector, Jaeger, Tempo, ...), batched in the background and
//!   flushed at shutdown. A call that carries a W3C `traceparent` header joins the caller's trace.
//!   The span holds only the RPC's service and method names and its gRPC status code: never a
//!   request field, so no beneficiary identifier leaves the process this way.
//!
//! Without the feature the flag is still accepted, and an endpoint given to such a build is an
//! error at start-up, not a silent no-op.

use crate::middleware::{Answer, Hook, HookLayer};
use crate::serve::LogFormat;
use tonic::codegen::http;

/// Trace export flags (flattened into [`crate::serve::ServeArgs`]).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TelemetryArgs {
    /// Export a span per RPC over OTLP/gRPC to this collector, e.g. http://127.0.0.1:4317
    /// (needs a build with the `otlp` cargo feature).
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
}

/// Keeps the trace exporter alive; [`Telemetry::shutdown`] (or drop) flushes the spans not yet
/// sent.
#[derive(Debug, Default)]
pub struct Telemetry {
    #[cfg(feature = "otlp")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported.
    pub fn exporting(&self) -> bool {
        #[cfg(feature = "otlp")]
        return self.provider.is_some();
        #[cfg(not(feature = "otlp"))]
        false
    }

    /// Sends the spans still buffered and stops the exporter.
    pub fn shutdown(&mut self) {
        #[cfg(feature = "otlp")]
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            tracing::warn!(error = %e, "flushing the OTLP trace exporter failed");
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Installs the global `tracing` subscriber: level filter from `RUST_LOG` (default `info`), text
/// or JSON lines on stderr, plus the OTLP span exporter when `args` names an endpoint. Later
/// calls in the same process leave the first subscriber in place. `service` names the process
/// in the exported resource (`service.name`).
pub fn init(format: LogFormat, args: &TelemetryArgs, service: &str) -> anyhow::Result<Telemetry> {
    use tracing_subscriber::{Layer as _, layer::SubscriberExt as _, util::SubscriberInitExt as _};
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    };
    // Colours only on a terminal: a log file or collector gets plain text.
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let fmt = match format {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt.json().flatten_event(true).boxed(),
    };
    let registry = tracing_subscriber::registry().with(fmt.with_filter(filter()));
    let Some(endpoint) = args.otlp_endpoint.as_deref().filter(|e| !e.is_empty()) else {
        let _ = registry.try_init();
        return Ok(Telemetry::default());
    };
    #[cfg(not(feature = "otlp"))]
    {
        let _ = (registry, service);
        anyhow::bail!(
            "--otlp-endpoint {endpoint}: this binary was built without the `otlp` cargo feature (build with --features otlp)"
        );
    }
    #[cfg(feature = "otlp")]
    {
        let provider = otlp::provider(endpoint, service)?;
        let layer = otlp::layer(&provider, service);
        // Spans of the RPC layer only: the filter keeps the exported data to what is documented.
        let only_rpc = tracing_subscriber::filter::Targets::new()
            .with_target(RPC_SPAN_TARGET, tracing::Level::INFO);
        if registry
            .with(layer.with_filter(only_rpc))
            .try_init()
            .is_err()
        {
            anyhow::bail!("--otlp-endpoint: a tracing subscriber was already installed");
        }
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        tracing::info!(endpoint, "exporting a span per RPC over OTLP/gRPC");
        Ok(Telemetry {
            provider: Some(provider),
        })
    }
}

/// Adds the current span's W3C trace context (`traceparent`) to an outgoing call's metadata, so
/// that the callee's span joins this trace (settlement-svc's reads from benchmark-svc). Nothing
/// is added without the `otlp` feature, without an endpoint, or outside a span.
pub fn inject(metadata: &mut tonic::metadata::MetadataMap) {
    #[cfg(feature = "otlp")]
    otlp::inject(metadata);
    #[cfg(not(feature = "otlp"))]
    let _ = metadata;
}

/// The `tracing` target of the per-RPC server spans.
pub const RPC_SPAN_TARGET: &str = "acorn::rpc";

/// Opens a server span around every call (when `enabled`), parented on the caller's
/// `traceparent`.
pub type TraceLayer = HookLayer<Spans>;

impl TraceLayer {
    /// A span per call when `enabled` (the exporter is on); a pass-through otherwise.
    pub fn new(enabled: bool) -> Self {
        HookLayer(Spans { enabled })
    }
}

/// What [`TraceLayer`] does with each call.
#[derive(Debug, Clone, Copy)]
pub struct Spans {
    enabled: bool,
}

impl Hook for Spans {
    fn call<S, B>(&self, inner: &mut S, req: http::Request<B>) -> Answer<S::Error>
    where
        S: tower_service::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
        S::Future: Send + 'static,
    {
        #[cfg(feature = "otlp")]
        if self.enabled {
            return otlp::traced(inner, req);
        }
        let _ = self.enabled;
        Box::pin(inner.call(req))
    }
}

#[cfg(feature = "otlp")]
mod otlp {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::WithExportConfig as _;
    use tonic::codegen::http;
    use tracing::Instrument as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;

    use crate::middleware::Answer;

    pub(super) fn provider(
        endpoint: &str,
        service: &str,
    ) -> anyhow::Result<opentelemetry_sdk::trace::SdkTracerProvider> {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()
            .map_err(|e| anyhow::anyhow!("--otlp-endpoint {endpoint}: {e}"))?;
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(service.to_string())
            .build();
        Ok(opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build())
    }

    pub(super) fn layer<S>(
        provider: &opentelemetry_sdk::trace::SdkTracerProvider,
        service: &str,
    ) -> tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>
    where
        S: tracing::Subscriber + for<'s> tracing_subscriber::registry::LookupSpan<'s>,
    {
        tracing_opentelemetry::layer().with_tracer(provider.tracer(service.to_string()))
    }

    /// Reads W3C trace context from the request headers.
    struct Headers<'a>(&'a http::HeaderMap);

    impl opentelemetry::propagation::Extractor for Headers<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(http::HeaderName::as_str).collect()
        }
    }

    /// Writes W3C trace context into gRPC metadata.
    struct Metadata<'a>(&'a mut tonic::metadata::MetadataMap);

    impl opentelemetry::propagation::Injector for Metadata<'_> {
        fn set(&mut self, key: &str, value: String) {
            if let (Ok(key), Ok(value)) = (
                tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
                value.parse(),
            ) {
                self.0.insert(key, value);
            }
        }
    }

    pub(super) fn inject(metadata: &mut tonic::metadata::MetadataMap) {
        let cx = tracing::Span::current().context();
        opentelemetry::global::get_text_map_propagator(|p| {
            p.inject_context(&cx, &mut Metadata(metadata));
        });
    }

    pub(super) fn traced<S, B>(inner: &mut S, req: http::Request<B>) -> Answer<S::Error>
    where
        S: tower_service::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
        S::Future: Send + 'static,
    {
        // "/package.Service/Method": only these names are recorded.
        let path = req.uri().path();
        let (service, method) = path
            .trim_start_matches('/')
            .split_once('/')
            .unwrap_or((path, ""));
        let span = tracing::info_span!(
            target: super::RPC_SPAN_TARGET,
            "rpc",
            otel.name = %path,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            rpc.grpc.status_code = tracing::field::Empty,
        );
        let parent =
            opentelemetry::global::get_text_map_propagator(|p| p.extract(&Headers(req.headers())));
        // No (valid) traceparent: the span starts a trace of its own.
        let _ = span.set_parent(parent);
        let call = {
            let _entered = span.enter();
            inner.call(req)
        };
        Box::pin(
            async move {
                let answer = call.await;
                if let Ok(response) = &answer {
                    // A trailers-only answer (every error) carries its code in the headers;
                    // otherwise the body's trailer does, after the span has closed: 0 then.
                    let code = response
                        .headers()
                        .get("grpc-status")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<i64>().ok())
                        .unwrap_or(0);
                    tracing::Span::current().record("rpc.grpc.status_code", code);
                }
                answer
            }
            .instrument(span),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An endpoint given to a build without the exporter is refused, not ignored.
    #[cfg(not(feature = "otlp"))]
    #[test]
    fn an_endpoint_without_the_feature_is_refused() {
        let args = TelemetryArgs {
            otlp_endpoint: Some("http://127.0.0.1:4317".into()),
        };
        let err = init(LogFormat::Text, &args, "test")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("built without the `otlp` cargo feature"),
            "{err}"
        );
    }

    /// `--otlp-endpoint` and its standard environment variable.
    #[test]
    fn the_endpoint_flag_parses() {
        use clap::Parser as _;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            t: TelemetryArgs,
        }
        let cli = Cli::try_parse_from(["x", "--otlp-endpoint", "http://collector:4317"]).unwrap();
        assert_eq!(
            cli.t.otlp_endpoint.as_deref(),
            Some("http://collector:4317")
        );
    }
}
