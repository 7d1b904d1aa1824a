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

/// Reusable per-slot state ([`Slot`]) and the scratch of one chunk of slots.
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    slots: Vec<Slot>,
    chunk: Chunk,
}

/// One pool slot: its state across steps, and the scratch of the step's passes.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// The latent state.
    z: f64,
    /// `RT(z)`: the risk table at `z` (read with the cost table at the same point).
    rt: f64,
    /// The risk constant `RC` (during the first pass of a step, a new person's `xi` draw).
    rc: f64,
    /// `RT(zp)`: the risk table at the step's starting state.
    rtp: f64,
    /// Continuously assigned in this step.
    cont: bool,
}

/// Slots per chunk: the passes of [`run_block`] go over one chunk at a time, so that it stays in
/// the L1 cache between them.
const CHUNK: usize = 512;

/// The scratch of one chunk: the slots (chunk offsets) whose person is new this step, whose risk
/// constant `RC(xi)` is computed in the second pass.
#[derive(Debug)]
struct Chunk {
    new: [u16; CHUNK],
}

impl Default for Chunk {
    fn default() -> Self {
        Self { new: [0; CHUNK] }
    }
}

/// What one slot draws at the start of a step (before the innovation).
struct Start {
    /// The latent state the step starts from.
    zp: f64,
    /// `RT(zp)`, when it is the slot's stored `rt` (the same person, the same state).
    rt: Option<f64>,
    /// The `xi` draw of a new person (the last one, when the slot drew two).
    xi: Option<f64>,
    /// Continuously assigned.
    cont: bool,
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
    /// Adds one slot's cost multiplier `x` (truncated at `c`) and whether it is continuously
    /// assigned.
    #[inline(always)]
    fn add_x(&mut self, x: f64, c: f64, cont: bool) {
        self.x += x;
        // `x.min(c)` for an `x` that is never NaN (a table value), in one instruction.
        self.xtr += if c < x { c } else { x };
        self.ncont += u64::from(cont);
    }

    /// Adds one slot's risk score `r` (adding +0 for an entrant leaves the sum's bits as they
    /// are).
    #[inline(always)]
    fn add_r(&mut self, r: f64, cont: bool) {
        self.r += r;
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
/// The random draws per slot and step are those of MODEL.md 3.4, in its order; the sums are
/// taken slot by slot in the same order. Each step kind (the first step, a one-year step, a step
/// of several years) has its own start-of-step draw, so that the common one-year step carries no
/// per-slot test of the step kind.
pub(crate) fn run_aco(
    d: &Dynamics<'_>,
    ntype: [u64; 4],
    trunc: &[[f64; 4]],
    rng: &mut Xoshiro256PlusPlus,
    buf: &mut Buffers,
    out: &mut [[Cell; 4]],
) {
    let total: usize = ntype.iter().map(|&n| n as usize).sum();
    buf.slots.clear();
    buf.slots.resize(total, Slot::default());
    let (rho, stay) = (d.rho, d.stay);
    for (s, (cells, trunc_s)) in out.iter_mut().zip(trunc).enumerate() {
        let lag = d.lags.get(s).copied().unwrap_or(1).max(1);
        let mut start = 0usize;
        for (e, cell) in cells.iter_mut().enumerate() {
            let n = ntype[e] as usize;
            let slots = start..start + n;
            let c = trunc_s[e];
            let acc = if s == 0 {
                // A new person in every slot: N(z_prev), N(xi).
                run_block(d, e, c, rng, buf, slots, |rng, _| Start {
                    zp: normal(rng),
                    rt: None,
                    xi: Some(normal(rng)),
                    cont: false,
                })
            } else if lag == 1 {
                // U(stay), then N(z_prev), N(xi) for an entrant only.
                run_block(d, e, c, rng, buf, slots, |rng, (z, rt)| {
                    if rng.random::<f64>() < stay {
                        Start {
                            zp: z,
                            rt: Some(rt),
                            xi: None,
                            cont: true,
                        }
                    } else {
                        Start {
                            zp: normal(rng),
                            rt: None,
                            xi: Some(normal(rng)),
                            cont: false,
                        }
                    }
                })
            } else {
                // The lag - 1 intermediate years collapsed for the slot (MODEL.md 3.2), then
                // the one-year transition.
                let m = (lag - 1) as i32;
                let (stay_l, rho_l) = (stay.powi(m), rho.powi(m));
                let sd_l = (1.0 - rho.powi(2 * m)).sqrt();
                run_block(d, e, c, rng, buf, slots, |rng, (z, _)| {
                    let (mut zc, mut xi) = (z, None);
                    if rng.random::<f64>() < stay_l {
                        zc = rho_l * zc + sd_l * normal(rng);
                    } else {
                        zc = normal(rng);
                        xi = Some(normal(rng));
                    }
                    if rng.random::<f64>() < stay {
                        Start {
                            zp: zc,
                            rt: None,
                            xi,
                            cont: true,
                        }
                    } else {
                        Start {
                            zp: normal(rng),
                            rt: None,
                            xi: Some(normal(rng)),
                            cont: false,
                        }
                    }
                })
            };
            *cell = acc.cell(n);
            start += n;
        }
    }
}

/// One step of the type block `slots` (enrollment type `e`, truncation point `c`), chunk by
/// chunk in three passes:
/// 1. the draws, in MODEL.md 3.4's order (`first` gives the start of the step from the slot's
///    `(z, rt)`, then the innovation); `RT(zp)` where the start is a new state; both tables at
///    the new state from one grid point (the cost `Q_e(zn)` now, `RT(zn)` for the next step);
///    the sums of `X`, `min(X, c)` and the continuing count;
/// 2. `RC(xi) = exp(noise xi - half)` of the new persons: the one function call, kept out of
///    the first pass so that its values stay in registers;
/// 3. the risk scores `R = RT(zp) RC` and their sums.
///
/// Every sum is taken slot by slot in slot order, as in one pass: the same bits.
#[inline(always)]
fn run_block(
    d: &Dynamics<'_>,
    e: usize,
    c: f64,
    rng: &mut Xoshiro256PlusPlus,
    buf: &mut Buffers,
    slots: std::ops::Range<usize>,
    mut first: impl FnMut(&mut Xoshiro256PlusPlus, (f64, f64)) -> Start,
) -> Acc {
    let cm = d.cost;
    // Copies in registers: the loop's stores to `buf` cannot alias them.
    let grid = cm.grid;
    let risk = cm.risk.values();
    let pairs = cm.pairs(e);
    let rho = d.rho;
    let s1 = (1.0 - rho * rho).sqrt();
    let (noise, half) = (d.risk_noise, d.risk_half);
    let mut acc = Acc::default();
    let new = &mut buf.chunk.new;
    for chunk in buf.slots[slots].chunks_mut(CHUNK) {
        let mut fresh = 0usize;
        for (j, sl) in chunk.iter_mut().enumerate() {
            let st = first(rng, (sl.z, sl.rt));
            if let Some(xi) = st.xi {
                if let Some(v) = new.get_mut(fresh) {
                    *v = j as u16;
                }
                fresh += 1;
                sl.rc = xi;
            }
            sl.rtp = st.rt.unwrap_or_else(|| grid.at(risk, st.zp));
            sl.cont = st.cont;
            let zn = rho * st.zp + s1 * normal(rng);
            sl.z = zn;
            let [x, rt] = grid.lerp2(pairs, grid.point(zn));
            sl.rt = rt;
            acc.add_x(x, c, st.cont);
        }
        for &j in &new[..fresh.min(CHUNK)] {
            if let Some(sl) = chunk.get_mut(usize::from(j)) {
                sl.rc = (noise * sl.rc - half).exp();
            }
        }
        for sl in chunk.iter() {
            acc.add_r(sl.rtp * sl.rc, sl.cont);
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::{Buffers, Cell, Dynamics, run_aco};
    use crate::model::cost::CostModel;
    use crate::model::{Purpose, stream};
    use crate::scenario::Beneficiary;

    /// The hot loop's sums, bit for bit, for a fixed pool (blocks above and below the chunk size)
    /// over the three step kinds (the first step, one-year steps, a three-year step): FNV-1a over
    /// every cell's fields. A change of this digest moves simulated numbers: bump
    /// `MODEL_VERSION` (its value when the digest was pinned: 1.1.0) and pin the new one.
    #[test]
    fn sums_are_pinned_bit_for_bit() {
        let b = Beneficiary::default();
        let cost = CostModel::new(&b);
        let lags = [1, 1, 1, 3, 1];
        let d = Dynamics {
            cost: &cost,
            lags: &lags,
            rho: b.rho,
            stay: (1.0 - b.death_rate) * (1.0 - b.leave_rate),
            risk_noise: b.risk_kappa * (1.0 - b.risk_alpha * b.risk_alpha).sqrt(),
            risk_half: b.risk_kappa * b.risk_kappa / 2.0,
        };
        let trunc: Vec<[f64; 4]> = (0..lags.len())
            .map(|s| std::array::from_fn(|e| cost.q99[e] * (0.9 + 0.05 * (s + e) as f64)))
            .collect();
        let mut buf = Buffers::default();
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        // Two ACOs on the one set of buffers (reused, as across an ACO loop).
        for (aco, ntype) in [(0u64, [37u64, 1500, 700, 2600]), (1, [0, 3, 511, 1025])] {
            let mut out = [[Cell::default(); 4]; 5];
            let mut rng = stream(11, 2, aco, Purpose::Beneficiaries);
            run_aco(&d, ntype, &trunc, &mut rng, &mut buf, &mut out);
            for c in out.iter().flatten() {
                for v in [c.n, c.x.to_bits(), c.xtr.to_bits(), c.r.to_bits()]
                    .into_iter()
                    .chain([c.ncont.to_bits(), c.rcont.to_bits()])
                {
                    for byte in v.to_le_bytes() {
                        h = (h ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
                    }
                }
            }
        }
        assert_eq!(h, 0x5ce1_1d85_767f_76e6, "digest {h:#018x}");
    }
}
