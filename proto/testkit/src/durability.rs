//! The two durability checks every service binary passes against its store, as production runs it:
//!
//! - [`two_servers_on_one_postgres`]: two processes on one PostgreSQL database hammered with
//!   concurrent duplicates of the same request_ids: exactly one record per id, and every response
//!   to an id identical;
//! - [`kill_9_during_writes`]: `kill -9` while writes are in flight, then a restart on the same
//!   store (SQLite and PostgreSQL): every write acknowledged before the kill is there unchanged,
//!   none twice, and a retry after the crash answers the same record.
//!
//! A service's test names its write and its listing with [`Writes`].

use std::{
    collections::{HashMap, HashSet},
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tonic::{Status, transport::Channel};

use crate::{
    db::{Schema, TestDb},
    process::Process,
};

/// One record as the service lists it.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The record's own id.
    pub id: String,
    /// The request_id it was written under, when the listed record shows it.
    pub request_id: Option<String>,
    /// The record, encoded (compared with the encoded answer to its write).
    pub encoded: Vec<u8>,
}

/// A client of one service's idempotent write (by request_id) and of its listing.
pub trait Writes: Sized + Send + 'static {
    /// A client on `channel`.
    fn connect(channel: Channel) -> Self;

    /// Sends write number `n` (its content is its own for every `n`) under `request_id`: the
    /// encoded record answered.
    fn write(
        &mut self,
        request_id: &str,
        n: u32,
    ) -> impl Future<Output = Result<Vec<u8>, Status>> + Send;

    /// The page of the service's listing at `page_token` (empty for the first), asking for
    /// [`PAGE_SIZE`] records: its records and the next page token.
    fn page(&mut self, page_token: String) -> impl Future<Output = (Vec<Stored>, String)> + Send;
}

/// The page size the checks list with.
pub const PAGE_SIZE: u16 = 1000;

/// Every stored record, through the service's listing.
async fn list<W: Writes>(client: &mut W) -> Vec<Stored> {
    crate::pages(async |token| client.page(token).await).await.0
}

/// [`Writes::write`], retried (up to 50 times, 20 ms apart) while the server answers an error: a
/// retry of the same request_id is always safe.
async fn write_retrying<W: Writes>(client: &mut W, id: &str, n: u32) -> Vec<u8> {
    let mut last = None;
    for _ in 0..50 {
        match client.write(id, n).await {
            Ok(encoded) => return encoded,
            Err(status) => last = Some(status),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{id}: no answer after 50 tries: {last:?}");
}

/// Two `bin serve` processes on one new PostgreSQL schema (skipped, saying so on stderr, without
/// `ACORN_TEST_DATABASE_URL`), 8 clients split between them, each sending every one of `ids`
/// request_ids in its own order, twice, with no retry: every concurrent duplicate is answered OK,
/// every answer to an id is identical, and each server lists exactly one record per id, the one
/// answered.
pub async fn two_servers_on_one_postgres<W: Writes>(bin: &Path, ids: u32) {
    let Some(schema) = Schema::create().await else {
        return;
    };
    let args = vec!["--database-url".to_string(), schema.url().to_string()];
    // Started together: their migrations and page-token secrets meet on one empty schema.
    let (a, b) = tokio::join!(Process::serve(bin, &args), Process::serve(bin, &args));
    const CLIENTS: u32 = 8;
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let mut client = W::connect(if c % 2 == 0 { a.channel() } else { b.channel() });
        tasks.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for round in 0..2 {
                for k in 0..ids {
                    let n = (k * 7 + c * 13 + round) % ids;
                    let id = format!("hammer-{n}");
                    // No retry here: every concurrent duplicate must be answered OK, with the
                    // one record (a lost race answered with an error would fail this).
                    let encoded = client.write(&id, n).await;
                    let encoded = encoded.unwrap_or_else(|s| panic!("{id}: {s:?}"));
                    answers.push((id, encoded));
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
    assert_eq!(by_id.len(), ids as usize);
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
    // One record per request_id, whichever server is asked.
    for server in [&a, &b] {
        let records = list(&mut W::connect(server.channel())).await;
        assert_eq!(records.len(), ids as usize, "one record per request_id");
        let listed: HashSet<Vec<u8>> = records.iter().map(|r| r.encoded.clone()).collect();
        assert_eq!(listed, answered, "the listed records are the ones answered");
        let request_ids: HashSet<&str> = records
            .iter()
            .filter_map(|r| r.request_id.as_deref())
            .collect();
        if !request_ids.is_empty() {
            assert_eq!(request_ids.len(), ids as usize);
        }
        for r in &records {
            if let Some(rid) = &r.request_id {
                let answer = by_id[rid].iter().next().expect("answered");
                assert_eq!(&r.encoded, answer, "the listed record is the one answered");
            }
        }
    }
}

/// Asserts that the records of the `backend` store with `ids` have one id each: no record id twice.
pub fn assert_each_id_once<'a>(backend: &str, ids: impl IntoIterator<Item = &'a str>) {
    let mut seen = HashSet::new();
    for id in ids {
        assert!(seen.insert(id), "{backend}: no record id twice ({id})");
    }
}

/// For every backend of [`TestDb::all`]: 8 writers send new request_ids to `bin serve` until it
/// is killed with SIGKILL 1.5 s in (at least 50 must be acknowledged by then); after a restart on
/// the same store every acknowledged record is listed unchanged, none twice, no more than were
/// sent, and retrying each acknowledged write answers the same record and adds none.
pub async fn kill_9_during_writes<W: Writes>(bin: &Path) {
    for test in TestDb::all().await {
        kill_9_on::<W>(bin, &test).await;
    }
}

async fn kill_9_on<W: Writes>(bin: &Path, test: &TestDb) {
    let backend = test.backend();
    let server = Process::serve(bin, &test.args()).await;
    const WRITERS: u32 = 8;
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let mut client = W::connect(server.channel());
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            // (request_id, n, encoded answer) of every acknowledged write, and how many were sent.
            let (mut acked, mut sent) = (Vec::new(), 0usize);
            for i in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let n = w * 1_000_000 + i;
                let id = format!("kill-{n}");
                sent += 1;
                match client.write(&id, n).await {
                    Ok(encoded) => acked.push((id, n, encoded)),
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

    let server = Process::serve(bin, &test.args()).await;
    let mut client = W::connect(server.channel());
    let records = list(&mut client).await;
    let listed: HashSet<&[u8]> = records.iter().map(|r| r.encoded.as_slice()).collect();
    let by_request_id: HashMap<&str, &[u8]> = records
        .iter()
        .filter_map(|r| Some((r.request_id.as_deref()?, r.encoded.as_slice())))
        .collect();
    if !by_request_id.is_empty() {
        assert_eq!(
            by_request_id.len(),
            records.len(),
            "{backend}: no request_id recorded twice"
        );
    }
    assert_each_id_once(backend, records.iter().map(|r| r.id.as_str()));
    assert!(
        records.len() >= acked.len() && records.len() <= sent,
        "{backend}: {} records, {} acknowledged, {sent} sent",
        records.len(),
        acked.len()
    );
    for (id, n, answered) in &acked {
        assert!(
            listed.contains(answered.as_slice()),
            "{backend}: acknowledged {id} survives the kill unchanged"
        );
        if !by_request_id.is_empty() {
            assert_eq!(
                by_request_id.get(id.as_str()),
                Some(&answered.as_slice()),
                "{backend}: acknowledged {id} is listed under its request_id"
            );
        }
        // A client retrying after the crash gets the same record, not a second one.
        assert_eq!(
            &write_retrying(&mut client, id, *n).await,
            answered,
            "{backend}: {id}"
        );
    }
    // Retries add no record. (The count may still grow by a write that was sent but never
    // acknowledged: on PostgreSQL a COMMIT the killed process had already sent can become visible
    // after the first listing above; it stays within what was sent.)
    let after = list(&mut client).await;
    let distinct: HashSet<&str> = after
        .iter()
        .filter_map(|r| r.request_id.as_deref())
        .collect();
    if !distinct.is_empty() {
        assert_eq!(
            distinct.len(),
            after.len(),
            "{backend}: retries added nothing"
        );
    }
    assert!(
        after.len() >= records.len() && after.len() <= sent,
        "{backend}: retries added nothing ({} records after the retries, {} before, {sent} sent)",
        after.len(),
        records.len()
    );
    eprintln!(
        "{backend}: {} writes acknowledged before kill -9 ({sent} sent), {} recorded",
        acked.len(),
        records.len()
    );
}

/// The two checks as the tests of a service's `tests/durability.rs`:
/// `acorn_testkit::durability_tests!(BIN, Client, ids)` defines `two_servers_on_one_postgres`
/// ([`two_servers_on_one_postgres`] with `ids` request_ids) and `kill_9_during_writes`
/// ([`kill_9_during_writes`]) for the binary at path `BIN` driven by the [`Writes`] `Client`.
#[macro_export]
macro_rules! durability_tests {
    ($bin:expr, $client:ty, $ids:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn two_servers_on_one_postgres() {
            let bin = ::std::path::Path::new($bin);
            $crate::durability::two_servers_on_one_postgres::<$client>(bin, $ids).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn kill_9_during_writes() {
            let bin = ::std::path::Path::new($bin);
            $crate::durability::kill_9_during_writes::<$client>(bin).await;
        }
    };
}
