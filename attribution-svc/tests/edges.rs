//! ListAssignmentRuns page tokens through the real server: opaque (no run id, request id or row
//! number in any encoding) and bound to their query (another performance year's token, or the
//! old `before:N` form, is INVALID_ARGUMENT on page_token).

use std::path::Path;

use acorn_proto::{
    attribution::v1::{self as pb, attribution_service_client::AttributionServiceClient},
    serve::{self, LogFormat, ServeArgs},
};
use attribution_svc::{
    server::{self, AttributionApi, Limits},
    store::SqliteStore,
};
use base64::Engine as _;
use tonic::{Code, service::Routes};
use tonic_types::StatusExt;

async fn start(
    db: &Path,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let store = SqliteStore::open(db).await.expect("open store");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let args = ServeArgs {
        listen: None,
        log_format: LogFormat::Text,
        max_request_bytes: 4 * 1024 * 1024,
        request_timeout: 30,
        shutdown_grace: 5,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let routes = Routes::new(server::service(
        AttributionApi::new(store),
        Limits::default(),
    ));
    let task = tokio::spawn(async move {
        serve::serve(
            listener,
            routes,
            &["acorn.attribution.v1.AttributionService"],
            &args,
            async {
                let _ = stopped.await;
            },
        )
        .await
    });
    (addr, stop, task)
}

fn create(request_id: &str, year: i32) -> pb::CreateAssignmentRunRequest {
    pb::CreateAssignmentRunRequest {
        request_id: request_id.into(),
        performance_year: year,
        window: pb::AssignmentWindow::Retrospective as i32,
        mode: pb::AssignmentMode::Retrospective as i32,
        quarter: 0,
        acos: vec![pb::AcoParticipants {
            aco_id: "A1".into(),
            tins: vec!["111111111".into()],
            ..Default::default()
        }],
        tie_break: 0,
    }
}

/// Every text form an id could take in a token (as is, either case, hex, base64 at each alignment).
fn encodings(id: &str) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let hex: String = id.bytes().map(|b| format!("{b:02x}")).collect();
    let mut out = vec![
        id.to_string(),
        id.to_lowercase(),
        id.to_uppercase(),
        hex.clone(),
        hex.to_uppercase(),
    ];
    for pad in 0..3usize {
        let mut shifted = vec![0u8; pad];
        shifted.extend_from_slice(id.as_bytes());
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let b64 = engine.encode(&shifted);
            let (start, end) = ((pad * 8).div_ceil(6), ((pad + id.len()) * 8) / 6);
            if let Some(core) = b64.get(start..end).filter(|c| c.len() >= 4) {
                out.push(core.to_string());
            }
        }
    }
    out
}

#[tokio::test]
async fn list_assignment_runs_tokens_are_opaque_and_bound_to_the_query() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (addr, stop, task) = start(&dir.path().join("attribution.db")).await;
    let mut client = AttributionServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("connect");
    let mut ids = Vec::new();
    for n in 0..3 {
        let run = client
            .create_assignment_run(create(&format!("run-req-{n}"), 2024))
            .await
            .expect("create")
            .into_inner()
            .run
            .expect("run");
        ids.push(run.id);
    }
    let list = |year: i32, token: &str| pb::ListAssignmentRunsRequest {
        performance_year: year,
        page_size: 1,
        page_token: token.into(),
    };
    let mut seen = Vec::new();
    let mut tokens = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_assignment_runs(list(2024, &token))
            .await
            .expect("page")
            .into_inner();
        seen.extend(page.runs.into_iter().map(|r| r.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        tokens.push(token.clone());
    }
    ids.reverse();
    assert_eq!(seen, ids, "every run once, newest first");
    let mut secrets: Vec<String> = ids.clone();
    secrets.extend((0..3).map(|n| format!("run-req-{n}")));
    secrets.extend(["2024".to_string(), "before:".to_string()]);
    for t in &tokens {
        for secret in &secrets {
            for form in encodings(secret) {
                assert!(!t.contains(&form), "token {t} shows {secret} as {form}");
            }
        }
    }
    for (year, token) in [
        (2023, tokens[0].as_str()),
        (0, tokens[0].as_str()),
        (2024, "before:2"),
    ] {
        let err = client
            .list_assignment_runs(list(year, token))
            .await
            .expect_err("another query's token");
        assert_eq!(err.code(), Code::InvalidArgument, "{year} {token}");
        let fields: Vec<String> = err
            .get_details_bad_request()
            .map(|b| b.field_violations.into_iter().map(|f| f.field).collect())
            .unwrap_or_default();
        assert_eq!(fields, ["page_token"]);
    }
    let _ = stop.send(());
    task.await.expect("join").expect("clean exit");
}
