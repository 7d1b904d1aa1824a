//! `attribution-svc`: the assignment gRPC server, assignment over files (CSV or CMS CCLF), and an
//! in-process benchmark (load over gRPC: `simulator load`).

use std::{path::PathBuf, time::Instant};

use acorn_proto::cli::{ServeCommand, StoreFlags as _};
use acorn_proto::serve::named_routes;
use anyhow::Context;
use attribution_rules::{
    Beneficiary, Line, TieBreak, WindowKind, assign,
    run::{Run, RunConfig, encode},
    synthetic::Synthetic,
    tally_lines,
};
use attribution_svc::{
    files::{self, Files},
    server::{self, AttributionApi},
    store::Store,
    synth,
};
use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Window {
    Retrospective,
    Prospective,
    Quarterly,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Tie {
    MostRecentService,
    Unassigned,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SynthFormat {
    Csv,
    /// Parquet (cargo feature `parquet`).
    Parquet,
}

/// MSSP beneficiary assignment (42 CFR 425.400-425.404) over gRPC and files
// Parsed once at startup: the size of `Serve` (its flags) costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Parser)]
#[command(version)]
enum Command {
    /// Serve acorn.attribution.v1.AttributionService (default 127.0.0.1:50053).
    #[command(store_flags(
        "ACORN_ATTRIBUTION_DB",
        "acorn-attribution.db",
        "ACORN_ATTRIBUTION_DATABASE_URL"
    ))]
    Serve {
        #[command(flatten)]
        cmd: ServeCommand,
        /// Largest accepted upload stream message, bytes (a 10,000-line batch is about 1.5 MB).
        #[arg(long, env = "ACORN_ATTRIBUTION_MAX_UPLOAD_BYTES", default_value_t = server::DEFAULT_UPLOAD_BYTES)]
        max_upload_bytes: usize,
        /// Largest accepted CreateAssignmentRun request, bytes (the ACOs' participant lists).
        #[arg(long, env = "ACORN_ATTRIBUTION_MAX_CREATE_BYTES", default_value_t = server::DEFAULT_CREATE_BYTES)]
        max_create_bytes: usize,
    },
    /// Write a consistent copy of a live or stopped store (SQLite `VACUUM INTO`): safe while the
    /// server runs. Restore by stopping the server and putting the copy in place of the file.
    Backup(acorn_proto::store::BackupArgs),
    /// Assign from files: a participant CSV plus CSV and/or CCLF beneficiary and claim files (any
    /// of the CSV files may be Parquet instead). Writes the assignment list as CSV (or Parquet);
    /// the summary and rejected lines go to stderr.
    Assign {
        /// Performance year.
        #[arg(long)]
        performance_year: i32,
        /// Window.
        #[arg(long, value_enum, default_value = "retrospective")]
        window: Window,
        /// Quarter (1-4) of a quarterly window.
        #[arg(long, default_value_t = 0)]
        quarter: u8,
        /// Tie-break policy.
        #[arg(long, value_enum, default_value = "most-recent-service")]
        tie_break: Tie,
        /// Participant list CSV or Parquet (aco_id,kind,id).
        #[arg(long)]
        participants: PathBuf,
        #[command(flatten)]
        files: Files,
        /// Output CSV (default: stdout), or Parquet when the name ends in `.parquet`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Threads reading claim files (default: every core); the output is the same for any
        /// number.
        #[arg(long)]
        threads: Option<usize>,
        /// Assign only shard I of N (`I/N`, 0-based) of the beneficiaries, by a stable hash of the
        /// id; the output gets a first column `input_order` for `merge`.
        #[arg(long, value_parser = parse_shard)]
        shard: Option<attribution_rules::run::Shard>,
        /// Write rejected lines (file, line, reason) here and go on; without it any rejected line
        /// fails the run and nothing is written.
        #[arg(long)]
        reject_file: Option<PathBuf>,
    },
    /// Merge the assignment lists of `assign --shard i/n` (every shard, any order) into the list
    /// an unsharded run writes.
    Merge {
        /// Shard outputs.
        #[arg(required = true)]
        parts: Vec<PathBuf>,
        /// Output CSV.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a synthetic population as the input files of `assign` (participants.csv,
    /// beneficiaries.csv, claims.csv, or .parquet) in DIR: for benchmarks against other tools on
    /// the same files.
    Synth {
        /// Synthetic beneficiaries (about 11.9 claim lines each).
        #[arg(long)]
        beneficiaries: u32,
        /// Generator seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// File format.
        #[arg(long, value_enum, default_value = "csv")]
        format: SynthFormat,
        /// Output directory (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
    /// In-process benchmark on a synthetic population: assignment throughput (claim lines/s, one
    /// core) and memory per beneficiary of a whole-population run.
    Bench {
        /// Synthetic beneficiaries.
        #[arg(long, default_value_t = 1_000_000)]
        beneficiaries: u32,
        /// Generator seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn bench(beneficiaries: u32, seed: u64) -> anyhow::Result<()> {
    let s = Synthetic::new(synth::national(beneficiaries, seed));
    let cfg = RunConfig::retrospective(s.config().performance_year, s.acos().to_vec());
    // 1. Whole-population run, lines in beneficiary order through the text path (the CLI's and
    //    finalize's path): memory per beneficiary.
    let base = rss_kib("VmRSS:");
    let mut run = Run::new(&cfg)?;
    let mut recs = Vec::new();
    let t = Instant::now();
    let mut lines = 0u64;
    // First pass (as `assign` and finalize do): the claim lines with a cancellation or adjustment.
    for i in 0..beneficiaries {
        recs.clear();
        let _ = s.beneficiary(i, &mut recs);
        for r in &recs {
            run.prescan(&r.beneficiary_id, &r.claim_id, r.line_number, r.version);
        }
    }
    for i in 0..beneficiaries {
        recs.clear();
        let b = s.beneficiary(i, &mut recs);
        run.add_beneficiary(&attribution_rules::input::RawBeneficiary {
            id: &b.id,
            enrollment: b.enrollment(),
            designated_npi: &b.designated_npi,
            designated_tin: &b.designated_tin,
            ..Default::default()
        });
        for r in &recs {
            let _ = run.add_line(&r.raw());
        }
        lines += recs.len() as u64;
    }
    run.shrink();
    let load = t.elapsed();
    let loaded = rss_kib("VmRSS:");
    let t = Instant::now();
    let mut assigned = 0u64;
    let counts = run.assign_all(|_, _, a| assigned += u64::from(a.aco.is_some()));
    let assign_time = t.elapsed();
    let peak = rss_kib("VmHWM:");
    let per_bene = (peak.saturating_sub(base) * 1024) as f64 / f64::from(beneficiaries.max(1));
    acorn_proto::outln!(
        "population: {beneficiaries} beneficiaries, {lines} claim lines ({} counted), {} entity tallies ({:.2} per beneficiary)",
        run.stats.counted,
        run.tally_count(),
        run.tally_count() as f64 / f64::from(beneficiaries.max(1)),
    )?;
    acorn_proto::outln!(
        "text path (generate + intern + classify + tally): {:.2}s; assign all: {:.2}s = {:.0} beneficiaries/s; {assigned} assigned, {} ACOs under 5,000",
        load.as_secs_f64(),
        assign_time.as_secs_f64(),
        f64::from(beneficiaries) / assign_time.as_secs_f64(),
        counts.iter().filter(|c| c.below_minimum).count(),
    )?;
    acorn_proto::outln!(
        "memory: RSS {:.0} MiB before, {:.0} MiB loaded, peak {:.0} MiB = {per_bene:.0} bytes per beneficiary (tally arena {:.0} MiB) -> 33 million beneficiaries: {:.1} GiB",
        base as f64 / 1024.0,
        loaded as f64 / 1024.0,
        peak as f64 / 1024.0,
        run.tally_bytes() as f64 / (1 << 20) as f64,
        per_bene * 33e6 / (1u64 << 30) as f64,
    )?;
    drop(run);
    // 2. In-process engine on encoded lines grouped by beneficiary (the simulator's path).
    let mut reg = attribution_rules::Registry::new(s.acos());
    let rules = attribution_rules::RuleSet::new(cfg.performance_year, cfg.window)?;
    let mut flat: Vec<Line> = Vec::new();
    let mut offsets = vec![0usize];
    let mut facts = Vec::new();
    for i in 0..beneficiaries {
        recs.clear();
        let b = s.beneficiary(i, &mut recs);
        flat.extend(recs.iter().map(|r| encode(&r.raw(), &mut reg)));
        offsets.push(flat.len());
        facts.push(Beneficiary {
            enrollment: Some(b.enrollment()),
            ..Beneficiary::default()
        });
    }
    let mut best = f64::MAX;
    let mut assigned = 0u64;
    for _ in 0..3 {
        let t = Instant::now();
        let mut tallies = Vec::with_capacity(8);
        assigned = 0;
        let mut scratch = Vec::with_capacity(32);
        for (i, w) in offsets.windows(2).enumerate() {
            tally_lines(
                &rules,
                &reg,
                &flat[w[0]..w[1]],
                &mut scratch,
                &mut tallies,
                |_| {},
            );
            assigned += u64::from(
                assign(&rules, &facts[i], &tallies, TieBreak::MostRecentService)
                    .aco
                    .is_some(),
            );
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    acorn_proto::outln!(
        "engine, grouped by beneficiary, one core: {} claim lines in {best:.3}s = {:.1} million claim lines/s ({assigned} assigned); 400 million lines: {:.0}s",
        flat.len(),
        flat.len() as f64 / best / 1e6,
        4e8 * best / flat.len() as f64,
    )?;
    Ok(())
}

fn parse_shard(s: &str) -> Result<attribution_rules::run::Shard, String> {
    let bad = || format!("{s:?}: must be I/N with 0 <= I < N, e.g. 0/4");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (index, count) = (
        i.parse::<u32>().map_err(|_| bad())?,
        n.parse::<u32>().map_err(|_| bad())?,
    );
    if count == 0 || index >= count {
        return Err(bad());
    }
    Ok(attribution_rules::run::Shard { index, count })
}

/// Writes every rejection as CSV (`file,line,reason`; reasons name columns, never values).
fn write_rejections(path: &std::path::Path, report: &files::Report) -> anyhow::Result<()> {
    let mut w =
        csv::Writer::from_path(path).with_context(|| format!("creating {}", path.display()))?;
    w.write_record(["file", "line", "reason"])?;
    for r in &report.rejections {
        w.write_record([r.file.as_str(), &r.line.to_string(), r.reason.as_str()])?;
    }
    w.flush()?;
    Ok(())
}

mod progress {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

    /// A progress bar over the claim files' bytes (`files::load_with` sets its length: the files
    /// read once, or twice with a prescan), drawn on stderr only when it is a terminal.
    pub(crate) fn bar() -> ProgressBar {
        let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} claim files {bytes}/{total_bytes} ({bytes_per_sec}, ETA {eta}) {msg}",
        ) {
            pb.set_style(style);
        }
        pb
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Command::parse() {
        Command::Serve {
            cmd,
            max_upload_bytes,
            max_create_bytes,
        } => {
            let routes = |store| {
                // Per-RPC limits: the small unary RPCs carry a few ids (64 KiB, or less when
                // --max-request-bytes is smaller); create and upload have their own bounds.
                let limits = server::Limits {
                    small: server::SMALL_REQUEST_BYTES.min(cmd.serve.max_request_bytes),
                    create: max_create_bytes,
                    upload: max_upload_bytes,
                };
                Ok(named_routes(server::service(
                    AttributionApi::new(store),
                    limits,
                )))
            };
            cmd.run("attribution-svc", "store", Store::open, routes)
                .await
        }
        Command::Assign {
            performance_year,
            window,
            quarter,
            tie_break,
            participants,
            files: f,
            out,
            threads,
            shard,
            reject_file,
        } => {
            #[cfg(not(feature = "parquet"))]
            if let Some(p) = out.as_deref().filter(|p| files::has_parquet_name(p)) {
                anyhow::bail!(files::no_parquet(p));
            }
            let (acos, mut report) = files::participants(&participants)?;
            let cfg = RunConfig {
                performance_year,
                window: match window {
                    Window::Retrospective => WindowKind::Retrospective,
                    Window::Prospective => WindowKind::Prospective,
                    Window::Quarterly => WindowKind::Quarterly(quarter),
                },
                tie_break: match tie_break {
                    Tie::MostRecentService => TieBreak::MostRecentService,
                    Tie::Unassigned => TieBreak::Unassigned,
                },
                acos,
            };
            let mut opts = files::Options {
                keep_rejections: if reject_file.is_some() {
                    usize::MAX
                } else {
                    20
                },
                progress: Some(progress::bar()),
                shard,
                ..files::Options::default()
            };
            if let Some(t) = threads {
                opts.threads = t.max(1);
            }
            let t = Instant::now();
            let (run, r) = files::load_with(&cfg, &f, &opts)?;
            if let Some(p) = &opts.progress {
                p.finish_and_clear();
            }
            report.merge(r);
            match &reject_file {
                Some(path) => write_rejections(path, &report)?,
                None if report.rejected > 0 => {
                    for r in &report.rejections {
                        eprintln!("rejected {r}");
                    }
                    anyhow::bail!(
                        "{} line(s) rejected (the first above; --reject-file writes them all and \
                         goes on); nothing written",
                        report.rejected
                    );
                }
                None => {}
            }
            let counts = match out {
                Some(p) => {
                    files::write_results_atomically(&run, &p, shard.is_some(), opts.threads)?
                }
                None => {
                    let mut out =
                        std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
                    match files::write_rows_with(&run, &mut out, shard.is_some(), opts.threads)
                        .and_then(|c| Ok(std::io::Write::flush(&mut out).map(|()| c)?))
                    {
                        // `assign ... | head`: the reader went away; end quietly.
                        Err(e) if acorn_proto::cli::is_broken_pipe(&e) => return Ok(()),
                        counts => counts?,
                    }
                }
            };
            let secs = t.elapsed().as_secs_f64();
            if !f.clinicians.is_empty() {
                eprintln!(
                    "clinician table: the specialty of {} claim lines",
                    report.specialties_resolved
                );
            }
            eprintln!(
                "{} records read, {} rejected; {} claim lines, {} counted; rule set {}",
                report.records,
                report.rejected,
                run.stats.lines,
                run.stats.counted,
                run.rules.id()
            );
            for c in counts {
                eprintln!(
                    "{}: {} assigned (voluntary {}, step 1 {}, step 2 {}, step 3 {}){}",
                    c.aco_id,
                    c.assigned,
                    c.voluntary_alignment,
                    c.step_1,
                    c.step_2,
                    c.step_3,
                    if c.below_minimum { ", below 5,000" } else { "" }
                );
            }
            eprintln!(
                "assigned {} beneficiaries from {} claim lines in {secs:.2}s ({:.2} million lines/s, {} threads); peak memory {:.0} MiB",
                run.beneficiaries(),
                run.stats.lines,
                run.stats.lines as f64 / secs.max(1e-9) / 1e6,
                opts.threads,
                rss_kib("VmHWM:") as f64 / 1024.0,
            );
            Ok(())
        }
        Command::Bench {
            beneficiaries,
            seed,
        } => bench(beneficiaries, seed),
        Command::Synth {
            beneficiaries,
            seed,
            format,
            out,
        } => {
            let t = Instant::now();
            let s = Synthetic::new(synth::national(beneficiaries, seed));
            let n = match format {
                SynthFormat::Csv => synth::write_csv(&s, &out)?,
                #[cfg(feature = "parquet")]
                SynthFormat::Parquet => synth::write_parquet(&s, &out, synth::PARQUET_GROUP_ROWS)?,
                #[cfg(not(feature = "parquet"))]
                SynthFormat::Parquet => anyhow::bail!(files::no_parquet(&out)),
            };
            eprintln!(
                "wrote {} beneficiaries, {} claim lines, {} participant rows to {} in {:.1}s",
                n.beneficiaries,
                n.lines,
                n.participants,
                out.display(),
                t.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Merge { parts, out } => {
            let dir = out
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let tmp = tempfile::Builder::new()
                .prefix(".merge-")
                .tempfile_in(dir)?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, tmp);
            let rows = files::merge_shards(&parts, &mut w)?;
            let tmp = w.into_inner().map_err(|e| e.into_error())?;
            tmp.as_file().sync_all()?;
            tmp.persist(&out)
                .with_context(|| format!("writing {}", out.display()))?;
            eprintln!("merged {} shard(s): {rows} beneficiaries", parts.len());
            Ok(())
        }
        Command::Backup(args) => args.run().await,
    }
}
