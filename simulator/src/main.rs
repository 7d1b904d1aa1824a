//! The `simulator` command line: `run`, `merge`, `compare`, `sweep`, `load`, `echo`.

use std::io::IsTerminal;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use simulator::report::compare::{self, Collected};
use simulator::report::{OutputSet, RunInfo, Shard, drive, summary_table, write_file};
use simulator::{MODEL_VERSION, Model, Scenario, calibrate};

/// Shadows `println!` for every report this binary prints: when the reader of standard output
/// went away (`simulator compare ... | head`), the process ends quietly with status 0 (the way
/// `cat | head` does) instead of panicking ("failed printing to stdout"); any other write error
/// ends it with status 1 and the error on stderr. Output files are complete before anything is
/// printed.
macro_rules! println {
    ($($arg:tt)*) => {
        print_line(format_args!($($arg)*))
    };
}

fn print_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let written = out
        .write_fmt(line)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("simulator: writing to standard output: {e}");
            std::process::exit(1)
        }
    }
}

/// Monte Carlo of what an ACO program saves Medicare, through acorn's own rule engines.
#[derive(Parser)]
#[command(name = "simulator", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// How many replicates, from which seed, on how many threads.
#[derive(Args, Clone)]
struct Replicates {
    /// Number of replicates.
    #[arg(long, default_value_t = NonZeroU32::new(100).unwrap_or(NonZeroU32::MIN))]
    replicates: NonZeroU32,
    /// Master seed: the same seed gives the same replicates (and byte-identical files).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Worker threads (default: the machine's available parallelism; with `--via grpc`, 8 per
    /// core, as the threads mostly wait on the services); does not change any output.
    #[arg(long)]
    threads: Option<usize>,
    #[command(flatten)]
    via: ViaArgs,
}

/// Where the benchmark and settlement steps run (simulator::engines).
#[derive(Args, Clone)]
struct ViaArgs {
    /// `in-process` (the rule engines, the default) or `grpc` (running benchmark-svc and
    /// settlement-svc at --benchmark-url and --settlement-url): the same numbers either way.
    #[arg(long, value_enum, default_value_t = Via::InProcess)]
    via: Via,
    /// benchmark-svc's address, for `--via grpc`.
    #[arg(
        long,
        env = "ACORN_BENCHMARK_URL",
        default_value = "http://127.0.0.1:50052"
    )]
    benchmark_url: String,
    /// settlement-svc's address, for `--via grpc`.
    #[arg(
        long,
        env = "ACORN_SETTLEMENT_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    settlement_url: String,
    /// TLS and the bearer token of both services' calls, for `--via grpc`.
    #[cfg(feature = "grpc")]
    #[command(flatten)]
    client: acorn_proto::security::ClientArgs,
}

/// The in-process engines (`diagnose` and `calibrate` run in process only).
fn in_process() -> ViaArgs {
    ViaArgs {
        via: Via::InProcess,
        benchmark_url: String::new(),
        settlement_url: String::new(),
        #[cfg(feature = "grpc")]
        client: acorn_proto::security::ClientArgs::default(),
    }
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// The rule engines in this process.
    InProcess,
    /// benchmark-svc and settlement-svc over gRPC.
    Grpc,
}

/// `run --mode`.
#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
enum ModeArg {
    /// Pools of beneficiaries per ACO with a churn rate (MODEL.md 3.4).
    Aggregate,
    /// Claim lines through the attribution engine (MODEL.md 3.5).
    Claims,
}

impl ModeArg {
    fn name(self) -> &'static str {
        match self {
            ModeArg::Aggregate => "aggregate",
            ModeArg::Claims => "claims",
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Simulates a scenario and writes summary.json, the CSVs, Parquet copies and plots to --out.
    Run {
        /// A scenario file (TOML) or a preset name.
        #[arg(long)]
        scenario: String,
        /// Overrides a scenario parameter: key=value (dotted key, TOML value); repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// `aggregate` or `claims` (claim lines through the attribution engine, MODEL.md 3.5):
        /// overrides the scenario's `mode`.
        #[arg(long, value_enum)]
        mode: Option<ModeArg>,
        #[command(flatten)]
        replicates: Replicates,
        /// Output directory (created if needed; nothing is written if the scenario is bad).
        #[arg(long)]
        out: PathBuf,
        /// Runs only shard i of n (0-based, contiguous replicate ranges); combine with `merge`.
        #[arg(long, value_name = "i/n", value_parser = Shard::parse)]
        shard: Option<Shard>,
    },
    /// Combines the outputs of `run --shard i/n` into exactly the files an unsharded run writes.
    Merge {
        /// The shard output directories (each with shard.json), in any order.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where to write the merged output.
        #[arg(long)]
        out: PathBuf,
    },
    /// Runs a base and alternative scenarios on common random numbers and prints each
    /// alternative's per-replicate difference from the base.
    Compare {
        /// The base scenario (file or preset).
        base: String,
        /// The alternatives (files or presets); none: the base with the --alt-set overrides.
        alts: Vec<String>,
        /// Overrides a parameter of every scenario (base and alternatives): key=value; repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Overrides a parameter of the alternatives only: key=value; repeatable.
        #[arg(long = "alt-set", value_name = "KEY=VALUE")]
        alt_set: Vec<String>,
        #[command(flatten)]
        replicates: Replicates,
        /// Directory for compare.txt (the tables) and compare.csv (one row per alternative and
        /// total).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Drives one RPC of a running service with load drawn from the population model (ghz-style
    /// options and report).
    #[cfg(feature = "grpc")]
    Load(Box<simulator::load::LoadArgs>),
    /// Serves the trivial echo gRPC service (the framework limit for `load --call Echo`).
    #[cfg(feature = "grpc")]
    Echo(simulator::load::EchoArgs),
    /// Runs a scenario at each value of one parameter (common random numbers) and plots it; with
    /// several --set, one parameter at a time around the scenario and a tornado plot.
    Sweep {
        /// A scenario file (TOML) or a preset name.
        #[arg(long)]
        scenario: String,
        /// A parameter and its values: key=v1,v2,... (TOML values; commas inside [] or {} are
        /// part of a value); repeatable.
        #[arg(long = "set", value_name = "KEY=V1,V2,...", required = true)]
        set: Vec<String>,
        #[command(flatten)]
        replicates: Replicates,
        /// Directory for sweep.svg (one parameter) or tornado.svg (several) (optional).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Checks the model against published figures: the concentration curve, year-to-year
    /// persistence, how often an ACO with no true effect clears its MSR by size, and with --puf
    /// the cross-ACO comparison of that file's year.
    Diagnose {
        /// A CMS ACO Public Use File (any year's layout).
        #[arg(long)]
        puf: Option<PathBuf>,
        /// The scenario (default: the preset whose first performance year is nearest the
        /// file's, the later one on a tie; mssp-2018 without a file).
        #[arg(long)]
        scenario: Option<String>,
        /// Replicates of the simulated comparisons.
        #[arg(long, default_value_t = NonZeroU32::new(16).unwrap_or(NonZeroU32::MIN))]
        replicates: NonZeroU32,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Worker threads (default: the machine's available parallelism).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Fits the preset's named parameters to its published targets (MODEL.md 9.3) and prints the
    /// fit: target, simulated mean, interval over replicates.
    Calibrate {
        /// A preset name (or a scenario file with a [calibration] table).
        #[arg(long)]
        preset: String,
        /// Overrides a parameter before fitting: key=value; repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Replicates per evaluation (default: the preset's calibration table).
        #[arg(long)]
        replicates: Option<NonZeroU32>,
        /// Seed (default: the preset's calibration table).
        #[arg(long)]
        seed: Option<u64>,
        /// Largest number of evaluations (default: the preset's); 1 evaluates the preset's
        /// values without fitting.
        #[arg(long)]
        max_evaluations: Option<u32>,
        /// Worker threads (default: the machine's available parallelism).
        #[arg(long)]
        threads: Option<usize>,
        /// Writes the report to this file too (the presets' *.calibration.txt).
        #[arg(long)]
        report: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Run {
            scenario,
            mut set,
            mode,
            replicates,
            out,
            shard,
        } => {
            set.extend(mode.map(|m| format!("mode=\"{}\"", m.name())));
            run(&scenario, &set, &replicates, &out, shard)
        }
        Command::Merge { dirs, out } => simulator::merge::merge(&dirs, &out)
            .map(|s| println!("{}", summary_table(&s)))
            .map_err(|e| e.to_string()),
        Command::Compare {
            base,
            alts,
            set,
            alt_set,
            replicates,
            out,
        } => compare_cmd(&base, &alts, &set, &alt_set, &replicates, out.as_deref()),
        Command::Sweep {
            scenario,
            set,
            replicates,
            out,
        } => sweep(&scenario, &set, &replicates, out.as_deref()),
        Command::Diagnose {
            puf,
            scenario,
            replicates,
            seed,
            threads,
        } => diagnose_cmd(
            puf.as_deref(),
            scenario.as_deref(),
            &Replicates {
                replicates,
                seed,
                threads,
                via: in_process(),
            },
        ),
        Command::Calibrate {
            preset,
            set,
            replicates,
            seed,
            max_evaluations,
            threads,
            report,
        } => calibrate_cmd(
            &preset,
            &set,
            (replicates, seed, max_evaluations, threads),
            report.as_deref(),
        ),
        #[cfg(feature = "grpc")]
        Command::Load(args) => simulator::load::main(&args),
        #[cfg(feature = "grpc")]
        Command::Echo(args) => simulator::load::echo_main(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("simulator: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A scenario with `key=value` overrides applied, validated before anything runs or is written.
fn load(name: &str, set: &[String]) -> Result<Scenario, String> {
    let mut s = Scenario::load(name).map_err(|e| e.to_string())?;
    for kv in set {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("--set {kv:?}: expected key=value"))?;
        s = s
            .with_override(k.trim(), v.trim())
            .map_err(|e| e.to_string())?;
    }
    Ok(s)
}

fn threads(r: &Replicates) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let default = match r.via.via {
        Via::InProcess => cores,
        Via::Grpc => 8 * cores,
    };
    r.threads.unwrap_or(default).max(1)
}

/// `scenario` prepared on the engines `r.via` names.
fn model(scenario: &Scenario, r: &Replicates) -> Result<Model, String> {
    match r.via.via {
        Via::InProcess => Ok(Model::new(scenario)),
        #[cfg(feature = "grpc")]
        Via::Grpc => {
            let engines = simulator::engines::GrpcEngines::connect(
                &r.via.benchmark_url,
                &r.via.settlement_url,
                &r.via.client,
            )?;
            Ok(Model::with_engines(scenario, std::sync::Arc::new(engines)))
        }
        #[cfg(not(feature = "grpc"))]
        Via::Grpc => Err(
            "--via grpc: this simulator was built without the `grpc` feature \
                          (cargo build -p simulator --features grpc)"
                .into(),
        ),
    }
}

/// A progress bar with ETA on stderr, hidden when stderr is not a terminal.
fn progress(len: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} [{bar:40}] {pos}/{len} replicates, {elapsed} elapsed, ETA {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

fn run(
    scenario: &str,
    set: &[String],
    r: &Replicates,
    out: &Path,
    shard: Option<Shard>,
) -> Result<(), String> {
    let scenario = load(scenario, set)?;
    let model = model(&scenario, r)?;
    let info = RunInfo {
        scenario: scenario.name.clone(),
        seed: r.seed,
        replicates: r.replicates.get(),
        model_version: MODEL_VERSION.to_owned(),
    };
    let mut output = OutputSet::create(out, info, shard).map_err(|e| e.to_string())?;
    let range = output.range();
    let bar = progress(range.len() as u64, &scenario.name);
    let (started, mut claims) = (std::time::Instant::now(), None::<simulator::ClaimsStats>);
    drive(
        range.clone(),
        threads(r),
        &bar,
        |i| model.simulate(r.seed, i),
        |rep| {
            if let Some(c) = &rep.claims {
                claims.get_or_insert_with(Default::default).add(c);
            }
            output.push(&rep)
        },
    )
    .map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    if let Some(c) = claims {
        // Claims mode (MODEL.md 3.5): its size and speed, on stderr (the files are unchanged).
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        eprintln!(
            "claims mode: {} claim lines ({} classified with the lookback), {} beneficiary-years, \
             {:.1}% stayed with their ACO year to year; {:.2} s: {:.0} claim lines/s, {:.0} \
             beneficiary-years/s",
            c.lines,
            c.lines_classified,
            c.beneficiary_years,
            100.0 * c.retention(),
            secs,
            c.lines as f64 / secs,
            c.beneficiary_years as f64 / secs,
        );
    }
    match output.finish().map_err(|e| e.to_string())? {
        Some(summary) => println!("{}\nfiles in {}", summary_table(&summary), out.display()),
        None => println!(
            "replicates {}..{} of {} written to {}; combine the shards with `simulator merge`",
            range.start,
            range.end,
            r.replicates,
            out.display()
        ),
    }
    Ok(())
}

/// Every replicate's totals of `scenario`, on the seed and indices of `r`.
fn collect(scenario: &Scenario, r: &Replicates) -> Result<Collected, String> {
    let model = model(scenario, r)?;
    let mut c = Collected::default();
    let bar = progress(u64::from(r.replicates.get()), &scenario.name);
    drive(
        0..r.replicates.get(),
        threads(r),
        &bar,
        |i| model.simulate(r.seed, i),
        |rep| {
            c.push(&rep);
            Ok(())
        },
    )
    .map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    Ok(c)
}

fn compare_cmd(
    base: &str,
    alts: &[String],
    set: &[String],
    alt_set: &[String],
    r: &Replicates,
    out: Option<&Path>,
) -> Result<(), String> {
    if alts.is_empty() && alt_set.is_empty() {
        return Err("compare needs an alternative scenario or --alt-set overrides".to_owned());
    }
    let base_s = load(base, set)?;
    let both: Vec<String> = set.iter().chain(alt_set).cloned().collect();
    let alts = if alts.is_empty() {
        let mut a = load(base, &both)?;
        a.name = format!("{} ({})", a.name, alt_set.join(", "));
        vec![a]
    } else {
        alts.iter()
            .map(|a| load(a, &both))
            .collect::<Result<Vec<_>, _>>()?
    };
    let b = collect(&base_s, r)?;
    let mut text = format!(
        "common random numbers: seed {}, replicates 0..{}\n",
        r.seed, r.replicates
    );
    let mut rows = Vec::new();
    for alt in &alts {
        let a = collect(alt, r)?;
        let d = compare::differences(&b, &a).map_err(|e| e.to_string())?;
        text.push_str(&format!(
            "{}\n",
            compare::table(&base_s.name, &alt.name, &d)
        ));
        rows.push((alt.name.clone(), d));
    }
    print!("{text}");
    if let Some(dir) = out {
        write_file(dir, "compare.txt", text.as_bytes()).map_err(|e| e.to_string())?;
        let csv = compare::csv(&base_s.name, &rows).map_err(|e| e.to_string())?;
        write_file(dir, "compare.csv", csv.as_bytes()).map_err(|e| e.to_string())?;
        println!(
            "tables: {}, {}",
            dir.join("compare.txt").display(),
            dir.join("compare.csv").display()
        );
    }
    Ok(())
}

fn diagnose_cmd(puf: Option<&Path>, scenario: Option<&str>, r: &Replicates) -> Result<(), String> {
    let file = match puf {
        Some(p) => Some(acorn_cms::puf::PufFile::from_path(p).map_err(|e| format!("--puf: {e}"))?),
        None => None,
    };
    let year = file.as_ref().and_then(|f| f.performance_year());
    let name = match (scenario, year) {
        (Some(s), _) => s.to_owned(),
        // The preset whose first performance year is nearest the file's (the later on a tie).
        (None, Some(y)) => Scenario::preset_names()
            .filter_map(|n| {
                let py = *Scenario::preset(n).ok()?.performance_years.first()?;
                Some(((py - y).abs(), -py, n))
            })
            .min()
            .map_or("mssp-2018", |(_, _, n)| n)
            .to_owned(),
        (None, None) => "mssp-2018".to_owned(),
    };
    let scenario = load(&name, &[])?;
    let settings = simulator::diagnose::Settings {
        seed: r.seed,
        replicates: r.replicates.get(),
        threads: threads(r),
        draws: 400_000,
    };
    let text = simulator::diagnose::diagnose(&scenario, puf.zip(file.as_ref()), settings)
        .map_err(|e| e.to_string())?;
    print!("{text}");
    Ok(())
}

fn calibrate_cmd(
    preset: &str,
    set: &[String],
    (replicates, seed, max_evaluations, threads_opt): (
        Option<NonZeroU32>,
        Option<u64>,
        Option<u32>,
        Option<usize>,
    ),
    report: Option<&Path>,
) -> Result<(), String> {
    let scenario = load(preset, set)?;
    let cal = scenario.calibration.as_ref().ok_or_else(|| {
        format!(
            "{}: no [calibration] table (targets and parameters to fit)",
            scenario.name
        )
    })?;
    let mut settings = calibrate::Settings::of(
        cal,
        threads(&Replicates {
            replicates: NonZeroU32::MIN,
            seed: 0,
            threads: threads_opt,
            via: in_process(),
        }),
    );
    if let Some(n) = replicates {
        settings.replicates = n.get();
    }
    if let Some(s) = seed {
        settings.seed = s;
    }
    if let Some(m) = max_evaluations {
        settings.max_evaluations = m.max(1);
    }
    let bar = progress(u64::from(settings.max_evaluations), &scenario.name);
    let fit = calibrate::calibrate(&scenario, settings, |i, j| {
        bar.set_position(u64::from(i));
        if bar.is_hidden() {
            eprintln!("evaluation {i}: objective {j:.4}");
        }
    })
    .map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    let mut command = format!(
        "simulator calibrate --preset {preset} --replicates {} --seed {} --max-evaluations {}",
        settings.replicates, settings.seed, settings.max_evaluations
    );
    for kv in set {
        command.push_str(&format!(" --set {kv}"));
    }
    let text = fit.report(&command);
    print!("{text}");
    if let Some(path) = report {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("--report {}: not a file name", path.display()))?;
        write_file(dir, name, text.as_bytes()).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Splits `v1,v2,...` at the commas outside `[]`, `{}` and quotes.
fn split_values(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth, mut quoted) = (Vec::new(), String::new(), 0i32, false);
    for ch in s.chars() {
        match ch {
            '"' => quoted = !quoted,
            '[' | '{' if !quoted => depth += 1,
            ']' | '}' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                out.push(std::mem::take(&mut cur).trim().to_owned());
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    out.push(cur.trim().to_owned());
    out
}

/// One `--set key=v1,v2,...` of `sweep`: the key and its values.
fn sweep_values(set: &str) -> Result<(String, Vec<String>), String> {
    let (key, values) = set
        .split_once('=')
        .ok_or_else(|| format!("--set {set:?}: expected key=v1,v2,..."))?;
    Ok((key.trim().to_owned(), split_values(values)))
}

fn sweep(
    scenario: &str,
    sets: &[String],
    r: &Replicates,
    out: Option<&Path>,
) -> Result<(), String> {
    let base = load(scenario, &[])?;
    let params = sets
        .iter()
        .map(|s| sweep_values(s))
        .collect::<Result<Vec<_>, _>>()?;
    // Every variant is checked before anything runs.
    let variants = params
        .iter()
        .map(|(key, values)| {
            values
                .iter()
                .map(|v| base.with_override(key, v).map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let [(key, values)] = params.as_slice() {
        let mut runs = Vec::with_capacity(values.len());
        for s in &variants[0] {
            runs.push(collect(s, r)?);
        }
        let mut points = Vec::with_capacity(runs.len());
        for (v, c) in values.iter().zip(&runs) {
            points.push((v.clone(), compare::estimates(c).map_err(|e| e.to_string())?));
        }
        println!(
            "{}",
            compare::sweep_table(key, values, &runs).map_err(|e| e.to_string())?
        );
        if let Some(dir) = out {
            let svg = compare::sweep_plot(key, &base.name, &points)?;
            write_file(dir, "sweep.svg", svg.as_bytes()).map_err(|e| e.to_string())?;
            println!("plot: {}", dir.join("sweep.svg").display());
        }
        return Ok(());
    }
    // Several parameters: one at a time around the scenario, on common random numbers.
    let b = collect(&base, r)?;
    let mut bars = Vec::with_capacity(params.len());
    for ((key, values), scenarios) in params.iter().zip(&variants) {
        let mut runs = Vec::with_capacity(values.len());
        for s in scenarios {
            runs.push(collect(s, r)?);
        }
        println!(
            "{}",
            compare::sweep_table(key, values, &runs).map_err(|e| e.to_string())?
        );
        bars.push(compare::tornado_bar(key, values, &b, &runs).map_err(|e| e.to_string())?);
    }
    println!("{}", compare::tornado_table(&base.name, &bars));
    if let Some(dir) = out {
        let svg = compare::tornado_plot(&base.name, &bars)?;
        write_file(dir, "tornado.svg", svg.as_bytes()).map_err(|e| e.to_string())?;
        println!("plot: {}", dir.join("tornado.svg").display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::split_values;

    #[test]
    fn sweep_values_split_outside_brackets_and_quotes() {
        assert_eq!(split_values("0, 0.005,0.01"), ["0", "0.005", "0.01"]);
        assert_eq!(
            split_values("[0.01, 0.02],{ dist = \"uniform\", min = 0, max = 1 },\"a,b\""),
            [
                "[0.01, 0.02]",
                "{ dist = \"uniform\", min = 0, max = 1 }",
                "\"a,b\""
            ]
        );
    }
}
