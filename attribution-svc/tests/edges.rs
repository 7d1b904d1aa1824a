//! ListAssignmentRuns page tokens through the real server: opaque (no run id, request id or row
//! number in any encoding) and bound to their query (another performance year's token, or the
//! old `before:N` form, is INVALID_ARGUMENT on page_token).

mod common;

use acorn_proto::attribution::v1::{
    self as pb, attribution_service_client::AttributionServiceClient,
};
use acorn_testkit::{bad_request_fields, encodings, pages};
use common::start;
use tonic::Code;

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

#[tokio::test]
async fn list_assignment_runs_tokens_are_opaque_and_bound_to_the_query() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir.path().join("attribution.db")).await;
    let mut client = server.client(AttributionServiceClient::new).await;
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
    let (seen, tokens) = pages(async |token: String| {
        let page = client
            .list_assignment_runs(list(2024, &token))
            .await
            .expect("page")
            .into_inner();
        let ids = page.runs.into_iter().map(|r| r.id).collect();
        (ids, page.next_page_token)
    })
    .await;
    ids.reverse();
    assert_eq!(seen, ids, "every run once, newest first");
    let mut secrets: Vec<String> = ids.clone();
    secrets.extend((0..3).map(|n| format!("run-req-{n}")));
    secrets.extend(["2024".to_string(), "before:".to_string()]);
    for t in &tokens {
        for secret in &secrets {
            for form in encodings(secret.as_bytes()) {
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
        let fields = bad_request_fields(&err);
        assert_eq!(fields, ["page_token"]);
    }
    server.stop().await;
}
