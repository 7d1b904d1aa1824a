//! The file path of `attribution-svc assign`: a participant list, then beneficiaries and claims from
//! CSV files ([`crate::input::csv`]) and/or CMS CCLF files ([`crate::input::cclf`]), into a
//! [`Run`]. Malformed rows are rejected with file, line and reason, counted, and the rest goes on.

use std::{
    fs::File,
    io::{BufReader, Write},
    path::{Path, PathBuf},
};

use anyhow::Context;

use attribution_rules::{
    Assignment, Beneficiary,
    run::{AcoCounts, Run, RunConfig},
};

use crate::input::{cclf, csv, csv::Report};

/// The input files.
#[derive(Debug, Clone, Default)]
pub struct Files {
    /// `beneficiaries.csv` files.
    pub beneficiaries: Vec<PathBuf>,
    /// `claims.csv` files.
    pub claims: Vec<PathBuf>,
    /// CCLF1 (Part A headers).
    pub cclf1: Vec<PathBuf>,
    /// CCLF2 (Part A revenue lines).
    pub cclf2: Vec<PathBuf>,
    /// CCLF5 (Part B physician lines).
    pub cclf5: Vec<PathBuf>,
    /// CCLF8 (demographics).
    pub cclf8: Vec<PathBuf>,
}

fn open(p: &Path) -> anyhow::Result<BufReader<File>> {
    Ok(BufReader::with_capacity(
        1 << 20,
        File::open(p).with_context(|| format!("opening {}", p.display()))?,
    ))
}

fn label(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Reads a participant CSV (`aco_id,kind,id`).
pub fn participants(path: &Path) -> anyhow::Result<(Vec<attribution_rules::AcoSpec>, Report)> {
    Ok(csv::read_participants(open(path)?, &label(path)))
}

/// Reads every file into a new run.
pub fn load(cfg: &RunConfig, files: &Files) -> anyhow::Result<(Run, Report)> {
    let mut run = Run::new(cfg)?;
    let mut report = Report::default();
    let window = run.rules.window;
    for p in &files.beneficiaries {
        report.merge(csv::read_beneficiaries(open(p)?, &label(p), |b| {
            run.add_beneficiary(b)
        }));
    }
    for p in &files.cclf8 {
        report.merge(cclf::read_cclf8(open(p)?, &label(p), &window, |b| {
            run.add_beneficiary(b)
        }));
    }
    let mut headers = std::collections::HashMap::new();
    for p in &files.cclf1 {
        let (h, r) = cclf::read_cclf1(open(p)?, &label(p));
        headers.extend(h);
        report.merge(r);
    }
    // Two passes over the claim files: the first notes the claim lines that have a cancellation or
    // adjustment (its report is dropped: the second pass reports), so the second tallies every
    // other line as it comes instead of keeping it until the end.
    for pass in [true, false] {
        let mut line = |l: &attribution_rules::input::RawLine<'_>| {
            if pass {
                run.prescan(l.beneficiary_id, l.claim_id, l.line_number, l.version);
            } else {
                let _ = run.add_line(l);
            }
        };
        let mut r = Report::default();
        for p in &files.claims {
            r.merge(csv::read_claims(open(p)?, &label(p), &mut line));
        }
        for p in &files.cclf5 {
            r.merge(cclf::read_cclf5(open(p)?, &label(p), &mut line));
        }
        for p in &files.cclf2 {
            r.merge(cclf::read_cclf2(open(p)?, &label(p), &headers, &mut line));
        }
        if !pass {
            report.merge(r);
        }
    }
    run.finish();
    Ok((run, report))
}

/// Writes the assignment list as CSV (`beneficiary_id,aco_id,step,reason,winning_entity,
/// winning_allowed,continuously_assigned,ineligibility`; `ineligibility` is the failed screen's
/// code, [`attribution_rules::Ineligible::code`], when `reason` is `ineligible`) and returns the per-ACO counts. Fields are written by
/// `csv::Writer`: one with a comma, quote or line break is quoted, so no value shifts the columns.
pub fn write_results(run: &Run, out: &mut impl Write) -> anyhow::Result<Vec<AcoCounts>> {
    let mut w = ::csv::Writer::from_writer(out);
    w.write_record([
        "beneficiary_id",
        "aco_id",
        "step",
        "reason",
        "winning_entity",
        "winning_allowed",
        "continuously_assigned",
        "ineligibility",
    ])?;
    let mut err = None;
    let counts = run.assign_all(|id, _: &Beneficiary, a: &Assignment| {
        if err.is_some() {
            return;
        }
        let record = [
            id.to_string(),
            a.aco
                .and_then(|i| run.reg.acos().get(i as usize))
                .cloned()
                .unwrap_or_default(),
            a.step
                .map_or("", |s| match s {
                    attribution_rules::StepKind::VoluntaryAlignment => "voluntary_alignment",
                    attribution_rules::StepKind::Step1 => "step_1",
                    attribution_rules::StepKind::Step2 => "step_2",
                    attribution_rules::StepKind::Step3 => "step_3",
                })
                .to_string(),
            a.reason.code().to_string(),
            a.winner.map(|w| run.entity_name(w)).unwrap_or_default(),
            a.competing
                .first()
                .map(|c| attribution_rules::explain::dollars(c.cents))
                .unwrap_or_default(),
            a.continuous.to_string(),
            match a.reason {
                attribution_rules::Reason::Ineligible(why) => why.code().to_string(),
                _ => String::new(),
            },
        ];
        if let Err(e) = w.write_record(&record) {
            err = Some(e);
        }
    });
    if let Some(e) = err {
        return Err(e.into());
    }
    w.flush()?;
    Ok(counts)
}
