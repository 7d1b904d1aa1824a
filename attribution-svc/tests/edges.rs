//! ListAssignmentRuns page tokens through the real server: opaque (no run id, request id or row
//! number in any encoding) and bound to their query (another performance year's token, or the
//! old `before:N` form, is INVALID_ARGUMENT on page_token).

mod common;

use acorn_proto::attribution::v1 as pb;
use acorn_testkit::{assert_invalid_argument, assert_opaque, listed};
use common::{created, served};

fn create(request_id: &str, year: i32) -> pb::CreateAssignmentRunRequest {
    let aco = pb::AcoParticipants {
        aco_id: "A1".into(),
        tins: vec!["111111111".into()],
        ..Default::default()
    };
    common::create_run(request_id, year, vec![aco])
}

#[tokio::test]
async fn list_assignment_runs_tokens_are_opaque_and_bound_to_the_query() {
    let (_dir, server, mut client) = served().await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let run = created(&mut client, create(&format!("run-req-{n}"), 2024)).await;
        ids.push(run.id);
    }
    let list = |year: i32, token: &str| pb::ListAssignmentRunsRequest {
        performance_year: year,
        page_size: 1,
        page_token: token.into(),
    };
    let (runs, tokens) =
        listed(async |token| client.list_assignment_runs(list(2024, &token)).await).await;
    let seen: Vec<String> = runs.into_iter().map(|r| r.id).collect();
    ids.reverse();
    assert_eq!(seen, ids, "every run once, newest first");
    let mut secrets: Vec<String> = ids.clone();
    secrets.extend((0..3).map(|n| format!("run-req-{n}")));
    secrets.extend(["2024".to_string(), "before:".to_string()]);
    for t in &tokens {
        assert_opaque(t, &secrets);
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
        assert_invalid_argument(&err, &["page_token"], &format!("{year} {token}"));
    }
    server.stop().await;
}
