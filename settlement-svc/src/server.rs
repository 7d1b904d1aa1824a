//! The gRPC adapter: `acorn.settlement.v1.SettlementService` over the rule engine and the ledger.
//!
//! Protobuf types stay here: each request is validated and converted into engine types (every
//! problem reported at once as `INVALID_ARGUMENT` with field violations), the engine computes, and
//! the result is converted back. Nothing is stored unless the whole computation succeeded.

use std::sync::Arc;

use acorn_proto::{
    common::v1 as common,
    fields::{Bound, Violations, invalid_argument},
    ledger::{self, Filter, NewRecord, Recorded, Store},
    page::PageQuery,
    serve::Deadline,
    settlement::v1::{self as pb, settlement_service_server::SettlementService},
};
use prost::Message;
use rust_decimal::Decimal;
use tonic::{Request, Response, Status};

use crate::benchmarks::{BenchmarkSource, SourceError};
use settlement_rules::{
    self as engine, EnrollmentExperience, Experience, ExtremeUncontrollable, Input, MsrBand,
    MsrOption, MsrSchedule, PioneerTerms, Quality, QualityStandard, SettlementError,
    SettlementInput, Step, Track, quality::QualityError, rules::SelectError,
};

/// Default and largest page sizes of `ListReconciliations`.
const DEFAULT_PAGE_SIZE: u32 = 100;
const MAX_PAGE_SIZE: u32 = 1000;

/// The settlement service.
#[derive(Debug, Clone)]
pub struct SettlementApi<S> {
    store: S,
    benchmarks: Option<Arc<dyn BenchmarkSource>>,
}

impl<S: Store> SettlementApi<S> {
    /// A service recording into `store`; benchmarks by reference are read from `benchmarks`
    /// (benchmark-svc, or benchmarks in process), when given.
    pub fn new(store: S, benchmarks: Option<Arc<dyn BenchmarkSource>>) -> Self {
        Self { store, benchmarks }
    }

    /// Validates the input and resolves a benchmark given by reference, within `deadline` (the
    /// incoming call's).
    async fn prepare(
        &self,
        input: Option<&pb::ReconciliationInput>,
        deadline: Option<Deadline>,
    ) -> Result<Validated, Status> {
        let mut v = validate(input)?;
        if let Some(id) = v.benchmark_ref.take() {
            let benchmarks = self.benchmarks.as_deref().ok_or_else(|| {
                Status::failed_precondition(
                    "input.benchmark_reference: this settlement-svc was started without --benchmark-svc",
                )
            })?;
            let aco_id = input.map(|i| i.aco_id.as_str()).unwrap_or_default();
            let (benchmark, two_way) =
                resolve_benchmark(benchmarks, &id, aco_id, v.input.performance_year, deadline)
                    .await?;
            if let Experience::Totals { expenditures, .. } = v.input.experience {
                v.input.experience = Experience::Totals {
                    benchmark,
                    expenditures,
                };
            }
            if v.input.two_way_blend_benchmark.is_none() {
                v.input.two_way_blend_benchmark = two_way;
            }
        }
        Ok(v)
    }
}

/// How long the read of a benchmark may take when the incoming call has no [`Deadline`] (a
/// handler called outside `serve`); under `serve` every call has one (`--request-timeout` at most).
const BENCHMARK_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Reads a recorded benchmark from `source` and checks it is this ACO's updated benchmark for this
/// performance year: its updated total, and its two-way blend total (agreements starting 2024+).
/// The read is given the time left of the incoming call (`deadline`).
async fn resolve_benchmark(
    source: &dyn BenchmarkSource,
    id: &str,
    aco_id: &str,
    performance_year: i32,
    deadline: Option<Deadline>,
) -> Result<(Decimal, Option<Decimal>), Status> {
    let field = "input.benchmark_reference.benchmark_id";
    let timeout = deadline.map_or(BENCHMARK_READ_TIMEOUT, |d| d.remaining());
    let benchmark = source.benchmark(id, timeout).await.map_err(|e| match e {
        SourceError::NotFound => Status::not_found(format!("{field}: benchmark {id} not found")),
        SourceError::InvalidArgument(why) => invalid_argument(field, why),
        SourceError::DeadlineExceeded => Status::deadline_exceeded(format!(
            "{field}: benchmark-svc did not answer within the call's deadline"
        )),
        SourceError::Unavailable(why) => {
            Status::unavailable(format!("{field}: benchmark-svc could not be read: {why}"))
        }
    })?;
    let precondition = |why: String| Status::failed_precondition(format!("{field}: {why}"));
    let Some(year) = benchmark.performance_year else {
        return Err(precondition(format!(
            "benchmark {id} is a historical benchmark: reconcile against its update to the performance year (UpdateBenchmark)"
        )));
    };
    if year != performance_year {
        return Err(precondition(format!(
            "benchmark {id} is updated to performance year {year}, not {performance_year}"
        )));
    }
    let aco = &benchmark.aco_id;
    if aco != aco_id {
        return Err(precondition(format!(
            "benchmark {id} is ACO {aco}'s, not {aco_id}'s"
        )));
    }
    let total = benchmark
        .updated_total
        .filter(|t| *t > Decimal::ZERO)
        .ok_or_else(|| precondition(format!("benchmark {id} has no updated total")))?;
    tracing::debug!(benchmark = %id, "benchmark resolved by reference");
    Ok((total, benchmark.two_way_blend_updated_total))
}

/// A validated request input: the engine input plus what it borrows.
#[derive(Debug)]
pub struct Validated {
    input: SettlementInput<'static>,
    schedule: Option<MsrSchedule>,
    /// A benchmark given by reference, still to be read (the input's benchmark is zero until then).
    benchmark_ref: Option<String>,
    /// Whether the benchmark was given by reference (errors then name those fields).
    by_reference: bool,
}

impl Validated {
    /// The engine input.
    pub fn input(&self) -> SettlementInput<'_> {
        SettlementInput {
            msr_schedule: self.schedule.as_ref(),
            ..self.input.clone()
        }
    }
}

fn track(v: &mut Violations, field: &str, value: i32) -> Option<Track> {
    let t: pb::Track = v.enum_value(field, value)?;
    Some(match t {
        pb::Track::Unspecified => return None,
        pb::Track::Track1 => Track::Track1,
        pb::Track::Track2 => Track::Track2,
        pb::Track::Track3 => Track::Track3,
        pb::Track::Track1Plus => Track::Track1Plus,
        pb::Track::BasicA => Track::BasicA,
        pb::Track::BasicB => Track::BasicB,
        pb::Track::BasicC => Track::BasicC,
        pb::Track::BasicD => Track::BasicD,
        pb::Track::BasicE => Track::BasicE,
        pb::Track::Enhanced => Track::Enhanced,
        pb::Track::Pioneer => Track::Pioneer,
    })
}

fn performance_year(v: &mut Violations, field: &str, value: i32) -> Option<i32> {
    if (2012..=2100).contains(&value) {
        Some(value)
    } else {
        v.add(field, "must be a performance year from 2012");
        None
    }
}

fn msr_option(v: &mut Violations, field: &str, value: i32) -> Option<MsrOption> {
    use pb::MinimumSavingsRateOption as O;
    let o: O = v.optional_enum(field, value)?;
    let fixed = |i: usize| MsrOption::Fixed(MsrOption::FIXED_CHOICES[i]);
    Some(match o {
        O::Unspecified => MsrOption::Default,
        O::Variable => MsrOption::Variable,
        O::Fixed0 => fixed(0),
        O::Fixed05 => fixed(1),
        O::Fixed10 => fixed(2),
        O::Fixed15 => fixed(3),
        O::Fixed20 => fixed(4),
    })
}

fn schedule(v: &mut Violations, field: &str, bands: &[pb::MsrBand]) -> Option<Option<MsrSchedule>> {
    if bands.is_empty() {
        return Some(None);
    }
    let mut out = Vec::with_capacity(bands.len());
    for (i, b) in bands.iter().enumerate() {
        let f = |name: &str| format!("{field}[{i}].{name}");
        let lo = v.decimal(&f("rate_at_min"), &b.rate_at_min, Bound::Fraction);
        let hi = v.decimal(&f("rate_at_max"), &b.rate_at_max, Bound::Fraction);
        if let (Some(rate_at_min), Some(rate_at_max)) = (lo, hi) {
            let max = if b.max_beneficiaries == 0 {
                u64::MAX
            } else {
                b.max_beneficiaries
            };
            out.push(MsrBand {
                min: b.min_beneficiaries,
                max,
                rate_at_min,
                rate_at_max,
            });
        }
    }
    if out.len() != bands.len() {
        return None;
    }
    match MsrSchedule::new(out) {
        Ok(s) => Some(Some(s)),
        Err(e) => {
            v.add(field, e.to_string());
            None
        }
    }
}

fn experience(v: &mut Violations, input: &pb::ReconciliationInput) -> Option<Experience> {
    use pb::reconciliation_input::Experience as E;
    match &input.experience {
        None => {
            v.add(
                "input.totals",
                "the performance-year financials are required (totals, by_enrollment_type or benchmark_reference)",
            );
            None
        }
        Some(E::BenchmarkReference(r)) => {
            v.text(
                "input.benchmark_reference.benchmark_id",
                &r.benchmark_id,
                64,
            );
            let e = v.decimal(
                "input.benchmark_reference.expenditures",
                &r.expenditures,
                Bound::NonNegative,
            );
            // The benchmark itself is read from benchmark-svc once the input is valid.
            Some(Experience::Totals {
                benchmark: Decimal::ZERO,
                expenditures: e?,
            })
        }
        Some(E::Totals(t)) => {
            let b = v.decimal(
                "input.totals.updated_benchmark",
                &t.updated_benchmark,
                Bound::Positive,
            );
            let e = v.decimal(
                "input.totals.expenditures",
                &t.expenditures,
                Bound::NonNegative,
            );
            Some(Experience::Totals {
                benchmark: b?,
                expenditures: e?,
            })
        }
        Some(E::ByEnrollmentType(rows)) => {
            let mut out = [None; 4];
            let mut ok = true;
            if rows.rows.is_empty() {
                v.add(
                    "input.by_enrollment_type.rows",
                    "at least one enrollment type is required",
                );
                return None;
            }
            for (i, r) in rows.rows.iter().enumerate() {
                let f = |name: &str| format!("input.by_enrollment_type.rows[{i}].{name}");
                let t: Option<common::EnrollmentType> =
                    v.enum_value(&f("enrollment_type"), r.enrollment_type);
                let py = v.decimal(&f("person_years"), &r.person_years, Bound::NonNegative);
                let b = v.decimal(
                    &f("updated_benchmark_per_capita"),
                    &r.updated_benchmark_per_capita,
                    Bound::NonNegative,
                );
                let e = v.decimal(
                    &f("expenditures_per_capita"),
                    &r.expenditures_per_capita,
                    Bound::NonNegative,
                );
                let slot = match t {
                    Some(common::EnrollmentType::Esrd) => 0,
                    Some(common::EnrollmentType::Disabled) => 1,
                    Some(common::EnrollmentType::AgedDual) => 2,
                    Some(common::EnrollmentType::AgedNonDual) => 3,
                    _ => {
                        ok = false;
                        continue;
                    }
                };
                if out[slot].is_some() {
                    v.add(f("enrollment_type"), "each enrollment type may appear once");
                    ok = false;
                }
                match (py, b, e) {
                    (
                        Some(person_years),
                        Some(benchmark_per_capita),
                        Some(expenditures_per_capita),
                    ) => {
                        out[slot] = Some(EnrollmentExperience {
                            person_years,
                            benchmark_per_capita,
                            expenditures_per_capita,
                        });
                    }
                    _ => ok = false,
                }
            }
            ok.then_some(Experience::ByEnrollmentType(out))
        }
    }
}

fn quality(v: &mut Violations, q: Option<&pb::Quality>) -> Option<Quality> {
    let Some(q) = q else {
        return Some(Quality::default());
    };
    let standard: pb::QualityStandard = v.optional_enum("input.quality.standard", q.standard)?;
    let score = v.optional_decimal("input.quality.score", &q.score, Bound::Fraction)?;
    let standard = match standard {
        pb::QualityStandard::Unspecified => None,
        pb::QualityStandard::Met => Some(QualityStandard::Met),
        pb::QualityStandard::AlternativeMet => Some(QualityStandard::AlternativeMet),
        pb::QualityStandard::NotMet => Some(QualityStandard::NotMet),
    };
    Some(Quality { standard, score })
}

/// Validates the Pioneer arrangement at `field` (for `track`, when valid).
fn pioneer_arrangement(
    v: &mut Violations,
    field: &str,
    track: Option<Track>,
    p: Option<&pb::PioneerArrangement>,
) -> Option<PioneerTerms> {
    let Some(p) = p else {
        return Some(PioneerTerms::default());
    };
    let f = |name: &str| format!("{field}.{name}");
    let mlr = v.optional_decimal(
        &f("minimum_loss_rate"),
        &p.minimum_loss_rate,
        Bound::Fraction,
    );
    let loss = v.optional_decimal(&f("shared_loss_rate"), &p.shared_loss_rate, Bound::Fraction);
    let sharing = v.optional_decimal(&f("sharing_rate"), &p.sharing_rate, Bound::Fraction);
    let terms = PioneerTerms {
        minimum_loss_rate: mlr?,
        shared_loss_rate: loss?,
        sharing_rate: sharing?,
    };
    if terms != PioneerTerms::default() && track.is_some_and(|t| t != Track::Pioneer) {
        v.add(
            field,
            "applies to TRACK_PIONEER only: other tracks' rates are set by 42 CFR 425",
        );
        return None;
    }
    Some(terms)
}

fn extreme_uncontrollable(
    v: &mut Violations,
    e: Option<&pb::ExtremeUncontrollable>,
) -> Option<ExtremeUncontrollable> {
    use pb::extreme_uncontrollable::Reduction;
    Some(match e.and_then(|e| e.reduction.as_ref()) {
        None => ExtremeUncontrollable::None,
        Some(Reduction::Amount(a)) => ExtremeUncontrollable::Amount(v.decimal(
            "input.extreme_uncontrollable.amount",
            a,
            Bound::NonNegative,
        )?),
        Some(Reduction::AffectedShares(s)) => {
            let m = v.decimal(
                "input.extreme_uncontrollable.affected_shares.month_share",
                &s.month_share,
                Bound::Fraction,
            );
            let b = v.decimal(
                "input.extreme_uncontrollable.affected_shares.beneficiary_share",
                &s.beneficiary_share,
                Bound::Fraction,
            );
            ExtremeUncontrollable::Shares {
                months: m?,
                beneficiaries: b?,
            }
        }
    })
}

/// Validates a `ReconciliationInput` into engine types, naming every bad field.
pub fn validate(input: Option<&pb::ReconciliationInput>) -> Result<Validated, Status> {
    let Some(i) = input else {
        return Err(invalid_argument("input", "is required"));
    };
    let mut v = Violations::default();
    v.text("input.aco_id", &i.aco_id, 64);
    let py = performance_year(&mut v, "input.performance_year", i.performance_year);
    let start = v.date(
        "input.agreement_start_date",
        i.agreement_start_date.as_ref(),
    );
    let track = track(&mut v, "input.track", i.track);
    let experience = experience(&mut v, i);
    let quality = quality(&mut v, i.quality.as_ref());
    let msr_option = msr_option(&mut v, "input.msr_option", i.msr_option);
    let schedule = schedule(&mut v, "input.msr_schedule", &i.msr_schedule);
    let revenue = v.optional_decimal(
        "input.participant_revenue",
        &i.participant_revenue,
        Bound::NonNegative,
    );
    let seq = v.optional_decimal(
        "input.sequestration_rate",
        &i.sequestration_rate,
        Bound::Fraction,
    );
    let euc = extreme_uncontrollable(&mut v, i.extreme_uncontrollable.as_ref());
    let pioneer = pioneer_arrangement(
        &mut v,
        "input.pioneer_arrangement",
        track,
        i.pioneer_arrangement.as_ref(),
    );
    let two_way = v.optional_decimal(
        "input.two_way_blend_updated_benchmark",
        &i.two_way_blend_updated_benchmark,
        Bound::Positive,
    );
    if i.participation_months > 12 {
        v.add(
            "input.participation_months",
            "must be 0 (a full year) or 1-12",
        );
    }
    if i.agreement_performance_year > 10 {
        v.add(
            "input.agreement_performance_year",
            "must be 0 (derived) or 1-10",
        );
    }
    let value = match (
        py, start, track, experience, quality, msr_option, schedule, revenue, seq, euc, two_way,
        pioneer,
    ) {
        (
            Some(performance_year),
            Some(agreement_start),
            Some(track),
            Some(experience),
            Some(quality),
            Some(msr_option),
            Some(schedule),
            Some(participant_revenue),
            Some(sequestration_rate),
            Some(extreme_uncontrollable),
            Some(two_way_blend_benchmark),
            Some(pioneer),
        ) => Some(Validated {
            input: SettlementInput {
                track,
                agreement_start,
                performance_year,
                agreement_year: (i.agreement_performance_year > 0)
                    .then_some(i.agreement_performance_year),
                assigned_beneficiaries: i.assigned_beneficiaries,
                experience,
                quality,
                msr_option,
                msr_schedule: None,
                participant_revenue,
                sequestration_rate,
                extreme_uncontrollable,
                low_revenue: i.low_revenue,
                two_way_blend_benchmark,
                participation_months: (i.participation_months > 0)
                    .then_some(i.participation_months),
                pioneer,
            },
            schedule,
            benchmark_ref: match &i.experience {
                Some(pb::reconciliation_input::Experience::BenchmarkReference(r)) => {
                    Some(r.benchmark_id.clone())
                }
                _ => None,
            },
            by_reference: matches!(
                i.experience,
                Some(pb::reconciliation_input::Experience::BenchmarkReference(_))
            ),
        }),
        _ => None,
    };
    v.finish("input", value)
}

/// Maps an engine error to a status naming the field the caller must change (`prefix` is the path
/// of the input message, e.g. `input.`).
pub fn engine_status(err: &SettlementError, prefix: &str) -> Status {
    invalid_argument(&format!("{prefix}{}", engine_field(err)), err.to_string())
}

/// The field (below the input message) an engine error is about.
fn engine_field(err: &SettlementError) -> &'static str {
    match err {
        SettlementError::RuleSet(SelectError::NotAnAgreementStart { .. }) => "agreement_start_date",
        SettlementError::RuleSet(SelectError::TrackNotOffered { .. }) => "track",
        SettlementError::RuleSet(
            SelectError::PerformanceYearOutOfRange { .. } | SelectError::NotModelled { .. },
        ) => "performance_year",
        SettlementError::Quality(QualityError::ScoreRequired(_)) => "quality.score",
        SettlementError::Quality(
            QualityError::StandardRequired(_) | QualityError::AlternativeBefore2023(_),
        ) => "quality.standard",
        SettlementError::MsrUndefined { .. } => "msr_schedule",
        SettlementError::MsrOptionRequired { .. } | SettlementError::MsrOptionNotOffered { .. } => {
            "msr_option"
        }
        SettlementError::RevenueRequired { .. } => "participant_revenue",
        SettlementError::ZeroBenchmark => "totals.updated_benchmark",
        SettlementError::OutOfRange(input) | SettlementError::Overflow { input, .. } => {
            input_field(*input)
        }
        SettlementError::PioneerTermsNotApplicable { .. } => "pioneer_arrangement",
    }
}

/// The field (below the input message) carrying an engine input.
fn input_field(input: Input) -> &'static str {
    match input {
        Input::Benchmark => "totals.updated_benchmark",
        Input::Expenditures => "totals.expenditures",
        Input::EnrollmentTypes => "by_enrollment_type.rows",
        Input::QualityScore => "quality.score",
        Input::SequestrationRate => "sequestration_rate",
        Input::ParticipantRevenue => "participant_revenue",
        Input::TwoWayBlendBenchmark => "two_way_blend_updated_benchmark",
        Input::PioneerMinimumLossRate => "pioneer_arrangement.minimum_loss_rate",
        Input::PioneerSharedLossRate => "pioneer_arrangement.shared_loss_rate",
        Input::PioneerSharingRate => "pioneer_arrangement.sharing_rate",
        Input::AffectedMonthShare => "extreme_uncontrollable.affected_shares.month_share",
        Input::AffectedBeneficiaryShare => {
            "extreme_uncontrollable.affected_shares.beneficiary_share"
        }
        Input::ExtremeUncontrollableAmount => "extreme_uncontrollable.amount",
    }
}

fn explanation(steps: Vec<Step>) -> Vec<common::ExplanationStep> {
    steps.into_iter().map(Into::into).collect()
}

fn opt(d: Option<Decimal>) -> String {
    d.map(|d| d.normalize().to_string()).unwrap_or_default()
}

fn text(d: Decimal) -> String {
    d.normalize().to_string()
}

/// Computes a settlement with its explanation, as the contract's result message.
pub fn compute(v: &Validated) -> Result<pb::SettlementResult, Status> {
    if v.benchmark_ref.is_some() {
        return Err(Status::internal(
            "a benchmark by reference was not resolved",
        ));
    }
    let mut steps = Vec::new();
    let s = engine::reconcile(&v.input(), &mut steps).map_err(|e| {
        let field = match engine_field(&e) {
            "totals.updated_benchmark" if v.by_reference => "benchmark_reference.benchmark_id",
            "totals.expenditures" if v.by_reference => "benchmark_reference.expenditures",
            // By enrollment type, the benchmark is the person-years-weighted sum of the rows: zero
            // when they give no person-years (or no benchmark), so name the rows, not `totals`.
            "totals.updated_benchmark"
                if matches!(v.input.experience, Experience::ByEnrollmentType(_)) =>
            {
                return invalid_argument(
                    "input.by_enrollment_type.rows",
                    "the updated benchmark (person_years x updated_benchmark_per_capita over the \
                     rows) must be greater than zero: give person-years and a benchmark for at \
                     least one enrollment type",
                );
            }
            field => field,
        };
        invalid_argument(&format!("input.{field}"), e.to_string())
    })?;
    let outcome = match s.outcome {
        engine::Outcome::SharedSavings => pb::Outcome::SharedSavings,
        engine::Outcome::SharedLosses => pb::Outcome::SharedLosses,
        engine::Outcome::WithinCorridor => pb::Outcome::WithinCorridor,
        engine::Outcome::QualityNotMet => pb::Outcome::QualityNotMet,
    };
    Ok(pb::SettlementResult {
        rule_set: s.rule_set.to_string(),
        outcome: outcome.into(),
        updated_benchmark: text(s.updated_benchmark),
        expenditures: text(s.expenditures),
        gross_savings: text(s.gross_savings),
        savings_rate: text(s.savings_rate),
        minimum_savings_rate: text(s.msr),
        minimum_loss_rate: opt(s.mlr),
        final_sharing_rate: text(s.final_sharing_rate),
        shared_loss_rate: opt(s.loss_rate),
        payment_limit: text(s.payment_limit),
        loss_limit: opt(s.loss_limit),
        sequestration_rate: text(s.sequestration_rate),
        shared_savings: format!("{:.2}", s.shared_savings),
        shared_losses: format!("{:.2}", s.shared_losses),
        net_amount: format!("{:.2}", s.net_amount()),
        explanation: explanation(steps),
    })
}

fn decode(body: &[u8]) -> Result<pb::Reconciliation, Status> {
    pb::Reconciliation::decode(body)
        .map_err(|_| Status::internal("a stored reconciliation could not be decoded"))
}

#[tonic::async_trait]
impl<S: Store> SettlementService for SettlementApi<S> {
    #[tracing::instrument(name = "Reconcile", skip_all, fields(request_id = %req.get_ref().request_id))]
    async fn reconcile(
        &self,
        req: Request<pb::ReconcileRequest>,
    ) -> Result<Response<pb::ReconcileResponse>, Status> {
        let deadline = Deadline::of(&req);
        let req = req.into_inner();
        let mut v = Violations::default();
        v.text("request_id", &req.request_id, 128);
        v.into_result()?;
        let validated = self.prepare(req.input.as_ref(), deadline).await?;
        let result = compute(&validated)?;
        let input = req.input.unwrap_or_default();
        let fingerprint = ledger::fingerprint(&input.encode_to_vec());
        let now = std::time::SystemTime::now();
        let reconciliation = pb::Reconciliation {
            id: uuid::Uuid::now_v7().to_string(),
            request_id: req.request_id.clone(),
            result: Some(result),
            create_time: Some(prost_types::Timestamp::from(now)),
            input: Some(input),
        };
        let input = reconciliation.input.as_ref();
        let record = NewRecord {
            id: reconciliation.id.clone(),
            request_id: req.request_id,
            fingerprint,
            aco_id: input.map(|i| i.aco_id.clone()).unwrap_or_default(),
            period: input.map_or(0, |i| i.performance_year),
            body: reconciliation.encode_to_vec(),
        };
        let stored = match self.store.record(record).await? {
            Recorded::Created(_) => {
                tracing::debug!(id = %reconciliation.id, "reconciliation recorded");
                reconciliation
            }
            Recorded::Existing(body) => {
                tracing::debug!("idempotent retry: returning the stored reconciliation");
                decode(&body)?
            }
            Recorded::Conflict => {
                return Err(Status::already_exists(
                    "request_id was already used for a different reconciliation input",
                ));
            }
        };
        Ok(Response::new(pb::ReconcileResponse {
            reconciliation: Some(stored),
        }))
    }

    #[tracing::instrument(name = "PreviewReconciliation", skip_all)]
    async fn preview_reconciliation(
        &self,
        req: Request<pb::PreviewReconciliationRequest>,
    ) -> Result<Response<pb::PreviewReconciliationResponse>, Status> {
        let validated = self
            .prepare(req.get_ref().input.as_ref(), Deadline::of(&req))
            .await?;
        Ok(Response::new(pb::PreviewReconciliationResponse {
            result: Some(compute(&validated)?),
        }))
    }

    #[tracing::instrument(name = "GetReconciliation", skip_all)]
    async fn get_reconciliation(
        &self,
        req: Request<pb::GetReconciliationRequest>,
    ) -> Result<Response<pb::GetReconciliationResponse>, Status> {
        let id = &req.get_ref().id;
        let mut v = Violations::default();
        v.text("id", id, 64);
        v.into_result()?;
        let body = self.store.get(id).await?;
        let body =
            body.ok_or_else(|| Status::not_found(format!("reconciliation {id} not found")))?;
        Ok(Response::new(pb::GetReconciliationResponse {
            reconciliation: Some(decode(&body)?),
        }))
    }

    #[tracing::instrument(name = "ListReconciliations", skip_all)]
    async fn list_reconciliations(
        &self,
        req: Request<pb::ListReconciliationsRequest>,
    ) -> Result<Response<pb::ListReconciliationsResponse>, Status> {
        let r = req.into_inner();
        let mut v = Violations::default();
        let limit = v.page_size("page_size", r.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
        if r.performance_year < 0 {
            v.add("performance_year", "must be 0 (all) or a performance year");
        }
        // The token is bound to the filters (AIP-158): one from another query is refused.
        let query = PageQuery::new("acorn.settlement.v1.SettlementService/ListReconciliations")
            .text(&r.aco_id)
            .int(i64::from(r.performance_year));
        let tokens = self.store.page_tokens();
        let before = v.page_token("page_token", &r.page_token, tokens, &query);
        let (limit, before) = v.finish("page_size", limit.zip(before))?;
        let filter = Filter {
            aco_id: (!r.aco_id.is_empty()).then_some(r.aco_id),
            period: (r.performance_year != 0).then_some(r.performance_year),
            before,
            limit,
        };
        let page = self.store.list(filter).await?;
        let reconciliations = page
            .bodies
            .iter()
            .map(|b| decode(b))
            .collect::<Result<_, _>>()?;
        Ok(Response::new(pb::ListReconciliationsResponse {
            reconciliations,
            next_page_token: tokens.issue_seq(&query, page.next),
        }))
    }

    #[tracing::instrument(name = "GetMinimumSavingsRate", skip_all)]
    async fn get_minimum_savings_rate(
        &self,
        req: Request<pb::GetMinimumSavingsRateRequest>,
    ) -> Result<Response<pb::GetMinimumSavingsRateResponse>, Status> {
        let r = req.get_ref();
        let mut v = Violations::default();
        let track = track(&mut v, "track", r.track);
        let py = performance_year(&mut v, "performance_year", r.performance_year);
        let start = v.date("agreement_start_date", r.agreement_start_date.as_ref());
        let option = msr_option(&mut v, "msr_option", r.msr_option);
        let schedule = schedule(&mut v, "msr_schedule", &r.msr_schedule);
        let pioneer = pioneer_arrangement(
            &mut v,
            "pioneer_arrangement",
            track,
            r.pioneer_arrangement.as_ref(),
        );
        let valid = match (track, py, start, option, schedule, pioneer) {
            (Some(track), Some(py), Some(start), Some(option), Some(schedule), Some(pioneer)) => {
                Some((track, py, start, option, schedule, pioneer))
            }
            _ => None,
        };
        let (track, py, start, option, schedule, pioneer) = v.finish("track", valid)?;
        let rules =
            engine::rules::select(track, start, py).map_err(|e| engine_status(&e.into(), ""))?;
        let mut steps = Vec::new();
        let (msr, mlr) = engine::minimum_rates(
            rules,
            r.assigned_beneficiaries,
            option,
            schedule.as_ref(),
            &pioneer,
            &mut steps,
        )
        .map_err(|e| engine_status(&e, ""))?;
        Ok(Response::new(pb::GetMinimumSavingsRateResponse {
            minimum_savings_rate: text(msr),
            minimum_loss_rate: opt(mlr),
            explanation: explanation(steps),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            "-?[0-9]{0,30}(\\.[0-9]{0,30})?",
            "[0-9eE+.,$ -]{0,12}",
            Just("NaN".to_string()),
            Just("79228162514264337593543950335".to_string()),
            Just("0.0000000000000000000000000001".to_string()),
            ".{0,8}",
        ]
    }

    proptest! {
        /// No request, however malformed, makes validation or the engine panic: it either computes or
        /// is refused with a status.
        #[test]
        fn any_input_validates_or_is_refused_without_panicking(
            benchmark in text(), expenditures in text(), score in text(), revenue in text(),
            seq in text(), euc in text(), two_way in text(),
            track in -2i32..14, option in -1i32..9, standard in -1i32..5,
            py in 2000i32..2040, year in 2010i32..2026, month in -1i32..14, day in -1i32..33,
            n in prop_oneof![Just(0u64), 0u64..200_000, Just(u64::MAX)],
            months in 0u32..14, agreement_year in 0u32..12, low_revenue in any::<bool>(),
        ) {
            let input = pb::ReconciliationInput {
                aco_id: "A1".into(),
                performance_year: py,
                agreement_start_date: Some(common::Date { year, month, day }),
                track,
                assigned_beneficiaries: n,
                experience: Some(pb::reconciliation_input::Experience::Totals(pb::ExpenditureTotals {
                    updated_benchmark: benchmark,
                    expenditures,
                })),
                quality: Some(pb::Quality { standard, score }),
                msr_option: option,
                participant_revenue: revenue,
                sequestration_rate: seq,
                extreme_uncontrollable: Some(pb::ExtremeUncontrollable {
                    reduction: Some(pb::extreme_uncontrollable::Reduction::Amount(euc)),
                }),
                agreement_performance_year: agreement_year,
                low_revenue,
                two_way_blend_updated_benchmark: two_way,
                participation_months: months,
                ..Default::default()
            };
            if let Ok(v) = validate(Some(&input)) {
                let _ = compute(&v);
            }
        }
    }

    /// Any non-negative decimal as text: any 96-bit mantissa at any scale (0 to 7.9e28).
    fn full_range() -> impl Strategy<Value = String> {
        prop_oneof![
            (any::<u32>(), any::<u32>(), any::<u32>(), 0u32..=28).prop_map(
                |(lo, mid, hi, scale)| {
                    Decimal::from_parts(lo, mid, hi, false, scale).to_string()
                }
            ),
            Just(Decimal::MAX.to_string()),
            Just("0.0000000000000000000000000001".to_string()),
            Just("0".to_string()),
        ]
    }

    proptest! {
        /// Well-formed requests with amounts across the whole representable range compute or are
        /// refused with INVALID_ARGUMENT naming a field; none panics (section 5 of the conformance
        /// issue: a tiny benchmark panicked the handler).
        #[test]
        fn any_representable_amount_computes_or_names_a_field(
            benchmark in full_range(), expenditures in full_range(), revenue in full_range(),
            two_way in full_range(), euc in full_range(),
            case in prop_oneof![
                Just((pb::Track::Track3, 2016, 2018)),
                Just((pb::Track::BasicC, 2024, 2025)),
                Just((pb::Track::Track1, 2016, 2019)),
                Just((pb::Track::Pioneer, 2012, 2013)),
            ],
        ) {
            let (track, year, py) = case;
            let input = pb::ReconciliationInput {
                aco_id: "A1".into(),
                performance_year: py,
                agreement_start_date: Some(common::Date { year, month: 1, day: 1 }),
                track: track.into(),
                assigned_beneficiaries: 10_000,
                experience: Some(pb::reconciliation_input::Experience::Totals(pb::ExpenditureTotals {
                    updated_benchmark: benchmark,
                    expenditures,
                })),
                quality: Some(pb::Quality { standard: pb::QualityStandard::Met.into(), score: "0.9".into() }),
                msr_option: pb::MinimumSavingsRateOption::Fixed10.into(),
                participant_revenue: revenue,
                two_way_blend_updated_benchmark: two_way,
                extreme_uncontrollable: Some(pb::ExtremeUncontrollable {
                    reduction: Some(pb::extreme_uncontrollable::Reduction::Amount(euc)),
                }),
                ..Default::default()
            };
            let outcome = validate(Some(&input)).and_then(|v| compute(&v));
            if let Err(status) = outcome {
                prop_assert_eq!(status.code(), tonic::Code::InvalidArgument, "{}", status.message());
                prop_assert!(status.message().contains("input."), "{}", status.message());
            }
        }
    }
}
