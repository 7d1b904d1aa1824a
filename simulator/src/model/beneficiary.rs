//! The beneficiary layer's hot loop (MODEL.md 3.4): one ACO's pool of beneficiaries followed over
//! the benchmark and performance years, accumulated per enrollment type and step. f64 only, no
//! allocation per beneficiary (the state buffers are reused across ACOs), no function call per
//! beneficiary (every transform is a table read).

use rand::RngExt;
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;

use super::cost::{CostModel, Grid};

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
}

/// Reusable per-slot state ([`Slot`]).
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    slots: Vec<Slot>,
}

/// One pool slot's state across steps.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// The latent state.
    z: f64,
    /// `RT(z)`: the risk table at `z` (read with the cost table at the same point).
    rt: f64,
    /// The person's risk constant `RC(xi)`.
    rc: f64,
}

/// Where one slot's step starts from (before the innovation).
struct Start {
    /// The latent state.
    zp: f64,
    /// `RT(zp)`.
    rtp: f64,
    /// Continuously assigned.
    cont: bool,
}

#[inline(always)]
fn normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    rng.sample(StandardNormal)
}

/// The tables a step's start reads, copied into registers (the loop's stores cannot alias them).
#[derive(Clone, Copy)]
struct Tables<'a> {
    grid: Grid,
    /// `RT`.
    risk: &'a [f64],
    /// `RC`.
    rc: &'a [f64],
}

impl Tables<'_> {
    /// A new person (MODEL.md 3.2): `z_prev ~ N`, then `xi ~ N`; writes its risk constant
    /// `RC(xi)` to `rc`.
    #[inline(always)]
    fn new_person(self, rng: &mut Xoshiro256PlusPlus, rc: &mut f64) -> f64 {
        let zp = normal(rng);
        *rc = self.grid.at(self.rc, normal(rng));
        zp
    }

    /// The start of a step from state `zp`, not the slot's stored one.
    #[inline(always)]
    fn start(self, zp: f64, cont: bool) -> Start {
        Start {
            zp,
            rtp: self.grid.at(self.risk, zp),
            cont,
        }
    }
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
    /// Adds one slot: its cost multiplier `x` (truncated at `c`), its risk score `r` and whether
    /// it is continuously assigned (adding +0 to the continuing sum for an entrant leaves the
    /// sum's bits as they are).
    #[inline(always)]
    fn add(&mut self, x: f64, c: f64, r: f64, cont: bool) {
        self.x += x;
        // `x.min(c)` for an `x` that is never NaN (a table value), in one instruction.
        self.xtr += if c < x { c } else { x };
        self.ncont += u64::from(cont);
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
    let t = Tables {
        grid: d.cost.grid,
        risk: d.cost.risk.values(),
        rc: d.cost.rc.values(),
    };
    for (s, (cells, trunc_s)) in out.iter_mut().zip(trunc).enumerate() {
        let lag = d.lags.get(s).copied().unwrap_or(1).max(1);
        let mut start = 0usize;
        for (e, cell) in cells.iter_mut().enumerate() {
            let n = ntype[e] as usize;
            let slots = &mut buf.slots[start..start + n];
            let c = trunc_s[e];
            let acc = if s == 0 {
                // A new person in every slot.
                run_block(d, e, c, rng, slots, move |rng, sl| {
                    let zp = t.new_person(rng, &mut sl.rc);
                    t.start(zp, false)
                })
            } else if lag == 1 {
                // U(stay), then a new person for an entrant only.
                run_block(d, e, c, rng, slots, move |rng, sl| {
                    if rng.random::<f64>() < stay {
                        Start {
                            zp: sl.z,
                            rtp: sl.rt,
                            cont: true,
                        }
                    } else {
                        let zp = t.new_person(rng, &mut sl.rc);
                        t.start(zp, false)
                    }
                })
            } else {
                // The lag - 1 intermediate years collapsed for the slot (MODEL.md 3.2), then
                // the one-year transition.
                let m = (lag - 1) as i32;
                let (stay_l, rho_l) = (stay.powi(m), rho.powi(m));
                let sd_l = (1.0 - rho.powi(2 * m)).sqrt();
                run_block(d, e, c, rng, slots, move |rng, sl| {
                    let zc = if rng.random::<f64>() < stay_l {
                        rho_l * sl.z + sd_l * normal(rng)
                    } else {
                        t.new_person(rng, &mut sl.rc)
                    };
                    if rng.random::<f64>() < stay {
                        t.start(zc, true)
                    } else {
                        let zp = t.new_person(rng, &mut sl.rc);
                        t.start(zp, false)
                    }
                })
            };
            *cell = acc.cell(n);
            start += n;
        }
    }
}

/// One step of the type block `slots` (enrollment type `e`, truncation point `c`), in one pass:
/// the start of the step (`first`: from the slot's stored state, or a new person), the
/// innovation, both tables at the new state from one grid point (the cost `Q_e(zn)` now,
/// `RT(zn)` for the next step), the risk score `R = RT(zp) RC`, and the sums in slot order.
#[inline(always)]
fn run_block(
    d: &Dynamics<'_>,
    e: usize,
    c: f64,
    rng: &mut Xoshiro256PlusPlus,
    slots: &mut [Slot],
    mut first: impl FnMut(&mut Xoshiro256PlusPlus, &mut Slot) -> Start,
) -> Acc {
    let cm = d.cost;
    let grid = cm.grid;
    let pairs = cm.pairs(e);
    let rho = d.rho;
    let s1 = (1.0 - rho * rho).sqrt();
    let mut acc = Acc::default();
    for sl in slots {
        let st = first(rng, sl);
        let zn = rho * st.zp + s1 * normal(rng);
        sl.z = zn;
        let [x, rt] = grid.lerp2(pairs, grid.point(zn));
        sl.rt = rt;
        acc.add(x, c, st.rtp * sl.rc, st.cont);
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
    /// `MODEL_VERSION` (its value when the digest was pinned: 1.2.0) and pin the new one.
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
        assert_eq!(h, 0x2cf7_e30c_b00a_f5dc, "digest {h:#018x}");
    }
}
