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
    Listing as _,
    db::TestDb,
    durability::{PAGE_SIZE, Stored, Writes, assert_each_id_once, two_servers_on_one_postgres},
    fixtures::a1215,
    listed,
    process::Process,
};
use prost::Message as _;
use tonic::{Status, transport::Channel};

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

/// The page of the listing at `page_token`, [`PAGE_SIZE`] records.
fn list(page_token: String) -> ListReconciliationsRequest {
    ListReconciliationsRequest {
        page_size: PAGE_SIZE.into(),
        page_token,
        ..Default::default()
    }
}

/// Every recorded reconciliation, through the server's listing.
async fn all_records(client: &mut SettlementServiceClient<Channel>) -> Vec<Reconciliation> {
    listed(async |token| client.list_reconciliations(list(token)).await)
        .await
        .0
}

/// Reconcile and ListReconciliations, for [`acorn_testkit::durability`].
struct Ledger(SettlementServiceClient<Channel>);

impl Writes for Ledger {
    fn connect(channel: Channel) -> Self {
        Self(SettlementServiceClient::new(channel))
    }

    async fn write(&mut self, request_id: &str, n: u32) -> Result<Vec<u8>, Status> {
        let answer = self.0.reconcile(request(request_id, n)).await?.into_inner();
        let rec = answer.reconciliation.expect("a reconciliation");
        Ok(rec.encode_to_vec())
    }

    async fn page(&mut self, page_token: String) -> (Vec<Stored>, String) {
        let answer = self.0.list_reconciliations(list(page_token)).await;
        let (records, next) = answer.expect("list").into_inner().into_page();
        let stored = records.into_iter().map(|r| Stored {
            id: r.id.clone(),
            request_id: Some(r.request_id.clone()),
            encoded: r.encode_to_vec(),
        });
        (stored.collect(), next)
    }
}

/// Two processes on one PostgreSQL schema, 40 request_ids sent concurrently by 8 clients, twice:
/// one ledger row per request_id, every response to an id identical, and the listed row the one
/// answered ([`acorn_testkit::durability::two_servers_on_one_postgres`]).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_on_one_postgres_record_each_request_id_once() {
    two_servers_on_one_postgres::<Ledger>(Path::new(BIN), 40).await;
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
    assert_each_id_once(backend, records.iter().map(|r| r.id.as_str()));
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
