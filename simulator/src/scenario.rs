//! Scenarios: the TOML file a modeler writes (or a preset), validated before anything runs.
//!
//! Every field, its default, unit and source is documented on the struct below and in
//! `simulator/MODEL.md` (section 8 the parameter table, section 10 the presets). Unknown keys are
//! errors (`deny_unknown_fields`); every error names the key and, for a file, its line.
//!
//! Numbers of the ACO layer ([`Num`]) may be a distribution instead of a value
//! (`sigma = { dist = "uniform", min = 0.005, max = 0.015 }`): it is drawn once per replicate from
//! a stream keyed by (seed, replicate, key), so two scenarios that share a parameter share its draw
//! (common random numbers), and parameter uncertainty propagates into the intervals.
//! Per-performance-year lists ([`PerYear`]) may be one value for every year; a list shorter than
//! the performance years repeats its last value.

use std::collections::BTreeSet;
use std::fmt;

use acorn_domain::Date;
use rand_distr::{Beta, Distribution, LogNormal, Normal, Triangular, Uniform};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use settlement_rules::Track;

/// The presets shipped with the simulator (`simulator/presets/NAME.toml`), by name.
pub const PRESETS: [(&str, &str); 4] = [
    (
        "pioneer-2012-2013",
        include_str!("../presets/pioneer-2012-2013.toml"),
    ),
    (
        "mssp-2012-cohort",
        include_str!("../presets/mssp-2012-cohort.toml"),
    ),
    ("mssp-2018", include_str!("../presets/mssp-2018.toml")),
    ("mssp-2024", include_str!("../presets/mssp-2024.toml")),
];

/// Why a scenario is unusable: the key (dotted path), the line in the file when known, and what
/// is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}{}: {key}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
pub struct ScenarioError {
    /// File name, preset name or `--set`.
    pub origin: String,
    /// Dotted key path, e.g. `population.acos` or `rules.tracks[1]`.
    pub key: String,
    /// 1-based line of the key in the file, when it is in the file.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// A number of the ACO layer: a value, or a distribution drawn once per replicate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    /// A fixed value.
    Fixed(f64),
    /// Drawn once per replicate.
    Dist(Dist),
}

impl Default for Num {
    fn default() -> Self {
        Num::Fixed(0.0)
    }
}

impl From<f64> for Num {
    fn from(v: f64) -> Self {
        Num::Fixed(v)
    }
}

/// A parameter distribution (`dist = "normal"` etc.).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
pub enum Dist {
    /// Normal(mean, sd).
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation (>= 0).
        sd: f64,
    },
    /// exp(Normal(mu, sigma)).
    Lognormal {
        /// Mean of the log.
        mu: f64,
        /// Standard deviation of the log (>= 0).
        sigma: f64,
    },
    /// Beta(alpha, beta) on [0, 1].
    Beta {
        /// Shape alpha (> 0).
        alpha: f64,
        /// Shape beta (> 0).
        beta: f64,
    },
    /// Uniform on [min, max].
    Uniform {
        /// Lower bound.
        min: f64,
        /// Upper bound (>= min).
        max: f64,
    },
    /// Triangular on [min, max] with mode `mode`.
    Triangular {
        /// Lower bound.
        min: f64,
        /// Mode (in [min, max]).
        mode: f64,
        /// Upper bound.
        max: f64,
    },
}

impl Num {
    /// The value, or the draw from `rng`. Distribution parameters are validated when the
    /// scenario is loaded, so the draw cannot fail; an invalid one (unreachable) yields NaN,
    /// which validation of the drawn value then rejects.
    pub fn draw<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match *self {
            Num::Fixed(v) => v,
            Num::Dist(d) => d.sample(rng).unwrap_or(f64::NAN),
        }
    }

    /// Bounds the value (or every value the distribution can give) can take.
    fn range(&self) -> (f64, f64) {
        match *self {
            Num::Fixed(v) => (v, v),
            // Unbounded: the mean must be in range; a draw outside it fails the replicate.
            Num::Dist(Dist::Normal { mean, .. }) => (mean, mean),
            Num::Dist(Dist::Lognormal { .. }) => (0.0, f64::INFINITY),
            Num::Dist(Dist::Beta { .. }) => (0.0, 1.0),
            Num::Dist(Dist::Uniform { min, max })
            | Num::Dist(Dist::Triangular { min, max, .. }) => (min, max),
        }
    }
}

impl Dist {
    fn sample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> Option<f64> {
        Some(match *self {
            Dist::Normal { mean, sd } => Normal::new(mean, sd).ok()?.sample(rng),
            Dist::Lognormal { mu, sigma } => LogNormal::new(mu, sigma).ok()?.sample(rng),
            Dist::Beta { alpha, beta } => Beta::new(alpha, beta).ok()?.sample(rng),
            Dist::Uniform { min, max } => {
                if min == max {
                    min
                } else {
                    Uniform::new_inclusive(min, max).ok()?.sample(rng)
                }
            }
            Dist::Triangular { min, mode, max } => {
                if min == max {
                    min
                } else {
                    Triangular::new(min, max, mode).ok()?.sample(rng)
                }
            }
        })
    }

    fn check(&self) -> Result<(), &'static str> {
        let finite = |v: &[f64]| v.iter().all(|x| x.is_finite());
        match *self {
            Dist::Normal { mean, sd } if finite(&[mean, sd]) && sd >= 0.0 => Ok(()),
            Dist::Normal { .. } => Err("normal needs a finite mean and sd >= 0"),
            Dist::Lognormal { mu, sigma } if finite(&[mu, sigma]) && sigma >= 0.0 => Ok(()),
            Dist::Lognormal { .. } => Err("lognormal needs a finite mu and sigma >= 0"),
            Dist::Beta { alpha, beta } if finite(&[alpha, beta]) && alpha > 0.0 && beta > 0.0 => {
                Ok(())
            }
            Dist::Beta { .. } => Err("beta needs alpha > 0 and beta > 0"),
            Dist::Uniform { min, max } if finite(&[min, max]) && min <= max => Ok(()),
            Dist::Uniform { .. } => Err("uniform needs finite min <= max"),
            Dist::Triangular { min, mode, max }
                if finite(&[min, mode, max]) && min <= mode && mode <= max =>
            {
                Ok(())
            }
            Dist::Triangular { .. } => Err("triangular needs finite min <= mode <= max"),
        }
    }
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NumVisitor)
    }
}

struct NumVisitor;

impl<'de> Visitor<'de> for NumVisitor {
    type Value = Num;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number or a distribution table such as { dist = \"normal\", mean = 0.01, sd = 0.005 }")
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
        Ok(Num::Fixed(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
        Ok(Num::Fixed(v as f64))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
        Ok(Num::Fixed(v as f64))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Num, A::Error> {
        Dist::deserialize(de::value::MapAccessDeserializer::new(map)).map(Num::Dist)
    }
}

/// One [`Num`] per performance year; a single value (or a list shorter than the performance
/// years) repeats its last value.
#[derive(Debug, Clone, PartialEq)]
pub struct PerYear(pub Vec<Num>);

impl PerYear {
    fn one(v: f64) -> Self {
        PerYear(vec![Num::Fixed(v)])
    }

    /// The value of performance year `j` (the last one given beyond the list).
    pub fn get(&self, j: usize) -> Num {
        self.0.get(j).or(self.0.last()).copied().unwrap_or_default()
    }
}

impl<'de> Deserialize<'de> for PerYear {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PerYear;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a number, a distribution table, or a list of them (one per performance year)",
                )
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<PerYear, E> {
                Ok(PerYear(vec![Num::Fixed(v)]))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PerYear, E> {
                Ok(PerYear(vec![Num::Fixed(v as f64)]))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PerYear, E> {
                Ok(PerYear(vec![Num::Fixed(v as f64)]))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<PerYear, A::Error> {
                NumVisitor.visit_map(map).map(|n| PerYear(vec![n]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PerYear, A::Error> {
                let mut out = Vec::new();
                while let Some(n) = seq.next_element::<Num>()? {
                    out.push(n);
                }
                Ok(PerYear(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A complete scenario. See `simulator/MODEL.md` for every formula.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name (reported in every output).
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Calendar performance years, in order (PY1, PY2, ...).
    pub performance_years: Vec<i32>,
    /// Benchmark years BY1, BY2, BY3 (consecutive); listed ACOs use the three years before
    /// their agreement's start year instead.
    #[serde(default)]
    pub benchmark_years: Option<[i32; 3]>,
    /// The ACOs and their beneficiaries (MODEL.md 7.2).
    pub population: Population,
    /// The beneficiary layer (MODEL.md 3); defaults are the fitted values of mssp-rules 7.
    #[serde(default)]
    pub beneficiary: Beneficiary,
    /// How beneficiaries reach the ACOs: `aggregate` (pools with a churn rate, MODEL.md 3.4) or
    /// `claims` (claim lines through the attribution engine, MODEL.md 3.5).
    #[serde(default)]
    pub mode: Mode,
    /// Claims mode's market and care-seeking parameters (MODEL.md 3.5).
    #[serde(default)]
    pub claims: Claims,
    /// Track terms and rule sets (MODEL.md 5).
    pub rules: Rules,
    /// The true effect (MODEL.md 4.5).
    #[serde(default)]
    pub effect: Effect,
    /// The systematic benchmark gap (MODEL.md 4.4).
    #[serde(default)]
    pub gap: Gap,
    /// Transient ACO-year shocks (MODEL.md 4.3).
    #[serde(default)]
    pub transient: Transient,
    /// ACO exit after a performance year (MODEL.md 6.1).
    #[serde(default)]
    pub exit: Exit,
    /// How `simulator calibrate` fits the scenario: parameters, published targets, seed
    /// (MODEL.md 9.3). Read by `calibrate` and the calibration tests only, never written to any
    /// output.
    #[serde(default)]
    pub calibration: Option<Calibration>,
    /// The parsed document, for `--set` overrides.
    #[serde(skip)]
    raw: toml::Table,
    /// Where the scenario came from (file name or preset name).
    #[serde(skip)]
    origin: String,
}

/// The population of a synthetic scenario (MODEL.md 7.2).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Population {
    /// Number of ACOs.
    pub acos: u32,
    /// Median of the lognormal ACO size (assigned beneficiaries).
    #[serde(default)]
    pub size_median: f64,
    /// Log standard deviation of the ACO size.
    #[serde(default)]
    pub size_sigma: f64,
    /// Smallest ACO (sizes below are redrawn).
    #[serde(default)]
    pub size_floor: u64,
    /// If set, the part of each size above the floor is rescaled so the sizes sum to this.
    #[serde(default)]
    pub total_assigned: Option<u64>,
    /// Mean enrollment-type mix (ESRD, disabled, aged/dual, aged/non-dual), sums to 1.
    #[serde(default = "default_mix")]
    pub type_mix: [f64; 4],
    /// Dirichlet concentration of each ACO's mix around the mean.
    #[serde(default = "default_concentration")]
    pub type_mix_concentration: f64,
    /// Log sd of the persistent ACO level `L_i` (efficiency/price).
    #[serde(default = "default_level_sigma")]
    pub level_sigma: f64,
    /// Person-years per assigned beneficiary (`f_i`).
    #[serde(default = "default_pyfrac")]
    pub person_years_per_beneficiary: f64,
    /// Listed ACOs (a replayed Public Use File, MODEL.md 7.2): when given, the ACOs are these
    /// (their count must equal `acos`) and the size, mix and level fields above are not used.
    #[serde(default)]
    pub aco: Vec<ListedAco>,
}

/// One listed ACO (one row of a replayed Public Use File).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListedAco {
    /// Assigned beneficiaries (`N_AB`).
    pub n: u64,
    /// Settlement track of every performance year (`TRACK_1`, ...).
    pub track: String,
    /// Start of the current agreement, `YYYY-MM-DD`; the benchmark years are the three years
    /// before its start year.
    #[serde(deserialize_with = "date")]
    pub start: Date,
    /// Agreement period number.
    #[serde(default = "one")]
    pub period: u32,
    /// MSR/MLR: the ACO's fixed choice where it is one of the fixed options of a two-sided
    /// track, otherwise the variable scale (`MinSavPerc`).
    pub msr: f64,
    /// Quality score (`QualScore`); absent: the scenario's `rules.quality`.
    #[serde(default)]
    pub quality: Option<f64>,
    /// Enrollment-type mix of person-years (ESRD, DIS, AGDU, AGND).
    pub mix: [f64; 4],
    /// Person-years per assigned beneficiary (`N_AB_Year_PY / N_AB`).
    pub pyfrac: f64,
    /// Observed level: benchmark per capita / the national per capita of its mix.
    pub level: f64,
}

fn default_mix() -> [f64; 4] {
    [0.010, 0.120, 0.070, 0.800]
}
fn default_concentration() -> f64 {
    200.0
}
fn default_level_sigma() -> f64 {
    0.15
}
fn default_pyfrac() -> f64 {
    0.975
}

/// The beneficiary layer (MODEL.md 3): fixed values (not distributions: the cost tables are
/// built once per run).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Beneficiary {
    /// Share with zero A+B spending (DIS, AGDU, AGND) [I 7.2].
    pub p_zero: f64,
    /// Weight of the high lognormal component [I 7.2].
    pub mix_w_high: f64,
    /// Log means of the two components [I 7.2].
    pub mix_mu: [f64; 2],
    /// Log sds of the two components [I 7.2].
    pub mix_sd: [f64; 2],
    /// ESRD zero share [I].
    pub esrd_p_zero: f64,
    /// ESRD log sd [I].
    pub esrd_sigma: f64,
    /// Latent AR(1) correlation [I 7.3].
    pub rho: f64,
    /// Annual death rate [R 7.3].
    pub death_rate: f64,
    /// Annual rate of survivors leaving the ACO [I: stay 0.84, S 7.5].
    pub leave_rate: f64,
    /// Log sd of the risk score [I 7.4].
    pub risk_kappa: f64,
    /// Weight of last year's state in the risk index [I: R^2 0.12, R 7.4].
    pub risk_alpha: f64,
    /// National truncation percentile [V 3.1].
    pub trunc_pct: f64,
    /// Grid points of the tables.
    pub table_points: u32,
    /// Grid range: [-z_clamp, z_clamp].
    pub z_clamp: f64,
}

impl Default for Beneficiary {
    fn default() -> Self {
        Self {
            p_zero: 0.08,
            mix_w_high: 0.161,
            mix_mu: [0.0, 2.741],
            mix_sd: [1.314, 0.749],
            esrd_p_zero: 0.005,
            esrd_sigma: 0.85,
            rho: 0.74,
            death_rate: 0.045,
            leave_rate: 0.1204,
            risk_kappa: 0.65,
            risk_alpha: 0.60,
            trunc_pct: 0.99,
            table_points: 8193,
            z_clamp: 6.0,
        }
    }
}

/// How a scenario's beneficiaries are simulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Pools of beneficiaries per ACO with a churn rate (MODEL.md 3.4), the default.
    #[default]
    Aggregate,
    /// A market of beneficiaries and practices whose claim lines the attribution engine assigns
    /// each year (MODEL.md 3.5).
    Claims,
}

/// Claims mode (MODEL.md 3.5): fixed values (the market is built once per replicate).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Claims {
    /// Expected share of an ACO's home panel assigned to it in a year: the panel is the ACO's
    /// size divided by this [C: the assigned total matches the sizes, tests/claims.rs].
    pub assigned_share: f64,
    /// Share of the market's beneficiaries whose home practice is outside every ACO [I].
    pub outside_share: f64,
    /// Beneficiaries per practice (billing TIN) [I].
    pub practice_size: u32,
    /// Annual probability that a surviving beneficiary changes home practice [C: 84% stay with
    /// the same ACO, S mssp-rules 7.5].
    pub practice_switch: f64,
    /// Annual probability of leaving fee-for-service (Medicare Advantage) during the year [R].
    pub ffs_exit: f64,
    /// Annual probability of no primary care service at all [I].
    pub no_care: f64,
    /// Mean primary care claim lines per beneficiary-year with care [I: about 12, as
    /// attribution-rules' synthetic generator].
    pub lines_mean: f64,
    /// Log-slope of the line count on the latent cost state [I].
    pub lines_z_slope: f64,
    /// Share of visits at the home practice [I: 0.7, as the synthetic generator].
    pub home_share: f64,
    /// Share of visits furnished by a nurse practitioner or physician assistant [I].
    pub npp_share: f64,
    /// Share of visits away from home furnished by a step-2 specialist [I].
    pub specialist_share: f64,
}

impl Default for Claims {
    fn default() -> Self {
        Self {
            assigned_share: 0.95,
            outside_share: 0.5,
            practice_size: 500,
            practice_switch: 0.03,
            ffs_exit: 0.03,
            no_care: 0.03,
            lines_mean: 12.0,
            lines_z_slope: 0.3,
            home_share: 0.7,
            npp_share: 0.25,
            specialist_share: 0.2,
        }
    }
}

/// Track terms and rule sets (MODEL.md 5).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Settlement track per performance year (settlement-svc names: `TRACK_1`, `TRACK_PIONEER`,
    /// `TRACK_BASIC_E`, ...); one value for every year, or one per year (listed ACOs: their own).
    #[serde(default)]
    pub tracks: Vec<String>,
    /// Start of the agreement period, `YYYY-MM-DD` (listed ACOs: their own); required for a
    /// synthetic population.
    #[serde(default, deserialize_with = "some_date")]
    pub agreement_start: Option<Date>,
    /// Agreement period number (1 = first).
    #[serde(default = "one")]
    pub agreement_period: u32,
    /// Start of the next agreement inside the scenario, `YYYY-MM-DD` (January 1; synthetic
    /// populations): the benchmark is rebased to the three calendar years before it (years this
    /// scenario simulates) under the rule set of that agreement (period `agreement_period + 1`),
    /// and the performance years from then on are reconciled under it (MODEL.md 5.5).
    #[serde(default)]
    pub rebase_start: Option<String>,
    /// benchmark-svc rule set id (e.g. `mssp-2012-first`); default: the one of the agreement.
    #[serde(default)]
    pub benchmark_rule_set: Option<String>,
    /// `"default"`, `"variable"` or a fixed rate (0, 0.005, 0.01, 0.015, 0.02).
    #[serde(default)]
    pub msr: MsrSpec,
    /// A replacement MSR/MLR scale: bands `[min, max, rate_at_min, rate_at_max]` (max 0 = open).
    #[serde(default)]
    pub msr_schedule: Option<Vec<[f64; 4]>>,
    /// Quality score per performance year (PY2012-2020 score-scaled eras).
    #[serde(default)]
    pub quality: Vec<QualitySpec>,
    /// Overrides the engine's sequestration rate.
    #[serde(default)]
    pub sequestration: Option<f64>,
    /// ACO participants' A+B FFS revenue as a multiple of the updated benchmark, for tracks whose
    /// loss limit is revenue-based (BASIC C-E). Revenue is not simulated: a large multiple leaves
    /// the benchmark-based cap binding. Required by those tracks.
    #[serde(default)]
    pub participant_revenue: Option<f64>,
}

fn one() -> u32 {
    1
}

/// The MSR/MLR option.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum MsrSpec {
    /// `"default"` or `"variable"`.
    Named(String),
    /// A fixed symmetric rate.
    Fixed(f64),
}

impl Default for MsrSpec {
    fn default() -> Self {
        MsrSpec::Named("default".into())
    }
}

/// Quality of one performance year, per ACO: the standard is met with probability `met`
/// (PY2021+; before, always), with score `clip(mean + sd N(0,1), 0, 1)`; otherwise (PY2023+) the
/// alternative standard with score `clip(alternative_mean + alternative_sd N(0,1), 0, 1)`, or
/// (PY2021-2022) not met. The same N(0,1) draw serves both scores.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualitySpec {
    /// Mean score.
    #[serde(default = "num_one")]
    pub mean: Num,
    /// Standard deviation across ACOs.
    #[serde(default)]
    pub sd: Num,
    /// Probability the quality performance standard is met (PY2021+).
    #[serde(default = "num_one")]
    pub met: Num,
    /// Mean score under the alternative standard (PY2023+).
    #[serde(default = "num_alt_mean")]
    pub alternative_mean: Num,
    /// Its standard deviation.
    #[serde(default = "num_alt_sd")]
    pub alternative_sd: Num,
}

fn num_alt_mean() -> Num {
    Num::Fixed(0.6)
}
fn num_alt_sd() -> Num {
    Num::Fixed(0.1)
}

fn num_one() -> Num {
    Num::Fixed(1.0)
}

/// The true effect `delta` (MODEL.md 4.5): two classes of ACOs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Effect {
    /// Share of "effective" ACOs at 12,000 assigned.
    pub pi_hi: Num,
    /// Slope of that share in ln(n / 12,000).
    pub pi_size: Num,
    /// Mean true effect by PY (fraction of counterfactual spending).
    pub mean: PerYear,
    /// Difference of the class means by PY: `mu_hi = mean + (1 - pi_hi) spread`,
    /// `mu_lo = mean - pi_hi spread`.
    pub spread: PerYear,
    /// ACO-year sd of the effect.
    pub sigma: Num,
    /// Share of that variance persistent over PYs.
    pub rho: Num,
    /// Largest effect.
    pub cap: Num,
}

impl Default for Effect {
    fn default() -> Self {
        Self {
            pi_hi: 0.5.into(),
            pi_size: 0.0.into(),
            mean: PerYear::one(0.0),
            spread: PerYear::one(0.0),
            sigma: 0.01.into(),
            rho: 0.5.into(),
            cap: 0.9.into(),
        }
    }
}

/// Shape of the ACO-level gap draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum GapDist {
    /// Standard normal.
    #[default]
    Normal,
    /// `-ln(1 - Phi(eta)) - 1`: unit variance, right-skewed.
    Exponential,
    /// Unit-variance Laplace.
    Laplace,
}

/// The systematic benchmark gap (MODEL.md 4.4): > 0 means the benchmark is above the
/// counterfactual.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Gap {
    /// Mean gap by PY (log).
    pub mean: PerYear,
    /// ACO-level sd (persistent over PYs).
    pub sigma: Num,
    /// Shape of the ACO-level draw.
    pub dist: GapDist,
    /// Extra gap of two-sided ACOs.
    pub two_sided: Num,
    /// Dispersion multiplier of two-sided ACOs (gap and transient shock).
    pub two_sided_sd_scale: Num,
}

impl Default for Gap {
    fn default() -> Self {
        Self {
            mean: PerYear::one(0.0),
            sigma: 0.0.into(),
            dist: GapDist::Normal,
            two_sided: 0.0.into(),
            two_sided_sd_scale: 1.0.into(),
        }
    }
}

/// Transient ACO-year shocks (MODEL.md 4.3).
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Transient {
    /// Size-independent log sd.
    pub sigma0: Num,
    /// Practice-cluster term: sd = k_cluster / sqrt(n).
    pub k_cluster: Num,
    /// AR(1) coefficient over steps.
    pub phi: Num,
    /// Mean shock in benchmark years (selection at entry; regresses).
    pub rtm_shift: Num,
    /// Listed ACOs: share of the observed log level (around its mean) that is transient: it is
    /// added to every benchmark year's shock and regresses in the performance years.
    pub rtm_level_share: Num,
}

/// Exit after a performance year (MODEL.md 6.1).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Exit {
    /// Probability of leaving after a PY with spending above the benchmark.
    pub p_above_benchmark: Num,
    /// Probability of leaving otherwise.
    pub p_other: Num,
    /// Share of an ACO's true effect its beneficiaries keep in the years after it left, for the
    /// intent-to-treat totals (MODEL.md 6.2).
    pub itt_effect: Num,
}

impl Default for Exit {
    fn default() -> Self {
        Self {
            p_above_benchmark: 0.0.into(),
            p_other: 0.0.into(),
            itt_effect: 1.0.into(),
        }
    }
}

/// The `[calibration]` table (MODEL.md 9.3).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// Seed of the calibration runs (different from the report seed of the tests).
    pub seed: u64,
    /// Replicates per evaluation (common random numbers: the same ones every time).
    pub replicates: u32,
    /// Largest number of evaluations of the objective.
    #[serde(default = "default_evaluations")]
    pub max_evaluations: u32,
    /// The numbers the fit moves.
    #[serde(default)]
    pub parameters: Vec<FitParameter>,
    /// The published figures the fit aims at.
    pub targets: Vec<Target>,
}

fn default_evaluations() -> u32 {
    60
}

/// A number `simulator calibrate` moves, within bounds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitParameter {
    /// A fixed number of the ACO layer, named as in the parameter table (`gap.mean[0]`,
    /// `transient.k_cluster`).
    pub key: String,
    /// Lower bound.
    pub min: f64,
    /// Upper bound (> min).
    pub max: f64,
}

/// A published figure the simulated mean over replicates should match.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Short name (reported).
    pub name: String,
    /// What is measured ([`crate::calibrate::Metric`]).
    pub metric: crate::calibrate::Metric,
    /// Performance-year index (0 = PY1); absent: all years for a program total, PY1 otherwise.
    #[serde(default)]
    pub year: Option<usize>,
    /// The published value (dollars, a count, or a fraction).
    pub value: f64,
    /// Tolerance: absolute in the metric's unit, or relative to `value` with `relative = true`.
    pub tolerance: f64,
    /// Whether `tolerance` is relative.
    #[serde(default)]
    pub relative: bool,
    /// Weight in the objective: 1 for acceptance targets, less for published figures that are
    /// reported but not required.
    #[serde(default = "weight_one")]
    pub weight: f64,
    /// Where the figure comes from.
    #[serde(default)]
    pub source: String,
}

fn weight_one() -> f64 {
    1.0
}

/// Every settlement track name the engine knows.
pub fn track_from_name(name: &str) -> Option<Track> {
    Track::ALL.into_iter().find(|t| t.name() == name)
}

/// A `YYYY-MM-DD` date field, read by `acorn_domain::Date`'s ISO reader (a real calendar date,
/// years 1900-9999); anything else is an error at the field's line.
fn date<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
    let text = String::deserialize(d)?;
    Date::parse_iso_in_years(&text)
        .ok_or_else(|| de::Error::custom(format!("must be a date YYYY-MM-DD, got {text:?}")))
}

/// Parses `YYYY-MM-DD` with `acorn_domain::Date`'s ISO reader (years 1900-9999).
pub(crate) fn parse_date(s: &str) -> Option<Date> {
    Date::parse_iso_in_years(s)
}

fn some_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
    date(d).map(Some)
}

/// An agreement start and period that selects each benchmark-svc rule set.
const RULE_SET_AGREEMENTS: [(Date, u32); 7] = [
    (Date::constant(2012, 4, 1), 1),
    (Date::constant(2016, 1, 1), 2),
    (Date::constant(2017, 1, 1), 2),
    (Date::constant(2019, 7, 1), 1),
    (Date::constant(2019, 7, 1), 2),
    (Date::constant(2024, 1, 1), 1),
    (Date::constant(2024, 1, 1), 2),
];

/// The benchmark-svc rule sets, by id.
fn benchmark_rule_sets() -> Vec<benchmark_rules::RuleSet> {
    RULE_SET_AGREEMENTS
        .into_iter()
        .filter_map(|(d, p)| benchmark_rules::rules::select(d, p).ok())
        .collect()
}

/// Whether benchmark-svc, applying its rule set `service` to what the simulator sends, computes
/// exactly the simulator's benchmark rules `rules` (MODEL.md 5.4): the same rule set, or one whose
/// only parts the simulator switches off are inert without the inputs it never sends.
#[cfg(feature = "grpc")]
pub(crate) fn service_computes(
    service: &benchmark_rules::RuleSet,
    rules: &benchmark_rules::RuleSet,
) -> bool {
    service == rules
        || (crate::model::national_only_is_inert(service)
            && crate::model::national_only(*service) == *rules)
}

/// An agreement start and period for which benchmark-svc selects a rule set that computes exactly
/// `rules` ([`service_computes`]; for `--via grpc`, where the service chooses its rule set by the
/// agreement it is given).
#[cfg(feature = "grpc")]
pub(crate) fn rule_set_agreement(rules: &benchmark_rules::RuleSet) -> Option<(Date, u32)> {
    RULE_SET_AGREEMENTS.into_iter().find(|(d, p)| {
        benchmark_rules::rules::select(*d, *p).is_ok_and(|r| service_computes(&r, rules))
    })
}

/// Looks up a benchmark-svc rule set by id.
pub(crate) fn benchmark_rule_set(id: &str) -> Option<benchmark_rules::RuleSet> {
    benchmark_rule_sets().into_iter().find(|r| r.id == id)
}

impl Scenario {
    /// The names of the embedded presets.
    pub fn preset_names() -> impl Iterator<Item = &'static str> {
        PRESETS.iter().map(|(n, _)| *n)
    }

    /// The TOML text of an embedded preset.
    pub fn preset_text(name: &str) -> Option<&'static str> {
        PRESETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    /// An embedded preset by name.
    pub fn preset(name: &str) -> Result<Self, ScenarioError> {
        match PRESETS.iter().find(|(n, _)| *n == name) {
            Some((n, text)) => Self::from_toml(text, n),
            None => Err(ScenarioError {
                origin: "--scenario".into(),
                key: "scenario".into(),
                line: None,
                message: format!(
                    "no preset named {name:?} (presets: {})",
                    Self::preset_names().collect::<Vec<_>>().join(", ")
                ),
            }),
        }
    }

    /// A preset name, or else a TOML file path.
    pub fn load(name_or_path: &str) -> Result<Self, ScenarioError> {
        if PRESETS.iter().any(|(n, _)| *n == name_or_path) {
            return Self::preset(name_or_path);
        }
        let path = std::path::Path::new(name_or_path);
        if path.extension().is_none_or(|e| e != "toml") && !path.exists() {
            return Self::preset(name_or_path);
        }
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            origin: name_or_path.into(),
            key: "scenario".into(),
            line: None,
            message: format!("cannot read the scenario file: {e}"),
        })?;
        Self::from_toml(&text, name_or_path)
    }

    /// Parses and validates a scenario; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, ScenarioError> {
        let mut s: Scenario = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|sp| line_of_offset(text, sp.start));
            let key = e
                .span()
                .and_then(|sp| key_at(text, sp.start))
                .unwrap_or_else(|| "scenario".into());
            ScenarioError {
                origin: origin.into(),
                key,
                line,
                message: e.message().trim().to_string(),
            }
        })?;
        s.raw = toml::from_str(text).map_err(|e: toml::de::Error| ScenarioError {
            origin: origin.into(),
            key: "scenario".into(),
            line: None,
            message: e.message().to_string(),
        })?;
        s.origin = origin.into();
        s.validate().map_err(|(key, message)| ScenarioError {
            origin: origin.into(),
            line: line_of_key(text, &key),
            key,
            message,
        })?;
        Ok(s)
    }

    /// The scenario with `key` (dotted path, list elements by index: `effect.mean.1`) set to
    /// `value` (a TOML value: `0.01`, `[0.01, 0.02]`, `"exponential"`,
    /// `{ dist = "uniform", min = 0, max = 0.02 }`; anything else is taken as a string).
    pub fn with_override(&self, key: &str, value: &str) -> Result<Self, ScenarioError> {
        let err = |message: String| ScenarioError {
            origin: "--set".into(),
            key: key.into(),
            line: None,
            message,
        };
        let parsed: toml::Value = match toml::from_str::<toml::Table>(&format!("v = {value}")) {
            Ok(mut t) => t.remove("v").unwrap_or(toml::Value::String(value.into())),
            Err(_) => toml::Value::String(value.into()),
        };
        let mut raw = self.raw.clone();
        let parts: Vec<&str> = key.split('.').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(err(
                "the key must be a dotted path such as effect.mean".into()
            ));
        }
        set_path(&mut raw, &parts, parsed).map_err(err)?;
        let mut s: Scenario = toml::Value::Table(raw.clone())
            .try_into()
            .map_err(|e: toml::de::Error| err(e.message().to_string()))?;
        s.raw = raw;
        s.origin = self.origin.clone();
        s.validate().map_err(|(k, m)| ScenarioError {
            origin: "--set".into(),
            key: k,
            line: None,
            message: m,
        })?;
        Ok(s)
    }

    /// Validates the scenario as it is now (its fields are public and may have been changed after
    /// loading); [`crate::simulate`] calls this first, so no scenario can make the model panic.
    pub fn check(&self) -> Result<(), ScenarioError> {
        self.validate().map_err(|(key, message)| ScenarioError {
            origin: self.origin.clone(),
            key,
            line: None,
            message,
        })
    }

    /// Where the scenario came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The settlement track of performance year `j`.
    pub(crate) fn track(&self, j: usize) -> Track {
        self.rules
            .tracks
            .get(j)
            .or(self.rules.tracks.last())
            .and_then(|t| track_from_name(t))
            .unwrap_or(Track::Track1)
    }

    /// The agreement start (validated).
    pub(crate) fn agreement_start(&self) -> Date {
        self.rules
            .agreement_start
            .unwrap_or(Date::constant(2012, 4, 1))
    }

    /// The value of a fixed number of the ACO layer named as in [`Scenario::numbers`]
    /// (`gap.mean[0]`); `None` if there is no such number or it is a distribution.
    pub fn fixed_number(&self, key: &str) -> Option<f64> {
        self.numbers()
            .into_iter()
            .find(|(k, ..)| k == key)
            .and_then(|(_, n, ..)| match n {
                Num::Fixed(v) => Some(v),
                Num::Dist(_) => None,
            })
    }

    /// The parts of the `[calibration]` table that do not depend on the rest of the scenario
    /// (checked on load; [`Scenario::check_calibration`] checks the rest before fitting, since a
    /// `--set` may change the numbers it names).
    fn check_calibration_table(&self) -> Check {
        let Some(c) = &self.calibration else {
            return Ok(());
        };
        if c.replicates == 0 {
            return Err(("calibration.replicates".into(), "must be at least 1".into()));
        }
        for (i, p) in c.parameters.iter().enumerate() {
            if !(p.min.is_finite() && p.max.is_finite() && p.min < p.max) {
                return Err((
                    format!("calibration.parameters[{i}]"),
                    "needs finite min < max".into(),
                ));
            }
        }
        for (i, t) in c.targets.iter().enumerate() {
            let k = format!("calibration.targets[{i}]");
            if !t.value.is_finite() {
                return Err((k, "value must be a finite number".into()));
            }
            positive(&k, t.tolerance)?;
            nonneg(&k, t.weight)?;
        }
        Ok(())
    }

    /// The `[calibration]` table against the scenario as it is now: every parameter names a fixed
    /// number of the ACO layer whose value lies within its bounds, and every target's year is a
    /// performance year. Run by `simulator calibrate` before anything is simulated.
    pub fn check_calibration(&self) -> Result<(), ScenarioError> {
        self.calibration_against_scenario()
            .map_err(|(key, message)| ScenarioError {
                origin: self.origin.clone(),
                key,
                line: None,
                message,
            })
    }

    fn calibration_against_scenario(&self) -> Check {
        let Some(c) = &self.calibration else {
            return Err((
                "calibration".into(),
                "the scenario has no [calibration] table (targets and parameters to fit)".into(),
            ));
        };
        let numbers = self.numbers();
        for (i, p) in c.parameters.iter().enumerate() {
            let k = format!("calibration.parameters[{i}]");
            let Some((_, n, lo, hi)) = numbers.iter().find(|(key, ..)| *key == p.key) else {
                return Err((
                    k,
                    format!("{:?} is not a number of the ACO layer (MODEL.md 10)", p.key),
                ));
            };
            let Num::Fixed(v) = n else {
                return Err((
                    k,
                    format!("{} is a distribution, not a fixed number", p.key),
                ));
            };
            if p.min < *lo || p.max > *hi {
                return Err((k, format!("bounds must lie within [{lo}, {hi}]")));
            }
            if !(p.min..=p.max).contains(v) {
                return Err((k, format!("the scenario's value {v} is outside [min, max]")));
            }
        }
        for (i, t) in c.targets.iter().enumerate() {
            let k = format!("calibration.targets[{i}]");
            if t.year.is_some_and(|y| y >= self.performance_years.len()) {
                return Err((k, "year is past the last performance year".into()));
            }
        }
        Ok(())
    }

    /// The start of the rebased agreement (`rules.rebase_start`), if any.
    pub(crate) fn rebase_start(&self) -> Option<Date> {
        self.rules.rebase_start.as_deref().and_then(parse_date)
    }

    /// The agreement start performance year `py` is reconciled under (synthetic populations).
    pub(crate) fn agreement_of(&self, py: i32) -> (Date, u32) {
        match self.rebase_start() {
            Some(r) if py >= r.year() => (r, self.rules.agreement_period + 1),
            _ => (self.agreement_start(), self.rules.agreement_period),
        }
    }

    /// Every number of the ACO layer that may be a distribution: (key, value, lowest, highest).
    /// A per-year list contributes one entry per element given (`effect.mean[0]`, ...); years
    /// beyond the list reuse the last element's draw.
    pub(crate) fn numbers(&self) -> Vec<(String, Num, f64, f64)> {
        let mut out = Vec::new();
        let mut one = |k: &str, n: &Num, lo: f64, hi: f64| out.push((k.to_string(), *n, lo, hi));
        let (f, g, t, x) = (&self.effect, &self.gap, &self.transient, &self.exit);
        one("effect.pi_hi", &f.pi_hi, 0.0, 1.0);
        one("effect.pi_size", &f.pi_size, -10.0, 10.0);
        one("effect.sigma", &f.sigma, 0.0, 1.0);
        one("effect.rho", &f.rho, 0.0, 1.0);
        one("effect.cap", &f.cap, 0.0, 1.0);
        one("gap.sigma", &g.sigma, 0.0, 1.0);
        one("gap.two_sided", &g.two_sided, -1.0, 1.0);
        one("gap.two_sided_sd_scale", &g.two_sided_sd_scale, 0.0, 10.0);
        one("transient.sigma0", &t.sigma0, 0.0, 1.0);
        one("transient.k_cluster", &t.k_cluster, 0.0, 100.0);
        one("transient.phi", &t.phi, 0.0, 1.0);
        one("transient.rtm_shift", &t.rtm_shift, -1.0, 1.0);
        one("transient.rtm_level_share", &t.rtm_level_share, 0.0, 1.0);
        one("exit.p_above_benchmark", &x.p_above_benchmark, 0.0, 1.0);
        one("exit.p_other", &x.p_other, 0.0, 1.0);
        one("exit.itt_effect", &x.itt_effect, 0.0, 1.0);
        for (k, v, lo, hi) in [
            ("effect.mean", &f.mean, -1.0, 1.0),
            ("effect.spread", &f.spread, -2.0, 2.0),
            ("gap.mean", &g.mean, -1.0, 1.0),
        ] {
            for (j, n) in v.0.iter().enumerate() {
                one(&format!("{k}[{j}]"), n, lo, hi);
            }
        }
        for (j, q) in self.rules.quality.iter().enumerate() {
            one(&format!("rules.quality[{j}].mean"), &q.mean, 0.0, 1.0);
            one(&format!("rules.quality[{j}].sd"), &q.sd, 0.0, 1.0);
            one(&format!("rules.quality[{j}].met"), &q.met, 0.0, 1.0);
            one(
                &format!("rules.quality[{j}].alternative_mean"),
                &q.alternative_mean,
                0.0,
                1.0,
            );
            one(
                &format!("rules.quality[{j}].alternative_sd"),
                &q.alternative_sd,
                0.0,
                1.0,
            );
        }
        out
    }

    /// The synthetic population's fields.
    fn check_synthetic(&self) -> Check {
        let e = |k: &str, m: &str| Err((k.to_string(), m.to_string()));
        let p = &self.population;
        positive("population.size_median", p.size_median)?;
        if p.size_median > MAX_ACO_SIZE as f64 {
            return e("population.size_median", "must be at most 10,000,000");
        }
        nonneg("population.size_sigma", p.size_sigma)?;
        if p.size_sigma > 5.0 {
            return e("population.size_sigma", "must be at most 5");
        }
        if p.size_floor == 0 || p.size_floor > MAX_ACO_SIZE {
            return e("population.size_floor", "must be between 1 and 10,000,000");
        }
        if p.acos > 100_000 {
            return e("population.acos", "must be at most 100,000");
        }
        if let Some(t) = p.total_assigned
            && (t < p.size_floor * u64::from(p.acos) || t > MAX_ACO_SIZE * u64::from(p.acos))
        {
            return e(
                "population.total_assigned",
                "must be between acos x size_floor and acos x 10,000,000",
            );
        }
        for (i, m) in p.type_mix.iter().enumerate() {
            prob(&format!("population.type_mix[{i}]"), *m)?;
        }
        if (p.type_mix.iter().sum::<f64>() - 1.0).abs() > 1e-6 {
            return e("population.type_mix", "must sum to 1");
        }
        positive(
            "population.type_mix_concentration",
            p.type_mix_concentration,
        )?;
        nonneg("population.level_sigma", p.level_sigma)?;
        positive(
            "population.person_years_per_beneficiary",
            p.person_years_per_beneficiary,
        )?;
        if p.person_years_per_beneficiary > 1.0 {
            return e(
                "population.person_years_per_beneficiary",
                "must be at most 1",
            );
        }
        Ok(())
    }

    /// One listed ACO.
    fn check_listed(&self, i: usize, a: &ListedAco) -> Check {
        let k = |f: &str| format!("population.aco[{i}].{f}");
        if a.n == 0 || a.n > MAX_ACO_SIZE {
            return Err((k("n"), "must be between 1 and 10,000,000".into()));
        }
        let track = track_from_name(&a.track).ok_or_else(|| {
            (
                k("track"),
                format!(
                    "unknown track {:?} (the settlement engine knows {})",
                    a.track,
                    Track::ALL.map(|t| t.name()).join(", ")
                ),
            )
        })?;
        let start = a.start;
        let y = start.year();
        check_years(&k("start"), [y - 3, y - 2, y - 1], &self.performance_years)?;
        for py in &self.performance_years {
            settlement_rules::rules::select(track, start, *py).map_err(|err| {
                (
                    k("track"),
                    format!("no settlement rule set for PY{py}: {err}"),
                )
            })?;
        }
        benchmark_rules::rules::select(start, a.period).map_err(|err| {
            (
                k("start"),
                format!("benchmark-svc has no rule set for it ({err})"),
            )
        })?;
        prob(&k("msr"), a.msr)?;
        if let Some(q) = a.quality {
            prob(&k("quality"), q)?;
        }
        for (j, m) in a.mix.iter().enumerate() {
            prob(&format!("{}[{j}]", k("mix")), *m)?;
        }
        if (a.mix.iter().sum::<f64>() - 1.0).abs() > 1e-3 {
            return Err((k("mix"), "must sum to 1".into()));
        }
        positive(&k("pyfrac"), a.pyfrac)?;
        if a.pyfrac > 1.0 {
            return Err((k("pyfrac"), "must be at most 1".into()));
        }
        positive(&k("level"), a.level)
    }

    /// `rules.rebase_start` (MODEL.md 5.5).
    fn check_rebase(&self, raw: &str, start: Date) -> Check {
        let key = "rules.rebase_start".to_string();
        let err = |m: String| Err((key.clone(), m));
        let Some(r) = parse_date(raw).filter(|d| d.month() == 1 && d.day() == 1) else {
            return err("must be a date YYYY-01-01 (a January 1)".into());
        };
        if r <= start {
            return err("must be after rules.agreement_start".into());
        }
        if !self.performance_years.iter().any(|py| *py >= r.year()) {
            return err("no performance year falls in the rebased agreement".into());
        }
        let simulated: Vec<i32> = self
            .benchmark_years
            .iter()
            .flatten()
            .chain(&self.performance_years)
            .copied()
            .collect();
        for y in r.year() - 3..r.year() {
            if !simulated.contains(&y) {
                return err(format!(
                    "its benchmark year {y} is neither a benchmark year nor a performance year \
                     of the scenario"
                ));
            }
        }
        if let Err(e) = benchmark_rules::rules::select(r, self.rules.agreement_period + 1) {
            return err(format!("benchmark-svc has no rule set for it ({e})"));
        }
        Ok(())
    }

    /// The scenario-wide agreement (synthetic populations).
    fn check_agreement(&self) -> Check {
        let e = |k: &str, m: &str| Err((k.to_string(), m.to_string()));
        let npy = self.performance_years.len();
        let r = &self.rules;
        if r.tracks.is_empty() || r.tracks.len() > npy {
            return e(
                "rules.tracks",
                "needs one track, or one per performance year",
            );
        }
        let start = r.agreement_start.ok_or((
            "rules.agreement_start".to_string(),
            "is required for a synthetic population (a date YYYY-MM-DD)".to_string(),
        ))?;
        for (i, t) in r.tracks.iter().enumerate() {
            if track_from_name(t).is_none() {
                return Err((
                    format!("rules.tracks[{i}]"),
                    format!(
                        "unknown track {t:?} (the settlement engine knows {})",
                        Track::ALL.map(|t| t.name()).join(", ")
                    ),
                ));
            }
        }
        if let Some(raw) = &r.rebase_start {
            self.check_rebase(raw, start)?;
        }
        for (j, py) in self.performance_years.iter().enumerate() {
            let track = self.track(j);
            let (start, _) = self.agreement_of(*py);
            if let Err(err) = settlement_rules::rules::select(track, start, *py) {
                return Err((
                    format!("rules.tracks[{}]", j.min(r.tracks.len() - 1)),
                    format!("no settlement rule set for PY{py}: {err}"),
                ));
            }
        }
        match &r.benchmark_rule_set {
            Some(id) => {
                if benchmark_rule_set(id).is_none() {
                    return Err((
                        "rules.benchmark_rule_set".into(),
                        format!(
                            "unknown rule set {id:?} (benchmark-svc knows {})",
                            benchmark_rule_sets()
                                .iter()
                                .map(|r| r.id)
                                .collect::<BTreeSet<_>>()
                                .into_iter()
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
            }
            None => {
                if let Err(err) = benchmark_rules::rules::select(start, r.agreement_period) {
                    return Err((
                        "rules.agreement_start".into(),
                        format!(
                            "benchmark-svc has no rule set for it ({err}); name one in rules.benchmark_rule_set"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Checks every range; `Err((key, message))`.
    fn validate(&self) -> Result<(), (String, String)> {
        let e = |k: &str, m: &str| Err((k.to_string(), m.to_string()));
        let npy = self.performance_years.len();
        if npy == 0 {
            return e("performance_years", "needs at least one performance year");
        }
        if self.performance_years.windows(2).any(|w| w[1] <= w[0]) {
            return e("performance_years", "must be increasing");
        }
        let listed = !self.population.aco.is_empty();
        match (self.benchmark_years, listed) {
            (Some(by), _) => check_years("benchmark_years", by, &self.performance_years)?,
            (None, false) => return e("benchmark_years", "is required (three consecutive years)"),
            (None, true) => {}
        }
        // population
        let p = &self.population;
        if p.acos == 0 {
            return e("population.acos", "must be at least 1");
        }
        if listed {
            if p.aco.len() != p.acos as usize {
                return Err((
                    "population.acos".into(),
                    format!("must equal the number of listed ACOs ({})", p.aco.len()),
                ));
            }
            for (i, a) in p.aco.iter().enumerate() {
                self.check_listed(i, a)?;
            }
        } else {
            self.check_synthetic()?;
        }
        // beneficiary layer
        let (b, c) = (&self.beneficiary, &self.claims);
        for (k, v) in [
            ("beneficiary.p_zero", b.p_zero),
            ("beneficiary.mix_w_high", b.mix_w_high),
            ("beneficiary.esrd_p_zero", b.esrd_p_zero),
            ("beneficiary.death_rate", b.death_rate),
            ("beneficiary.leave_rate", b.leave_rate),
            ("beneficiary.risk_alpha", b.risk_alpha),
            ("claims.outside_share", c.outside_share),
            ("claims.practice_switch", c.practice_switch),
            ("claims.ffs_exit", c.ffs_exit),
            ("claims.no_care", c.no_care),
            ("claims.home_share", c.home_share),
            ("claims.npp_share", c.npp_share),
            ("claims.specialist_share", c.specialist_share),
        ] {
            prob(k, v)?;
        }
        if !(b.p_zero < 1.0 && b.esrd_p_zero < 1.0) {
            return e("beneficiary.p_zero", "must be below 1");
        }
        if !(b.rho > -1.0 && b.rho < 1.0) {
            return e("beneficiary.rho", "must be in (-1, 1)");
        }
        if !(b.trunc_pct > 0.5 && b.trunc_pct < 1.0) {
            return e("beneficiary.trunc_pct", "must be in (0.5, 1)");
        }
        for (k, v) in [
            ("beneficiary.mix_sd[0]", b.mix_sd[0]),
            ("beneficiary.mix_sd[1]", b.mix_sd[1]),
            ("beneficiary.esrd_sigma", b.esrd_sigma),
            ("beneficiary.z_clamp", b.z_clamp),
        ] {
            positive(k, v)?;
        }
        nonneg("beneficiary.risk_kappa", b.risk_kappa)?;
        finite("beneficiary.mix_mu[0]", b.mix_mu[0])?;
        finite("beneficiary.mix_mu[1]", b.mix_mu[1])?;
        if !(3..=1_000_000).contains(&b.table_points) {
            return e(
                "beneficiary.table_points",
                "must be between 3 and 1,000,000",
            );
        }
        self.check_claims(listed)?;
        // rules
        let r = &self.rules;
        if !listed {
            self.check_agreement()?;
        } else if r.rebase_start.is_some() {
            return e(
                "rules.rebase_start",
                "applies to synthetic populations (listed ACOs carry their own agreement)",
            );
        }
        match &r.msr {
            MsrSpec::Named(n) if n == "default" || n == "variable" => {}
            MsrSpec::Named(n) => {
                return Err((
                    "rules.msr".into(),
                    format!("unknown option {n:?}: \"default\", \"variable\" or a fixed rate"),
                ));
            }
            MsrSpec::Fixed(v) => prob("rules.msr", *v)?,
        }
        if let Some(bands) = &r.msr_schedule {
            crate::model::msr_schedule(bands).map_err(|m| ("rules.msr_schedule".to_string(), m))?;
        }
        if r.quality.len() > npy {
            return e("rules.quality", "has more entries than performance years");
        }
        if let Some(s) = r.sequestration {
            prob("rules.sequestration", s)?;
        }
        if let Some(v) = r.participant_revenue {
            positive("rules.participant_revenue", v)?;
            if v > 1000.0 {
                return e(
                    "rules.participant_revenue",
                    "must be at most 1,000 (times the benchmark)",
                );
            }
        }
        for (k, v) in [
            ("effect.mean", &self.effect.mean),
            ("effect.spread", &self.effect.spread),
            ("gap.mean", &self.gap.mean),
        ] {
            if v.0.is_empty() || v.0.len() > npy {
                return Err((
                    k.into(),
                    "needs one value, or one per performance year".into(),
                ));
            }
        }
        for (key, n, lo, hi) in self.numbers() {
            num_in(&key, &n, lo, hi)?;
        }
        self.check_calibration_table()
    }
}

impl Scenario {
    /// Claims mode (MODEL.md 3.5): a synthetic population, years the attribution engine has
    /// rules for, parameters in range (the probabilities are checked with the beneficiary
    /// layer's).
    fn check_claims(&self, listed: bool) -> Check {
        let c = &self.claims;
        if !(c.assigned_share > 0.0 && c.assigned_share <= 1.0) {
            return Err(("claims.assigned_share".into(), "must be in (0, 1]".into()));
        }
        if c.outside_share >= 1.0 {
            return Err(("claims.outside_share".into(), "must be below 1".into()));
        }
        if c.practice_size == 0 {
            return Err(("claims.practice_size".into(), "must be at least 1".into()));
        }
        if !(c.lines_mean >= 0.0 && c.lines_mean <= 1000.0) {
            return Err(("claims.lines_mean".into(), "must be in [0, 1000]".into()));
        }
        if !(-2.0..=2.0).contains(&c.lines_z_slope) {
            return Err(("claims.lines_z_slope".into(), "must be in [-2, 2]".into()));
        }
        if self.mode != Mode::Claims {
            return Ok(());
        }
        if listed {
            return Err((
                "mode".into(),
                "claims mode needs a synthetic population (population.aco lists replayed ACOs, \
                 which carry no practices or claims)"
                    .into(),
            ));
        }
        let (first, last) = (attribution_rules::FIRST_YEAR, attribution_rules::LAST_YEAR);
        if let Some(y) = self
            .performance_years
            .iter()
            .find(|y| !(first..=last).contains(*y))
        {
            return Err((
                "performance_years".into(),
                format!("{y}: claims mode assigns with the rules of {first}-{last}"),
            ));
        }
        Ok(())
    }
}

type Check = Result<(), (String, String)>;

/// Largest ACO (assigned beneficiaries) a scenario may ask for.
const MAX_ACO_SIZE: u64 = 10_000_000;

/// Benchmark years consecutive, before the performance years, all with a national per capita.
fn check_years(key: &str, by: [i32; 3], pys: &[i32]) -> Check {
    let [b1, b2, b3] = by;
    // Checked: a year of i32::MAX (found by acorn-fuzz) must be refused, not overflow.
    if b1.checked_add(1) != Some(b2) || b2.checked_add(1) != Some(b3) {
        return Err((
            key.into(),
            "benchmark years must be three consecutive years".into(),
        ));
    }
    if pys[0] <= b3 {
        return Err((
            key.into(),
            "the performance years must follow the benchmark years".into(),
        ));
    }
    for y in by.iter().chain(pys) {
        if crate::model::national_agnd(*y).is_none() {
            return Err((
                key.into(),
                format!("no national per capita for {y} (known: 2009-2024)"),
            ));
        }
    }
    Ok(())
}

fn finite(k: &str, v: f64) -> Check {
    if v.is_finite() {
        Ok(())
    } else {
        Err((k.into(), "must be a finite number".into()))
    }
}
fn positive(k: &str, v: f64) -> Check {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err((k.into(), format!("must be positive (got {v})")))
    }
}
fn nonneg(k: &str, v: f64) -> Check {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err((k.into(), format!("must not be negative (got {v})")))
    }
}
fn prob(k: &str, v: f64) -> Check {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err((
            k.into(),
            format!("must be a probability in [0, 1] (got {v})"),
        ))
    }
}
fn num_in(k: &str, n: &Num, lo: f64, hi: f64) -> Check {
    if let Num::Dist(d) = n {
        d.check().map_err(|m| (k.to_string(), m.to_string()))?;
    }
    let (a, b) = n.range();
    if a.is_nan() || b.is_nan() || a < lo || b > hi {
        let what = if lo == 0.0 && hi == 1.0 {
            "a probability/share in [0, 1]".to_string()
        } else {
            format!("in [{lo}, {hi}]")
        };
        let how = match n {
            Num::Fixed(v) => format!("got {v}"),
            Num::Dist(_) => "the distribution reaches outside it".into(),
        };
        return Err((k.into(), format!("must be {what} ({how})")));
    }
    Ok(())
}
fn set_path(t: &mut toml::Table, parts: &[&str], v: toml::Value) -> Result<(), String> {
    let (first, rest) = parts.split_first().ok_or("empty key")?;
    if rest.is_empty() {
        t.insert((*first).to_string(), v);
        return Ok(());
    }
    let entry = t
        .entry((*first).to_string())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    set_value(entry, rest, v)
}

fn set_value(cur: &mut toml::Value, parts: &[&str], v: toml::Value) -> Result<(), String> {
    let Some((first, rest)) = parts.split_first() else {
        *cur = v;
        return Ok(());
    };
    match cur {
        toml::Value::Table(t) => set_path(t, parts, v),
        toml::Value::Array(a) => {
            let i: usize = first
                .parse()
                .map_err(|_| format!("{first} is not a list index"))?;
            // A per-year list may be shorter than the index: it repeats its last value.
            while a.len() <= i {
                let last = a.last().cloned().ok_or("the list is empty")?;
                a.push(last);
            }
            set_value(&mut a[i], rest, v)
        }
        _ => Err(format!(
            "{first}: the value above it is not a table or list"
        )),
    }
}

fn line_of_offset(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The key written at `offset` (or at the start of its line).
fn key_at(text: &str, offset: usize) -> Option<String> {
    let start = text[..offset.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line = text[start..].lines().next()?;
    let key = line.split('=').next()?.trim().trim_matches(['[', ']']);
    (!key.is_empty()).then(|| key.to_string())
}

/// The 1-based line of a dotted key (`rules.tracks[1]`) in the document, if it is there.
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    use toml::de::{DeTable, DeValue};
    let table = DeTable::parse(text).ok()?;
    let doc = serde_spanned::Spanned::new(table.span(), DeValue::Table(table.into_inner()));
    let mut cur = &doc;
    let mut span = None;
    for part in key.split('.') {
        let (name, idx) = match part.split_once('[') {
            Some((n, i)) => (n, i.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        match cur.get_ref().get(name) {
            Some(v) => {
                span = Some(v.span());
                cur = v;
            }
            None => break,
        }
        if let Some(i) = idx {
            match cur.get_ref().get(i) {
                Some(v) => {
                    span = Some(v.span());
                    cur = v;
                }
                None => break,
            }
        }
    }
    span.map(|s| line_of_offset(text, s.start))
}
