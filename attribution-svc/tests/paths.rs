//! One synthetic population (with cancellations and adjustments) through every input path gives
//! the same assignments: the claims CSV files (`files::load`), the same tables as Parquet files
//! (cargo feature `parquet`) and the gRPC upload with the claim lines as rows and as columns
//! (`claim_columns`).

use std::path::Path;

use acorn_proto::attribution::v1::{
    self as pb, attribution_service_client::AttributionServiceClient,
};
use attribution_rules::{
    run::RunConfig,
    synthetic::{Config, Synthetic},
};
use attribution_svc::{
    files::{self, Files},
    synth, synthetic, upload,
};

mod common;
use acorn_testkit::assert_invalid_argument;
use common::{created, finalized, served, start, step_name, uploaded};

fn population() -> Synthetic {
    Synthetic::new(Config {
        beneficiaries: 1_500,
        lookback_share: 0.1,
        ..Config::default()
    })
}

/// The assignment list CSV of the files in `dir` (`ext`: csv or parquet).
fn from_files(dir: &Path, ext: &str) -> String {
    let (acos, r) =
        files::participants(&dir.join(format!("participants.{ext}"))).expect("participants");
    assert_eq!(r.rejected, 0, "{:?}", r.rejections);
    let cfg = RunConfig::retrospective(2024, acos);
    let f = Files {
        beneficiaries: vec![dir.join(format!("beneficiaries.{ext}"))],
        claims: vec![dir.join(format!("claims.{ext}"))],
        ..Files::default()
    };
    let (run, report) = files::load(&cfg, &f).expect("load");
    assert_eq!(report.rejected, 0, "{:?}", report.rejections);
    let mut out = Vec::new();
    files::write_results(&run, &mut out).expect("write");
    String::from_utf8(out).expect("utf-8")
}

/// A PY2024 retrospective run of the population's ACOs.
async fn create(
    client: &mut AttributionServiceClient<tonic::transport::Channel>,
    s: &Synthetic,
    request_id: &str,
) -> pb::AssignmentRun {
    let acos = synthetic::participants(s.acos());
    created(client, common::create_run(request_id, 2024, acos)).await
}

/// The run through the server (lines as rows, or as columns), as `beneficiary_id,aco_id,step,
/// reason` rows in population order.
async fn over_grpc(
    client: &mut AttributionServiceClient<tonic::transport::Channel>,
    s: &Synthetic,
    columnar: bool,
) -> Vec<String> {
    let tag = if columnar { "columns" } else { "rows" };
    let run = create(client, s, tag).await;
    let (mut msgs, lines) = synthetic::messages(s, &run.id, tag, 4_000);
    assert!(msgs.len() > 2);
    if columnar {
        for m in &mut msgs {
            m.claim_columns = Some(upload::to_columns(&m.claim_lines));
            m.claim_lines.clear();
        }
    }
    let up = uploaded(client, msgs, "upload").await;
    assert_eq!(up.claim_lines_accepted, lines);
    finalized(client, &format!("{tag}-finalize"), &run.id).await;
    let mut rows = Vec::new();
    let mut recs = Vec::new();
    for i in 0..s.config().beneficiaries {
        let b = s.beneficiary(i, &mut recs);
        let a = client
            .get_beneficiary_assignment(pb::GetBeneficiaryAssignmentRequest {
                run_id: run.id.clone(),
                beneficiary_id: b.id.clone(),
            })
            .await
            .expect("get")
            .into_inner()
            .assignment
            .expect("assignment");
        rows.push(format!(
            "{},{},{},{}",
            b.id,
            a.aco_id,
            step_name(a.step),
            a.reason
        ));
    }
    rows
}

#[tokio::test]
async fn csv_parquet_and_grpc_rows_and_columns_give_identical_assignments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = population();
    let csv_dir = dir.path().join("csv");
    let n = synth::write_csv(&s, &csv_dir).expect("synth csv");
    assert!(n.lines > 15_000);
    let csv = from_files(&csv_dir, "csv");
    assert_eq!(csv.lines().count(), 1_501);
    assert!(csv.contains(",step_1,"), "{csv}");
    // The same population as Parquet files (row groups of 4,000 rows: several per file).
    #[cfg(feature = "parquet")]
    {
        let pq_dir = dir.path().join("parquet");
        synth::write_parquet(&s, &pq_dir, 4_000).expect("synth parquet");
        assert_eq!(from_files(&pq_dir, "parquet"), csv, "Parquet input");
    }

    // The gRPC reads give the first four columns of the list.
    let want: Vec<String> = csv
        .lines()
        .skip(1)
        .map(|l| l.splitn(5, ',').take(4).collect::<Vec<_>>().join(","))
        .collect();
    let server = start(&dir.path().join("attribution.db")).await;
    let mut client = server.client(AttributionServiceClient::new).await;
    assert_eq!(over_grpc(&mut client, &s, false).await, want, "row upload");
    assert_eq!(
        over_grpc(&mut client, &s, true).await,
        want,
        "columnar upload"
    );
    server.stop().await;
}

/// The columnar batch's idempotency fingerprint covers its columns: a retry under the same
/// `request_id` that differs in one value of any column is ALREADY_EXISTS, the identical retry is
/// acknowledged; a column of the wrong length is INVALID_ARGUMENT naming it.
#[tokio::test]
async fn columnar_retries_and_shapes() {
    let (_dir, server, mut client) = served().await;
    let s = Synthetic::new(Config {
        beneficiaries: 20,
        ..Config::default()
    });
    let run = create(&mut client, &s, "r").await;
    let (mut msgs, _) = synthetic::messages(&s, &run.id, "c", 1_000_000);
    let mut first = msgs.remove(0);
    first.claim_columns = Some(upload::to_columns(&first.claim_lines));
    first.claim_lines.clear();
    for _ in 0..2 {
        uploaded(
            &mut client,
            vec![first.clone()],
            "upload, then its identical retry",
        )
        .await;
    }
    let changes: [fn(&mut pb::ClaimLineColumns); 6] = [
        |c| c.line_number[0] += 1,
        |c| {
            c.service_date[0] = if c.service_date[0] == 20240115 {
                20240116
            } else {
                20240115
            }
        },
        |c| c.allowed_cents[0] += 1,
        |c| c.adjustment[0] = (c.adjustment[0] + 1) % 3,
        // Professional as CLAIM_TYPE_PROFESSIONAL or as unspecified: the same line, other bytes.
        |c| {
            let k = c
                .claim_type
                .iter()
                .position(|&t| t <= 1)
                .expect("a professional line");
            c.claim_type[k] = 1 - c.claim_type[k];
        },
        |c| {
            let h = c.hcpcs.as_mut().expect("hcpcs");
            let mut data = h.data.to_vec();
            data[0] ^= 1;
            h.data = data.into();
        },
    ];
    for (k, change) in changes.iter().enumerate() {
        let mut other = first.clone();
        change(other.claim_columns.as_mut().expect("columns"));
        let err = client
            .upload_assignment_data(tokio_stream::iter(vec![other]))
            .await
            .expect_err("a different batch under a used request_id");
        assert_eq!(
            err.code(),
            tonic::Code::AlreadyExists,
            "change {k}: {err:?}"
        );
    }
    let mut short = first.clone();
    short.request_id = "short".into();
    short
        .claim_columns
        .as_mut()
        .expect("columns")
        .allowed_cents
        .pop();
    let err = client
        .upload_assignment_data(tokio_stream::iter(vec![short]))
        .await
        .expect_err("a short column");
    assert_invalid_argument(&err, &["claim_columns.allowed_cents"], "a short column");
    server.stop().await;
}
