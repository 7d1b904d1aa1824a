//! Backtest against CMS: rebuild each ACO's historical benchmark from a Public Use File's own
//! columns with the [`engine`](crate::engine) and compare it with the published `HistBnchmk`
//! (per capita, whole dollars).
//!
//! | input | PUF columns |
//! |---|---|
//! | per capita expenditures BY1-BY3 by type | `Per_Capita_Exp_ALL_{ESRD,DIS,AGDU,AGND}_BY{1,2,3}` |
//! | CMS-HCC risk scores BY1-BY3 by type | `CMS_HCC_RiskScore_{ESRD,DIS,AGDU,AGND}_BY{1,2,3}` |
//! | BY3 person-years by type | `N_AB_Year_{ESRD,DIS,AGED_Dual,AGED_NonDual}_BY3` |
//! | agreement start, period | `Current_Start_Date` / `Start_Date`; `Agreement_Period_Num` (absent = 1) |
//! | 425.603(b) add-on (second agreements starting 2016) | `Prior_Sav_Adj` (per capita, included in `HistBnchmk`) |
//! | regional adjustment sign (425.603(c) agreements) | `PosRegAdj` (1 = positive) |
//!
//! The national trend factors (BY1 -> BY3 and BY2 -> BY3 by type) are not published. They are
//! shared by every ACO whose agreement started in the same year (same benchmark years), and the
//! benchmark is linear in them:
//!
//! ```text
//! HB x sum_e P_e - add-on x sum_e P_e - sum_e P_e w3 X3_e = sum_e P_e (w1 X1_e r1_e T1_e + w2 X2_e r2_e T2_e)
//! ```
//!
//! so a least-squares fit over those ACOs (8 unknowns; each ACO's equation divided by its
//! `HB x sum P`, so errors are relative) identifies them. The fit uses every ACO of the start year
//! whose benchmark has a national trend (first agreements, and second agreements starting in 2016).
//! Each ACO is then computed by the engine with the fitted factors, and with no trend at all
//! (factors 1). Rebased agreements under 425.603(c) (2017+) use regional trends and a regional
//! adjustment that the PUF does not publish: they are computed with the national factors of their
//! start year and equal weights, and the residual (published - computed) is what the regional trend
//! and adjustment explain, reported against the published sign of the regional adjustment.

use std::collections::BTreeMap;

use acorn_proto::cms::puf::{PufError, PufFile, PufRow};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};

use crate::engine::rules::{self, PriorSavingsRule, RuleSet, TrendRule};
use crate::engine::{
    ByType, Date, HistoricalInput, NoTrace, PriorSavingsInput, TYPES, YearExperience,
    historical_with, round_money,
};

const ACO_ID: &[&str] = &["ACO_ID", "ACO_Num", "ACO_Number"];
const START: &[&str] = &["Current_Start_Date", "Start_Date", "Initial_Start_Date"];
const PERIOD: &[&str] = &["Agreement_Period_Num"];
const HIST: &[&str] = &["HistBnchmk"];
const PRIOR_SAVINGS: &[&str] = &["Prior_Sav_Adj"];
const POSITIVE_REGIONAL: &[&str] = &["PosRegAdj"];
const TYPE_CODES: [&str; 4] = ["ESRD", "DIS", "AGDU", "AGND"];
const PERSON_YEAR_CODES: [&str; 4] = ["ESRD", "DIS", "AGED_Dual", "AGED_NonDual"];
/// The acceptance threshold: 0.05%.
const WITHIN_PERCENT: f64 = 0.05;

/// How an ACO's benchmark was modelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Model {
    /// National trend, fitted factors: first agreements and 425.603(b) second agreements.
    NationalTrend,
    /// 425.603(c): computed without the regional trend and adjustment (not published).
    RegionalNotPublished,
}

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
    /// Engine, fitted national factors (cents); `None` if no factors could be fitted.
    pub computed: Option<Decimal>,
    /// Engine, no trend (cents).
    pub no_trend: Decimal,
    /// `PosRegAdj`, where published.
    pub positive_regional_adjustment: Option<bool>,
    /// 425.603(b) add-on included (`Prior_Sav_Adj`).
    pub prior_savings_add_on: Option<Decimal>,
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

fn percent(computed: Decimal, published: Decimal) -> f64 {
    ((computed - published) / published * Decimal::ONE_HUNDRED)
        .to_f64()
        .unwrap_or(f64::NAN)
}

/// Fitted factors of one agreement start year.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// Agreement start year.
    pub start_year: i32,
    /// ACOs in the fit.
    pub acos: usize,
    /// BY1 -> BY3 and BY2 -> BY3 by type.
    pub factors: [ByType<Decimal>; 2],
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
        Distribution {
            acos: errors.len(),
            max: errors.last().copied().unwrap_or(0.0),
            p50: at(0.5),
            p95: at(0.95),
            within: errors.iter().filter(|e| **e <= WITHIN_PERCENT).count(),
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
}

/// The result of [`run`].
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Performance year of the file.
    pub performance_year: Option<i32>,
    /// Fitted factors by agreement start year.
    pub fits: Vec<Fit>,
    /// Groups.
    pub groups: Vec<Group>,
    /// Every ACO compared, in file order.
    pub acos: Vec<AcoComparison>,
    /// Rows not compared: (line, reason).
    pub skipped: Vec<(usize, String)>,
}

/// Why a file cannot be backtested.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    /// A required column is absent.
    #[error("the file has no {0} column")]
    MissingColumn(String),
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
}

fn cell(row: &PufRow<'_>, name: &str) -> Result<Decimal, String> {
    match row.decimal(&[name]) {
        Ok(Some(d)) => Ok(d),
        Ok(None) => Err(format!("{name} is missing")),
        Err(e) => Err(e.to_string()),
    }
}

fn prepare(row: &PufRow<'_>) -> Result<Prepared, String> {
    let aco_id = row.text(ACO_ID).unwrap_or("?").to_string();
    let (y, m, d) = row
        .date(START)
        .map_err(|e: PufError| e.to_string())?
        .ok_or("no agreement start date")?;
    let start = Date::new(y, m, d);
    let period = match row.decimal(PERIOD).map_err(|e| e.to_string())? {
        None => 1,
        Some(p) => p
            .to_u32()
            .filter(|p| *p >= 1)
            .ok_or("Agreement_Period_Num is not a period number")?,
    };
    let rules = rules::select(start, period).map_err(|e| e.to_string())?;
    let model = match rules.trend {
        TrendRule::National => Model::NationalTrend,
        _ => Model::RegionalNotPublished,
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
        PriorSavingsRule::AddOn => Some(
            row.decimal(PRIOR_SAVINGS)
                .map_err(|e| e.to_string())?
                .unwrap_or_default(),
        ),
        _ => None,
    };
    let positive_regional = row.flag(POSITIVE_REGIONAL).ok().flatten();
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
    })
}

fn rules_for(p: &Prepared) -> RuleSet {
    match p.model {
        Model::NationalTrend => p.rules,
        // 425.603(c) without what the PUF does not publish: national factors, no regional adjustment.
        Model::RegionalNotPublished => RuleSet {
            trend: TrendRule::National,
            regional: None,
            ..p.rules
        },
    }
}

fn compute(p: &Prepared, factors: [ByType<Decimal>; 2]) -> Result<Decimal, String> {
    let input = HistoricalInput {
        agreement_start: p.start,
        agreement_period: p.period,
        years: [p.start.year - 3, p.start.year - 2, p.start.year - 1],
        experience: p.experience,
        national_trend: Some(factors),
        regional: None,
        prior_savings: p.add_on.map(|a| PriorSavingsInput {
            per_capita_savings: [a; 3],
            proration_factor: Decimal::ONE,
        }),
    };
    historical_with(&rules_for(p), &input, &mut NoTrace)
        .map(|h| round_money(h.per_capita))
        .map_err(|e| e.to_string())
}

fn f(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(f64::NAN)
}

/// One ACO's least-squares row: (features for T1_e, T2_e interleaved, target), scaled by 1 / (HB x sum P).
fn equation(p: &Prepared) -> ([f64; 8], f64) {
    let w = p.rules.weights.map(f);
    let ws: f64 = w.iter().sum();
    let by3 = &p.experience[2];
    let total_py: f64 = by3.iter().map(|e| f(e.person_years)).sum();
    let hb = f(p.published) - p.add_on.map(f).unwrap_or(0.0);
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

/// Solves the normal equations of `rows` (Gaussian elimination with partial pivoting).
fn least_squares(rows: &[([f64; 8], f64)]) -> Option<[f64; 8]> {
    let mut a = [[0.0f64; 9]; 8];
    for (x, y) in rows {
        for i in 0..8 {
            for j in 0..8 {
                a[i][j] += x[i] * x[j];
            }
            a[i][8] += x[i] * y;
        }
    }
    for c in 0..8 {
        let pivot = (c..8).max_by(|&r, &s| a[r][c].abs().total_cmp(&a[s][c].abs()))?;
        a.swap(c, pivot);
        if a[c][c].abs() < 1e-300 {
            return None;
        }
        for r in 0..8 {
            if r != c {
                let factor = a[r][c] / a[c][c];
                let pivot_row = a[c];
                for (k, v) in a[r].iter_mut().enumerate().skip(c) {
                    *v -= factor * pivot_row[k];
                }
            }
        }
    }
    let solution: [f64; 8] = std::array::from_fn(|i| a[i][8] / a[i][i]);
    solution
        .iter()
        .all(|v| v.is_finite() && *v > 0.0)
        .then_some(solution)
}

fn to_factors(t: [f64; 8]) -> Option<[ByType<Decimal>; 2]> {
    let d = |v: f64| Decimal::try_from(v).ok().map(|d| d.round_dp(8));
    let mut out = [[Decimal::ONE; 4]; 2];
    for i in 0..4 {
        out[0][i] = d(t[2 * i])?;
        out[1][i] = d(t[2 * i + 1])?;
    }
    Some(out)
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
    let mut prepared = Vec::new();
    let mut skipped = Vec::new();
    for row in file.rows() {
        match prepare(&row) {
            Ok(p) => prepared.push(p),
            Err(reason) => skipped.push((row.line(), reason)),
        }
    }
    // Fit the national factors per start year.
    let mut by_year: BTreeMap<i32, Vec<([f64; 8], f64)>> = BTreeMap::new();
    for p in prepared.iter().filter(|p| p.model == Model::NationalTrend) {
        by_year.entry(p.start.year).or_default().push(equation(p));
    }
    let mut fits = Vec::new();
    let mut factors: BTreeMap<i32, [ByType<Decimal>; 2]> = BTreeMap::new();
    for (year, rows) in &by_year {
        if rows.len() < 9 {
            continue;
        }
        if let Some(t) = least_squares(rows).and_then(to_factors) {
            factors.insert(*year, t);
            fits.push(Fit {
                start_year: *year,
                acos: rows.len(),
                factors: t,
            });
        }
    }
    let mut acos = Vec::new();
    for p in &prepared {
        let no_trend = match compute(p, [[Decimal::ONE; 4]; 2]) {
            Ok(v) => v,
            Err(e) => {
                skipped.push((p.line, e));
                continue;
            }
        };
        let computed = match factors.get(&p.start.year) {
            Some(t) => match compute(p, *t) {
                Ok(v) => Some(v),
                Err(e) => {
                    skipped.push((p.line, e));
                    continue;
                }
            },
            None => None,
        };
        acos.push(AcoComparison {
            line: p.line,
            aco_id: p.aco_id.clone(),
            start: p.start,
            agreement_period: p.period,
            rule_set: p.rules.id,
            model: p.model,
            published: p.published,
            computed,
            no_trend,
            positive_regional_adjustment: p.positive_regional,
            prior_savings_add_on: p.add_on,
        });
    }
    skipped.sort();
    let mut keys: Vec<(i32, u32, &'static str, Model)> = acos
        .iter()
        .map(|a| (a.start.year, a.agreement_period.min(2), a.rule_set, a.model))
        .collect();
    keys.sort();
    keys.dedup();
    let groups = keys
        .into_iter()
        .map(|(start_year, period, rule_set, model)| {
            let members: Vec<&AcoComparison> = acos
                .iter()
                .filter(|a| {
                    a.start.year == start_year
                        && a.agreement_period.min(2) == period
                        && a.rule_set == rule_set
                })
                .collect();
            let fitted =
                Distribution::of(members.iter().filter_map(|a| a.error_percent()).collect());
            let no_trend =
                Distribution::of(members.iter().map(|a| a.no_trend_error_percent()).collect());
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
            }
        })
        .collect();
    Ok(Report {
        performance_year: file.performance_year(),
        fits,
        groups,
        acos,
        skipped,
    })
}

fn money(d: Decimal) -> String {
    d.normalize().to_string()
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
            "\nNational trend factors inferred by least squares (per agreement start year; BY1->BY3 / BY2->BY3):"
        );
        let _ = writeln!(
            out,
            "{:<6} {:>5}  {:>19} {:>19} {:>19} {:>19}",
            "start", "ACOs", "ESRD", "DISABLED", "AGED_DUAL", "AGED_NON_DUAL"
        );
        for fit in &self.fits {
            let cells: Vec<String> = (0..4)
                .map(|i| format!("{:.4} / {:.4}", fit.factors[0][i], fit.factors[1][i]))
                .collect();
            let _ = writeln!(
                out,
                "{:<6} {:>5}  {:>19} {:>19} {:>19} {:>19}",
                fit.start_year, fit.acos, cells[0], cells[1], cells[2], cells[3]
            );
        }
        let _ = writeln!(
            out,
            "\nAbsolute error vs published HistBnchmk, % (within = ACOs within {WITHIN_PERCENT}%):"
        );
        let _ = writeln!(
            out,
            "{:<6} {:<7} {:<18} {:>5} | {:>8} {:>8} {:>8} {:>7} | {:>9} {:>9} {:>9}",
            "start",
            "period",
            "rule set",
            "ACOs",
            "max",
            "p50",
            "p95",
            "within",
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
                    "{:<6} {:<7} {:<18} {:>5} | no trend factors: fewer than 9 ACOs share this start year | {:>9.4} {:>9.4} {:>9.4}",
                    g.start_year,
                    period,
                    g.rule_set,
                    g.no_trend.acos,
                    g.no_trend.max,
                    g.no_trend.p50,
                    g.no_trend.p95
                );
                continue;
            }
            let _ = writeln!(
                out,
                "{:<6} {:<7} {:<18} {:>5} | {:>8.4} {:>8.4} {:>8.4} {:>7} | {:>9.4} {:>9.4} {:>9.4}",
                g.start_year,
                period,
                g.rule_set,
                g.fitted.acos,
                g.fitted.max,
                g.fitted.p50,
                g.fitted.p95,
                g.fitted.within,
                g.no_trend.max,
                g.no_trend.p50,
                g.no_trend.p95
            );
            for (sign, n, agree, median) in &g.regional_sign {
                let _ = writeln!(
                    out,
                    "       regional trend and adjustment not published: PosRegAdj={} {n} ACOs, residual (published - computed) has that sign for {agree}, median residual {median:+.2}%",
                    u8::from(*sign)
                );
            }
        }
        let _ = writeln!(
            out,
            "\n{:<8} {:>6} {:<10} {:>10} {:>12} {:>9} {:>12} {:>9}",
            "ACO", "period", "start", "published", "computed", "error %", "no trend", "error %"
        );
        for a in &self.acos {
            let _ = writeln!(
                out,
                "{:<8} {:>6} {:<10} {:>10} {:>12} {:>9} {:>12} {:>9.4}",
                a.aco_id,
                a.agreement_period,
                a.start.to_string(),
                money(a.published),
                a.computed
                    .map(|c| format!("{c:.2}"))
                    .unwrap_or_else(|| "-".into()),
                a.error_percent()
                    .map(|e| format!("{e:.4}"))
                    .unwrap_or_else(|| "-".into()),
                format!("{:.2}", a.no_trend),
                a.no_trend_error_percent()
            );
        }
        for (line, reason) in &self.skipped {
            let _ = writeln!(out, "skipped line {line}: {reason}");
        }
        out
    }

    /// JSON report.
    pub fn to_json(&self) -> Value {
        let dist = |d: &Distribution| json!({"acos": d.acos, "max_abs_error_percent": d.max, "p50_abs_error_percent": d.p50, "p95_abs_error_percent": d.p95, "within_0_05_percent": d.within});
        json!({
            "performance_year": self.performance_year,
            "trend_factors": self.fits.iter().map(|f| json!({
                "agreement_start_year": f.start_year,
                "acos": f.acos,
                "by1_to_by3": TYPES.iter().map(|t| (t.name().to_string(), Value::String(f.factors[0][t.index()].to_string()))).collect::<serde_json::Map<_, _>>(),
                "by2_to_by3": TYPES.iter().map(|t| (t.name().to_string(), Value::String(f.factors[1][t.index()].to_string()))).collect::<serde_json::Map<_, _>>(),
            })).collect::<Vec<_>>(),
            "groups": self.groups.iter().map(|g| json!({
                "agreement_start_year": g.start_year,
                "agreement_period": g.agreement_period,
                "rule_set": g.rule_set,
                "regional_not_published": g.model == Model::RegionalNotPublished,
                "fitted_trend": dist(&g.fitted),
                "no_trend": dist(&g.no_trend),
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
            })).collect::<Vec<_>>(),
            "skipped": self.skipped.iter().map(|(line, reason)| json!({"line": line, "reason": reason})).collect::<Vec<_>>(),
        })
    }
}
