//! The record ledger every acorn service keeps: computed results (reconciliations, benchmarks)
//! recorded durably and idempotently. A small storage trait and its SQLite implementation.
//!
//! Durability: a write is acknowledged only after its transaction has committed with
//! `synchronous = FULL` in WAL mode, i.e. after the WAL is fsynced. To reach thousands of durable
//! writes per second, one writer task commits whatever has queued up as a single transaction
//! (group commit): every caller in the batch is answered only after that commit. Readers use a
//! separate connection pool (WAL lets them run beside the writer).
//!
//! Idempotency: `request_id` is unique. A record whose request_id exists with the same input
//! fingerprint returns the stored record; with a different fingerprint it is a conflict.

use std::{future::Future, path::Path, str::FromStr, time::Duration};

use sqlx::{
    Connection, Row, SqliteConnection, SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use tokio::sync::{mpsc, oneshot};

/// A record to write.
#[derive(Debug, Clone)]
pub struct NewRecord {
    /// Server-assigned id.
    pub id: String,
    /// Client idempotency key.
    pub request_id: String,
    /// Hash of the request input (same input = same fingerprint).
    pub fingerprint: Vec<u8>,
    /// ACO id (for listing).
    pub aco_id: String,
    /// What the service lists by besides the ACO: a performance year, an agreement period.
    pub period: i32,
    /// The encoded resource.
    pub body: Vec<u8>,
}

/// What recording did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// Newly recorded; here is the body.
    Created(Vec<u8>),
    /// The same request was recorded before; here is the stored body.
    Existing(Vec<u8>),
    /// The request_id is taken by a different request.
    Conflict,
}

/// A page of a listing.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Encoded records, newest first.
    pub bodies: Vec<Vec<u8>>,
    /// Cursor for the next page.
    pub next: Option<i64>,
}

/// Listing filter.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this ACO.
    pub aco_id: Option<String>,
    /// Only this period.
    pub period: Option<i32>,
    /// Only records older than this cursor.
    pub before: Option<i64>,
    /// Page size.
    pub limit: u32,
}

/// Storage failures (all map to `UNAVAILABLE` / `INTERNAL`).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The writer task is gone (shutting down).
    #[error("the ledger writer has stopped")]
    WriterStopped,
}

impl From<StoreError> for tonic::Status {
    /// Ledger failures are the server's, never the caller's: logged here, reported without detail.
    fn from(err: StoreError) -> Self {
        tracing::error!(error = %err, "ledger failure");
        match err {
            StoreError::WriterStopped => tonic::Status::unavailable("the ledger is shutting down"),
            _ => tonic::Status::internal("the ledger could not complete the request"),
        }
    }
}

/// The ledger operations a service needs (SQLite now; PostgreSQL can implement the same trait).
pub trait Store: Send + Sync + 'static {
    /// Writes a record durably, idempotently on its request_id.
    fn record(&self, rec: NewRecord) -> impl Future<Output = Result<Recorded, StoreError>> + Send;
    /// Reads one record by id.
    fn get(&self, id: &str) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;
    /// Lists records, newest first.
    fn list(&self, filter: Filter) -> impl Future<Output = Result<Page, StoreError>> + Send;
}

type Reply = oneshot::Sender<Result<Recorded, StoreError>>;

/// SQLite ledger (one file per service, WAL, group commit).
#[derive(Debug, Clone)]
pub struct SqliteLedger {
    readers: SqlitePool,
    writer: mpsc::Sender<(NewRecord, Reply)>,
}

/// Most records committed in one transaction.
const MAX_BATCH: usize = 1024;

impl SqliteLedger {
    /// Opens (creating if needed) the database file and runs the migrations.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let mut conn = SqliteConnection::connect_with(&options).await?;
        sqlx::migrate!("./migrations").run(&mut conn).await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(write_loop(conn, rx));
        Ok(Self {
            readers,
            writer: tx,
        })
    }
}

/// Commits queued records in batches until every sender is dropped.
async fn write_loop(mut conn: SqliteConnection, mut rx: mpsc::Receiver<(NewRecord, Reply)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match commit(&mut conn, &batch).await {
            Ok(results) => {
                for ((_, reply), result) in batch.drain(..).zip(results) {
                    let _ = reply.send(Ok(result));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, records = batch.len(), "ledger commit failed; batch rolled back");
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(StoreError::Database(sqlx::Error::Protocol(
                        "ledger commit failed".into(),
                    ))));
                }
            }
        }
    }
}

async fn commit(
    conn: &mut SqliteConnection,
    batch: &[(NewRecord, Reply)],
) -> Result<Vec<Recorded>, sqlx::Error> {
    let mut tx = conn.begin().await?;
    let mut results = Vec::with_capacity(batch.len());
    for (rec, _) in batch {
        let existing = sqlx::query("SELECT fingerprint, body FROM records WHERE request_id = ?")
            .bind(&rec.request_id)
            .fetch_optional(&mut *tx)
            .await?;
        results.push(match existing {
            Some(row) if row.try_get::<Vec<u8>, _>(0)? == rec.fingerprint => {
                Recorded::Existing(row.try_get(1)?)
            }
            Some(_) => Recorded::Conflict,
            None => {
                sqlx::query(
                    "INSERT INTO records (id, request_id, fingerprint, aco_id, period, body) \
                     VALUES (?, ?, ?, ?, ?, ?)",
                )
                .bind(&rec.id)
                .bind(&rec.request_id)
                .bind(&rec.fingerprint)
                .bind(&rec.aco_id)
                .bind(rec.period)
                .bind(&rec.body)
                .execute(&mut *tx)
                .await?;
                Recorded::Created(rec.body.clone())
            }
        });
    }
    tx.commit().await?;
    Ok(results)
}

impl Store for SqliteLedger {
    async fn record(&self, rec: NewRecord) -> Result<Recorded, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send((rec, reply))
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    async fn get(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(sqlx::query("SELECT body FROM records WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.readers)
            .await?
            .map(|row| row.try_get(0))
            .transpose()?)
    }

    async fn list(&self, f: Filter) -> Result<Page, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, body FROM records \
             WHERE (?1 IS NULL OR aco_id = ?1) AND (?2 IS NULL OR period = ?2) \
               AND (?3 IS NULL OR seq < ?3) \
             ORDER BY seq DESC LIMIT ?4",
        )
        .bind(f.aco_id)
        .bind(f.period)
        .bind(f.before)
        .bind(i64::from(f.limit) + 1)
        .fetch_all(&self.readers)
        .await?;
        let mut page = Page::default();
        for row in rows.iter().take(f.limit as usize) {
            page.bodies.push(row.try_get(1)?);
            page.next = Some(row.try_get(0)?);
        }
        if rows.len() <= f.limit as usize {
            page.next = None;
        }
        Ok(page)
    }
}

/// SHA-256 of a request's encoded input: equal inputs have equal fingerprints (prost encodes fields
/// in field-number order, and acorn inputs have no maps).
pub fn fingerprint(encoded_input: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(encoded_input).to_vec()
}

/// The opaque page token for a listing cursor (empty on the last page).
pub fn page_token(next: Option<i64>) -> String {
    next.map(|seq| format!("before:{seq}")).unwrap_or_default()
}

/// A page token this ledger did not issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("is not a token returned by this service")]
pub struct BadPageToken;

/// Parses a page token from [`page_token`]: `Ok(None)` for the first page.
pub fn parse_page_token(token: &str) -> Result<Option<i64>, BadPageToken> {
    if token.is_empty() {
        return Ok(None);
    }
    match token
        .strip_prefix("before:")
        .and_then(|n| n.parse::<i64>().ok())
    {
        Some(seq) if seq > 0 => Ok(Some(seq)),
        _ => Err(BadPageToken),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(request_id: &str, fingerprint: u8, aco: &str, py: i32) -> NewRecord {
        NewRecord {
            id: format!("id-{request_id}"),
            request_id: request_id.into(),
            fingerprint: vec![fingerprint],
            aco_id: aco.into(),
            period: py,
            body: format!("body-{request_id}").into_bytes(),
        }
    }

    #[tokio::test]
    async fn records_idempotently_and_lists_newest_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteLedger::open(&dir.path().join("ledger.db"))
            .await
            .expect("open");
        assert_eq!(
            store
                .record(rec("r1", 1, "A1", 2018))
                .await
                .expect("record"),
            Recorded::Created(b"body-r1".to_vec())
        );
        assert_eq!(
            store
                .record(rec("r1", 1, "A1", 2018))
                .await
                .expect("record"),
            Recorded::Existing(b"body-r1".to_vec())
        );
        assert_eq!(
            store
                .record(rec("r1", 2, "A1", 2018))
                .await
                .expect("record"),
            Recorded::Conflict
        );
        for (r, aco, py) in [("r2", "A1", 2019), ("r3", "A2", 2018), ("r4", "A1", 2018)] {
            store.record(rec(r, 1, aco, py)).await.expect("record");
        }
        assert_eq!(
            store.get("id-r3").await.expect("get"),
            Some(b"body-r3".to_vec())
        );
        assert_eq!(store.get("nope").await.expect("get"), None);

        let filter = Filter {
            aco_id: Some("A1".into()),
            limit: 2,
            ..Filter::default()
        };
        let p1 = store.list(filter.clone()).await.expect("list");
        assert_eq!(p1.bodies, [b"body-r4".to_vec(), b"body-r2".to_vec()]);
        let p2 = store
            .list(Filter {
                before: p1.next,
                ..filter
            })
            .await
            .expect("list");
        assert_eq!((p2.bodies, p2.next), (vec![b"body-r1".to_vec()], None));
        let by_year = Filter {
            period: Some(2018),
            limit: 10,
            ..Filter::default()
        };
        assert_eq!(store.list(by_year).await.expect("list").bodies.len(), 3);
    }

    #[tokio::test]
    async fn concurrent_duplicates_in_one_batch_record_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteLedger::open(&dir.path().join("ledger.db"))
            .await
            .expect("open");
        let results = futures_join(&store, 50).await;
        assert_eq!(
            results
                .iter()
                .filter(|r| matches!(r, Recorded::Created(_)))
                .count(),
            1
        );
        assert_eq!(
            results
                .iter()
                .filter(|r| matches!(r, Recorded::Existing(_)))
                .count(),
            49
        );
    }

    async fn futures_join(store: &SqliteLedger, n: usize) -> Vec<Recorded> {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let s = store.clone();
                tokio::spawn(async move { s.record(rec("same", 7, "A1", 2018)).await })
            })
            .collect();
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.expect("join").expect("record"));
        }
        out
    }
}
