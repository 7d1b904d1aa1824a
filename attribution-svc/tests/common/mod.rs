//! The golden population: 24 beneficiaries, three ACOs, a TIN shared by two ACOs, unaffiliated TINs
//! and health centers, PY2024 retrospective, with hand-computed assignments. Shared by the gRPC test
//! and the file (CSV and CCLF) tests; and the test server ([`start`]).

#![allow(dead_code, unreachable_pub)]

use std::path::Path;

use acorn_proto::attribution::v1::{
    self as pb, attribution_service_client::AttributionServiceClient,
};
use acorn_testkit::{Running, serve_args};
use attribution_rules::{
    AcoSpec, ClaimType, Date, Version,
    synthetic::{BeneficiaryRecord, ClaimRecord, mbi},
};
use attribution_svc::{
    server::{self, AttributionApi, Limits},
    store::Store,
};
use tonic::{service::Routes, transport::Channel};

/// The name of the test server's SQLite file.
pub const DB: &str = "attribution.db";

/// The attribution server on a SQLite store at `db`, default limits.
pub async fn start(db: &Path) -> Running {
    start_with(db, Limits::default()).await
}

/// The attribution server on a SQLite store at `db` with per-RPC size `limits`.
pub async fn start_with(db: &Path, limits: Limits) -> Running {
    let store = Store::open(db).await.expect("open store");
    let routes = Routes::new(server::service(AttributionApi::new(store), limits));
    Running::start(
        routes,
        "acorn.attribution.v1.AttributionService",
        serve_args(),
    )
    .await
}

/// A retrospective CreateAssignmentRun of `acos` for `performance_year`.
pub fn create_run(
    request_id: &str,
    performance_year: i32,
    acos: Vec<pb::AcoParticipants>,
) -> pb::CreateAssignmentRunRequest {
    pb::CreateAssignmentRunRequest {
        request_id: request_id.into(),
        performance_year,
        window: pb::AssignmentWindow::Retrospective as i32,
        mode: pb::AssignmentMode::Retrospective as i32,
        quarter: 0,
        acos,
        tie_break: 0,
    }
}

/// A FinalizeAssignmentRun of the run `run_id`.
pub fn finalize(request_id: &str, run_id: &str) -> pb::FinalizeAssignmentRunRequest {
    pb::FinalizeAssignmentRunRequest {
        request_id: request_id.into(),
        run_id: run_id.into(),
    }
}

/// The generated client of the test server.
pub type Client = AttributionServiceClient<Channel>;

/// The attribution server on a SQLite file in a new temporary folder (removed when dropped, so
/// hold it to the end of the test), and a client of it.
pub async fn served() -> (tempfile::TempDir, Running, Client) {
    acorn_testkit::served(DB, start, AttributionServiceClient::new).await
}

/// The run `request` creates (or the one an identical earlier request created).
pub async fn created(
    client: &mut Client,
    request: pb::CreateAssignmentRunRequest,
) -> pb::AssignmentRun {
    let response = client.create_assignment_run(request).await.expect("create");
    response.into_inner().run.expect("run")
}

/// Uploads `messages` as one stream, which must be acknowledged (`what` names the upload).
pub async fn uploaded(
    client: &mut Client,
    messages: Vec<pb::UploadAssignmentDataRequest>,
    what: &str,
) -> pb::UploadAssignmentDataResponse {
    let response = client
        .upload_assignment_data(tokio_stream::iter(messages))
        .await;
    response.expect(what).into_inner()
}

/// The run `run_id` finalized by a FinalizeAssignmentRun with `request_id`.
pub async fn finalized(client: &mut Client, request_id: &str, run_id: &str) -> pb::AssignmentRun {
    let response = client
        .finalize_assignment_run(finalize(request_id, run_id))
        .await;
    response.expect("finalize").into_inner().run.expect("run")
}

/// The run `run_id` as GetAssignmentRun reads it.
pub async fn get_run(client: &mut Client, run_id: &str) -> pb::AssignmentRun {
    let request = pb::GetAssignmentRunRequest {
        run_id: run_id.into(),
    };
    let response = client.get_assignment_run(request).await.expect("get");
    response.into_inner().run.expect("run")
}

/// ACO A: TINs 100000001, 100000002, FQHC CCN 451800; ACO B: TIN 200000001 (NPI 2000000001);
/// ACO C: TIN 300000001. TIN 900000009 is in both A and B.
pub fn acos() -> Vec<AcoSpec> {
    vec![
        AcoSpec::new("A", &[A1, A2, SHARED], &["451800"], &["1000000001"]),
        AcoSpec::new("B", &[B1, SHARED], &[], &["2000000001"]),
        AcoSpec::new("C", &[C1], &[], &["3000000001"]),
    ]
}

/// Beneficiary `k`'s identifier.
pub fn id(k: u64) -> String {
    mbi(1_000 + k)
}

fn day(s: &str) -> Date {
    Date::parse_iso_in_years(s).expect("date")
}

/// One expected result.
#[derive(Debug, Clone)]
pub struct Expect {
    /// Beneficiary number.
    pub k: u64,
    /// ACO id or "".
    pub aco: &'static str,
    /// Step: "", "voluntary_alignment", "step_1", "step_2", "step_3".
    pub step: &'static str,
    /// Reason code.
    pub reason: &'static str,
    /// Competing totals at the deciding step, highest first: (entity, dollars).
    pub top: Vec<(&'static str, &'static str)>,
}

/// The population.
pub struct Golden {
    /// Beneficiary records (beneficiary 17 has none).
    pub benes: Vec<BeneficiaryRecord>,
    /// Claim lines.
    pub lines: Vec<ClaimRecord>,
    /// Expected results (through gRPC and CSV).
    pub expected: Vec<Expect>,
}

fn bene(k: u64) -> BeneficiaryRecord {
    BeneficiaryRecord::eligible(id(k))
}

struct Lines(Vec<ClaimRecord>);

impl Lines {
    #[allow(clippy::too_many_arguments)]
    fn pro(
        &mut self,
        k: u64,
        date: &str,
        code: &'static str,
        pos: &'static str,
        spec: &'static str,
        tin: &str,
        cents: i64,
    ) -> &mut Self {
        let n = self.0.len();
        self.0.push(ClaimRecord {
            claim_id: format!("P{k:02}{n:04}"),
            line_number: 1,
            beneficiary_id: id(k),
            service_date: day(date),
            hcpcs: code,
            revenue_center: "",
            place_of_service: pos,
            claim_type: ClaimType::Professional,
            tin: tin.into(),
            ccn: String::new(),
            npi: "1999999999".into(),
            specialty: spec,
            allowed_cents: cents,
            version: Version::Original,
        });
        self
    }
    fn visit(
        &mut self,
        k: u64,
        date: &str,
        spec: &'static str,
        tin: &str,
        cents: i64,
    ) -> &mut Self {
        self.pro(k, date, "99213", "11", spec, tin, cents)
    }
    fn inst(
        &mut self,
        k: u64,
        date: &str,
        ct: ClaimType,
        ccn: &str,
        code: &'static str,
        cents: i64,
    ) -> &mut Self {
        let n = self.0.len();
        self.0.push(ClaimRecord {
            claim_id: format!("I{k:02}{n:04}"),
            line_number: 1,
            beneficiary_id: id(k),
            service_date: day(date),
            hcpcs: code,
            revenue_center: "0521",
            place_of_service: "",
            claim_type: ct,
            tin: String::new(),
            ccn: ccn.into(),
            npi: "1999999999".into(),
            specialty: "",
            allowed_cents: cents,
            version: Version::Original,
        });
        self
    }
    /// Cancels the last line (same claim id, negative amount) and optionally re-issues it.
    fn cancel_last(&mut self, reissue_cents: Option<i64>) -> &mut Self {
        let last = self.0.last().cloned().expect("a line");
        self.0.push(ClaimRecord {
            allowed_cents: -last.allowed_cents,
            version: Version::Cancellation,
            ..last.clone()
        });
        if let Some(c) = reissue_cents {
            self.0.push(ClaimRecord {
                allowed_cents: c,
                version: Version::Adjustment,
                ..last
            });
        }
        self
    }
}

fn e(
    k: u64,
    aco: &'static str,
    step: &'static str,
    reason: &'static str,
    top: &[(&'static str, &'static str)],
) -> Expect {
    Expect {
        k,
        aco,
        step,
        reason,
        top: top.to_vec(),
    }
}

const A1: &str = "100000001";
const A2: &str = "100000002";
const B1: &str = "200000001";
const C1: &str = "300000001";
const SHARED: &str = "900000009";
const X1: &str = "700000001";
const X2: &str = "700000002";

/// The golden population.
pub fn golden() -> Golden {
    let mut benes: Vec<BeneficiaryRecord> = (1..=24).filter(|k| *k != 17).map(bene).collect();
    let mut l = Lines(Vec::new());
    // 1: A 2 x 100 = 200 > outside 150.
    l.visit(1, "2024-02-01", "11", A1, 10_000)
        .visit(1, "2024-03-01", "08", A2, 10_000)
        .visit(1, "2024-04-01", "11", X1, 15_000);
    // 2: entity by entity: A 100 > 90 and > 80 (outside together 170).
    l.visit(2, "2024-02-01", "11", A1, 10_000)
        .visit(2, "2024-03-01", "11", X1, 9_000)
        .visit(2, "2024-04-01", "50", X2, 8_000);
    // 3: outside 250 > A 100.
    l.visit(3, "2024-02-01", "11", A1, 10_000)
        .visit(3, "2024-03-01", "08", X1, 25_000);
    // 4: ACO B 120.00 > ACO C 119.99.
    l.visit(4, "2024-02-01", "11", B1, 12_000)
        .visit(4, "2024-03-01", "11", C1, 11_999);
    // 5: no PCP/NPP anywhere: step 2, A cardiology 300 > outside neurology 200.
    l.visit(5, "2024-02-01", "06", A1, 30_000)
        .visit(5, "2024-03-01", "13", X1, 20_000);
    // 6: one outside NP visit makes it step 1, where A has nothing.
    l.visit(6, "2024-02-01", "06", A1, 30_000)
        .visit(6, "2024-03-01", "50", X1, 1_000);
    // 7: A's 99308 in a SNF (POS 31) is not primary care: no ACO physician service.
    l.pro(7, "2024-02-01", "99308", "31", "11", A1, 50_000)
        .visit(7, "2024-03-01", "11", X1, 10_000);
    // 8: the same code at POS 32 counts: A 500 > 100.
    l.pro(8, "2024-02-01", "99308", "32", "11", A1, 50_000)
        .visit(8, "2024-03-01", "11", X1, 10_000);
    // 9: designated a C clinician: voluntary alignment beats A's claims.
    l.visit(9, "2024-02-01", "11", A1, 40_000);
    // 10: designated an outside clinician: no claims-based assignment.
    l.visit(10, "2024-02-01", "11", A1, 40_000);
    // 11: the PCP visit at the shared TIN is excluded: step 2, A cardiology 100 > outside 90.
    l.visit(11, "2024-02-01", "11", SHARED, 50_000)
        .visit(11, "2024-03-01", "06", A1, 10_000)
        .visit(11, "2024-04-01", "06", X1, 9_000);
    // 12: tie 200 = 200, outside more recent: not assigned.
    l.visit(12, "2024-05-01", "11", A1, 20_000)
        .visit(12, "2024-06-01", "11", X1, 20_000);
    // 13: tie 200 = 200, A more recent: A by the tie-break.
    l.visit(13, "2024-07-01", "11", A1, 20_000)
        .visit(13, "2024-06-01", "11", X1, 20_000);
    // 14: A 100 + 200 - 200 (cancelled) = 100 < outside 150.
    l.visit(14, "2024-02-01", "11", A1, 10_000)
        .visit(14, "2024-03-01", "11", A1, 20_000)
        .cancel_last(None)
        .visit(14, "2024-04-01", "11", X1, 15_000);
    // 15: A 100 cancelled and re-issued at 180 > outside 150.
    l.visit(15, "2024-02-01", "11", A1, 10_000)
        .cancel_last(Some(18_000))
        .visit(15, "2024-04-01", "11", X1, 15_000);
    // 16: Part A only in Jan-Mar: ineligible.
    l.visit(16, "2024-02-01", "11", A1, 30_000);
    // 17: no beneficiary record.
    l.visit(17, "2024-02-01", "11", A1, 30_000);
    // 18: A's FQHC (G0467 counts from PY2019, as by a PCP) 180 > outside 100.
    l.inst(18, "2024-02-01", ClaimType::Fqhc, "451800", "G0467", 18_000)
        .visit(18, "2024-03-01", "11", X1, 10_000);
    // 19: an unaffiliated RHC 170 > A 100.
    l.visit(19, "2024-02-01", "11", A1, 10_000).inst(
        19,
        "2024-03-01",
        ClaimType::Rhc,
        "453401",
        "G0466",
        17_000,
    );
    // 20: only an NP in A (no ACO physician): not assigned before PY2025.
    l.visit(20, "2024-02-01", "50", A1, 50_000)
        .visit(20, "2024-03-01", "11", X1, 10_000);
    // 21: chronic care management (99490, primary care since PY2016) at B 62.34; outside x-ray is not.
    l.pro(21, "2024-02-01", "99490", "11", "11", B1, 6_234).pro(
        21,
        "2024-03-01",
        "71046",
        "11",
        "11",
        X1,
        30_000,
    );
    // 22: A in the lookback (2023) and this year: continuously assigned.
    l.visit(22, "2023-06-01", "11", A1, 9_000)
        .visit(22, "2024-02-01", "11", A1, 10_000);
    // 23: an unknown code at A is not primary care, so A has no physician service (pre-screen).
    l.pro(23, "2024-02-01", "ZZZZZ", "11", "11", A1, 90_000)
        .visit(23, "2024-03-01", "11", X1, 5_000);
    // 24: a service before the lookback is ignored: no primary care.
    l.visit(24, "2022-06-01", "11", A1, 90_000);
    for b in &mut benes {
        if b.id == id(9) {
            b.designated_tin = C1.into();
            b.designated_npi = "3000000001".into();
        }
        if b.id == id(10) {
            b.designated_tin = X2.into();
        }
        if b.id == id(16) {
            b.months_a_and_b = 9;
            b.months_a_or_b_only = 3;
        }
    }
    let expected = vec![
        e(
            1,
            "A",
            "step_1",
            "assigned",
            &[("aco:A", "200.00"), ("tin:700000001", "150.00")],
        ),
        e(
            2,
            "A",
            "step_1",
            "assigned",
            &[
                ("aco:A", "100.00"),
                ("tin:700000001", "90.00"),
                ("tin:700000002", "80.00"),
            ],
        ),
        e(
            3,
            "",
            "step_1",
            "not_plurality",
            &[("tin:700000001", "250.00"), ("aco:A", "100.00")],
        ),
        e(
            4,
            "B",
            "step_1",
            "assigned",
            &[("aco:B", "120.00"), ("aco:C", "119.99")],
        ),
        e(
            5,
            "A",
            "step_2",
            "assigned",
            &[("aco:A", "300.00"), ("tin:700000001", "200.00")],
        ),
        e(
            6,
            "",
            "step_1",
            "not_plurality",
            &[("tin:700000001", "10.00")],
        ),
        e(7, "", "", "no_aco_physician_service", &[]),
        e(
            8,
            "A",
            "step_1",
            "assigned",
            &[("aco:A", "500.00"), ("tin:700000001", "100.00")],
        ),
        e(9, "C", "voluntary_alignment", "voluntary_alignment", &[]),
        e(10, "", "voluntary_alignment", "designated_outside_aco", &[]),
        e(
            11,
            "A",
            "step_2",
            "assigned",
            &[("aco:A", "100.00"), ("tin:700000001", "90.00")],
        ),
        e(
            12,
            "",
            "step_1",
            "not_plurality",
            &[("tin:700000001", "200.00"), ("aco:A", "200.00")],
        ),
        e(
            13,
            "A",
            "step_1",
            "assigned_by_tie_break",
            &[("aco:A", "200.00"), ("tin:700000001", "200.00")],
        ),
        e(
            14,
            "",
            "step_1",
            "not_plurality",
            &[("tin:700000001", "150.00"), ("aco:A", "100.00")],
        ),
        e(
            15,
            "A",
            "step_1",
            "assigned",
            &[("aco:A", "180.00"), ("tin:700000001", "150.00")],
        ),
        e(16, "", "", "ineligible", &[]),
        e(17, "", "", "no_beneficiary_record", &[]),
        e(
            18,
            "A",
            "step_1",
            "assigned",
            &[("aco:A", "180.00"), ("tin:700000001", "100.00")],
        ),
        e(
            19,
            "",
            "step_1",
            "not_plurality",
            &[("ccn:453401", "170.00"), ("aco:A", "100.00")],
        ),
        e(20, "", "", "no_aco_physician_service", &[]),
        e(21, "B", "step_1", "assigned", &[("aco:B", "62.34")]),
        e(22, "A", "step_1", "assigned", &[("aco:A", "100.00")]),
        e(23, "", "", "no_aco_physician_service", &[]),
        e(24, "", "", "no_primary_care", &[]),
    ];
    Golden {
        benes,
        lines: l.0,
        expected,
    }
}

/// Per-ACO assigned counts implied by `expected`: (A, B, C).
pub fn counts(expected: &[Expect]) -> [u64; 3] {
    let mut c = [0; 3];
    for x in expected {
        match x.aco {
            "A" => c[0] += 1,
            "B" => c[1] += 1,
            "C" => c[2] += 1,
            _ => {}
        }
    }
    c
}

/// The assignment list's `step` of a contract step.
pub fn step_name(s: i32) -> &'static str {
    use acorn_proto::attribution::v1::AssignmentStep;
    match AssignmentStep::try_from(s).unwrap_or_default() {
        AssignmentStep::Unspecified => "",
        AssignmentStep::VoluntaryAlignment => "voluntary_alignment",
        AssignmentStep::AssignmentStep1 => "step_1",
        AssignmentStep::AssignmentStep2 => "step_2",
        AssignmentStep::AssignmentStep3 => "step_3",
    }
}
