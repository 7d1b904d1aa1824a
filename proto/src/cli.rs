//! Conventions of the binaries' commands: `serve` on a durable store, and the offline ones
//! (backtests, file assignment).
//!
//! A report written to standard output may be piped into `head`, which closes the pipe early.
//! `print!` panics then ("failed printing to stdout: Broken pipe"); these helpers end the output
//! quietly instead, the way `cat | head` does, and leave every other write error an error.

use std::{
    fmt::Display,
    io::{self, Write},
    path::PathBuf,
};

use anyhow::Context as _;

use tonic::service::Routes;

use crate::{cms::puf::PufFile, serve::ServeArgs, store::Location};

/// The flags of a service's `backtest` command: which CMS ACO Public Use File, and how to print
/// the report.
#[derive(Debug, clap::Args)]
pub struct BacktestArgs {
    /// The PUF (CSV, any year's layout).
    #[arg(long)]
    pub puf: PathBuf,
    /// Performance year, when neither a column nor the file name says it.
    #[arg(long)]
    pub performance_year: Option<i32>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

/// How a backtest report is printed.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// The report's table.
    Table,
    /// One JSON document.
    Json,
}

impl BacktestArgs {
    /// Reads the PUF, runs `backtest` on it and writes its report to standard output as
    /// `table(&report)` or `json(&report)` (followed by a newline).
    pub fn run<R, E, J: Display>(
        &self,
        backtest: impl FnOnce(&PufFile) -> Result<R, E>,
        table: impl FnOnce(&R) -> String,
        json: impl FnOnce(&R) -> J,
    ) -> anyhow::Result<()>
    where
        anyhow::Error: From<E>,
    {
        let puf = &self.puf;
        let mut file =
            PufFile::from_path(puf).with_context(|| format!("reading {}", puf.display()))?;
        if let Some(py) = self.performance_year {
            file = file.with_performance_year(py);
        }
        let report = backtest(&file)?;
        let text = match self.format {
            Format::Table => table(&report),
            Format::Json => format!("{}\n", json(&report)),
        };
        write_stdout(&text)
    }
}

/// The flags of a service's `serve` command: its durable store (an SQLite file, or PostgreSQL in
/// its place) and the serving flags. Each binary names the environment variables and the default
/// file of its store with [`StoreFlags::store_flags`] on the subcommand.
#[derive(Debug, clap::Args)]
pub struct ServeCommand {
    /// SQLite database file (created if missing).
    #[arg(long)]
    pub db: PathBuf,
    /// PostgreSQL instead of the SQLite file: `postgres://user@host:port/database` (add
    /// `?options[search_path]=SCHEMA` for a schema of its own). Several servers may share one.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Listen address, logs, limits, TLS and tokens.
    #[command(flatten)]
    pub serve: ServeArgs,
}

impl ServeCommand {
    /// Serves as the binary `bin` on its store (`what`, e.g. "ledger") opened with `open`, with the
    /// routes `service` makes of it: [`crate::serve::run_on_store`].
    pub async fn run<S, E: std::error::Error + Send + Sync + 'static>(
        &self,
        bin: &str,
        what: &str,
        open: impl AsyncFnOnce(Location) -> Result<S, E>,
        service: impl FnOnce(S) -> anyhow::Result<(Routes, &'static str)>,
    ) -> anyhow::Result<()> {
        let url = self.database_url.as_deref();
        crate::serve::run_on_store(bin, what, &self.db, url, &self.serve, open, service).await
    }
}

/// The per-binary part of [`ServeCommand`]'s flags, set on the `serve` subcommand as
/// `#[command(store_flags("ACORN_X_DB", "acorn-x.db", "ACORN_X_DATABASE_URL"))]`.
pub trait StoreFlags {
    /// `--db` read from the environment variable `db_env`, by default `db_file`, and
    /// `--database-url` from `url_env`.
    #[must_use]
    fn store_flags(
        self,
        db_env: &'static str,
        db_file: &'static str,
        url_env: &'static str,
    ) -> Self;
}

impl StoreFlags for clap::Command {
    fn store_flags(
        self,
        db_env: &'static str,
        db_file: &'static str,
        url_env: &'static str,
    ) -> Self {
        self.mut_arg("db", |a| {
            a.env(db_env).default_value(db_file).required(false)
        })
        .mut_arg("database_url", |a| a.env(url_env))
    }
}

/// Writes `text` to standard output and flushes it; a closed pipe ends the output quietly (`Ok`).
pub fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    quiet_on_broken_pipe(
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .context("writing to standard output"),
    )
}

/// `println!` that returns a `Result` like `writeln!` and, through [`write_stdout`], ends quietly on
/// a closed pipe: `acorn_proto::outln!("{n} rows")?;`.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::write_stdout(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// `Ok(())` when `result` failed only because the reader of standard output went away (an
/// [`io::ErrorKind::BrokenPipe`] anywhere in the error's chain), otherwise `result` unchanged.
pub fn quiet_on_broken_pipe(result: anyhow::Result<()>) -> anyhow::Result<()> {
    match result {
        Err(e) if is_broken_pipe(&e) => Ok(()),
        other => other,
    }
}

/// Whether an [`io::ErrorKind::BrokenPipe`] is anywhere in `e`'s chain.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, clap::Parser)]
    enum Binary {
        #[command(store_flags("ACORN_X_DB", "acorn-x.db", "ACORN_X_DATABASE_URL"))]
        Serve(ServeCommand),
    }

    /// `--db` defaults to the binary's file and is optional; both store flags name the binary's
    /// environment variables.
    #[test]
    fn store_flags_set_the_binarys_default_file_and_environment() {
        use clap::{CommandFactory as _, Parser as _};
        let Binary::Serve(cmd) = Binary::try_parse_from(["x", "serve"]).expect("no --db");
        assert_eq!(cmd.db, PathBuf::from("acorn-x.db"));
        assert_eq!(cmd.database_url, None);
        let Binary::Serve(cmd) = Binary::try_parse_from([
            "x",
            "serve",
            "--db",
            "a.db",
            "--database-url",
            "postgres://h/d",
        ])
        .expect("flags");
        assert_eq!(cmd.db, PathBuf::from("a.db"));
        assert_eq!(cmd.database_url.as_deref(), Some("postgres://h/d"));
        let mut command = Binary::command();
        let help = command
            .find_subcommand_mut("serve")
            .expect("serve")
            .render_long_help()
            .to_string();
        assert!(help.contains("[env: ACORN_X_DB=]"), "{help}");
        assert!(help.contains("[default: acorn-x.db]"), "{help}");
        assert!(help.contains("[env: ACORN_X_DATABASE_URL=]"), "{help}");
    }

    #[test]
    fn only_a_broken_pipe_is_quiet() {
        let pipe = || io::Error::new(io::ErrorKind::BrokenPipe, "closed");
        let wrapped = Err(anyhow::Error::new(pipe()).context("writing the list"));
        assert!(quiet_on_broken_pipe(wrapped).is_ok());
        assert!(quiet_on_broken_pipe(Err(pipe().into())).is_ok());
        let full = Err(anyhow::Error::new(io::Error::new(
            io::ErrorKind::StorageFull,
            "disk full",
        )));
        assert!(quiet_on_broken_pipe(full).is_err());
        assert!(quiet_on_broken_pipe(Err(anyhow::anyhow!("bad row"))).is_err());
        assert!(quiet_on_broken_pipe(Ok(())).is_ok());
    }
}
