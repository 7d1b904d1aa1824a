//! Runs, upload batches and results, in an embedded SQLite file or in PostgreSQL.
//!
//! Durability is the shared store mechanism's ([`acorn_proto::store`]): a write is acknowledged
//! only after its group's transaction committed durably, and a failed group is rolled back
//! whole. Each write below is one [`Write`]: a run's state is checked inside the same
//! transaction as the write that depends on it (its row locked on PostgreSQL, where other
//! processes may write beside this one), so an upload can never land in a finalized run, and a
//! finalize that raced with an upload is refused (the caller retries).
//!
//! Idempotency: a run's `request_id` is unique, and so is a batch's within its run. The same
//! request_id with the same content (fingerprint) returns what was stored; with different content it
//! is a conflict.

use acorn_proto::{
    on_backend,
    page::PageTokens,
    store::{Conn, Db, Location, StoreError, Write},
};
use sqlx::{AssertSqlSafe, ColumnIndex, Decode, Row, Type};

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

/// Writes a chunk of results of an open run.
#[derive(Debug)]
struct PutResults {
    run_id: String,
    rows: Vec<ResultRow>,
}

/// Deletes a run (by public id) and everything of it.
#[derive(Debug)]
struct DeleteRun(String);

/// Attribution's store: a SQLite file or a PostgreSQL database ([`Location`]).
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
}

const MAX_GROUP: usize = 256;
const RUN_COLUMNS: &str =
    "seq, id, body, finalized, finalize_request_id, claim_lines, beneficiaries, batches";

fn run_row<R: Row>(row: &R) -> Result<StoredRun, sqlx::Error>
where
    usize: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
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

/// A run by public id. Inside a write (`lock`), its row stays locked until the group commits
/// ([`Dialect::for_update`](acorn_proto::store::Dialect::for_update)), so that what the write
/// checks (open, batch count) still holds when it commits, whichever process writes beside it.
async fn run_by_id(conn: Conn<'_>, id: &str, lock: bool) -> Result<Option<StoredRun>, sqlx::Error> {
    on_backend!(conn, |conn, dialect| {
        let suffix = if lock { dialect.for_update() } else { "" };
        let q = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1{suffix}");
        sqlx::query(AssertSqlSafe(q))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .map(|r| run_row(&r))
            .transpose()
    })
}

impl Store {
    /// Opens (creating a SQLite file if needed) the store and runs the migrations.
    /// `location` is a [`Location`] or the path of a SQLite file.
    pub async fn open(location: impl Into<Location>) -> Result<Self, StoreError> {
        let db = Db::open(&location.into(), acorn_proto::migrations!(), MAX_GROUP).await?;
        Ok(Self { db })
    }

    /// The page tokens of this store's listings (opaque, bound to their query; the secret is kept
    /// in this database).
    pub fn page_tokens(&self) -> &PageTokens {
        self.db.page_tokens()
    }

    /// Creates a run, idempotently on its request_id.
    pub async fn create_run(&self, run: NewRun) -> Result<Created, StoreError> {
        self.db.write(run).await
    }

    /// Adds an upload batch to an open run, idempotently on (run, request_id).
    pub async fn add_batch(&self, batch: NewBatch) -> Result<Added, StoreError> {
        self.db.write(batch).await
    }

    /// Writes a chunk of results of an open run (replacing rows of an earlier, interrupted
    /// finalize); false when the run is missing or finalized. Results are only read once the run
    /// is finalized.
    pub async fn put_results(
        &self,
        run_id: &str,
        rows: Vec<ResultRow>,
    ) -> Result<bool, StoreError> {
        let run_id = run_id.to_string();
        self.db.write(PutResults { run_id, rows }).await
    }

    /// Freezes a run whose results were written with [`Store::put_results`].
    pub async fn finalize(&self, f: Finalization) -> Result<Finalized, StoreError> {
        self.db.write(f).await
    }

    /// Deletes a run and everything of it; false when there was no such run.
    pub async fn delete_run(&self, id: &str) -> Result<bool, StoreError> {
        self.db.write(DeleteRun(id.to_string())).await
    }

    /// One run.
    pub async fn run(&self, id: &str) -> Result<Option<StoredRun>, StoreError> {
        on_backend!(self.db.readers(), |pool, dialect| {
            let mut conn = pool.acquire().await?;
            Ok(run_by_id(Conn::from(&mut *conn), id, false).await?)
        })
    }

    /// Runs newest first: `(runs, next cursor)`.
    pub async fn runs(
        &self,
        performance_year: Option<i32>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<(Vec<StoredRun>, Option<i64>), StoreError> {
        let q = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE ($1 IS NULL OR performance_year = $1) \
             AND ($2 IS NULL OR seq < $2) ORDER BY seq DESC LIMIT $3"
        );
        let mut out = Vec::new();
        let more = on_backend!(self.db.readers(), |pool, dialect| {
            let rows = sqlx::query(AssertSqlSafe(q))
                .bind(performance_year)
                .bind(before)
                .bind(i64::from(limit) + 1)
                .fetch_all(pool)
                .await?;
            for row in rows.iter().take(limit as usize) {
                out.push(run_row(row)?);
            }
            rows.len() > limit as usize
        });
        let next = more.then(|| out.last().map(|r| r.seq)).flatten();
        Ok((out, next))
    }

    /// Up to `limit` batches of a run after `after` (a rowid), in upload order: `(rowid, body)`.
    pub async fn batches(
        &self,
        run_seq: i64,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        on_backend!(self.db.readers(), |pool, dialect| {
            let rows = sqlx::query(
                "SELECT rowid, body FROM batches WHERE run_seq = $1 AND rowid > $2 \
                 ORDER BY rowid LIMIT $3",
            )
            .bind(run_seq)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<_, sqlx::Error>>()
                .map_err(Into::into)
        })
    }

    /// One beneficiary's stored result.
    pub async fn assignment(
        &self,
        run_seq: i64,
        beneficiary_id: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        on_backend!(self.db.readers(), |pool, dialect| {
            Ok(sqlx::query(
                "SELECT body FROM assignments WHERE run_seq = $1 AND beneficiary_id = $2",
            )
            .bind(run_seq)
            .bind(beneficiary_id)
            .fetch_optional(pool)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?)
        })
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
        on_backend!(self.db.readers(), |pool, dialect| {
            let rows = sqlx::query(
                "SELECT beneficiary_id, body FROM assignments WHERE run_seq = $1 AND aco = $2 \
                 ORDER BY beneficiary_id LIMIT $4 OFFSET $3",
            )
            .bind(run_seq)
            .bind(aco)
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<_, sqlx::Error>>()
                .map_err(Into::into)
        })
    }
}

impl Write for NewRun {
    type Output = Created;

    /// Inserts unless the request_id is taken (on PostgreSQL waiting for a concurrent insert of the
    /// same request_id to settle), then reads the run that holds it.
    async fn apply(&self, mut conn: Conn<'_>) -> Result<Created, sqlx::Error> {
        let inserted = on_backend!(conn.reborrow(), |c, dialect| {
            sqlx::query(
                "INSERT INTO runs (id, request_id, fingerprint, performance_year, body) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (request_id) DO NOTHING",
            )
            .bind(&self.id)
            .bind(&self.request_id)
            .bind(&self.fingerprint)
            .bind(self.performance_year)
            .bind(&self.body)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        if inserted == 1 {
            return Ok(run_by_id(conn, &self.id, false)
                .await?
                .map_or(Created::Conflict, Created::Created));
        }
        let existing = on_backend!(conn.reborrow(), |c, dialect| {
            let row = sqlx::query("SELECT fingerprint, id FROM runs WHERE request_id = $1")
                .bind(&self.request_id)
                .fetch_one(&mut *c)
                .await?;
            (row.try_get::<Vec<u8>, _>(0)?, row.try_get::<String, _>(1)?)
        });
        let (fingerprint, id) = existing;
        if fingerprint != self.fingerprint {
            return Ok(Created::Conflict);
        }
        Ok(run_by_id(conn, &id, false)
            .await?
            .map_or(Created::Conflict, Created::Existing))
    }
}

impl Write for NewBatch {
    type Output = Added;

    async fn apply(&self, mut conn: Conn<'_>) -> Result<Added, sqlx::Error> {
        let Some(run) = run_by_id(conn.reborrow(), &self.run_id, true).await? else {
            return Ok(Added::NotFound);
        };
        on_backend!(conn, |conn, dialect| {
            let existing = sqlx::query(
                "SELECT fingerprint FROM batches WHERE run_seq = $1 AND request_id = $2",
            )
            .bind(run.seq)
            .bind(&self.request_id)
            .fetch_optional(&mut *conn)
            .await?;
            if let Some(row) = existing {
                return Ok(if row.try_get::<Vec<u8>, _>(0)? == self.fingerprint {
                    Added::Duplicate
                } else {
                    Added::Conflict
                });
            }
            if run.finalized {
                return Ok(Added::Finalized);
            }
            sqlx::query(
                "INSERT INTO batches \
                 (run_seq, request_id, fingerprint, beneficiaries, claim_lines, body) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(run.seq)
            .bind(&self.request_id)
            .bind(&self.fingerprint)
            .bind(self.beneficiaries as i64)
            .bind(self.claim_lines as i64)
            .bind(&self.body)
            .execute(&mut *conn)
            .await?;
            sqlx::query(
                "UPDATE runs SET claim_lines = claim_lines + $1, \
                 beneficiaries = beneficiaries + $2, batches = batches + 1 WHERE seq = $3",
            )
            .bind(self.claim_lines as i64)
            .bind(self.beneficiaries as i64)
            .bind(run.seq)
            .execute(&mut *conn)
            .await?;
            Ok(Added::Added)
        })
    }
}

/// Rows per multi-row INSERT of results (4 parameters each, well under either backend's limit).
const ROWS_PER_INSERT: usize = 200;

impl Write for Finalization {
    type Output = Finalized;

    async fn apply(&self, mut conn: Conn<'_>) -> Result<Finalized, sqlx::Error> {
        let Some(run) = run_by_id(conn.reborrow(), &self.run_id, true).await? else {
            return Ok(Finalized::NotFound);
        };
        if run.finalized {
            return Ok(Finalized::Already(run));
        }
        if run.batches != self.batches {
            return Ok(Finalized::Changed);
        }
        on_backend!(conn.reborrow(), |c, dialect| {
            // The uploaded batches are folded into the results: drop them.
            sqlx::query("DELETE FROM batches WHERE run_seq = $1")
                .bind(run.seq)
                .execute(&mut *c)
                .await?;
            sqlx::query(
                "UPDATE runs SET finalized = 1, finalize_request_id = $1, body = $2 WHERE seq = $3",
            )
            .bind(&self.request_id)
            .bind(&self.body)
            .bind(run.seq)
            .execute(&mut *c)
            .await?;
        });
        Ok(run_by_id(conn, &self.run_id, false)
            .await?
            .map_or(Finalized::NotFound, Finalized::Done))
    }
}

impl Write for PutResults {
    type Output = bool;

    async fn apply(&self, mut conn: Conn<'_>) -> Result<bool, sqlx::Error> {
        let Some(run) = run_by_id(conn.reborrow(), &self.run_id, true).await? else {
            return Ok(false);
        };
        if run.finalized {
            return Ok(false);
        }
        for chunk in self.rows.chunks(ROWS_PER_INSERT) {
            let mut q = String::from(
                "INSERT INTO assignments (run_seq, beneficiary_id, aco, body) VALUES ",
            );
            for i in 0..chunk.len() {
                let p = 4 * i;
                if i > 0 {
                    q.push_str(", ");
                }
                q.push_str(&format!("(${}, ${}, ${}, ${})", p + 1, p + 2, p + 3, p + 4));
            }
            // An interrupted finalize's rows are replaced.
            q.push_str(
                " ON CONFLICT (run_seq, beneficiary_id) \
                 DO UPDATE SET aco = excluded.aco, body = excluded.body",
            );
            on_backend!(conn.reborrow(), |c, dialect| {
                let mut query = sqlx::query(AssertSqlSafe(q));
                for (bene, aco, body) in chunk {
                    query = query.bind(run.seq).bind(bene).bind(aco).bind(body);
                }
                query.execute(&mut *c).await?;
            });
        }
        Ok(true)
    }
}

impl Write for DeleteRun {
    type Output = bool;

    async fn apply(&self, mut conn: Conn<'_>) -> Result<bool, sqlx::Error> {
        let Some(run) = run_by_id(conn.reborrow(), &self.0, true).await? else {
            return Ok(false);
        };
        on_backend!(conn, |conn, dialect| {
            for q in [
                "DELETE FROM assignments WHERE run_seq = $1",
                "DELETE FROM batches WHERE run_seq = $1",
                "DELETE FROM runs WHERE seq = $1",
            ] {
                sqlx::query(q).bind(run.seq).execute(&mut *conn).await?;
            }
        });
        Ok(true)
    }
}
