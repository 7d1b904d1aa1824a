//! The load generator's requests, drawn from the simulator's population model.
//!
//! Settlement and benchmark traffic: one replicate (or more) of a scenario that lists its ACOs
//! (default `mssp-2018`, the 548 ACOs of the PY2018 Public Use File) is simulated with the model, and
//! every simulated Track 1 ACO-year becomes a case: its size, enrollment-type mix, agreement start,
//! quality score, and the engines' own updated benchmark and expenditures. Track 1 only, so that
//! every request is valid under one rule set without the two-sided tracks' options.
//!
//! - `Reconcile`, `PreviewReconciliation`, `GetMinimumSavingsRate`: the case as it is.
//! - `ComputeBenchmark` and friends: a first agreement starting 2014 (benchmark years 2011-2013)
//!   with the case's person-years by enrollment type (size x person-years per beneficiary x mix) and
//!   per capita expenditures by type: the case's benchmark per capita split over the types by
//!   fixed relative costs ([`RELATIVE_COST`]) and taken back from PY2018 at 3% a year. The
//!   simulated benchmark years themselves stay inside the model (they never leave the engines'
//!   call), so these are its figures re-expressed, not a second copy of its rules.
//!
//! Attribution traffic: `attribution_rules::synthetic` (the seeded claims generator the engine and
//! its benchmarks use), in contract form (`attribution_svc::synthetic`).
//!
//! A request is made invalid on purpose ([`Mangle`]) when [`is_invalid`] says so: one field that
//! the service must refuse with `INVALID_ARGUMENT`.

use acorn_proto::{
    benchmark::v1 as bm,
    common::v1::{Date, EnrollmentType},
    settlement::v1 as st,
};
use rust_decimal::Decimal;

use crate::{Model, Scenario};

/// One simulated Track 1 ACO-year.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// `A` and the ACO's index in the scenario, e.g. `A0042`.
    pub aco_id: String,
    /// Performance year.
    pub performance_year: i32,
    /// Agreement start (year, month, day).
    pub start: (i32, i32, i32),
    /// Quality score, when the scenario lists one.
    pub quality: Option<f64>,
    /// Assigned beneficiaries.
    pub assigned: u64,
    /// Updated benchmark, total dollars (the engine's).
    pub benchmark: Decimal,
    /// Expenditures, total dollars.
    pub spending: Decimal,
    /// Enrollment-type mix (ESRD, disabled, aged/dual, aged/non-dual).
    pub mix: [f64; 4],
    /// Person-years per assigned beneficiary.
    pub pyfrac: f64,
}

/// Simulates `replicates` replicates of `scenario` (its first `acos` listed ACOs when given) from
/// `seed` and returns every Track 1 ACO-year.
pub fn cases(
    scenario: &Scenario,
    seed: u64,
    replicates: u32,
    acos: Option<usize>,
) -> Result<Vec<Case>, String> {
    let mut sc = scenario.clone();
    if sc.population.aco.is_empty() {
        return Err(format!(
            "scenario {}: the load generator needs a scenario that lists its ACOs (e.g. mssp-2018)",
            sc.name
        ));
    }
    if let Some(n) = acos {
        let n = n.max(1);
        if sc.population.aco.len() > n {
            sc.population.aco.truncate(n);
            sc.population.acos = u32::try_from(n).unwrap_or(u32::MAX);
        }
    }
    let model = Model::new(&sc);
    let mut out = Vec::new();
    for r in 0..replicates.max(1) {
        let rep = model.simulate(seed, r).map_err(|e| e.to_string())?;
        for a in rep.acos {
            let Some(listed) = sc.population.aco.get(a.aco as usize) else {
                continue;
            };
            if listed.track != "TRACK_1" || a.assigned == 0 {
                continue;
            }
            let (y, m, d) = listed.start.ymd();
            let (m, d) = (m as i32, d as i32);
            out.push(Case {
                aco_id: format!("A{:04}", a.aco),
                performance_year: a.performance_year,
                start: (y, m, d),
                quality: listed.quality,
                assigned: a.assigned,
                benchmark: a.benchmark.round_dp(2),
                spending: a.spending.round_dp(2),
                mix: listed.mix,
                pyfrac: listed.pyfrac,
            });
        }
    }
    if out.is_empty() {
        return Err(format!(
            "scenario {}: no Track 1 ACO-year to draw requests from",
            sc.name
        ));
    }
    Ok(out)
}

/// Whether request `i` of a run with `seed` is made invalid, for a share `fraction` of requests
/// (a hash of the two: the same calls for the same seed, whatever the concurrency).
pub fn is_invalid(seed: u64, i: u64, fraction: f64) -> bool {
    if fraction <= 0.0 {
        return false;
    }
    // splitmix64 of (seed, i).
    let mut z = seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    ((z >> 11) as f64 / (1u64 << 53) as f64) < fraction
}

/// A value no service accepts in a money field.
pub const BAD_MONEY: &str = "12,5 dollars";

fn date((year, month, day): (i32, i32, i32)) -> Date {
    Date { year, month, day }
}

/// The case as a reconciliation input.
pub fn reconciliation_input(c: &Case) -> st::ReconciliationInput {
    st::ReconciliationInput {
        aco_id: c.aco_id.clone(),
        performance_year: c.performance_year,
        agreement_start_date: Some(date(c.start)),
        track: st::Track::Track1.into(),
        assigned_beneficiaries: c.assigned,
        experience: Some(st::reconciliation_input::Experience::Totals(
            st::ExpenditureTotals {
                updated_benchmark: c.benchmark.to_string(),
                expenditures: c.spending.to_string(),
            },
        )),
        quality: Some(st::Quality {
            standard: 0,
            score: c.quality.map_or_else(|| "1".into(), |q| format!("{q:.4}")),
        }),
        ..Default::default()
    }
}

/// Makes a reconciliation input invalid (its benchmark is not a number).
pub fn mangle_reconciliation(input: &mut st::ReconciliationInput) {
    input.experience = Some(st::reconciliation_input::Experience::Totals(
        st::ExpenditureTotals {
            updated_benchmark: BAD_MONEY.into(),
            expenditures: "1".into(),
        },
    ));
}

/// The case's MSR question.
pub fn msr_request(c: &Case) -> st::GetMinimumSavingsRateRequest {
    st::GetMinimumSavingsRateRequest {
        track: st::Track::Track1.into(),
        performance_year: c.performance_year,
        agreement_start_date: Some(date(c.start)),
        assigned_beneficiaries: c.assigned,
        ..Default::default()
    }
}

/// Enrollment types in the contract's order of the mix.
pub const TYPES: [EnrollmentType; 4] = EnrollmentType::ALL;

/// Per capita expenditures of each enrollment type relative to aged/non-dual [R: the national
/// assignable per capita of the PUFs, ESRD about 7x, disabled and aged/dual above aged/non-dual].
pub const RELATIVE_COST: [f64; 4] = [7.0, 1.15, 1.9, 1.0];

/// Yearly growth used to take the PY2018 per capita back to the benchmark years [I].
const GROWTH: f64 = 1.03;

fn money(x: f64) -> String {
    Decimal::try_from(x)
        .map(|d| d.round_dp(2).to_string())
        .unwrap_or_else(|_| "0".into())
}

fn amounts(values: [String; 4]) -> Vec<bm::EnrollmentTypeAmount> {
    TYPES
        .iter()
        .zip(values)
        .map(|(t, v)| bm::EnrollmentTypeAmount {
            enrollment_type: (*t).into(),
            amount: v,
        })
        .collect()
}

/// Per capita expenditures by type in `year` for the case.
fn per_capita(c: &Case, year: i32) -> [f64; 4] {
    let pc = c
        .benchmark
        .checked_div(Decimal::from(c.assigned.max(1)))
        .and_then(|d| f64::try_from(d).ok())
        .unwrap_or(10_000.0);
    let weight: f64 = c.mix.iter().zip(RELATIVE_COST).map(|(m, r)| m * r).sum();
    let agnd = pc / weight.max(1e-9) * GROWTH.powi(year - c.performance_year);
    RELATIVE_COST.map(|r| agnd * r)
}

fn person_years(c: &Case) -> [f64; 4] {
    c.mix
        .map(|m| (c.assigned as f64 * c.pyfrac * m).max(1.0).round())
}

/// The case as a first agreement starting 2014 (benchmark years 2011-2013).
pub fn benchmark_input(c: &Case) -> bm::BenchmarkInput {
    let people = person_years(c);
    let seed = c.assigned;
    bm::BenchmarkInput {
        aco_id: c.aco_id.clone(),
        agreement_start_date: Some(Date {
            year: 2014,
            month: 1,
            day: 1,
        }),
        agreement_period: 1,
        benchmark_years: (2011..=2013)
            .map(|year| {
                let pc = per_capita(c, year);
                bm::BenchmarkYear {
                    year,
                    enrollment_types: (0..4)
                        .map(|e| bm::EnrollmentTypeAggregate {
                            enrollment_type: TYPES[e].into(),
                            person_years: format!("{}", people[e]),
                            per_capita_expenditures: money(pc[e]),
                            risk_score: format!(
                                "1.{:03}",
                                (seed + 37 * year as u64 + 11 * e as u64) % 100
                            ),
                        })
                        .collect(),
                }
            })
            .collect(),
        trend_by1_to_by3: amounts(std::array::from_fn(|_| "1.0609".to_string())),
        trend_by2_to_by3: amounts(std::array::from_fn(|_| "1.03".to_string())),
        ..Default::default()
    }
}

/// Makes a benchmark input invalid (a trend factor that is not a number).
pub fn mangle_benchmark(input: &mut bm::BenchmarkInput) {
    if let Some(t) = input.trend_by1_to_by3.first_mut() {
        t.amount = BAD_MONEY.into();
    }
}

/// The first performance year (2015) of the case's 2014 agreement, for `UpdateBenchmark`.
pub fn performance_year(c: &Case) -> bm::PerformanceYearInputs {
    let people = person_years(c);
    let by3 = per_capita(c, 2013);
    let group = |py: f64, risk: &str| bm::RiskGroup {
        person_years: format!("{}", py.round()),
        risk_score: risk.into(),
        demographic_risk_score: "1.01".into(),
    };
    bm::PerformanceYearInputs {
        performance_year: 2015,
        enrollment_types: (0..4)
            .map(|e| bm::PerformanceYearEnrollmentType {
                enrollment_type: TYPES[e].into(),
                person_years: format!("{}", people[e]),
                by3_demographic_risk_score: "1".into(),
                newly_assigned: Some(group((people[e] * 0.1).max(1.0), "1.05")),
                continuously_assigned: Some(group((people[e] * 0.9).max(1.0), "1.01")),
                ..Default::default()
            })
            .collect(),
        national_flat_update: amounts(by3.map(|p| money(p * 0.035))),
        ..Default::default()
    }
}

/// The header of a beneficiary-level computation for the case (benchmark years aggregated from
/// the records; truncation at ten times each type's per capita).
pub fn beneficiary_header(
    c: &Case,
    request_id: String,
) -> bm::ComputeBenchmarkFromBeneficiariesRequest {
    let mut input = benchmark_input(c);
    input.benchmark_years.clear();
    let thresholds = (2011..=2013)
        .flat_map(|year| {
            let pc = per_capita(c, year);
            (0..4).map(move |e| bm::TruncationThreshold {
                year,
                enrollment_type: TYPES[e].into(),
                threshold: money(pc[e] * 10.0),
            })
        })
        .collect();
    bm::ComputeBenchmarkFromBeneficiariesRequest {
        message: Some(
            bm::compute_benchmark_from_beneficiaries_request::Message::Header(
                bm::BeneficiaryComputationHeader {
                    request_id,
                    input: Some(input),
                    truncation_thresholds: thresholds,
                },
            ),
        ),
    }
}

/// `records` beneficiary-years for the case in batches of `batch`: year and type by turns and
/// the mix, expenditures the type's per capita times an exponential(1) draw from `key`.
pub fn beneficiary_batches(
    c: &Case,
    key: u64,
    records: usize,
    batch: usize,
) -> Vec<bm::ComputeBenchmarkFromBeneficiariesRequest> {
    let pcs: Vec<[f64; 4]> = (2011..=2013).map(|y| per_capita(c, y)).collect();
    let mut all = Vec::with_capacity(records);
    for k in 0..records as u64 {
        let u = uniform(key, k);
        let mut e = 3;
        let mut acc = 0.0;
        for (i, m) in c.mix.iter().enumerate() {
            acc += m;
            if u < acc {
                e = i;
                break;
            }
        }
        let y = (k % 3) as usize;
        let draw = -(1.0 - uniform(key ^ 0x5555, k)).max(1e-12).ln();
        all.push(bm::BeneficiaryYear {
            year: 2011 + y as i32,
            enrollment_type: TYPES[e].into(),
            eligible_months: 12,
            expenditures: money(pcs[y][e] * draw),
            risk_score: "1".into(),
        });
    }
    // Every type in every year at least once, so that every benchmark year aggregates.
    for (y, pc) in pcs.iter().enumerate() {
        for (e, t) in TYPES.iter().enumerate() {
            all.push(bm::BeneficiaryYear {
                year: 2011 + y as i32,
                enrollment_type: (*t).into(),
                eligible_months: 12,
                expenditures: money(pc[e]),
                risk_score: "1".into(),
            });
        }
    }
    all.chunks(batch.max(1))
        .map(|chunk| bm::ComputeBenchmarkFromBeneficiariesRequest {
            message: Some(
                bm::compute_benchmark_from_beneficiaries_request::Message::Batch(
                    bm::BeneficiaryYearBatch {
                        records: chunk.to_vec(),
                    },
                ),
            ),
        })
        .collect()
}

fn uniform(key: u64, k: u64) -> f64 {
    let mut z = key.wrapping_add(k.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_invalid_share_is_close_to_the_fraction_and_fixed_by_the_seed() {
        let n = (0..100_000u64).filter(|i| is_invalid(7, *i, 0.1)).count();
        assert!((9_500..10_500).contains(&n), "{n}");
        assert!(!(0..1000u64).any(|i| is_invalid(7, i, 0.0)));
        assert!((0..1000u64).all(|i| is_invalid(7, i, 1.0)));
        let a: Vec<bool> = (0..64).map(|i| is_invalid(3, i, 0.5)).collect();
        let b: Vec<bool> = (0..64).map(|i| is_invalid(3, i, 0.5)).collect();
        assert_eq!(a, b);
    }
}
