//! The gRPC adapter: `acorn.benchmark.v1.BenchmarkService` over the rule engine and the ledger.
//!
//! Protobuf types stay here: each request is validated and converted into engine types (every
//! problem reported at once as `INVALID_ARGUMENT` with field violations), the engine computes, and
//! the result is converted back, per capita amounts and totals rounded to cents. Nothing is stored
//! unless the whole computation succeeded. Beneficiary-level records carry no identifier, and
//! nothing about them is logged.

use acorn_domain::money::format_money;
use acorn_proto::{
    benchmark::v1::{self as pb, benchmark_service_server::BenchmarkService},
    common::v1 as common,
    fields::{Bound, Violations, invalid_argument},
    ledger::{self, Filter, NewRecord, Recorded, Store},
    page::PageQuery,
};
use prost::Message;
use rust_decimal::Decimal;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use benchmark_rules::{
    self as engine, BenchmarkError, ByType, EnrollmentType, Group, Historical, HistoricalInput,
    Input, PerformanceYearInput, PerformanceYearType, PriorSavingsInput, Quantity, Range,
    RegionalInput, RegionalRiskInput, RiskGroup, SelectError, Series, Step, TYPES, Updated,
    YearExperience,
    truncation::{Aggregator, BeneficiaryYear, parse_cents, parse_millionths},
};

/// Default and largest page sizes of `ListBenchmarks`.
const DEFAULT_PAGE_SIZE: u32 = 100;
const MAX_PAGE_SIZE: u32 = 1000;

/// The benchmark service.
#[derive(Debug, Clone)]
pub struct BenchmarkApi<S> {
    store: S,
}

impl<S: Store> BenchmarkApi<S> {
    /// A service recording into `store`.
    pub fn new(store: S) -> Self {
        Self { store }
    }
}

/// The engine's range of a value ([`engine::input`]) as the bound of the request field carrying it:
/// each range is defined once, in the engine, which refuses a value outside it whoever calls it;
/// checking it here too reports every problem of a request at once, under the contract's names.
fn within(range: Range) -> Bound {
    Bound::Between {
        min: range.min,
        max: range.max,
        reason: range.reason,
    }
}

fn enrollment_type(v: &mut Violations, field: &str, value: i32) -> Option<EnrollmentType> {
    let t: common::EnrollmentType = v.enum_value(field, value)?;
    Some(match t {
        common::EnrollmentType::Unspecified => return None,
        common::EnrollmentType::Esrd => EnrollmentType::Esrd,
        common::EnrollmentType::Disabled => EnrollmentType::Disabled,
        common::EnrollmentType::AgedDual => EnrollmentType::AgedDual,
        common::EnrollmentType::AgedNonDual => EnrollmentType::AgedNonDual,
    })
}

fn proto_type(t: EnrollmentType) -> common::EnrollmentType {
    match t {
        EnrollmentType::Esrd => common::EnrollmentType::Esrd,
        EnrollmentType::Disabled => common::EnrollmentType::Disabled,
        EnrollmentType::AgedDual => common::EnrollmentType::AgedDual,
        EnrollmentType::AgedNonDual => common::EnrollmentType::AgedNonDual,
    }
}

/// Parses a list holding each enrollment type exactly once (`Some(None)` when `optional` and empty).
fn by_type<I, T: Copy + Default>(
    v: &mut Violations,
    field: &str,
    items: &[I],
    optional: bool,
    ty: impl Fn(&I) -> i32,
    mut parse: impl FnMut(&mut Violations, &str, &I) -> Option<T>,
) -> Option<Option<ByType<T>>> {
    if items.is_empty() {
        if optional {
            return Some(None);
        }
        v.add(field, "must list each of the four enrollment types once");
        return None;
    }
    let mut out = [T::default(); 4];
    let mut seen = [false; 4];
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let t = enrollment_type(v, &format!("{f}.enrollment_type"), ty(item));
        let value = parse(v, &f, item);
        match (t, value) {
            (Some(t), Some(value)) if !seen[t.index()] => {
                seen[t.index()] = true;
                out[t.index()] = value;
            }
            (Some(_), _) if ok && t.is_some_and(|t| seen[t.index()]) => {
                v.add(
                    format!("{f}.enrollment_type"),
                    "each enrollment type may appear once",
                );
                ok = false;
            }
            _ => ok = false,
        }
    }
    if ok && seen.iter().any(|s| !s) {
        let missing: Vec<&str> = TYPES
            .iter()
            .filter(|t| !seen[t.index()])
            .map(|t| t.name())
            .collect();
        v.add(
            field,
            format!("is missing enrollment types {}", missing.join(", ")),
        );
        ok = false;
    }
    ok.then_some(Some(out))
}

fn amounts(
    v: &mut Violations,
    field: &str,
    items: &[pb::EnrollmentTypeAmount],
    bound: Bound,
) -> Option<Option<ByType<Decimal>>> {
    by_type(
        v,
        field,
        items,
        true,
        |a| a.enrollment_type,
        |v, f, a| v.decimal(&format!("{f}.amount"), &a.amount, bound),
    )
}

fn required(
    v: &mut Violations,
    field: &str,
    value: Option<Option<ByType<Decimal>>>,
) -> Option<ByType<Decimal>> {
    match value {
        Some(Some(x)) => Some(x),
        Some(None) => {
            v.add(field, "must list each of the four enrollment types once");
            None
        }
        None => None,
    }
}

fn years(
    v: &mut Violations,
    field: &str,
    years: &[pb::BenchmarkYear],
) -> Option<([i32; 3], [ByType<YearExperience>; 3])> {
    if years.len() != 3 {
        v.add(
            field,
            "must hold exactly three benchmark years, BY1, BY2, BY3 in order",
        );
        return None;
    }
    let mut out = [[YearExperience::default(); 4]; 3];
    let mut ok = true;
    for (k, y) in years.iter().enumerate() {
        let f = format!("{field}[{k}].enrollment_types");
        match by_type(
            v,
            &f,
            &y.enrollment_types,
            false,
            |e| e.enrollment_type,
            |v, f, e| {
                let p = quantity(v, f, &e.person_years, Quantity::PersonYears);
                let x = quantity(
                    v,
                    f,
                    &e.per_capita_expenditures,
                    Quantity::PerCapitaExpenditures,
                );
                let r = quantity(v, f, &e.risk_score, Quantity::RiskScore);
                Some(YearExperience {
                    person_years: p?,
                    per_capita: x?,
                    risk_score: r?,
                })
            },
        ) {
            Some(Some(e)) => out[k] = e,
            _ => ok = false,
        }
    }
    // That the years are consecutive is the engine's check (Input::BenchmarkYears).
    let y = [years[0].year, years[1].year, years[2].year];
    ok.then_some((y, out))
}

/// Validates a `BenchmarkInput` into the engine input, naming every bad field. With
/// `with_years = false` (a beneficiary-level header) `benchmark_years` must be empty and the
/// experience is left for the aggregator.
pub fn validate(
    input: Option<&pb::BenchmarkInput>,
    prefix: &str,
    with_years: bool,
) -> Result<HistoricalInput, Status> {
    let Some(i) = input else {
        return Err(invalid_argument(prefix, "is required"));
    };
    let p = |name: &str| format!("{prefix}.{name}");
    let mut v = Violations::default();
    v.text(&p("aco_id"), &i.aco_id, 64);
    let start = v.date(&p("agreement_start_date"), i.agreement_start_date.as_ref());
    if i.agreement_period == 0 {
        v.add(
            p("agreement_period"),
            "is required: 1 for a first agreement, 2 or more for a rebased one",
        );
    }
    let experience = if with_years {
        years(&mut v, &p("benchmark_years"), &i.benchmark_years)
    } else {
        if !i.benchmark_years.is_empty() {
            v.add(
                p("benchmark_years"),
                "must be empty: the benchmark years are aggregated from the beneficiary records",
            );
        }
        Some(([0; 3], [[YearExperience::default(); 4]; 3]))
    };
    let (t1, t2) = (p("trend_by1_to_by3"), p("trend_by2_to_by3"));
    let trend_fields = [t1.as_str(), t2.as_str()];
    let trend = trend_amounts(
        &mut v,
        trend_fields,
        [&i.trend_by1_to_by3, &i.trend_by2_to_by3],
        |from| Series::NationalTrend { from },
    );
    let national_trend = trend_pair(&mut v, trend_fields, trend);
    let regional = match &i.regional {
        None => Some(None),
        Some(r) => regional(&mut v, &p("regional"), r).map(Some),
    };
    let prior_savings = match &i.prior_savings {
        None => Some(None),
        Some(s) => prior_savings(&mut v, &p("prior_savings"), s).map(Some),
    };
    let value = match (start, experience, national_trend, regional, prior_savings) {
        (
            Some(agreement_start),
            Some((years, experience)),
            Some(national_trend),
            Some(regional),
            Some(prior_savings),
        ) => Some(HistoricalInput {
            agreement_start,
            agreement_period: i.agreement_period,
            years,
            experience,
            national_trend,
            regional,
            prior_savings,
        }),
        _ => None,
    };
    v.finish(prefix, value)
}

/// The two lists of a trend, BY1 -> BY3 and BY2 -> BY3 (`series` of the year trended).
fn trend_amounts(
    v: &mut Violations,
    fields: [&str; 2],
    items: [&[pb::EnrollmentTypeAmount]; 2],
    series: fn(usize) -> Series,
) -> [Option<Option<ByType<Decimal>>>; 2] {
    [0, 1].map(|k| amounts(v, fields[k], items[k], within(series(k).range())))
}

/// A trend's two lists go together: both or neither.
fn trend_pair(
    v: &mut Violations,
    fields: [&str; 2],
    lists: [Option<Option<ByType<Decimal>>>; 2],
) -> Option<Option<[ByType<Decimal>; 2]>> {
    match lists {
        [Some(Some(a)), Some(Some(b))] => Some(Some([a, b])),
        [Some(None), Some(None)] => Some(None),
        [Some(_), Some(_)] => {
            let name = |f: &str| f.rsplit('.').next().unwrap_or(f).to_string();
            v.add(
                fields[1],
                format!("{} and {} go together", name(fields[0]), name(fields[1])),
            );
            None
        }
        _ => None,
    }
}

/// Validates `RegionalInputs` (`field` is its path).
fn regional(v: &mut Violations, field: &str, r: &pb::RegionalInputs) -> Option<RegionalInput> {
    let rp = |name: &str| format!("{field}.{name}");
    let reg = amounts(
        v,
        &rp("regional_per_capita"),
        &r.regional_per_capita,
        within(Series::RegionalPerCapita.range()),
    );
    let reg = required(v, &rp("regional_per_capita"), reg);
    let nat = amounts(
        v,
        &rp("national_per_capita"),
        &r.national_per_capita,
        within(Series::NationalPerCapita.range()),
    );
    let (t1, t2) = (
        rp("regional_trend_by1_to_by3"),
        rp("regional_trend_by2_to_by3"),
    );
    let trend_fields = [t1.as_str(), t2.as_str()];
    let trend = trend_amounts(
        v,
        trend_fields,
        [&r.regional_trend_by1_to_by3, &r.regional_trend_by2_to_by3],
        |from| Series::RegionalTrend { from },
    );
    let weight = v.optional_decimal(
        &rp("national_weight"),
        &r.national_weight,
        within(engine::FRACTION),
    );
    let dual = v.optional_decimal(
        &rp("dual_eligible_share"),
        &r.dual_eligible_share,
        within(engine::FRACTION),
    );
    let trend = trend_pair(v, trend_fields, trend);
    Some(RegionalInput {
        regional_per_capita: reg?,
        national_per_capita: nat?,
        prior_regional_adjustments: r.prior_regional_adjustments,
        national_weight: weight?,
        regional_trend: trend?,
        dual_eligible_share: dual?,
    })
}

/// Validates `PriorSavings` (`field` is its path).
fn prior_savings(
    v: &mut Violations,
    field: &str,
    s: &pb::PriorSavingsInputs,
) -> Option<PriorSavingsInput> {
    let sp = |name: &str| format!("{field}.{name}");
    let mut savings = [Decimal::ZERO; 3];
    let mut ok = true;
    if s.per_capita_savings.len() != 3 {
        v.add(
            sp("per_capita_savings"),
            "must hold the per capita savings of 3 performance years (\"0\" where none)",
        );
        ok = false;
    }
    for (k, x) in s.per_capita_savings.iter().enumerate().take(3) {
        let bound = within(engine::input::SIGNED_AMOUNT);
        match v.decimal(&format!("{}[{k}]", sp("per_capita_savings")), x, bound) {
            Some(d) => savings[k] = d,
            None => ok = false,
        }
    }
    let proration = v.optional_decimal(
        &sp("proration_factor"),
        &s.proration_factor,
        within(engine::FACTOR),
    );
    match (ok, proration) {
        (true, Some(p)) => Some(PriorSavingsInput {
            per_capita_savings: savings,
            proration_factor: p.unwrap_or(Decimal::ONE),
        }),
        _ => None,
    }
}

/// The proto field that carries `q` in the messages that give it.
fn field_of(q: Quantity) -> &'static str {
    match q {
        Quantity::PersonYears => "person_years",
        Quantity::PerCapitaExpenditures => "per_capita_expenditures",
        Quantity::RiskScore => "risk_score",
        Quantity::DemographicRiskScore => "demographic_risk_score",
        Quantity::By3DemographicRiskScore => "by3_demographic_risk_score",
    }
}

/// The quantity `q`, given as `value` by the message at `parent`: a decimal within its range.
fn quantity(v: &mut Violations, parent: &str, value: &str, q: Quantity) -> Option<Decimal> {
    let field = format!("{parent}.{}", field_of(q));
    v.decimal(&field, value, within(q.range()))
}

/// [`quantity`], which the message may leave empty.
fn optional_quantity(
    v: &mut Violations,
    parent: &str,
    value: &str,
    q: Quantity,
) -> Option<Option<Decimal>> {
    let field = format!("{parent}.{}", field_of(q));
    v.optional_decimal(&field, value, within(q.range()))
}

fn risk_group(
    v: &mut Violations,
    field: &str,
    g: Option<&pb::RiskGroup>,
) -> Option<Option<RiskGroup>> {
    let Some(g) = g else { return Some(None) };
    let p = quantity(v, field, &g.person_years, Quantity::PersonYears);
    let r = quantity(v, field, &g.risk_score, Quantity::RiskScore);
    let d = quantity(
        v,
        field,
        &g.demographic_risk_score,
        Quantity::DemographicRiskScore,
    );
    Some(Some(RiskGroup {
        person_years: p?,
        risk_score: r?,
        demographic_risk_score: d?,
    }))
}

/// Validates `RegionalRiskGrowth` (each list required when the message is present).
fn regional_risk(
    v: &mut Violations,
    field: &str,
    r: Option<&pb::RegionalRiskGrowth>,
) -> Option<Option<RegionalRiskInput>> {
    let Some(r) = r else { return Some(None) };
    let hcc = amounts(
        v,
        &format!("{field}.hcc_growth"),
        &r.hcc_growth,
        within(Series::RegionalHccGrowth.range()),
    );
    let demo = amounts(
        v,
        &format!("{field}.demographic_growth"),
        &r.demographic_growth,
        within(Series::RegionalDemographicGrowth.range()),
    );
    let share = amounts(
        v,
        &format!("{field}.market_share"),
        &r.market_share,
        within(Series::MarketShare.range()),
    );
    let hcc = required(v, &format!("{field}.hcc_growth"), hcc);
    let demo = required(v, &format!("{field}.demographic_growth"), demo);
    let share = required(v, &format!("{field}.market_share"), share);
    Some(Some(RegionalRiskInput {
        hcc_growth: hcc?,
        demographic_growth: demo?,
        market_share: share?,
    }))
}

/// Validates `PerformanceYearInputs` into the engine input.
pub fn validate_performance_year(
    py: Option<&pb::PerformanceYearInputs>,
    prefix: &str,
) -> Result<PerformanceYearInput, Status> {
    let Some(i) = py else {
        return Err(invalid_argument(prefix, "is required"));
    };
    let mut v = Violations::default();
    let value = performance_year_input(&mut v, prefix, i);
    v.finish(prefix, value)
}

/// The checks of `PerformanceYearInputs`, in the order of its fields: the year, each enrollment
/// type, the national and regional updates, the 425.655 regional risk growth, the weights. Every
/// field is checked (every violation recorded) before any missing one gives `None`.
fn performance_year_input(
    v: &mut Violations,
    prefix: &str,
    i: &pb::PerformanceYearInputs,
) -> Option<PerformanceYearInput> {
    let p = |name: &str| format!("{prefix}.{name}");
    if !(2012..=9999).contains(&i.performance_year) {
        v.add(
            p("performance_year"),
            "must be a performance year from 2012",
        );
    }
    let types = by_type(
        v,
        &p("enrollment_types"),
        &i.enrollment_types,
        false,
        |t| t.enrollment_type,
        performance_year_type,
    );
    let flat = amounts(
        v,
        &p("national_flat_update"),
        &i.national_flat_update,
        within(Series::NationalFlatUpdate.range()),
    );
    let national = amounts(
        v,
        &p("national_growth"),
        &i.national_growth,
        within(Series::NationalGrowth.range()),
    );
    let regional = amounts(
        v,
        &p("regional_growth"),
        &i.regional_growth,
        within(Series::RegionalGrowth.range()),
    );
    let acpt = amounts(v, &p("acpt"), &i.acpt, within(Series::Acpt.range()));
    let regional_risk = regional_risk(v, &p("regional_risk"), i.regional_risk.as_ref());
    let acpt_weight =
        v.optional_decimal(&p("acpt_weight"), &i.acpt_weight, within(engine::FRACTION));
    let national_weight = v.optional_decimal(
        &p("national_weight"),
        &i.national_weight,
        within(engine::FRACTION),
    );
    Some(PerformanceYearInput {
        performance_year: i.performance_year,
        types: types??,
        national_flat_update: flat?,
        national_growth: national?,
        regional_growth: regional?,
        acpt: acpt?,
        acpt_weight: acpt_weight?,
        national_weight: national_weight?,
        regional_risk: regional_risk?,
    })
}

/// Validates one `PerformanceYearType` (`f` is its path).
fn performance_year_type(
    v: &mut Violations,
    f: &str,
    t: &pb::PerformanceYearEnrollmentType,
) -> Option<PerformanceYearType> {
    let person_years = quantity(v, f, &t.person_years, Quantity::PersonYears);
    let risk = optional_quantity(v, f, &t.risk_score, Quantity::RiskScore);
    let demo = optional_quantity(
        v,
        f,
        &t.demographic_risk_score,
        Quantity::DemographicRiskScore,
    );
    let by3_demo = optional_quantity(
        v,
        f,
        &t.by3_demographic_risk_score,
        Quantity::By3DemographicRiskScore,
    );
    let newly = risk_group(v, &format!("{f}.newly_assigned"), t.newly_assigned.as_ref());
    let cont = risk_group(
        v,
        &format!("{f}.continuously_assigned"),
        t.continuously_assigned.as_ref(),
    );
    Some(PerformanceYearType {
        person_years: person_years?,
        risk_score: risk?,
        demographic_risk_score: demo?,
        by3_demographic_risk_score: by3_demo?,
        newly_assigned: newly?,
        continuously_assigned: cont?,
    })
}

/// Maps an engine error to `INVALID_ARGUMENT` naming the field the caller must change. `input` is
/// the path of the historical input (`input`), `performance_year` that of the performance-year
/// input (`performance_year`).
pub fn engine_status(err: &BenchmarkError, input: &str, performance_year: &str) -> Status {
    let field = match err {
        BenchmarkError::RuleSet(SelectError::AgreementPeriodZero) => {
            format!("{input}.agreement_period")
        }
        BenchmarkError::RuleSet(
            SelectError::InvalidDate(_)
            | SelectError::BeforeProgram(_)
            | SelectError::RebasedBefore2016(_)
            | SelectError::NoStartsInFirstHalf2019(_),
        ) => format!("{input}.agreement_start_date"),
        BenchmarkError::Invalid { input: what, .. }
        | BenchmarkError::Missing { input: what, .. }
        | BenchmarkError::Unrepresentable { input: what } => {
            field_path(what, input, performance_year)
        }
        BenchmarkError::NoBy3PersonYears => format!("{input}.benchmark_years[2].enrollment_types"),
        BenchmarkError::NoPerformanceYearPersonYears => {
            format!("{performance_year}.enrollment_types")
        }
        BenchmarkError::PerformanceYearNotAfterBy3 { .. } => {
            format!("{performance_year}.performance_year")
        }
    };
    invalid_argument(&field, err.to_string())
}

/// The contract's field carrying an engine input: below `input` (the `BenchmarkInput`) or
/// `performance_year` (the `PerformanceYearInputs`). A value of one enrollment type is named by
/// its type in brackets (e.g. `input.trend_by1_to_by3[ESRD]`): the engine's input is a value per
/// type, not the request's list position.
fn field_path(what: &Input, input: &str, performance_year: &str) -> String {
    let quantity = |q: &Quantity| match q {
        Quantity::PersonYears => "person_years",
        Quantity::PerCapitaExpenditures => "per_capita_expenditures",
        Quantity::RiskScore => "risk_score",
        Quantity::DemographicRiskScore => "demographic_risk_score",
        Quantity::By3DemographicRiskScore => "by3_demographic_risk_score",
    };
    let group = |g: &Group| match g {
        Group::NewlyAssigned => "newly_assigned",
        Group::ContinuouslyAssigned => "continuously_assigned",
    };
    match what {
        Input::BenchmarkYears => format!("{input}.benchmark_years"),
        Input::Experience {
            year,
            enrollment_type,
            quantity: q,
        } => format!(
            "{input}.benchmark_years[{year}][{}].{}",
            enrollment_type.name(),
            quantity(q)
        ),
        Input::Series {
            series,
            enrollment_type,
        } => {
            let (parent, list) = match series {
                Series::NationalTrend { from } => (input, format!("trend_by{}_to_by3", from + 1)),
                Series::RegionalTrend { from } => (
                    input,
                    format!("regional.regional_trend_by{}_to_by3", from + 1),
                ),
                Series::RegionalPerCapita => (input, "regional.regional_per_capita".into()),
                Series::NationalPerCapita => (input, "regional.national_per_capita".into()),
                Series::NationalGrowth => (performance_year, "national_growth".into()),
                Series::RegionalGrowth => (performance_year, "regional_growth".into()),
                Series::NationalFlatUpdate => (performance_year, "national_flat_update".into()),
                Series::Acpt => (performance_year, "acpt".into()),
                Series::RegionalHccGrowth => (performance_year, "regional_risk.hcc_growth".into()),
                Series::RegionalDemographicGrowth => {
                    (performance_year, "regional_risk.demographic_growth".into())
                }
                Series::MarketShare => (performance_year, "regional_risk.market_share".into()),
            };
            match enrollment_type {
                Some(t) => format!("{parent}.{list}[{}]", t.name()),
                None => format!("{parent}.{list}"),
            }
        }
        Input::Regional => format!("{input}.regional"),
        Input::NationalWeight => format!("{input}.regional.national_weight"),
        Input::DualEligibleShare => format!("{input}.regional.dual_eligible_share"),
        Input::PriorSavings { year } => format!("{input}.prior_savings.per_capita_savings[{year}]"),
        Input::ProrationFactor => format!("{input}.prior_savings.proration_factor"),
        Input::RuleSet(name) => format!("{input}.rule_set.{name}"),
        Input::PerformanceYear => format!("{performance_year}.performance_year"),
        Input::PerformanceYearTypes => format!("{performance_year}.enrollment_types"),
        Input::PerformanceYearType {
            enrollment_type,
            group: g,
            quantity: q,
        } => {
            let prefix = format!(
                "{performance_year}.enrollment_types[{}]",
                enrollment_type.name()
            );
            match g {
                Some(g) => format!("{prefix}.{}.{}", group(g), quantity(q)),
                None => format!("{prefix}.{}", quantity(q)),
            }
        }
        Input::AssignmentGroup {
            enrollment_type,
            group: g,
        } => format!(
            "{performance_year}.enrollment_types[{}].{}",
            enrollment_type.name(),
            group(g)
        ),
        Input::RegionalRisk => format!("{performance_year}.regional_risk"),
        Input::AcptWeight => format!("{performance_year}.acpt_weight"),
        Input::PerformanceYearNationalWeight => format!("{performance_year}.national_weight"),
    }
}

fn explanation(steps: Vec<Step>) -> Vec<common::ExplanationStep> {
    steps.into_iter().map(Into::into).collect()
}

fn text(d: Decimal) -> String {
    d.normalize().to_string()
}

fn result(h: &Historical, u: Option<&Updated>, steps: Vec<Step>) -> pb::BenchmarkResult {
    pb::BenchmarkResult {
        rule_set: h.rule_set.to_string(),
        enrollment_types: TYPES
            .iter()
            .map(|t| {
                let b = &h.types[t.index()];
                let up = u.map(|u| u.types[t.index()]);
                pb::EnrollmentTypeBenchmark {
                    enrollment_type: proto_type(*t).into(),
                    unadjusted_per_capita: format_money(b.unadjusted),
                    regional_adjustment: format_money(b.regional_adjustment),
                    prior_savings_adjustment: format_money(b.prior_savings_adjustment),
                    historical_per_capita: format_money(b.per_capita),
                    by3_person_years: text(b.by3_person_years),
                    risk_ratio: up.map(|x| text(x.risk_ratio)).unwrap_or_default(),
                    updated_per_capita: up.map(|x| format_money(x.per_capita)).unwrap_or_default(),
                    performance_year_person_years: up
                        .map(|x| text(x.person_years))
                        .unwrap_or_default(),
                    regional_risk_cap_factor: up
                        .map(|x| text(x.regional_risk_cap_factor))
                        .unwrap_or_default(),
                }
            })
            .collect(),
        historical_per_capita: format_money(h.per_capita),
        performance_year: u.map_or(0, |u| u.performance_year),
        updated_per_capita: u.map(|u| format_money(u.per_capita)).unwrap_or_default(),
        updated_total: u.map(|u| format_money(u.total)).unwrap_or_default(),
        two_way_blend_updated_total: u
            .and_then(|u| u.two_way_total)
            .map(format_money)
            .unwrap_or_default(),
        performance_year_person_years: u.map(|u| text(u.person_years)).unwrap_or_default(),
        explanation: explanation(steps),
    }
}

/// Computes a historical benchmark (and its update, when `py` is given) with its explanation.
pub fn compute(
    input: &HistoricalInput,
    py: Option<&PerformanceYearInput>,
) -> Result<pb::BenchmarkResult, Status> {
    let mut steps = Vec::new();
    let h = engine::historical(input, &mut steps)
        .map_err(|e| engine_status(&e, "input", "performance_year"))?;
    let u = match py {
        Some(py) => Some(
            engine::update(input, &h, py, &mut steps)
                .map_err(|e| engine_status(&e, "input", "performance_year"))?,
        ),
        None => None,
    };
    Ok(result(&h, u.as_ref(), steps))
}

fn decode(body: &[u8]) -> Result<pb::Benchmark, Status> {
    pb::Benchmark::decode(body)
        .map_err(|_| Status::internal("a stored benchmark could not be decoded"))
}

fn request_id(id: &str) -> Result<(), Status> {
    let mut v = Violations::default();
    v.text("request_id", id, 128);
    v.into_result()
}

fn aggregate_input(
    input: &pb::BenchmarkInput,
    years: [i32; 3],
    experience: &[ByType<YearExperience>; 3],
) -> pb::BenchmarkInput {
    pb::BenchmarkInput {
        benchmark_years: (0..3)
            .map(|k| pb::BenchmarkYear {
                year: years[k],
                enrollment_types: TYPES
                    .iter()
                    .map(|t| {
                        let e = experience[k][t.index()];
                        pb::EnrollmentTypeAggregate {
                            enrollment_type: proto_type(*t).into(),
                            person_years: text(e.person_years),
                            per_capita_expenditures: text(e.per_capita),
                            risk_score: text(e.risk_score),
                        }
                    })
                    .collect(),
            })
            .collect(),
        ..input.clone()
    }
}

/// Validates the thresholds of a beneficiary-level header: one per benchmark year and type.
fn thresholds(
    v: &mut Violations,
    items: &[pb::TruncationThreshold],
) -> Option<([i32; 3], [ByType<u64>; 3])> {
    let field = "header.truncation_thresholds";
    let mut years: Vec<i32> = items.iter().map(|t| t.year).collect();
    years.sort_unstable();
    years.dedup();
    if years.len() != 3
        || years[1] != years[0].saturating_add(1)
        || years[2] != years[1].saturating_add(1)
    {
        v.add(field, "must give one threshold per enrollment type for each of three consecutive benchmark years");
        return None;
    }
    let by = [years[0], years[1], years[2]];
    let mut out = [[0u64; 4]; 3];
    let mut seen = [[false; 4]; 3];
    let mut ok = true;
    for (i, t) in items.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let ty = enrollment_type(v, &format!("{f}.enrollment_type"), t.enrollment_type);
        let cents = match parse_cents(&t.threshold) {
            Ok(c) if c > 0 => Some(c),
            Ok(_) => {
                v.add(format!("{f}.threshold"), "must be greater than zero");
                None
            }
            Err(why) => {
                v.add(format!("{f}.threshold"), why);
                None
            }
        };
        let k = (t.year - by[0]) as usize;
        match (ty, cents) {
            (Some(ty), Some(c)) if !seen[k][ty.index()] => {
                seen[k][ty.index()] = true;
                out[k][ty.index()] = c;
            }
            (Some(_), Some(_)) => {
                v.add(
                    format!("{f}.enrollment_type"),
                    "each year and enrollment type may appear once",
                );
                ok = false;
            }
            _ => ok = false,
        }
    }
    if ok && seen.iter().flatten().any(|s| !s) {
        v.add(
            field,
            "must give a threshold for every enrollment type in each benchmark year (12 in all)",
        );
        ok = false;
    }
    ok.then_some((by, out))
}

impl<S: Store> BenchmarkApi<S> {
    async fn record(
        &self,
        benchmark: pb::Benchmark,
        fingerprint: Vec<u8>,
        what: &str,
    ) -> Result<pb::Benchmark, Status> {
        let input = benchmark.input.as_ref();
        let record = NewRecord {
            id: benchmark.id.clone(),
            request_id: benchmark.request_id.clone(),
            fingerprint,
            aco_id: input.map(|i| i.aco_id.clone()).unwrap_or_default(),
            period: input.map_or(0, |i| i32::try_from(i.agreement_period).unwrap_or(i32::MAX)),
            body: benchmark.encode_to_vec(),
        };
        match self.store.record(record).await? {
            Recorded::Created(_) => {
                tracing::debug!(id = %benchmark.id, "benchmark recorded");
                Ok(benchmark)
            }
            Recorded::Existing(body) => {
                tracing::debug!("idempotent retry: returning the stored benchmark");
                decode(&body)
            }
            Recorded::Conflict => Err(Status::already_exists(format!(
                "request_id was already used for a different {what}"
            ))),
        }
    }
}

fn new_benchmark(
    request_id: String,
    input: pb::BenchmarkInput,
    result: pb::BenchmarkResult,
) -> pb::Benchmark {
    pb::Benchmark {
        id: uuid::Uuid::now_v7().to_string(),
        request_id,
        input: Some(input),
        performance_year_input: None,
        result: Some(result),
        parent_id: String::new(),
        create_time: Some(prost_types::Timestamp::from(std::time::SystemTime::now())),
    }
}

/// Fingerprint of a request kind and its encoded parts ([`ledger::Fingerprint`]).
fn fingerprint(kind: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut fp = ledger::Fingerprint::new(kind);
    for p in parts {
        fp.bytes(p);
    }
    fp.finish()
}

#[tonic::async_trait]
impl<S: Store> BenchmarkService for BenchmarkApi<S> {
    #[tracing::instrument(name = "ComputeBenchmark", skip_all, fields(request_id = %req.get_ref().request_id))]
    async fn compute_benchmark(
        &self,
        req: Request<pb::ComputeBenchmarkRequest>,
    ) -> Result<Response<pb::ComputeBenchmarkResponse>, Status> {
        let req = req.into_inner();
        request_id(&req.request_id)?;
        let input = validate(req.input.as_ref(), "input", true)?;
        let result = compute(&input, None)?;
        let input = req.input.unwrap_or_default();
        let fp = fingerprint(b"compute", &[&input.encode_to_vec()]);
        let benchmark = self
            .record(
                new_benchmark(req.request_id, input, result),
                fp,
                "benchmark input",
            )
            .await?;
        Ok(Response::new(pb::ComputeBenchmarkResponse {
            benchmark: Some(benchmark),
        }))
    }

    #[tracing::instrument(name = "ComputeBenchmarkFromBeneficiaries", skip_all)]
    async fn compute_benchmark_from_beneficiaries(
        &self,
        req: Request<Streaming<pb::ComputeBenchmarkFromBeneficiariesRequest>>,
    ) -> Result<Response<pb::ComputeBenchmarkFromBeneficiariesResponse>, Status> {
        use pb::compute_benchmark_from_beneficiaries_request::Message as M;
        let mut stream = req.into_inner();
        let header = match stream.next().await {
            Some(Ok(pb::ComputeBenchmarkFromBeneficiariesRequest {
                message: Some(M::Header(h)),
            })) => h,
            Some(Err(e)) => return Err(e),
            _ => {
                return Err(invalid_argument(
                    "header",
                    "the first message must carry the header",
                ));
            }
        };
        request_id(&header.request_id).map_err(|_| {
            invalid_argument("header.request_id", "is required (at most 128 characters)")
        })?;
        tracing::Span::current().record("request_id", header.request_id.as_str());
        // The idempotency fingerprint covers the whole stream as sent: the header (input and
        // truncation thresholds) and every record in order, not only the aggregate it gives (two
        // different uploads can aggregate alike; a corrected retry must not be taken for the first).
        let mut fp = ledger::Fingerprint::new(b"beneficiaries.stream");
        fp.message(&header);
        let mut input = validate(header.input.as_ref(), "header.input", false)?;
        let mut v = Violations::default();
        let thresholds = thresholds(&mut v, &header.truncation_thresholds);
        let (years, limits) = v.finish("header.truncation_thresholds", thresholds)?;
        let mut aggregator = Aggregator::new(limits);
        let mut n: u64 = 0;
        while let Some(message) = stream.next().await {
            let batch = match message?.message {
                Some(M::Batch(b)) => b,
                _ => {
                    return Err(invalid_argument(
                        "header",
                        "only the first message may carry the header",
                    ));
                }
            };
            for r in &batch.records {
                fp.message(r);
                let f = |name: &str| format!("records[{n}].{name}");
                let year = r
                    .year
                    .checked_sub(years[0])
                    .and_then(|k| u8::try_from(k).ok())
                    .filter(|k| *k < 3)
                    .ok_or_else(|| {
                        invalid_argument(
                            &f("year"),
                            format!(
                                "must be one of the benchmark years {}-{}",
                                years[0], years[2]
                            ),
                        )
                    })?;
                let mut v = Violations::default();
                let ty = enrollment_type(&mut v, &f("enrollment_type"), r.enrollment_type);
                v.into_result()?;
                let months = u8::try_from(r.eligible_months)
                    .ok()
                    .filter(|m| (1..=12).contains(m))
                    .ok_or_else(|| invalid_argument(&f("eligible_months"), "must be 1 to 12"))?;
                let cents = parse_cents(&r.expenditures)
                    .map_err(|why| invalid_argument(&f("expenditures"), why))?;
                let risk = parse_millionths(&r.risk_score)
                    .map_err(|why| invalid_argument(&f("risk_score"), why))?;
                let Some(enrollment_type) = ty else {
                    return Err(invalid_argument(&f("enrollment_type"), "is required"));
                };
                aggregator
                    .add(&BeneficiaryYear {
                        year,
                        enrollment_type,
                        eligible_months: months,
                        expenditures_cents: cents,
                        risk_millionths: risk,
                    })
                    .map_err(|e| invalid_argument(&format!("records[{n}]"), e.to_string()))?;
                n += 1;
            }
        }
        let experience = aggregator
            .finish()
            .map_err(|e| invalid_argument("records", e.to_string()))?;
        input.years = years;
        input.experience = experience;
        let result = compute(&input, None).map_err(|s| {
            // Aggregated benchmark years are named after the records they came from.
            Status::invalid_argument(format!(
                "{} (benchmark years aggregated from the records)",
                s.message()
            ))
        })?;
        let stored_input = aggregate_input(&header.input.unwrap_or_default(), years, &experience);
        let fp = fp.finish();
        tracing::debug!(
            records = n,
            truncated = aggregator.truncated(),
            "beneficiary-level benchmark aggregated"
        );
        let benchmark = self
            .record(
                new_benchmark(header.request_id, stored_input, result),
                fp,
                "benchmark input",
            )
            .await?;
        Ok(Response::new(
            pb::ComputeBenchmarkFromBeneficiariesResponse {
                benchmark: Some(benchmark),
                records: aggregator.records(),
                truncated_records: aggregator.truncated(),
            },
        ))
    }

    #[tracing::instrument(name = "PreviewBenchmark", skip_all)]
    async fn preview_benchmark(
        &self,
        req: Request<pb::PreviewBenchmarkRequest>,
    ) -> Result<Response<pb::PreviewBenchmarkResponse>, Status> {
        let r = req.get_ref();
        let input = validate(r.input.as_ref(), "input", true)?;
        let py = match &r.performance_year {
            None => None,
            Some(py) => Some(validate_performance_year(Some(py), "performance_year")?),
        };
        Ok(Response::new(pb::PreviewBenchmarkResponse {
            result: Some(compute(&input, py.as_ref())?),
        }))
    }

    #[tracing::instrument(name = "GetBenchmark", skip_all)]
    async fn get_benchmark(
        &self,
        req: Request<pb::GetBenchmarkRequest>,
    ) -> Result<Response<pb::GetBenchmarkResponse>, Status> {
        let id = &req.get_ref().id;
        let mut v = Violations::default();
        v.text("id", id, 64);
        v.into_result()?;
        let body = self.store.get(id).await?;
        let body = body.ok_or_else(|| Status::not_found(format!("benchmark {id} not found")))?;
        Ok(Response::new(pb::GetBenchmarkResponse {
            benchmark: Some(decode(&body)?),
        }))
    }

    #[tracing::instrument(name = "ListBenchmarks", skip_all)]
    async fn list_benchmarks(
        &self,
        req: Request<pb::ListBenchmarksRequest>,
    ) -> Result<Response<pb::ListBenchmarksResponse>, Status> {
        let r = req.into_inner();
        let mut v = Violations::default();
        let limit = v.page_size("page_size", r.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
        let period = i32::try_from(r.agreement_period);
        if period.is_err() {
            v.add("agreement_period", "is too large");
        }
        // The token is bound to the filters (AIP-158): one from another query is refused.
        let query = PageQuery::new("acorn.benchmark.v1.BenchmarkService/ListBenchmarks")
            .text(&r.aco_id)
            .int(i64::from(r.agreement_period));
        let tokens = self.store.page_tokens();
        let before = v.page_token("page_token", &r.page_token, tokens, &query);
        let (limit, before, period) = v.finish(
            "page_size",
            limit
                .zip(before)
                .zip(period.ok())
                .map(|((l, b), p)| (l, b, p)),
        )?;
        let filter = Filter {
            aco_id: (!r.aco_id.is_empty()).then_some(r.aco_id),
            period: (period != 0).then_some(period),
            before,
            limit,
        };
        let page = self.store.list(filter).await?;
        let benchmarks = page
            .bodies
            .iter()
            .map(|b| decode(b))
            .collect::<Result<_, _>>()?;
        Ok(Response::new(pb::ListBenchmarksResponse {
            benchmarks,
            next_page_token: tokens.issue_seq(&query, page.next),
        }))
    }

    #[tracing::instrument(name = "UpdateBenchmark", skip_all, fields(request_id = %req.get_ref().request_id))]
    async fn update_benchmark(
        &self,
        req: Request<pb::UpdateBenchmarkRequest>,
    ) -> Result<Response<pb::UpdateBenchmarkResponse>, Status> {
        let req = req.into_inner();
        let mut v = Violations::default();
        v.text("request_id", &req.request_id, 128);
        v.text("benchmark_id", &req.benchmark_id, 64);
        v.into_result()?;
        let py = validate_performance_year(req.performance_year.as_ref(), "performance_year")?;
        let body = self.store.get(&req.benchmark_id).await?;
        let parent = decode(&body.ok_or_else(|| {
            Status::not_found(format!("benchmark {} not found", req.benchmark_id))
        })?)?;
        if parent.performance_year_input.is_some() {
            return Err(invalid_argument(
                "benchmark_id",
                "names an updated benchmark: update the historical benchmark it came from",
            ));
        }
        let input = validate(parent.input.as_ref(), "input", true)
            .map_err(|_| Status::internal("the stored benchmark input no longer validates"))?;
        let mut steps = Vec::new();
        let h = engine::historical(&input, &mut steps)
            .map_err(|_| Status::internal("the stored benchmark no longer computes"))?;
        let u = engine::update(&input, &h, &py, &mut steps)
            .map_err(|e| engine_status(&e, "benchmark", "performance_year"))?;
        let py_input = req.performance_year.unwrap_or_default();
        let fp = fingerprint(
            b"update",
            &[req.benchmark_id.as_bytes(), &py_input.encode_to_vec()],
        );
        let benchmark = pb::Benchmark {
            performance_year_input: Some(py_input),
            parent_id: parent.id.clone(),
            ..new_benchmark(
                req.request_id,
                parent.input.unwrap_or_default(),
                result(&h, Some(&u), steps),
            )
        };
        let benchmark = self.record(benchmark, fp, "update").await?;
        Ok(Response::new(pb::UpdateBenchmarkResponse {
            benchmark: Some(benchmark),
        }))
    }
}
