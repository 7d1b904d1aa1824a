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

// Parsed once at startup: the size of `Serve` (its flags) costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
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
            acorn_proto::cli::write_stdout(&text)
        }
        Command::Backup(args) => args.run().await,
    }
}
