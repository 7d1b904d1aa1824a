//! `settlement-svc`: the settlement gRPC server and the CMS backtest (load over gRPC: `simulator load`).

use std::{path::PathBuf, sync::Arc};

use acorn_proto::ledger::Ledger;
use acorn_proto::{
    cli::BacktestArgs,
    security::ClientArgs,
    serve::{self, ServeArgs},
    settlement::v1::settlement_service_server::SettlementServiceServer,
};
use anyhow::Context;
use clap::Parser;
use settlement_svc::{
    backtest,
    benchmarks::{BenchmarkSource, GrpcBenchmarks},
    server::SettlementApi,
};
use tonic::{server::NamedService, service::Routes};

// Parsed once at startup: the size of `Serve` (its flags) costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Parser)]
#[command(
    name = "settlement-svc",
    version,
    about = "MSSP shared savings and losses over gRPC"
)]
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
        /// File whose first line is the bearer token sent to benchmark-svc.
        #[arg(long, env = "ACORN_BENCHMARK_TOKEN_FILE")]
        benchmark_token_file: Option<PathBuf>,
        /// CA certificates (PEM) that sign benchmark-svc's TLS certificate (an https:// address);
        /// with --tls-cert/--tls-key, this server's certificate is its client certificate.
        #[arg(long, env = "ACORN_BENCHMARK_CA")]
        benchmark_ca: Option<PathBuf>,
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Write a consistent copy of a live or stopped database (SQLite `VACUUM INTO`): safe while
    /// the server runs. Restore by stopping the server and putting the copy in place of the file.
    Backup(acorn_proto::store::BackupArgs),
    /// Reconcile every ACO of a CMS ACO Public Use File and compare with the published EarnSaveLoss.
    Backtest(BacktestArgs),
}

/// The benchmark source of reconciliations that give their benchmark by reference: benchmark-svc
/// at `--benchmark-svc` (an https:// address: TLS under `--benchmark-ca`, with this server's
/// certificate as its client identity under mutual TLS; the bearer token of
/// `--benchmark-token-file`), or none. The client is the one every acorn client builds
/// ([`ClientArgs`], as `simulator load` and `simulator --via grpc` do).
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
    let identity = benchmark_ca.is_some();
    let client = ClientArgs {
        tls_ca: benchmark_ca,
        tls_cert: serve.security.tls_cert.clone().filter(|_| identity),
        tls_key: serve.security.tls_key.clone().filter(|_| identity),
        tls_domain: None,
        auth_token_file: benchmark_token_file,
        auth_token: None,
    };
    let context = "--benchmark-svc, --benchmark-ca, --benchmark-token-file";
    let endpoint = client.endpoint(&url).context(context)?;
    let bearer = client.bearer().context(context)?;
    Ok(Some(Arc::new(GrpcBenchmarks::new(
        endpoint.connect_lazy(),
        bearer,
    ))))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Command::parse() {
        Command::Serve {
            db,
            database_url,
            benchmark_svc,
            benchmark_token_file,
            benchmark_ca,
            serve,
        } => {
            let routes = |store| {
                let benchmarks =
                    benchmark_source(benchmark_svc, benchmark_token_file, benchmark_ca, &serve)?;
                let service = SettlementServiceServer::new(SettlementApi::new(store, benchmarks))
                    .max_decoding_message_size(serve.max_request_bytes);
                let name = <SettlementServiceServer<SettlementApi<Ledger>> as NamedService>::NAME;
                Ok((Routes::new(service), name))
            };
            let (db, url) = (&db, database_url.as_deref());
            serve::run_on_store(
                "settlement-svc",
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
