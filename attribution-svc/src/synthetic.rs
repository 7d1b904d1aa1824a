//! The seeded synthetic population of `attribution_rules::synthetic` in contract form: claim lines,
//! beneficiary records, the participant list and upload messages, for the tests and for
//! `simulator load` (which drives the upload stream with them).

use acorn_proto::attribution::v1 as pb;

use attribution_rules::{
    AcoSpec, ClaimType, Version,
    synthetic::{BeneficiaryRecord, ClaimRecord, Synthetic},
};

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
