//! `settlement-svc`: the settlement gRPC server and the CMS backtest (load over gRPC: `simulator load`).

use std::{path::PathBuf, sync::Arc};

use acorn_proto::{
    cli::{BacktestArgs, ServeCommand, StoreFlags as _},
    ledger::Ledger,
    security::ClientArgs,
    serve::{ServeArgs, named_routes},
    settlement::v1::settlement_service_server::SettlementServiceServer,
};
use anyhow::Context;
use clap::Parser;
use settlement_svc::{
    backtest::{self, Report},
    benchmarks::{BenchmarkSource, GrpcBenchmarks},
    server::SettlementApi,
};

/// MSSP shared savings and losses over gRPC
// Parsed once at startup: the size of `Serve` (its flags) costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Parser)]
#[command(version)]
enum Command {
    /// Serve acorn.settlement.v1.SettlementService (default 127.0.0.1:50051).
    #[command(store_flags(
        "ACORN_SETTLEMENT_DB",
        "acorn-settlement.db",
        "ACORN_SETTLEMENT_DATABASE_URL"
    ))]
    Serve {
        #[command(flatten)]
        cmd: ServeCommand,
        /// benchmark-svc address, for reconciliations that give their benchmark by reference
        /// (connected on first use).
        #[arg(long, env = "ACORN_BENCHMARK_SVC")]
        benchmark_svc: Option<String>,
        /// File whose first line is the bearer token sent to benchmark-svc.
        #[arg(long, env = "ACORN_BENCHMARK_TOKEN_FILE")]
        benchmark_token_file: Option<PathBuf>,
        /// CA certificates (PEM) that sign benchmark-svc's TLS certificate (an https:// address);
        /// with --tls-cert/--tls-key, this server's certificate is its client certificate.
        #[arg(long, env = "ACORN_BENCHMARK_CA")]
        benchmark_ca: Option<PathBuf>,
    },
    /// Write a consistent copy of a live or stopped database (SQLite `VACUUM INTO`): safe while
    /// the server runs. Restore by stopping the server and putting the copy in place of the file.
    Backup(acorn_proto::store::BackupArgs),
    /// Reconcile every ACO of a CMS ACO Public Use File and compare with the published EarnSaveLoss.
    Backtest(BacktestArgs),
}

/// The benchmark source of reconciliations that give their benchmark by reference: benchmark-svc
/// at `--benchmark-svc` (TLS under `--benchmark-ca`, with this server's certificate as its client
/// identity under mutual TLS; the bearer token of `--benchmark-token-file`), or none.
fn benchmark_source(
    benchmark_svc: Option<String>,
    benchmark_token_file: Option<PathBuf>,
    benchmark_ca: Option<PathBuf>,
    serve: &ServeArgs,
) -> anyhow::Result<Option<Arc<dyn BenchmarkSource>>> {
    let Some(url) = benchmark_svc else {
        return Ok(None);
    };
    // Under mutual TLS this server's own certificate is its client identity.
    let identity = |file: &Option<PathBuf>| benchmark_ca.as_ref().and(file.clone());
    let client = ClientArgs {
        tls_cert: identity(&serve.security.tls_cert),
        tls_key: identity(&serve.security.tls_key),
        tls_ca: benchmark_ca,
        auth_token_file: benchmark_token_file,
        ..ClientArgs::default()
    };
    let source = GrpcBenchmarks::connect_lazy(&url, &client).with_context(|| {
        "benchmark-svc client (its --tls-ca is --benchmark-ca, its --auth-token-file --benchmark-token-file)"
    })?;
    Ok(Some(Arc::new(source)))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Command::parse() {
        Command::Serve {
            cmd,
            benchmark_svc,
            benchmark_token_file,
            benchmark_ca,
        } => {
            let routes = |store| {
                let benchmarks = benchmark_source(
                    benchmark_svc,
                    benchmark_token_file,
                    benchmark_ca,
                    &cmd.serve,
                )?;
                let service = SettlementServiceServer::new(SettlementApi::new(store, benchmarks))
                    .max_decoding_message_size(cmd.serve.max_request_bytes);
                Ok(named_routes(service))
            };
            cmd.run("settlement-svc", "ledger", Ledger::open, routes)
                .await
        }
        Command::Backtest(args) => args.run(backtest::run, Report::to_table, Report::to_json),
        Command::Backup(args) => args.run().await,
    }
}
