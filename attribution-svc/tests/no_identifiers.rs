//! Beneficiary identifiers are protected health information: a full run of the real binary at
//! `RUST_LOG=trace` (create, upload, a rejected upload, finalize, page the list, read each
//! beneficiary, a read of an unknown one, shutdown) leaves none of them in any log line, page
//! token or error message (nor in any text form an id could take inside them: hex, base64 at
//! every alignment, decimal).

mod common;

use std::{
    net::SocketAddr,
    process::{Child, Command, Stdio},
    time::Duration,
};

use acorn_proto::{
    attribution::v1::{self as pb, attribution_service_client::AttributionServiceClient},
    common::v1::Date,
};
use acorn_testkit::encodings;
use common::finalized;
use tonic::{Code, Status, transport::Channel};

const ASSIGNED: &str = "1EG4TE5MK73";
const UNASSIGNED: &str = "2EG4TE5MK74";
const UNKNOWN: &str = "3EG4TE5MK75";
/// Sent in a batch that is refused (a control character in it).
const REFUSED: &str = "4EG4TE5MK76";

fn beneficiary(id: &str) -> pb::Beneficiary {
    pb::Beneficiary {
        beneficiary_id: id.into(),
        months_part_a_and_b: 12,
        us_resident: true,
        ..Default::default()
    }
}

fn line(claim: &str, id: &str, month: i32, tin: &str, npi: &str, allowed: &str) -> pb::ClaimLine {
    pb::ClaimLine {
        claim_id: claim.into(),
        line_number: 1,
        beneficiary_id: id.into(),
        service_date: Some(Date {
            year: 2024,
            month,
            day: 1,
        }),
        hcpcs: "99214".into(),
        place_of_service: "11".into(),
        tin: tin.into(),
        npi: npi.into(),
        specialty: "08".into(),
        allowed: allowed.into(),
        claim_type: pb::ClaimType::Professional.into(),
        ..Default::default()
    }
}

struct Server {
    child: Child,
    addr: SocketAddr,
    log: std::path::PathBuf,
}

impl Server {
    fn start(dir: &std::path::Path) -> Self {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port");
        let log = dir.join("server.log");
        let child = Command::new(env!("CARGO_BIN_EXE_attribution-svc"))
            .args([
                "serve",
                "--shutdown-grace",
                "2",
                "--listen",
                &addr.to_string(),
                "--db",
            ])
            .arg(dir.join("attribution.db"))
            .env("RUST_LOG", "trace")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("spawn attribution-svc");
        Self { child, addr, log }
    }

    async fn client(&self) -> AttributionServiceClient<Channel> {
        for _ in 0..200 {
            if let Ok(channel) = Channel::from_shared(format!("http://{}", self.addr))
                .expect("uri")
                .connect()
                .await
            {
                return AttributionServiceClient::new(channel);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("attribution-svc did not start listening");
    }

    /// SIGTERM, then the whole log.
    fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "clean shutdown: {status}");
        std::fs::read_to_string(&self.log).expect("log")
    }
}

fn error_text(status: &Status) -> String {
    format!(
        "{} {:?} {}",
        status.message(),
        status.details(),
        String::from_utf8_lossy(status.details())
    )
}

#[tokio::test]
async fn no_beneficiary_id_in_logs_page_tokens_or_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let mut client = server.client().await;
    let mut texts: Vec<(String, String)> = Vec::new(); // (what, text) to search

    let run = client
        .create_assignment_run(pb::CreateAssignmentRunRequest {
            request_id: "create".into(),
            performance_year: 2024,
            window: pb::AssignmentWindow::Retrospective.into(),
            mode: pb::AssignmentMode::Retrospective.into(),
            acos: vec![pb::AcoParticipants {
                aco_id: "A1".into(),
                tins: vec!["111111111".into()],
                npis: vec!["1000000001".into()],
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .expect("create")
        .into_inner()
        .run
        .expect("run");

    let refused = client
        .upload_assignment_data(tokio_stream::iter([pb::UploadAssignmentDataRequest {
            request_id: "bad".into(),
            run_id: run.id.clone(),
            beneficiaries: vec![beneficiary(&format!("{REFUSED}\u{1}"))],
            claim_lines: vec![line(
                "C9",
                &format!("{REFUSED}\u{1}"),
                3,
                "111111111",
                "1000000001",
                "1.00",
            )],
            claim_columns: None,
        }]))
        .await
        .expect_err("a control character is refused");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    texts.push(("refused upload".into(), error_text(&refused)));

    client
        .upload_assignment_data(tokio_stream::iter([pb::UploadAssignmentDataRequest {
            request_id: "b1".into(),
            run_id: run.id.clone(),
            beneficiaries: vec![beneficiary(ASSIGNED), beneficiary(UNASSIGNED)],
            claim_lines: vec![
                line("C1", ASSIGNED, 3, "111111111", "1000000001", "120.00"),
                line("C2", ASSIGNED, 4, "999999999", "1999999999", "100.00"),
                line("C3", UNASSIGNED, 5, "999999999", "1999999999", "100.00"),
            ],
            claim_columns: None,
        }]))
        .await
        .expect("upload");
    finalized(&mut client, "finalize", &run.id).await;

    // Page the list one beneficiary at a time, so that there are tokens between them.
    let mut token = String::new();
    let mut listed = Vec::new();
    for aco in ["A1", ""] {
        loop {
            let page = client
                .list_assigned_beneficiaries(pb::ListAssignedBeneficiariesRequest {
                    run_id: run.id.clone(),
                    aco_id: aco.into(),
                    page_size: 1,
                    page_token: token.clone(),
                })
                .await;
            let page = match page {
                Ok(p) => p.into_inner(),
                Err(e) => {
                    texts.push((format!("list {aco:?}"), error_text(&e)));
                    break;
                }
            };
            listed.extend(page.assignments.into_iter().map(|a| a.beneficiary_id));
            token = page.next_page_token;
            if token.is_empty() {
                break;
            }
            texts.push(("page token".into(), token.clone()));
        }
    }
    assert!(
        listed.iter().any(|id| id == ASSIGNED),
        "the assigned beneficiary is listed: {listed:?}"
    );

    for id in [ASSIGNED, UNASSIGNED] {
        client
            .get_beneficiary_assignment(pb::GetBeneficiaryAssignmentRequest {
                run_id: run.id.clone(),
                beneficiary_id: id.into(),
            })
            .await
            .expect("a known beneficiary");
    }
    let unknown = client
        .get_beneficiary_assignment(pb::GetBeneficiaryAssignmentRequest {
            run_id: run.id.clone(),
            beneficiary_id: UNKNOWN.into(),
        })
        .await
        .expect_err("unknown beneficiary");
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
    texts.push(("unknown beneficiary".into(), error_text(&unknown)));
    drop(client);

    let log = server.stop();
    assert!(
        log.contains("TRACE"),
        "the server logged at trace level: {} bytes",
        log.len()
    );
    texts.push(("server log".into(), log));
    for id in [ASSIGNED, UNASSIGNED, UNKNOWN, REFUSED] {
        for form in encodings(id.as_bytes()) {
            for (what, text) in &texts {
                assert!(
                    !text.contains(&form),
                    "{what} holds a form of a beneficiary id ({form:?})"
                );
            }
        }
    }
}
