//! The one durable store mechanism every acorn store is built on (the record [`crate::ledger`],
//! attribution's runs): one writer task with group commit and a pool of readers, on either
//! backend, plus the page-token secret, checkpoint and backup.
//!
//! Backends ([`Location`]): an embedded SQLite file (the default: `--db PATH`), or a PostgreSQL
//! database (`--database-url postgres://...`). Each store keeps one migration folder per backend
//! (the DDL differs: `BLOB`/`BYTEA`, `AUTOINCREMENT`/identity columns, `WITHOUT ROWID`) and
//! writes its queries once, in the SQL both accept (`$1` parameters, `ON CONFLICT`), run on
//! either connection with [`on_backend!`](crate::on_backend).
//!
//! Durability: a write is acknowledged only after its transaction has committed durably: on
//! SQLite with `synchronous = FULL` in WAL mode, i.e. after the WAL is fsynced; on PostgreSQL with
//! `synchronous_commit = on` (set on the writer's session), i.e. after the server has flushed its
//! WAL. To reach thousands of durable writes per second, one writer task commits whatever has
//! queued up as a single transaction (group commit): every caller in the group is answered only
//! after that commit, and if any write of the group fails the whole group is rolled back and every
//! caller in it told so ([`StoreError::CommitFailed`]), so nothing is half-written. Readers use a
//! separate connection pool (read-only on SQLite, where WAL lets them run beside the writer).
//!
//! Several processes on one PostgreSQL database: each has its own writer, so their transactions
//! run concurrently. The writes are written for that: inserts keyed by an idempotency key are
//! `INSERT .. ON CONFLICT DO NOTHING` followed by a read of the row that won (under READ
//! COMMITTED the insert waits for a concurrent one with the same key to commit or roll back), and
//! a write that checks a row's state first locks it ([`Dialect::for_update`]). A group that
//! PostgreSQL aborts as a deadlock or serialization failure is retried whole (its writes are
//! applied again from the start), up to [`PG_ATTEMPTS`] times.
//!
//! A store says what a write does by implementing [`Write`] for a type of its own (it runs inside
//! the group's transaction, so it can check state and write in one step); it reads with
//! [`Db::readers`]. Writes of one type queued next to each other in a group (a run) can be applied
//! together in a fixed number of statements ([`Write::apply_run`]), answering each caller exactly
//! what applying them one by one would; if a group fails that way it is applied again one write
//! at a time, so it commits or fails as it would without runs. The servers talk to the store types, never to this module or to sqlx.
//!
//! Shutdown and backup (SQLite): [`checkpoint`] moves everything committed from the `-wal` file
//! into the database file (each binary calls it after a clean shutdown, so the database file alone
//! is complete), and [`backup`] writes a consistent copy of a live database (`VACUUM INTO`). A
//! PostgreSQL database is backed up with PostgreSQL's own tools (`pg_dump`).

use std::{
    any::{Any, TypeId},
    fmt,
    future::Future,
    path::{Path, PathBuf},
    pin::Pin,
    str::FromStr,
    time::Duration,
};

use sqlx::{
    Connection, PgConnection, PgPool, Row, SqliteConnection, SqlitePool,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use tokio::sync::{mpsc, oneshot};

use crate::page::PageTokens;

/// How long a connection waits for a lock held by another before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// How many times a PostgreSQL commit group is tried when PostgreSQL aborts it as a deadlock or a
/// serialization failure (another process's transaction held what it needed).
pub const PG_ATTEMPTS: usize = 5;

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
    /// `--database-url` is not a PostgreSQL URL (the reason does not repeat the URL, which may
    /// hold a password).
    #[error("--database-url must be a postgres:// URL: {0}")]
    DatabaseUrl(&'static str),
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
            | StoreError::BackupPath
            | StoreError::DatabaseUrl(_) => {
                tonic::Status::internal("the store could not complete the request")
            }
        }
    }
}

/// Where a service keeps its store.
#[derive(Clone)]
pub enum Location {
    /// An embedded SQLite database file (created if missing).
    Sqlite(PathBuf),
    /// A PostgreSQL database (its tables in the first schema of the connection's `search_path`).
    Postgres(Box<PgConnectOptions>),
}

impl Location {
    /// The SQLite file `db`, unless `database_url` (a `postgres://` or `postgresql://` URL) is
    /// given, which then takes its place.
    pub fn new(db: &Path, database_url: Option<&str>) -> Result<Self, StoreError> {
        match database_url {
            None => Ok(Self::Sqlite(db.to_path_buf())),
            Some(url) => Self::postgres(url),
        }
    }

    /// A PostgreSQL database by URL (`postgres://user@host:port/database`; add
    /// `?options[search_path]=SCHEMA` to keep the tables in a schema of their own).
    pub fn postgres(url: &str) -> Result<Self, StoreError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(StoreError::DatabaseUrl("the scheme is not postgres://"));
        }
        let options = PgConnectOptions::from_str(url)
            .map_err(|_| StoreError::DatabaseUrl("it does not parse"))?;
        Ok(Self::Postgres(Box::new(options)))
    }

    /// What to do after a server's clean shutdown: checkpoint a SQLite database
    /// ([`checkpoint_after_shutdown`]); nothing for PostgreSQL.
    pub async fn after_shutdown(&self) {
        if let Self::Sqlite(path) = self {
            checkpoint_after_shutdown(path).await;
        }
    }
}

/// A SQLite file.
impl From<&Path> for Location {
    fn from(path: &Path) -> Self {
        Self::Sqlite(path.to_path_buf())
    }
}

/// A SQLite file.
impl From<&PathBuf> for Location {
    fn from(path: &PathBuf) -> Self {
        Self::Sqlite(path.clone())
    }
}

impl From<&Location> for Location {
    fn from(location: &Location) -> Self {
        location.clone()
    }
}

/// Without the password: the file, or `postgres://user@host:port/database`.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "{}", path.display()),
            Self::Postgres(o) => {
                write!(f, "postgres://{}@", o.get_username())?;
                match o.get_socket() {
                    Some(dir) => write!(f, "{}", dir.display())?,
                    None => write!(f, "{}:{}", o.get_host(), o.get_port())?,
                }
                write!(f, "/{}", o.get_database().unwrap_or(""))
            }
        }
    }
}

/// As [`Display`](fmt::Display): never the password.
impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({self})")
    }
}

/// One value per backend: a connection, a pool. [`on_backend!`](crate::on_backend) runs the same
/// code on either.
#[derive(Debug, Clone, Copy)]
pub enum Backend<S, P> {
    /// SQLite's.
    Sqlite(S),
    /// PostgreSQL's.
    Postgres(P),
}

/// The connection a [`Write`] runs on (inside its group's transaction).
pub type Conn<'a> = Backend<&'a mut SqliteConnection, &'a mut PgConnection>;

impl Conn<'_> {
    /// The same connection for a shorter borrow (to pass it on and use it again after).
    pub fn reborrow(&mut self) -> Conn<'_> {
        match self {
            Self::Sqlite(c) => Conn::Sqlite(c),
            Self::Postgres(c) => Conn::Postgres(c),
        }
    }
}

impl<'a> From<&'a mut SqliteConnection> for Conn<'a> {
    fn from(conn: &'a mut SqliteConnection) -> Self {
        Self::Sqlite(conn)
    }
}

impl<'a> From<&'a mut PgConnection> for Conn<'a> {
    fn from(conn: &'a mut PgConnection) -> Self {
        Self::Postgres(conn)
    }
}

/// What differs in the SQL of the two backends beyond the migrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Dialect {
    /// The clause that locks the rows a `SELECT` inside a write reads until the group commits:
    /// ` FOR UPDATE` on PostgreSQL, where other processes' writers run concurrently; nothing on
    /// SQLite, where one writer holds the database's write lock for the whole transaction.
    pub fn for_update(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => " FOR UPDATE",
        }
    }
}

/// Runs the same code on a [`Backend`] value of either kind: `on_backend!(conn, |c, dialect| body)`
/// compiles `body` twice, once with `c` bound to the SQLite value and once to the PostgreSQL one
/// (so sqlx's queries in it are typed for each backend), with `dialect` the [`Dialect`].
#[macro_export]
macro_rules! on_backend {
    ($value:expr, |$c:ident, $dialect:ident| $body:expr) => {
        match $value {
            $crate::store::Backend::Sqlite($c) => {
                #[allow(unused_variables)]
                let $dialect = $crate::store::Dialect::Sqlite;
                $body
            }
            $crate::store::Backend::Postgres($c) => {
                #[allow(unused_variables)]
                let $dialect = $crate::store::Dialect::Postgres;
                $body
            }
        }
    };
}

/// One kind of write a store makes: it runs inside the transaction of its commit group (on the
/// writer's connection), so what it reads there and what it writes commit together or not at all.
/// It may be applied more than once (a PostgreSQL group retried after a deadlock starts again
/// from the beginning in a new transaction), so it must not depend on having run before.
///
/// Runs: writes of one type queued next to each other in a group are applied together with
/// [`Write::apply_run`], which a type overrides to do the whole run in a fixed number of
/// statements (the ledger's [`NewRecord`](crate::ledger::NewRecord): one multi-row insert and at
/// most one read) instead of a few per write; every statement is a hand-off to sqlx's SQLite
/// worker thread or a round trip to PostgreSQL, the larger part of a durable call's cost
/// (BENCHMARKS.md, "Where a durable call's CPU goes"). A run must answer exactly what applying its
/// writes one by one, in order, would. If a group with a run fails, the writer rolls it back and
/// applies it again one write at a time (so a run's statement failing costs speed, never an
/// answer): the group then commits, or fails as it would have without runs.
pub trait Write: Send + Sync + Sized + 'static {
    /// What the caller is answered once the group has committed.
    type Output: Send + 'static;
    /// Does the write (no commit: the writer commits the group).
    fn apply(
        &self,
        conn: Conn<'_>,
    ) -> impl Future<Output = Result<Self::Output, sqlx::Error>> + Send;

    /// Does a run of writes (at least two), as [`apply`](Write::apply) on each in order would,
    /// and returns their outputs in that order (one per write: anything else fails the run). The
    /// default applies them one by one.
    fn apply_run(
        run: &[&Self],
        mut conn: Conn<'_>,
    ) -> impl Future<Output = Result<Vec<Self::Output>, sqlx::Error>> + Send {
        async move {
            let mut outputs = Vec::with_capacity(run.len());
            for write in run {
                outputs.push(write.apply(conn.reborrow()).await?);
            }
            Ok(outputs)
        }
    }
}

type Applied<'a> = Pin<Box<dyn Future<Output = Result<(), sqlx::Error>> + Send + 'a>>;

/// A queued write of any kind, with its caller's answer.
trait Queued: Send + Any {
    fn apply<'a>(&'a mut self, conn: Conn<'a>) -> Applied<'a>;
    /// Applies this write and `rest` (writes of the same type, [`Queued::kind`]) as one run.
    fn apply_run<'a>(&'a mut self, rest: &'a mut [Box<dyn Queued>], conn: Conn<'a>) -> Applied<'a>;
    /// The type of the write: equal kinds next to each other in a group form a run.
    fn kind(&self) -> TypeId;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    /// Answers the caller: the write's output if the group committed, else `CommitFailed`.
    fn answer(self: Box<Self>, committed: bool);
}

struct Pending<W: Write> {
    write: W,
    output: Option<W::Output>,
    reply: oneshot::Sender<Result<W::Output, StoreError>>,
}

type Answer<W> = oneshot::Receiver<Result<<W as Write>::Output, StoreError>>;

impl<W: Write> Pending<W> {
    /// A write to queue, and where its caller's answer arrives.
    fn queue(write: W) -> (Box<dyn Queued>, Answer<W>) {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            write,
            output: None,
            reply,
        };
        (Box::new(pending), answer)
    }
}

/// A run whose writes are not all of one type, or that did not answer each of them: a bug, which
/// fails the group's batched attempt (the writer then applies the group one write at a time).
fn bad_run() -> sqlx::Error {
    sqlx::Error::Protocol("a run of writes did not answer one output per write".into())
}

impl<W: Write> Queued for Pending<W> {
    fn apply<'a>(&'a mut self, conn: Conn<'a>) -> Applied<'a> {
        Box::pin(async move {
            self.output = Some(self.write.apply(conn).await?);
            Ok(())
        })
    }

    fn apply_run<'a>(&'a mut self, rest: &'a mut [Box<dyn Queued>], conn: Conn<'a>) -> Applied<'a> {
        Box::pin(async move {
            let outputs = {
                let mut run = Vec::with_capacity(1 + rest.len());
                run.push(&self.write);
                for queued in rest.iter() {
                    let pending = queued.as_any().downcast_ref::<Self>().ok_or_else(bad_run)?;
                    run.push(&pending.write);
                }
                W::apply_run(&run, conn).await?
            };
            if outputs.len() != 1 + rest.len() {
                return Err(bad_run());
            }
            let mut outputs = outputs.into_iter();
            self.output = outputs.next();
            for (queued, output) in rest.iter_mut().zip(outputs) {
                let pending = queued
                    .as_any_mut()
                    .downcast_mut::<Self>()
                    .ok_or_else(bad_run)?;
                pending.output = Some(output);
            }
            Ok(())
        })
    }

    fn kind(&self) -> TypeId {
        TypeId::of::<W>()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
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

/// The migrations of a store, one folder per backend (`sqlx::migrate!`; see [`crate::migrations!`]).
#[derive(Debug, Clone, Copy)]
pub struct Migrations {
    /// For SQLite.
    pub sqlite: &'static Migrator,
    /// For PostgreSQL.
    pub postgres: &'static Migrator,
}

/// The [`Migrations`] of the calling crate, embedded: its folders `migrations/` (SQLite) and
/// `migrations-postgres/` (PostgreSQL).
#[macro_export]
macro_rules! migrations {
    () => {{
        static SQLITE: ::sqlx::migrate::Migrator = ::sqlx::migrate!("./migrations");
        static POSTGRES: ::sqlx::migrate::Migrator = ::sqlx::migrate!("./migrations-postgres");
        $crate::store::Migrations {
            sqlite: &SQLITE,
            postgres: &POSTGRES,
        }
    }};
}

/// The read connections of a store, by backend.
pub type Readers = Backend<SqlitePool, PgPool>;

/// A store's database with its group-commit writer and its readers.
#[derive(Debug, Clone)]
pub struct Db {
    readers: Readers,
    writer: mpsc::Sender<Box<dyn Queued>>,
    page_tokens: PageTokens,
}

impl Db {
    /// Opens the store at `location`, runs its migrations, loads (or creates) the page-token
    /// secret and starts the writer, which commits up to `max_group` queued writes per
    /// transaction.
    ///
    /// SQLite: the file is created if needed, in WAL mode with `synchronous = FULL` and foreign
    /// keys enforced. PostgreSQL: the database must exist; the writer's session commits with
    /// `synchronous_commit = on`.
    pub async fn open(
        location: &Location,
        migrations: Migrations,
        max_group: usize,
    ) -> Result<Self, StoreError> {
        let max_group = max_group.max(1);
        let (tx, rx) = mpsc::channel(4 * max_group);
        let (writer, readers, page_tokens) = connect(location, migrations).await?;
        tokio::spawn(write_loop(writer, rx, max_group));
        Ok(Self {
            readers,
            writer: tx,
            page_tokens,
        })
    }

    /// Queues a write and waits until its group has committed (or failed).
    pub async fn write<W: Write>(&self, write: W) -> Result<W::Output, StoreError> {
        let (pending, answer) = Pending::queue(write);
        self.writer
            .send(pending)
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// The read connections (they see what has committed), for [`on_backend!`](crate::on_backend).
    pub fn readers(&self) -> Backend<&SqlitePool, &PgPool> {
        match &self.readers {
            Backend::Sqlite(pool) => Backend::Sqlite(pool),
            Backend::Postgres(pool) => Backend::Postgres(pool),
        }
    }

    /// The page tokens of this database's listings (opaque, bound to their query; the secret is
    /// kept in this database, so tokens survive restarts and restores, and every process on one
    /// PostgreSQL database accepts the others' tokens).
    pub fn page_tokens(&self) -> &PageTokens {
        &self.page_tokens
    }
}

/// Opens the writer's connection and the readers at `location` (see [`Db::open`]), runs the
/// migrations and loads the page-token secret.
async fn connect(
    location: &Location,
    migrations: Migrations,
) -> Result<(Writer, Readers, PageTokens), StoreError> {
    Ok(match location {
        Location::Sqlite(path) => {
            let options = SqliteConnectOptions::from_str("sqlite:")?
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(BUSY_TIMEOUT);
            let mut conn = SqliteConnection::connect_with(&options).await?;
            migrations.sqlite.run(&mut conn).await?;
            let page_tokens = sqlite_page_tokens(&mut conn).await?;
            let readers = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options.read_only(true))
                .await?;
            (Backend::Sqlite(conn), Backend::Sqlite(readers), page_tokens)
        }
        Location::Postgres(options) => {
            let options = options.as_ref().clone();
            // One connection, replaced by the pool if the server drops it.
            let writer = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(options.clone().options([("synchronous_commit", "on")]))
                .await?;
            migrations.postgres.run(&writer).await?;
            let page_tokens = {
                let mut conn = writer.acquire().await?;
                pg_page_tokens(&mut conn).await?
            };
            let readers = PgPoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await?;
            (
                Backend::Postgres(writer),
                Backend::Postgres(readers),
                page_tokens,
            )
        }
    })
}

/// The writer's connection: SQLite's own, or a one-connection PostgreSQL pool.
type Writer = Backend<SqliteConnection, PgPool>;

/// Commits queued writes in groups until every sender is dropped.
async fn write_loop(mut conn: Writer, mut rx: mpsc::Receiver<Box<dyn Queued>>, max_group: usize) {
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

/// How a group's writes are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Apply {
    /// Each run of writes of one type with [`Write::apply_run`].
    Runs,
    /// One write at a time with [`Write::apply`].
    OneByOne,
}

/// Commits a group, its runs batched; if that fails, rolls it back and commits it one write at a
/// time (so the group commits, or fails, as it would without runs).
async fn commit(conn: &mut Writer, group: &mut [Box<dyn Queued>]) -> Result<(), sqlx::Error> {
    let has_run = group.windows(2).any(|w| w[0].kind() == w[1].kind());
    if !has_run {
        return commit_as(conn, group, Apply::OneByOne).await;
    }
    match commit_as(conn, group, Apply::Runs).await {
        Err(e) => {
            tracing::warn!(error = %e, writes = group.len(), "store group failed with its runs batched; applying it one write at a time");
            commit_as(conn, group, Apply::OneByOne).await
        }
        ok => ok,
    }
}

async fn commit_as(
    conn: &mut Writer,
    group: &mut [Box<dyn Queued>],
    how: Apply,
) -> Result<(), sqlx::Error> {
    match conn {
        Backend::Sqlite(conn) => {
            let mut tx = conn.begin().await?;
            apply_group(Conn::Sqlite(&mut tx), group, how).await?;
            tx.commit().await
        }
        Backend::Postgres(pool) => {
            let mut attempt = 1;
            loop {
                match pg_commit(pool, group, how).await {
                    Err(e) if attempt < PG_ATTEMPTS && retryable(&e) => {
                        tracing::warn!(error = %e, attempt, writes = group.len(), "store commit aborted by PostgreSQL; retrying the group");
                        attempt += 1;
                    }
                    result => return result,
                }
            }
        }
    }
}

async fn pg_commit(
    pool: &PgPool,
    group: &mut [Box<dyn Queued>],
    how: Apply,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    apply_group(Conn::Postgres(&mut tx), group, how).await?;
    tx.commit().await
}

/// Applies a group's writes in order (no commit).
async fn apply_group(
    mut conn: Conn<'_>,
    group: &mut [Box<dyn Queued>],
    how: Apply,
) -> Result<(), sqlx::Error> {
    let mut rest = group;
    while let Some((first, tail)) = rest.split_first_mut() {
        let len = match how {
            Apply::Runs => tail.iter().take_while(|q| q.kind() == first.kind()).count(),
            Apply::OneByOne => 0,
        };
        let (run, after) = tail.split_at_mut(len);
        if run.is_empty() {
            first.apply(conn.reborrow()).await?;
        } else {
            first.apply_run(run, conn.reborrow()).await?;
        }
        rest = after;
    }
    Ok(())
}

/// Commits `writes` as one group on a writer of its own and returns each caller's answer: as the
/// writer task does (`how` = `None`: runs batched, falling back to one write at a time), or
/// strictly one way (`Some`: no fall-back). For tests that compare the paths on chosen groups.
#[cfg(test)]
pub(crate) async fn commit_one_group<W: Write>(
    location: &Location,
    migrations: Migrations,
    writes: Vec<W>,
    how: Option<Apply>,
) -> Vec<Result<W::Output, StoreError>> {
    let (mut writer, _readers, _tokens) = connect(location, migrations).await.expect("connect");
    let mut answers = Vec::new();
    let mut group: Vec<Box<dyn Queued>> = Vec::new();
    for write in writes {
        let (pending, answer) = Pending::queue(write);
        answers.push(answer);
        group.push(pending);
    }
    let result = match how {
        None => commit(&mut writer, &mut group).await,
        Some(how) => commit_as(&mut writer, &mut group, how).await,
    };
    for pending in group {
        pending.answer(result.is_ok());
    }
    let mut out = Vec::new();
    for answer in answers {
        out.push(answer.await.unwrap_or(Err(StoreError::WriterStopped)));
    }
    out
}

/// A PostgreSQL deadlock (40P01) or serialization failure (40001): the transaction did nothing
/// and may simply be tried again.
fn retryable(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("40001" | "40P01")))
}

/// The page-token secret on `$conn` (a SQLite connection or a PostgreSQL transaction): the table
/// `page_token_secret` created if missing (its secret column of the byte type `$bytes`), 32 random
/// bytes stored by `$insert` (a no-op when a secret is there), and the stored secret read back.
macro_rules! stored_page_token_secret {
    ($conn:ident, $bytes:literal, $insert:literal) => {{
        sqlx::query(concat!(
            "CREATE TABLE IF NOT EXISTS page_token_secret (\
               id INTEGER PRIMARY KEY CHECK (id = 1), secret ",
            $bytes,
            " NOT NULL CHECK (length(secret) = 32))"
        ))
        .execute(&mut *$conn)
        .await?;
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh).map_err(StoreError::Random)?;
        sqlx::query($insert)
            .bind(fresh.as_slice())
            .execute(&mut *$conn)
            .await?;
        sqlx::query("SELECT secret FROM page_token_secret WHERE id = 1")
            .fetch_one(&mut *$conn)
            .await?
            .try_get::<Vec<u8>, _>(0)?
    }};
}

/// Reads this database's page-token secret, creating it (32 random bytes) on first use, in the
/// table `page_token_secret` (created here if missing, so any acorn SQLite file can hold one).
async fn sqlite_page_tokens(conn: &mut SqliteConnection) -> Result<PageTokens, StoreError> {
    let stored = stored_page_token_secret!(
        conn,
        "BLOB",
        "INSERT OR IGNORE INTO page_token_secret (id, secret) VALUES (1, ?)"
    );
    secret(stored)
}

/// As [`sqlite_page_tokens`], in one transaction under an advisory lock, so that processes
/// starting together on one database create one table and one secret.
async fn pg_page_tokens(conn: &mut PgConnection) -> Result<PageTokens, StoreError> {
    /// The advisory lock's key: "acorn pt" in ASCII.
    const LOCK: i64 = 0x6163_6f72_6e20_7074;
    let mut tx = conn.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LOCK)
        .execute(&mut *tx)
        .await?;
    let stored = stored_page_token_secret!(
        tx,
        "BYTEA",
        "INSERT INTO page_token_secret (id, secret) VALUES (1, $1) ON CONFLICT DO NOTHING"
    );
    tx.commit().await?;
    secret(stored)
}

fn secret(stored: Vec<u8>) -> Result<PageTokens, StoreError> {
    let secret: [u8; 32] = stored.try_into().map_err(|_| StoreError::DamagedSecret)?;
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
    use acorn_testkit::db::TestDb;

    use super::*;

    static NO_MIGRATIONS: Migrator = Migrator::DEFAULT;
    const NONE: Migrations = Migrations {
        sqlite: &NO_MIGRATIONS,
        postgres: &NO_MIGRATIONS,
    };

    /// Inserts `n` into `t`, then fails if `n` is negative (after its insert).
    struct Insert(i64);

    impl Write for Insert {
        type Output = i64;
        async fn apply(&self, conn: Conn<'_>) -> Result<i64, sqlx::Error> {
            crate::on_backend!(conn, |conn, dialect| {
                sqlx::query("CREATE TABLE IF NOT EXISTS t (n BIGINT NOT NULL)")
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("INSERT INTO t (n) VALUES ($1)")
                    .bind(self.0)
                    .execute(&mut *conn)
                    .await?;
                if self.0 < 0 {
                    sqlx::query("SELECT * FROM no_such_table")
                        .execute(&mut *conn)
                        .await?;
                }
                Ok(self.0)
            })
        }
    }

    /// Inserts `n` into `t`, answering `(n, whether it was applied in a run)`; a run that holds a
    /// 0 inserts all of its rows and then fails (a batched statement failing half-way).
    struct Batchable(i64);

    impl Batchable {
        async fn insert(conn: Conn<'_>, n: i64) -> Result<(), sqlx::Error> {
            crate::on_backend!(conn, |conn, dialect| {
                sqlx::query("CREATE TABLE IF NOT EXISTS t (n BIGINT NOT NULL)")
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("INSERT INTO t (n) VALUES ($1)")
                    .bind(n)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            })
        }
    }

    impl Write for Batchable {
        type Output = (i64, bool);
        async fn apply(&self, conn: Conn<'_>) -> Result<(i64, bool), sqlx::Error> {
            Self::insert(conn, self.0).await?;
            Ok((self.0, false))
        }

        async fn apply_run(
            run: &[&Self],
            mut conn: Conn<'_>,
        ) -> Result<Vec<(i64, bool)>, sqlx::Error> {
            for w in run {
                Self::insert(conn.reborrow(), w.0).await?;
            }
            if run.iter().any(|w| w.0 == 0) {
                return Err(sqlx::Error::Protocol("a failing run".into()));
            }
            Ok(run.iter().map(|w| (w.0, true)).collect())
        }
    }

    /// The rows of `t`, sorted.
    async fn rows(db: &Db) -> Vec<i64> {
        let mut rows: Vec<i64> = crate::on_backend!(db.readers(), |pool, dialect| {
            sqlx::query("SELECT n FROM t")
                .fetch_all(pool)
                .await
                .expect("select")
                .iter()
                .map(|row| row.try_get(0).expect("n"))
                .collect()
        });
        rows.sort_unstable();
        rows
    }

    /// Either kind of write, to make groups of mixed types.
    enum Either {
        Plain(Insert),
        Batch(Batchable),
    }

    #[tokio::test]
    async fn runs_of_one_type_are_applied_together_and_a_failing_run_one_by_one() {
        for test in TestDb::all().await {
            let backend = test.backend();
            let location = Location::new(test.path(), test.url()).expect("location");
            let group = |ns: &[i64]| ns.iter().map(|&n| Batchable(n)).collect::<Vec<_>>();
            let answers = |got: Vec<Result<(i64, bool), StoreError>>| {
                got.into_iter()
                    .map(|r| r.expect("committed"))
                    .collect::<Vec<_>>()
            };
            // A run: applied together.
            let got = commit_one_group(&location, NONE, group(&[1, 2, 3]), None).await;
            assert_eq!(answers(got), [(1, true), (2, true), (3, true)], "{backend}");
            // A single write is no run.
            let got = commit_one_group(&location, NONE, group(&[4]), None).await;
            assert_eq!(answers(got), [(4, false)], "{backend}");
            // A run that fails half-way: rolled back, then applied one by one, nothing twice.
            let got = commit_one_group(&location, NONE, group(&[5, 0, 6]), None).await;
            assert_eq!(
                answers(got),
                [(5, false), (0, false), (6, false)],
                "{backend}"
            );
            // Without the fall-back the failing run fails its group.
            let got = commit_one_group(&location, NONE, group(&[7, 0]), Some(Apply::Runs)).await;
            assert!(
                got.iter()
                    .all(|r| matches!(r, Err(StoreError::CommitFailed))),
                "{backend}"
            );
            let db = Db::open(&location, NONE, 8).await.expect("open");
            assert_eq!(rows(&db).await, [0, 1, 2, 3, 4, 5, 6], "{backend}");
        }
    }

    /// Runs are writes of one type next to each other: other writes between them split them.
    #[tokio::test]
    async fn a_write_of_another_type_ends_a_run() {
        let test = TestDb::sqlite();
        let location = Location::new(test.path(), test.url()).expect("location");
        let (mut writer, _readers, _tokens) = connect(&location, NONE).await.expect("connect");
        let mut answers = Vec::new();
        let mut group: Vec<Box<dyn Queued>> = Vec::new();
        for w in [
            Either::Batch(Batchable(1)),
            Either::Plain(Insert(2)),
            Either::Batch(Batchable(3)),
            Either::Batch(Batchable(4)),
            Either::Plain(Insert(5)),
            Either::Batch(Batchable(6)),
        ] {
            match w {
                Either::Plain(write) => group.push(Pending::queue(write).0),
                Either::Batch(write) => {
                    let (pending, answer) = Pending::queue(write);
                    answers.push(answer);
                    group.push(pending);
                }
            }
        }
        commit(&mut writer, &mut group).await.expect("commit");
        for pending in group {
            pending.answer(true);
        }
        let mut got = Vec::new();
        for answer in answers {
            got.push(answer.await.expect("answered").expect("committed"));
        }
        assert_eq!(got, [(1, false), (3, true), (4, true), (6, false)]);
    }

    async fn count(db: &Db) -> i64 {
        crate::on_backend!(db.readers(), |pool, dialect| {
            sqlx::query("SELECT count(*) FROM t")
                .fetch_one(pool)
                .await
                .and_then(|row| row.try_get(0))
                .unwrap_or(0)
        })
    }

    async fn open(test: &TestDb, max_group: usize) -> Db {
        let location = Location::new(test.path(), test.url()).expect("location");
        Db::open(&location, NONE, max_group).await.expect("open")
    }

    #[tokio::test]
    async fn a_failing_write_rolls_back_its_whole_group_and_only_it() {
        for test in TestDb::all().await {
            let db = open(&test, 64).await;
            let backend = test.backend();
            assert_eq!(db.write(Insert(1)).await.expect("write"), 1, "{backend}");
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
                    Err(e) => assert!(matches!(e, StoreError::CommitFailed), "{backend}: {e}"),
                }
            }
            assert_eq!(count(&db).await, 1 + ok, "{backend}");
            assert!(ok < 3, "{backend}: the failing write is never acknowledged");
            assert_eq!(db.write(Insert(4)).await.expect("the writer goes on"), 4);
            assert_eq!(count(&db).await, 2 + ok, "{backend}");
        }
    }

    #[tokio::test]
    async fn the_page_token_secret_is_kept_in_the_database() {
        for test in TestDb::all().await {
            let q = crate::page::PageQuery::new("x");
            let token = open(&test, 8).await.page_tokens().issue_seq(&q, Some(3));
            let again = open(&test, 8).await;
            assert_eq!(
                again.page_tokens().open_seq(&q, &token),
                Ok(Some(3)),
                "{}",
                test.backend()
            );
        }
    }

    #[test]
    fn a_database_url_must_be_postgres_and_is_shown_without_its_password() {
        assert!(matches!(
            Location::new(Path::new("x.db"), Some("mysql://u:p@h/db")),
            Err(StoreError::DatabaseUrl(_))
        ));
        assert!(matches!(
            Location::new(Path::new("x.db"), Some("postgres://u:p@h:99999/db")),
            Err(StoreError::DatabaseUrl(_))
        ));
        let pg = Location::new(Path::new("x.db"), Some("postgres://u:secret@h:5433/db"))
            .expect("a postgres URL");
        assert_eq!(pg.to_string(), "postgres://u@h:5433/db");
        assert!(!format!("{pg:?}").contains("secret"));
        let file = Location::new(Path::new("x.db"), None).expect("the file");
        assert_eq!(file.to_string(), "x.db");
    }

    #[tokio::test]
    async fn backup_and_checkpoint_refuse_what_they_cannot_do() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let db = Db::open(&Location::Sqlite(path.clone()), NONE, 8)
            .await
            .expect("open");
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
