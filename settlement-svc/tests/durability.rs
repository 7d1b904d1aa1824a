//! The built `settlement-svc` binary against its durable store, as production runs it
//! ([`acorn_testkit::durability`]):
//!
//! - two processes on one PostgreSQL database hammered with concurrent retries of the same
//!   request_ids: exactly one ledger row per id, and every response to an id identical;
//! - `kill -9` while writes are in flight, then a restart on the same store (SQLite and
//!   PostgreSQL): every write acknowledged before the kill is there, none twice.
//!
//! The PostgreSQL halves need `ACORN_TEST_DATABASE_URL` (`.ci/run` sets it) and say so on stderr
//! when it is not set.

use acorn_proto::settlement::v1::{
    ListReconciliationsRequest, ReconcileRequest,
    settlement_service_client::SettlementServiceClient,
};
use acorn_testkit::{
    durability::{PAGE_SIZE, Stored, Writes},
    fixtures::a1215,
};
use prost::Message as _;
use tonic::{Status, transport::Channel};

const BIN: &str = env!("CARGO_BIN_EXE_settlement-svc");

/// Reconcile (CMS PUF PY2018 row A1215 with `n` more assigned beneficiaries, so that every
/// request has its own input) and ListReconciliations.
struct Ledger(SettlementServiceClient<Channel>);

impl Writes for Ledger {
    fn connect(channel: Channel) -> Self {
        Self(SettlementServiceClient::new(channel))
    }

    async fn write(&mut self, request_id: &str, n: u32) -> Result<Vec<u8>, Status> {
        let mut input = a1215();
        input.assigned_beneficiaries += u64::from(n);
        let request = ReconcileRequest {
            request_id: request_id.into(),
            input: Some(input),
        };
        let rec = self.0.reconcile(request).await?.into_inner().reconciliation;
        Ok(rec.expect("a reconciliation").encode_to_vec())
    }

    async fn page(&mut self, page_token: String) -> (Vec<Stored>, String) {
        let page_size = PAGE_SIZE.into();
        let request = ListReconciliationsRequest {
            page_size,
            page_token,
            ..Default::default()
        };
        let page = self
            .0
            .list_reconciliations(request)
            .await
            .expect("list")
            .into_inner();
        let stored = page.reconciliations.into_iter().map(|r| Stored {
            request_id: Some(r.request_id.clone()),
            encoded: r.encode_to_vec(),
            id: r.id,
        });
        (stored.collect(), page.next_page_token)
    }
}

acorn_testkit::durability_tests!(BIN, Ledger, 40);
