//! The built `settlement-svc` binary against its durable store, as production runs it:
//!
//! - two processes on one PostgreSQL database hammered with concurrent retries of the same
//!   request_ids: exactly one ledger row per id, and every response to an id identical;
//! - `kill -9` while writes are in flight, then a restart on the same store (SQLite and
//!   PostgreSQL): every write acknowledged before the kill is there, none twice.
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

use acorn_proto::{
    common::v1::Date,
    settlement::v1::{
        ExpenditureTotals, ExtremeUncontrollable, ListReconciliationsRequest,
        MinimumSavingsRateOption, Quality, ReconcileRequest, Reconciliation, ReconciliationInput,
        Track, extreme_uncontrollable::Reduction, reconciliation_input::Experience,
        settlement_service_client::SettlementServiceClient,
    },
};
use acorn_testkit::{
    db::{Schema, TestDb},
    process::Process,
};
use prost::Message as _;
use tonic::transport::Channel;

const BIN: &str = env!("CARGO_BIN_EXE_settlement-svc");

/// CMS PUF PY2018 row A1215 (Track 3), with `n` more assigned beneficiaries so that every request
/// has its own input.
fn input(n: u32) -> ReconciliationInput {
    ReconciliationInput {
        aco_id: "A1215".into(),
        performance_year: 2018,
        agreement_start_date: Some(Date {
            year: 2016,
            month: 1,
            day: 1,
        }),
        track: Track::Track3.into(),
        assigned_beneficiaries: 72_033 + u64::from(n),
        experience: Some(Experience::Totals(ExpenditureTotals {
            updated_benchmark: "797237607".into(),
            expenditures: "812497275".into(),
        })),
        quality: Some(Quality {
            standard: 0,
            score: "0.8884".into(),
        }),
        msr_option: MinimumSavingsRateOption::Fixed05.into(),
        extreme_uncontrollable: Some(ExtremeUncontrollable {
            reduction: Some(Reduction::Amount("2655".into())),
        }),
        ..Default::default()
    }
}

fn request(request_id: &str, n: u32) -> ReconcileRequest {
    ReconcileRequest {
        request_id: request_id.into(),
        input: Some(input(n)),
    }
}

/// Reconcile, retried (up to 50 times, 20 ms apart) while the server answers an error: a retry of
/// the same request_id is always safe. The encoded reconciliation.
async fn reconcile_retrying(
    client: &mut SettlementServiceClient<Channel>,
    id: &str,
    n: u32,
) -> Vec<u8> {
    let mut last = None;
    for _ in 0..50 {
        match client.reconcile(request(id, n)).await {
            Ok(resp) => {
                let rec = resp.into_inner().reconciliation.expect("a reconciliation");
                return rec.encode_to_vec();
            }
            Err(status) => last = Some(status),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{id}: no answer after 50 tries: {last:?}");
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

async fn kill_9_during_writes(test: &TestDb) {
    let backend = test.backend();
    let server = Process::serve(Path::new(BIN), &test.args()).await;
    const WRITERS: u32 = 8;
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let mut client = SettlementServiceClient::new(server.channel());
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            // (request_id, n, encoded answer) of every acknowledged write, and how many were sent.
            let mut acked = Vec::new();
            let mut sent = 0u32;
            for i in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let n = w * 1_000_000 + i;
                let id = format!("kill-{n}");
                sent += 1;
                match client.reconcile(request(&id, n)).await {
                    Ok(resp) => {
                        let rec = resp.into_inner().reconciliation.expect("a reconciliation");
                        acked.push((id, n, rec.encode_to_vec()));
                    }
                    // The server died under this call: not acknowledged, may or may not be there.
                    Err(_) => break,
                }
            }
            (acked, sent)
        }));
    }
    // Let writes run, then kill -9 in the middle of them.
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
        "{backend}: only {} writes before the kill",
        acked.len()
    );

    let server = Process::serve(Path::new(BIN), &test.args()).await;
    let mut client = SettlementServiceClient::new(server.channel());
    let records = all_records(&mut client).await;
    let listed: HashMap<&str, Vec<u8>> = records
        .iter()
        .map(|r| (r.request_id.as_str(), r.encode_to_vec()))
        .collect();
    assert_eq!(
        listed.len(),
        records.len(),
        "{backend}: no request_id recorded twice"
    );
    let ids: HashSet<&str> = records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), records.len(), "{backend}: no record id twice");
    assert!(
        records.len() >= acked.len() && records.len() <= sent as usize,
        "{backend}: {} records, {} acknowledged, {sent} sent",
        records.len(),
        acked.len()
    );
    for (id, n, answered) in &acked {
        assert_eq!(
            listed.get(id.as_str()),
            Some(answered),
            "{backend}: acknowledged {id} survives the kill unchanged"
        );
        // A client retrying after the crash gets the same record, not a second one.
        assert_eq!(
            &reconcile_retrying(&mut client, id, *n).await,
            answered,
            "{backend}: {id}"
        );
    }
    // Retries add no record: every request_id still appears once. (The count may still grow by a
    // write that was sent but never acknowledged: on PostgreSQL a COMMIT the killed process had already
    // sent can become visible after the first listing above; it stays within what was sent.)
    let after = all_records(&mut client).await;
    let distinct: HashSet<&str> = after.iter().map(|r| r.request_id.as_str()).collect();
    assert_eq!(
        distinct.len(),
        after.len(),
        "{backend}: retries added nothing"
    );
    assert!(
        after.len() <= sent as usize,
        "{backend}: {} records after the retries, {sent} sent",
        after.len()
    );
    eprintln!(
        "{backend}: {} writes acknowledged before kill -9 ({sent} sent), {} recorded",
        acked.len(),
        records.len()
    );
}
