//! The file path of `attribution-svc assign`: a participant list, then beneficiaries and claims from
//! CSV files ([`crate::input::csv`]), the same tables as Parquet files (cargo feature `parquet`,
//! `crate::parquet`) and/or CMS CCLF files ([`crate::input::cclf`]), into a [`Run`]. Malformed
//! rows are rejected with file, line (Parquet: row) and reason, counted, and the rest goes on.

use std::{
    fs::File,
    io::{BufReader, Write},
    path::{Path, PathBuf},
};

use std::fmt::Write as _;

use anyhow::Context;

use attribution_rules::{
    Assignment, Beneficiary,
    run::{AcoCounts, Run, RunConfig},
};

use attribution_rules::{
    input::RawLine,
    run::{Chunk, Shard},
};

pub use crate::input::csv::Report;
use crate::input::{
    blocks::{self, Block, Blocks},
    cclf, csv,
};

/// The input files (also the `assign` command's file flags).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Files {
    /// Beneficiary CSV (or Parquet) files.
    #[arg(long)]
    pub beneficiaries: Vec<PathBuf>,
    /// Claim CSV (or Parquet) files.
    #[arg(long)]
    pub claims: Vec<PathBuf>,
    /// CCLF1 files (Part A headers).
    #[arg(long)]
    pub cclf1: Vec<PathBuf>,
    /// CCLF2 files (Part A revenue center lines).
    #[arg(long)]
    pub cclf2: Vec<PathBuf>,
    /// CCLF5 files (Part B physician lines).
    #[arg(long)]
    pub cclf5: Vec<PathBuf>,
    /// CCLF8 files (beneficiary demographics).
    #[arg(long)]
    pub cclf8: Vec<PathBuf>,
    /// Clinician tables (CSV or Parquet `npi,specialty`): the CMS specialty of claim lines that carry
    /// none (CCLF1/CCLF2 institutional lines by the claim's attending NPI, else the line's
    /// NPI); the summary says how many lines it resolved.
    #[arg(long)]
    pub clinicians: Vec<PathBuf>,
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

/// Reads a participant CSV or Parquet file (`aco_id,kind,id`).
pub fn participants(path: &Path) -> anyhow::Result<(Vec<attribution_rules::AcoSpec>, Report)> {
    if is_parquet(path) {
        return table(path, Layout::Participants, csv::participants);
    }
    Ok(csv::read_participants(open(path)?, &label(path)))
}

/// Reads a small Parquet table of `layout` with `read` (one thread); a file that is rejected as a
/// whole is one rejection at row 0.
#[cfg(feature = "parquet")]
fn table<T: Default>(
    path: &Path,
    layout: Layout,
    read: impl FnOnce(crate::parquet::Table, &str) -> (T, Report),
) -> anyhow::Result<(T, Report)> {
    let file = label(path);
    Ok(match crate::parquet::Table::open(path, layout)? {
        Ok(t) => read(t, &file),
        Err(why) => {
            let mut r = Report::default();
            r.reject(&file, 0, why);
            (T::default(), r)
        }
    })
}

#[cfg(not(feature = "parquet"))]
fn table<T>(
    path: &Path,
    _: Layout,
    _: impl FnOnce(csv::CsvTable<File>, &str) -> (T, Report),
) -> anyhow::Result<(T, Report)> {
    anyhow::bail!(no_parquet(path))
}

/// The layouts of the input tables (which columns a Parquet file's reader decodes and their
/// types).
#[cfg(not(feature = "parquet"))]
#[derive(Debug, Clone, Copy)]
enum Layout {
    Participants,
    Clinicians,
}
#[cfg(feature = "parquet")]
use crate::parquet::{Layout, Visit};

/// How files are read.
#[derive(Debug, Clone)]
pub struct Options {
    /// Threads reading CSV claim files (the result is the same for any number).
    pub threads: usize,
    /// Bytes per block of a CSV file ([`blocks::BLOCK`]).
    pub block_bytes: usize,
    /// Rejections kept with their reason ([`Report::KEEP`]; the rest are counted).
    pub keep_rejections: usize,
    /// Advanced by the bytes of claim files read (both passes) and told the claim lines tallied.
    pub progress: Option<indicatif::ProgressBar>,
    /// Only this shard's beneficiaries ([`Shard`]).
    pub shard: Option<Shard>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            threads: blocks::default_threads(),
            block_bytes: blocks::BLOCK,
            keep_rejections: Report::KEEP,
            progress: None,
            shard: None,
        }
    }
}

/// Reads every file into a new run, large CSV claim files in parallel on every core.
pub fn load(cfg: &RunConfig, files: &Files) -> anyhow::Result<(Run, Report)> {
    load_with(cfg, files, &Options::default())
}

/// Reads every file into a new run (the result is the same for any [`Options`]).
///
/// CSV and Parquet claim files are read once when that is exact ([`Run::chunks_one_pass`]: each
/// block or row group decides the claim lines with a cancellation or adjustment from its own
/// lines; a CSV file grouped by beneficiary is cut between beneficiaries, and a row group's first
/// and last beneficiaries, which a row group boundary may cut, are deferred, [`Chunk::defer`]);
/// otherwise (a beneficiary with such a claim line has lines in more than one block or row group
/// not at its edges, or CCLF claim files are given) twice, a prescan of every claim file first.
pub fn load_with(cfg: &RunConfig, files: &Files, opts: &Options) -> anyhow::Result<(Run, Report)> {
    let claim_bytes: u64 = files
        .claims
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    if files.cclf5.is_empty() && files.cclf2.is_empty() {
        if let Some(p) = &opts.progress {
            p.set_length(claim_bytes);
        }
        let (run, report) = load_passes(cfg, files, opts, &[Pass::Once])?;
        if run.one_pass_exact() {
            return Ok((run, report));
        }
    }
    if let Some(p) = &opts.progress {
        p.set_position(0);
        p.set_length(claim_bytes * 2);
    }
    load_passes(cfg, files, opts, &[Pass::Prescan, Pass::Tally])
}

fn load_passes(
    cfg: &RunConfig,
    files: &Files,
    opts: &Options,
    passes: &[Pass],
) -> anyhow::Result<(Run, Report)> {
    let mut run = Run::new(cfg)?;
    if let Some(s) = opts.shard {
        run.set_shard(s);
    }
    let mut report = Report::keeping(opts.keep_rejections);
    let window = run.rules.window;
    for p in &files.beneficiaries {
        if is_parquet(p) {
            #[cfg(not(feature = "parquet"))]
            anyhow::bail!(no_parquet(p));
            #[cfg(feature = "parquet")]
            {
                parquet_chunks(
                    &mut run,
                    p,
                    opts,
                    &mut report,
                    (Layout::Beneficiaries, csv::BeneficiaryColumns::new),
                    |table, g, _, cols, chunk, file, r| {
                        table.read_group(g, None, &mut |row, rec| {
                            csv::beneficiary_record(row, rec, cols, file, r, &mut |b| {
                                chunk.add_beneficiary(b)
                            })
                        });
                    },
                    None,
                )?;
                continue;
            }
        }
        csv_chunks(
            &mut run,
            p,
            opts,
            &mut report,
            csv::BeneficiaryColumns::new,
            |_| None,
            |cols, bytes, chunk, file, offset, r| {
                csv::beneficiary_block(bytes, cols, file, offset, r, |b| chunk.add_beneficiary(b));
            },
            None,
        )?;
    }
    for p in &files.cclf8 {
        report.merge(cclf::read_cclf8(open(p)?, &label(p), &window, |b| {
            run.add_beneficiary(b)
        }));
    }
    let mut clinicians = None;
    for p in &files.clinicians {
        let (t, r) = if is_parquet(p) {
            table(p, Layout::Clinicians, csv::clinicians)?
        } else {
            csv::read_clinicians(open(p)?, &label(p))
        };
        report.merge(r);
        clinicians
            .get_or_insert_with(csv::Clinicians::default)
            .by_npi_extend(t);
    }
    let clinicians = clinicians.as_ref();
    let mut headers = std::collections::HashMap::new();
    for p in &files.cclf1 {
        let (h, r) = cclf::read_cclf1(open(p)?, &label(p));
        headers.extend(h);
        report.merge(r);
    }
    // One pass over the claim files, or two: the first notes the claim lines that have a
    // cancellation or adjustment (its report is dropped: the second pass reports), so the second
    // tallies every other line as it comes instead of keeping it until the end.
    for &pass in passes {
        let mut r = Report::keeping(opts.keep_rejections);
        for p in &files.claims {
            if !run.one_pass_exact() {
                return Ok((run, report));
            }
            claims_file(&mut run, p, opts, pass, clinicians, &mut r)?;
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
                cclf::read_cclf2_with(f, &label(p), &headers, clinicians, each)
            }));
        }
        if pass != Pass::Prescan {
            report.merge(r);
        }
    }
    run.finish();
    Ok((run, report))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Notes the claim lines with a cancellation or adjustment.
    Prescan,
    /// Tallies, after a prescan.
    Tally,
    /// Each block prescanned on its own, then tallied ([`Run::chunks_one_pass`]).
    Once,
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
        Pass::Tally | Pass::Once => {
            let _ = chunk.add_line(l);
        }
    });
    run.absorb(chunk);
    run.end_chunks(ctx);
    report
}

/// Reads a CSV file in parallel blocks ([`blocks`]) into chunks of `run`, merged in file order:
/// `columns` resolves the header row, `read` reads a block's records into a chunk (rejections at
/// their line plus the offset it is given). A file without a header or whose header lacks a
/// required column is one rejection at line 1. The blocks of a claims file (`pass`) advance the
/// progress bar, and are cut between beneficiaries (`group`, [`Blocks::group_by`]); read in one
/// pass, the reading stops being useful once the run is not exact ([`Run::one_pass_exact`]): the
/// rest of the blocks are not parsed.
#[allow(clippy::too_many_arguments)]
fn csv_chunks<C: Sync>(
    run: &mut Run,
    path: &Path,
    opts: &Options,
    report: &mut Report,
    columns: impl Fn(&::csv::StringRecord) -> Result<C, String>,
    group: impl Fn(&C) -> Option<(usize, usize)>,
    read: impl Fn(&C, &[u8], &mut Chunk<'_>, &str, u64, &mut Report) + Sync,
    pass: Option<Pass>,
) -> anyhow::Result<()> {
    let file = label(path);
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut blocks = Blocks::new(f, opts.block_bytes);
    let Some(mut first) = blocks
        .next_block(Vec::new())
        .with_context(|| format!("reading {}", path.display()))?
    else {
        if let Err(why) = columns(&::csv::StringRecord::new()) {
            report.reject(&file, 1, why);
        }
        return Ok(());
    };
    // The header row: its columns, and where the first block's records start.
    let (header, rdr) = csv::header(first.bytes.as_slice());
    let cols = match header.and_then(|h| columns(&h)) {
        Ok(c) => c,
        Err(why) => {
            report.reject(&file, 1, why);
            return Ok(());
        }
    };
    let (header_end, header_lines) = (rdr.position().byte() as usize, rdr.position().line() - 1);
    if let Some((k, width)) = group(&cols) {
        blocks.group_by(&mut first, k, width);
    }
    let ctx = match pass {
        Some(Pass::Once) => run.chunks_one_pass(),
        _ => run.chunks(),
    };
    let stop = std::sync::atomic::AtomicBool::new(false);
    let work = |b: &Block| {
        let (bytes, offset) = if b.index == 0 {
            (&b.bytes[header_end.min(b.bytes.len())..], header_lines)
        } else {
            (&b.bytes[..], 0)
        };
        let mut chunk = Chunk::new(&ctx);
        let mut r = Report::keeping(opts.keep_rejections);
        if !stop.load(std::sync::atomic::Ordering::Relaxed) {
            read(&cols, bytes, &mut chunk, &file, offset, &mut r);
        }
        let lines = memchr::memchr_iter(b'\n', &b.bytes).count() as u64;
        if let (Some(p), Some(_)) = (&opts.progress, pass) {
            p.inc(b.bytes.len() as u64);
        }
        (chunk, r, lines)
    };
    let mut offset = 0u64;
    let merge = |(chunk, mut r, lines): (Chunk<'_>, Report, u64)| {
        run.absorb(chunk);
        if !run.one_pass_exact() {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        if let (Some(p), Some(Pass::Tally | Pass::Once)) = (&opts.progress, pass) {
            p.set_message(format!("{} claim lines", run.stats.lines));
        }
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

/// One pass over a claims file: CSV in parallel blocks ([`csv_chunks`]), Parquet in parallel row
/// groups ([`parquet_chunks`], the prescan decoding only the rows whose `adjustment` is not an
/// original).
fn claims_file(
    run: &mut Run,
    path: &Path,
    opts: &Options,
    pass: Pass,
    clinicians: Option<&csv::Clinicians>,
    report: &mut Report,
) -> anyhow::Result<()> {
    if is_parquet(path) {
        #[cfg(not(feature = "parquet"))]
        anyhow::bail!(no_parquet(path));
        #[cfg(feature = "parquet")]
        return parquet_chunks(
            run,
            path,
            opts,
            report,
            (Layout::Claims, csv::ClaimColumns::new),
            |table, g, only, cols, chunk, file, r| {
                let tally = |row,
                             rec: Result<crate::parquet::Row<'_>, String>,
                             chunk: &mut Chunk<'_>,
                             r: &mut Report| {
                    csv::claim_record(row, rec, cols, file, r, clinicians, &mut |l| {
                        let _ = chunk.add_line(l);
                    })
                };
                match pass {
                    Pass::Prescan => table.read_rows(g, only, &mut |_, rec| {
                        if let Ok(l) = rec.and_then(|rec| csv::parse_claim(&rec, cols))
                            && csv::prescanned(&l)
                        {
                            chunk.prescan(l.beneficiary_id, l.claim_id, l.line_number, l.version);
                        }
                    }),
                    Pass::Tally => {
                        table.read_rows(g, None, &mut |row, rec| tally(row, rec, chunk, r))
                    }
                    // The row group's own prescan (only the rows that are not an original
                    // parsed), and its edge beneficiaries deferred: their lines may go on in
                    // the row group before or after.
                    Pass::Once => {
                        let (bene, _) = cols.beneficiary_column();
                        table.read_rows_twice(g, &mut |visit, row, rec| match (visit, rec) {
                            (Visit::First { edge }, Ok(rec)) => {
                                if edge {
                                    chunk.defer(csv::Record::text(&rec, Some(bene)));
                                }
                                if csv::Record::version(&rec, cols.adjustment)
                                    != Some(attribution_rules::Version::Original)
                                    && let Ok(l) = csv::parse_claim(&rec, cols)
                                    && csv::prescanned(&l)
                                {
                                    chunk.prescan(
                                        l.beneficiary_id,
                                        l.claim_id,
                                        l.line_number,
                                        l.version,
                                    );
                                }
                            }
                            (Visit::First { .. }, Err(_)) => {}
                            (Visit::Then, rec) => tally(row, rec, chunk, r),
                        })
                    }
                }
            },
            Some(pass),
        );
    }
    csv_chunks(
        run,
        path,
        opts,
        report,
        csv::ClaimColumns::new,
        |cols| Some(cols.beneficiary_column()),
        |cols, bytes, chunk, file, offset, r| {
            let mut lines = Vec::with_capacity(bytes.len() / 100 + 16);
            if pass == Pass::Once
                && csv::claim_lines(bytes, cols, file, offset, r, clinicians, &mut lines)
            {
                // Parsed once: the block's own prescan, then its lines.
                for l in &lines {
                    chunk.prescan(l.beneficiary_id, l.claim_id, l.line_number, l.version);
                }
                for l in &lines {
                    let _ = chunk.add_line(l);
                }
                return;
            }
            if pass != Pass::Tally {
                // The prescan's report is dropped: only the touched claim lines matter.
                csv::prescan_block(bytes, cols, |l| {
                    chunk.prescan(l.beneficiary_id, l.claim_id, l.line_number, l.version)
                });
            }
            if pass != Pass::Prescan {
                csv::claim_block(bytes, cols, file, offset, r, clinicians, |l| {
                    let _ = chunk.add_line(l);
                });
            }
        },
        Some(pass),
    )
}

/// Reads a Parquet file's row groups ([`crate::parquet::Table`]) on `opts.threads` threads into
/// chunks of `run`, merged in file order (so the outcome is the one a single thread gives):
/// `columns` resolves the header (the column names) as for CSV, `read` reads row group `g` into a
/// chunk (`only`: what [`crate::parquet::Table::read_group`] decodes in the prescan). A file that
/// is rejected as a whole (not Parquet, truncated, a column missing or of a type the layout does
/// not take) is one rejection at row 0; in the prescan (`pass`) only claims whose `adjustment` is
/// not an original are decoded. Read in one pass, the row groups after the run stops being exact
/// are not decoded.
#[cfg(feature = "parquet")]
fn parquet_chunks<C: Sync>(
    run: &mut Run,
    path: &Path,
    opts: &Options,
    report: &mut Report,
    (layout, columns): (Layout, impl Fn(&::csv::StringRecord) -> Result<C, String>),
    read: impl Fn(&crate::parquet::Table, usize, Option<usize>, &C, &mut Chunk<'_>, &str, &mut Report)
    + Sync,
    pass: Option<Pass>,
) -> anyhow::Result<()> {
    let file = label(path);
    let table = crate::parquet::Table::open(path, layout)?;
    let (table, cols) = match table.and_then(|t| columns(t.header()).map(|c| (t, c))) {
        Ok(tc) => tc,
        Err(why) => {
            report.reject(&file, 0, why);
            return Ok(());
        }
    };
    let only = match pass {
        Some(Pass::Prescan) => {
            let Some(k) = table.column("adjustment") else {
                return Ok(());
            };
            Some(k)
        }
        _ => None,
    };
    let ctx = match pass {
        Some(Pass::Once) => run.chunks_one_pass(),
        _ => run.chunks(),
    };
    // Read in one pass, the rest of the row groups are not decoded once the run is not exact.
    let stop = std::sync::atomic::AtomicBool::new(false);
    blocks::ordered_map(
        table.row_groups(),
        opts.threads,
        |g| {
            let mut chunk = Chunk::new(&ctx);
            let mut r = Report::keeping(opts.keep_rejections);
            if !stop.load(std::sync::atomic::Ordering::Relaxed) {
                read(&table, g, only, &cols, &mut chunk, &file, &mut r);
            }
            if let (Some(p), Some(_)) = (&opts.progress, pass) {
                p.inc(table.group_bytes(g));
            }
            (chunk, r)
        },
        |(chunk, r)| {
            run.absorb(chunk);
            if !run.one_pass_exact() {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            if let (Some(p), Some(Pass::Tally)) = (&opts.progress, pass) {
                p.set_message(format!("{} claim lines", run.stats.lines));
            }
            report.merge(r);
        },
    );
    run.end_chunks(ctx);
    Ok(())
}

/// Writes the assignment list to `path` through a temporary file beside it, renamed into place
/// once complete: a failed run leaves no partial file. A `path` ending in `.parquet` gets the list
/// as Parquet (cargo feature `parquet`, [`crate::parquet::write_results`]), any other as CSV.
pub fn write_results_atomically(
    run: &Run,
    path: &Path,
    order: bool,
    threads: usize,
) -> anyhow::Result<Vec<AcoCounts>> {
    if has_parquet_name(path) {
        #[cfg(feature = "parquet")]
        return atomically(path, |w| {
            crate::parquet::write_results(run, w, order, threads)
        });
        #[cfg(not(feature = "parquet"))]
        anyhow::bail!(no_parquet(path));
    }
    atomically(path, |w| write_rows_with(run, w, order, threads))
}

/// Writes `path` with `write` through a temporary file beside it, synced and renamed into place
/// once `write` succeeds: an error leaves no file, and an existing `path` as it was.
pub fn atomically<T>(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<tempfile::NamedTempFile>) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".assign-")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, tmp);
    let t = write(&mut w)?;
    let tmp = w.into_inner().map_err(|e| e.into_error())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(t)
}

/// Whether `path`'s name ends in `.parquet` (any case).
pub fn has_parquet_name(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

/// Whether `path` is read as Parquet: its name ends in `.parquet` or it starts with Parquet's
/// magic bytes `PAR1` (any other file, or one that cannot be opened, is read as CSV or CCLF).
pub fn is_parquet(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    has_parquet_name(path)
        || File::open(path)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
            .is_ok_and(|()| &magic == b"PAR1")
}

/// The error for a Parquet file in a build without the cargo feature `parquet`.
pub fn no_parquet(path: &Path) -> String {
    format!(
        "{}: Parquet, and this attribution-svc was built without Parquet support (cargo feature \
         `parquet`: cargo build --release -p attribution-svc --features parquet)",
        path.display()
    )
}

/// Writes the assignment list as CSV (`beneficiary_id,aco_id,step,reason,winning_entity,
/// winning_allowed,continuously_assigned,ineligibility`; `ineligibility` is the failed screen's
/// code, [`attribution_rules::Ineligible::code`], when `reason` is `ineligible`) and returns the per-ACO counts. Fields are written by
/// `csv::Writer`: one with a comma, quote or line break is quoted, so no value shifts the columns.
pub fn write_results(run: &Run, out: &mut impl Write) -> anyhow::Result<Vec<AcoCounts>> {
    write_rows(run, out, false)
}

/// The columns of the assignment list.
pub const RESULT_COLUMNS: [&str; 8] = [
    "beneficiary_id",
    "aco_id",
    "step",
    "reason",
    "winning_entity",
    "winning_allowed",
    "continuously_assigned",
    "ineligibility",
];

/// [`write_results`]; with `order`, a first column `input_order` (the beneficiary's place in the
/// whole input: what [`merge_shards`] puts shards' lists back together by).
pub fn write_rows(run: &Run, out: &mut impl Write, order: bool) -> anyhow::Result<Vec<AcoCounts>> {
    write_rows_with(run, out, order, 1)
}

/// Beneficiaries per piece of the assignment list formatted on one thread.
const ROWS_PER_PIECE: u32 = 1 << 15;

/// [`write_rows`] on `threads` threads: pieces of the list are assigned and formatted in
/// parallel and written in order, so the bytes are the same for any thread count.
pub fn write_rows_with(
    run: &Run,
    out: &mut impl Write,
    order: bool,
    threads: usize,
) -> anyhow::Result<Vec<AcoCounts>> {
    let mut header = ::csv::Writer::from_writer(Vec::new());
    if order {
        header.write_field("input_order")?;
    }
    header.write_record(RESULT_COLUMNS)?;
    out.write_all(&header.into_inner().map_err(|e| e.into_error())?)?;
    let counts = in_pieces(
        run,
        threads,
        |range| piece(run, range, order),
        |bytes| Ok(out.write_all(&bytes)?),
    )?;
    out.flush()?;
    Ok(counts)
}

/// Assigns every beneficiary of `run` in pieces on `threads` threads: `piece` turns the rows of a
/// range of places ([`result_rows`]) into a `T` and their per-ACO counts, `write` receives the
/// pieces in order (so the outcome is the same for any thread count). Returns the per-ACO counts.
pub fn in_pieces<T: Send>(
    run: &Run,
    threads: usize,
    piece: impl Fn(std::ops::Range<u32>) -> anyhow::Result<(T, Vec<AcoCounts>)> + Sync,
    mut write: impl FnMut(T) -> anyhow::Result<()>,
) -> anyhow::Result<Vec<AcoCounts>> {
    let n = run.beneficiaries() as u32;
    let pieces = n.div_ceil(ROWS_PER_PIECE) as usize;
    let mut counts: Option<Vec<AcoCounts>> = None;
    let mut err: Option<anyhow::Error> = None;
    blocks::ordered_map(
        pieces,
        threads,
        |i| {
            let start = i as u32 * ROWS_PER_PIECE;
            piece(start..start.saturating_add(ROWS_PER_PIECE).min(n))
        },
        |piece| {
            if err.is_some() {
                return;
            }
            match piece.and_then(|(t, c)| write(t).map(|()| c)) {
                Ok(c) => match &mut counts {
                    Some(all) => AcoCounts::add(all, &c),
                    None => counts = Some(c),
                },
                Err(e) => err = Some(e),
            }
        },
    );
    if let Some(e) = err {
        return Err(e);
    }
    let mut counts = match counts {
        Some(c) => c,
        None => run.assign_range(0..0, |_, _, _, _| {}),
    };
    AcoCounts::finish(&mut counts);
    Ok(counts)
}

/// One row of the assignment list ([`RESULT_COLUMNS`]); a blank field is empty text or `None`.
#[derive(Debug, Clone, Copy)]
pub struct ResultRow<'a> {
    /// The beneficiary's place in the whole input (`input_order`).
    pub input_order: u32,
    /// `beneficiary_id`.
    pub beneficiary_id: &'a str,
    /// `aco_id` (empty: not assigned).
    pub aco_id: &'a str,
    /// `step`: `voluntary_alignment`, `step_1`, `step_2`, `step_3` or empty.
    pub step: &'static str,
    /// `reason` ([`attribution_rules::Reason::code`]).
    pub reason: &'static str,
    /// `winning_entity` (empty: none).
    pub winning_entity: &'a str,
    /// `winning_allowed`, cents: the first competing entity's allowed charges.
    pub winning_allowed: Option<i64>,
    /// `continuously_assigned`.
    pub continuously_assigned: bool,
    /// `ineligibility` (the failed screen's code when `reason` is `ineligible`, else empty).
    pub ineligibility: &'static str,
}

/// Assigns the beneficiaries at places `range`, calling `each` with their rows in order, and
/// returns their per-ACO counts.
pub fn result_rows(
    run: &Run,
    range: std::ops::Range<u32>,
    mut each: impl FnMut(&ResultRow<'_>),
) -> Vec<AcoCounts> {
    // Entity names are formatted into a reused buffer: no allocation per row.
    let mut entity = String::new();
    run.assign_range(range, |b, id, _: &Beneficiary, a: &Assignment| {
        entity.clear();
        if let Some(e) = a.winner {
            run.write_entity_name(e, &mut entity);
        }
        each(&ResultRow {
            input_order: b,
            beneficiary_id: id,
            aco_id: a
                .aco
                .and_then(|i| run.reg.acos().get(i as usize))
                .map_or("", String::as_str),
            step: a.step.map_or("", |s| match s {
                attribution_rules::StepKind::VoluntaryAlignment => "voluntary_alignment",
                attribution_rules::StepKind::Step1 => "step_1",
                attribution_rules::StepKind::Step2 => "step_2",
                attribution_rules::StepKind::Step3 => "step_3",
            }),
            reason: a.reason.code(),
            winning_entity: &entity,
            winning_allowed: a.competing.first().map(|c| c.cents),
            continuously_assigned: a.continuous,
            ineligibility: match a.reason {
                attribution_rules::Reason::Ineligible(why) => why.code(),
                _ => "",
            },
        })
    })
}

/// The rows of the beneficiaries at places `range`, as CSV, and their per-ACO counts.
fn piece(
    run: &Run,
    range: std::ops::Range<u32>,
    order: bool,
) -> anyhow::Result<(Vec<u8>, Vec<AcoCounts>)> {
    let mut w = ::csv::Writer::from_writer(Vec::with_capacity(64 * ROWS_PER_PIECE as usize));
    let (mut place, mut amount) = (String::new(), String::new());
    let mut err = None;
    // Places and amounts are formatted into reused buffers: no allocation per row.
    let counts = result_rows(run, range, |r| {
        if err.is_some() {
            return;
        }
        if order {
            place.clear();
            let _ = write!(place, "{}", r.input_order);
            if let Err(e) = w.write_field(&place) {
                err = Some(e);
                return;
            }
        }
        amount.clear();
        if let Some(cents) = r.winning_allowed {
            // As acorn_domain::money::format_cents.
            let abs = cents.unsigned_abs();
            let sign = if cents < 0 { "-" } else { "" };
            let _ = write!(amount, "{sign}{}.{:02}", abs / 100, abs % 100);
        }
        let record: [&str; 8] = [
            r.beneficiary_id,
            r.aco_id,
            r.step,
            r.reason,
            r.winning_entity,
            &amount,
            if r.continuously_assigned {
                "true"
            } else {
                "false"
            },
            r.ineligibility,
        ];
        if let Err(e) = w.write_record(record) {
            err = Some(e);
        }
    });
    if let Some(e) = err {
        return Err(e.into());
    }
    Ok((w.into_inner().map_err(|e| e.into_error())?, counts))
}

/// Puts shards' assignment lists (written with `input_order`, [`write_rows`]) back together in
/// input order, without that column: exactly the list of the run unsharded.
pub fn merge_shards(parts: &[PathBuf], out: &mut impl Write) -> anyhow::Result<u64> {
    let mut readers = Vec::new();
    for p in parts {
        if is_parquet(p) {
            anyhow::bail!(
                "{}: Parquet; merge takes the CSV lists of `assign --shard` (--out X.csv)",
                p.display()
            );
        }
        let mut r = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(open(p)?);
        let mut header = ::csv::ByteRecord::new();
        r.read_byte_record(&mut header)
            .with_context(|| format!("reading {}", p.display()))?;
        let want: Vec<&str> = std::iter::once("input_order")
            .chain(RESULT_COLUMNS)
            .collect();
        if header.iter().ne(want.iter().map(|c| c.as_bytes())) {
            anyhow::bail!(
                "{}: not a shard's assignment list (the header must be {})",
                p.display(),
                want.join(",")
            );
        }
        readers.push(r);
    }
    let next = |r: &mut ::csv::Reader<BufReader<File>>,
                p: &Path|
     -> anyhow::Result<Option<(u64, ::csv::ByteRecord)>> {
        let mut rec = ::csv::ByteRecord::new();
        if !r
            .read_byte_record(&mut rec)
            .with_context(|| format!("reading {}", p.display()))?
        {
            return Ok(None);
        }
        let order = std::str::from_utf8(rec.get(0).unwrap_or_default())
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .with_context(|| {
                format!(
                    "{}:{}: input_order: must be a whole number",
                    p.display(),
                    rec.position().map_or(0, |p| p.line())
                )
            })?;
        Ok(Some((order, rec)))
    };
    let mut heap = std::collections::BinaryHeap::new();
    let mut current = Vec::with_capacity(readers.len());
    for (i, r) in readers.iter_mut().enumerate() {
        let n = next(r, &parts[i])?;
        if let Some((o, _)) = &n {
            heap.push(std::cmp::Reverse((*o, i)));
        }
        current.push(n.map(|(_, rec)| rec));
    }
    let mut w = ::csv::Writer::from_writer(out);
    w.write_record(RESULT_COLUMNS)?;
    let mut rows = 0u64;
    while let Some(std::cmp::Reverse((_, i))) = heap.pop() {
        if let Some(rec) = current[i].take() {
            w.write_record(rec.iter().skip(1))?;
            rows += 1;
        }
        if let Some((o, rec)) = next(&mut readers[i], &parts[i])? {
            heap.push(std::cmp::Reverse((o, i)));
            current[i] = Some(rec);
        }
    }
    w.flush()?;
    Ok(rows)
}
