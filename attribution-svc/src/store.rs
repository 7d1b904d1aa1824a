//! Runs, upload batches and results in SQLite.
//!
//! Durability: a write is acknowledged only after its transaction committed with
//! `synchronous = FULL` in WAL mode. One writer task commits whatever has queued up as a single
//! transaction (group commit); readers use a separate pool. A run's state is checked inside the
//! same transaction as the write that depends on it, so an upload can never land in a finalized run,
//! and a finalize that raced with an upload is refused (the caller retries).
//!
//! Idempotency: a run's `request_id` is unique, and so is a batch's within its run. The same
//! request_id with the same content (fingerprint) returns what was stored; with different content it
//! is a conflict.

use std::{path::Path, str::FromStr, time::Duration};

use sqlx::{
    AssertSqlSafe, Connection, Row, SqliteConnection, SqlitePool,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
    },
};
use tokio::sync::{mpsc, oneshot};

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRun {
    /// Internal sequence (ordering, foreign key).
    pub seq: i64,
    /// Public id.
    pub id: String,
    /// The encoded `AssignmentRun`.
    pub body: Vec<u8>,
    /// Finalized (immutable).
    pub finalized: bool,
    /// The request_id of the finalize call, once finalized.
    pub finalize_request_id: Option<String>,
    /// Claim lines acknowledged.
    pub claim_lines: u64,
    /// Beneficiary records acknowledged.
    pub beneficiaries: u64,
    /// Batches acknowledged.
    pub batches: u64,
}

/// A run to create.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// Public id.
    pub id: String,
    /// Idempotency key.
    pub request_id: String,
    /// Hash of the request.
    pub fingerprint: Vec<u8>,
    /// Performance year (listing).
    pub performance_year: i32,
    /// The encoded `AssignmentRun`.
    pub body: Vec<u8>,
}

/// What creating a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// Created.
    Created(StoredRun),
    /// The same request was stored before.
    Existing(StoredRun),
    /// The request_id is taken by a different request.
    Conflict,
}

/// A batch to add.
#[derive(Debug, Clone)]
pub struct NewBatch {
    /// The run's public id.
    pub run_id: String,
    /// Idempotency key of the batch.
    pub request_id: String,
    /// Hash of the batch request.
    pub fingerprint: Vec<u8>,
    /// Beneficiary records in it.
    pub beneficiaries: u64,
    /// Claim lines in it.
    pub claim_lines: u64,
    /// The encoded batch.
    pub body: Vec<u8>,
}

/// What adding a batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// Stored.
    Added,
    /// The same batch was stored before (nothing written).
    Duplicate,
    /// The batch request_id is taken by a different batch.
    Conflict,
    /// No such run.
    NotFound,
    /// The run is finalized.
    Finalized,
}

/// A finalization to commit.
#[derive(Debug, Clone)]
pub struct Finalization {
    /// The run's public id.
    pub run_id: String,
    /// Idempotency key.
    pub request_id: String,
    /// The batches the results were computed from (refused if more have arrived since).
    pub batches: u64,
    /// The new encoded `AssignmentRun` (finalized, with counts).
    pub body: Vec<u8>,
}

/// One beneficiary's result row: (beneficiary id, ACO index or -1, encoded result).
pub type ResultRow = (String, i32, Vec<u8>);

/// What finalizing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finalized {
    /// Committed.
    Done(StoredRun),
    /// Already finalized (by this or another request).
    Already(StoredRun),
    /// Batches arrived after the results were computed: compute again.
    Changed,
    /// No such run.
    NotFound,
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
    #[error("the store writer has stopped")]
    WriterStopped,
    /// A commit failed and was rolled back.
    #[error("commit failed and was rolled back")]
    CommitFailed,
}

enum Write {
    Create(NewRun, oneshot::Sender<Result<Created, StoreError>>),
    Batch(NewBatch, oneshot::Sender<Result<Added, StoreError>>),
    Finalize(
        Box<Finalization>,
        oneshot::Sender<Result<Finalized, StoreError>>,
    ),
    Results(
        String,
        Vec<ResultRow>,
        oneshot::Sender<Result<bool, StoreError>>,
    ),
    Delete(String, oneshot::Sender<Result<bool, StoreError>>),
}

enum Done {
    Create(Created),
    Batch(Added),
    Finalize(Finalized),
    Results(bool),
    Delete(bool),
}

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    readers: SqlitePool,
    writer: mpsc::Sender<Write>,
    page_tokens: acorn_proto::page::PageTokens,
}

const MAX_GROUP: usize = 256;
const RUN_COLUMNS: &str =
    "seq, id, body, finalized, finalize_request_id, claim_lines, beneficiaries, batches";

fn run_row(row: &SqliteRow) -> Result<StoredRun, sqlx::Error> {
    Ok(StoredRun {
        seq: row.try_get(0)?,
        id: row.try_get(1)?,
        body: row.try_get(2)?,
        finalized: row.try_get::<i64, _>(3)? != 0,
        finalize_request_id: row.try_get(4)?,
        claim_lines: row.try_get::<i64, _>(5)?.max(0) as u64,
        beneficiaries: row.try_get::<i64, _>(6)?.max(0) as u64,
        batches: row.try_get::<i64, _>(7)?.max(0) as u64,
    })
}

async fn run_by_id(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<Option<StoredRun>, sqlx::Error> {
    let q = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?");
    sqlx::query(AssertSqlSafe(q))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| run_row(&r))
        .transpose()
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and runs the migrations.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let mut conn = SqliteConnection::connect_with(&options).await?;
        sqlx::migrate!("./migrations").run(&mut conn).await?;
        let page_tokens = acorn_proto::page::PageTokens::load_or_create(&mut conn).await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        let (tx, rx) = mpsc::channel(4 * MAX_GROUP);
        tokio::spawn(write_loop(conn, rx));
        Ok(Self {
            readers,
            writer: tx,
            page_tokens,
        })
    }

    /// The page tokens of this store's listings (opaque, bound to their query; the secret is kept
    /// in this database).
    pub fn page_tokens(&self) -> &acorn_proto::page::PageTokens {
        &self.page_tokens
    }

    async fn send<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Write,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(make(reply))
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// Creates a run, idempotently on its request_id.
    pub async fn create_run(&self, run: NewRun) -> Result<Created, StoreError> {
        self.send(|r| Write::Create(run, r)).await
    }

    /// Adds an upload batch to an open run, idempotently on (run, request_id).
    pub async fn add_batch(&self, batch: NewBatch) -> Result<Added, StoreError> {
        self.send(|r| Write::Batch(batch, r)).await
    }

    /// Writes a chunk of results of an open run (replacing rows of an earlier, interrupted
    /// finalize); false when the run is missing or finalized. Results are only read once the run
    /// is finalized.
    pub async fn put_results(
        &self,
        run_id: &str,
        rows: Vec<ResultRow>,
    ) -> Result<bool, StoreError> {
        let id = run_id.to_string();
        self.send(|r| Write::Results(id, rows, r)).await
    }

    /// Freezes a run whose results were written with [`SqliteStore::put_results`].
    pub async fn finalize(&self, f: Finalization) -> Result<Finalized, StoreError> {
        self.send(|r| Write::Finalize(Box::new(f), r)).await
    }

    /// Deletes a run and everything of it; false when there was no such run.
    pub async fn delete_run(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.send(|r| Write::Delete(id, r)).await
    }

    /// One run.
    pub async fn run(&self, id: &str) -> Result<Option<StoredRun>, StoreError> {
        let mut conn = self.readers.acquire().await?;
        Ok(run_by_id(&mut conn, id).await?)
    }

    /// Runs newest first: `(runs, next cursor)`.
    pub async fn runs(
        &self,
        performance_year: Option<i32>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<(Vec<StoredRun>, Option<i64>), StoreError> {
        let q = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE (?1 IS NULL OR performance_year = ?1) \
             AND (?2 IS NULL OR seq < ?2) ORDER BY seq DESC LIMIT ?3"
        );
        let rows = sqlx::query(AssertSqlSafe(q))
            .bind(performance_year)
            .bind(before)
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.readers)
            .await?;
        let mut out = Vec::new();
        for row in rows.iter().take(limit as usize) {
            out.push(run_row(row)?);
        }
        let next = (rows.len() > limit as usize)
            .then(|| out.last().map(|r| r.seq))
            .flatten();
        Ok((out, next))
    }

    /// Up to `limit` batches of a run after `after` (a rowid), in upload order: `(rowid, body)`.
    pub async fn batches(
        &self,
        run_seq: i64,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT rowid, body FROM batches WHERE run_seq = ? AND rowid > ? ORDER BY rowid LIMIT ?",
        )
        .bind(run_seq)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.readers)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// One beneficiary's stored result.
    pub async fn assignment(
        &self,
        run_seq: i64,
        beneficiary_id: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(
            sqlx::query("SELECT body FROM assignments WHERE run_seq = ? AND beneficiary_id = ?")
                .bind(run_seq)
                .bind(beneficiary_id)
                .fetch_optional(&self.readers)
                .await?
                .map(|r| r.try_get(0))
                .transpose()?,
        )
    }

    /// Results of the beneficiaries assigned to ACO `aco` (index), in beneficiary id order, from
    /// the `offset`-th on (a finalized run's results never change, so an ordinal is a stable
    /// cursor that carries no identifier).
    pub async fn assigned(
        &self,
        run_seq: i64,
        aco: i32,
        offset: u64,
        limit: u32,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT beneficiary_id, body FROM assignments WHERE run_seq = ?1 AND aco = ?2 \
             ORDER BY beneficiary_id LIMIT ?4 OFFSET ?3",
        )
        .bind(run_seq)
        .bind(aco)
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.readers)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }
}

async fn write_loop(mut conn: SqliteConnection, mut rx: mpsc::Receiver<Write>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while rx.recv_many(&mut group, MAX_GROUP).await > 0 {
        match commit(&mut conn, &group).await {
            Ok(done) => {
                for (w, d) in group.drain(..).zip(done) {
                    match (w, d) {
                        (Write::Create(_, r), Done::Create(x)) => drop(r.send(Ok(x))),
                        (Write::Batch(_, r), Done::Batch(x)) => drop(r.send(Ok(x))),
                        (Write::Finalize(_, r), Done::Finalize(x)) => drop(r.send(Ok(x))),
                        (Write::Results(_, _, r), Done::Results(x)) => drop(r.send(Ok(x))),
                        (Write::Delete(_, r), Done::Delete(x)) => drop(r.send(Ok(x))),
                        _ => {}
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, writes = group.len(), "store commit failed; rolled back");
                for w in group.drain(..) {
                    match w {
                        Write::Create(_, r) => drop(r.send(Err(StoreError::CommitFailed))),
                        Write::Batch(_, r) => drop(r.send(Err(StoreError::CommitFailed))),
                        Write::Finalize(_, r) => drop(r.send(Err(StoreError::CommitFailed))),
                        Write::Results(_, _, r) => drop(r.send(Err(StoreError::CommitFailed))),
                        Write::Delete(_, r) => drop(r.send(Err(StoreError::CommitFailed))),
                    }
                }
            }
        }
    }
}

async fn commit(conn: &mut SqliteConnection, group: &[Write]) -> Result<Vec<Done>, sqlx::Error> {
    let mut tx = conn.begin().await?;
    let mut out = Vec::with_capacity(group.len());
    for w in group {
        out.push(match w {
            Write::Create(run, _) => Done::Create(create(&mut tx, run).await?),
            Write::Batch(b, _) => Done::Batch(batch(&mut tx, b).await?),
            Write::Finalize(f, _) => Done::Finalize(finalize(&mut tx, f).await?),
            Write::Results(id, rows, _) => Done::Results(results(&mut tx, id, rows).await?),
            Write::Delete(id, _) => Done::Delete(delete(&mut tx, id).await?),
        });
    }
    tx.commit().await?;
    Ok(out)
}

async fn create(conn: &mut SqliteConnection, run: &NewRun) -> Result<Created, sqlx::Error> {
    let existing = sqlx::query("SELECT fingerprint, id FROM runs WHERE request_id = ?")
        .bind(&run.request_id)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(row) = existing {
        if row.try_get::<Vec<u8>, _>(0)? != run.fingerprint {
            return Ok(Created::Conflict);
        }
        let id: String = row.try_get(1)?;
        return Ok(match run_by_id(conn, &id).await? {
            Some(r) => Created::Existing(r),
            None => Created::Conflict,
        });
    }
    sqlx::query("INSERT INTO runs (id, request_id, fingerprint, performance_year, body) VALUES (?, ?, ?, ?, ?)")
        .bind(&run.id)
        .bind(&run.request_id)
        .bind(&run.fingerprint)
        .bind(run.performance_year)
        .bind(&run.body)
        .execute(&mut *conn)
        .await?;
    Ok(match run_by_id(conn, &run.id).await? {
        Some(r) => Created::Created(r),
        None => Created::Conflict,
    })
}

async fn batch(conn: &mut SqliteConnection, b: &NewBatch) -> Result<Added, sqlx::Error> {
    let Some(run) = run_by_id(conn, &b.run_id).await? else {
        return Ok(Added::NotFound);
    };
    let existing =
        sqlx::query("SELECT fingerprint FROM batches WHERE run_seq = ? AND request_id = ?")
            .bind(run.seq)
            .bind(&b.request_id)
            .fetch_optional(&mut *conn)
            .await?;
    if let Some(row) = existing {
        return Ok(if row.try_get::<Vec<u8>, _>(0)? == b.fingerprint {
            Added::Duplicate
        } else {
            Added::Conflict
        });
    }
    if run.finalized {
        return Ok(Added::Finalized);
    }
    sqlx::query(
        "INSERT INTO batches (run_seq, request_id, fingerprint, beneficiaries, claim_lines, body) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(run.seq)
    .bind(&b.request_id)
    .bind(&b.fingerprint)
    .bind(b.beneficiaries as i64)
    .bind(b.claim_lines as i64)
    .bind(&b.body)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE runs SET claim_lines = claim_lines + ?, beneficiaries = beneficiaries + ?, batches = batches + 1 WHERE seq = ?",
    )
    .bind(b.claim_lines as i64)
    .bind(b.beneficiaries as i64)
    .bind(run.seq)
    .execute(&mut *conn)
    .await?;
    Ok(Added::Added)
}

/// Rows per multi-row INSERT of results (4 parameters each, well under SQLite's limit).
const ROWS_PER_INSERT: usize = 200;

async fn finalize(conn: &mut SqliteConnection, f: &Finalization) -> Result<Finalized, sqlx::Error> {
    let Some(run) = run_by_id(conn, &f.run_id).await? else {
        return Ok(Finalized::NotFound);
    };
    if run.finalized {
        return Ok(Finalized::Already(run));
    }
    if run.batches != f.batches {
        return Ok(Finalized::Changed);
    }
    // The uploaded batches are folded into the results: drop them.
    sqlx::query("DELETE FROM batches WHERE run_seq = ?")
        .bind(run.seq)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE runs SET finalized = 1, finalize_request_id = ?, body = ? WHERE seq = ?")
        .bind(&f.request_id)
        .bind(&f.body)
        .bind(run.seq)
        .execute(&mut *conn)
        .await?;
    Ok(match run_by_id(conn, &f.run_id).await? {
        Some(r) => Finalized::Done(r),
        None => Finalized::NotFound,
    })
}

async fn results(
    conn: &mut SqliteConnection,
    id: &str,
    rows: &[ResultRow],
) -> Result<bool, sqlx::Error> {
    let Some(run) = run_by_id(conn, id).await? else {
        return Ok(false);
    };
    if run.finalized {
        return Ok(false);
    }
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut q = String::from(
            "INSERT OR REPLACE INTO assignments (run_seq, beneficiary_id, aco, body) VALUES ",
        );
        for i in 0..chunk.len() {
            q.push_str(if i == 0 {
                "(?, ?, ?, ?)"
            } else {
                ", (?, ?, ?, ?)"
            });
        }
        let mut query = sqlx::query(AssertSqlSafe(q));
        for (bene, aco, body) in chunk {
            query = query.bind(run.seq).bind(bene).bind(aco).bind(body);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(true)
}

async fn delete(conn: &mut SqliteConnection, id: &str) -> Result<bool, sqlx::Error> {
    let Some(run) = run_by_id(conn, id).await? else {
        return Ok(false);
    };
    for q in [
        "DELETE FROM assignments WHERE run_seq = ?",
        "DELETE FROM batches WHERE run_seq = ?",
        "DELETE FROM runs WHERE seq = ?",
    ] {
        sqlx::query(q).bind(run.seq).execute(&mut *conn).await?;
    }
    Ok(true)
}
