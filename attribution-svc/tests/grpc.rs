//! The real server on 127.0.0.1 through the generated client: the golden population end to end
//! (create, stream, finalize, read every beneficiary, page the Assignment List Report), restart on
//! the same SQLite file, idempotent retries, and bad input with its statuses.

mod common;

use acorn_proto::attribution::v1::{
    self as pb, attribution_service_client::AttributionServiceClient,
};
use acorn_testkit::{
    assert_already_exists, assert_invalid_argument, bad_request_fields, encodings, listed,
};
use attribution_svc::{
    server::{self, Limits},
    synthetic,
};
use common::{
    created, finalize, finalized, get_run, served, start, start_with, step_name, uploaded,
};
use tonic::{Code, transport::Channel};

fn create(request_id: &str) -> pb::CreateAssignmentRunRequest {
    common::create_run(request_id, 2024, synthetic::participants(&common::acos()))
}

/// Two upload messages: every beneficiary record and the first half of the lines, then the rest.
fn batches(run_id: &str) -> Vec<pb::UploadAssignmentDataRequest> {
    let g = common::golden();
    let lines: Vec<pb::ClaimLine> = g.lines.iter().map(synthetic::claim_line).collect();
    let half = lines.len() / 2;
    vec![
        pb::UploadAssignmentDataRequest {
            request_id: "b1".into(),
            run_id: run_id.into(),
            beneficiaries: g.benes.iter().map(synthetic::beneficiary).collect(),
            claim_lines: lines[..half].to_vec(),
            claim_columns: None,
        },
        pb::UploadAssignmentDataRequest {
            request_id: "b2".into(),
            run_id: run_id.into(),
            beneficiaries: vec![],
            claim_lines: lines[half..].to_vec(),
            claim_columns: None,
        },
    ]
}

/// The error of an upload that must fail (`what`: why, for the panic message).
async fn upload_err(
    client: &mut AttributionServiceClient<Channel>,
    msgs: Vec<pb::UploadAssignmentDataRequest>,
    what: &str,
) -> tonic::Status {
    client
        .upload_assignment_data(tokio_stream::iter(msgs))
        .await
        .expect_err(what)
}

/// The error of a GetBeneficiaryAssignment that must fail (`what`: why, for the panic message).
async fn assignment_err(
    client: &mut AttributionServiceClient<Channel>,
    run_id: &str,
    beneficiary_id: String,
    what: &str,
) -> tonic::Status {
    client
        .get_beneficiary_assignment(pb::GetBeneficiaryAssignmentRequest {
            run_id: run_id.into(),
            beneficiary_id,
        })
        .await
        .expect_err(what)
}

/// (entity, allowed) of every entity competing at the deciding step, as listed.
fn competing(a: &pb::BeneficiaryAssignment) -> Vec<(String, String)> {
    a.competing
        .iter()
        .map(|c| (c.entity.clone(), c.allowed.clone()))
        .collect()
}

#[tokio::test]
async fn golden_population_end_to_end_and_after_a_restart() {
    let (dir, server, mut client) = served().await;
    let db = dir.path().join(common::DB);
    let g = common::golden();

    let run = created(&mut client, create("golden")).await;
    assert_eq!(
        (run.state, run.rule_set.as_str()),
        (pb::RunState::Open as i32, "assignment-py2024")
    );
    // Idempotent create.
    let again = created(&mut client, create("golden")).await;
    assert_eq!(again.id, run.id);

    let msgs = batches(&run.id);
    let up = uploaded(&mut client, msgs.clone(), "upload").await;
    assert_eq!(up.claim_lines_accepted, g.lines.len() as u64);
    assert_eq!(up.beneficiaries_accepted, g.benes.len() as u64);
    // A retried batch is acknowledged again but stored once.
    uploaded(&mut client, msgs[..1].to_vec(), "retry").await;
    let got = get_run(&mut client, &run.id).await;
    assert_eq!(got.claim_lines_received, g.lines.len() as u64);

    let done = finalized(&mut client, "fin", &run.id).await;
    assert_eq!(done.state, pb::RunState::Finalized as i32);
    let want = common::counts(&g.expected);
    let have: Vec<(String, u64, bool)> = done
        .counts
        .iter()
        .map(|c| (c.aco_id.clone(), c.assigned, c.below_minimum))
        .collect();
    assert_eq!(
        have,
        vec![
            ("A".to_string(), want[0], true),
            ("B".to_string(), want[1], true),
            ("C".to_string(), want[2], true)
        ]
    );
    let a = &done.counts[0];
    assert_eq!(
        (a.step_1, a.step_2, a.voluntary_alignment),
        (want[0] - 2, 2, 0)
    );
    assert_eq!(done.counts[2].voluntary_alignment, 1);
    let lc = done.line_counts.expect("line counts");
    assert_eq!((lc.outside_window, lc.shared_participant), (1, 1));
    assert_eq!(lc.not_primary_care, 3); // 99308 at POS 31, 71046, ZZZZZ

    let check = |client: &mut AttributionServiceClient<Channel>| {
        let mut client = client.clone();
        let run_id = run.id.clone();
        let expected = g.expected.clone();
        async move {
            for x in &expected {
                let a = client
                    .get_beneficiary_assignment(pb::GetBeneficiaryAssignmentRequest {
                        run_id: run_id.clone(),
                        beneficiary_id: common::id(x.k),
                    })
                    .await
                    .unwrap_or_else(|e| panic!("beneficiary {}: {e}", x.k))
                    .into_inner()
                    .assignment
                    .expect("assignment");
                let top: Vec<(String, String)> = competing(&a);
                let want: Vec<(String, String)> = x
                    .top
                    .iter()
                    .map(|(e, d)| (e.to_string(), d.to_string()))
                    .collect();
                assert_eq!(
                    (a.aco_id.as_str(), step_name(a.step), a.reason.as_str(), top),
                    (x.aco, x.step, x.reason, want),
                    "beneficiary {}",
                    x.k
                );
                // Beneficiary 16 has 3 months of Part A or Part B only (part not given):
                // 425.401(a)(1), and the result says which screen.
                assert_eq!(
                    a.ineligibility(),
                    if x.k == 16 {
                        pb::IneligibilityReason::PartAOrBOnly
                    } else {
                        pb::IneligibilityReason::Unspecified
                    },
                    "beneficiary {}",
                    x.k
                );
                assert!(
                    a.explanation.iter().all(|s| !s.citation.is_empty()),
                    "beneficiary {}",
                    x.k
                );
                assert_eq!(a.continuously_assigned, x.k == 22, "beneficiary {}", x.k);
            }
        }
    };
    check(&mut client).await;

    // The Assignment List Report of A, three per page.
    let mut listed = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_assigned_beneficiaries(pb::ListAssignedBeneficiariesRequest {
                run_id: run.id.clone(),
                aco_id: "A".into(),
                page_size: 3,
                page_token: token.clone(),
            })
            .await
            .expect("list")
            .into_inner();
        assert!(page.assignments.len() <= 3);
        listed.extend(page.assignments.into_iter().map(|a| a.beneficiary_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let mut want: Vec<String> = g
        .expected
        .iter()
        .filter(|x| x.aco == "A")
        .map(|x| common::id(x.k))
        .collect();
    want.sort();
    assert_eq!(listed, want);

    // A finalized run is immutable.
    let err = client
        .upload_assignment_data(tokio_stream::iter(batches(&run.id)[1..].to_vec()))
        .await
        .expect_err("finalized");
    assert_eq!(err.code(), Code::FailedPrecondition);
    let err = client
        .finalize_assignment_run(finalize("other", &run.id))
        .await
        .expect_err("twice");
    assert_eq!(err.code(), Code::FailedPrecondition);
    // The same finalize request is idempotent.
    client
        .finalize_assignment_run(finalize("fin", &run.id))
        .await
        .expect("idempotent finalize");

    // Restart on the same file: everything is still there.
    let (server, mut client) =
        acorn_testkit::restart(server, &db, start, AttributionServiceClient::new).await;
    let listed = client
        .list_assignment_runs(pb::ListAssignmentRunsRequest::default())
        .await
        .expect("list runs")
        .into_inner()
        .runs;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].counts, done.counts);
    check(&mut client).await;

    client
        .delete_assignment_run(pb::DeleteAssignmentRunRequest {
            run_id: run.id.clone(),
        })
        .await
        .expect("delete");
    let err = client
        .get_assignment_run(pb::GetAssignmentRunRequest {
            run_id: run.id.clone(),
        })
        .await
        .expect_err("deleted");
    assert_eq!(err.code(), Code::NotFound);
    server.stop().await;
}

#[tokio::test]
async fn acknowledged_uploads_survive_a_restart_before_finalize() {
    let (dir, server, mut client) = served().await;
    let db = dir.path().join(common::DB);
    let run = created(&mut client, create("r")).await;
    uploaded(&mut client, batches(&run.id), "upload").await;
    let (server, mut client) =
        acorn_testkit::restart(server, &db, start, AttributionServiceClient::new).await;
    let done = finalized(&mut client, "f", &run.id).await;
    let assigned: Vec<u64> = done.counts.iter().map(|c| c.assigned).collect();
    assert_eq!(
        assigned,
        common::counts(&common::golden().expected).to_vec()
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_input_gets_clear_statuses() {
    let (_dir, server, mut client) = served().await;

    // Bad year, missing window, a quarter on a non-quarterly window, duplicate ACO, empty participant.
    let mut bad = create("bad");
    bad.performance_year = 2011;
    bad.window = 0;
    bad.quarter = 2;
    bad.acos.push(bad.acos[0].clone());
    bad.acos.push(pb::AcoParticipants {
        aco_id: "D".into(),
        ..Default::default()
    });
    let err = client
        .create_assignment_run(bad)
        .await
        .expect_err("invalid");
    assert_invalid_argument(
        &err,
        &[
            "window",
            "acos[3].aco_id",
            "acos[4].tins",
            "performance_year",
        ],
        "invalid",
    );
    let mut q = create("q");
    q.window = pb::AssignmentWindow::Quarterly as i32;
    q.quarter = 5;
    let err = client.create_assignment_run(q).await.expect_err("quarter");
    assert_eq!(bad_request_fields(&err), ["quarter"]);
    let mut y = create("y");
    y.performance_year = 2030;
    let err = client.create_assignment_run(y).await.expect_err("year");
    assert_invalid_argument(&err, &["performance_year"], "year");

    // Same request_id, different request.
    let run = created(&mut client, create("one")).await;
    let mut other = create("one");
    other.performance_year = 2023;
    assert_already_exists("conflict", client.create_assignment_run(other).await);

    // Unknown run.
    let mut msgs = batches("no-such-run");
    let err = client
        .upload_assignment_data(tokio_stream::iter(msgs.clone()))
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), Code::NotFound);
    let err = client
        .finalize_assignment_run(finalize("f", "nope"))
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), Code::NotFound);

    // Bad claim lines name the line and field; nothing of that message is stored.
    for m in &mut msgs {
        m.run_id = run.id.clone();
    }
    let mut broken = msgs[1].clone();
    broken.request_id = "broken".into();
    broken.claim_lines[0].allowed = "1.234".into();
    broken.claim_lines[1].service_date = None;
    broken.claim_lines[2].tin.clear();
    broken.claim_lines[3].adjustment = 9;
    broken.claim_lines[4].beneficiary_id.clear();
    let err = upload_err(&mut client, vec![broken], "invalid").await;
    assert_invalid_argument(
        &err,
        &[
            "claim_lines[0].allowed",
            "claim_lines[1].service_date",
            "claim_lines[2].tin",
            "claim_lines[3].adjustment",
            "claim_lines[4].beneficiary_id",
        ],
        "invalid",
    );
    assert!(
        !err.message().contains(&common::id(1)),
        "no beneficiary id in the error"
    );
    let got = get_run(&mut client, &run.id).await;
    assert_eq!(got.claim_lines_received, 0);

    // A batch request_id reused with different content.
    uploaded(&mut client, msgs[..1].to_vec(), "upload").await;
    let mut reuse = msgs[1].clone();
    reuse.request_id = "b1".into();
    let err = upload_err(&mut client, vec![reuse], "reuse").await;
    assert_eq!(err.code(), Code::AlreadyExists);

    // Reading results of an open run.
    let err = assignment_err(&mut client, &run.id, common::id(1), "open").await;
    assert_eq!(err.code(), Code::FailedPrecondition);
    finalized(&mut client, "f", &run.id).await;
    let err = assignment_err(&mut client, &run.id, "1ZZ9ZZ9ZZ99".into(), "absent").await;
    assert_eq!(err.code(), Code::NotFound);
    let err = client
        .list_assigned_beneficiaries(pb::ListAssignedBeneficiariesRequest {
            run_id: run.id.clone(),
            aco_id: "Z".into(),
            ..Default::default()
        })
        .await
        .expect_err("unknown ACO");
    assert_eq!(err.code(), Code::NotFound);
    let err = client
        .list_assigned_beneficiaries(pb::ListAssignedBeneficiariesRequest {
            run_id: run.id.clone(),
            aco_id: "A".into(),
            page_token: "zz".into(),
            ..Default::default()
        })
        .await
        .expect_err("token");
    assert_invalid_argument(&err, &["page_token"], "token");
    let err = client
        .list_assignment_runs(pb::ListAssignmentRunsRequest {
            page_size: -1,
            ..Default::default()
        })
        .await
        .expect_err("page size");
    assert_eq!(bad_request_fields(&err), ["page_size"]);
    let err = client
        .delete_assignment_run(pb::DeleteAssignmentRunRequest {
            run_id: "nope".into(),
        })
        .await
        .expect_err("delete unknown");
    assert_eq!(err.code(), Code::NotFound);
    server.stop().await;
}

async fn finalized_golden(client: &mut AttributionServiceClient<Channel>) -> pb::AssignmentRun {
    let run = created(client, create("golden")).await;
    uploaded(client, batches(&run.id), "upload").await;
    finalized(client, "f", &run.id).await;
    run
}

/// A retried upload whose batch differs only in claim ids, line numbers or HCPCS codes (which the
/// aggregated batch does not keep) is a different batch: ALREADY_EXISTS, never a silent OK.
#[tokio::test]
async fn upload_retry_with_a_different_batch_is_refused() {
    let (_dir, server, mut client) = served().await;
    let run = created(&mut client, create("r")).await;
    let first = batches(&run.id).remove(1);
    uploaded(&mut client, vec![first.clone()], "first upload").await;
    // The same batch again: an idempotent retry.
    uploaded(&mut client, vec![first.clone()], "identical retry").await;
    let changes: [fn(&mut pb::ClaimLine); 3] = [
        |l| l.claim_id.push('X'),
        |l| l.line_number += 1,
        |l| {
            l.hcpcs = if l.hcpcs == "99213" {
                "99214".into()
            } else {
                "99213".into()
            }
        },
    ];
    for change in changes {
        let mut other = first.clone();
        change(&mut other.claim_lines[0]);
        let err = upload_err(
            &mut client,
            vec![other],
            "a different batch under a used request_id",
        )
        .await;
        assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    }
    let got = get_run(&mut client, &run.id).await;
    assert_eq!(got.claim_lines_received, first.claim_lines.len() as u64);
    server.stop().await;
}

/// Page tokens are opaque: no beneficiary id in any encoding (raw, hex, base64, decimal), bound to
/// the run and ACO that issued them, and a damaged one is INVALID_ARGUMENT.
#[tokio::test]
async fn page_tokens_carry_no_beneficiary_id() {
    use base64::Engine;
    let (_dir, server, mut client) = served().await;
    let run = finalized_golden(&mut client).await;
    let ids: Vec<String> = common::golden()
        .benes
        .iter()
        .map(|b| b.id.clone())
        .collect();
    let list = |page_token| pb::ListAssignedBeneficiariesRequest {
        run_id: run.id.clone(),
        aco_id: "A".into(),
        page_size: 1,
        page_token,
    };
    let (assignments, tokens) =
        listed(async |token| client.list_assigned_beneficiaries(list(token)).await).await;
    let in_order: Vec<String> = assignments.into_iter().map(|a| a.beneficiary_id).collect();
    assert!(tokens.len() >= 3, "{}", tokens.len());
    let mut sorted = in_order.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, in_order, "every beneficiary once, in id order");
    for t in &tokens {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(t)
            .expect("base64url");
        for id in &ids {
            for enc in encodings(id.as_bytes()) {
                assert!(!enc.is_empty() && !t.contains(&enc), "token holds {enc}");
            }
            assert!(
                !raw.windows(id.len()).any(|w| w == id.as_bytes()),
                "decoded token holds an id"
            );
        }
    }
    // Bound to its run and ACO; damage is detected.
    let mut flipped = tokens[0].clone().into_bytes();
    flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
    for (aco, t) in [
        ("B", tokens[0].clone()),
        ("A", String::from_utf8(flipped).expect("ascii")),
        ("A", format!("{}A", tokens[0])),
    ] {
        let err = client
            .list_assigned_beneficiaries(pb::ListAssignedBeneficiariesRequest {
                run_id: run.id.clone(),
                aco_id: aco.into(),
                page_size: 1,
                page_token: t,
            })
            .await
            .expect_err("foreign token");
        assert_invalid_argument(&err, &["page_token"], "foreign token");
    }
    server.stop().await;
}

/// Identifiers with a control character are INVALID_ARGUMENT naming the field, and the value is
/// not echoed.
#[tokio::test]
async fn identifiers_with_control_characters_are_rejected() {
    let (_dir, server, mut client) = served().await;
    let mut bad = create("c");
    bad.acos[0].tins[0] = "1000\n00001".into();
    let err = client
        .create_assignment_run(bad)
        .await
        .expect_err("newline");
    assert_invalid_argument(&err, &["acos[0].tins[0]"], "newline");
    let run = created(&mut client, create("ok")).await;
    let mut msg = batches(&run.id).remove(0);
    msg.beneficiaries[1].beneficiary_id = "1EG4\0TE5MK73".into();
    msg.beneficiaries[2].designated_npi = "12345\u{7f}".into();
    msg.claim_lines[0].beneficiary_id = "SECRET\u{1b}[2J".into();
    msg.claim_lines[1].claim_id = "C\r1".into();
    msg.claim_lines[2].hcpcs = "9921\t".into();
    let err = upload_err(&mut client, vec![msg], "control characters").await;
    assert_invalid_argument(
        &err,
        &[
            "beneficiaries[1].beneficiary_id",
            "beneficiaries[2].designated_npi",
            "claim_lines[0].beneficiary_id",
            "claim_lines[1].claim_id",
            "claim_lines[2].hcpcs",
        ],
        "control characters",
    );
    let text = format!("{err:?}");
    assert!(
        !text.contains("SECRET") && !text.contains("TE5MK73"),
        "{text}"
    );
    let err = assignment_err(&mut client, &run.id, "1EG4\nTE5MK73".into(), "newline").await;
    assert_eq!(bad_request_fields(&err), ["beneficiary_id"]);
    server.stop().await;
}

/// Each RPC has its own request size limit: a small RPC refuses a 100 KiB request, create and
/// upload messages have their own bounds (tonic answers OUT_OF_RANGE, nothing stored).
#[tokio::test]
async fn request_size_limits_per_rpc() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = Limits {
        small: server::SMALL_REQUEST_BYTES,
        create: 256 * 1024,
        upload: 512 * 1024,
    };
    let server = start_with(&dir.path().join("attribution.db"), limits).await;
    let mut client = server.client(AttributionServiceClient::new).await;
    let err = client
        .get_assignment_run(pb::GetAssignmentRunRequest {
            run_id: "r".repeat(100 * 1024),
        })
        .await
        .expect_err("too big");
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
    let mut big = create("big");
    big.acos[0].npis = (0..30_000).map(|i| format!("{:010}", i)).collect();
    let err = client
        .create_assignment_run(big)
        .await
        .expect_err("too big");
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
    // The same create request fits with a normal participant list.
    let run = created(&mut client, create("small")).await;
    let mut msg = batches(&run.id).remove(1);
    let line = msg.claim_lines[0].clone();
    msg.claim_lines = vec![line; 8_000];
    let err = upload_err(&mut client, vec![msg.clone()], "too big").await;
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
    msg.claim_lines.truncate(1_000);
    uploaded(&mut client, vec![msg], "a bounded message fits").await;
    server.stop().await;
}

/// Claim versions across batches: a cancellation in a later message removes its own claim line
/// (same claim_id and line_number) and nothing else; a cancellation with no original is ignored and
/// counted (LineCounts.unmatched_cancellations).
#[tokio::test]
async fn cancellations_apply_to_their_own_claim_line_across_batches() {
    let (_dir, server, mut client) = served().await;
    let run = created(&mut client, create("v")).await;
    let bene = common::id(1);
    let line =
        |claim: &str, tin: &str, allowed: &str, adjustment: pb::ClaimAdjustment| pb::ClaimLine {
            claim_id: claim.into(),
            line_number: 1,
            beneficiary_id: bene.clone(),
            service_date: Some(acorn_proto::common::v1::Date {
                year: 2024,
                month: 3,
                day: 1,
            }),
            hcpcs: "99213".into(),
            place_of_service: "11".into(),
            tin: tin.into(),
            specialty: "08".into(),
            allowed: allowed.into(),
            adjustment: adjustment as i32,
            claim_type: pb::ClaimType::Professional as i32,
            ..Default::default()
        };
    let g = common::golden();
    let record = g
        .benes
        .iter()
        .find(|b| b.id == bene)
        .map(synthetic::beneficiary)
        .expect("record");
    use pb::ClaimAdjustment::{Cancellation, Unspecified as Original};
    // A (TIN 100000001) $200 on C1 and $50 on C2; outside $150 on C3. Later: C1 cancelled (with
    // another amount), and a cancellation of C9 that was never sent.
    let msgs = vec![
        pb::UploadAssignmentDataRequest {
            request_id: "1".into(),
            run_id: run.id.clone(),
            beneficiaries: vec![record],
            claim_lines: vec![
                line("C1", "100000001", "200.00", Original),
                line("C2", "100000001", "50.00", Original),
                line("C3", "700000001", "150.00", Original),
            ],
            claim_columns: None,
        },
        pb::UploadAssignmentDataRequest {
            request_id: "2".into(),
            run_id: run.id.clone(),
            beneficiaries: vec![],
            claim_lines: vec![
                line("C1", "100000001", "-210.00", Cancellation),
                line("C9", "100000001", "-50.00", Cancellation),
            ],
            claim_columns: None,
        },
    ];
    uploaded(&mut client, msgs, "upload").await;
    let done = finalized(&mut client, "f", &run.id).await;
    let lc = done.line_counts.expect("line counts");
    assert_eq!(
        (lc.counted, lc.cancelled, lc.unmatched_cancellations),
        (2, 2, 1)
    );
    let a = client
        .get_beneficiary_assignment(pb::GetBeneficiaryAssignmentRequest {
            run_id: run.id.clone(),
            beneficiary_id: bene.clone(),
        })
        .await
        .expect("get")
        .into_inner()
        .assignment
        .expect("assignment");
    // Outside $150 > A $50 (C2 only): not assigned. Summation gave A 200 + 50 - 210 - 50 = -$10
    // (the cancellation's own amount, and the unmatched one subtracting).
    let top: Vec<(String, String)> = competing(&a);
    assert_eq!(
        top,
        [
            ("tin:700000001".to_string(), "150.00".to_string()),
            ("aco:A".to_string(), "50.00".to_string())
        ]
    );
    assert_eq!(
        (a.aco_id.as_str(), a.reason.as_str()),
        ("", "not_plurality")
    );
    server.stop().await;
}
