//! The record ledger every acorn service keeps: computed results (reconciliations, benchmarks)
//! recorded durably and idempotently. A small storage trait and its implementation on the shared
//! store mechanism ([`crate::store`]: an embedded SQLite file or PostgreSQL, durable group commit,
//! checkpoint and backup).
//!
//! Idempotency: `request_id` is unique. A record whose request_id exists with the same input
//! fingerprint returns the stored record; with a different fingerprint it is a conflict. The
//! insert and the check run in the same transaction, and the insert is `ON CONFLICT DO NOTHING`,
//! so concurrent duplicates record once, from one process or from several on one PostgreSQL
//! database. The fingerprint is persisted, so it must be a stable digest of every field of the
//! request that the record depends on: see [`fingerprint`] and [`Fingerprint`] for the canonical
//! forms.
//!
//! Listing pages are continued with opaque tokens bound to the query ([`crate::page`]), under a
//! secret kept in the same file.

use std::{
    collections::{HashMap, HashSet},
    future::Future,
};

use sqlx::Row;

use crate::{
    page::PageTokens,
    store::{Conn, Db, Location, StoreError, Write},
};

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

/// The ledger operations a service needs ([`Ledger`] on SQLite or PostgreSQL; a test can put
/// something else behind the same trait).
pub trait Store: Send + Sync + 'static {
    /// Writes a record durably, idempotently on its request_id.
    fn record(&self, rec: NewRecord) -> impl Future<Output = Result<Recorded, StoreError>> + Send;
    /// Reads one record by id.
    fn get(&self, id: &str) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;
    /// Lists records, newest first.
    fn list(&self, filter: Filter) -> impl Future<Output = Result<Page, StoreError>> + Send;
    /// The page tokens of this ledger's listings ([`crate::page`]).
    fn page_tokens(&self) -> &PageTokens;
}

/// The ledger of one service: a SQLite file or a PostgreSQL database ([`Location`]).
#[derive(Debug, Clone)]
pub struct Ledger {
    db: Db,
}

/// Most records committed in one transaction.
const MAX_GROUP: usize = 1024;

impl Ledger {
    /// Opens (creating a SQLite file if needed) the ledger and runs the migrations.
    /// `location` is a [`Location`] or the path of a SQLite file.
    pub async fn open(location: impl Into<Location>) -> Result<Self, StoreError> {
        let db = Db::open(&location.into(), crate::migrations!(), MAX_GROUP).await?;
        Ok(Self { db })
    }
}

impl Write for NewRecord {
    type Output = Recorded;

    /// Inserts unless the request_id is taken, then reads the row that holds it. On PostgreSQL an
    /// insert racing another process's uncommitted one with the same request_id waits for it and
    /// then does nothing, and the read (a new snapshot) sees the winner.
    async fn apply(&self, conn: Conn<'_>) -> Result<Recorded, sqlx::Error> {
        crate::on_backend!(conn, |conn, dialect| {
            let inserted = sqlx::query(
                "INSERT INTO records (id, request_id, fingerprint, aco_id, period, body) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (request_id) DO NOTHING",
            )
            .bind(&self.id)
            .bind(&self.request_id)
            .bind(&self.fingerprint)
            .bind(&self.aco_id)
            .bind(self.period)
            .bind(&self.body)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            if inserted == 1 {
                return Ok(Recorded::Created(self.body.clone()));
            }
            let row = sqlx::query("SELECT fingerprint, body FROM records WHERE request_id = $1")
                .bind(&self.request_id)
                .fetch_one(&mut *conn)
                .await?;
            Ok(if row.try_get::<Vec<u8>, _>(0)? == self.fingerprint {
                Recorded::Existing(row.try_get(1)?)
            } else {
                Recorded::Conflict
            })
        })
    }

    /// A run of records in a constant number of statements, answering what [`apply`](Write::apply)
    /// on each in order answers: one multi-row `INSERT .. ON CONFLICT (request_id) DO NOTHING
    /// RETURNING request_id` of the first write of each request_id in the run (on PostgreSQL over
    /// `UNNEST` of one array per column; on SQLite a `VALUES` list, in chunks under SQLite's
    /// bound-parameter limit, one chunk for any group the ledger makes), then, only if some did
    /// not insert, one `SELECT` of the rows that hold their request_ids. A later write of a
    /// request_id in the run is answered against the first one's row, as it would be one by one:
    /// `Existing` with its body if the fingerprints match, else `Conflict`.
    async fn apply_run(run: &[&Self], mut conn: Conn<'_>) -> Result<Vec<Recorded>, sqlx::Error> {
        // The first write of each request_id: the one that may insert (by its index in the run).
        let mut first: HashMap<&str, usize> = HashMap::with_capacity(run.len());
        let mut unique: Vec<&NewRecord> = Vec::with_capacity(run.len());
        for (i, rec) in run.iter().enumerate() {
            first.entry(rec.request_id.as_str()).or_insert_with(|| {
                unique.push(rec);
                i
            });
        }
        let inserted = insert_new(&unique, conn.reborrow()).await?;
        let taken: Vec<&str> = unique
            .iter()
            .map(|rec| rec.request_id.as_str())
            .filter(|request_id| !inserted.contains(*request_id))
            .collect();
        let stored = if taken.is_empty() {
            HashMap::new()
        } else {
            stored_rows(&taken, conn).await?
        };
        let mut out = Vec::with_capacity(run.len());
        for (i, rec) in run.iter().enumerate() {
            let request_id = rec.request_id.as_str();
            let winner = first
                .get(request_id)
                .map(|&w| run[w])
                .ok_or(sqlx::Error::RowNotFound)?;
            let (fingerprint, body) = if inserted.contains(request_id) {
                if first.get(request_id) == Some(&i) {
                    out.push(Recorded::Created(rec.body.clone()));
                    continue;
                }
                (&winner.fingerprint, &winner.body)
            } else {
                let (fingerprint, body) = stored.get(request_id).ok_or(sqlx::Error::RowNotFound)?;
                (fingerprint, body)
            };
            out.push(if *fingerprint == rec.fingerprint {
                Recorded::Existing(body.clone())
            } else {
                Recorded::Conflict
            });
        }
        Ok(out)
    }
}

/// Most rows in one SQLite statement of a run: SQLite's limit of 32,766 bound parameters (the
/// default since 3.32; the bundled SQLite is newer) over the 6 columns of a record.
const SQLITE_ROWS: usize = 32_766 / 6;

/// Inserts the records whose request_id is not taken (the request_ids distinct), returning the
/// request_ids inserted.
async fn insert_new(recs: &[&NewRecord], conn: Conn<'_>) -> Result<HashSet<String>, sqlx::Error> {
    let mut inserted = HashSet::with_capacity(recs.len());
    match conn {
        Conn::Sqlite(conn) => {
            for chunk in recs.chunks(SQLITE_ROWS) {
                let sql = format!(
                    "INSERT INTO records (id, request_id, fingerprint, aco_id, period, body) \
                     VALUES {} ON CONFLICT (request_id) DO NOTHING RETURNING request_id",
                    vec!["(?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ")
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for rec in chunk {
                    query = query
                        .bind(&rec.id)
                        .bind(&rec.request_id)
                        .bind(&rec.fingerprint)
                        .bind(&rec.aco_id)
                        .bind(rec.period)
                        .bind(&rec.body);
                }
                for row in query.fetch_all(&mut *conn).await? {
                    inserted.insert(row.try_get(0)?);
                }
            }
        }
        Conn::Postgres(conn) => {
            let rows = sqlx::query(
                "INSERT INTO records (id, request_id, fingerprint, aco_id, period, body) \
                 SELECT id, request_id, fingerprint, aco_id, period, body \
                 FROM UNNEST($1::text[], $2::text[], $3::bytea[], $4::text[], $5::int4[], $6::bytea[]) \
                   WITH ORDINALITY AS u (id, request_id, fingerprint, aco_id, period, body, n) \
                 ORDER BY n ON CONFLICT (request_id) DO NOTHING RETURNING request_id",
            )
            .bind(recs.iter().map(|r| r.id.as_str()).collect::<Vec<_>>())
            .bind(recs.iter().map(|r| r.request_id.as_str()).collect::<Vec<_>>())
            .bind(recs.iter().map(|r| r.fingerprint.as_slice()).collect::<Vec<_>>())
            .bind(recs.iter().map(|r| r.aco_id.as_str()).collect::<Vec<_>>())
            .bind(recs.iter().map(|r| r.period).collect::<Vec<_>>())
            .bind(recs.iter().map(|r| r.body.as_slice()).collect::<Vec<_>>())
            .fetch_all(&mut *conn)
            .await?;
            for row in rows {
                inserted.insert(row.try_get(0)?);
            }
        }
    }
    Ok(inserted)
}

/// The fingerprint and body of the rows holding `request_ids`, by request_id.
async fn stored_rows(
    request_ids: &[&str],
    conn: Conn<'_>,
) -> Result<HashMap<String, (Vec<u8>, Vec<u8>)>, sqlx::Error> {
    let mut stored = HashMap::with_capacity(request_ids.len());
    match conn {
        Conn::Sqlite(conn) => {
            for chunk in request_ids.chunks(SQLITE_ROWS * 6) {
                let sql = format!(
                    "SELECT request_id, fingerprint, body FROM records WHERE request_id IN ({})",
                    vec!["?"; chunk.len()].join(", ")
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for request_id in chunk {
                    query = query.bind(*request_id);
                }
                for row in query.fetch_all(&mut *conn).await? {
                    stored.insert(row.try_get(0)?, (row.try_get(1)?, row.try_get(2)?));
                }
            }
        }
        Conn::Postgres(conn) => {
            let rows = sqlx::query(
                "SELECT request_id, fingerprint, body FROM records WHERE request_id = ANY($1)",
            )
            .bind(request_ids)
            .fetch_all(&mut *conn)
            .await?;
            for row in rows {
                stored.insert(row.try_get(0)?, (row.try_get(1)?, row.try_get(2)?));
            }
        }
    }
    Ok(stored)
}

impl Store for Ledger {
    async fn record(&self, rec: NewRecord) -> Result<Recorded, StoreError> {
        self.db.write(rec).await
    }

    async fn get(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        crate::on_backend!(self.db.readers(), |pool, dialect| {
            Ok(sqlx::query("SELECT body FROM records WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
                .map(|row| row.try_get(0))
                .transpose()?)
        })
    }

    async fn list(&self, f: Filter) -> Result<Page, StoreError> {
        const LIST: &str = "SELECT seq, body FROM records \
             WHERE ($1 IS NULL OR aco_id = $1) AND ($2 IS NULL OR period = $2) \
               AND ($3 IS NULL OR seq < $3) \
             ORDER BY seq DESC LIMIT $4";
        let limit = f.limit as usize;
        let mut page = Page::default();
        crate::on_backend!(self.db.readers(), |pool, dialect| {
            let rows = sqlx::query(LIST)
                .bind(f.aco_id)
                .bind(f.period)
                .bind(f.before)
                .bind(i64::from(f.limit) + 1)
                .fetch_all(pool)
                .await?;
            for row in rows.iter().take(limit) {
                page.bodies.push(row.try_get(1)?);
                page.next = Some(row.try_get(0)?);
            }
            if rows.len() <= limit {
                page.next = None;
            }
        });
        Ok(page)
    }

    fn page_tokens(&self) -> &PageTokens {
        self.db.page_tokens()
    }
}

/// The fingerprint of a request whose whole input is one message: SHA-256 of its protobuf
/// encoding, as prost writes it (settlement-svc's `Reconcile`: the `ReconciliationInput`).
///
/// That encoding is canonical for acorn's contracts: prost writes the known fields of a message in
/// one fixed order (that of the generated struct: declaration order, oneofs last), each exactly
/// once, skips proto3 defaults, and writes repeated fields in order; acorn's contracts have no `map` fields (whose order would not be
/// defined) and no floating-point fields, and unknown fields are dropped on decoding. So equal
/// requests have equal fingerprints, a request differing in any field has a different one, and
/// the digest does not depend on the Rust toolchain or on process state (unlike
/// `std::hash::DefaultHasher`). The tests pin digests of known inputs, so a change of encoding
/// (a prost upgrade, reordered fields) cannot pass unnoticed.
pub fn fingerprint(encoded_input: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(encoded_input).to_vec()
}

/// The fingerprint of a request made of several parts (benchmark-svc's writes): SHA-256 over the
/// request kind, then each part as its length (8 bytes, little-endian) and its bytes. The kind
/// keeps requests of different RPCs that share the ledger apart; the length prefixes keep parts
/// from running into each other. Messages are added in their prost encoding (canonical, see
/// [`fingerprint`]).
#[derive(Debug, Clone)]
pub struct Fingerprint(sha2::Sha256);

impl Fingerprint {
    /// Starts the fingerprint of a request of `kind`.
    pub fn new(kind: &[u8]) -> Self {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        hasher.update(kind);
        Self(hasher)
    }

    /// Adds a part.
    pub fn bytes(&mut self, part: &[u8]) -> &mut Self {
        use sha2::Digest;
        self.0.update((part.len() as u64).to_le_bytes());
        self.0.update(part);
        self
    }

    /// Adds a message, as its protobuf encoding.
    pub fn message(&mut self, message: &impl prost::Message) -> &mut Self {
        self.bytes(&message.encode_to_vec())
    }

    /// The digest.
    pub fn finish(&self) -> Vec<u8> {
        use sha2::Digest;
        self.0.clone().finalize().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use acorn_testkit::db::TestDb;

    use super::*;
    use crate::store::{Apply, backup, checkpoint, commit_one_group};

    async fn open(path: &Path) -> Result<Ledger, StoreError> {
        Ledger::open(&Location::Sqlite(path.to_path_buf())).await
    }

    /// The ledger of every backend available (SQLite, and PostgreSQL when configured).
    async fn ledgers() -> Vec<(TestDb, Ledger)> {
        TestDb::all_opened(async |path, url| {
            let location = Location::new(path, url).expect("location");
            Ledger::open(&location).await.expect("open")
        })
        .await
    }

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
        for (_test, store) in ledgers().await {
            records_idempotently_and_lists_newest_first_in(store).await;
        }
    }

    async fn records_idempotently_and_lists_newest_first_in(store: Ledger) {
        for (fingerprint, recorded) in [
            (1, Recorded::Created(b"body-r1".to_vec())),
            (1, Recorded::Existing(b"body-r1".to_vec())),
            (2, Recorded::Conflict),
        ] {
            let r1 = rec("r1", fingerprint, "A1", 2018);
            assert_eq!(store.record(r1).await.expect("record"), recorded);
        }
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

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The persisted digests are pinned: the same input gives the same fingerprint on every build.
    #[test]
    fn fingerprints_are_pinned_digests() {
        assert_eq!(
            hex(&fingerprint(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "SHA-256 of nothing"
        );
        let input = crate::settlement::v1::ReconciliationInput {
            aco_id: "A1215".into(),
            performance_year: 2018,
            assigned_beneficiaries: 72_033,
            ..Default::default()
        };
        use prost::Message as _;
        // Field 1 "A1215", field 2 varint 2018, field 5 varint 72033 (worked by hand from
        // settlement.proto); the digest from Python's hashlib.
        assert_eq!(hex(&input.encode_to_vec()), "0a05413132313510e20f28e1b204");
        assert_eq!(
            hex(&fingerprint(&input.encode_to_vec())),
            "3e1e325b6c27d741a0a10b79513e1f3b27a5918147d83689ebf3042a6e0fe1ff"
        );
        // kind || len_le64 || part ... ("update", "id", "")
        assert_eq!(
            hex(&Fingerprint::new(b"update").bytes(b"id").bytes(b"").finish()),
            "a2c7cf66b270d43c48488fbc922e1485483ec0c9ca18769d35f512ff4ca98670"
        );
        assert_ne!(
            Fingerprint::new(b"update").bytes(b"i").bytes(b"d").finish(),
            Fingerprint::new(b"update").bytes(b"id").bytes(b"").finish()
        );
    }

    #[tokio::test]
    async fn checkpoint_leaves_everything_in_the_database_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ledger.db");
        let store = open(&path).await.expect("open");
        for r in ["r1", "r2", "r3"] {
            store.record(rec(r, 1, "A1", 2018)).await.expect("record");
        }
        let wal = dir.path().join("ledger.db-wal");
        assert!(
            std::fs::metadata(&wal).map_or(0, |m| m.len()) > 0,
            "the records are in the WAL before the checkpoint"
        );
        checkpoint(&path).await.expect("checkpoint");
        assert_eq!(std::fs::metadata(&wal).map_or(0, |m| m.len()), 0);
        // The database file alone, copied without its -wal, holds every record.
        let copy = tempfile::tempdir().expect("tempdir");
        std::fs::copy(&path, copy.path().join("ledger.db")).expect("copy");
        let alone = open(&copy.path().join("ledger.db"))
            .await
            .expect("open the copy");
        assert_eq!(
            alone.get("id-r3").await.expect("get"),
            Some(b"body-r3".to_vec())
        );
        drop(store);
    }

    #[tokio::test]
    async fn backup_is_a_consistent_copy_of_a_live_ledger() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ledger.db");
        let store = open(&path).await.expect("open");
        store
            .record(rec("r1", 1, "A1", 2018))
            .await
            .expect("record");
        let to = dir.path().join("backup.db");
        backup(&path, &to).await.expect("backup");
        assert!(backup(&path, &to).await.is_err(), "never overwrites");
        assert!(
            backup(&dir.path().join("missing.db"), &dir.path().join("b2.db"))
                .await
                .is_err(),
            "a missing database is an error, not a new empty one"
        );
        store
            .record(rec("r2", 1, "A1", 2018))
            .await
            .expect("record");
        let restored = open(&to).await.expect("open the backup");
        assert_eq!(
            restored.get("id-r1").await.expect("get"),
            Some(b"body-r1".to_vec())
        );
        assert_eq!(restored.get("id-r2").await.expect("get"), None);
        // The backup keeps the page-token secret: tokens stay valid after a restore.
        let q = crate::page::PageQuery::new("x");
        let token = store.page_tokens().issue_seq(&q, Some(9));
        assert_eq!(restored.page_tokens().open_seq(&q, &token), Ok(Some(9)));
    }

    /// Every stored row, in ledger order.
    async fn stored(store: &Ledger) -> Vec<(String, String, Vec<u8>, String, i32, Vec<u8>)> {
        crate::on_backend!(store.db.readers(), |pool, dialect| {
            sqlx::query(
                "SELECT id, request_id, fingerprint, aco_id, period, body FROM records ORDER BY seq",
            )
            .fetch_all(pool)
            .await
            .expect("select")
            .iter()
            .map(|row| {
                (
                    row.get(0),
                    row.get(1),
                    row.get(2),
                    row.get(3),
                    row.get(4),
                    row.get(5),
                )
            })
            .collect()
        })
    }

    /// Commits `group` as one group on a fresh ledger of `backend` holding `before`, batched
    /// (`how`: see [`crate::store::commit_one_group`]) or one by one; the answers and the rows.
    async fn one_group(
        backend: &str,
        before: &[NewRecord],
        group: &[NewRecord],
        how: Option<Apply>,
    ) -> (
        Vec<Result<Recorded, String>>,
        Vec<(String, String, Vec<u8>, String, i32, Vec<u8>)>,
    ) {
        let test = TestDb::all()
            .await
            .into_iter()
            .find(|t| t.backend() == backend)
            .expect("backend");
        let location = Location::new(test.path(), test.url()).expect("location");
        let ledger = Ledger::open(&location).await.expect("open");
        for rec in before {
            ledger.record(rec.clone()).await.expect("record");
        }
        let answers = commit_one_group(&location, crate::migrations!(), group.to_vec(), how)
            .await
            .into_iter()
            .map(|r| r.map_err(|e| e.to_string()))
            .collect();
        (answers, stored(&ledger).await)
    }

    /// `rec` under another id and body (what a retry of the same request would carry).
    fn again(request_id: &str, fingerprint: u8, tag: &str) -> NewRecord {
        NewRecord {
            id: format!("id-{request_id}-{tag}"),
            body: format!("body-{request_id}-{tag}").into_bytes(),
            ..rec(request_id, fingerprint, "A9", 2020)
        }
    }

    /// A run with request_ids repeated within it, request_ids stored before, and both, answers and
    /// stores exactly what the same writes applied one by one do, on every backend.
    #[tokio::test]
    async fn a_run_of_records_answers_and_stores_as_one_by_one() {
        let before = [rec("old1", 1, "A1", 2018), rec("old2", 1, "A1", 2018)];
        let group = [
            rec("new1", 1, "A2", 2019),
            again("old1", 1, "retry"), // stored before, same request: its stored body
            again("old2", 2, "other"), // stored before, another request: conflict
            again("new1", 1, "retry"), // earlier in this run: new1's body
            rec("new2", 3, "A2", 2019),
            again("new2", 4, "other"), // earlier in this run, another request
            again("old1", 5, "other"), // stored before, a second time in the run, conflict
            rec("new3", 1, "A3", 2020),
            again("old1", 1, "retry2"), // stored before, a third time, same request
            again("new3", 1, "retry"),
        ];
        let created = |r: &str| Ok(Recorded::Created(format!("body-{r}").into_bytes()));
        let existing = |r: &str| Ok(Recorded::Existing(format!("body-{r}").into_bytes()));
        let expected = vec![
            created("new1"),
            existing("old1"),
            Ok(Recorded::Conflict),
            existing("new1"),
            created("new2"),
            Ok(Recorded::Conflict),
            Ok(Recorded::Conflict),
            created("new3"),
            existing("old1"),
            existing("new3"),
        ];
        let mut backends = vec!["sqlite"];
        if std::env::var(acorn_testkit::db::DATABASE_URL_VAR).is_ok() {
            backends.push("postgres");
        }
        for backend in backends {
            let one_by_one = one_group(backend, &before, &group, Some(Apply::OneByOne)).await;
            let run = one_group(backend, &before, &group, Some(Apply::Runs)).await;
            assert_eq!(one_by_one.0, expected, "{backend}: one by one");
            assert_eq!(run.0, expected, "{backend}: the run");
            assert_eq!(run.1, one_by_one.1, "{backend}: the rows");
            let ids: Vec<&str> = run.1.iter().map(|row| row.0.as_str()).collect();
            assert_eq!(
                ids,
                ["id-old1", "id-old2", "id-new1", "id-new2", "id-new3"],
                "{backend}"
            );
            // The writer's own path (runs, with the fall-back) answers the same.
            assert_eq!(
                one_group(backend, &before, &group, None).await,
                run,
                "{backend}"
            );
        }
    }

    /// A run longer than one SQLite statement takes (chunks), its first request_id repeated at
    /// its end, and a run whose statement fails (an id taken by another request_id): the
    /// writer's fall-back answers as one by one does (here: the whole group fails).
    #[tokio::test]
    async fn long_runs_and_failing_runs_answer_as_one_by_one() {
        let mut long: Vec<NewRecord> = (0..SQLITE_ROWS + 10)
            .map(|i| rec(&format!("r{i}"), 1, "A1", 2018))
            .collect();
        long.push(again("r0", 1, "retry"));
        long.push(again("r5", 2, "other"));
        let mut failing = vec![rec("x1", 1, "A1", 2018), rec("x2", 1, "A1", 2018)];
        failing[1].id = failing[0].id.clone();
        let mut backends = vec!["sqlite"];
        if std::env::var(acorn_testkit::db::DATABASE_URL_VAR).is_ok() {
            backends.push("postgres");
        }
        for backend in backends {
            let run = one_group(backend, &[], &long, Some(Apply::Runs)).await;
            let one_by_one = one_group(backend, &[], &long, Some(Apply::OneByOne)).await;
            assert_eq!(run, one_by_one, "{backend}");
            assert_eq!(run.1.len(), SQLITE_ROWS + 10, "{backend}");
            assert_eq!(
                run.0[SQLITE_ROWS + 10..],
                [
                    Ok(Recorded::Existing(b"body-r0".to_vec())),
                    Ok(Recorded::Conflict)
                ],
                "{backend}"
            );

            let run = one_group(backend, &before_x(), &failing, None).await;
            let one_by_one = one_group(backend, &before_x(), &failing, Some(Apply::OneByOne)).await;
            assert_eq!(run, one_by_one, "{backend}");
            assert!(run.0.iter().all(|r| r.is_err()), "{backend}: {:?}", run.0);
            assert_eq!(run.1.len(), 1, "{backend}: nothing of the group is kept");
        }
    }

    fn before_x() -> Vec<NewRecord> {
        vec![rec("x0", 1, "A1", 2018)]
    }

    #[tokio::test]
    async fn concurrent_duplicates_in_one_batch_record_once() {
        for (_test, store) in ledgers().await {
            concurrent_duplicates_in_one_batch_record_once_in(&store).await;
        }
    }

    async fn concurrent_duplicates_in_one_batch_record_once_in(store: &Ledger) {
        let results = futures_join(store, 50).await;
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

    async fn futures_join(store: &Ledger, n: usize) -> Vec<Recorded> {
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
