//! The one durable store mechanism every acorn store is built on (the record [`crate::ledger`],
//! attribution's runs): a SQLite file, one writer task with group commit, a pool of readers, the
//! page-token secret, checkpoint and backup.
//!
//! Durability: a write is acknowledged only after its transaction has committed with
//! `synchronous = FULL` in WAL mode, i.e. after the WAL is fsynced. To reach thousands of durable
//! writes per second, one writer task commits whatever has queued up as a single transaction
//! (group commit): every caller in the group is answered only after that commit, and if any write
//! of the group fails the whole group is rolled back and every caller in it told so
//! ([`StoreError::CommitFailed`]), so nothing is half-written. Readers use a separate read-only
//! connection pool (WAL lets them run beside the writer).
//!
//! A store says what a write does by implementing [`Write`] for a type of its own (it runs inside
//! the group's transaction, so it can check state and write in one step); it reads with
//! [`Sqlite::readers`]. The servers talk to the store types, never to this module or to sqlx.
//!
//! Shutdown and backup: [`checkpoint`] moves everything committed from the `-wal` file into the
//! database file (each binary calls it after a clean shutdown, so the database file alone is
//! complete), and [`backup`] writes a consistent copy of a live database (`VACUUM INTO`).

use std::{
    future::Future,
    path::{Path, PathBuf},
    pin::Pin,
    str::FromStr,
    time::Duration,
};

use sqlx::{
    Connection, Row, SqliteConnection, SqlitePool,
    migrate::Migrator,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use tokio::sync::{mpsc, oneshot};

use crate::page::PageTokens;

/// How long a connection waits for a lock held by another before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Storage failures. They are the server's, never the caller's: `UNAVAILABLE` while shutting
/// down, `INTERNAL` otherwise (see the `Status` conversion).
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
    /// A write of the group failed; the whole group was rolled back.
    #[error("commit failed and was rolled back")]
    CommitFailed,
    /// No random bytes for a new page-token secret.
    #[error("no randomness for the page-token secret: {0}")]
    Random(getrandom::Error),
    /// The stored page-token secret is not 32 bytes.
    #[error("the stored page-token secret is damaged")]
    DamagedSecret,
    /// A checkpoint could not move the whole WAL into the database file.
    #[error("the WAL could not be fully checkpointed ({done} of {log} pages)")]
    Checkpoint {
        /// Pages in the WAL.
        log: i64,
        /// Pages checkpointed.
        done: i64,
    },
    /// The backup file exists already (a backup never overwrites).
    #[error("{} already exists", .0.display())]
    BackupExists(PathBuf),
    /// The backup path is not valid UTF-8 (SQLite takes it as text).
    #[error("the backup path must be valid UTF-8")]
    BackupPath,
}

impl From<StoreError> for tonic::Status {
    /// Logged here, reported without detail. Exhaustive on purpose: a new variant must be placed.
    fn from(err: StoreError) -> Self {
        tracing::error!(error = %err, "store failure");
        match err {
            StoreError::WriterStopped => tonic::Status::unavailable("the store is shutting down"),
            StoreError::Database(_)
            | StoreError::Migrate(_)
            | StoreError::CommitFailed
            | StoreError::Random(_)
            | StoreError::DamagedSecret
            | StoreError::Checkpoint { .. }
            | StoreError::BackupExists(_)
            | StoreError::BackupPath => {
                tonic::Status::internal("the store could not complete the request")
            }
        }
    }
}

/// One kind of write a store makes: it runs inside the transaction of its commit group (on the
/// writer's connection), so what it reads there and what it writes commit together or not at all.
pub trait Write: Send + Sync + 'static {
    /// What the caller is answered once the group has committed.
    type Output: Send + 'static;
    /// Does the write (no commit: the writer commits the group).
    fn apply(
        &self,
        conn: &mut SqliteConnection,
    ) -> impl Future<Output = Result<Self::Output, sqlx::Error>> + Send;
}

type Applied<'a> = Pin<Box<dyn Future<Output = Result<(), sqlx::Error>> + Send + 'a>>;

/// A queued write of any kind, with its caller's answer.
trait Queued: Send {
    fn apply<'a>(&'a mut self, conn: &'a mut SqliteConnection) -> Applied<'a>;
    /// Answers the caller: the write's output if the group committed, else `CommitFailed`.
    fn answer(self: Box<Self>, committed: bool);
}

struct Pending<W: Write> {
    write: W,
    output: Option<W::Output>,
    reply: oneshot::Sender<Result<W::Output, StoreError>>,
}

impl<W: Write> Queued for Pending<W> {
    fn apply<'a>(&'a mut self, conn: &'a mut SqliteConnection) -> Applied<'a> {
        Box::pin(async move {
            self.output = Some(self.write.apply(conn).await?);
            Ok(())
        })
    }

    fn answer(self: Box<Self>, committed: bool) {
        let result = self
            .output
            .filter(|_| committed)
            .ok_or(StoreError::CommitFailed);
        // A caller that has gone away needs no answer.
        let _ = self.reply.send(result);
    }
}

/// A SQLite database file with its group-commit writer and its readers.
#[derive(Debug, Clone)]
pub struct Sqlite {
    readers: SqlitePool,
    writer: mpsc::Sender<Box<dyn Queued>>,
    page_tokens: PageTokens,
}

impl Sqlite {
    /// Opens (creating if needed) the database file in WAL mode with `synchronous = FULL` and
    /// foreign keys enforced, runs `migrations`, loads (or creates) the page-token secret and
    /// starts the writer, which commits up to `max_group` queued writes per transaction.
    pub async fn open(
        path: &Path,
        migrations: &Migrator,
        max_group: usize,
    ) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let mut conn = SqliteConnection::connect_with(&options).await?;
        migrations.run(&mut conn).await?;
        let page_tokens = page_tokens(&mut conn).await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        let max_group = max_group.max(1);
        let (tx, rx) = mpsc::channel(4 * max_group);
        tokio::spawn(write_loop(conn, rx, max_group));
        Ok(Self {
            readers,
            writer: tx,
            page_tokens,
        })
    }

    /// Queues a write and waits until its group has committed (or failed).
    pub async fn write<W: Write>(&self, write: W) -> Result<W::Output, StoreError> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            write,
            output: None,
            reply,
        };
        self.writer
            .send(Box::new(pending))
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// The read-only connections (they see what has committed).
    pub fn readers(&self) -> &SqlitePool {
        &self.readers
    }

    /// The page tokens of this database's listings (opaque, bound to their query; the secret is
    /// kept in this database, so tokens survive restarts and restores).
    pub fn page_tokens(&self) -> &PageTokens {
        &self.page_tokens
    }
}

/// Commits queued writes in groups until every sender is dropped.
async fn write_loop(
    mut conn: SqliteConnection,
    mut rx: mpsc::Receiver<Box<dyn Queued>>,
    max_group: usize,
) {
    let mut group = Vec::with_capacity(max_group);
    while rx.recv_many(&mut group, max_group).await > 0 {
        let began = std::time::Instant::now();
        let result = commit(&mut conn, &mut group).await;
        crate::ops::observe_store("commit", began.elapsed());
        let committed = match result {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, writes = group.len(), "store commit failed; group rolled back");
                false
            }
        };
        for pending in group.drain(..) {
            pending.answer(committed);
        }
    }
}

async fn commit(
    conn: &mut SqliteConnection,
    group: &mut [Box<dyn Queued>],
) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    for pending in group.iter_mut() {
        pending.apply(&mut tx).await?;
    }
    tx.commit().await
}

/// Reads this database's page-token secret, creating it (32 random bytes) on first use, in the
/// table `page_token_secret` (created here if missing, so any acorn SQLite file can hold one).
async fn page_tokens(conn: &mut SqliteConnection) -> Result<PageTokens, StoreError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS page_token_secret (\
           id INTEGER PRIMARY KEY CHECK (id = 1), secret BLOB NOT NULL CHECK (length(secret) = 32))",
    )
    .execute(&mut *conn)
    .await?;
    let mut fresh = [0u8; 32];
    getrandom::fill(&mut fresh).map_err(StoreError::Random)?;
    sqlx::query("INSERT OR IGNORE INTO page_token_secret (id, secret) VALUES (1, ?)")
        .bind(fresh.as_slice())
        .execute(&mut *conn)
        .await?;
    let row = sqlx::query("SELECT secret FROM page_token_secret WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?;
    let secret: [u8; 32] = row
        .try_get::<Vec<u8>, _>(0)?
        .try_into()
        .map_err(|_| StoreError::DamagedSecret)?;
    Ok(PageTokens::new(&secret))
}

fn existing_database(path: &Path) -> Result<SqliteConnectOptions, StoreError> {
    Ok(SqliteConnectOptions::from_str("sqlite:")?
        .filename(path)
        .create_if_missing(false)
        .busy_timeout(BUSY_TIMEOUT))
}

/// Checkpoints a WAL-mode SQLite database (`PRAGMA wal_checkpoint(TRUNCATE)`): every committed
/// transaction is copied from `<db>-wal` into the database file and the `-wal` file is truncated
/// to zero bytes, so that the database file alone holds all the data. Each binary calls this after
/// a clean shutdown; it is safe while other connections are open (it waits up to the busy timeout
/// for readers, and reports if the WAL could not be fully checkpointed).
pub async fn checkpoint(path: &Path) -> Result<(), StoreError> {
    let mut conn = SqliteConnection::connect_with(&existing_database(path)?).await?;
    let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(&mut conn)
        .await?;
    let (busy, log, done): (i64, i64, i64) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    conn.close().await?;
    if busy != 0 || log != done {
        return Err(StoreError::Checkpoint { log, done });
    }
    Ok(())
}

/// [`checkpoint`] after a server's clean shutdown, logging the outcome: if it cannot be done now,
/// everything is still durable in the `-wal` file, so a failure is a warning, not an error.
pub async fn checkpoint_after_shutdown(path: &Path) {
    match checkpoint(path).await {
        Ok(()) => tracing::info!(db = %path.display(), "database checkpointed"),
        Err(e) => tracing::warn!(db = %path.display(), error = %e, "database not checkpointed"),
    }
}

/// Writes a consistent copy of the SQLite database `path` to the new file `to` (`VACUUM INTO`):
/// one read transaction, so it is safe while the service is running and the copy holds exactly
/// the transactions committed when it started (those still in the `-wal` file included). `to` must
/// not exist. Restore by stopping the service and putting the copy in place of the database file
/// (removing any `-wal` and `-shm` files beside it).
pub async fn backup(path: &Path, to: &Path) -> Result<(), StoreError> {
    if to.exists() {
        return Err(StoreError::BackupExists(to.to_path_buf()));
    }
    let target = to.to_str().ok_or(StoreError::BackupPath)?;
    let mut conn = SqliteConnection::connect_with(&existing_database(path)?).await?;
    sqlx::query("VACUUM INTO ?")
        .bind(target)
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(())
}

/// The `backup` subcommand every acorn binary has (flatten into the binary's `clap` enum).
#[derive(Debug, Clone, clap::Args)]
pub struct BackupArgs {
    /// The service's SQLite database file.
    #[arg(long)]
    pub db: PathBuf,
    /// Where to write the copy (a new file).
    #[arg(long)]
    pub to: PathBuf,
}

impl BackupArgs {
    /// Runs the backup.
    pub async fn run(&self) -> anyhow::Result<()> {
        use anyhow::Context as _;
        backup(&self.db, &self.to).await.with_context(|| {
            format!("backing up {} to {}", self.db.display(), self.to.display())
        })?;
        eprintln!("backed up {} to {}", self.db.display(), self.to.display());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static NO_MIGRATIONS: Migrator = Migrator::DEFAULT;

    /// Inserts `n` into `t`, then fails if `n` is negative (after its insert).
    struct Insert(i64);

    impl Write for Insert {
        type Output = i64;
        async fn apply(&self, conn: &mut SqliteConnection) -> Result<i64, sqlx::Error> {
            sqlx::query("CREATE TABLE IF NOT EXISTS t (n INTEGER NOT NULL)")
                .execute(&mut *conn)
                .await?;
            sqlx::query("INSERT INTO t (n) VALUES (?)")
                .bind(self.0)
                .execute(&mut *conn)
                .await?;
            if self.0 < 0 {
                sqlx::query("SELECT * FROM no_such_table")
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(self.0)
        }
    }

    async fn count(db: &Sqlite) -> i64 {
        sqlx::query("SELECT count(*) FROM t")
            .fetch_one(db.readers())
            .await
            .and_then(|row| row.try_get(0))
            .unwrap_or(0)
    }

    #[tokio::test]
    async fn a_failing_write_rolls_back_its_whole_group_and_only_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Sqlite::open(&dir.path().join("t.db"), &NO_MIGRATIONS, 64)
            .await
            .expect("open");
        assert_eq!(db.write(Insert(1)).await.expect("write"), 1);
        // Queued together, so (very likely) one group; whatever the grouping, a failed group
        // leaves nothing of itself behind and its callers are all told.
        let writes: Vec<_> = [2, -1, 3]
            .into_iter()
            .map(|n| {
                let db = db.clone();
                tokio::spawn(async move { db.write(Insert(n)).await })
            })
            .collect();
        let mut ok = 0;
        for w in writes {
            match w.await.expect("join") {
                Ok(_) => ok += 1,
                Err(e) => assert!(matches!(e, StoreError::CommitFailed), "{e}"),
            }
        }
        assert_eq!(count(&db).await, 1 + ok);
        assert!(ok < 3, "the failing write is never acknowledged");
        assert_eq!(db.write(Insert(4)).await.expect("the writer goes on"), 4);
        assert_eq!(count(&db).await, 2 + ok);
    }

    #[tokio::test]
    async fn backup_and_checkpoint_refuse_what_they_cannot_do() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let db = Sqlite::open(&path, &NO_MIGRATIONS, 8).await.expect("open");
        db.write(Insert(1)).await.expect("write");
        let to = dir.path().join("copy.db");
        backup(&path, &to).await.expect("backup");
        assert!(matches!(
            backup(&path, &to).await,
            Err(StoreError::BackupExists(_))
        ));
        assert!(checkpoint(&dir.path().join("missing.db")).await.is_err());
        checkpoint(&path).await.expect("checkpoint");
    }
}
