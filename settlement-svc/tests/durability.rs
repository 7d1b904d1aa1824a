//! The built `settlement-svc` binary against its durable store, as production runs it:
//!
//! - two processes on one PostgreSQL database hammered with concurrent retries of the same
//!   request_ids: exactly one ledger row per id, and every response to an id identical;
//! - `kill -9` while the load generator (`simulator load --acked`) writes, then a restart on the
//!   same store (SQLite and PostgreSQL): every write the generator counted as acknowledged before
//!   the kill is there, none twice, and its rerun of the same requests adds no duplicate.
//!
//! The PostgreSQL halves need `ACORN_TEST_DATABASE_URL` (`.ci/run` sets it) and say so on stderr
//! when it is not set.

use std::{
    collections::{HashMap, HashSet},
    path::Path,
    time::Duration,
};

use acorn_proto::settlement::v1::{
    ListReconciliationsRequest, ReconcileRequest, Reconciliation, ReconciliationInput,
    settlement_service_client::SettlementServiceClient,
};
use acorn_testkit::{
    db::{Schema, TestDb},
    fixtures::a1215,
    process::Process,
};
use prost::Message as _;
use tonic::transport::Channel;

const BIN: &str = env!("CARGO_BIN_EXE_settlement-svc");

/// CMS PUF PY2018 row A1215 (Track 3), with `n` more assigned beneficiaries so that every request
/// has its own input.
fn input(n: u32) -> ReconciliationInput {
    let mut input = a1215();
    input.assigned_beneficiaries += u64::from(n);
    input
}

fn request(request_id: &str, n: u32) -> ReconcileRequest {
    ReconcileRequest {
        request_id: request_id.into(),
        input: Some(input(n)),
    }
}

/// Every recorded reconciliation, through the server's listing.
async fn all_records(client: &mut SettlementServiceClient<Channel>) -> Vec<Reconciliation> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_reconciliations(ListReconciliationsRequest {
                page_size: 1000,
                page_token: token,
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        out.extend(page.reconciliations);
        if page.next_page_token.is_empty() {
            return out;
        }
        token = page.next_page_token;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_on_one_postgres_record_each_request_id_once() {
    let Some(schema) = Schema::create().await else {
        return;
    };
    let args = vec!["--database-url".to_string(), schema.url().to_string()];
    // Started together: their migrations and page-token secrets meet on one empty schema.
    let (a, b) = tokio::join!(
        Process::serve(Path::new(BIN), &args),
        Process::serve(Path::new(BIN), &args)
    );
    const IDS: u32 = 40;
    const CLIENTS: u32 = 8;
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        // Half the clients talk to each server; each sends every id, in its own order, twice.
        let mut client =
            SettlementServiceClient::new(if c % 2 == 0 { a.channel() } else { b.channel() });
        tasks.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for round in 0..2 {
                for k in 0..IDS {
                    let n = (k * 7 + c * 13 + round) % IDS;
                    let id = format!("hammer-{n}");
                    // No retry here: every concurrent duplicate must be answered OK, with the
                    // one record (a lost race answered with an error would fail this).
                    let resp = client.reconcile(request(&id, n)).await;
                    let resp = resp.unwrap_or_else(|s| panic!("{id}: {s:?}")).into_inner();
                    let rec = resp.reconciliation.expect("a reconciliation");
                    answers.push((id.clone(), rec.encode_to_vec()));
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
    for (id, bodies) in &by_id {
        assert_eq!(
            bodies.len(),
            1,
            "{id}: every response to one request_id is identical"
        );
    }
    // One ledger row per request_id, whichever server is asked.
    for server in [&a, &b] {
        let records = all_records(&mut SettlementServiceClient::new(server.channel())).await;
        assert_eq!(records.len(), IDS as usize, "one row per request_id");
        let ids: HashSet<_> = records.iter().map(|r| r.request_id.clone()).collect();
        assert_eq!(ids.len(), IDS as usize);
        for r in &records {
            let answered = by_id[&r.request_id].iter().next().expect("answered");
            assert_eq!(
                &r.encode_to_vec(),
                answered,
                "the listed record is the one answered"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_writes_loses_no_acknowledged_write_and_duplicates_none() {
    for test in TestDb::all().await {
        kill_9_during_writes(&test).await;
    }
}

/// `simulator load` flags (the load generator, as a load tester runs it).
fn load_args(argv: &[&str]) -> simulator::load::LoadArgs {
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: simulator::load::LoadArgs,
    }
    <Cli as clap::Parser>::try_parse_from(std::iter::once("load").chain(argv.iter().copied()))
        .expect("load flags")
        .args
}

/// `simulator load` Reconciles at `addr` with `mode` (its rate or concurrency and count or
/// duration; the same requests for the same tag "kill"): its report and the request_ids it was
/// answered OK.
async fn generate(
    addr: std::net::SocketAddr,
    mode: &[&str],
    acked: &Path,
) -> (simulator::load::record::Report, Vec<String>) {
    let target = format!("http://{addr}");
    let argv = [
        &[
            "--call",
            "Reconcile",
            "--target",
            &target,
            "--connections",
            "2",
            "--timeout",
            "5s",
            "--acos",
            "12",
            "--seed",
            "7",
            "--tag",
            "kill",
            "--acked",
            acked.to_str().expect("utf-8"),
        ][..],
        mode,
    ]
    .concat();
    let report = simulator::load::run(&load_args(&argv))
        .await
        .expect("load run");
    let ids = std::fs::read_to_string(acked)
        .expect("acked file")
        .lines()
        .map(str::to_owned)
        .collect();
    (report, ids)
}

/// The call index `i` of the generator's request_id `kill-i`.
fn index(request_id: &str) -> u64 {
    request_id
        .strip_prefix("kill-")
        .and_then(|i| i.parse().ok())
        .unwrap_or_else(|| panic!("not the generator's: {request_id}"))
}

async fn kill_9_during_writes(test: &TestDb) {
    let backend = test.backend();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Process::serve(Path::new(BIN), &test.args()).await;
    // The load generator writes at 400/s for 8 s (open loop, up to 16 in flight); the server is
    // killed as soon as 50 writes are recorded, in the middle of the run.
    let addr = server.addr();
    let acked_file = dir.path().join("acked.txt");
    let run = {
        let acked_file = acked_file.clone();
        tokio::spawn(async move {
            generate(addr, &["--rps", "400", "-c", "16", "-z", "8s"], &acked_file).await
        })
    };
    let mut client = SettlementServiceClient::new(server.channel());
    for _ in 0..600 {
        let page = client
            .list_reconciliations(ListReconciliationsRequest {
                page_size: 50,
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner().reconciliations.len())
            .unwrap_or(0);
        if page >= 50 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.kill();
    let (report, acked) = run.await.expect("load generator");
    let sent = report.count;
    // What the generator counted as acknowledged is what it listed.
    assert_eq!(
        report.ok,
        acked.len() as u64,
        "{backend}: {:?}",
        report.status
    );
    assert!(
        acked.len() >= 50,
        "{backend}: only {} writes acknowledged before the kill",
        acked.len()
    );
    assert!(report.errors > 0, "{backend}: the kill failed no call");

    let server = Process::serve(Path::new(BIN), &test.args()).await;
    client = SettlementServiceClient::new(server.channel());
    let records = all_records(&mut client).await;
    let listed: HashMap<&str, usize> = records.iter().fold(HashMap::new(), |mut m, r| {
        *m.entry(r.request_id.as_str()).or_default() += 1;
        m
    });
    assert_eq!(
        listed.len(),
        records.len(),
        "{backend}: no request_id recorded twice"
    );
    let ids: HashSet<&str> = records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), records.len(), "{backend}: no record id twice");
    for id in &acked {
        assert_eq!(
            listed.get(id.as_str()),
            Some(&1),
            "{backend}: acknowledged {id} survives the kill"
        );
    }
    assert!(
        records.len() <= sent as usize,
        "{backend}: {} records, {} acknowledged, {sent} sent",
        records.len(),
        acked.len()
    );
    // The generator run again with the same tag sends the same requests, one at a time, so
    // exactly calls 0 .. n for n past the last one recorded: retries of the acknowledged ones,
    // of those lost or landed unacknowledged in the kill, and a few new ones. Every one is
    // answered OK, and each request_id is then recorded exactly once.
    let n = records
        .iter()
        .map(|r| index(&r.request_id))
        .max()
        .unwrap_or(0)
        + 1;
    let (replay, replayed) = generate(
        server.addr(),
        &["-c", "1", "-n", &n.to_string()],
        &dir.path().join("replay.txt"),
    )
    .await;
    assert_eq!(replay.ok, n, "{backend}: {:?}", replay.status);
    assert_eq!(replayed.len() as u64, n);
    let after = all_records(&mut client).await;
    let distinct: HashSet<&str> = after.iter().map(|r| r.request_id.as_str()).collect();
    assert_eq!(
        distinct.len(),
        after.len(),
        "{backend}: retries added no duplicate"
    );
    assert_eq!(
        after.len() as u64,
        n,
        "{backend}: one record per request_id sent"
    );
    // The records acknowledged before the kill are unchanged by their retries.
    let before: HashMap<&str, Vec<u8>> = records
        .iter()
        .map(|r| (r.request_id.as_str(), r.encode_to_vec()))
        .collect();
    for r in &after {
        if let Some(b) = before.get(r.request_id.as_str()) {
            assert_eq!(b, &r.encode_to_vec(), "{backend}: {} changed", r.request_id);
        }
    }
    eprintln!(
        "{backend}: {} writes acknowledged by the load generator before kill -9 ({sent} sent), {} recorded",
        acked.len(),
        records.len()
    );
}
