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

use attribution_rules::{input::RawLine, run::Chunk};

use crate::input::{
    blocks::{self, Block, Blocks},
    cclf, csv,
    csv::Report,
};

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

/// How files are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Threads reading CSV claim files (the result is the same for any number).
    pub threads: usize,
    /// Bytes per block of a CSV file ([`blocks::BLOCK`]).
    pub block_bytes: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            threads: blocks::default_threads(),
            block_bytes: blocks::BLOCK,
        }
    }
}

/// Reads every file into a new run, large CSV claim files in parallel on every core.
pub fn load(cfg: &RunConfig, files: &Files) -> anyhow::Result<(Run, Report)> {
    load_with(cfg, files, &Options::default())
}

/// Reads every file into a new run (the result is the same for any [`Options`]).
pub fn load_with(cfg: &RunConfig, files: &Files, opts: &Options) -> anyhow::Result<(Run, Report)> {
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
    for pass in [Pass::Prescan, Pass::Tally] {
        let mut r = Report::default();
        for p in &files.claims {
            claims_csv(&mut run, p, opts, pass, &mut r)?;
        }
        for p in &files.cclf5 {
            let f = open(p)?;
            r.merge(in_chunk(&mut run, pass, |each| {
                cclf::read_cclf5(f, &label(p), each)
            }));
        }
        for p in &files.cclf2 {
            let f = open(p)?;
            r.merge(in_chunk(&mut run, pass, |each| {
                cclf::read_cclf2(f, &label(p), &headers, each)
            }));
        }
        if pass == Pass::Tally {
            report.merge(r);
        }
    }
    run.finish();
    Ok((run, report))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    Prescan,
    Tally,
}

/// One pass over a file read on one thread (`read` calls its argument with every valid line), as
/// one [`Chunk`].
fn in_chunk(
    run: &mut Run,
    pass: Pass,
    read: impl FnOnce(&mut dyn FnMut(&RawLine<'_>)) -> Report,
) -> Report {
    let ctx = run.chunks();
    let mut chunk = Chunk::new(&ctx);
    let report = read(&mut |l| match pass {
        Pass::Prescan => chunk.prescan(l.beneficiary_id, l.claim_id, l.line_number, l.version),
        Pass::Tally => {
            let _ = chunk.add_line(l);
        }
    });
    run.absorb(chunk);
    run.end_chunks(ctx);
    report
}

/// One pass over a claims CSV file in parallel blocks ([`blocks`]), merged in file order.
fn claims_csv(
    run: &mut Run,
    path: &Path,
    opts: &Options,
    pass: Pass,
    report: &mut Report,
) -> anyhow::Result<()> {
    let file = label(path);
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut blocks = Blocks::new(f, opts.block_bytes);
    let Some(first) = blocks
        .next_block(Vec::new())
        .with_context(|| format!("reading {}", path.display()))?
    else {
        report.reject(
            &file,
            1,
            "missing column(s): beneficiary_id, service_date, hcpcs, allowed",
        );
        return Ok(());
    };
    // The header row: its columns, and where the first block's records start.
    let (cols, rdr) = csv::claims_header(first.bytes.as_slice());
    let cols = match cols {
        Ok(c) => c,
        Err(why) => {
            report.reject(&file, 1, why);
            return Ok(());
        }
    };
    let (header_end, header_lines) = (rdr.position().byte() as usize, rdr.position().line() - 1);
    let ctx = run.chunks();
    let work = |b: &Block| {
        let (bytes, offset) = if b.index == 0 {
            (&b.bytes[header_end.min(b.bytes.len())..], header_lines)
        } else {
            (&b.bytes[..], 0)
        };
        let mut chunk = Chunk::new(&ctx);
        let mut r = Report::default();
        match pass {
            // The first pass's report is dropped: only the touched claim lines matter.
            Pass::Prescan => csv::prescan_block(bytes, &cols, |l| {
                chunk.prescan(l.beneficiary_id, l.claim_id, l.line_number, l.version)
            }),
            Pass::Tally => {
                let mut rdr = csv::block_reader(bytes);
                csv::claim_records(&mut rdr, &cols, &file, offset, &mut r, |l| {
                    let _ = chunk.add_line(l);
                });
            }
        }
        let lines = memchr::memchr_iter(b'\n', &b.bytes).count() as u64;
        (chunk, r, lines)
    };
    let mut offset = 0u64;
    let merge = |(chunk, mut r, lines): (Chunk<'_>, Report, u64)| {
        run.absorb(chunk);
        for x in &mut r.rejections {
            x.line += offset;
        }
        offset += lines;
        report.merge(r);
    };
    let sent = blocks::run_from(first, blocks, opts.threads, work, merge);
    run.end_chunks(ctx);
    sent.with_context(|| format!("reading {}", path.display()))
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
