//! The beneficiary layer's hot loop (MODEL.md 3.4): one ACO's pool of beneficiaries followed over
//! the benchmark and performance years, accumulated per enrollment type and step. f64 only, no
//! allocation per beneficiary (the state buffers are reused across ACOs).

use rand::RngExt;
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;

use super::cost::CostModel;

/// Sums of one enrollment type in one step.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Cell {
    /// Pool slots (beneficiaries).
    pub(crate) n: u64,
    /// Sum of the cost multiplier X (untruncated).
    pub(crate) x: f64,
    /// Sum of min(X, c): truncated at the step's point `c`.
    pub(crate) xtr: f64,
    /// Sum of risk scores.
    pub(crate) r: f64,
    /// Continuously assigned slots.
    pub(crate) ncont: f64,
    /// Sum of the continuously assigned slots' risk scores.
    pub(crate) rcont: f64,
}

/// The beneficiary-layer constants of a run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dynamics<'a> {
    /// The cost and risk tables.
    pub(crate) cost: &'a CostModel,
    /// Years from step s-1 to step s (`lags[0]` unused).
    pub(crate) lags: &'a [u32],
    pub(crate) rho: f64,
    /// P(same person, still assigned) per year.
    pub(crate) stay: f64,
    /// kappa sqrt(1 - alpha^2): weight of the persistent coding noise.
    pub(crate) risk_noise: f64,
    /// kappa^2 / 2.
    pub(crate) risk_half: f64,
}

/// Reusable per-slot state (z, and the risk constant `rc`).
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    z: Vec<f64>,
    rc: Vec<f64>,
}

#[inline(always)]
fn normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    rng.sample(StandardNormal)
}

/// Runs one ACO: `ntype` pool slots by type, truncation points `trunc[s][e]` in X units.
/// Writes `out[s][e]`.
pub(crate) fn run_aco(
    d: &Dynamics<'_>,
    ntype: [u64; 4],
    trunc: &[[f64; 4]],
    rng: &mut Xoshiro256PlusPlus,
    buf: &mut Buffers,
    out: &mut [[Cell; 4]],
) {
    let total: usize = ntype.iter().map(|&n| n as usize).sum();
    buf.z.clear();
    buf.z.resize(total, 0.0);
    buf.rc.clear();
    buf.rc.resize(total, 0.0);
    let cm = d.cost;
    let s1 = (1.0 - d.rho * d.rho).sqrt();
    let rcf = |xi: f64| (d.risk_noise * xi - d.risk_half).exp();
    for (s, (cells, trunc_s)) in out.iter_mut().zip(trunc).enumerate() {
        let lag = d.lags.get(s).copied().unwrap_or(1).max(1);
        let (stay_l, rho_l, sd_l) = if lag > 1 {
            let m = (lag - 1) as i32;
            (
                d.stay.powi(m),
                d.rho.powi(m),
                (1.0 - d.rho.powi(2 * m)).sqrt(),
            )
        } else {
            (1.0, 1.0, 0.0)
        };
        let mut start = 0usize;
        for (e, cell) in cells.iter_mut().enumerate() {
            let n = ntype[e] as usize;
            let q = cm.table(e);
            let c = trunc_s[e];
            let (mut ax, mut axtr, mut ar, mut anc, mut arc) = (0.0, 0.0, 0.0, 0.0, 0.0);
            let z = &mut buf.z[start..start + n];
            let rc = &mut buf.rc[start..start + n];
            for (zb, rcb) in z.iter_mut().zip(rc.iter_mut()) {
                let zp;
                let cont;
                if s == 0 {
                    zp = normal(rng);
                    *rcb = rcf(normal(rng));
                    cont = false;
                } else {
                    let mut zc = *zb;
                    if lag > 1 {
                        if rng.random::<f64>() < stay_l {
                            zc = rho_l * zc + sd_l * normal(rng);
                        } else {
                            zc = normal(rng);
                            *rcb = rcf(normal(rng));
                        }
                    }
                    if rng.random::<f64>() < d.stay {
                        zp = zc;
                        cont = true;
                    } else {
                        zp = normal(rng);
                        *rcb = rcf(normal(rng));
                        cont = false;
                    }
                }
                let r = cm.risk.at(zp) * *rcb;
                let zn = d.rho * zp + s1 * normal(rng);
                *zb = zn;
                let x = q.at(zn);
                ax += x;
                axtr += x.min(c);
                ar += r;
                if cont {
                    anc += 1.0;
                    arc += r;
                }
            }
            *cell = Cell {
                n: n as u64,
                x: ax,
                xtr: axtr,
                r: ar,
                ncont: anc,
                rcont: arc,
            };
            start += n;
        }
    }
}
