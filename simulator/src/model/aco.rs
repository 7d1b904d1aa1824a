//! The ACO layer (MODEL.md 4-6): ACO-level random effects, scaling of the beneficiary sums to
//! dollars, the benchmark through benchmark-svc's engine (`historical_with`, `update_with`), the
//! performance year through settlement-svc's `reconcile`, both through the model's
//! [`crate::engines::Engines`] (in process, or the services over gRPC), exits and totals.
//! f64 up to the engine boundary; every benchmark, expenditure and payment in the results is the
//! engines' exact Decimal output.

use std::collections::HashMap;

use benchmark_rules::{
    ByType, HistoricalInput, PerformanceYearInput, PerformanceYearType, RiskGroup, YearExperience,
};
use rand::RngExt;
use rand_distr::StandardNormal;
use rust_decimal::Decimal;
use settlement_rules::{
    EnrollmentExperience, Experience, MsrOption, Quality, QualityStandard, SettlementInput, Track,
};

use super::beneficiary::{self, Buffers, Cell, Dynamics};
use super::cost::phi_cdf;
use super::{Model, Purpose, SimError, key_hash, national_truncated, population, stream};
use crate::engines::Agreement;
use crate::results::{AcoYear, Outcome, Replicate, YearTotals};
use crate::scenario::{GapDist, ListedAco, Mode, MsrSpec, Scenario, benchmark_rule_set};
use settlement_rules::Date;

/// Benchmark years per agreement (BY1-BY3).
const NBY: usize = 3;

/// The ACO-layer numbers of one replicate (drawn where the scenario gives a distribution).
struct Params {
    values: HashMap<String, f64>,
}

impl Params {
    fn resolve(sc: &Scenario, seed: u64, replicate: u32) -> Result<Self, SimError> {
        let mut values = HashMap::new();
        for (key, n, lo, hi) in sc.numbers() {
            let mut rng = stream(seed, replicate, key_hash(&key), Purpose::Parameter);
            let v = n.draw(&mut rng);
            if !(lo..=hi).contains(&v) {
                return Err(SimError::Parameter {
                    replicate,
                    key,
                    value: v.to_string(),
                });
            }
            values.insert(key, v);
        }
        Ok(Self { values })
    }

    fn get(&self, key: &str) -> f64 {
        self.values.get(key).copied().unwrap_or(0.0)
    }

    /// Element `j` of a per-year list (the last one given beyond it).
    fn year(&self, key: &str, j: usize) -> f64 {
        (0..=j)
            .rev()
            .find_map(|i| self.values.get(&format!("{key}[{i}]")).copied())
            .unwrap_or(0.0)
    }
}

/// f64 -> Decimal rounded to `dp` places (non-finite values, which the model does not produce
/// from validated inputs, become 0 and are then refused by the engines' range checks where it
/// matters).
fn dec(x: f64, dp: u32) -> Decimal {
    Decimal::try_from(x)
        .map(|d| d.round_dp(dp))
        .unwrap_or_default()
}

/// The unit-variance shape of the ACO-level gap draw (MODEL.md 4.4).
fn gap_shape(dist: GapDist, eta: f64) -> f64 {
    match dist {
        GapDist::Normal => eta,
        GapDist::Exponential => {
            let u = phi_cdf(eta).clamp(0.0, 1.0 - 1e-12);
            -(1.0 - u).ln() - 1.0
        }
        GapDist::Laplace => {
            let u = phi_cdf(eta).clamp(1e-12, 1.0 - 1e-12);
            -(u - 0.5).signum() * (1.0 - 2.0 * (u - 0.5).abs()).ln() / std::f64::consts::SQRT_2
        }
    }
}

/// The ACO stream's standard draws, in the fixed order of MODEL.md 4.1.
struct Draws {
    u_class: f64,
    a: f64,
    eta: f64,
    eps_v: Vec<f64>,
    b: Vec<f64>,
    u_exit: Vec<f64>,
    eps_q: Vec<f64>,
    u_q: Vec<f64>,
}

impl Draws {
    fn new(seed: u64, replicate: u32, aco: u32, nsteps: usize, npy: usize) -> Self {
        let mut r2 = stream(seed, replicate, u64::from(aco), Purpose::Aco);
        let u_class: f64 = r2.random();
        let a: f64 = r2.sample(StandardNormal);
        let eta: f64 = r2.sample(StandardNormal);
        let eps_v: Vec<f64> = (0..nsteps).map(|_| r2.sample(StandardNormal)).collect();
        let b: Vec<f64> = (0..npy).map(|_| r2.sample(StandardNormal)).collect();
        let u_exit: Vec<f64> = (0..npy).map(|_| r2.random()).collect();
        let eps_q: Vec<f64> = (0..npy).map(|_| r2.sample(StandardNormal)).collect();
        let u_q: Vec<f64> = (0..npy).map(|_| r2.random()).collect();
        Self {
            u_class,
            a,
            eta,
            eps_v,
            b,
            u_exit,
            eps_q,
            u_q,
        }
    }
}

/// The terms of one ACO (its agreement, rule sets and MSR option) and its calendar: engine
/// inputs that do not depend on the draws. Shared by every ACO of a synthetic population; one per
/// ACO of a listed one.
#[derive(Clone)]
struct Terms {
    start: Date,
    period: u32,
    benchmark_years: [i32; 3],
    lags: Vec<u32>,
    /// National per capita by step and type: truncated basis `m` and untruncated `M = m / tau`.
    m_trunc: Vec<[f64; 4]>,
    m_full: Vec<[f64; 4]>,
    bench_rules: benchmark_rules::RuleSet,
    msr_option: MsrOption,
    tracks: Vec<Track>,
    /// Two-sided in its first performance year (selection into risk, MODEL.md 4.3-4.4).
    two_sided: bool,
    pyfrac: Decimal,
    pyfrac_f: f64,
    /// A fixed quality score (listed ACOs); otherwise the scenario's per-year draw.
    quality: Option<f64>,
    /// The rebased agreement inside the scenario (`rules.rebase_start`, MODEL.md 5.5).
    rebase: Option<Rebased>,
}

/// A second agreement inside the scenario, rebased on simulated years.
#[derive(Clone)]
struct Rebased {
    start: Date,
    period: u32,
    benchmark_years: [i32; 3],
    /// The steps (indexes into benchmark years + performance years) of its BY1-BY3.
    by_steps: [usize; 3],
    /// Its first performance year (index).
    first_py: usize,
    bench_rules: benchmark_rules::RuleSet,
}

/// The benchmark rule set with the parts the simulator does not model switched off (MODEL.md
/// 5.1-5.2): no regional adjustment, regional trend, prior-savings adjustment or 425.655 cap
/// (absorbed in the gap); the trend is national; a regional update becomes the national
/// flat-dollar one (pre-2019 agreements) and a blended or three-way update the blend with
/// national weight 1 (the national growth factor). The engine applies every remaining rule.
pub(crate) fn national_only(mut r: benchmark_rules::RuleSet) -> benchmark_rules::RuleSet {
    use benchmark_rules::rules::{PriorSavingsRule, TrendRule, UpdateRule};
    r.regional = None;
    r.prior_savings = PriorSavingsRule::None;
    r.trend = TrendRule::National;
    r.regional_risk_cap = None;
    r.update = match r.update {
        UpdateRule::NationalFlat | UpdateRule::Regional => UpdateRule::NationalFlat,
        UpdateRule::Blend | UpdateRule::ThreeWay { .. } => UpdateRule::Blend,
    };
    r
}

/// Whether benchmark-svc's rule set `service`, given what the simulator sends (no regional and
/// no prior-savings inputs, MODEL.md 5.1), computes exactly what [`national_only`] of it computes:
/// nothing it switches off is in play. True where the only part switched off is a prior-savings
/// rule (the 425.603(b)(1) add-on of `mssp-2016-rebased` applies only to a prior-savings input,
/// which is never sent); false where the service's rule set has a regional adjustment, a regional
/// or blended trend or update, or the 425.655 cap, which the service computes from regional
/// inputs the simulator does not model.
#[cfg(feature = "grpc")]
pub(crate) fn national_only_is_inert(service: &benchmark_rules::RuleSet) -> bool {
    use benchmark_rules::rules::{TrendRule, UpdateRule};
    service.regional.is_none()
        && service.trend == TrendRule::National
        && service.update == UpdateRule::NationalFlat
        && service.regional_risk_cap.is_none()
}

/// Is `v` one of the fixed MSR/MLR choices (to 4 decimals)?
fn fixed_choice(v: f64) -> Option<Decimal> {
    let d = dec(v, 4);
    MsrOption::FIXED_CHOICES.into_iter().find(|c| *c == d)
}

fn terms(model: &Model, listed: Option<&ListedAco>) -> Result<Terms, SimError> {
    let sc = &model.scenario;
    let cm = &model.cost;
    let scenario_error = |key: &str, message: String| {
        SimError::Scenario(crate::scenario::ScenarioError {
            origin: sc.origin().to_string(),
            key: key.into(),
            line: None,
            message,
        })
    };
    let (start, period, tracks) = match listed {
        Some(a) => {
            let start = a.start;
            let track = crate::scenario::track_from_name(&a.track)
                .ok_or_else(|| scenario_error("population.aco.track", a.track.clone()))?;
            (start, a.period, vec![track; sc.performance_years.len()])
        }
        None => (
            sc.agreement_start(),
            sc.rules.agreement_period,
            (0..sc.performance_years.len())
                .map(|j| sc.track(j))
                .collect(),
        ),
    };
    let benchmark_years = match (listed, sc.benchmark_years) {
        (None, Some(by)) => by,
        _ => [start.year() - 3, start.year() - 2, start.year() - 1],
    };
    let years: Vec<i32> = benchmark_years
        .iter()
        .chain(&sc.performance_years)
        .copied()
        .collect();
    let lags = (0..years.len())
        .map(|s| {
            if s == 0 {
                1
            } else {
                u32::try_from(years[s] - years[s - 1]).unwrap_or(1).max(1)
            }
        })
        .collect();
    let m_trunc: Vec<[f64; 4]> = years.iter().map(|&y| national_truncated(y)).collect();
    let m_full = m_trunc
        .iter()
        .map(|m| std::array::from_fn(|e| m[e] / cm.tau[e]))
        .collect();
    let bench_rules = match (&sc.rules.benchmark_rule_set, listed) {
        (Some(id), None) => benchmark_rule_set(id)
            .ok_or_else(|| scenario_error("rules.benchmark_rule_set", format!("unknown {id}")))?,
        _ => benchmark_rules::rules::select(start, period)
            .map_err(|e| scenario_error("rules.agreement_start", e.to_string()))?,
    };
    let first = settlement_rules::rules::select(tracks[0], start, sc.performance_years[0])
        .map_err(|e| scenario_error("rules.tracks", e.to_string()))?;
    let two_sided = first.two_sided();
    let msr_option = match listed {
        // One-sided tracks: the variable scale (the PUF's MinSavPerc is it); two-sided: the
        // ACO's fixed choice where it is one, else the variable scale.
        Some(a) => match fixed_choice(a.msr) {
            Some(c) if two_sided => MsrOption::Fixed(c),
            _ => MsrOption::Variable,
        },
        None => match &sc.rules.msr {
            MsrSpec::Named(n) if n == "variable" => MsrOption::Variable,
            MsrSpec::Named(_) => MsrOption::Default,
            MsrSpec::Fixed(v) => MsrOption::Fixed(dec(*v, 6)),
        },
    };
    let rebase = match (listed, sc.rebase_start()) {
        (None, Some(r)) => {
            let key = "rules.rebase_start";
            let period = sc.rules.agreement_period + 1;
            let rules = benchmark_rules::rules::select(r, period)
                .map_err(|e| scenario_error(key, e.to_string()))?;
            let by = [r.year() - 3, r.year() - 2, r.year() - 1];
            let step = |y: i32| {
                years
                    .iter()
                    .position(|v| *v == y)
                    .ok_or_else(|| scenario_error(key, format!("{y} is not a simulated year")))
            };
            Some(Rebased {
                start: r,
                period,
                benchmark_years: by,
                by_steps: [step(by[0])?, step(by[1])?, step(by[2])?],
                first_py: sc
                    .performance_years
                    .iter()
                    .position(|py| *py >= r.year())
                    .ok_or_else(|| scenario_error(key, "no performance year after it".into()))?,
                bench_rules: national_only(rules),
            })
        }
        _ => None,
    };
    let f = listed.map_or(sc.population.person_years_per_beneficiary, |a| a.pyfrac);
    Ok(Terms {
        start,
        period,
        benchmark_years,
        lags,
        m_trunc,
        m_full,
        bench_rules: national_only(bench_rules),
        msr_option,
        tracks,
        two_sided,
        pyfrac: dec(f, 6),
        pyfrac_f: dec(f, 6).try_into().unwrap_or(f),
        quality: listed.and_then(|a| a.quality),
        rebase,
    })
}

/// One replicate (see [`Model::simulate`]).
pub(super) fn simulate(model: &Model, seed: u64, replicate: u32) -> Result<Replicate, SimError> {
    let sc = &model.scenario;
    let cm = &model.cost;
    sc.check()?;
    let p = Params::resolve(sc, seed, replicate)?;
    let shared = match sc.population.aco.is_empty() {
        true => Some(terms(model, None)?),
        false => None,
    };
    let schedule = match &sc.rules.msr_schedule {
        Some(b) => Some(super::msr_schedule(b).map_err(|m| {
            SimError::Scenario(crate::scenario::ScenarioError {
                origin: sc.origin().to_string(),
                key: "rules.msr_schedule".into(),
                line: None,
                message: m,
            })
        })?),
        None => None,
    };
    let sequestration = sc.rules.sequestration.map(|s| dec(s, 6));
    let npy = sc.performance_years.len();
    let nsteps = NBY + npy;
    let pops = population::draw(
        &sc.population,
        &mut stream(seed, replicate, 0, Purpose::Population),
    );
    // 3.5 claims mode: the year's assignment by the attribution engine decides who is in each
    // ACO-year (the ACO-layer draws below are the same in both modes).
    let claims = match sc.mode {
        Mode::Claims => Some(super::claims::pass(model, seed, replicate, &pops)?),
        Mode::Aggregate => None,
    };
    // 4.2 replayed levels: a share of the observed log level (around its mean) is transient.
    let psi = p.get("transient.rtm_level_share");
    let mean_ln_level = pops.iter().map(|a| a.level.ln()).sum::<f64>() / pops.len().max(1) as f64;
    let b = &sc.beneficiary;
    let (pi_hi, pi_size) = (p.get("effect.pi_hi"), p.get("effect.pi_size"));
    let (sigma_d, rho_d, cap) = (
        p.get("effect.sigma"),
        p.get("effect.rho"),
        p.get("effect.cap"),
    );
    let phi = p.get("transient.phi");
    let mut totals: Vec<YearTotals> = sc
        .performance_years
        .iter()
        .map(|&py| YearTotals {
            replicate,
            performance_year: py,
            ..Default::default()
        })
        .collect();
    let mut acos: Vec<AcoYear> = Vec::new();
    let mut buf = Buffers::default();
    let mut cells = vec![[Cell::default(); 4]; nsteps];
    let mut trunc = vec![[0.0f64; 4]; nsteps];
    for (i, pop) in pops.iter().enumerate() {
        let aco = u32::try_from(i).unwrap_or(u32::MAX);
        let own;
        let st = match &shared {
            Some(t) => t,
            None => {
                own = terms(model, sc.population.aco.get(i))?;
                &own
            }
        };
        let start = st.start;
        let two = st.two_sided;
        let sd_scale = if two {
            p.get("gap.two_sided_sd_scale")
        } else {
            1.0
        };
        let dynamics = Dynamics {
            cost: cm,
            lags: &st.lags,
            rho: b.rho,
            stay: (1.0 - b.death_rate) * (1.0 - b.leave_rate),
        };
        let s_level = psi * (pop.level.ln() - mean_ln_level);
        let level = pop.level * (-s_level).exp();
        let d = Draws::new(seed, replicate, aco, nsteps, npy);
        let n = pop.n as f64;
        // 4.3 transient shocks, AR(1) over steps; benchmark years carry the entry shift.
        let sig_u = (p.get("transient.sigma0").powi(2) + p.get("transient.k_cluster").powi(2) / n)
            .sqrt()
            * sd_scale;
        let mut v = vec![0.0; nsteps];
        for s in 0..nsteps {
            v[s] = if s == 0 {
                d.eps_v[0]
            } else {
                phi * v[s - 1] + (1.0 - phi * phi).sqrt() * d.eps_v[s]
            };
        }
        for (s, vs) in v.iter_mut().enumerate() {
            *vs *= sig_u;
            if s < NBY {
                *vs += p.get("transient.rtm_shift") + s_level;
            }
        }
        // 4.5 class; 4.4 gap draw.
        let pi_i = (pi_hi + pi_size * (n / 12000.0).ln()).clamp(0.02, 0.98);
        let effective = d.u_class < pi_i;
        let eta = gap_shape(sc.gap.dist, d.eta);
        // 4.6 scales (in units of the national mean M) and truncation points in X units.
        let mut scale_cf = vec![0.0; npy];
        let mut scale_a = vec![0.0; npy];
        let mut delta = vec![0.0; npy];
        let mut gamma = vec![(0.0, 0.0); npy];
        for s in 0..NBY {
            let scale = level * v[s].exp();
            trunc[s] = std::array::from_fn(|e| cm.q99[e] / scale);
        }
        for j in 0..npy {
            let s = NBY + j;
            let selection = if two { p.get("gap.two_sided") } else { 0.0 };
            let gap = p.year("gap.mean", j) + p.get("gap.sigma") * sd_scale * eta + selection;
            gamma[j] = (gap, selection);
            let mean = p.year("effect.mean", j);
            let spread = p.year("effect.spread", j);
            let mu = if effective {
                mean + (1.0 - pi_hi) * spread
            } else {
                mean - pi_hi * spread
            };
            delta[j] =
                (mu + sigma_d * (rho_d.sqrt() * d.a + (1.0 - rho_d).sqrt() * d.b[j])).min(cap);
            scale_cf[j] = level * (v[s] - gap).exp();
            scale_a[j] = scale_cf[j] * (1.0 - delta[j]);
            trunc[s] = std::array::from_fn(|e| cm.q99[e] / scale_a[j]);
        }
        // 3.4 the beneficiary loop, or 3.5 the ACO's beneficiaries of the claims pass.
        match &claims {
            Some(c) => c.cells(i, &trunc, &mut cells),
            None => {
                let mut rng = stream(seed, replicate, u64::from(aco), Purpose::Beneficiaries);
                beneficiary::run_aco(&dynamics, pop.ntype, &trunc, &mut rng, &mut buf, &mut cells);
            }
        }
        // 5.1 historical benchmark. Person-years and the assigned count are those of the step
        // (aggregate mode: the pool, the same every step).
        let person_years =
            |k: usize| -> ByType<Decimal> { cells[k].map(|c| Decimal::from(c.n) * st.pyfrac) };
        let assigned = |k: usize| -> u64 { cells[k].iter().map(|c| c.n).sum() };
        let mean_or_one = |sum: f64, count: f64| if count > 0.0 { sum / count } else { 1.0 };
        // The experience of step `k` at spending scale `scale` (truncated, per capita).
        let year_experience = |k: usize, scale: f64| -> ByType<YearExperience> {
            let person_years = person_years(k);
            std::array::from_fn(|e| {
                let c = &cells[k][e];
                let cnt = c.n as f64;
                YearExperience {
                    person_years: person_years[e],
                    per_capita: dec(
                        if cnt > 0.0 {
                            st.m_full[k][e] * scale * c.xtr / cnt
                        } else {
                            0.0
                        },
                        2,
                    ),
                    risk_score: dec(mean_or_one(c.r, cnt), 6).max(Decimal::new(1, 2)),
                }
            })
        };
        // Trend factors BY1 -> BY3, BY2 -> BY3 of benchmark years at steps `by`.
        let trends = |by: [usize; 3]| -> [ByType<Decimal>; 2] {
            std::array::from_fn(|k| {
                std::array::from_fn(|e| dec(st.m_trunc[by[2]][e] / st.m_trunc[by[k]][e], 10))
            })
        };
        let by3 = NBY - 1;
        let input = HistoricalInput {
            agreement_start: start,
            agreement_period: st.period,
            years: st.benchmark_years,
            experience: std::array::from_fn(|k| year_experience(k, level * v[k].exp())),
            national_trend: Some(trends([0, 1, 2])),
            regional: None,
            prior_savings: None,
        };
        // 5.5 the rebased agreement: its benchmark years are simulated years, performance years
        // at their actual (settled) spending.
        let mut rebased = st.rebase.as_ref().map(|rb| {
            let scale = |s: usize| {
                if s < NBY {
                    level * v[s].exp()
                } else {
                    scale_a[s - NBY]
                }
            };
            let input = HistoricalInput {
                agreement_start: rb.start,
                agreement_period: rb.period,
                years: rb.benchmark_years,
                experience: rb.by_steps.map(|s| year_experience(s, scale(s))),
                national_trend: Some(trends(rb.by_steps)),
                regional: None,
                prior_savings: None,
            };
            Agreement::new(&rb.bench_rules, input)
        });
        let bench_err = |message: String| SimError::Benchmark {
            replicate,
            aco,
            message,
        };
        let mut first = Agreement::new(&st.bench_rules, input);
        let mut active = true;
        for j in 0..npy {
            let s = NBY + j;
            let py = sc.performance_years[j];
            let c = &cells[s];
            let mut cf_total = 0.0;
            for (e, cell) in c.iter().enumerate() {
                cf_total += st.pyfrac_f * st.m_full[s][e] * scale_cf[j] * cell.x;
            }
            if !active {
                // 6.2 intent to treat: the beneficiaries of an ACO that left keep a share of its
                // effect; nothing is reconciled.
                totals[j].savings_to_medicare_itt +=
                    dec(delta[j] * p.get("exit.itt_effect") * cf_total, 2);
                continue;
            }
            // 5.2 update to the PY: risk ratios from the newly/continuously assigned split.
            let person_years = person_years(s);
            let n_assigned = assigned(s);
            let types: ByType<PerformanceYearType> = std::array::from_fn(|e| {
                let cell = &c[e];
                let cnt = cell.n as f64;
                let newly = cnt - cell.ncont;
                let group = |count: f64, sum: f64| RiskGroup {
                    person_years: dec(count, 0) * st.pyfrac,
                    risk_score: dec(mean_or_one(sum, count), 6).max(Decimal::new(1, 2)),
                    demographic_risk_score: Decimal::ONE,
                };
                PerformanceYearType {
                    person_years: person_years[e],
                    risk_score: Some(dec(mean_or_one(cell.r, cnt), 6).max(Decimal::new(1, 2))),
                    demographic_risk_score: Some(Decimal::ONE),
                    by3_demographic_risk_score: Some(Decimal::ONE),
                    newly_assigned: Some(group(newly, cell.r - cell.rcont)),
                    continuously_assigned: Some(group(cell.ncont, cell.rcont)),
                }
            });
            let m_py = st.m_trunc[s];
            let (agreement_j, by3_j, start_j) = match (&st.rebase, &mut rebased) {
                (Some(rb), Some(a)) if j >= rb.first_py => (a, rb.by_steps[2], rb.start),
                _ => (&mut first, by3, start),
            };
            let m_b3 = st.m_trunc[by3_j];
            let growth: ByType<Decimal> = std::array::from_fn(|e| dec(m_py[e] / m_b3[e], 10));
            let pyin = PerformanceYearInput {
                performance_year: py,
                types,
                national_flat_update: Some(std::array::from_fn(|e| dec(m_py[e] - m_b3[e], 2))),
                national_growth: Some(growth),
                // Regional growth is not modelled: the blend's regional factor is the national one.
                regional_growth: Some(growth),
                national_weight: Some(Decimal::ONE),
                ..Default::default()
            };
            let upd = model
                .engines
                .benchmark(agreement_j, &pyin)
                .map_err(bench_err)?;
            // 5.3 settlement.
            let mut expenditures = [None; 4];
            for e in 0..4 {
                let cell = &c[e];
                let cnt = cell.n as f64;
                if cell.n > 0 {
                    expenditures[e] = Some(EnrollmentExperience {
                        person_years: person_years[e],
                        benchmark_per_capita: upd.per_capita[e],
                        expenditures_per_capita: dec(
                            st.m_full[s][e] * scale_a[j] * cell.xtr / cnt,
                            2,
                        ),
                    });
                }
            }
            // Quality score: clip(mean + sd eps_q, 0, 1); 1 when the scenario gives none.
            let quality = match (st.quality, sc.rules.quality.len()) {
                (Some(q), _) => Quality {
                    standard: (py >= 2021).then_some(QualityStandard::Met),
                    score: Some(dec(q, 4)),
                },
                (None, 0) => Quality {
                    standard: (py >= 2021).then_some(QualityStandard::Met),
                    score: Some(Decimal::ONE),
                },
                (None, len) => {
                    let k = len.min(j + 1) - 1;
                    let q = |f: &str| p.get(&format!("rules.quality[{k}].{f}"));
                    let clip = |m: f64, sd: f64| dec((m + sd * d.eps_q[j]).clamp(0.0, 1.0), 4);
                    let met = py < 2021 || d.u_q[j] < q("met");
                    match (met, py >= 2023) {
                        (true, _) => Quality {
                            standard: (py >= 2021).then_some(QualityStandard::Met),
                            score: Some(clip(q("mean"), q("sd"))),
                        },
                        (false, true) => Quality {
                            standard: Some(QualityStandard::AlternativeMet),
                            score: Some(clip(q("alternative_mean"), q("alternative_sd"))),
                        },
                        (false, false) => Quality {
                            standard: Some(QualityStandard::NotMet),
                            score: Some(clip(q("mean"), q("sd"))),
                        },
                    }
                }
            };
            let mut si = SettlementInput::new(
                st.tracks[j],
                start_j,
                py,
                n_assigned,
                Decimal::ZERO,
                Decimal::ZERO,
            );
            si.experience = Experience::ByEnrollmentType(expenditures);
            si.quality = quality;
            si.msr_option = st.msr_option;
            si.msr_schedule = schedule.as_ref();
            si.sequestration_rate = sequestration;
            si.participant_revenue = sc
                .rules
                .participant_revenue
                .map(|m| (upd.total * dec(m, 4)).round_dp(2));
            let set = model
                .engines
                .settle(&si)
                .map_err(|message| SimError::Settlement {
                    replicate,
                    aco,
                    year: py,
                    message,
                })?;
            let outcome = match set.outcome {
                settlement_rules::Outcome::SharedSavings if set.shared_savings > Decimal::ZERO => {
                    Outcome::Paid
                }
                settlement_rules::Outcome::SharedSavings
                | settlement_rules::Outcome::QualityNotMet => Outcome::EarnedNothing,
                settlement_rules::Outcome::SharedLosses => Outcome::Owes,
                settlement_rules::Outcome::WithinCorridor => {
                    if set.gross_savings < Decimal::ZERO && -set.savings_rate >= set.msr {
                        Outcome::LossNotShared
                    } else {
                        Outcome::Corridor
                    }
                }
            };
            let savings = dec(delta[j] * cf_total, 2);
            // 6.1 exit after the PY.
            let above = set.gross_savings < Decimal::ZERO;
            let p_exit = if above {
                p.get("exit.p_above_benchmark")
            } else {
                p.get("exit.p_other")
            };
            let exited = d.u_exit[j] < p_exit;
            // 6.3 gap decomposition (log-linear, benchmark-dollar weights).
            let ub: f64 = set.updated_benchmark.try_into().unwrap_or(0.0);
            let (g, sel) = gamma[j];
            let systematic = ub * (1.0 - (-g).exp());
            let selection = if g == 0.0 { 0.0 } else { systematic * sel / g };
            let w: [f64; NBY] = st.bench_rules.weights.map(|w| w.try_into().unwrap_or(0.0));
            let wsum: f64 = w.iter().sum();
            let carried = (0..NBY).map(|k| w[k] * v[k]).sum::<f64>() / wsum.max(f64::MIN_POSITIVE);
            let t = &mut totals[j];
            t.gap_benchmark_error += dec(systematic - selection, 2);
            t.gap_selection += dec(selection, 2);
            t.gap_regression_to_the_mean += dec(ub * (carried - v[s]), 2);
            t.savings_to_medicare += savings;
            t.savings_to_medicare_itt += savings;
            t.benchmark_savings += set.gross_savings;
            t.shared_savings_paid += set.shared_savings;
            t.shared_losses_collected += set.shared_losses;
            t.acos_active += 1;
            t.acos_below_benchmark += u32::from(set.gross_savings > Decimal::ZERO);
            t.acos_paid += u32::from(set.shared_savings > Decimal::ZERO);
            t.acos_owing += u32::from(set.shared_losses > Decimal::ZERO);
            t.acos_exited += u32::from(exited);
            t.beneficiaries += n_assigned;
            acos.push(AcoYear {
                replicate,
                aco,
                performance_year: py,
                assigned: n_assigned,
                benchmark: set.updated_benchmark,
                spending: set.expenditures,
                counterfactual: dec(cf_total, 2),
                savings_to_medicare: savings,
                msr: set.msr,
                savings_rate: set.savings_rate,
                outcome,
                shared_savings: set.shared_savings,
                shared_losses: set.shared_losses,
                exited_after: exited,
            });
            active = !exited;
        }
    }
    acos.sort_by_key(|a| (a.performance_year, a.aco));
    Ok(Replicate {
        index: replicate,
        years: totals,
        acos,
        claims: claims.map(|c| c.stats),
    })
}
