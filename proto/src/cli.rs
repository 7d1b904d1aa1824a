//! Conventions of the binaries' offline commands (backtests, file assignment).
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

use crate::cms::puf::PufFile;

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
    pub fn run<R, J: Display>(
        &self,
        backtest: impl FnOnce(&PufFile) -> anyhow::Result<R>,
        table: impl FnOnce(&R) -> String,
        json: impl FnOnce(&R) -> J,
    ) -> anyhow::Result<()> {
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
