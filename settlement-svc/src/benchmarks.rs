//! Where a benchmark given by reference comes from (Quickwit's local/remote service pattern): a
//! [`BenchmarkSource`] read by the settlement server, served remotely by benchmark-svc over its
//! contract ([`GrpcBenchmarks`]) or in process from benchmarks held in memory ([`InMemoryBenchmarks`],
//! for tests and the simulator). The checks that a benchmark fits the reconciliation (this ACO's,
//! updated to this performance year) are the server's, the same whichever the source.

use std::{
    collections::HashMap,
    sync::{PoisonError, RwLock},
    time::Duration,
};

use acorn_proto::{
    benchmark::v1::{GetBenchmarkRequest, benchmark_service_client::BenchmarkServiceClient},
    security::{Bearer, ClientArgs},
};
use rust_decimal::Decimal;
use tonic::{Code, Request, Status, transport::Channel};

/// A recorded benchmark, reduced to what a settlement reads of it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordedBenchmark {
    /// The ACO whose benchmark it is.
    pub aco_id: String,
    /// The performance year it is updated to; `None` for a historical benchmark (not updated).
    pub performance_year: Option<i32>,
    /// The updated benchmark total, if it has one.
    pub updated_total: Option<Decimal>,
    /// The two-way blend updated total (agreements starting 2024 or later), if it has one.
    pub two_way_blend_updated_total: Option<Decimal>,
}

/// Why a benchmark could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// No benchmark has that id.
    #[error("no such benchmark")]
    NotFound,
    /// The source refused the id as malformed (its message says why).
    #[error("{0}")]
    InvalidArgument(String),
    /// The source did not answer in the time given.
    #[error("no answer within the deadline")]
    DeadlineExceeded,
    /// The source could not be reached or failed (its message says how).
    #[error("{0}")]
    Unavailable(String),
}

/// Reads recorded benchmarks by id.
#[tonic::async_trait]
pub trait BenchmarkSource: std::fmt::Debug + Send + Sync + 'static {
    /// The benchmark `id`, read within `timeout`.
    async fn benchmark(
        &self,
        id: &str,
        timeout: Duration,
    ) -> Result<RecordedBenchmark, SourceError>;
}

/// Benchmarks read from benchmark-svc (`GetBenchmark`), each read given its `timeout` as its
/// `grpc-timeout` and, when benchmark-svc wants one, a bearer token.
#[derive(Debug, Clone)]
pub struct GrpcBenchmarks {
    client: BenchmarkServiceClient<Channel>,
    bearer: Bearer,
}

impl GrpcBenchmarks {
    /// Reads through `client`, without a bearer token.
    pub fn new(client: BenchmarkServiceClient<Channel>) -> Self {
        Self {
            client,
            bearer: Bearer::default(),
        }
    }

    /// benchmark-svc at `url`, connected on first use, under the TLS and the bearer token of
    /// `client` (the load generator's client flags: [`ClientArgs::endpoint`] and
    /// [`ClientArgs::bearer`]). Reads the certificate and token files now, so that a missing one
    /// stops the server at startup.
    pub fn connect_lazy(url: &str, client: &ClientArgs) -> anyhow::Result<Self> {
        let endpoint = client.endpoint(url)?;
        Ok(Self {
            client: BenchmarkServiceClient::new(endpoint.connect_lazy()),
            bearer: client.bearer()?,
        })
    }
}

#[tonic::async_trait]
impl BenchmarkSource for GrpcBenchmarks {
    async fn benchmark(
        &self,
        id: &str,
        timeout: Duration,
    ) -> Result<RecordedBenchmark, SourceError> {
        let mut request = Request::new(GetBenchmarkRequest { id: id.to_string() });
        request.set_timeout(timeout);
        // benchmark-svc's span joins this call's trace (with OTLP export on).
        acorn_proto::telemetry::inject(request.metadata_mut());
        let response = self
            .client
            .clone()
            .get_benchmark(self.bearer.apply(request))
            .await
            .map_err(|e| source_error(&e))?;
        let benchmark = response.into_inner().benchmark.unwrap_or_default();
        let result = benchmark.result.unwrap_or_default();
        let amount = |text: &str| acorn_domain::parse_decimal(text).ok();
        Ok(RecordedBenchmark {
            aco_id: benchmark.input.map(|i| i.aco_id).unwrap_or_default(),
            performance_year: (result.performance_year != 0).then_some(result.performance_year),
            updated_total: amount(&result.updated_total),
            two_way_blend_updated_total: amount(&result.two_way_blend_updated_total),
        })
    }
}

/// What benchmark-svc's answer to a read means for the caller.
fn source_error(e: &Status) -> SourceError {
    match e.code() {
        Code::NotFound => SourceError::NotFound,
        Code::InvalidArgument => SourceError::InvalidArgument(e.message().to_string()),
        Code::DeadlineExceeded => SourceError::DeadlineExceeded,
        // tonic's client gives up at the deadline with CANCELLED "Timeout expired".
        Code::Cancelled if e.message() == tonic::TimeoutExpired(()).to_string() => {
            SourceError::DeadlineExceeded
        }
        _ => SourceError::Unavailable(e.message().to_string()),
    }
}

/// Benchmarks held in memory, read in process.
#[derive(Debug, Default)]
pub struct InMemoryBenchmarks(RwLock<HashMap<String, RecordedBenchmark>>);

impl InMemoryBenchmarks {
    /// Records `benchmark` as `id` (replacing any recorded under that id).
    pub fn insert(&self, id: impl Into<String>, benchmark: RecordedBenchmark) {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.into(), benchmark);
    }
}

impl FromIterator<(String, RecordedBenchmark)> for InMemoryBenchmarks {
    fn from_iter<I: IntoIterator<Item = (String, RecordedBenchmark)>>(iter: I) -> Self {
        Self(RwLock::new(iter.into_iter().collect()))
    }
}

#[tonic::async_trait]
impl BenchmarkSource for InMemoryBenchmarks {
    async fn benchmark(&self, id: &str, _: Duration) -> Result<RecordedBenchmark, SourceError> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
            .ok_or(SourceError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each answer benchmark-svc can give a read maps to what the settlement caller is told.
    #[test]
    fn benchmark_svc_statuses_map_to_source_errors() {
        let timeout = tonic::TimeoutExpired(()).to_string();
        for (status, expected) in [
            (
                Status::not_found("no such benchmark"),
                SourceError::NotFound,
            ),
            (
                Status::invalid_argument("id: too long"),
                SourceError::InvalidArgument("id: too long".into()),
            ),
            (
                Status::deadline_exceeded("late"),
                SourceError::DeadlineExceeded,
            ),
            (Status::cancelled(timeout), SourceError::DeadlineExceeded),
            (
                Status::cancelled("client went away"),
                SourceError::Unavailable("client went away".into()),
            ),
            (
                Status::unavailable("connection refused"),
                SourceError::Unavailable("connection refused".into()),
            ),
            (
                Status::internal("disk"),
                SourceError::Unavailable("disk".into()),
            ),
        ] {
            assert_eq!(source_error(&status), expected, "{status:?}");
        }
    }

    #[tokio::test]
    async fn in_memory_benchmarks_are_read_by_id() {
        let recorded = RecordedBenchmark {
            aco_id: "A1".into(),
            performance_year: Some(2018),
            updated_total: Some(Decimal::from(100)),
            two_way_blend_updated_total: None,
        };
        let source: InMemoryBenchmarks =
            [("b1".to_string(), recorded.clone())].into_iter().collect();
        let read = |id: &'static str| source.benchmark(id, Duration::ZERO);
        assert_eq!(read("b1").await, Ok(recorded.clone()));
        assert_eq!(read("b2").await, Err(SourceError::NotFound));
        source.insert("b2", RecordedBenchmark::default());
        assert_eq!(read("b2").await, Ok(RecordedBenchmark::default()));
    }
}
