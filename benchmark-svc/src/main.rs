//! `benchmark-svc`: the benchmark gRPC server and the CMS backtest (load over gRPC: `simulator load`).

use std::path::PathBuf;

use acorn_proto::{
    benchmark::v1::benchmark_service_server::BenchmarkServiceServer,
    cms::puf::PufFile,
    ledger::SqliteLedger,
    serve::{self, ServeArgs},
};
use anyhow::Context;
use benchmark_svc::{backtest, server::BenchmarkApi};
use clap::{Parser, Subcommand, ValueEnum};
use tonic::{server::NamedService, service::Routes};

#[derive(Debug, Parser)]
#[command(
    name = "benchmark-svc",
    version,
    about = "MSSP historical and updated ACO benchmarks over gRPC"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve acorn.benchmark.v1.BenchmarkService (default 127.0.0.1:50052).
    Serve {
        /// SQLite ledger file (created if missing).
        #[arg(long, env = "ACORN_BENCHMARK_DB", default_value = "acorn-benchmark.db")]
        db: PathBuf,
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Write a consistent copy of a live or stopped database (SQLite `VACUUM INTO`): safe while
    /// the server runs. Restore by stopping the server and putting the copy in place of the file.
    Backup(acorn_proto::store::BackupArgs),
    /// Rebuild every ACO's historical benchmark from a CMS ACO Public Use File and compare it with
    /// the published HistBnchmk (national trend factors inferred by least squares).
    Backtest {
        /// The PUF (CSV, any year's layout).
        #[arg(long)]
        puf: PathBuf,
        /// Performance year, when neither a column nor the file name says it.
        #[arg(long)]
        performance_year: Option<i32>,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

/// Writes `text` to standard output; a closed pipe (`backtest ... | head`) ends the output quietly
/// instead of panicking the way `print!` does.
fn write_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing the report"),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve { db, serve } => {
            serve::init_tracing(serve.log_format);
            let store = SqliteLedger::open(&db)
                .await
                .with_context(|| format!("opening the ledger {}", db.display()))?;
            let service = BenchmarkServiceServer::new(BenchmarkApi::new(store))
                .max_decoding_message_size(serve.max_request_bytes);
            tracing::info!(db = %db.display(), "ledger open");
            let name = <BenchmarkServiceServer<BenchmarkApi<SqliteLedger>> as NamedService>::NAME;
            serve::run("benchmark-svc", Routes::new(service), &[name], &serve).await?;
            // After a clean shutdown the database file alone holds every record.
            acorn_proto::store::checkpoint_after_shutdown(&db).await;
            Ok(())
        }
        Command::Backtest {
            puf,
            performance_year,
            format,
        } => {
            let mut file =
                PufFile::from_path(&puf).with_context(|| format!("reading {}", puf.display()))?;
            if let Some(py) = performance_year {
                file = file.with_performance_year(py);
            }
            let report = backtest::run(&file)?;
            let text = match format {
                Format::Table => report.to_table(),
                Format::Json => format!("{}\n", report.to_json()),
            };
            write_stdout(&text)
        }
        Command::Backup(args) => args.run().await,
    }
}
