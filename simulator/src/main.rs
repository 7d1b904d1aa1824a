//! The `simulator` command line: `run`, `merge`, `compare`, `sweep`, `load`, `echo`.

use std::io::IsTerminal;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use simulator::report::compare::{self, Collected};
use simulator::report::{OutputSet, RunInfo, Shard, drive, summary_table, write_file};
use simulator::{MODEL_VERSION, Model, Scenario};

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
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// The rule engines in this process.
    InProcess,
    /// benchmark-svc and settlement-svc over gRPC.
    Grpc,
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
        /// The alternatives (files or presets).
        #[arg(required = true)]
        alts: Vec<String>,
        #[command(flatten)]
        replicates: Replicates,
    },
    /// Drives one RPC of a running service with load drawn from the population model (ghz-style
    /// options and report).
    #[cfg(feature = "grpc")]
    Load(Box<simulator::load::LoadArgs>),
    /// Serves the trivial echo gRPC service (the framework limit for `load --call Echo`).
    #[cfg(feature = "grpc")]
    Echo(simulator::load::EchoArgs),
    /// Runs a scenario at each value of one parameter (common random numbers) and plots it.
    Sweep {
        /// A scenario file (TOML) or a preset name.
        #[arg(long)]
        scenario: String,
        /// The parameter and its values: key=v1,v2,... (TOML values; commas inside [] or {} are
        /// part of a value).
        #[arg(long = "set", value_name = "KEY=V1,V2,...")]
        set: String,
        #[command(flatten)]
        replicates: Replicates,
        /// Directory for sweep.svg (optional).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Run {
            scenario,
            set,
            replicates,
            out,
            shard,
        } => run(&scenario, &set, &replicates, &out, shard),
        Command::Merge { dirs, out } => simulator::merge::merge(&dirs, &out)
            .map(|s| println!("{}", summary_table(&s)))
            .map_err(|e| e.to_string()),
        Command::Compare {
            base,
            alts,
            replicates,
        } => compare_cmd(&base, &alts, &replicates),
        Command::Sweep {
            scenario,
            set,
            replicates,
            out,
        } => sweep(&scenario, &set, &replicates, out.as_deref()),
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
    drive(
        range.clone(),
        threads(r),
        &bar,
        |i| model.simulate(r.seed, i),
        |rep| output.push(&rep),
    )
    .map_err(|e| e.to_string())?;
    bar.finish_and_clear();
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

fn compare_cmd(base: &str, alts: &[String], r: &Replicates) -> Result<(), String> {
    let base = load(base, &[])?;
    let alts = alts
        .iter()
        .map(|a| load(a, &[]))
        .collect::<Result<Vec<_>, _>>()?;
    let b = collect(&base, r)?;
    println!(
        "common random numbers: seed {}, replicates 0..{}",
        r.seed, r.replicates
    );
    for alt in &alts {
        let a = collect(alt, r)?;
        let d = compare::differences(&b, &a).map_err(|e| e.to_string())?;
        println!("{}", compare::table(&base.name, &alt.name, &d));
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

fn sweep(scenario: &str, set: &str, r: &Replicates, out: Option<&Path>) -> Result<(), String> {
    let (key, values) = set
        .split_once('=')
        .ok_or_else(|| format!("--set {set:?}: expected key=v1,v2,..."))?;
    let key = key.trim();
    let values = split_values(values);
    let base = load(scenario, &[])?;
    let variants = values
        .iter()
        .map(|v| base.with_override(key, v).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut runs = Vec::with_capacity(variants.len());
    for s in &variants {
        runs.push(collect(s, r)?);
    }
    let mut points = Vec::with_capacity(runs.len());
    for (v, c) in values.iter().zip(&runs) {
        points.push((v.clone(), compare::estimates(c).map_err(|e| e.to_string())?));
    }
    println!(
        "{}",
        compare::sweep_table(key, &values, &runs).map_err(|e| e.to_string())?
    );
    if let Some(dir) = out {
        let svg = compare::sweep_plot(key, &base.name, &points)?;
        write_file(dir, "sweep.svg", svg.as_bytes()).map_err(|e| e.to_string())?;
        println!("plot: {}", dir.join("sweep.svg").display());
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
