//! `--via grpc`: the benchmark and settlement steps sent to running benchmark-svc and
//! settlement-svc with their Preview RPCs (nothing is recorded, so no request_id is needed and
//! a rerun never collides with an earlier one).
//!
//! Each ACO-year is two calls: `PreviewBenchmark` with the performance year (the service computes
//! the historical benchmark and its update in one call) and `PreviewReconciliation`. Calls are
//! blocking for the simulation thread that makes them and run on one shared tokio runtime over
//! one HTTP/2 channel per service, so the replicates in flight on `--threads` threads make as many
//! concurrent calls. Conversions go through the contracts' decimal strings, which carry every
//! engine input exactly.

use std::future::Future;

use acorn_proto::benchmark::v1::{self as bpb, benchmark_service_client::BenchmarkServiceClient};
use acorn_proto::common::v1 as common;
use acorn_proto::security::{AuthChannel, ClientArgs};
use acorn_proto::settlement::v1::{
    self as spb, settlement_service_client::SettlementServiceClient,
};
use benchmark_rules::{ByType, HistoricalInput, PerformanceYearInput};
use rust_decimal::Decimal;
use settlement_rules::{
    Experience, ExtremeUncontrollable, MsrOption, Outcome, QualityStandard, Settlement,
    SettlementInput, Track,
};
use tokio::runtime::Runtime;

use super::{Agreement, Engines, UpdatedBenchmark, canonical_msr, fixed_choice_index};

/// The services over gRPC.
#[derive(Debug)]
pub struct GrpcEngines {
    runtime: Runtime,
    benchmark: BenchmarkServiceClient<AuthChannel>,
    settlement: SettlementServiceClient<AuthChannel>,
}

/// The ACO id sent with every request (the contracts require one; the simulator's ACOs have none).
const ACO_ID: &str = "SIMULATED";

impl GrpcEngines {
    /// Connects to benchmark-svc at `benchmark_url` and settlement-svc at `settlement_url`
    /// (e.g. `http://127.0.0.1:50052`), both with the TLS settings and bearer token of `client`.
    pub fn connect(
        benchmark_url: &str,
        settlement_url: &str,
        client: &ClientArgs,
    ) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("simulator-grpc")
            .enable_all()
            .build()
            .map_err(|e| format!("gRPC runtime: {e}"))?;
        let bearer = client.bearer().map_err(|e| format!("{e:#}"))?;
        let channel = |what: &str, url: &str| -> Result<AuthChannel, String> {
            let endpoint = client
                .endpoint(url)
                .map_err(|e| format!("--{what}-url: {e:#}"))?;
            let channel = runtime
                .block_on(endpoint.connect())
                .map_err(|e| format!("cannot reach {what}-svc at {url}: {e}"))?;
            Ok(AuthChannel::new(channel, bearer.clone()))
        };
        let benchmark = BenchmarkServiceClient::new(channel("benchmark", benchmark_url)?);
        let settlement = SettlementServiceClient::new(channel("settlement", settlement_url)?);
        Ok(Self {
            runtime,
            benchmark,
            settlement,
        })
    }

    fn call<T>(
        &self,
        what: &str,
        fut: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, String> {
        self.runtime
            .block_on(fut)
            .map(tonic::Response::into_inner)
            .map_err(|s| format!("{what}: {:?}: {}", s.code(), s.message()))
    }
}

fn text(d: Decimal) -> String {
    d.to_string()
}

fn opt(d: Option<Decimal>) -> String {
    d.map(text).unwrap_or_default()
}

fn date(d: settlement_rules::Date) -> common::Date {
    common::Date {
        year: d.year(),
        month: i32::try_from(d.month()).unwrap_or(0),
        day: i32::try_from(d.day()).unwrap_or(0),
    }
}

/// Enrollment type `i` of a [`ByType`] (ESRD, disabled, aged/dual, aged/non-dual).
fn enrollment_type(i: usize) -> i32 {
    common::EnrollmentType::ALL[i].into()
}

fn amounts(v: &ByType<Decimal>) -> Vec<bpb::EnrollmentTypeAmount> {
    v.iter()
        .enumerate()
        .map(|(i, a)| bpb::EnrollmentTypeAmount {
            enrollment_type: enrollment_type(i),
            amount: text(*a),
        })
        .collect()
}

fn opt_amounts(v: &Option<ByType<Decimal>>) -> Vec<bpb::EnrollmentTypeAmount> {
    v.as_ref().map(amounts).unwrap_or_default()
}

fn benchmark_input(
    input: &HistoricalInput,
    (start, period): (settlement_rules::Date, u32),
) -> Result<bpb::BenchmarkInput, String> {
    if input.regional.is_some() || input.prior_savings.is_some() {
        // The simulator sends neither (MODEL.md 5.1); refuse rather than drop them.
        return Err("regional and prior-savings inputs are not sent over gRPC".into());
    }
    let [t1, t2] = match &input.national_trend {
        Some([a, b]) => [amounts(a), amounts(b)],
        None => [Vec::new(), Vec::new()],
    };
    Ok(bpb::BenchmarkInput {
        aco_id: ACO_ID.into(),
        agreement_start_date: Some(date(start)),
        agreement_period: period,
        benchmark_years: input
            .years
            .iter()
            .zip(&input.experience)
            .map(|(year, exp)| bpb::BenchmarkYear {
                year: *year,
                enrollment_types: exp
                    .iter()
                    .enumerate()
                    .map(|(i, e)| bpb::EnrollmentTypeAggregate {
                        enrollment_type: enrollment_type(i),
                        person_years: text(e.person_years),
                        per_capita_expenditures: text(e.per_capita),
                        risk_score: text(e.risk_score),
                    })
                    .collect(),
            })
            .collect(),
        trend_by1_to_by3: t1,
        trend_by2_to_by3: t2,
        regional: None,
        prior_savings: None,
    })
}

fn risk_group(g: &Option<benchmark_rules::RiskGroup>) -> Option<bpb::RiskGroup> {
    g.as_ref().map(|g| bpb::RiskGroup {
        person_years: text(g.person_years),
        risk_score: text(g.risk_score),
        demographic_risk_score: text(g.demographic_risk_score),
    })
}

fn performance_year(py: &PerformanceYearInput) -> Result<bpb::PerformanceYearInputs, String> {
    if py.regional_risk.is_some() {
        return Err("regional risk growth is not sent over gRPC".into());
    }
    Ok(bpb::PerformanceYearInputs {
        performance_year: py.performance_year,
        enrollment_types: py
            .types
            .iter()
            .enumerate()
            .map(|(i, t)| bpb::PerformanceYearEnrollmentType {
                enrollment_type: enrollment_type(i),
                person_years: text(t.person_years),
                risk_score: opt(t.risk_score),
                demographic_risk_score: opt(t.demographic_risk_score),
                by3_demographic_risk_score: opt(t.by3_demographic_risk_score),
                newly_assigned: risk_group(&t.newly_assigned),
                continuously_assigned: risk_group(&t.continuously_assigned),
            })
            .collect(),
        national_flat_update: opt_amounts(&py.national_flat_update),
        national_growth: opt_amounts(&py.national_growth),
        regional_growth: opt_amounts(&py.regional_growth),
        acpt: opt_amounts(&py.acpt),
        acpt_weight: opt(py.acpt_weight),
        national_weight: opt(py.national_weight),
        regional_risk: None,
    })
}

fn parse(what: &str, s: &str) -> Result<Decimal, String> {
    s.parse::<Decimal>()
        .map_err(|_| format!("the service returned {what} {s:?}, not a decimal"))
}

fn track(t: Track) -> spb::Track {
    match t {
        Track::Track1 => spb::Track::Track1,
        Track::Track2 => spb::Track::Track2,
        Track::Track3 => spb::Track::Track3,
        Track::Track1Plus => spb::Track::Track1Plus,
        Track::BasicA => spb::Track::BasicA,
        Track::BasicB => spb::Track::BasicB,
        Track::BasicC => spb::Track::BasicC,
        Track::BasicD => spb::Track::BasicD,
        Track::BasicE => spb::Track::BasicE,
        Track::Enhanced => spb::Track::Enhanced,
        Track::Pioneer => spb::Track::Pioneer,
    }
}

fn msr_option(o: MsrOption) -> Result<spb::MinimumSavingsRateOption, String> {
    use spb::MinimumSavingsRateOption as O;
    Ok(match canonical_msr(o) {
        MsrOption::Default => O::Unspecified,
        MsrOption::Variable => O::Variable,
        MsrOption::Fixed(d) => match fixed_choice_index(d) {
            Some(0) => O::Fixed0,
            Some(1) => O::Fixed05,
            Some(2) => O::Fixed10,
            Some(3) => O::Fixed15,
            Some(4) => O::Fixed20,
            _ => {
                return Err(format!(
                    "a fixed MSR of {d} is not one of the contract's choices (0, 0.5, 1, 1.5, 2%)"
                ));
            }
        },
    })
}

fn reconciliation_input(i: &SettlementInput<'_>) -> Result<spb::ReconciliationInput, String> {
    use spb::reconciliation_input::Experience as E;
    let experience = match &i.experience {
        Experience::Totals {
            benchmark,
            expenditures,
        } => E::Totals(spb::ExpenditureTotals {
            updated_benchmark: text(*benchmark),
            expenditures: text(*expenditures),
        }),
        Experience::ByEnrollmentType(rows) => E::ByEnrollmentType(spb::EnrollmentTypeBreakdown {
            rows: rows
                .iter()
                .enumerate()
                .filter_map(|(k, r)| {
                    r.map(|r| spb::EnrollmentTypeExperience {
                        enrollment_type: enrollment_type(k),
                        person_years: text(r.person_years),
                        updated_benchmark_per_capita: text(r.benchmark_per_capita),
                        expenditures_per_capita: text(r.expenditures_per_capita),
                    })
                })
                .collect(),
        }),
    };
    let standard = match i.quality.standard {
        None => spb::QualityStandard::Unspecified,
        Some(QualityStandard::Met) => spb::QualityStandard::Met,
        Some(QualityStandard::AlternativeMet) => spb::QualityStandard::AlternativeMet,
        Some(QualityStandard::NotMet) => spb::QualityStandard::NotMet,
    };
    let extreme = match i.extreme_uncontrollable {
        ExtremeUncontrollable::None => None,
        ExtremeUncontrollable::Amount(a) => Some(spb::ExtremeUncontrollable {
            reduction: Some(spb::extreme_uncontrollable::Reduction::Amount(text(a))),
        }),
        ExtremeUncontrollable::Shares {
            months,
            beneficiaries,
        } => Some(spb::ExtremeUncontrollable {
            reduction: Some(spb::extreme_uncontrollable::Reduction::AffectedShares(
                spb::AffectedShares {
                    month_share: text(months),
                    beneficiary_share: text(beneficiaries),
                },
            )),
        }),
    };
    let p = &i.pioneer;
    let pioneer =
        (*p != settlement_rules::PioneerTerms::default()).then(|| spb::PioneerArrangement {
            minimum_loss_rate: opt(p.minimum_loss_rate),
            shared_loss_rate: opt(p.shared_loss_rate),
            sharing_rate: opt(p.sharing_rate),
        });
    Ok(spb::ReconciliationInput {
        aco_id: ACO_ID.into(),
        performance_year: i.performance_year,
        agreement_start_date: Some(date(i.agreement_start)),
        track: track(i.track).into(),
        assigned_beneficiaries: i.assigned_beneficiaries,
        experience: Some(experience),
        quality: Some(spb::Quality {
            standard: standard.into(),
            score: opt(i.quality.score),
        }),
        msr_option: msr_option(i.msr_option)?.into(),
        msr_schedule: i
            .msr_schedule
            .map(|s| {
                s.bands()
                    .iter()
                    .map(|b| spb::MsrBand {
                        min_beneficiaries: b.min,
                        max_beneficiaries: if b.max == u64::MAX { 0 } else { b.max },
                        rate_at_min: text(b.rate_at_min),
                        rate_at_max: text(b.rate_at_max),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        participant_revenue: opt(i.participant_revenue),
        sequestration_rate: opt(i.sequestration_rate),
        extreme_uncontrollable: extreme,
        agreement_performance_year: i.agreement_year.unwrap_or(0),
        low_revenue: i.low_revenue,
        two_way_blend_updated_benchmark: opt(i.two_way_blend_benchmark),
        participation_months: i.participation_months.unwrap_or(0),
        pioneer_arrangement: pioneer,
    })
}

impl Engines for GrpcEngines {
    fn benchmark(
        &self,
        agreement: &mut Agreement<'_>,
        py: &PerformanceYearInput,
    ) -> Result<UpdatedBenchmark, String> {
        let (rules, input) = (agreement.rules, &agreement.input);
        // benchmark-svc selects its rule set by the agreement it is given. The agreement start
        // enters no benchmark formula (only that choice), so where the scenario's ACOs are not
        // under the rule set their own agreement selects (Pioneer ACOs, benchmarked with the
        // 2012 MSSP rules, MODEL.md 5.1), the service is asked with an agreement that selects
        // exactly the scenario's rule set.
        let asked =
            match benchmark_rules::rules::select(input.agreement_start, input.agreement_period) {
                Ok(r) if crate::scenario::service_computes(&r, rules) => {
                    (input.agreement_start, input.agreement_period)
                }
                _ => crate::scenario::rule_set_agreement(rules).ok_or_else(|| {
                    format!(
                        "benchmark rule set {}: benchmark-svc computes its regional adjustment, \
                         trend and update from regional inputs the simulator does not model \
                         (MODEL.md 5.1), so --via grpc cannot request the national-only \
                         benchmark the simulator uses for it (MODEL.md 5.4); run in process",
                        rules.id
                    )
                })?,
            };
        let request = bpb::PreviewBenchmarkRequest {
            input: Some(benchmark_input(input, asked)?),
            performance_year: Some(performance_year(py)?),
        };
        let mut client = self.benchmark.clone();
        let answer = client.preview_benchmark(request);
        let r = self.call("benchmark-svc PreviewBenchmark", answer)?;
        let r = r.result.ok_or("benchmark-svc returned no result")?;
        let mut per_capita: ByType<Option<Decimal>> = [None; 4];
        for t in &r.enrollment_types {
            let k = usize::try_from(t.enrollment_type - 1)
                .ok()
                .filter(|k| *k < 4)
                .ok_or("benchmark-svc returned an unknown enrollment type")?;
            per_capita[k] = Some(parse("updated_per_capita", &t.updated_per_capita)?.normalize());
        }
        let mut out = [Decimal::ZERO; 4];
        for (o, p) in out.iter_mut().zip(per_capita) {
            *o = p.ok_or("benchmark-svc left out an enrollment type")?;
        }
        Ok(UpdatedBenchmark {
            per_capita: out,
            total: parse("updated_total", &r.updated_total)?.normalize(),
        })
    }

    fn settle(&self, input: &SettlementInput<'_>) -> Result<Settlement, String> {
        let request = spb::PreviewReconciliationRequest {
            input: Some(reconciliation_input(input)?),
        };
        let mut client = self.settlement.clone();
        let answer = client.preview_reconciliation(request);
        let r = self.call("settlement-svc PreviewReconciliation", answer)?;
        let r = r.result.ok_or("settlement-svc returned no result")?;
        let outcome = match spb::Outcome::try_from(r.outcome) {
            Ok(spb::Outcome::SharedSavings) => Outcome::SharedSavings,
            Ok(spb::Outcome::SharedLosses) => Outcome::SharedLosses,
            Ok(spb::Outcome::WithinCorridor) => Outcome::WithinCorridor,
            Ok(spb::Outcome::QualityNotMet) => Outcome::QualityNotMet,
            _ => return Err(format!("settlement-svc returned outcome {}", r.outcome)),
        };
        // The engine's own selection gives the rule set id as a `&'static str`; the service must
        // have applied the same one.
        let rule_set = settlement_rules::rules::select(
            input.track,
            input.agreement_start,
            input.performance_year,
        )
        .map_err(|e| e.to_string())?
        .id;
        if r.rule_set != rule_set {
            return Err(format!(
                "settlement-svc applied rule set {:?}, not {rule_set:?}",
                r.rule_set
            ));
        }
        let d = |what: &str, s: &str| parse(what, s).map(|d| d.normalize());
        // Two-sided terms only: empty otherwise.
        let o = |what: &str, s: &str| (!s.is_empty()).then(|| d(what, s)).transpose();
        let mlr = o("minimum_loss_rate", &r.minimum_loss_rate)?;
        let loss_rate = o("shared_loss_rate", &r.shared_loss_rate)?;
        let loss_limit = o("loss_limit", &r.loss_limit)?;
        Ok(Settlement {
            rule_set,
            outcome,
            mlr,
            loss_rate,
            loss_limit,
            updated_benchmark: d("updated_benchmark", &r.updated_benchmark)?,
            expenditures: d("expenditures", &r.expenditures)?,
            gross_savings: d("gross_savings", &r.gross_savings)?,
            savings_rate: d("savings_rate", &r.savings_rate)?,
            msr: d("minimum_savings_rate", &r.minimum_savings_rate)?,
            final_sharing_rate: d("final_sharing_rate", &r.final_sharing_rate)?,
            payment_limit: d("payment_limit", &r.payment_limit)?,
            sequestration_rate: d("sequestration_rate", &r.sequestration_rate)?,
            shared_savings: d("shared_savings", &r.shared_savings)?,
            shared_losses: d("shared_losses", &r.shared_losses)?,
        })
    }

    fn name(&self) -> &'static str {
        "gRPC"
    }
}
