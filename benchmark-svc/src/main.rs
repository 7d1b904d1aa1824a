//! `benchmark-svc`: the benchmark gRPC server and the CMS backtest (load over gRPC: `simulator load`).

use std::path::PathBuf;

use acorn_proto::{
    benchmark::v1::benchmark_service_server::BenchmarkServiceServer,
    cms::puf::PufFile,
    ledger::Ledger,
    serve::{self, ServeArgs},
    store::Location,
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
        /// PostgreSQL instead of the SQLite file: `postgres://user@host:port/database` (add
        /// `?options[search_path]=SCHEMA` for a schema of its own). Several servers may share one.
        #[arg(long, env = "ACORN_BENCHMARK_DATABASE_URL")]
        database_url: Option<String>,
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
        Command::Serve {
            db,
            database_url,
            serve,
        } => {
            serve::init_tracing(serve.log_format);
            let location = Location::new(&db, database_url.as_deref())?;
            let store = Ledger::open(&location)
                .await
                .with_context(|| format!("opening the ledger {location}"))?;
            let service = BenchmarkServiceServer::new(BenchmarkApi::new(store))
                .max_decoding_message_size(serve.max_request_bytes);
            tracing::info!(db = %location, "ledger open");
            let name = <BenchmarkServiceServer<BenchmarkApi<Ledger>> as NamedService>::NAME;
            serve::run("benchmark-svc", Routes::new(service), &[name], &serve).await?;
            // After a clean shutdown a SQLite database file alone holds every record.
            location.after_shutdown().await;
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
