//! Streaming-ingest load generator: creates a run for a synthetic population, streams its
//! beneficiary records and claim lines to a running attribution-svc in batches over several
//! concurrent `UploadAssignmentData` calls, finalizes, and reports claim lines per second for the
//! upload (every batch durably committed before it is acknowledged) and the finalize time.
//!
//! The messages are built before the clock starts, so the figure is the service's (and the
//! client's encoding), not the generator's.

use std::time::Instant;

use acorn_proto::attribution::v1::{
    self as pb, attribution_service_client::AttributionServiceClient,
};
use anyhow::Context;

use attribution_rules::{
    AcoSpec, ClaimType, Version,
    synthetic::{BeneficiaryRecord, ClaimRecord, Config, Synthetic},
};

/// Load generator flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Server address.
    #[arg(long, default_value = "http://127.0.0.1:50053")]
    pub target: String,
    /// Synthetic beneficiaries (about 13 claim lines each).
    #[arg(long, default_value_t = 100_000)]
    pub beneficiaries: u32,
    /// Claim lines per upload message.
    #[arg(long, default_value_t = 10_000)]
    pub batch_lines: usize,
    /// Concurrent UploadAssignmentData calls (each on its own connection).
    #[arg(long, default_value_t = 4)]
    pub streams: usize,
    /// Messages per UploadAssignmentData call (keep calls under the server's request timeout).
    #[arg(long, default_value_t = 50)]
    pub messages_per_call: usize,
    /// Generator seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Performance year.
    #[arg(long, default_value_t = 2024)]
    pub performance_year: i32,
    /// Largest message the client sends and accepts, bytes.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    pub max_message_bytes: usize,
}

/// A synthetic claim line in contract form.
pub fn claim_line(r: &ClaimRecord) -> pb::ClaimLine {
    pb::ClaimLine {
        claim_id: r.claim_id.clone(),
        line_number: r.line_number,
        beneficiary_id: r.beneficiary_id.clone(),
        service_date: Some(r.service_date.into()),
        hcpcs: r.hcpcs.to_string(),
        revenue_center: r.revenue_center.to_string(),
        place_of_service: r.place_of_service.to_string(),
        tin: r.tin.clone(),
        ccn: r.ccn.clone(),
        npi: r.npi.clone(),
        specialty: r.specialty.to_string(),
        allowed: acorn_domain::money::format_cents(r.allowed_cents),
        adjustment: match r.version {
            Version::Original => pb::ClaimAdjustment::Unspecified,
            Version::Adjustment => pb::ClaimAdjustment::Adjustment,
            Version::Cancellation => pb::ClaimAdjustment::Cancellation,
        } as i32,
        claim_type: match r.claim_type {
            ClaimType::Professional => pb::ClaimType::Professional,
            ClaimType::Fqhc => pb::ClaimType::Fqhc,
            ClaimType::Rhc => pb::ClaimType::Rhc,
            ClaimType::CahMethodII => pb::ClaimType::CahMethodIi,
            ClaimType::OtherInstitutional => pb::ClaimType::OtherInstitutional,
        } as i32,
    }
}

/// A synthetic beneficiary record in contract form.
pub fn beneficiary(b: &BeneficiaryRecord) -> pb::Beneficiary {
    pb::Beneficiary {
        beneficiary_id: b.id.clone(),
        months_part_a_and_b: b.months_a_and_b,
        months_part_a_or_b_only: b.months_a_or_b_only,
        months_group_health_plan: b.months_group_health_plan,
        us_resident: b.us_resident,
        other_initiative: b.other_initiative,
        date_of_death: None,
        designated_npi: b.designated_npi.clone(),
        designated_tin: b.designated_tin.clone(),
        designated_specialty: String::new(),
        prior_year_aco_id: String::new(),
        months_part_a_only: 0,
        months_part_b_only: 0,
    }
}

/// The participant list in contract form.
pub fn participants(acos: &[AcoSpec]) -> Vec<pb::AcoParticipants> {
    acos.iter()
        .map(|a| pb::AcoParticipants {
            aco_id: a.id.clone(),
            tins: a.tins.clone(),
            ccns: a.ccns.clone(),
            npis: a.npis.clone(),
        })
        .collect()
}

/// Upload messages of `batch_lines` claim lines each (beneficiary records ride along).
pub fn messages(
    s: &Synthetic,
    run_id: &str,
    tag: &str,
    batch_lines: usize,
) -> (Vec<pb::UploadAssignmentDataRequest>, u64) {
    let mut out = Vec::new();
    let mut cur = pb::UploadAssignmentDataRequest::default();
    let mut recs = Vec::new();
    let mut total = 0u64;
    for i in 0..s.config().beneficiaries {
        recs.clear();
        let b = s.beneficiary(i, &mut recs);
        cur.beneficiaries.push(beneficiary(&b));
        total += recs.len() as u64;
        cur.claim_lines.extend(recs.iter().map(claim_line));
        if cur.claim_lines.len() >= batch_lines {
            cur.run_id = run_id.to_string();
            cur.request_id = format!("{tag}-{}", out.len());
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.claim_lines.is_empty() || !cur.beneficiaries.is_empty() {
        cur.run_id = run_id.to_string();
        cur.request_id = format!("{tag}-{}", out.len());
        out.push(cur);
    }
    (out, total)
}

/// Runs the load and prints the figures.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let s = Synthetic::new(Config {
        seed: args.seed,
        performance_year: args.performance_year,
        beneficiaries: args.beneficiaries,
        acos: 50,
        tins_per_aco: 40,
        outside_tins: 20_000,
        health_centers: 300,
        ..Config::default()
    });
    let connect = || async {
        let channel = tonic::transport::Endpoint::from_shared(args.target.clone())?
            .tcp_nodelay(true)
            .connect()
            .await
            .with_context(|| format!("connecting to {}", args.target))?;
        Ok::<_, anyhow::Error>(
            AttributionServiceClient::new(channel)
                .max_decoding_message_size(args.max_message_bytes)
                .max_encoding_message_size(args.max_message_bytes),
        )
    };
    let mut client = connect().await?;
    let tag = uuid::Uuid::now_v7().simple().to_string();
    let run = client
        .create_assignment_run(pb::CreateAssignmentRunRequest {
            request_id: format!("loadgen-{tag}"),
            performance_year: args.performance_year,
            window: pb::AssignmentWindow::Retrospective as i32,
            mode: pb::AssignmentMode::Retrospective as i32,
            quarter: 0,
            acos: participants(s.acos()),
            tie_break: 0,
        })
        .await?
        .into_inner()
        .run
        .context("no run")?;
    eprintln!("generating {} beneficiaries ...", args.beneficiaries);
    let (msgs, lines) = messages(&s, &run.id, &tag, args.batch_lines.max(1));
    let streams = args.streams.max(1);
    let mut groups: Vec<Vec<pb::UploadAssignmentDataRequest>> = vec![Vec::new(); streams];
    for (i, m) in msgs.into_iter().enumerate() {
        groups[i % streams].push(m);
    }
    let mut clients = Vec::new();
    for _ in 0..streams {
        clients.push(connect().await?);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (mut c, group) in clients.into_iter().zip(groups) {
        let per_call = args.messages_per_call.max(1);
        tasks.push(tokio::spawn(async move {
            let mut accepted = 0u64;
            let mut rest = group;
            while !rest.is_empty() {
                let tail = rest.split_off(rest.len().min(per_call));
                let call = std::mem::replace(&mut rest, tail);
                let r = c.upload_assignment_data(tokio_stream::iter(call)).await?;
                accepted += r.into_inner().claim_lines_accepted;
            }
            Ok::<_, tonic::Status>(accepted)
        }));
    }
    let mut accepted = 0u64;
    for t in tasks {
        accepted += t.await??;
    }
    let upload = started.elapsed();
    let t = Instant::now();
    let done = client
        .finalize_assignment_run(pb::FinalizeAssignmentRunRequest {
            request_id: format!("finalize-{tag}"),
            run_id: run.id.clone(),
        })
        .await?
        .into_inner()
        .run
        .context("no run")?;
    let finalize = t.elapsed();
    let assigned: u64 = done.counts.iter().map(|c| c.assigned).sum();
    println!(
        "upload: {accepted} of {lines} claim lines ({} beneficiaries) in {:.2}s = {:.0} claim lines/s ({} streams, {} lines per message)",
        args.beneficiaries,
        upload.as_secs_f64(),
        accepted as f64 / upload.as_secs_f64(),
        streams,
        args.batch_lines,
    );
    println!(
        "finalize: {:.2}s ({:.0} beneficiaries/s), {assigned} assigned to {} ACOs",
        finalize.as_secs_f64(),
        f64::from(args.beneficiaries) / finalize.as_secs_f64(),
        done.counts.len(),
    );
    Ok(())
}
