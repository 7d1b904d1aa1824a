//! The built `attribution-svc` binary against its durable store: two processes on one PostgreSQL
//! database hammered with concurrent retries of the same CreateAssignmentRun request_ids (one run
//! per id, every response identical), and `kill -9` while runs are being created, then a restart
//! (SQLite and PostgreSQL): every acknowledged run is there, none twice
//! ([`acorn_testkit::durability`]).
//!
//! The PostgreSQL halves need `ACORN_TEST_DATABASE_URL` (`.ci/run` sets it) and say so on stderr
//! when it is not set.

mod common;

use acorn_proto::attribution::v1::{
    self as pb, attribution_service_client::AttributionServiceClient,
};
use acorn_testkit::durability::{PAGE_SIZE, Stored, Writes};
use prost::Message as _;
use tonic::{Status, transport::Channel};

const BIN: &str = env!("CARGO_BIN_EXE_attribution-svc");

/// A run of two ACOs; `n` picks the performance year's quarter-free retrospective window and
/// makes each request's content its own (the first ACO's TIN).
fn create(request_id: &str, n: u32) -> pb::CreateAssignmentRunRequest {
    let aco = |aco_id: &str, tin: String, npi: &str| pb::AcoParticipants {
        aco_id: aco_id.into(),
        tins: vec![tin],
        ccns: vec![],
        npis: vec![npi.into()],
    };
    let acos = vec![
        aco("A", format!("{:09}", 100_000_000 + n), "1000000001"),
        aco("B", "200000001".into(), "2000000001"),
    ];
    common::create_run(request_id, 2024, acos)
}

/// CreateAssignmentRun and ListAssignmentRuns.
struct Runs(AttributionServiceClient<Channel>);

impl Writes for Runs {
    fn connect(channel: Channel) -> Self {
        Self(AttributionServiceClient::new(channel))
    }

    async fn write(&mut self, request_id: &str, n: u32) -> Result<Vec<u8>, Status> {
        let run = self.0.create_assignment_run(create(request_id, n)).await?;
        Ok(run.into_inner().run.expect("a run").encode_to_vec())
    }

    async fn page(&mut self, page_token: String) -> (Vec<Stored>, String) {
        let page_size = PAGE_SIZE.into();
        let request = pb::ListAssignmentRunsRequest {
            page_size,
            page_token,
            ..Default::default()
        };
        let page = self
            .0
            .list_assignment_runs(request)
            .await
            .expect("list")
            .into_inner();
        // A run does not show the request_id it was created under.
        let stored = page.runs.into_iter().map(|r| Stored {
            request_id: None,
            encoded: r.encode_to_vec(),
            id: r.id,
        });
        (stored.collect(), page.next_page_token)
    }
}

acorn_testkit::durability_tests!(BIN, Runs, 30);
