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

/// The sums of one type block in one step.
#[derive(Default)]
struct Acc {
    x: f64,
    xtr: f64,
    r: f64,
    ncont: u64,
    rcont: f64,
}

impl Acc {
    /// Adds one slot: cost multiplier `x` (truncated at `c`), risk score `r`, continuously
    /// assigned or not (adding +0 for an entrant leaves the sum's bits as they are).
    #[inline(always)]
    fn add(&mut self, x: f64, c: f64, r: f64, cont: bool) {
        self.x += x;
        self.xtr += x.min(c);
        self.r += r;
        self.ncont += u64::from(cont);
        self.rcont += if cont { r } else { 0.0 };
    }

    fn cell(self, n: usize) -> Cell {
        Cell {
            n: n as u64,
            x: self.x,
            xtr: self.xtr,
            r: self.r,
            // A count below 2^53: exact, as the sum of ones it replaces.
            ncont: self.ncont as f64,
            rcont: self.rcont,
        }
    }
}

/// Runs one ACO: `ntype` pool slots by type, truncation points `trunc[s][e]` in X units.
/// Writes `out[s][e]`.
///
/// The random draws per slot and step are those of MODEL.md 3.4, in its order. The loop is
/// written three times (the first step, a one-year step, a step of several years) so that the
/// common one-year step carries no per-slot test of the step kind; the sums are taken slot by
/// slot in the same order in each.
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
    // Copies in registers: the loop's stores to `buf` cannot alias them.
    let grid = cm.grid;
    let risk = cm.risk.values();
    let (rho, stay) = (d.rho, d.stay);
    let s1 = (1.0 - rho * rho).sqrt();
    let (noise, half) = (d.risk_noise, d.risk_half);
    let rcf = move |xi: f64| (noise * xi - half).exp();
    for (s, (cells, trunc_s)) in out.iter_mut().zip(trunc).enumerate() {
        let lag = d.lags.get(s).copied().unwrap_or(1).max(1);
        let mut start = 0usize;
        for (e, cell) in cells.iter_mut().enumerate() {
            let n = ntype[e] as usize;
            let q = cm.table(e).values();
            let c = trunc_s[e];
            let mut acc = Acc::default();
            let z = &mut buf.z[start..start + n];
            let rc = &mut buf.rc[start..start + n];
            let slots = z.iter_mut().zip(rc.iter_mut());
            if s == 0 {
                // A new person in every slot: N(z_prev), N(xi), N(innovation).
                for (zb, rcb) in slots {
                    let zp = normal(rng);
                    let rcv = rcf(normal(rng));
                    *rcb = rcv;
                    let r = grid.at(risk, zp) * rcv;
                    let zn = rho * zp + s1 * normal(rng);
                    *zb = zn;
                    acc.add(grid.at(q, zn), c, r, false);
                }
            } else if lag == 1 {
                // U(stay), then N(z_prev), N(xi) for an entrant only, then N(innovation).
                for (zb, rcb) in slots {
                    let (zp, rcv, cont) = if rng.random::<f64>() < stay {
                        (*zb, *rcb, true)
                    } else {
                        let zp = normal(rng);
                        let rcv = rcf(normal(rng));
                        *rcb = rcv;
                        (zp, rcv, false)
                    };
                    let r = grid.at(risk, zp) * rcv;
                    let zn = rho * zp + s1 * normal(rng);
                    *zb = zn;
                    acc.add(grid.at(q, zn), c, r, cont);
                }
            } else {
                // The lag - 1 intermediate years collapsed for the slot (MODEL.md 3.2), then
                // the one-year transition.
                let m = (lag - 1) as i32;
                let (stay_l, rho_l) = (stay.powi(m), rho.powi(m));
                let sd_l = (1.0 - rho.powi(2 * m)).sqrt();
                for (zb, rcb) in slots {
                    let mut zc = *zb;
                    if rng.random::<f64>() < stay_l {
                        zc = rho_l * zc + sd_l * normal(rng);
                    } else {
                        zc = normal(rng);
                        *rcb = rcf(normal(rng));
                    }
                    let (zp, cont) = if rng.random::<f64>() < stay {
                        (zc, true)
                    } else {
                        let zp = normal(rng);
                        *rcb = rcf(normal(rng));
                        (zp, false)
                    };
                    let r = grid.at(risk, zp) * *rcb;
                    let zn = rho * zp + s1 * normal(rng);
                    *zb = zn;
                    acc.add(grid.at(q, zn), c, r, cont);
                }
            }
            *cell = acc.cell(n);
            start += n;
        }
    }
}
