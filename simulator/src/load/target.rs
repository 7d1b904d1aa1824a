//! The RPCs the load generator drives: their setup (the records a read needs, made before the
//! clock starts), the request of call `i` ([`Target::prepare`], outside the timed section) and
//! the call itself ([`Target::send`]).

use std::time::Duration;

use acorn_proto::security::{AuthChannel, Bearer, ClientArgs};
use acorn_proto::{
    attribution::v1::{self as at, attribution_service_client::AttributionServiceClient},
    benchmark::v1::{self as bm, benchmark_service_client::BenchmarkServiceClient},
    settlement::v1::{self as st, settlement_service_client::SettlementServiceClient},
};
use anyhow::Context as _;
use attribution_rules::synthetic::{Config, Synthetic};
use attribution_svc::synthetic as contract;
use tonic::transport::Channel;

use super::record::Outcome;
use super::requests::{self as rq, Case};
use super::{Rpc, Service};

/// Largest message the attribution client sends or accepts.
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// The shape of the attribution traffic.
#[derive(Debug, Clone, Copy)]
pub struct Upload {
    /// Synthetic population size (calls wrap around it).
    pub beneficiaries: u32,
    /// Beneficiaries per upload message (about 13 claim lines each).
    pub batch_beneficiaries: u32,
    /// Messages per `UploadAssignmentData` call.
    pub messages: u32,
    /// Claim lines in the columnar form (`claim_columns`).
    pub columnar: bool,
    /// Beneficiaries of the finalized run read by `GetBeneficiaryAssignment` and
    /// `ListAssignedBeneficiaries`.
    pub assigned: u32,
    /// Beneficiary-years per `ComputeBenchmarkFromBeneficiaries` call.
    pub records: u32,
}

/// What a call carries, ready to send.
#[derive(Debug, Clone)]
pub enum Prepared {
    /// settlement.
    Reconcile(st::ReconcileRequest),
    /// settlement.
    PreviewReconciliation(st::PreviewReconciliationRequest),
    /// settlement.
    GetReconciliation(st::GetReconciliationRequest),
    /// settlement.
    ListReconciliations(st::ListReconciliationsRequest),
    /// settlement.
    GetMinimumSavingsRate(st::GetMinimumSavingsRateRequest),
    /// benchmark.
    ComputeBenchmark(bm::ComputeBenchmarkRequest),
    /// benchmark (stream) and its record count.
    ComputeBenchmarkFromBeneficiaries(Vec<bm::ComputeBenchmarkFromBeneficiariesRequest>, u64),
    /// benchmark.
    PreviewBenchmark(bm::PreviewBenchmarkRequest),
    /// benchmark.
    GetBenchmark(bm::GetBenchmarkRequest),
    /// benchmark.
    ListBenchmarks(bm::ListBenchmarksRequest),
    /// benchmark.
    UpdateBenchmark(bm::UpdateBenchmarkRequest),
    /// attribution.
    CreateAssignmentRun(at::CreateAssignmentRunRequest),
    /// attribution (stream) and its claim-line count.
    UploadAssignmentData(Vec<at::UploadAssignmentDataRequest>, u64),
    /// attribution.
    FinalizeAssignmentRun(at::FinalizeAssignmentRunRequest),
    /// attribution.
    GetAssignmentRun(at::GetAssignmentRunRequest),
    /// attribution.
    ListAssignmentRuns(at::ListAssignmentRunsRequest),
    /// attribution.
    GetBeneficiaryAssignment(at::GetBeneficiaryAssignmentRequest),
    /// attribution.
    ListAssignedBeneficiaries(at::ListAssignedBeneficiariesRequest),
    /// attribution.
    DeleteAssignmentRun(at::DeleteAssignmentRunRequest),
    /// echo.
    Echo(Vec<u8>),
}

impl Prepared {
    /// The request_id of a write (the record it makes is found by it).
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Prepared::Reconcile(r) => Some(&r.request_id),
            Prepared::ComputeBenchmark(r) => Some(&r.request_id),
            Prepared::UpdateBenchmark(r) => Some(&r.request_id),
            Prepared::CreateAssignmentRun(r) => Some(&r.request_id),
            Prepared::FinalizeAssignmentRun(r) => Some(&r.request_id),
            _ => None,
        }
    }
}

/// A service under load, with what its calls need.
#[derive(Debug)]
pub struct Target {
    rpc: Rpc,
    channels: Vec<Channel>,
    bearer: Bearer,
    /// request_ids of the writes answered OK, when kept.
    acked: Option<std::sync::Mutex<Vec<String>>>,
    timeout: Duration,
    seed: u64,
    invalid: f64,
    tag: String,
    cases: Vec<Case>,
    /// Ids of records made in setup (reconciliations, benchmarks or runs).
    ids: Vec<String>,
    /// ACO ids (of the records made in setup, or the participants).
    acos: Vec<String>,
    /// Beneficiary ids of the finalized run.
    beneficiaries: Vec<String>,
    synthetic: Option<Synthetic>,
    upload: Upload,
    echo: Vec<u8>,
    page_size: i32,
    /// Calls prepared before the clock ([`Target::prebuild`]), by index, each taken once.
    prebuilt: Vec<std::sync::Mutex<Option<Prepared>>>,
}

fn code<T>(r: Result<T, tonic::Status>) -> Outcome {
    r.map(drop)
}

fn req<T>(message: T, timeout: Duration) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    r.set_timeout(timeout);
    r
}

/// Parameters of [`Target::connect`].
#[derive(Debug, Clone)]
pub struct Setup {
    /// The RPC.
    pub rpc: Rpc,
    /// Server address.
    pub target: String,
    /// TLS and the bearer token.
    pub client: ClientArgs,
    /// HTTP/2 connections.
    pub connections: usize,
    /// Per-call deadline.
    pub timeout: Duration,
    /// Seed of the requests.
    pub seed: u64,
    /// Share made invalid.
    pub invalid: f64,
    /// Cases (settlement and benchmark RPCs).
    pub cases: Vec<Case>,
    /// Records made in setup for the reads.
    pub pool: usize,
    /// Attribution traffic.
    pub upload: Upload,
    /// Echo payload size.
    pub echo_bytes: usize,
    /// Page size of the List RPCs.
    pub page_size: i32,
    /// Prefix of every request_id (unique per run).
    pub tag: String,
    /// Keep the request_id of every write answered OK ([`Target::acknowledged`]).
    pub acked: bool,
}

impl Target {
    /// Connects `connections` channels to the target and makes the records the RPC reads.
    pub async fn connect(s: Setup) -> anyhow::Result<Self> {
        let mut channels = Vec::new();
        for _ in 0..s.connections.max(1) {
            let channel = s
                .client
                .endpoint(&s.target)
                .context("--target")?
                .connect()
                .await
                .with_context(|| format!("connecting to {}", s.target))?;
            channels.push(channel);
        }
        let synthetic = (s.rpc.service() == Service::Attribution).then(|| {
            Synthetic::new(Config {
                seed: s.seed,
                performance_year: 2024,
                beneficiaries: s.upload.beneficiaries.max(1),
                acos: 50,
                tins_per_aco: 40,
                outside_tins: 20_000,
                health_centers: 300,
                ..Config::default()
            })
        });
        let mut t = Self {
            rpc: s.rpc,
            channels,
            bearer: s.client.bearer()?,
            acked: s.acked.then(Default::default),
            timeout: s.timeout,
            seed: s.seed,
            invalid: s.invalid,
            tag: s.tag,
            cases: s.cases,
            ids: Vec::new(),
            acos: Vec::new(),
            beneficiaries: Vec::new(),
            synthetic,
            upload: s.upload,
            echo: (0..s.echo_bytes).map(|i| (i % 251) as u8).collect(),
            page_size: s.page_size,
            prebuilt: Vec::new(),
        };
        t.setup(s.pool.max(1)).await?;
        Ok(t)
    }

    fn channel(&self, i: u64) -> Channel {
        self.channels[(i % self.channels.len() as u64) as usize].clone()
    }

    fn case(&self, i: u64) -> &Case {
        &self.cases[(i % self.cases.len().max(1) as u64) as usize]
    }

    fn settlement(&self, i: u64) -> SettlementServiceClient<AuthChannel> {
        SettlementServiceClient::with_interceptor(self.channel(i), self.bearer.clone())
    }

    fn benchmark(&self, i: u64) -> BenchmarkServiceClient<AuthChannel> {
        BenchmarkServiceClient::with_interceptor(self.channel(i), self.bearer.clone())
    }

    fn attribution(&self, i: u64) -> AttributionServiceClient<AuthChannel> {
        AttributionServiceClient::with_interceptor(self.channel(i), self.bearer.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    fn participants(&self) -> Vec<at::AcoParticipants> {
        self.synthetic
            .as_ref()
            .map(|s| contract::participants(s.acos()))
            .unwrap_or_default()
    }

    fn create_run(&self, request_id: String) -> at::CreateAssignmentRunRequest {
        at::CreateAssignmentRunRequest {
            request_id,
            performance_year: 2024,
            window: at::AssignmentWindow::Retrospective as i32,
            mode: at::AssignmentMode::Retrospective as i32,
            quarter: 0,
            acos: self.participants(),
            tie_break: 0,
        }
    }

    /// Upload messages for beneficiaries `first..first + count` (wrapping around the population),
    /// `per` to a message.
    fn upload_messages(
        &self,
        run_id: &str,
        tag: &str,
        first: u64,
        count: u32,
        per: u32,
    ) -> (Vec<at::UploadAssignmentDataRequest>, u64) {
        let Some(s) = &self.synthetic else {
            return (Vec::new(), 0);
        };
        let size = u64::from(s.config().beneficiaries.max(1));
        let mut out = Vec::new();
        let mut lines = 0u64;
        let mut recs = Vec::new();
        let mut cur = at::UploadAssignmentDataRequest::default();
        for k in 0..u64::from(count) {
            let i = u32::try_from((first + k) % size).unwrap_or(0);
            recs.clear();
            let b = s.beneficiary(i, &mut recs);
            cur.beneficiaries.push(contract::beneficiary(&b));
            cur.claim_lines
                .extend(recs.iter().map(contract::claim_line));
            lines += recs.len() as u64;
            if cur.beneficiaries.len() >= per.max(1) as usize || k + 1 == u64::from(count) {
                if self.upload.columnar {
                    cur.claim_columns = Some(attribution_svc::upload::to_columns(&cur.claim_lines));
                    cur.claim_lines.clear();
                }
                cur.run_id = run_id.to_string();
                cur.request_id = format!("{tag}-{}", out.len());
                out.push(std::mem::take(&mut cur));
            }
        }
        (out, lines)
    }

    async fn upload(&self, msgs: Vec<at::UploadAssignmentDataRequest>) -> anyhow::Result<()> {
        self.attribution(0)
            .upload_assignment_data(req(tokio_stream::iter(msgs), self.timeout))
            .await
            .context("setup: UploadAssignmentData")?;
        Ok(())
    }

    async fn setup(&mut self, pool: usize) -> anyhow::Result<()> {
        let timeout = self.timeout;
        match self.rpc {
            Rpc::GetReconciliation | Rpc::ListReconciliations => {
                for k in 0..pool as u64 {
                    let input = rq::reconciliation_input(self.case(k));
                    let aco = input.aco_id.clone();
                    let r = self
                        .settlement(k)
                        .reconcile(req(
                            st::ReconcileRequest {
                                request_id: format!("{}-setup-{k}", self.tag),
                                input: Some(input),
                            },
                            timeout,
                        ))
                        .await
                        .context("setup: Reconcile")?
                        .into_inner();
                    if let Some(rec) = r.reconciliation {
                        self.ids.push(rec.id);
                        self.acos.push(aco);
                    }
                }
            }
            Rpc::GetBenchmark | Rpc::ListBenchmarks | Rpc::UpdateBenchmark => {
                for k in 0..pool as u64 {
                    let input = rq::benchmark_input(self.case(k));
                    let aco = input.aco_id.clone();
                    let r = self
                        .benchmark(k)
                        .compute_benchmark(req(
                            bm::ComputeBenchmarkRequest {
                                request_id: format!("{}-setup-{k}", self.tag),
                                input: Some(input),
                            },
                            timeout,
                        ))
                        .await
                        .context("setup: ComputeBenchmark")?
                        .into_inner();
                    if let Some(b) = r.benchmark {
                        self.ids.push(b.id);
                        self.acos.push(aco);
                    }
                }
            }
            Rpc::GetAssignmentRun
            | Rpc::ListAssignmentRuns
            | Rpc::DeleteAssignmentRun
            | Rpc::FinalizeAssignmentRun => {
                for k in 0..pool as u64 {
                    let run = self
                        .attribution(k)
                        .create_assignment_run(req(
                            self.create_run(format!("{}-setup-{k}", self.tag)),
                            timeout,
                        ))
                        .await
                        .context("setup: CreateAssignmentRun")?
                        .into_inner()
                        .run
                        .context("setup: no run")?;
                    if self.rpc == Rpc::FinalizeAssignmentRun {
                        let n = self.upload.batch_beneficiaries.clamp(1, 200);
                        let (msgs, _) = self.upload_messages(
                            &run.id,
                            &format!("{}-setup-{k}", self.tag),
                            k * u64::from(n),
                            n,
                            n,
                        );
                        self.upload(msgs).await?;
                    }
                    self.ids.push(run.id);
                }
            }
            Rpc::GetBeneficiaryAssignment
            | Rpc::ListAssignedBeneficiaries
            | Rpc::UploadAssignmentData => {
                let run = self
                    .attribution(0)
                    .create_assignment_run(req(
                        self.create_run(format!("{}-setup", self.tag)),
                        timeout,
                    ))
                    .await
                    .context("setup: CreateAssignmentRun")?
                    .into_inner()
                    .run
                    .context("setup: no run")?;
                if self.rpc != Rpc::UploadAssignmentData {
                    let n = self.upload.assigned.max(1);
                    let (msgs, _) = self.upload_messages(
                        &run.id,
                        &format!("{}-setup", self.tag),
                        0,
                        n,
                        self.upload.batch_beneficiaries,
                    );
                    self.beneficiaries = msgs
                        .iter()
                        .flat_map(|m| m.beneficiaries.iter().map(|b| b.beneficiary_id.clone()))
                        .collect();
                    self.upload(msgs).await?;
                    self.attribution(0)
                        .finalize_assignment_run(req(
                            at::FinalizeAssignmentRunRequest {
                                request_id: format!("{}-finalize", self.tag),
                                run_id: run.id.clone(),
                            },
                            timeout,
                        ))
                        .await
                        .context("setup: FinalizeAssignmentRun")?;
                    self.acos = self.participants().into_iter().map(|a| a.aco_id).collect();
                }
                self.ids.push(run.id);
            }
            _ => {}
        }
        Ok(())
    }

    fn pick(v: &[String], i: u64) -> &str {
        v.get((i % v.len().max(1) as u64) as usize)
            .map_or("", String::as_str)
    }

    /// Whether call `i` is one made invalid on purpose.
    pub fn is_invalid(&self, i: u64) -> bool {
        self.rpc != Rpc::Echo && rq::is_invalid(self.seed, i, self.invalid)
    }

    /// Prepares calls `0..n` now, on every core, so that [`Target::prepare`] only takes them: for
    /// calls whose requests cost more to make than to serve (an upload stream's synthetic claim
    /// lines), the measured figure is then the server's, not the generator's.
    pub fn prebuild(&mut self, n: u64) {
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get() as u64);
        let per = n.div_ceil(threads.max(1)).max(1);
        let this = &*self;
        let built: Vec<Vec<Prepared>> = std::thread::scope(|scope| {
            let parts: Vec<_> = (0..n)
                .step_by(per as usize)
                .map(|first| {
                    scope
                        .spawn(move || (first..n.min(first + per)).map(|i| this.build(i)).collect())
                })
                .collect();
            parts
                .into_iter()
                .map(|p| p.join().unwrap_or_default())
                .collect()
        });
        self.prebuilt = built
            .into_iter()
            .flatten()
            .map(|p| std::sync::Mutex::new(Some(p)))
            .collect();
    }

    /// The request of call `i` (prepared before, [`Target::prebuild`], or now).
    pub fn prepare(&self, i: u64) -> Prepared {
        let ready = usize::try_from(i)
            .ok()
            .and_then(|k| self.prebuilt.get(k))
            .and_then(|slot| slot.lock().ok()?.take());
        ready.unwrap_or_else(|| self.build(i))
    }

    /// Makes the request of call `i`.
    fn build(&self, i: u64) -> Prepared {
        let bad = self.is_invalid(i);
        let id = |v: &[String]| {
            if bad {
                String::new()
            } else {
                Self::pick(v, i).to_string()
            }
        };
        let page_size = if bad { -1 } else { self.page_size };
        let rid = format!("{}-{i}", self.tag);
        match self.rpc {
            Rpc::Reconcile | Rpc::PreviewReconciliation => {
                let mut input = rq::reconciliation_input(self.case(i));
                if bad {
                    rq::mangle_reconciliation(&mut input);
                }
                if self.rpc == Rpc::Reconcile {
                    Prepared::Reconcile(st::ReconcileRequest {
                        request_id: rid,
                        input: Some(input),
                    })
                } else {
                    Prepared::PreviewReconciliation(st::PreviewReconciliationRequest {
                        input: Some(input),
                    })
                }
            }
            Rpc::GetReconciliation => {
                Prepared::GetReconciliation(st::GetReconciliationRequest { id: id(&self.ids) })
            }
            Rpc::ListReconciliations => {
                Prepared::ListReconciliations(st::ListReconciliationsRequest {
                    aco_id: Self::pick(&self.acos, i).to_string(),
                    page_size,
                    ..Default::default()
                })
            }
            Rpc::GetMinimumSavingsRate => {
                let mut r = rq::msr_request(self.case(i));
                if bad {
                    r.track = st::Track::Unspecified.into();
                }
                Prepared::GetMinimumSavingsRate(r)
            }
            Rpc::ComputeBenchmark | Rpc::PreviewBenchmark => {
                let mut input = rq::benchmark_input(self.case(i));
                if bad {
                    rq::mangle_benchmark(&mut input);
                }
                if self.rpc == Rpc::ComputeBenchmark {
                    Prepared::ComputeBenchmark(bm::ComputeBenchmarkRequest {
                        request_id: rid,
                        input: Some(input),
                    })
                } else {
                    Prepared::PreviewBenchmark(bm::PreviewBenchmarkRequest {
                        input: Some(input),
                        performance_year: None,
                    })
                }
            }
            Rpc::ComputeBenchmarkFromBeneficiaries => {
                let c = self.case(i);
                let records = self.upload.records.max(1) as usize;
                let mut msgs = vec![rq::beneficiary_header(c, rid)];
                let mut batches = rq::beneficiary_batches(c, self.seed ^ i, records, 1000);
                if bad
                    && let Some(bm::compute_benchmark_from_beneficiaries_request::Message::Batch(b)) =
                        batches.first_mut().and_then(|m| m.message.as_mut())
                    && let Some(r) = b.records.first_mut()
                {
                    r.expenditures = rq::BAD_MONEY.into();
                }
                msgs.extend(batches);
                let n = records as u64 + 12;
                Prepared::ComputeBenchmarkFromBeneficiaries(msgs, n)
            }
            Rpc::GetBenchmark => {
                Prepared::GetBenchmark(bm::GetBenchmarkRequest { id: id(&self.ids) })
            }
            Rpc::ListBenchmarks => Prepared::ListBenchmarks(bm::ListBenchmarksRequest {
                aco_id: Self::pick(&self.acos, i).to_string(),
                page_size,
                ..Default::default()
            }),
            Rpc::UpdateBenchmark => Prepared::UpdateBenchmark(bm::UpdateBenchmarkRequest {
                request_id: rid,
                benchmark_id: id(&self.ids),
                performance_year: Some(rq::performance_year(self.case(i))),
            }),
            Rpc::CreateAssignmentRun => {
                let mut r = self.create_run(rid);
                if bad {
                    r.performance_year = 0;
                }
                Prepared::CreateAssignmentRun(r)
            }
            Rpc::UploadAssignmentData => {
                let per = self.upload.batch_beneficiaries.max(1);
                let count = per * self.upload.messages.max(1);
                let (mut msgs, lines) = self.upload_messages(
                    Self::pick(&self.ids, 0),
                    &rid,
                    i * u64::from(count),
                    count,
                    per,
                );
                if bad && let Some(m) = msgs.first_mut() {
                    if let Some(l) = m.claim_lines.first_mut() {
                        l.allowed = rq::BAD_MONEY.into();
                    }
                    if let Some(c) = m
                        .claim_columns
                        .as_mut()
                        .and_then(|c| c.allowed_cents.first_mut())
                    {
                        *c = i64::MAX;
                    }
                }
                Prepared::UploadAssignmentData(msgs, lines)
            }
            Rpc::FinalizeAssignmentRun => {
                let run_id = id(&self.ids);
                Prepared::FinalizeAssignmentRun(at::FinalizeAssignmentRunRequest {
                    request_id: format!("{}-finalize-{run_id}", self.tag),
                    run_id,
                })
            }
            Rpc::GetAssignmentRun => Prepared::GetAssignmentRun(at::GetAssignmentRunRequest {
                run_id: id(&self.ids),
            }),
            Rpc::ListAssignmentRuns => {
                Prepared::ListAssignmentRuns(at::ListAssignmentRunsRequest {
                    performance_year: 2024,
                    page_size,
                    ..Default::default()
                })
            }
            Rpc::GetBeneficiaryAssignment => {
                Prepared::GetBeneficiaryAssignment(at::GetBeneficiaryAssignmentRequest {
                    run_id: Self::pick(&self.ids, 0).to_string(),
                    beneficiary_id: id(&self.beneficiaries),
                })
            }
            Rpc::ListAssignedBeneficiaries => {
                Prepared::ListAssignedBeneficiaries(at::ListAssignedBeneficiariesRequest {
                    run_id: Self::pick(&self.ids, 0).to_string(),
                    aco_id: Self::pick(&self.acos, i).to_string(),
                    page_size,
                    ..Default::default()
                })
            }
            Rpc::DeleteAssignmentRun => {
                Prepared::DeleteAssignmentRun(at::DeleteAssignmentRunRequest {
                    run_id: id(&self.ids),
                })
            }
            Rpc::Echo => Prepared::Echo(self.echo.clone()),
        }
    }

    /// Sends call `i`: its outcome and the units (claim lines, beneficiary-years) it carried.
    pub async fn send(&self, i: u64, p: Prepared) -> (Outcome, u64) {
        let Some(acked) = &self.acked else {
            return self.call(i, p).await;
        };
        let id = p.request_id().map(str::to_owned);
        let (code, units) = self.call(i, p).await;
        if code.is_ok()
            && let Some(id) = id
            && let Ok(mut acked) = acked.lock()
        {
            acked.push(id);
        }
        (code, units)
    }

    /// The request_ids of the writes answered OK so far (warm-up included), in the order of the
    /// answers; empty unless [`Setup::acked`].
    pub fn acknowledged(&self) -> Vec<String> {
        self.acked
            .as_ref()
            .and_then(|a| a.lock().ok().map(|a| a.to_vec()))
            .unwrap_or_default()
    }

    async fn call(&self, i: u64, p: Prepared) -> (Outcome, u64) {
        let t = self.timeout;
        match p {
            Prepared::Reconcile(r) => (code(self.settlement(i).reconcile(req(r, t)).await), 0),
            Prepared::PreviewReconciliation(r) => (
                code(self.settlement(i).preview_reconciliation(req(r, t)).await),
                0,
            ),
            Prepared::GetReconciliation(r) => (
                code(self.settlement(i).get_reconciliation(req(r, t)).await),
                0,
            ),
            Prepared::ListReconciliations(r) => (
                code(self.settlement(i).list_reconciliations(req(r, t)).await),
                0,
            ),
            Prepared::GetMinimumSavingsRate(r) => (
                code(self.settlement(i).get_minimum_savings_rate(req(r, t)).await),
                0,
            ),
            Prepared::ComputeBenchmark(r) => (
                code(self.benchmark(i).compute_benchmark(req(r, t)).await),
                0,
            ),
            Prepared::ComputeBenchmarkFromBeneficiaries(msgs, n) => (
                code(
                    self.benchmark(i)
                        .compute_benchmark_from_beneficiaries(req(tokio_stream::iter(msgs), t))
                        .await,
                ),
                n,
            ),
            Prepared::PreviewBenchmark(r) => (
                code(self.benchmark(i).preview_benchmark(req(r, t)).await),
                0,
            ),
            Prepared::GetBenchmark(r) => {
                (code(self.benchmark(i).get_benchmark(req(r, t)).await), 0)
            }
            Prepared::ListBenchmarks(r) => {
                (code(self.benchmark(i).list_benchmarks(req(r, t)).await), 0)
            }
            Prepared::UpdateBenchmark(r) => {
                (code(self.benchmark(i).update_benchmark(req(r, t)).await), 0)
            }
            Prepared::CreateAssignmentRun(r) => (
                code(self.attribution(i).create_assignment_run(req(r, t)).await),
                0,
            ),
            Prepared::UploadAssignmentData(msgs, lines) => (
                code(
                    self.attribution(i)
                        .upload_assignment_data(req(tokio_stream::iter(msgs), t))
                        .await,
                ),
                lines,
            ),
            Prepared::FinalizeAssignmentRun(r) => (
                code(self.attribution(i).finalize_assignment_run(req(r, t)).await),
                0,
            ),
            Prepared::GetAssignmentRun(r) => (
                code(self.attribution(i).get_assignment_run(req(r, t)).await),
                0,
            ),
            Prepared::ListAssignmentRuns(r) => (
                code(self.attribution(i).list_assignment_runs(req(r, t)).await),
                0,
            ),
            Prepared::GetBeneficiaryAssignment(r) => (
                code(
                    self.attribution(i)
                        .get_beneficiary_assignment(req(r, t))
                        .await,
                ),
                0,
            ),
            Prepared::ListAssignedBeneficiaries(r) => (
                code(
                    self.attribution(i)
                        .list_assigned_beneficiaries(req(r, t))
                        .await,
                ),
                0,
            ),
            Prepared::DeleteAssignmentRun(r) => (
                code(self.attribution(i).delete_assignment_run(req(r, t)).await),
                0,
            ),
            Prepared::Echo(bytes) => (
                code(super::echo::call(self.channel(i), self.bearer.apply(req(bytes, t))).await),
                0,
            ),
        }
    }
}
