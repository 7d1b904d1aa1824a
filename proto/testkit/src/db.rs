//! The stores a test runs against: a SQLite file in a temporary directory always, and a
//! PostgreSQL schema of the test's own when `ACORN_TEST_DATABASE_URL` names a server
//! (`postgres://postgres@127.0.0.1:5432/test`; `.ci/run` sets it). Each PostgreSQL test gets a
//! new schema (tables in it through `search_path`), dropped when the test's [`TestDb`] is, so tests
//! run in parallel and on a shared server.
//!
//! The values are plain paths and URLs, for `acorn_proto::store::Location::new(db, url)` (a type of
//! acorn-proto itself would not be the same type in acorn-proto's own unit tests).

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicU32, Ordering},
};

use sqlx::{Connection, PgConnection};

/// The variable naming the PostgreSQL server the tests use.
pub const DATABASE_URL_VAR: &str = "ACORN_TEST_DATABASE_URL";

/// A store for one test.
#[derive(Debug)]
pub enum TestDb {
    /// A SQLite file (not created yet) in a temporary directory of its own.
    Sqlite {
        /// The directory, removed on drop.
        dir: tempfile::TempDir,
        /// The file.
        path: PathBuf,
    },
    /// A new, empty schema on the test server.
    Postgres(Schema),
}

impl TestDb {
    /// A SQLite file in a new temporary directory.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store.db");
        Self::Sqlite { dir, path }
    }

    /// Every backend available: SQLite, then PostgreSQL when [`DATABASE_URL_VAR`] is set (else a
    /// line on stderr says that the PostgreSQL half was skipped).
    pub async fn all() -> Vec<Self> {
        let mut all = vec![Self::sqlite()];
        all.extend(Schema::create().await.map(Self::Postgres));
        all
    }

    /// [`all`](Self::all), each backend with what `open` makes of its [`path`](Self::path) and
    /// [`url`](Self::url) (e.g. the store under test opened there).
    pub async fn all_opened<T>(open: impl AsyncFn(&Path, Option<&str>) -> T) -> Vec<(Self, T)> {
        let mut out = Vec::new();
        for test in Self::all().await {
            let opened = open(test.path(), test.url()).await;
            out.push((test, opened));
        }
        out
    }

    /// "sqlite" or "postgres", for assertion messages.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite { .. } => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// The SQLite file to pass as `--db` (for PostgreSQL a path that is never created: the URL
    /// takes its place).
    pub fn path(&self) -> &Path {
        match self {
            Self::Sqlite { path, .. } => path,
            Self::Postgres(_) => Path::new("unused-with-a-database-url.db"),
        }
    }

    /// The URL to pass as `--database-url` (`None` for SQLite).
    pub fn url(&self) -> Option<&str> {
        match self {
            Self::Sqlite { .. } => None,
            Self::Postgres(schema) => Some(&schema.url),
        }
    }

    /// The command-line flags that select this store (`--db PATH` or `--database-url URL`).
    pub fn args(&self) -> Vec<String> {
        match self {
            Self::Sqlite { path, .. } => vec!["--db".into(), path.display().to_string()],
            Self::Postgres(schema) => vec!["--database-url".into(), schema.url.clone()],
        }
    }
}

/// A schema of its own on the test server, dropped (with everything in it) on drop.
#[derive(Debug)]
pub struct Schema {
    base: String,
    name: String,
    url: String,
}

impl Schema {
    /// A new schema on the server at [`DATABASE_URL_VAR`]; `None` (and a loud line on stderr)
    /// when the variable is not set. Panics when it is set but the server cannot be used: a
    /// configured server that fails is a failure, not a skip.
    pub async fn create() -> Option<Self> {
        let Ok(base) = std::env::var(DATABASE_URL_VAR) else {
            eprintln!("SKIPPED: the PostgreSQL half of this test ({DATABASE_URL_VAR} is not set)");
            return None;
        };
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "acorn_test_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = PgConnection::connect(&base)
            .await
            .unwrap_or_else(|e| panic!("{DATABASE_URL_VAR} is set but unusable: {e}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut conn)
            .await
            .expect("create schema");
        let _ = conn.close().await;
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options[search_path]={name}");
        Some(Self { base, name, url })
    }

    /// The URL whose connections keep their tables in this schema.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        // Drop runs inside the test's runtime: do the async cleanup on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(mut conn) = PgConnection::connect(&base).await {
                    let drop = format!("DROP SCHEMA IF EXISTS {name} CASCADE");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}
