//! `simulator load`: one load generator for every RPC of the three services (unary calls and the
//! client streams), with requests drawn from the simulator's population model ([`requests`]),
//! valid by default and a chosen share deliberately invalid (`--invalid-fraction`).
//!
//! ghz is the reference for options and output:
//!
//! - closed loop at a concurrency (`-c`), or open loop at a rate (`--rps`, or `--load-schedule
//!   const|step|line` with `--load-start/--load-step/--load-step-duration/--load-end/--load-duration`);
//!   open-loop latency is counted from when each call was due, not when it was sent (the
//!   coordinated-omission correction: a stalled server is charged for the calls it held back);
//! - a count (`-n`) or a duration (`-z`), after an excluded warm-up (`--warmup`);
//! - HDR-histogram latencies (p50/p90/p99/p99.9/max), counts by gRPC status code, interim lines
//!   every `--interval`, the summary on stdout, `--json FILE` and a per-call `--csv FILE`.
//!
//! The framework limit: [`echo`], a trivial tonic service driven the same way (`--call Echo`).

pub mod echo;
pub mod record;
pub mod requests;
pub mod schedule;
pub mod target;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use tokio::time::Instant;

use crate::Scenario;
use record::{Interim, Meta, Recorder, Report};
use schedule::{Schedule, parse_duration};
use target::{Setup, Target, Upload};

/// The service an RPC belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// acorn.settlement.v1.SettlementService.
    Settlement,
    /// acorn.benchmark.v1.BenchmarkService.
    Benchmark,
    /// acorn.attribution.v1.AttributionService.
    Attribution,
    /// The echo service.
    Echo,
}

impl Service {
    /// The fully qualified gRPC service name.
    pub fn name(self) -> &'static str {
        match self {
            Service::Settlement => "acorn.settlement.v1.SettlementService",
            Service::Benchmark => "acorn.benchmark.v1.BenchmarkService",
            Service::Attribution => "acorn.attribution.v1.AttributionService",
            Service::Echo => echo::SERVICE,
        }
    }

    /// The binary's default address.
    pub fn default_target(self) -> String {
        let binary = match self {
            Service::Settlement => "settlement-svc",
            Service::Benchmark => "benchmark-svc",
            Service::Attribution => "attribution-svc",
            Service::Echo => return format!("http://127.0.0.1:{}", echo::DEFAULT_PORT),
        };
        let port = acorn_proto::serve::DEFAULT_PORTS
            .iter()
            .find(|(name, _)| *name == binary)
            .map_or(0, |(_, port)| *port);
        format!("http://127.0.0.1:{port}")
    }
}

macro_rules! rpcs {
    ($($name:ident => $service:ident),* $(,)?) => {
        /// Every RPC the generator drives.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Rpc {
            $(
                #[doc = stringify!($name)]
                $name,
            )*
        }

        impl Rpc {
            /// Every RPC, in the contracts' order.
            pub const ALL: &'static [Rpc] = &[$(Rpc::$name),*];

            /// The method name, e.g. `Reconcile`.
            pub fn method(self) -> &'static str {
                match self { $(Rpc::$name => stringify!($name)),* }
            }

            /// Its service.
            pub fn service(self) -> Service {
                match self { $(Rpc::$name => Service::$service),* }
            }
        }
    };
}

rpcs! {
    Reconcile => Settlement,
    PreviewReconciliation => Settlement,
    GetReconciliation => Settlement,
    ListReconciliations => Settlement,
    GetMinimumSavingsRate => Settlement,
    ComputeBenchmark => Benchmark,
    ComputeBenchmarkFromBeneficiaries => Benchmark,
    PreviewBenchmark => Benchmark,
    GetBenchmark => Benchmark,
    ListBenchmarks => Benchmark,
    UpdateBenchmark => Benchmark,
    CreateAssignmentRun => Attribution,
    UploadAssignmentData => Attribution,
    FinalizeAssignmentRun => Attribution,
    GetAssignmentRun => Attribution,
    ListAssignmentRuns => Attribution,
    GetBeneficiaryAssignment => Attribution,
    ListAssignedBeneficiaries => Attribution,
    DeleteAssignmentRun => Attribution,
    Echo => Echo,
}

impl Rpc {
    /// `package.Service/Method`.
    pub fn full_name(self) -> String {
        format!("{}/{}", self.service().name(), self.method())
    }

    /// What `units` counts for this RPC.
    fn units(self) -> Option<&'static str> {
        match self {
            Rpc::UploadAssignmentData => Some("Claim lines"),
            Rpc::ComputeBenchmarkFromBeneficiaries => Some("Beneficiary-years"),
            _ => None,
        }
    }
}

impl FromStr for Rpc {
    type Err = String;

    /// `Reconcile`, `acorn.settlement.v1.SettlementService/Reconcile` or `...SettlementService.Reconcile`.
    fn from_str(s: &str) -> Result<Self, String> {
        let method = s.rsplit(['/', '.']).next().unwrap_or(s);
        Rpc::ALL
            .iter()
            .copied()
            .find(|r| {
                r.method().eq_ignore_ascii_case(method)
                    && (s == method || s.starts_with(r.service().name()))
            })
            .ok_or_else(|| {
                format!(
                    "unknown call {s:?}; one of: {}",
                    Rpc::ALL
                        .iter()
                        .map(|r| r.method())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }
}

/// Open-loop schedule kinds (ghz's `--load-schedule`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScheduleKind {
    /// A constant rate (`--rps` or `--load-start`).
    Const,
    /// `--load-start`, changed by `--load-step` every `--load-step-duration`, up to `--load-end`.
    Step,
    /// From `--load-start` to `--load-end` linearly over `--load-duration`.
    Line,
}

/// `simulator load` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// The RPC: a method name (`Reconcile`, `UploadAssignmentData`, `Echo`, ...) or
    /// `package.Service/Method`.
    #[arg(long, value_parser = Rpc::from_str)]
    pub call: Rpc,
    /// Server address [default: http://127.0.0.1 and the service's port].
    #[arg(long)]
    pub target: Option<String>,
    /// Closed loop: calls in flight at once. Open loop: the most in flight (0: no limit).
    #[arg(short = 'c', long, default_value_t = 50)]
    pub concurrency: u64,
    /// HTTP/2 connections the calls are spread over.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Open loop at this constant rate, calls per second (0: closed loop).
    #[arg(long, default_value_t = 0.0)]
    pub rps: f64,
    /// Open-loop schedule (with --load-start etc.).
    #[arg(long, value_enum)]
    pub load_schedule: Option<ScheduleKind>,
    /// First rate of the schedule, calls per second.
    #[arg(long, default_value_t = 0.0)]
    pub load_start: f64,
    /// Step of `step` schedules, calls per second.
    #[arg(long, default_value_t = 0.0)]
    pub load_step: f64,
    /// Length of each step.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub load_step_duration: Duration,
    /// Last rate (step: the cap, 0 none; line: where the ramp ends).
    #[arg(long, default_value_t = 0.0)]
    pub load_end: f64,
    /// Length of a `line` ramp.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub load_duration: Duration,
    /// Calls to measure (after the warm-up) [default: 200 unless --duration].
    #[arg(short = 'n', long)]
    pub total: Option<u64>,
    /// Measure for this long (e.g. 30s, 10m) instead of a count.
    #[arg(short = 'z', long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Run this long first without measuring (e.g. 5s).
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    pub warmup: Duration,
    /// Print an interim line this often (e.g. 5s; 0: none).
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    pub interval: Duration,
    /// Deadline of each call (sent as grpc-timeout).
    #[arg(long, value_parser = parse_duration, default_value = "20s")]
    pub timeout: Duration,
    /// Share of requests made deliberately invalid (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub invalid_fraction: f64,
    /// Seed of the population and of which calls are invalid.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The scenario the requests are drawn from (a preset or TOML file that lists its ACOs).
    #[arg(long, default_value = "mssp-2018")]
    pub scenario: String,
    /// Use only the scenario's first N ACOs (a quicker draw).
    #[arg(long)]
    pub acos: Option<usize>,
    /// Replicates simulated for the request pool.
    #[arg(long, default_value_t = 1)]
    pub replicates: u32,
    /// Records made before the clock starts for the reads (Get/List, Update, Finalize, Delete).
    #[arg(long, default_value_t = 100)]
    pub pool: usize,
    /// Page size of the List RPCs.
    #[arg(long, default_value_t = 50)]
    pub page_size: i32,
    /// Attribution: synthetic population size (upload calls wrap around it).
    #[arg(long, default_value_t = 1_000_000)]
    pub beneficiaries: u32,
    /// Attribution: beneficiaries per upload message (about 13 claim lines each).
    #[arg(long, default_value_t = 750)]
    pub batch_beneficiaries: u32,
    /// Attribution: messages per UploadAssignmentData call.
    #[arg(long, default_value_t = 10)]
    pub stream_messages: u32,
    /// Attribution: send the claim lines of each upload message in the columnar form
    /// (`claim_columns`) instead of one `ClaimLine` each.
    #[arg(long)]
    pub columnar: bool,
    /// Attribution: beneficiaries of the finalized run the assignment reads use.
    #[arg(long, default_value_t = 2_000)]
    pub assigned: u32,
    /// ComputeBenchmarkFromBeneficiaries: beneficiary-years per call.
    #[arg(long, default_value_t = 3_000)]
    pub records: u32,
    /// Echo: request payload bytes.
    #[arg(long, default_value_t = 512)]
    pub echo_bytes: usize,
    /// Write the report as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write one CSV row per measured call here.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Writes (Reconcile, ComputeBenchmark, UpdateBenchmark, CreateAssignmentRun,
    /// FinalizeAssignmentRun): write the request_id of every call answered OK here, one a line,
    /// warm-up included (what a durability check holds the server to).
    #[arg(long)]
    pub acked: Option<PathBuf>,
    /// Prefix of the request_ids [default: `load-` and the time in nanoseconds, new every run]:
    /// a rerun with the same tag and seed sends the same writes again (retries).
    #[arg(long)]
    pub tag: Option<String>,
    /// TLS towards the target and the bearer token sent (`--tls-ca`, `--auth-token-file`, ...).
    #[command(flatten)]
    pub client: acorn_proto::security::ClientArgs,
}

impl LoadArgs {
    fn schedule(&self) -> Result<Option<Schedule>, String> {
        let kind = match (self.load_schedule, self.rps > 0.0) {
            (None, false) => return Ok(None),
            (None, true) => return Ok(Some(Schedule::Constant { rate: self.rps })),
            (Some(k), _) => k,
        };
        let start = if self.load_start > 0.0 {
            self.load_start
        } else {
            self.rps
        };
        if start <= 0.0 {
            return Err("--load-schedule needs --load-start (or --rps) above 0".into());
        }
        Ok(Some(match kind {
            ScheduleKind::Const => Schedule::Constant { rate: start },
            ScheduleKind::Step => Schedule::Step {
                start,
                step: self.load_step,
                every: self.load_step_duration,
                end: self.load_end,
            },
            ScheduleKind::Line => Schedule::Line {
                start,
                end: self.load_end,
                over: self.load_duration,
            },
        }))
    }
}

/// How long the generator waits for calls still in flight once the measured phase is over.
const DRAIN: Duration = Duration::from_secs(60);

/// Runs the load described by `args` and returns its report (also printed, and written where
/// `--json`/`--csv` say).
pub async fn run(args: &LoadArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.invalid_fraction),
        "--invalid-fraction must be in [0, 1]"
    );
    let schedule = args.schedule().map_err(anyhow::Error::msg)?;
    let service = args.call.service();
    let needs_cases = matches!(service, Service::Settlement | Service::Benchmark);
    let cases = if needs_cases {
        let scenario = Scenario::load(&args.scenario).map_err(|e| anyhow::anyhow!("{e}"))?;
        let (seed, reps, acos) = (args.seed, args.replicates, args.acos);
        tokio::task::spawn_blocking(move || requests::cases(&scenario, seed, reps, acos))
            .await?
            .map_err(anyhow::Error::msg)?
    } else {
        Vec::new()
    };
    let target = args
        .target
        .clone()
        .unwrap_or_else(|| service.default_target());
    let tag = args.tag.clone().unwrap_or_else(|| {
        format!(
            "load-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        )
    });
    let mut t = Target::connect(Setup {
        rpc: args.call,
        target: target.clone(),
        client: args.client.clone(),
        connections: args.connections,
        timeout: args.timeout,
        seed: args.seed,
        invalid: args.invalid_fraction,
        cases,
        pool: args.pool,
        upload: Upload {
            beneficiaries: args.beneficiaries,
            batch_beneficiaries: args.batch_beneficiaries,
            columnar: args.columnar,
            messages: args.stream_messages,
            assigned: args.assigned,
            records: args.records,
        },
        echo_bytes: args.echo_bytes,
        page_size: args.page_size,
        tag,
        acked: args.acked.is_some(),
    })
    .await?;
    let stop = match args.duration {
        Some(d) => Stop::Duration(d),
        None => Stop::Count(args.total.unwrap_or(200)),
    };
    // An upload stream's messages (a synthetic population's claim lines) cost the generator more
    // than the server: made before the clock when the count is known, as each closed-loop worker
    // takes one more than it sends.
    if let (Rpc::UploadAssignmentData, None, Stop::Count(n)) = (args.call, schedule, stop) {
        let n = n.saturating_add(args.concurrency.max(1));
        t = tokio::task::spawn_blocking(move || {
            t.prebuild(n);
            t
        })
        .await?;
    }
    let t = Arc::new(t);
    let meta = Meta {
        call: args.call.full_name(),
        target,
        mode: if schedule.is_some() { "open" } else { "closed" }.into(),
        concurrency: args.concurrency,
        connections: args.connections.max(1),
        schedule: schedule.map(|s| s.describe()),
        warmup_s: args.warmup.as_secs_f64(),
        invalid_fraction: args.invalid_fraction,
        coordinated_omission_corrected: schedule.is_some(),
        units: args.call.units().map(str::to_owned),
    };
    let report = drive(
        t.clone(),
        Plan {
            schedule,
            concurrency: args.concurrency,
            stop,
            warmup: args.warmup,
            interval: args.interval,
            rows: args.csv.is_some(),
        },
        meta,
    )
    .await;
    if let Some(path) = &args.json {
        std::fs::write(path, report.to_json()).with_context(|| format!("{}", path.display()))?;
    }
    if let (Some(path), Some(csv)) = (&args.csv, &report.csv) {
        std::fs::write(path, csv).with_context(|| format!("{}", path.display()))?;
    }
    if let Some(path) = &args.acked {
        let mut text = t.acknowledged().join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        std::fs::write(path, text).with_context(|| format!("{}", path.display()))?;
    }
    Ok(report)
}

/// When the measured phase ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// After this many measured calls.
    Count(u64),
    /// After this long.
    Duration(Duration),
}

/// How to drive a target.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Open loop at this schedule; closed loop when `None`.
    pub schedule: Option<Schedule>,
    /// Closed loop: workers. Open loop: the most calls in flight (0: unlimited).
    pub concurrency: u64,
    /// When to stop.
    pub stop: Stop,
    /// Excluded warm-up.
    pub warmup: Duration,
    /// Interim line period (zero: none).
    pub interval: Duration,
    /// Keep every call for the CSV.
    pub rows: bool,
}

/// Drives `target` by `plan` and returns the report.
pub async fn drive(target: Arc<Target>, plan: Plan, meta: Meta) -> Report {
    let rec = Arc::new(Recorder::new(plan.rows));
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let (stop_ticker, mut ticker_stopped) = tokio::sync::oneshot::channel::<()>();
    let ticker = (!plan.interval.is_zero()).then(|| {
        let rec = rec.clone();
        let every = plan.interval;
        tokio::spawn(async move {
            let mut lines: Vec<Interim> = Vec::new();
            let mut tick = tokio::time::interval_at(measure_from + every, every);
            let mut last = measure_from;
            loop {
                tokio::select! {
                    now = tick.tick() => {
                        if let Some(line) = rec.interim(now - measure_from, now - last) {
                            eprintln!("{line}");
                            lines.push(line);
                        }
                        last = now;
                    }
                    _ = &mut ticker_stopped => break,
                }
            }
            lines
        })
    });
    let ended = match plan.schedule {
        None => closed(&target, &plan, &rec, measure_from).await,
        Some(s) => open(&target, &plan, s, &rec, start, measure_from).await,
    };
    let _ = stop_ticker.send(());
    let interim = match ticker {
        Some(task) => task.await.unwrap_or_default(),
        None => Vec::new(),
    };
    rec.finish(meta, Some(ended), interim)
}

fn stop_reached(plan: &Plan, measured: &AtomicU64, now: Instant, measure_from: Instant) -> bool {
    match plan.stop {
        Stop::Count(n) => measured.load(Ordering::Relaxed) >= n,
        Stop::Duration(d) => now >= measure_from + d,
    }
}

/// Closed loop: `concurrency` workers call back to back. Returns the measured phase's length.
async fn closed(
    target: &Arc<Target>,
    plan: &Plan,
    rec: &Arc<Recorder>,
    measure_from: Instant,
) -> Duration {
    let next = Arc::new(AtomicU64::new(0));
    let measured = Arc::new(AtomicU64::new(0));
    let last_end = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..plan.concurrency.max(1) {
        let (target, rec, next, measured, last_end, plan) = (
            target.clone(),
            rec.clone(),
            next.clone(),
            measured.clone(),
            last_end.clone(),
            *plan,
        );
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let prepared = target.prepare(i);
                let sent = Instant::now();
                let counted = sent >= measure_from;
                if counted {
                    if let Stop::Count(n) = plan.stop
                        && measured.fetch_add(1, Ordering::Relaxed) >= n
                    {
                        break;
                    }
                    if let Stop::Duration(d) = plan.stop
                        && sent >= measure_from + d
                    {
                        break;
                    }
                }
                let (code, units) = target.send(i, prepared).await;
                let done = Instant::now();
                if counted {
                    let lat = done - sent;
                    rec.record(i, sent - measure_from, lat, lat, &code, units);
                    let end = u64::try_from((done - measure_from).as_micros()).unwrap_or(0);
                    last_end.fetch_max(end, Ordering::Relaxed);
                }
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    Duration::from_micros(last_end.load(Ordering::Relaxed))
}

/// Open loop: call `k` is due at the schedule's `k`-th time; latency counts from then.
async fn open(
    target: &Arc<Target>,
    plan: &Plan,
    schedule: Schedule,
    rec: &Arc<Recorder>,
    start: Instant,
    measure_from: Instant,
) -> Duration {
    let limit = if plan.concurrency == 0 {
        tokio::sync::Semaphore::MAX_PERMITS
    } else {
        usize::try_from(plan.concurrency).unwrap_or(usize::MAX)
    };
    let permits = Arc::new(tokio::sync::Semaphore::new(limit));
    let measured = AtomicU64::new(0);
    let last_end = Arc::new(AtomicU64::new(0));
    let mut offset = 0.0f64;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0u64.. {
        let due = start + Duration::from_secs_f64(offset);
        if stop_reached(plan, &measured, due, measure_from) {
            break;
        }
        let counted = due >= measure_from;
        if counted {
            measured.fetch_add(1, Ordering::Relaxed);
        }
        let prepared = target.prepare(i);
        tokio::time::sleep_until(due).await;
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let (target, rec, last_end) = (target.clone(), rec.clone(), last_end.clone());
        tasks.spawn(async move {
            let sent = Instant::now();
            let (code, units) = target.send(i, prepared).await;
            let done = Instant::now();
            drop(permit);
            if counted {
                rec.record(i, due - measure_from, done - due, done - sent, &code, units);
                let end = u64::try_from((done - measure_from).as_micros()).unwrap_or(0);
                last_end.fetch_max(end, Ordering::Relaxed);
            }
        });
        // Reap finished tasks so that a long run holds only the calls in flight.
        while tasks.try_join_next().is_some() {}
        offset = schedule.next(offset);
    }
    let _ = tokio::time::timeout(DRAIN, async { while tasks.join_next().await.is_some() {} }).await;
    let measured_for = match plan.stop {
        Stop::Duration(d) => d,
        Stop::Count(_) => Duration::ZERO,
    };
    Duration::from_micros(last_end.load(Ordering::Relaxed)).max(measured_for)
}

/// `simulator load`: runs on its own runtime and prints the summary.
pub fn main(args: &LoadArgs) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let report = rt.block_on(run(args)).map_err(|e| format!("load: {e:#}"))?;
    print!("{}", report.summary());
    Ok(())
}

/// `simulator echo` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct EchoArgs {
    /// Address to listen on.
    #[arg(long, default_value_t = std::net::SocketAddr::from(([127, 0, 0, 1], echo::DEFAULT_PORT)))]
    pub listen: std::net::SocketAddr,
}

/// `simulator echo`: serves the echo service until SIGINT.
pub fn echo_main(args: &EchoArgs) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(echo::run(args.listen))
        .map_err(|e| format!("echo: {e:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_parse_by_method_or_full_name() {
        assert_eq!("Reconcile".parse(), Ok(Rpc::Reconcile));
        assert_eq!(
            "acorn.attribution.v1.AttributionService/UploadAssignmentData".parse(),
            Ok(Rpc::UploadAssignmentData)
        );
        assert_eq!(
            "acorn.benchmark.v1.BenchmarkService.ComputeBenchmark".parse(),
            Ok(Rpc::ComputeBenchmark)
        );
        assert!(
            "acorn.benchmark.v1.BenchmarkService/Reconcile"
                .parse::<Rpc>()
                .is_err()
        );
        assert!("Nope".parse::<Rpc>().is_err());
        assert_eq!(Rpc::ALL.len(), 20);
        for r in Rpc::ALL {
            assert_eq!(r.full_name().parse(), Ok(*r));
        }
    }
}
