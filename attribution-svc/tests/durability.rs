//! The built `attribution-svc` binary against its durable store: two processes on one PostgreSQL
//! database hammered with concurrent retries of the same CreateAssignmentRun request_ids (one run
//! per id, every response identical), and `kill -9` while runs are being created, then a restart
//! (SQLite and PostgreSQL): every acknowledged run is there, none twice.
//!
//! The PostgreSQL halves need `ACORN_TEST_DATABASE_URL` (`.ci/run` sets it) and say so on stderr
//! when it is not set.

use std::{
    collections::{HashMap, HashSet},
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use acorn_proto::attribution::v1::{
    self as pb, attribution_service_client::AttributionServiceClient,
};
use acorn_testkit::{
    db::{Schema, TestDb},
    process::Process,
};
use prost::Message as _;
use tonic::transport::Channel;

const BIN: &str = env!("CARGO_BIN_EXE_attribution-svc");

/// A run of two ACOs; `n` picks the performance year's quarter-free retrospective window and
/// makes each request's content its own (the first ACO's TIN).
fn create(request_id: &str, n: u32) -> pb::CreateAssignmentRunRequest {
    pb::CreateAssignmentRunRequest {
        request_id: request_id.into(),
        performance_year: 2024,
        window: pb::AssignmentWindow::Retrospective as i32,
        mode: pb::AssignmentMode::Retrospective as i32,
        quarter: 0,
        acos: vec![
            pb::AcoParticipants {
                aco_id: "A".into(),
                tins: vec![format!("{:09}", 100_000_000 + n)],
                ccns: vec![],
                npis: vec!["1000000001".into()],
            },
            pb::AcoParticipants {
                aco_id: "B".into(),
                tins: vec!["200000001".into()],
                ccns: vec![],
                npis: vec!["2000000001".into()],
            },
        ],
        tie_break: 0,
    }
}

/// CreateAssignmentRun, retried (up to 50 times, 20 ms apart) while the server answers an error.
/// The encoded run.
async fn create_retrying(
    client: &mut AttributionServiceClient<Channel>,
    id: &str,
    n: u32,
) -> Vec<u8> {
    let mut last = None;
    for _ in 0..50 {
        match client.create_assignment_run(create(id, n)).await {
            Ok(resp) => return resp.into_inner().run.expect("a run").encode_to_vec(),
            Err(status) => last = Some(status),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{id}: no answer after 50 tries: {last:?}");
}

/// Every run, through the server's listing (encoded, by run id).
async fn all_runs(client: &mut AttributionServiceClient<Channel>) -> Vec<pb::AssignmentRun> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_assignment_runs(pb::ListAssignmentRunsRequest {
                page_size: 1000,
                page_token: token,
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        out.extend(page.runs);
        if page.next_page_token.is_empty() {
            return out;
        }
        token = page.next_page_token;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_on_one_postgres_create_each_run_once() {
    let Some(schema) = Schema::create().await else {
        return;
    };
    let args = vec!["--database-url".to_string(), schema.url().to_string()];
    let (a, b) = tokio::join!(
        Process::serve(Path::new(BIN), &args),
        Process::serve(Path::new(BIN), &args)
    );
    const IDS: u32 = 30;
    const CLIENTS: u32 = 8;
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let mut client =
            AttributionServiceClient::new(if c % 2 == 0 { a.channel() } else { b.channel() });
        tasks.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for round in 0..2 {
                for k in 0..IDS {
                    let n = (k * 7 + c * 13 + round) % IDS;
                    let id = format!("hammer-{n}");
                    // No retry here: every concurrent duplicate must be answered OK, with the
                    // one run (a lost race answered with an error would fail this).
                    let resp = client.create_assignment_run(create(&id, n)).await;
                    let resp = resp.unwrap_or_else(|s| panic!("{id}: {s:?}")).into_inner();
                    answers.push((id.clone(), resp.run.expect("a run").encode_to_vec()));
                }
            }
            answers
        }));
    }
    let mut by_id: HashMap<String, HashSet<Vec<u8>>> = HashMap::new();
    for task in tasks {
        for (id, body) in task.await.expect("client") {
            by_id.entry(id).or_default().insert(body);
        }
    }
    assert_eq!(by_id.len(), IDS as usize);
    let answered: HashSet<Vec<u8>> = by_id
        .iter()
        .map(|(id, bodies)| {
            assert_eq!(
                bodies.len(),
                1,
                "{id}: every response to one request_id is identical"
            );
            bodies.iter().next().expect("one").clone()
        })
        .collect();
    for server in [&a, &b] {
        let runs = all_runs(&mut AttributionServiceClient::new(server.channel())).await;
        assert_eq!(runs.len(), IDS as usize, "one run per request_id");
        let listed: HashSet<Vec<u8>> = runs.iter().map(|r| r.encode_to_vec()).collect();
        assert_eq!(listed, answered, "the listed runs are the ones answered");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_creates_loses_no_acknowledged_run_and_duplicates_none() {
    for test in TestDb::all().await {
        let backend = test.backend();
        let server = Process::serve(Path::new(BIN), &test.args()).await;
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for w in 0..8u32 {
            let mut client = AttributionServiceClient::new(server.channel());
            let stop = stop.clone();
            tasks.push(tokio::spawn(async move {
                let (mut acked, mut sent) = (Vec::new(), 0usize);
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let n = w * 1_000_000 + i;
                    let id = format!("kill-{n}");
                    sent += 1;
                    match client.create_assignment_run(create(&id, n)).await {
                        Ok(resp) => {
                            acked.push((id, n, resp.into_inner().run.expect("run").encode_to_vec()))
                        }
                        Err(_) => break,
                    }
                }
                (acked, sent)
            }));
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        server.kill();
        stop.store(true, Ordering::Relaxed);
        let (mut acked, mut sent) = (Vec::new(), 0);
        for task in tasks {
            let (a, s) = task.await.expect("writer");
            acked.extend(a);
            sent += s;
        }
        assert!(
            acked.len() >= 50,
            "{backend}: only {} creates before the kill",
            acked.len()
        );

        let server = Process::serve(Path::new(BIN), &test.args()).await;
        let mut client = AttributionServiceClient::new(server.channel());
        let runs = all_runs(&mut client).await;
        let listed: HashSet<Vec<u8>> = runs.iter().map(|r| r.encode_to_vec()).collect();
        let ids: HashSet<&str> = runs.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids.len(), runs.len(), "{backend}: no run twice");
        assert!(
            runs.len() >= acked.len() && runs.len() <= sent,
            "{backend}: {} runs, {} acknowledged, {sent} sent",
            runs.len(),
            acked.len()
        );
        for (id, n, answered) in &acked {
            assert!(
                listed.contains(answered),
                "{backend}: acknowledged {id} survives unchanged"
            );
            assert_eq!(
                &create_retrying(&mut client, id, *n).await,
                answered,
                "{backend}: {id}"
            );
        }
        // Retries add no run. (A run that was sent but never acknowledged may still become visible
        // after the first listing: on PostgreSQL a COMMIT the killed process had sent can land late.)
        let after = all_runs(&mut client).await.len();
        assert!(
            after >= runs.len() && after <= sent,
            "{backend}: retries added nothing ({after} runs after the retries, {} before, {sent} sent)",
            runs.len()
        );
        eprintln!(
            "{backend}: {} runs acknowledged before kill -9 ({sent} sent), {} stored",
            acked.len(),
            runs.len()
        );
    }
}
