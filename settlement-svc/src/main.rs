//! `settlement-svc`: the settlement gRPC server, the CMS backtest and a load generator.

use std::{path::PathBuf, sync::Arc};

use acorn_proto::benchmark::v1::benchmark_service_client::BenchmarkServiceClient;
use acorn_proto::{
    cms::puf::PufFile,
    serve::{self, ServeArgs},
    settlement::v1::settlement_service_server::SettlementServiceServer,
};
use acorn_proto::{ledger::Ledger, store::Location};
use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use settlement_svc::{
    backtest,
    benchmarks::{BenchmarkSource, GrpcBenchmarks},
    loadgen,
    server::SettlementApi,
};
use tonic::{server::NamedService, service::Routes, transport::Endpoint};

#[derive(Debug, Parser)]
#[command(
    name = "settlement-svc",
    version,
    about = "MSSP shared savings and losses over gRPC"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve acorn.settlement.v1.SettlementService (default 127.0.0.1:50051).
    Serve {
        /// SQLite ledger file (created if missing).
        #[arg(
            long,
            env = "ACORN_SETTLEMENT_DB",
            default_value = "acorn-settlement.db"
        )]
        db: PathBuf,
        /// PostgreSQL instead of the SQLite file: `postgres://user@host:port/database` (add
        /// `?options[search_path]=SCHEMA` for a schema of its own). Several servers may share one.
        #[arg(long, env = "ACORN_SETTLEMENT_DATABASE_URL")]
        database_url: Option<String>,
        /// benchmark-svc address, for reconciliations that give their benchmark by reference
        /// (connected on first use).
        #[arg(long, env = "ACORN_BENCHMARK_SVC")]
        benchmark_svc: Option<String>,
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Write a consistent copy of a live or stopped database (SQLite `VACUUM INTO`): safe while
    /// the server runs. Restore by stopping the server and putting the copy in place of the file.
    Backup(acorn_proto::store::BackupArgs),
    /// Reconcile every ACO of a CMS ACO Public Use File and compare with the published EarnSaveLoss.
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
    /// Drive a running server with Reconcile calls and report round trips per second.
    Loadgen(acorn_proto::load::Args),
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
            benchmark_svc,
            serve,
        } => {
            serve::init_tracing(serve.log_format);
            let location = Location::new(&db, database_url.as_deref())?;
            let store = Ledger::open(&location)
                .await
                .with_context(|| format!("opening the ledger {location}"))?;
            let benchmarks: Option<Arc<dyn BenchmarkSource>> = match benchmark_svc {
                Some(url) => Some(Arc::new(GrpcBenchmarks::new(BenchmarkServiceClient::new(
                    Endpoint::from_shared(url.clone())
                        .with_context(|| format!("--benchmark-svc {url}"))?
                        .tcp_nodelay(true)
                        .connect_lazy(),
                )))),
                None => None,
            };
            let service = SettlementServiceServer::new(SettlementApi::new(store, benchmarks))
                .max_decoding_message_size(serve.max_request_bytes);
            tracing::info!(db = %location, "ledger open");
            let name = <SettlementServiceServer<SettlementApi<Ledger>> as NamedService>::NAME;
            serve::run("settlement-svc", Routes::new(service), &[name], &serve).await?;
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
            match format {
                Format::Table => print!("{}", report.to_table()),
                Format::Json => println!("{}", report.to_json()),
            }
            Ok(())
        }
        Command::Backup(args) => args.run().await,
        Command::Loadgen(args) => loadgen::run(args).await,
    }
}
