//! Backtest against CMS: rebuild each ACO's historical benchmark from a Public Use File's own
//! columns with the [`engine`](benchmark_rules) and compare it with the published `HistBnchmk`
//! (per capita, whole dollars); where the file has the inputs, also the updated benchmark
//! (`UpdatedBnchmk`).
//!
//! | input | PUF columns |
//! |---|---|
//! | per capita expenditures BY1-BY3 (and PY) by type | `Per_Capita_Exp_ALL_{ESRD,DIS,AGDU,AGND}_{BY1,BY2,BY3,PY}` |
//! | CMS-HCC risk scores BY1-BY3 (and PY) by type | `CMS_HCC_RiskScore_{ESRD,DIS,AGDU,AGND}_{BY1,BY2,BY3,PY}` |
//! | BY3 (and PY) person-years by type | `N_AB_Year_{ESRD,DIS,AGED_Dual,AGED_NonDual}_{BY3,PY}` |
//! | agreement start, period | `Current_Start_Date` / `Start_Date`; `Agreement_Period_Num` (absent = 1) |
//! | 425.603(b) add-on (second agreements starting 2016) | `Prior_Sav_Adj` (per capita, included in `HistBnchmk`) |
//! | regional adjustment sign (425.603(c) agreements, PY2018) | `PosRegAdj` as a 0/1 flag |
//! | regional adjustment, dollars per capita (agreements from 2019-07-01) | `PosRegAdj` with dollar values (PY2022), `RegAdj` (PY2024) |
//! | prior savings adjustment, dollars per capita (agreements from 2024) | `PriorSavAdj` |
//!
//! The same column name means different things in different years: `PosRegAdj` is a 0/1 flag in
//! PY2018 and a signed per capita dollar amount in PY2022, so the file decides: the reader's
//! detected layout where it knows (2016-2018 flag, 2022-2023 dollars), otherwise the column is a
//! flag when every value it holds is 0 or 1, dollars otherwise. Suppressed (`*`) or blank cells of a
//! needed input skip the row with the column named.
//!
//! The trend factors (BY1 -> BY3 and BY2 -> BY3 by type) are not published. For the national
//! trend they are shared by every ACO whose agreement started in the same year (same benchmark
//! years), and the benchmark is linear in them:
//!
//! ```text
//! (HB - published adjustments) x sum_e P_e - sum_e P_e w3 X3_e = sum_e P_e (w1 X1_e r1_e T1_e + w2 X2_e r2_e T2_e)
//! ```
//!
//! so a least-squares fit over those ACOs (8 unknowns; each ACO's equation divided by its
//! `HB x sum P`, so errors are relative) identifies them. Each ACO is then computed by the engine
//! with the fitted factors, and with no trend at all (factors 1). Three models:
//!
//! - [`Model::NationalTrend`]: first agreements starting 2012 to 2019-01-01 and second agreements
//!   starting in 2016 (with their published add-on): the fitted factors are the national factors.
//! - [`Model::RegionalNotPublished`]: rebased agreements under 425.603(c) (2017-2019-01-01 starts)
//!   use regional trends and a regional adjustment that the PUF does not publish: they are computed
//!   with the national factors of their start year and equal weights, and the residual (published -
//!   computed) is what the regional trend and adjustment explain, reported against the published
//!   sign of the regional adjustment.
//! - [`Model::BlendNotPublished`]: agreements from 2019-07-01 (425.601(a)(5), 425.652(a)(5)) trend
//!   with `w x national + (1 - w) x regional`, `w` the ACO's share of assignable beneficiaries in its
//!   regional service area and the regional factors those of its own counties: both are ACO-specific
//!   and unpublished. The file does publish the adjustment included in `HistBnchmk` (`PosRegAdj` /
//!   `RegAdj` / `PriorSavAdj`), so the fit is made on `HistBnchmk` minus it and gives the start
//!   year's mean blended factors; the residual of each ACO is its own blend's distance from that
//!   mean, which the file cannot resolve. A file that does not publish the adjustment (a 0/1
//!   `PosRegAdj` or none) is fitted on `HistBnchmk` itself, so its residual holds the adjustment
//!   as well ([`Fit::adjustment_published`]).
//!
//! Updated benchmark (`UpdatedBnchmk`), for agreements whose update is the national-regional
//! blend (2019-07-01 to 2023, 425.601(b)) and whose file publishes the performance-year scores
//! and person-years: `UB = sum_e HB_e x RA_e x g_e x PY_e / sum_e PY_e` with `RA_e` the engine's
//! capped risk ratio (425.605(a)(1)(i)) and `g_e` the blended growth, fitted per start year the
//! same way (4 unknowns). The per-type historical benchmarks `HB_e` are not published: the
//! engine's (fitted trend, published adjustment) are scaled to the published `HistBnchmk` [I].
//! Other update rules are not backtested: before 2019-07-01 the risk ratio needs the newly /
//! continuously assigned split and the flat update amounts, from 2024 the ACPT and the 425.655
//! regional inputs, none of which the PUF publishes.
//!
//! Every ACO beyond 0.05% of `HistBnchmk` (or 0.1% of `UpdatedBnchmk`) gets a [`Cause`]: which
//! input the file does not publish, with the regulation paragraph and the ACO's own trend or growth
//! relative to the fitted one that closes the gap (the benchmark is linear in the factors).

use std::collections::BTreeMap;

use acorn_proto::cms::puf::{Layout, PufError, PufFile, PufRow};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};

use benchmark_rules::rules::{self, PriorSavingsRule, PyRiskRule, RuleSet, TrendRule, UpdateRule};
use benchmark_rules::update::update_with;
use benchmark_rules::{
    ByType, Date, Historical, HistoricalInput, NoTrace, PerformanceYearInput, PerformanceYearType,
    PriorSavingsInput, TYPES, YearExperience, historical_with, round_money,
};

const ACO_ID: &[&str] = &["ACO_ID", "ACO_Num", "ACO_Number"];
const START: &[&str] = &["Current_Start_Date", "Start_Date", "Initial_Start_Date"];
const PERIOD: &[&str] = &["Agreement_Period_Num"];
const HIST: &[&str] = &["HistBnchmk"];
const UPDATED: &[&str] = &["UpdatedBnchmk"];
const PRIOR_SAVINGS_ADD_ON: &[&str] = &["Prior_Sav_Adj"];
const PRIOR_SAVINGS_ADJUSTMENT: &[&str] = &["PriorSavAdj", "Prior_Sav_Adj"];
const POSITIVE_REGIONAL: &[&str] = &["PosRegAdj"];
const REGIONAL_ADJUSTMENT: &[&str] = &["RegAdj"];
const TYPE_CODES: [&str; 4] = ["ESRD", "DIS", "AGDU", "AGND"];
const PERSON_YEAR_CODES: [&str; 4] = ["ESRD", "DIS", "AGED_Dual", "AGED_NonDual"];
/// The historical benchmark acceptance threshold: 0.05%.
const WITHIN_PERCENT: f64 = 0.05;
/// The updated benchmark threshold: 0.1%.
const WITHIN_TENTH: f64 = 0.1;
/// Fewest ACOs for a fit of `n` unknowns: one more than the unknowns.
const fn fewest(n: usize) -> usize {
    n + 1
}

/// How an ACO's benchmark was modelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Model {
    /// National trend, fitted factors: first agreements and 425.603(b) second agreements.
    NationalTrend,
    /// 425.603(c): computed without the regional trend and adjustment (not published).
    RegionalNotPublished,
    /// 425.601 / 425.652: ACO-specific national-regional blended trend (not published): the start
    /// year's mean blend, fitted on `HistBnchmk` minus the published adjustment.
    BlendNotPublished,
}

impl Model {
    fn name(self) -> &'static str {
        match self {
            Model::NationalTrend => "national trend",
            Model::RegionalNotPublished => "regional trend and adjustment not published",
            Model::BlendNotPublished => "ACO-specific blended trend not published",
        }
    }
}

/// The updated benchmark of one ACO compared with `UpdatedBnchmk`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UpdatedComparison {
    /// Published `UpdatedBnchmk`.
    pub published: Decimal,
    /// Engine with the start year's fitted growth (cents); `None` if none could be fitted.
    pub computed: Option<Decimal>,
}

impl UpdatedComparison {
    /// (computed - published) / published x 100.
    pub fn error_percent(&self) -> Option<f64> {
        self.computed.map(|c| percent(c, self.published))
    }
}

/// Why an ACO is not within the threshold (0.05% of `HistBnchmk`, 0.1% of `UpdatedBnchmk`): which
/// input the file does not publish, with the number it implies.
#[derive(Debug, Clone, PartialEq)]
pub struct Cause {
    /// Short category, counted in [`Report::causes`] / [`Report::updated_causes`].
    pub category: &'static str,
    /// The row's explanation.
    pub text: String,
}

/// Category: the ACO-specific national-regional blend of 425.601(a)(5) / 425.652(a)(5).
pub const BLENDED_TREND: &str = "ACO-specific blended trend not published";
/// Category: the 425.603(c) regional trend and adjustment.
pub const REGIONAL_TREND: &str = "regional trend and adjustment not published";
/// Category: national trend factors inferred (not published), fit residual.
pub const INFERRED_NATIONAL_TREND: &str = "national trend factors not published (inferred)";
/// Category: too few ACOs share the start year to infer the trend.
pub const NO_FIT: &str = "no trend factors fitted";
/// Category of `updated_cause`: the update is not backtested (the reason in the text).
pub const NOT_BACKTESTED: &str = "not backtested";
/// Category: the ACO-specific blended update of 425.601(b).
pub const BLENDED_UPDATE: &str = "ACO-specific blended update not published";

/// One ACO compared.
#[derive(Debug, Clone, PartialEq)]
pub struct AcoComparison {
    /// 1-based line in the file.
    pub line: usize,
    /// ACO identifier.
    pub aco_id: String,
    /// Agreement start.
    pub start: Date,
    /// Agreement period number.
    pub agreement_period: u32,
    /// Rule set of the agreement.
    pub rule_set: &'static str,
    /// How it was modelled.
    pub model: Model,
    /// Published `HistBnchmk`.
    pub published: Decimal,
    /// Engine, fitted factors (cents); `None` if no factors could be fitted.
    pub computed: Option<Decimal>,
    /// Engine, no trend (cents).
    pub no_trend: Decimal,
    /// `PosRegAdj` as the PY2018 0/1 flag, where published.
    pub positive_regional_adjustment: Option<bool>,
    /// 425.603(b) add-on included (`Prior_Sav_Adj`).
    pub prior_savings_add_on: Option<Decimal>,
    /// Agreements from 2019-07-01: the published adjustment included in `HistBnchmk` (regional or
    /// prior savings, dollars per capita), where published.
    pub published_adjustment: Option<Decimal>,
    /// The updated benchmark, where backtested.
    pub updated: Option<UpdatedComparison>,
    /// Why the historical benchmark is beyond 0.05% (`None` within it).
    pub cause: Option<Cause>,
    /// Why the updated benchmark is beyond 0.1% or not backtested (`None` within it, or where
    /// the rule set has no updated benchmark to compare).
    pub updated_cause: Option<Cause>,
}

impl AcoComparison {
    /// (computed - published) / published x 100.
    pub fn error_percent(&self) -> Option<f64> {
        self.computed.map(|c| percent(c, self.published))
    }

    /// Same with no trend.
    pub fn no_trend_error_percent(&self) -> f64 {
        percent(self.no_trend, self.published)
    }
}

/// (computed - published) / published x 100, NaN when it cannot be represented (a published
/// value so small that the quotient overflows `Decimal`).
fn percent(computed: Decimal, published: Decimal) -> f64 {
    computed
        .checked_sub(published)
        .and_then(|d| d.checked_div(published))
        .and_then(|q| q.checked_mul(Decimal::ONE_HUNDRED))
        .and_then(|p| p.to_f64())
        .unwrap_or(f64::NAN)
}

/// Fitted factors of one agreement start year.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// Agreement start year.
    pub start_year: i32,
    /// The model fitted.
    pub model: Model,
    /// For [`Model::BlendNotPublished`]: fitted on `HistBnchmk` minus the published adjustment
    /// (`false`: the file does not publish it, fitted on `HistBnchmk`).
    pub adjustment_published: bool,
    /// ACOs in the fit.
    pub acos: usize,
    /// BY1 -> BY3 and BY2 -> BY3 by type.
    pub factors: [ByType<Decimal>; 2],
}

/// Fitted BY3 -> PY growth of one agreement start year.
#[derive(Debug, Clone, PartialEq)]
pub struct GrowthFit {
    /// Agreement start year.
    pub start_year: i32,
    /// ACOs in the fit.
    pub acos: usize,
    /// Growth factors by type.
    pub growth: ByType<Decimal>,
}

/// Distribution of absolute percentage errors.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Distribution {
    /// ACOs.
    pub acos: usize,
    /// Largest |error| %.
    pub max: f64,
    /// Median |error| %.
    pub p50: f64,
    /// 95th percentile |error| %.
    pub p95: f64,
    /// ACOs within 0.05%.
    pub within: usize,
    /// ACOs within 0.1%.
    pub within_tenth: usize,
    /// ACOs within 0.5%.
    pub within_half: usize,
}

impl Distribution {
    fn of(mut errors: Vec<f64>) -> Self {
        errors.iter_mut().for_each(|e| *e = e.abs());
        errors.sort_by(f64::total_cmp);
        let at = |q: f64| {
            errors
                .get(((errors.len().max(1) - 1) as f64 * q).round() as usize)
                .copied()
                .unwrap_or(0.0)
        };
        let within = |limit: f64| errors.iter().filter(|e| **e <= limit).count();
        Distribution {
            acos: errors.len(),
            max: errors.last().copied().unwrap_or(0.0),
            p50: at(0.5),
            p95: at(0.95),
            within: within(WITHIN_PERCENT),
            within_tenth: within(WITHIN_TENTH),
            within_half: within(0.5),
        }
    }
}

/// A group of ACOs reported together: same agreement start year, period class and model.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Agreement start year.
    pub start_year: i32,
    /// 1 for first agreements, 2 for rebased ones.
    pub agreement_period: u32,
    /// Rule set.
    pub rule_set: &'static str,
    /// Model.
    pub model: Model,
    /// Errors with the fitted factors (residuals for [`Model::RegionalNotPublished`]).
    pub fitted: Distribution,
    /// Errors with no trend.
    pub no_trend: Distribution,
    /// For [`Model::RegionalNotPublished`]: (PosRegAdj, ACOs, ACOs whose residual has that sign,
    /// median residual %).
    pub regional_sign: Vec<(bool, usize, usize, f64)>,
    /// Errors of the updated benchmark, where backtested.
    pub updated: Distribution,
}

/// The result of [`run`].
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Performance year of the file.
    pub performance_year: Option<i32>,
    /// Fitted factors by agreement start year.
    pub fits: Vec<Fit>,
    /// Fitted BY3 -> PY growth by agreement start year (updated benchmark backtest).
    pub growth_fits: Vec<GrowthFit>,
    /// Groups.
    pub groups: Vec<Group>,
    /// Every ACO compared, in file order.
    pub acos: Vec<AcoComparison>,
    /// Rows not compared: (line, reason).
    pub skipped: Vec<(usize, String)>,
    /// ACOs whose updated benchmark is not backtested, by reason: (reason, ACOs).
    pub updated_not_backtested: Vec<(String, usize)>,
    /// ACOs beyond 0.05% of `HistBnchmk` by [`Cause::category`].
    pub causes: Vec<(&'static str, usize)>,
    /// ACOs beyond 0.1% of `UpdatedBnchmk` by [`Cause::category`] (not-backtested rows are in
    /// `updated_not_backtested`).
    pub updated_causes: Vec<(&'static str, usize)>,
}

/// Why a file cannot be backtested.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    /// A required column is absent.
    #[error("the file has no {0} column")]
    MissingColumn(String),
}

/// What the file publishes of the performance year, for the updated benchmark.
struct PublishedYear {
    updated: Decimal,
    input: PerformanceYearInput,
}

struct Prepared {
    line: usize,
    aco_id: String,
    start: Date,
    period: u32,
    rules: RuleSet,
    model: Model,
    experience: [ByType<YearExperience>; 3],
    published: Decimal,
    add_on: Option<Decimal>,
    positive_regional: Option<bool>,
    adjustment: Option<Decimal>,
    /// `Ok` when the updated benchmark can be backtested, else why not.
    year: Result<PublishedYear, String>,
}

impl Prepared {
    /// Adjustments included in `HistBnchmk` that the file publishes.
    fn published_adjustments(&self) -> Decimal {
        self.add_on.unwrap_or_default() + self.adjustment.unwrap_or_default()
    }
}

/// What the file's columns mean, decided over the whole file.
struct Columns {
    /// The file has `RegAdj` (PY2024).
    has_regional_adjustment: bool,
    /// `PosRegAdj` holds dollars (PY2022) rather than the PY2018 0/1 flag.
    positive_regional_is_dollars: bool,
    performance_year: Option<i32>,
}

impl Columns {
    fn of(file: &PufFile) -> Columns {
        // The reader's layout decides where it knows (PY2016-2018: the flag; PY2022-2023: dollars);
        // otherwise the values do: dollars unless every value is 0 or 1.
        let positive_regional_is_dollars = match file.layout() {
            Layout::Py2016 => false,
            Layout::Py2022 | Layout::Py2023 => true,
            _ => file.rows().any(|row| {
                matches!(row.decimal(POSITIVE_REGIONAL), Ok(Some(d)) if d != Decimal::ZERO && d != Decimal::ONE)
            }),
        };
        Columns {
            has_regional_adjustment: file.has_column(REGIONAL_ADJUSTMENT[0]),
            positive_regional_is_dollars,
            performance_year: file.performance_year(),
        }
    }
}

fn cell(row: &PufRow<'_>, name: &str) -> Result<Decimal, String> {
    match row.decimal(&[name]) {
        Ok(Some(d)) => Ok(d),
        Ok(None) => Err(format!("{name} is missing or suppressed")),
        Err(e) => Err(e.to_string()),
    }
}

fn optional(row: &PufRow<'_>, names: &[&str]) -> Result<Option<Decimal>, String> {
    row.decimal(names).map_err(|e| e.to_string())
}

/// The adjustment (dollars per capita) that `HistBnchmk` includes for agreements from 2019-07-01,
/// from the file's columns; `None` when the file does not publish it.
fn published_adjustment(
    row: &PufRow<'_>,
    rules: &RuleSet,
    layout: &Columns,
) -> Result<Option<Decimal>, String> {
    let regional = if layout.has_regional_adjustment {
        optional(row, REGIONAL_ADJUSTMENT)?
    } else if layout.positive_regional_is_dollars {
        optional(row, POSITIVE_REGIONAL)?
    } else {
        None
    };
    Ok(match rules.prior_savings {
        // 425.652(a)(8): the higher of the positive regional adjustment and the prior savings
        // adjustment; a regional single value <= 0 gives none [I: that RegAdj is the single value].
        PriorSavingsRule::Adjustment { .. } => {
            let psa = optional(row, PRIOR_SAVINGS_ADJUSTMENT)?;
            match (regional, psa) {
                (None, None) => None,
                (r, p) => {
                    let r = r.unwrap_or_default().max(Decimal::ZERO);
                    Some(r.max(p.unwrap_or_default()))
                }
            }
        }
        _ => regional,
    })
}

fn published_year(
    row: &PufRow<'_>,
    rules: &RuleSet,
    layout: &Columns,
) -> Result<PublishedYear, String> {
    if !matches!(rules.update, UpdateRule::Blend)
        || !matches!(rules.risk, PyRiskRule::Capped { .. })
    {
        return Err(match rules.update {
            UpdateRule::ThreeWay { .. } => "agreements from 2024: the ACPT and the 425.655 regional risk inputs are not published",
            _ => "agreements before 2019-07-01: the newly / continuously assigned split and the update amounts are not published",
        }
        .into());
    }
    let performance_year = layout
        .performance_year
        .ok_or("the performance year is not known (pass --performance-year)")?;
    let updated = cell(row, UPDATED[0])?;
    if updated <= Decimal::ZERO {
        return Err("UpdatedBnchmk is not positive".into());
    }
    let mut types = [PerformanceYearType::default(); 4];
    for t in TYPES {
        let i = t.index();
        types[i].person_years = cell(row, &format!("N_AB_Year_{}_PY", PERSON_YEAR_CODES[i]))?;
        types[i].risk_score = Some(cell(
            row,
            &format!("CMS_HCC_RiskScore_{}_PY", TYPE_CODES[i]),
        )?);
    }
    Ok(PublishedYear {
        updated,
        input: PerformanceYearInput {
            performance_year,
            types,
            ..PerformanceYearInput::default()
        },
    })
}

fn prepare(row: &PufRow<'_>, layout: &Columns) -> Result<Prepared, String> {
    let aco_id = row.text(ACO_ID).unwrap_or("?").to_string();
    let start = row
        .date(START)
        .map_err(|e: PufError| e.to_string())?
        .ok_or("no agreement start date")?;
    let period = match row.decimal(PERIOD).map_err(|e| e.to_string())? {
        None => 1,
        Some(p) => p
            .to_u32()
            .filter(|n| *n >= 1 && Decimal::from(*n) == p)
            .ok_or("Agreement_Period_Num is not a period number")?,
    };
    let rules = rules::select(start, period).map_err(|e| e.to_string())?;
    let model = match rules.trend {
        TrendRule::National => Model::NationalTrend,
        TrendRule::Regional => Model::RegionalNotPublished,
        TrendRule::Blend => Model::BlendNotPublished,
    };
    let mut experience = [[YearExperience::default(); 4]; 3];
    for (k, year) in experience.iter_mut().enumerate() {
        for t in TYPES {
            let i = t.index();
            year[i].per_capita = cell(
                row,
                &format!("Per_Capita_Exp_ALL_{}_BY{}", TYPE_CODES[i], k + 1),
            )?;
            year[i].risk_score = cell(
                row,
                &format!("CMS_HCC_RiskScore_{}_BY{}", TYPE_CODES[i], k + 1),
            )?;
            year[i].person_years = cell(row, &format!("N_AB_Year_{}_BY3", PERSON_YEAR_CODES[i]))?;
        }
    }
    let published = cell(row, HIST[0])?;
    if published <= Decimal::ZERO {
        return Err("HistBnchmk is not positive".into());
    }
    let add_on = match rules.prior_savings {
        PriorSavingsRule::AddOn => Some(optional(row, PRIOR_SAVINGS_ADD_ON)?.unwrap_or_default()),
        _ => None,
    };
    let positive_regional = if layout.positive_regional_is_dollars {
        None
    } else {
        row.flag(POSITIVE_REGIONAL).ok().flatten()
    };
    let adjustment = match model {
        Model::BlendNotPublished => published_adjustment(row, &rules, layout)?,
        _ => None,
    };
    let year = published_year(row, &rules, layout);
    Ok(Prepared {
        line: row.line(),
        aco_id,
        start,
        period,
        rules,
        model,
        experience,
        published,
        add_on,
        positive_regional,
        adjustment,
        year,
    })
}

fn rules_for(p: &Prepared) -> RuleSet {
    match p.model {
        Model::NationalTrend => p.rules,
        // Without what the PUF does not publish: the fitted factors stand for the trend, no
        // computed adjustment (the published one is added for the blend model).
        Model::RegionalNotPublished | Model::BlendNotPublished => RuleSet {
            trend: TrendRule::National,
            regional: None,
            prior_savings: PriorSavingsRule::None,
            ..p.rules
        },
    }
}

fn historical_input(p: &Prepared, factors: [ByType<Decimal>; 2]) -> HistoricalInput {
    HistoricalInput {
        agreement_start: p.start,
        agreement_period: p.period,
        years: [p.start.year() - 3, p.start.year() - 2, p.start.year() - 1],
        experience: p.experience,
        national_trend: Some(factors),
        regional: None,
        prior_savings: p.add_on.map(|a| PriorSavingsInput {
            per_capita_savings: [a; 3],
            proration_factor: Decimal::ONE,
        }),
    }
}

/// The engine's historical benchmark with `factors`, plus the published adjustment of the blend
/// model (added to every enrollment type, so to the per capita).
fn compute(p: &Prepared, factors: [ByType<Decimal>; 2]) -> Result<Historical, String> {
    let input = historical_input(p, factors);
    let mut h = historical_with(&rules_for(p), &input, &mut NoTrace).map_err(|e| e.to_string())?;
    if let Some(adj) = p.adjustment {
        for t in h.types.iter_mut() {
            t.prior_savings_adjustment = adj;
            t.per_capita = t.unadjusted + adj;
        }
        h.per_capita = h.unadjusted_per_capita + adj;
    }
    Ok(h)
}

fn f(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(f64::NAN)
}

/// One least-squares row: features, target.
type Equation<const N: usize> = ([f64; N], f64);

/// One ACO's least-squares row: (features for T1_e, T2_e interleaved, target), scaled by 1 / (HB x sum P).
fn equation(p: &Prepared) -> Equation<8> {
    let w = p.rules.weights.map(f);
    let ws: f64 = w.iter().sum();
    let by3 = &p.experience[2];
    let total_py: f64 = by3.iter().map(|e| f(e.person_years)).sum();
    let hb = f(p.published) - f(p.published_adjustments());
    let scale = 1.0 / (f(p.published) * total_py);
    let mut x = [0.0; 8];
    let mut constant = 0.0;
    for t in TYPES {
        let i = t.index();
        let py = f(by3[i].person_years);
        for k in 0..2 {
            let e = &p.experience[k][i];
            x[2 * i + k] =
                py * w[k] / ws * f(e.per_capita) * f(by3[i].risk_score) / f(e.risk_score) * scale;
        }
        constant += py * w[2] / ws * f(by3[i].per_capita);
    }
    (x, (hb * total_py - constant) * scale)
}

/// Solves the normal equations of `rows` (Gaussian elimination with partial pivoting); `None`
/// unless every unknown comes out finite and positive.
fn least_squares<const N: usize>(rows: &[Equation<N>]) -> Option<[f64; N]> {
    let mut a = [[0.0f64; N]; N];
    let mut b = [0.0f64; N];
    for (x, y) in rows {
        if !y.is_finite() || x.iter().any(|v| !v.is_finite()) {
            continue;
        }
        for i in 0..N {
            for j in 0..N {
                a[i][j] += x[i] * x[j];
            }
            b[i] += x[i] * y;
        }
    }
    for c in 0..N {
        let pivot = (c..N).max_by(|&r, &s| a[r][c].abs().total_cmp(&a[s][c].abs()))?;
        a.swap(c, pivot);
        b.swap(c, pivot);
        if a[c][c].is_nan() || a[c][c].abs() < 1e-300 {
            return None;
        }
        for r in 0..N {
            if r != c {
                let factor = a[r][c] / a[c][c];
                let pivot_row = a[c];
                for (k, v) in a[r].iter_mut().enumerate().skip(c) {
                    *v -= factor * pivot_row[k];
                }
                b[r] -= factor * b[c];
            }
        }
    }
    let solution: [f64; N] = std::array::from_fn(|i| b[i] / a[i][i]);
    solution
        .iter()
        .all(|v| v.is_finite() && *v > 0.0)
        .then_some(solution)
}

fn decimal(v: f64) -> Option<Decimal> {
    Decimal::try_from(v).ok().map(|d| d.round_dp(8))
}

fn to_factors(t: [f64; 8]) -> Option<[ByType<Decimal>; 2]> {
    let mut out = [[Decimal::ONE; 4]; 2];
    for i in 0..4 {
        out[0][i] = decimal(t[2 * i])?;
        out[1][i] = decimal(t[2 * i + 1])?;
    }
    Some(out)
}

/// The historical benchmark scaled to the published `HistBnchmk` (the per-type split is not
/// published) and the engine's risk ratios for the performance year.
fn updated_inputs(
    p: &Prepared,
    h: &Historical,
    year: &PublishedYear,
) -> Result<(Historical, ByType<Decimal>), String> {
    let scale = p
        .published
        .checked_div(h.per_capita)
        .ok_or("the computed historical benchmark is zero")?;
    let mut scaled = *h;
    for t in scaled.types.iter_mut() {
        t.per_capita = t.per_capita.checked_mul(scale).ok_or("overflow")?;
    }
    scaled.per_capita = p.published;
    let mut input = year.input;
    input.national_growth = Some([Decimal::ONE; 4]);
    input.regional_growth = Some([Decimal::ONE; 4]);
    input.national_weight = Some(Decimal::ONE);
    let hi = historical_input(p, [[Decimal::ONE; 4]; 2]);
    let u = update_with(&p.rules, &hi, &scaled, &input, &mut NoTrace).map_err(|e| e.to_string())?;
    Ok((scaled, u.types.map(|t| t.risk_ratio)))
}

/// The updated benchmark per capita with growth `g` (the blend with national weight 1 and equal
/// national and regional growth: the fitted factors stand for the ACO's blend).
fn compute_updated(
    p: &Prepared,
    scaled: &Historical,
    year: &PublishedYear,
    g: ByType<Decimal>,
) -> Result<Decimal, String> {
    let mut input = year.input;
    input.national_growth = Some(g);
    input.regional_growth = Some(g);
    input.national_weight = Some(Decimal::ONE);
    let hi = historical_input(p, [[Decimal::ONE; 4]; 2]);
    update_with(&p.rules, &hi, scaled, &input, &mut NoTrace)
        .map(|u| round_money(u.per_capita))
        .map_err(|e| e.to_string())
}

/// The ACO's own trend relative to the fitted one: `s` with `HB(s x T) = published`, from the
/// least-squares row (the benchmark is linear in the factors), as a percentage `(s - 1) x 100`.
fn implied_trend_deviation(p: &Prepared, t: [ByType<Decimal>; 2]) -> Option<f64> {
    let (x, y) = equation(p);
    let predicted: f64 = (0..4)
        .map(|i| x[2 * i] * f(t[0][i]) + x[2 * i + 1] * f(t[1][i]))
        .sum();
    let s = y / predicted;
    s.is_finite().then_some((s - 1.0) * 100.0)
}

/// Why the historical benchmark is beyond 0.05%, row by row.
fn hist_cause(
    p: &Prepared,
    a: &AcoComparison,
    fit: Option<(usize, [ByType<Decimal>; 2])>,
) -> Option<Cause> {
    let Some((acos, t)) = fit else {
        return Some(Cause {
            category: NO_FIT,
            text: format!(
                "the trend factors are not published and fewer than {} ACOs with the published inputs share the {} start year to infer them",
                fewest(8),
                p.start.year()
            ),
        });
    };
    let error = a.error_percent()?;
    if error.abs() <= WITHIN_PERCENT {
        return None;
    }
    let implied =
        implied_trend_deviation(p, t).map_or_else(|| "-".to_string(), |k| format!("{k:+.2}%"));
    Some(match p.model {
        Model::BlendNotPublished => Cause {
            category: BLENDED_TREND,
            text: format!(
                "BY1/BY2 trend is the ACO's own blend w x national + (1 - w) x regional (42 CFR 425.601(a)(5)(iv)-(v), 425.652(a)(5)): w (its share of assignable beneficiaries in its regional service area) and its counties' regional growth are not published; the start year's mean blend ({acos} ACOs) leaves {error:+.3}%, closed by an ACO trend {implied} from that mean"
            ),
        },
        Model::RegionalNotPublished => Cause {
            category: REGIONAL_TREND,
            text: format!(
                "regional trend (42 CFR 425.603(c)(5)) and regional adjustment (425.603(c)(9)) are not published ({}); computed with the national factors and equal weights: {error:+.3}%, an ACO trend {implied} from the national one",
                match a.positive_regional_adjustment {
                    Some(true) => "PosRegAdj = 1: positive adjustment",
                    Some(false) => "PosRegAdj = 0: negative adjustment",
                    None => "sign not published",
                }
            ),
        },
        Model::NationalTrend => Cause {
            category: INFERRED_NATIONAL_TREND,
            text: format!(
                "the national trend factors (42 CFR 425.602(a)(5), 425.603(b)) are not published; inferred by least squares over {acos} ACOs of the start year, they leave {error:+.3}% (an ACO trend {implied} from the fit)"
            ),
        },
    })
}

/// Why the updated benchmark is beyond 0.1% or not backtested, row by row.
fn updated_cause(p: &Prepared, a: &AcoComparison, growth_acos: Option<usize>) -> Option<Cause> {
    let year = match &p.year {
        Err(reason) => {
            return Some(Cause {
                category: NOT_BACKTESTED,
                text: reason.clone(),
            });
        }
        Ok(year) => year,
    };
    let not_backtested = |text: String| {
        Some(Cause {
            category: NOT_BACKTESTED,
            text,
        })
    };
    let computed = match a.updated {
        None if a.computed.is_none() => {
            return not_backtested("no historical trend factors fitted".into());
        }
        None => return not_backtested("the engine could not compute the update inputs".into()),
        Some(UpdatedComparison { computed: None, .. }) => {
            return not_backtested(format!(
                "the update growth is not published and fewer than {} ACOs of the start year have the inputs to infer it",
                fewest(4)
            ));
        }
        Some(UpdatedComparison {
            computed: Some(c), ..
        }) => c,
    };
    let error = percent(computed, year.updated);
    if error.abs() <= WITHIN_TENTH {
        return None;
    }
    // UB is linear in the growth: the ACO's own growth is published / computed times the mean.
    let implied = (f(year.updated) / f(computed) - 1.0) * 100.0;
    Some(Cause {
        category: BLENDED_UPDATE,
        text: format!(
            "BY3 -> PY{} growth is the ACO's own blend (42 CFR 425.601(b)(2)-(4): national weight = its share of assignable beneficiaries in the performance year, regional growth of its counties), not published, nor is the split of HistBnchmk by enrollment type; the start year's mean growth ({} ACOs) leaves {error:+.3}%, an ACO growth {implied:+.2}% from that mean",
            year.input.performance_year,
            growth_acos.unwrap_or_default()
        ),
    })
}

fn count_causes<'a>(causes: impl Iterator<Item = &'a Cause>) -> Vec<(&'static str, usize)> {
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for c in causes {
        *counts.entry(c.category).or_default() += 1;
    }
    counts.into_iter().collect()
}

/// (start year, model, adjustment published): the ACOs that share fitted factors.
type FitKey = (i32, Model, bool);

fn fit_key(p: &Prepared) -> FitKey {
    (p.start.year(), p.model, p.adjustment.is_some())
}

/// Backtests every ACO of the file.
pub fn run(file: &PufFile) -> Result<Report, BacktestError> {
    for column in [
        HIST[0],
        "Per_Capita_Exp_ALL_AGND_BY1",
        "CMS_HCC_RiskScore_AGND_BY1",
        "N_AB_Year_AGED_NonDual_BY3",
    ] {
        if !file.has_column(column) {
            return Err(BacktestError::MissingColumn(column.into()));
        }
    }
    let layout = Columns::of(file);
    let mut prepared = Vec::new();
    let mut skipped = Vec::new();
    for row in file.rows() {
        match prepare(&row, &layout) {
            Ok(p) => prepared.push(p),
            Err(reason) => skipped.push((row.line(), reason)),
        }
    }
    // Fit the trend factors per start year and model: national, or the blend's mean (the blend
    // separately for rows whose file publishes the adjustment and rows whose file does not: a file
    // without it, e.g. one with only the 0/1 PosRegAdj flag, is fitted on HistBnchmk itself).
    let mut by_year: BTreeMap<FitKey, Vec<Equation<8>>> = BTreeMap::new();
    for p in &prepared {
        if p.model != Model::RegionalNotPublished {
            by_year.entry(fit_key(p)).or_default().push(equation(p));
        }
    }
    let mut fits = Vec::new();
    let mut factors: BTreeMap<FitKey, (usize, [ByType<Decimal>; 2])> = BTreeMap::new();
    for (key, rows) in &by_year {
        if rows.len() < fewest(8) {
            continue;
        }
        if let Some(t) = least_squares(rows).and_then(to_factors) {
            factors.insert(*key, (rows.len(), t));
            fits.push(Fit {
                start_year: key.0,
                model: key.1,
                adjustment_published: key.2,
                acos: rows.len(),
                factors: t,
            });
        }
    }
    let factors_of = |p: &Prepared| {
        let key = match p.model {
            Model::RegionalNotPublished => (p.start.year(), Model::NationalTrend, false),
            _ => fit_key(p),
        };
        factors.get(&key).copied()
    };
    // Compute every ACO's historical benchmark.
    let mut computed: Vec<(usize, Option<Historical>, Decimal)> = Vec::new();
    for (n, p) in prepared.iter().enumerate() {
        let no_trend = match compute(p, [[Decimal::ONE; 4]; 2]) {
            Ok(h) => round_money(h.per_capita),
            Err(e) => {
                skipped.push((p.line, e));
                continue;
            }
        };
        let fitted = match factors_of(p) {
            Some((_, t)) => match compute(p, t) {
                Ok(h) => Some(h),
                Err(e) => {
                    skipped.push((p.line, e));
                    continue;
                }
            },
            None => None,
        };
        computed.push((n, fitted, no_trend));
    }
    // Updated benchmarks: fit the growth per start year, then compute.
    let mut updated_rows: BTreeMap<i32, Vec<Equation<4>>> = BTreeMap::new();
    let mut updated_inputs_of: BTreeMap<usize, (Historical, ByType<Decimal>)> = BTreeMap::new();
    let mut not_backtested: BTreeMap<String, usize> = BTreeMap::new();
    for (n, h, _) in &computed {
        let p = &prepared[*n];
        let (year, h) = match (&p.year, h) {
            (Err(reason), _) => {
                *not_backtested.entry(reason.clone()).or_default() += 1;
                continue;
            }
            (Ok(_), None) => {
                *not_backtested
                    .entry("no historical trend factors fitted".into())
                    .or_default() += 1;
                continue;
            }
            (Ok(year), Some(h)) => (year, h),
        };
        match updated_inputs(p, h, year) {
            Ok((scaled, ratios)) => {
                let total: f64 = year.input.types.iter().map(|t| f(t.person_years)).sum();
                let ub = f(year.updated);
                let x: [f64; 4] = std::array::from_fn(|i| {
                    f(scaled.types[i].per_capita)
                        * f(ratios[i])
                        * f(year.input.types[i].person_years)
                        / total
                        / ub
                });
                updated_rows
                    .entry(p.start.year())
                    .or_default()
                    .push((x, 1.0));
                updated_inputs_of.insert(*n, (scaled, ratios));
            }
            Err(e) => *not_backtested.entry(e).or_default() += 1,
        }
    }
    let mut growth_fits = Vec::new();
    let mut growth: BTreeMap<i32, ByType<Decimal>> = BTreeMap::new();
    for (year, rows) in &updated_rows {
        if rows.len() < fewest(4) {
            continue;
        }
        let Some(g) = least_squares(rows) else {
            continue;
        };
        let Some(g) = g.iter().map(|v| decimal(*v)).collect::<Option<Vec<_>>>() else {
            continue;
        };
        let g: ByType<Decimal> = [g[0], g[1], g[2], g[3]];
        growth.insert(*year, g);
        growth_fits.push(GrowthFit {
            start_year: *year,
            acos: rows.len(),
            growth: g,
        });
    }
    let mut acos = Vec::new();
    for (n, h, no_trend) in computed {
        let p = &prepared[n];
        let updated = match (&p.year, updated_inputs_of.get(&n)) {
            (Ok(year), Some((scaled, _))) => Some(UpdatedComparison {
                published: year.updated,
                computed: growth
                    .get(&p.start.year())
                    .and_then(|g| compute_updated(p, scaled, year, *g).ok()),
            }),
            _ => None,
        };
        let mut a = AcoComparison {
            line: p.line,
            aco_id: p.aco_id.clone(),
            start: p.start,
            agreement_period: p.period,
            rule_set: p.rules.id,
            model: p.model,
            published: p.published,
            computed: h.map(|h| round_money(h.per_capita)),
            no_trend,
            positive_regional_adjustment: p.positive_regional,
            prior_savings_add_on: p.add_on,
            published_adjustment: p.adjustment,
            updated,
            cause: None,
            updated_cause: None,
        };
        a.cause = hist_cause(p, &a, factors_of(p));
        a.updated_cause = updated_cause(
            p,
            &a,
            growth_fits
                .iter()
                .find(|g| g.start_year == p.start.year())
                .map(|g| g.acos),
        );
        acos.push(a);
    }
    skipped.sort();
    let groups = groups(&acos);
    let causes = count_causes(acos.iter().filter_map(|a| a.cause.as_ref()));
    let updated_causes = count_causes(
        acos.iter()
            .filter_map(|a| a.updated_cause.as_ref())
            .filter(|c| c.category != NOT_BACKTESTED),
    );
    Ok(Report {
        performance_year: file.performance_year(),
        fits,
        growth_fits,
        groups,
        acos,
        skipped,
        updated_not_backtested: not_backtested.into_iter().collect(),
        causes,
        updated_causes,
    })
}

fn groups(acos: &[AcoComparison]) -> Vec<Group> {
    let mut keys: Vec<(i32, u32, &'static str, Model)> = acos
        .iter()
        .map(|a| {
            (
                a.start.year(),
                a.agreement_period.min(2),
                a.rule_set,
                a.model,
            )
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|(start_year, period, rule_set, model)| {
            let members: Vec<&AcoComparison> = acos
                .iter()
                .filter(|a| {
                    a.start.year() == start_year
                        && a.agreement_period.min(2) == period
                        && a.rule_set == rule_set
                        && a.model == model
                })
                .collect();
            let fitted =
                Distribution::of(members.iter().filter_map(|a| a.error_percent()).collect());
            let no_trend =
                Distribution::of(members.iter().map(|a| a.no_trend_error_percent()).collect());
            let updated = Distribution::of(
                members
                    .iter()
                    .filter_map(|a| a.updated.and_then(|u| u.error_percent()))
                    .collect(),
            );
            let mut regional_sign = Vec::new();
            if model == Model::RegionalNotPublished {
                for sign in [true, false] {
                    let mut residuals: Vec<f64> = members
                        .iter()
                        .filter(|a| a.positive_regional_adjustment == Some(sign))
                        .filter_map(|a| a.error_percent().map(|e| -e))
                        .collect();
                    if residuals.is_empty() {
                        continue;
                    }
                    residuals.sort_by(f64::total_cmp);
                    let agree = residuals.iter().filter(|r| (**r > 0.0) == sign).count();
                    regional_sign.push((
                        sign,
                        residuals.len(),
                        agree,
                        residuals[residuals.len() / 2],
                    ));
                }
            }
            Group {
                start_year,
                agreement_period: period,
                rule_set,
                model,
                fitted,
                no_trend,
                regional_sign,
                updated,
            }
        })
        .collect()
}

fn money(d: Decimal) -> String {
    d.normalize().to_string()
}

fn cause_json(c: &Cause) -> Value {
    json!({"category": c.category, "text": c.text})
}

fn by_type_json(values: &ByType<Decimal>) -> Value {
    Value::Object(
        TYPES
            .iter()
            .map(|t| {
                (
                    t.name().to_string(),
                    Value::String(values[t.index()].to_string()),
                )
            })
            .collect(),
    )
}

impl Report {
    /// Human-readable report.
    pub fn to_table(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let py = self
            .performance_year
            .map_or("?".to_string(), |y| y.to_string());
        let _ = writeln!(
            out,
            "Historical benchmark backtest, PY{py}: {} ACOs compared, {} skipped",
            self.acos.len(),
            self.skipped.len()
        );
        let _ = writeln!(
            out,
            "\nTrend factors inferred by least squares (per agreement start year; BY1->BY3 / BY2->BY3; blend = the start year's mean blended factors):"
        );
        let _ = writeln!(
            out,
            "{:<6} {:<15} {:>5}  {:>19} {:>19} {:>19} {:>19}",
            "start", "trend", "ACOs", "ESRD", "DISABLED", "AGED_DUAL", "AGED_NON_DUAL"
        );
        for fit in &self.fits {
            let cells: Vec<String> = (0..4)
                .map(|i| format!("{:.4} / {:.4}", fit.factors[0][i], fit.factors[1][i]))
                .collect();
            let _ = writeln!(
                out,
                "{:<6} {:<15} {:>5}  {:>19} {:>19} {:>19} {:>19}",
                fit.start_year,
                match (fit.model, fit.adjustment_published) {
                    (Model::BlendNotPublished, true) => "blend",
                    (Model::BlendNotPublished, false) => "blend (no adj.)",
                    _ => "national",
                },
                fit.acos,
                cells[0],
                cells[1],
                cells[2],
                cells[3]
            );
        }
        let _ = writeln!(
            out,
            "\nAbsolute error vs published HistBnchmk, % (within = ACOs within {WITHIN_PERCENT}%):"
        );
        let _ = writeln!(
            out,
            "{:<6} {:<7} {:<18} {:>5} | {:>8} {:>8} {:>8} {:>7} {:>7} | {:>9} {:>9} {:>9}",
            "start",
            "period",
            "rule set",
            "ACOs",
            "max",
            "p50",
            "p95",
            "within",
            "<=0.5%",
            "no trend:",
            "p50",
            "p95"
        );
        for g in &self.groups {
            let period = if g.agreement_period == 1 {
                "first"
            } else {
                "rebased"
            };
            if g.fitted.acos == 0 {
                let _ = writeln!(
                    out,
                    "{:<6} {:<7} {:<18} {:>5} | no trend factors: fewer than {} ACOs with the published inputs share this start year | {:>9.4} {:>9.4} {:>9.4}",
                    g.start_year,
                    period,
                    g.rule_set,
                    g.no_trend.acos,
                    fewest(8),
                    g.no_trend.max,
                    g.no_trend.p50,
                    g.no_trend.p95
                );
                continue;
            }
            let _ = writeln!(
                out,
                "{:<6} {:<7} {:<18} {:>5} | {:>8.4} {:>8.4} {:>8.4} {:>7} {:>7} | {:>9.4} {:>9.4} {:>9.4}",
                g.start_year,
                period,
                g.rule_set,
                g.fitted.acos,
                g.fitted.max,
                g.fitted.p50,
                g.fitted.p95,
                g.fitted.within,
                g.fitted.within_half,
                g.no_trend.max,
                g.no_trend.p50,
                g.no_trend.p95
            );
            if g.model != Model::NationalTrend {
                let _ = writeln!(out, "       {}", g.model.name());
            }
            for (sign, n, agree, median) in &g.regional_sign {
                let _ = writeln!(
                    out,
                    "       PosRegAdj={} {n} ACOs, residual (published - computed) has that sign for {agree}, median residual {median:+.2}%",
                    u8::from(*sign)
                );
            }
        }
        if !self.growth_fits.is_empty() {
            let _ = writeln!(
                out,
                "\nUpdated benchmark: BY3 -> PY growth inferred by least squares (per agreement start year; the start year's mean blended growth):"
            );
            let _ = writeln!(
                out,
                "{:<6} {:>5}  {:>9} {:>9} {:>9} {:>13}",
                "start", "ACOs", "ESRD", "DISABLED", "AGED_DUAL", "AGED_NON_DUAL"
            );
            for g in &self.growth_fits {
                let _ = writeln!(
                    out,
                    "{:<6} {:>5}  {:>9.4} {:>9.4} {:>9.4} {:>13.4}",
                    g.start_year, g.acos, g.growth[0], g.growth[1], g.growth[2], g.growth[3]
                );
            }
            let _ = writeln!(
                out,
                "\nAbsolute error vs published UpdatedBnchmk, %:\n{:<6} {:<7} {:<18} {:>5} | {:>8} {:>8} {:>8} {:>8} {:>7}",
                "start", "period", "rule set", "ACOs", "max", "p50", "p95", "<=0.1%", "<=0.5%"
            );
            for g in self.groups.iter().filter(|g| g.updated.acos > 0) {
                let _ = writeln!(
                    out,
                    "{:<6} {:<7} {:<18} {:>5} | {:>8.4} {:>8.4} {:>8.4} {:>8} {:>7}",
                    g.start_year,
                    if g.agreement_period == 1 {
                        "first"
                    } else {
                        "rebased"
                    },
                    g.rule_set,
                    g.updated.acos,
                    g.updated.max,
                    g.updated.p50,
                    g.updated.p95,
                    g.updated.within_tenth,
                    g.updated.within_half
                );
            }
        }
        for (reason, n) in &self.updated_not_backtested {
            let _ = writeln!(out, "UpdatedBnchmk not backtested for {n} ACOs: {reason}");
        }
        let _ = writeln!(
            out,
            "\n{:<8} {:>6} {:<10} {:>10} {:>12} {:>9} {:>12} {:>9} {:>10} {:>12} {:>9}",
            "ACO",
            "period",
            "start",
            "published",
            "computed",
            "error %",
            "no trend",
            "error %",
            "updated",
            "computed",
            "error %"
        );
        for a in &self.acos {
            let dash = || "-".to_string();
            let _ = writeln!(
                out,
                "{:<8} {:>6} {:<10} {:>10} {:>12} {:>9} {:>12} {:>9.4} {:>10} {:>12} {:>9}",
                a.aco_id,
                a.agreement_period,
                a.start.to_string(),
                money(a.published),
                a.computed.map(|c| format!("{c:.2}")).unwrap_or_else(dash),
                a.error_percent()
                    .map(|e| format!("{e:.4}"))
                    .unwrap_or_else(dash),
                format!("{:.2}", a.no_trend),
                a.no_trend_error_percent(),
                a.updated.map(|u| money(u.published)).unwrap_or_else(dash),
                a.updated
                    .and_then(|u| u.computed)
                    .map(|c| format!("{c:.2}"))
                    .unwrap_or_else(dash),
                a.updated
                    .and_then(|u| u.error_percent())
                    .map(|e| format!("{e:.4}"))
                    .unwrap_or_else(dash),
            );
        }
        for (what, counts) in [
            ("HistBnchmk beyond 0.05%", &self.causes),
            ("UpdatedBnchmk beyond 0.1%", &self.updated_causes),
        ] {
            if !counts.is_empty() {
                let _ = writeln!(out, "\n{what}, by what the file does not publish:");
                for (category, n) in counts {
                    let _ = writeln!(out, "  {n:>5}  {category}");
                }
            }
        }
        if self
            .acos
            .iter()
            .any(|a| a.cause.is_some() || a.updated_cause.is_some())
        {
            let _ = writeln!(out, "\nRow by row:");
        }
        for a in &self.acos {
            for (what, cause) in [
                ("HistBnchmk", &a.cause),
                ("UpdatedBnchmk", &a.updated_cause),
            ] {
                if let Some(c) = cause {
                    let _ = writeln!(out, "{:<8} line {:>4} {what}: {}", a.aco_id, a.line, c.text);
                }
            }
        }
        for (line, reason) in &self.skipped {
            let _ = writeln!(out, "skipped line {line}: {reason}");
        }
        out
    }

    /// JSON report.
    pub fn to_json(&self) -> Value {
        let dist = |d: &Distribution| json!({"acos": d.acos, "max_abs_error_percent": d.max, "p50_abs_error_percent": d.p50, "p95_abs_error_percent": d.p95, "within_0_05_percent": d.within, "within_0_1_percent": d.within_tenth, "within_0_5_percent": d.within_half});
        json!({
            "performance_year": self.performance_year,
            "trend_factors": self.fits.iter().map(|f| json!({
                "agreement_start_year": f.start_year,
                "blended_trend_not_published": f.model == Model::BlendNotPublished,
                "adjustment_published": f.adjustment_published,
                "acos": f.acos,
                "by1_to_by3": by_type_json(&f.factors[0]),
                "by2_to_by3": by_type_json(&f.factors[1]),
            })).collect::<Vec<_>>(),
            "update_growth": self.growth_fits.iter().map(|g| json!({
                "agreement_start_year": g.start_year,
                "acos": g.acos,
                "by3_to_py": by_type_json(&g.growth),
            })).collect::<Vec<_>>(),
            "groups": self.groups.iter().map(|g| json!({
                "agreement_start_year": g.start_year,
                "agreement_period": g.agreement_period,
                "rule_set": g.rule_set,
                "regional_not_published": g.model == Model::RegionalNotPublished,
                "blended_trend_not_published": g.model == Model::BlendNotPublished,
                "fitted_trend": dist(&g.fitted),
                "no_trend": dist(&g.no_trend),
                "updated": dist(&g.updated),
                "regional_sign": g.regional_sign.iter().map(|(s, n, agree, median)| json!({"positive_regional_adjustment": s, "acos": n, "residual_with_that_sign": agree, "median_residual_percent": median})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "acos": self.acos.iter().map(|a| json!({
                "aco_id": a.aco_id,
                "agreement_period": a.agreement_period,
                "agreement_start_date": a.start.to_string(),
                "rule_set": a.rule_set,
                "published": money(a.published),
                "computed": a.computed.map(|c| format!("{c:.2}")),
                "error_percent": a.error_percent(),
                "computed_no_trend": format!("{:.2}", a.no_trend),
                "no_trend_error_percent": a.no_trend_error_percent(),
                "positive_regional_adjustment": a.positive_regional_adjustment,
                "prior_savings_add_on": a.prior_savings_add_on.map(money),
                "published_adjustment": a.published_adjustment.map(money),
                "updated_published": a.updated.map(|u| money(u.published)),
                "updated_computed": a.updated.and_then(|u| u.computed).map(|c| format!("{c:.2}")),
                "updated_error_percent": a.updated.and_then(|u| u.error_percent()),
                "cause": a.cause.as_ref().map(cause_json),
                "updated_cause": a.updated_cause.as_ref().map(cause_json),
            })).collect::<Vec<_>>(),
            "causes": self.causes.iter().map(|(c, n)| json!({"category": c, "acos": n})).collect::<Vec<_>>(),
            "updated_causes": self.updated_causes.iter().map(|(c, n)| json!({"category": c, "acos": n})).collect::<Vec<_>>(),
            "updated_not_backtested": self.updated_not_backtested.iter().map(|(reason, n)| json!({"reason": reason, "acos": n})).collect::<Vec<_>>(),
            "skipped": self.skipped.iter().map(|(line, reason)| json!({"line": line, "reason": reason})).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A published value so small that (computed - published) / published overflows `Decimal`:
    /// NaN, not a panic (found by fuzzing: `HistBnchmk` 0.0000000000000000000000000001).
    #[test]
    fn percent_of_a_tiny_published_value_is_nan_not_a_panic() {
        let tiny = Decimal::from_parts(1, 0, 0, false, 28);
        assert!(percent(Decimal::from(12_000), tiny).is_nan());
        assert_eq!(percent(Decimal::from(101), Decimal::from(100)), 1.0);
        assert_eq!(percent(Decimal::from(99), Decimal::from(100)), -1.0);
    }

    /// Two unknowns, three exact equations: x1 = 2, x2 = 3 (each row x . (2, 3) = y).
    #[test]
    fn least_squares_solves_an_exact_system() {
        let rows = [([1.0, 0.0], 2.0), ([0.0, 1.0], 3.0), ([1.0, 1.0], 5.0)];
        let s = least_squares(&rows).expect("solution");
        assert!(
            (s[0] - 2.0).abs() < 1e-12 && (s[1] - 3.0).abs() < 1e-12,
            "{s:?}"
        );
        // Singular or non-finite systems give no factors.
        assert_eq!(least_squares(&[([0.0, 0.0], 1.0)]), None);
        assert_eq!(least_squares(&[([f64::INFINITY, 1.0], 1.0)]), None);
    }
}
