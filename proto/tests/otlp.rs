//! `--otlp-endpoint`: a server exports one span per RPC over OTLP/gRPC, parented on the caller's
//! W3C `traceparent`, to a collector (here a fake one in the test that keeps what it receives).
//! Run with `cargo test -p acorn-proto --features otlp --test otlp`.

use std::sync::{Arc, Mutex};

use acorn_proto::telemetry::{self, TelemetryArgs};
use acorn_testkit::{Running, serve_args};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
    trace_service_server::{TraceService, TraceServiceServer},
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::{Span, span::SpanKind};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<ExportTraceServiceRequest>>>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn text(value: Option<&Value>) -> Option<&str> {
    match value {
        Some(Value::StringValue(s)) => Some(s),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_span_per_rpc_is_exported_and_joins_the_callers_trace() {
    // The collector.
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector_addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );

    // A server exporting to it.
    let args = acorn_proto::serve::ServeArgs {
        telemetry: TelemetryArgs {
            otlp_endpoint: Some(format!("http://{collector_addr}")),
        },
        ..serve_args()
    };
    let mut telemetry = telemetry::init(args.log_format, &args.telemetry, "otlp-test").unwrap();
    assert!(telemetry.exporting());
    let server = Running::start(
        tonic::service::Routes::default(),
        "acorn.test.v1.Nothing",
        args,
    )
    .await;
    let mut health = server.client(HealthClient::new).await;

    // One call inside the caller's trace, one starting its own, one answered with an error.
    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let parent_id = "b7ad6b7169203331";
    let mut joined = tonic::Request::new(HealthCheckRequest::default());
    joined.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-{parent_id}-01").parse().unwrap(),
    );
    health.check(joined).await.unwrap();
    health.check(HealthCheckRequest::default()).await.unwrap();
    let unknown = health
        .check(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    // A call made on behalf of a traced one (as settlement-svc calls benchmark-svc) carries its
    // context: the callee's span is the caller's child.
    let outgoing = tracing::info_span!(target: telemetry::RPC_SPAN_TARGET, "outgoing");
    let mut onward = tonic::Request::new(HealthCheckRequest::default());
    outgoing.in_scope(|| telemetry::inject(onward.metadata_mut()));
    let traceparent = onward
        .metadata()
        .get("traceparent")
        .expect("traceparent injected")
        .to_str()
        .unwrap()
        .to_string();
    health.check(onward).await.unwrap();
    drop(outgoing);
    server.stop().await;
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap();

    let exports = collector.0.lock().unwrap().clone();
    let resources: Vec<_> = exports.iter().flat_map(|e| &e.resource_spans).collect();
    assert!(!resources.is_empty(), "nothing exported");
    for r in &resources {
        let resource = r.resource.as_ref().expect("resource");
        let name = resource
            .attributes
            .iter()
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| v.value.as_ref());
        assert_eq!(text(name), Some("otlp-test"));
    }
    let all: Vec<&Span> = resources
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .collect();
    let (outgoing, spans): (Vec<&Span>, Vec<&Span>) =
        all.iter().partition(|s| s.name == "outgoing");
    assert_eq!(outgoing.len(), 1, "{all:#?}");
    assert_eq!(spans.len(), 4, "one span per RPC: {all:#?}");
    for span in &spans {
        assert_eq!(span.name, "/grpc.health.v1.Health/Check");
        assert_eq!(span.kind, SpanKind::Server as i32);
        assert_eq!(text(attribute(span, "rpc.system")), Some("grpc"));
        assert_eq!(
            text(attribute(span, "rpc.service")),
            Some("grpc.health.v1.Health")
        );
        assert_eq!(text(attribute(span, "rpc.method")), Some("Check"));
    }
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let in_trace: Vec<_> = spans
        .iter()
        .filter(|s| hex(&s.trace_id) == trace_id)
        .collect();
    assert_eq!(in_trace.len(), 1, "only the call with traceparent joins it");
    assert_eq!(hex(&in_trace[0].parent_span_id), parent_id);
    // traceparent = 00-<trace id>-<span id>-<flags>, the outgoing span's ids.
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts[1], hex(&outgoing[0].trace_id));
    assert_eq!(parts[2], hex(&outgoing[0].span_id));
    let children: Vec<_> = spans
        .iter()
        .filter(|s| s.parent_span_id == outgoing[0].span_id)
        .collect();
    assert_eq!(
        children.len(),
        1,
        "the onward call's span is the caller's child"
    );
    assert_eq!(children[0].trace_id, outgoing[0].trace_id);
    let codes: Vec<_> = spans
        .iter()
        .map(|s| match attribute(s, "rpc.grpc.status_code") {
            Some(Value::IntValue(c)) => *c,
            other => panic!("status code attribute: {other:?}"),
        })
        .collect();
    assert_eq!(
        codes
            .iter()
            .filter(|&&c| c == tonic::Code::NotFound as i64)
            .count(),
        1,
        "{codes:?}"
    );
    assert_eq!(codes.iter().filter(|&&c| c == 0).count(), 3, "{codes:?}");
}
