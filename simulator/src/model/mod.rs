//! The model (MODEL.md): population -> beneficiary layer (the hot loop) -> ACO layer ->
//! benchmark-svc's engine (historical benchmark, update) -> settlement-svc's engine
//! (`reconcile`) -> per-ACO records and program totals. No rule is re-implemented here: every
//! benchmark and settlement figure is the engines' own output.
//!
//! Randomness: independent Xoshiro256++ streams keyed by (seed, replicate, ACO, purpose)
//! ([`stream`]): results are identical for any thread count or sharding, and two scenarios run
//! with the same seed share their beneficiaries and ACO draws (common random numbers) wherever
//! their populations agree.

mod aco;
#[cfg(feature = "grpc")]
pub(crate) use aco::{national_only, national_only_is_inert};
mod beneficiary;
mod claims;
mod cost;
mod population;

use std::ops::Range;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rust_decimal::Decimal;
use settlement_rules::{MsrBand, MsrSchedule};

pub use claims::ClaimsStats;
pub use cost::top_shares;

use crate::engines::{Engines, InProcess};
use crate::results::Replicate;
use crate::scenario::Scenario;

/// Version of the model; goes into every output (`summary.json`'s `model_version`). Bump it when
/// a change can move any simulated number for the same scenario and seed.
pub const MODEL_VERSION: &str = "1.2.0";

/// Why a replicate could not be simulated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// The scenario (or a parameter drawn from its distribution) is unusable.
    #[error(transparent)]
    Scenario(#[from] crate::scenario::ScenarioError),
    /// A drawn parameter left its range.
    #[error("replicate {replicate}: {key} drawn as {value}, outside its range")]
    Parameter {
        /// Replicate.
        replicate: u32,
        /// The parameter.
        key: String,
        /// Its draw.
        value: String,
    },
    /// benchmark-svc's engine refused the simulated experience of an ACO.
    #[error("replicate {replicate}, ACO {aco}: benchmark engine: {message}")]
    Benchmark {
        /// Replicate.
        replicate: u32,
        /// ACO index.
        aco: u32,
        /// The engine's error.
        message: String,
    },
    /// settlement-svc's engine refused the simulated performance year of an ACO.
    #[error("replicate {replicate}, ACO {aco}, PY{year}: settlement engine: {message}")]
    Settlement {
        /// Replicate.
        replicate: u32,
        /// ACO index.
        aco: u32,
        /// Performance year.
        year: i32,
        /// The engine's error.
        message: String,
    },
    /// A worker thread panicked (a bug).
    #[error("a simulation thread stopped unexpectedly")]
    Thread,
}

/// Aged/non-dual national per capita, truncated (PUF) basis, dollars (MODEL.md 7.1)
/// [R mssp-rules 7.1; I smoothed from the PUFs; 2023-24 extrapolated +4%/yr].
const NATIONAL_AGND: [(i32, f64); 16] = [
    (2009, 8600.0),
    (2010, 8800.0),
    (2011, 8950.0),
    (2012, 9000.0),
    (2013, 9000.0),
    (2014, 9050.0),
    (2015, 9200.0),
    (2016, 9350.0),
    (2017, 9550.0),
    (2018, 9850.0),
    (2019, 10150.0),
    (2020, 9350.0),
    (2021, 10050.0),
    (2022, 10450.0),
    (2023, 10850.0),
    (2024, 11300.0),
];

/// Relativities to aged/non-dual (ESRD, DIS, AGDU, AGND) [I from the PY2018 PUF].
const TYPE_RELATIVITY: [f64; 4] = [8.4, 1.07, 1.60, 1.0];

/// The aged/non-dual national per capita of `year`, if tabulated.
pub(crate) fn national_agnd(year: i32) -> Option<f64> {
    NATIONAL_AGND
        .iter()
        .find(|(y, _)| *y == year)
        .map(|(_, v)| *v)
}

/// National per capita by type, truncated basis (`m_{e,y}`).
fn national_truncated(year: i32) -> [f64; 4] {
    let a = national_agnd(year).unwrap_or(f64::NAN);
    TYPE_RELATIVITY.map(|r| r * a)
}

/// Builds the engine's MSR schedule from scenario bands `[min, max, rate_at_min, rate_at_max]`
/// (`max` 0 = open-ended).
pub(crate) fn msr_schedule(bands: &[[f64; 4]]) -> Result<MsrSchedule, String> {
    let mut out = Vec::with_capacity(bands.len());
    for (i, b) in bands.iter().enumerate() {
        let count = |v: f64| -> Result<u64, String> {
            if v >= 0.0 && v.fract() == 0.0 && v < 1e12 {
                Ok(v as u64)
            } else {
                Err(format!(
                    "band {i}: beneficiary counts must be whole numbers >= 0"
                ))
            }
        };
        let rate = |v: f64| -> Result<Decimal, String> {
            if (0.0..=1.0).contains(&v) {
                Decimal::try_from(v)
                    .map(|d| d.round_dp(6))
                    .map_err(|e| format!("band {i}: {e}"))
            } else {
                Err(format!("band {i}: rates must be in [0, 1]"))
            }
        };
        let max = count(b[1])?;
        out.push(MsrBand {
            min: count(b[0])?,
            max: if max == 0 { u64::MAX } else { max },
            rate_at_min: rate(b[2])?,
            rate_at_max: rate(b[3])?,
        });
    }
    MsrSchedule::new(out).map_err(|e| e.to_string())
}

/// What a random stream is for (the last part of its key).
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
pub(crate) enum Purpose {
    /// ACO sizes, type mix, levels (one stream per replicate).
    Population = 1,
    /// One ACO's ACO-layer draws (MODEL.md 4.1).
    Aco = 2,
    /// One ACO's beneficiaries.
    Beneficiaries = 3,
    /// A scenario parameter drawn from its distribution (keyed by the parameter's name).
    Parameter = 4,
    /// One market slot of claims mode (unit = slot index, MODEL.md 3.5).
    Claims = 5,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The random stream of (seed, replicate, unit, purpose): a SplitMix64 chain over the key gives
/// the 256-bit Xoshiro256++ state. `unit` is the ACO index (or a key hash for parameters).
pub(crate) fn stream(seed: u64, replicate: u32, unit: u64, purpose: Purpose) -> Xoshiro256PlusPlus {
    let mut h = splitmix(seed);
    h = splitmix(h ^ u64::from(replicate));
    h = splitmix(h ^ unit);
    h = splitmix(h ^ purpose as u64);
    let mut state = [0u8; 32];
    for chunk in state.chunks_exact_mut(8) {
        h = splitmix(h);
        chunk.copy_from_slice(&h.to_le_bytes());
    }
    Xoshiro256PlusPlus::from_seed(state)
}

/// FNV-1a of a parameter key (the `unit` of its stream).
pub(crate) fn key_hash(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A scenario prepared for simulation: its cost tables built once, and the engines its benchmark
/// and settlement steps run on.
#[derive(Debug, Clone)]
pub struct Model {
    scenario: Scenario,
    cost: cost::CostModel,
    engines: Arc<dyn Engines>,
}

impl Model {
    /// Prepares `scenario` (builds the cost quantile tables, MODEL.md 3.1), on the in-process
    /// engines.
    pub fn new(scenario: &Scenario) -> Self {
        Self::with_engines(scenario, Arc::new(InProcess))
    }

    /// [`Model::new`] with the benchmark and settlement steps on `engines` (e.g. the services
    /// over gRPC): the same numbers for the same seed.
    pub fn with_engines(scenario: &Scenario, engines: Arc<dyn Engines>) -> Self {
        Self {
            cost: cost::CostModel::new(&scenario.beneficiary),
            scenario: scenario.clone(),
            engines,
        }
    }

    /// The scenario.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// One replicate: a pure function of (scenario, seed, replicate).
    pub fn simulate(&self, seed: u64, replicate: u32) -> Result<Replicate, SimError> {
        aco::simulate(self, seed, replicate)
    }

    /// The claims pass of replicate `replicate` alone (claims mode, MODEL.md 3.5: the claim
    /// lines generated and classified, the assignment churn), as [`Model::simulate`] runs it
    /// whatever the scenario's mode.
    pub fn claims_stats(&self, seed: u64, replicate: u32) -> Result<ClaimsStats, SimError> {
        self.scenario.check()?;
        let pops = population::draw(
            &self.scenario.population,
            &mut stream(seed, replicate, 0, Purpose::Population),
        );
        Ok(claims::pass(self, seed, replicate, &pops)?.stats)
    }

    /// Top 1/5/10/20/50% shares of one year's cost multipliers `X` of `n` beneficiaries drawn
    /// from the stationary latent state with the scenario's mean type mix (the published
    /// concentration curve, mssp-rules 7.2).
    pub fn concentration(&self, seed: u64, n: usize) -> [f64; 5] {
        use rand::RngExt;
        let mut rng = stream(seed, 0, u64::MAX, Purpose::Beneficiaries);
        let mix = self.scenario.population.type_mix;
        let mut x: Vec<f64> = (0..n)
            .map(|_| {
                let u: f64 = rng.random();
                let mut acc = 0.0;
                let mut e = 3;
                for (i, m) in mix.iter().enumerate() {
                    acc += m;
                    if u < acc {
                        e = i;
                        break;
                    }
                }
                let z: f64 = rng.sample(rand_distr::StandardNormal);
                self.cost.table(e).at(z)
            })
            .collect();
        top_shares(&mut x)
    }

    /// Year-to-year persistence of one cohort of `n` beneficiaries followed for three years with
    /// the scenario's latent AR(1) (no churn), the mixture table (mssp-rules 7.3: 28% of the top
    /// decile stay there in years 2 and 3; 2.8% are persistently high, with about 20% of the
    /// three-year spending).
    pub fn persistence(&self, seed: u64, n: usize) -> Persistence {
        use rand::RngExt;
        let mut rng = stream(seed, 0, u64::MAX - 1, Purpose::Beneficiaries);
        let rho = self.scenario.beneficiary.rho;
        let s1 = (1.0 - rho * rho).sqrt();
        let table = self.cost.table(3);
        let mut x = vec![[0.0f64; 3]; n];
        for row in &mut x {
            let mut z: f64 = rng.sample(rand_distr::StandardNormal);
            for v in row.iter_mut() {
                *v = table.at(z);
                let e: f64 = rng.sample(rand_distr::StandardNormal);
                z = rho * z + s1 * e;
            }
        }
        let top = |t: usize| -> Vec<bool> {
            let mut v: Vec<f64> = x.iter().map(|r| r[t]).collect();
            v.sort_by(|a, b| b.total_cmp(a));
            let cut = v.get(n / 10).copied().unwrap_or(f64::INFINITY);
            x.iter().map(|r| r[t] > cut).collect()
        };
        let (t0, t1, t2) = (top(0), top(1), top(2));
        let first = t0.iter().filter(|b| **b).count().max(1) as f64;
        let all: Vec<bool> = (0..n).map(|i| t0[i] && t1[i] && t2[i]).collect();
        let persistent = all.iter().filter(|b| **b).count() as f64;
        let total: f64 = x.iter().map(|r| r.iter().sum::<f64>()).sum();
        let held: f64 = x
            .iter()
            .zip(&all)
            .filter(|(_, p)| **p)
            .map(|(r, _)| r.iter().sum::<f64>())
            .sum();
        let (m0, m1) = (
            x.iter().map(|r| r[0]).sum::<f64>() / n.max(1) as f64,
            x.iter().map(|r| r[1]).sum::<f64>() / n.max(1) as f64,
        );
        let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
        for r in &x {
            sxy += (r[0] - m0) * (r[1] - m1);
            sxx += (r[0] - m0).powi(2);
            syy += (r[1] - m1).powi(2);
        }
        Persistence {
            top_decile_stays: persistent / first,
            persistently_high: persistent / n.max(1) as f64,
            persistently_high_spending: if total > 0.0 { held / total } else { 0.0 },
            correlation: sxy / (sxx * syy).sqrt().max(f64::MIN_POSITIVE),
        }
    }
}

/// Year-to-year persistence of beneficiary spending ([`Model::persistence`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Persistence {
    /// P(top decile in years 2 and 3 | top decile in year 1).
    pub top_decile_stays: f64,
    /// Share of beneficiaries in the top decile all three years.
    pub persistently_high: f64,
    /// Their share of the three years' spending.
    pub persistently_high_spending: f64,
    /// Pearson correlation of year-1 and year-2 spending.
    pub correlation: f64,
}

/// One replicate of `scenario`: a pure function of its arguments (see [`Model::simulate`], which
/// reuses the cost tables across replicates).
pub fn simulate(scenario: &Scenario, seed: u64, replicate: u32) -> Result<Replicate, SimError> {
    Model::new(scenario).simulate(seed, replicate)
}

/// Replicates `replicates` of `scenario` on `threads` threads (at least 1), ordered by replicate
/// index. The result does not depend on `threads` (each replicate has its own streams); on an
/// error, the error of the lowest failing replicate.
pub fn run(
    scenario: &Scenario,
    seed: u64,
    replicates: Range<u32>,
    threads: usize,
) -> Result<Vec<Replicate>, SimError> {
    run_with(scenario, seed, replicates, threads, |_| {})
}

/// [`run`], calling `progress(replicate)` after each replicate finishes (from the worker threads,
/// in completion order: for a progress bar).
pub fn run_with(
    scenario: &Scenario,
    seed: u64,
    replicates: Range<u32>,
    threads: usize,
    progress: impl Fn(u32) + Sync,
) -> Result<Vec<Replicate>, SimError> {
    let model = Model::new(scenario);
    let count = replicates.len();
    let slots: Mutex<Vec<Option<Result<Replicate, SimError>>>> =
        Mutex::new((0..count).map(|_| None).collect());
    let next = AtomicU32::new(replicates.start);
    let threads = threads.clamp(1, count.max(1));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let r = next.fetch_add(1, Ordering::Relaxed);
                    if r >= replicates.end || r < replicates.start {
                        break;
                    }
                    let result = model.simulate(seed, r);
                    let failed = result.is_err();
                    if let Ok(mut s) = slots.lock() {
                        s[(r - replicates.start) as usize] = Some(result);
                    }
                    progress(r);
                    if failed {
                        // Stop handing out work; the lowest failing replicate is reported.
                        next.store(replicates.end, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let slots = slots.into_inner().map_err(|_| SimError::Thread)?;
    if let Some(e) = slots.iter().find_map(|s| match s {
        Some(Err(e)) => Some(e.clone()),
        _ => None,
    }) {
        return Err(e);
    }
    slots
        .into_iter()
        .map(|s| match s {
            Some(Ok(r)) => Ok(r),
            _ => Err(SimError::Thread),
        })
        .collect()
}
