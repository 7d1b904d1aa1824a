//! `benchmark-svc`: the benchmark gRPC server and the CMS backtest (load over gRPC: `simulator load`).

use acorn_proto::{
    benchmark::v1::benchmark_service_server::BenchmarkServiceServer,
    cli::{BacktestArgs, ServeCommand, StoreFlags as _},
    ledger::Ledger,
    serve::named_routes,
};
use benchmark_svc::{
    backtest::{self, Report},
    server::BenchmarkApi,
};
use clap::Parser;

/// MSSP historical and updated ACO benchmarks over gRPC
// Parsed once at startup: the size of `Serve` (its flags) costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Parser)]
#[command(version)]
enum Command {
    /// Serve acorn.benchmark.v1.BenchmarkService (default 127.0.0.1:50052).
    #[command(store_flags(
        "ACORN_BENCHMARK_DB",
        "acorn-benchmark.db",
        "ACORN_BENCHMARK_DATABASE_URL"
    ))]
    Serve(ServeCommand),
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
        Command::Serve(cmd) => {
            let routes = |store| {
                let service = BenchmarkServiceServer::new(BenchmarkApi::new(store))
                    .max_decoding_message_size(cmd.serve.max_request_bytes);
                Ok(named_routes(service))
            };
            cmd.run("benchmark-svc", "ledger", Ledger::open, routes)
                .await
        }
        Command::Backtest(args) => args.run(backtest::run, Report::to_table, Report::to_json),
        Command::Backup(args) => args.run().await,
    }
}
