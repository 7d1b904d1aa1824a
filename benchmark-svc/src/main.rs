//! `benchmark-svc`: the benchmark gRPC server and the CMS backtest (load over gRPC: `simulator load`).

use std::path::PathBuf;

use acorn_proto::{
    benchmark::v1::benchmark_service_server::BenchmarkServiceServer,
    cli::BacktestArgs,
    ledger::Ledger,
    serve::{self, ServeArgs},
};
use benchmark_svc::{backtest, server::BenchmarkApi};
use clap::Parser;
use tonic::{server::NamedService, service::Routes};

// Parsed once at startup: the size of `Serve` (its flags) costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Parser)]
#[command(
    name = "benchmark-svc",
    version,
    about = "MSSP historical and updated ACO benchmarks over gRPC"
)]
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
    Backtest(BacktestArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Command::parse() {
        Command::Serve {
            db,
            database_url,
            serve,
        } => {
            let routes = |store| {
                let service = BenchmarkServiceServer::new(BenchmarkApi::new(store))
                    .max_decoding_message_size(serve.max_request_bytes);
                let name = <BenchmarkServiceServer<BenchmarkApi<Ledger>> as NamedService>::NAME;
                Ok((Routes::new(service), name))
            };
            let (db, url) = (&db, database_url.as_deref());
            serve::run_on_store(
                "benchmark-svc",
                "ledger",
                db,
                url,
                &serve,
                Ledger::open,
                routes,
            )
            .await
        }
        Command::Backtest(args) => args.run(
            |file| Ok(backtest::run(file)?),
            backtest::Report::to_table,
            backtest::Report::to_json,
        ),
        Command::Backup(args) => args.run().await,
    }
}
