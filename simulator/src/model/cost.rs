//! The beneficiary cost multiplier `X` and the risk-index table (MODEL.md section 3.1-3.2): the
//! quantile function `Q_e(z) = F_e^-1(Phi(z))` of the zero-inflated lognormal mixture (aged and
//! disabled) or zero-inflated lognormal (ESRD), tabulated on a grid of the latent N(0,1) state and
//! normalised so that the interpolated table has mean exactly 1 under N(0,1).

use crate::scenario::Beneficiary;

/// Standard normal CDF.
pub(crate) fn phi_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// Standard normal density.
pub(crate) fn phi_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Inverse of `f` (increasing) at `target` by bisection on `[lo, hi]` (table build only).
fn bisect(f: impl Fn(f64) -> f64, target: f64, mut lo: f64, mut hi: f64, iterations: u32) -> f64 {
    for _ in 0..iterations {
        let m = 0.5 * (lo + hi);
        if f(m) < target {
            lo = m;
        } else {
            hi = m;
        }
    }
    0.5 * (lo + hi)
}

/// Standard normal quantile (bisection; table build only).
pub(crate) fn phi_inv(u: f64) -> f64 {
    bisect(phi_cdf, u, -40.0, 40.0, 200)
}

/// The grid `z_k = zmin + k dz`, `k = 0..=last`, shared by every table of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Grid {
    zmin: f64,
    inv_dz: f64,
    last: f64,
}

impl Grid {
    /// Linear interpolation of `values` (tabulated on this grid, with one padding element
    /// repeating the last value) at `z`, clamped to the grid's end values (a NaN `z` reads the
    /// first one).
    ///
    /// Written for the hot loop, which copies the grid into registers (`Grid` is `Copy`: the
    /// loop's stores cannot alias it): the clamp as two comparisons (one `maxsd`, one `minsd`,
    /// where `f64::clamp` also checks its bounds), the grid index through `i32` (the grid has
    /// at most 1,000,000 points, scenario validation: the conversions to and from `i32` are one
    /// instruction each, those of `usize` several), both values with one bounds check.
    #[inline(always)]
    pub(crate) fn at(self, values: &[f64], z: f64) -> f64 {
        self.lerp(values, self.point(z))
    }

    /// Where `z` falls on the grid: the index `j` of the grid point below it and the fraction
    /// `t` of the step to the next one (clamped as in [`Grid::at`]). Shared by every table read
    /// at the same `z` ([`Grid::lerp`]): the same bits as [`Grid::at`] for each.
    #[inline(always)]
    pub(crate) fn point(self, z: f64) -> Point {
        let f = (z - self.zmin) * self.inv_dz;
        let f = if f > 0.0 { f } else { 0.0 };
        let f = if f < self.last { f } else { self.last };
        // 0 <= f <= last: the conversion truncates, i.e. j = floor(f), exactly.
        let j = f as i32;
        Point {
            // Through `u32` (j >= 0): `k + 2` cannot overflow, which spares the check.
            k: j as u32 as usize,
            t: f - f64::from(j),
        }
    }

    /// Linear interpolation of `values` at a [`Grid::point`].
    #[inline(always)]
    pub(crate) fn lerp(self, values: &[f64], p: Point) -> f64 {
        match values.get(p.k..p.k + 2) {
            Some(&[v0, v1]) => v0 + (v1 - v0) * p.t,
            _ => 0.0,
        }
    }

    /// [`Grid::lerp`] of both columns of `pairs` (a table and the risk table, interleaved: one
    /// bounds check, one cache line): the same bits as two [`Grid::lerp`]s.
    #[inline(always)]
    pub(crate) fn lerp2(self, pairs: &[[f64; 2]], p: Point) -> [f64; 2] {
        match pairs.get(p.k..p.k + 2) {
            Some(&[a, b]) => [a[0] + (b[0] - a[0]) * p.t, a[1] + (b[1] - a[1]) * p.t],
            _ => [0.0, 0.0],
        }
    }
}

/// A position on the [`Grid`]: grid index and fraction of the step.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Point {
    k: usize,
    t: f64,
}

/// One tabulated function of the latent state on the run's [`Grid`].
#[derive(Debug, Clone)]
pub(crate) struct Table {
    values: Vec<f64>,
    grid: Grid,
}

impl Table {
    fn new(mut values: Vec<f64>, zmin: f64, zmax: f64) -> Self {
        let last = (values.len() - 1) as f64;
        // One padding element repeating the last value: `at` reads `values[j + 1]` for every
        // `j <= last`.
        let end = values.last().copied().unwrap_or(0.0);
        values.push(end);
        Self {
            values,
            grid: Grid {
                zmin,
                inv_dz: last / (zmax - zmin),
                last,
            },
        }
    }

    /// Linear interpolation, clamped to the grid's end values ([`Grid::at`]).
    #[inline]
    pub(crate) fn at(&self, z: f64) -> f64 {
        self.grid.at(&self.values, z)
    }

    /// The tabulated values (for [`Grid::at`]).
    #[inline]
    pub(crate) fn values(&self) -> &[f64] {
        &self.values
    }
}

/// The cost model of one run: tables by enrollment type (ESRD, and one shared by DIS, AGDU,
/// AGND), their national 99th percentiles and truncated means, and the risk-index table.
#[derive(Debug, Clone)]
pub(crate) struct CostModel {
    /// Quantile tables: 0 = ESRD, 1 = the mixture (DIS, AGDU, AGND).
    tables: [Table; 2],
    /// `q99_e`, by enrollment type.
    pub(crate) q99: [f64; 4],
    /// `tau_e = E[min(X_e, q99_e)]`, by enrollment type.
    pub(crate) tau: [f64; 4],
    /// `RT(z) = exp(kappa alpha z)`.
    pub(crate) risk: Table,
    /// `RC(xi) = exp(kappa sqrt(1 - alpha^2) xi - kappa^2 / 2)`: a new person's risk constant.
    pub(crate) rc: Table,
    /// The grid of every table above.
    pub(crate) grid: Grid,
    /// The quantile tables (0 = ESRD, 1 = the mixture), each interleaved with the risk table
    /// (for [`Grid::lerp2`]).
    pairs: [Vec<[f64; 2]>; 2],
}

impl CostModel {
    /// Builds the tables (MODEL.md 3.1): `points` grid points on `[-clamp, clamp]`.
    pub(crate) fn new(b: &Beneficiary) -> Self {
        let k = b.table_points.max(3) as usize;
        let (zmin, zmax) = (-b.z_clamp, b.z_clamp);
        let dz = (zmax - zmin) / (k - 1) as f64;
        let z: Vec<f64> = (0..k).map(|i| zmin + dz * i as f64).collect();
        let pdf: Vec<f64> = z.iter().map(|&z| phi_pdf(z)).collect();
        let trapezoid = |f: &dyn Fn(usize) -> f64| -> f64 {
            (1..k).map(|i| 0.5 * (f(i) + f(i - 1)) * dz).sum()
        };
        let normalise = |q: Vec<f64>| -> Vec<f64> {
            let mean = trapezoid(&|i| q[i] * pdf[i]);
            q.into_iter().map(|x| x / mean).collect()
        };
        // Mixture (mssp-rules 7.2 fit): zero w.p. p0, else weight 1-w: N(mu0, sd0^2), w: N(mu1, sd1^2) on ln X.
        let w = [1.0 - b.mix_w_high, b.mix_w_high];
        let mixture_cdf = |lx: f64| -> f64 {
            (0..2)
                .map(|c| w[c] * phi_cdf((lx - b.mix_mu[c]) / b.mix_sd[c]))
                .sum()
        };
        // Zero with probability `p_zero`, else `positive` of the quantile within the rest.
        let zero_inflated = |p_zero: f64, positive: &dyn Fn(f64) -> f64| -> Vec<f64> {
            z.iter()
                .map(|&z| {
                    let u = phi_cdf(z);
                    if u <= p_zero {
                        0.0
                    } else {
                        positive((u - p_zero) / (1.0 - p_zero))
                    }
                })
                .collect()
        };
        let mix = zero_inflated(b.p_zero, &|v| bisect(mixture_cdf, v, -30.0, 30.0, 90).exp());
        let esrd = zero_inflated(b.esrd_p_zero, &|v| (b.esrd_sigma * phi_inv(v)).exp());
        let tables = [
            Table::new(normalise(esrd), zmin, zmax),
            Table::new(normalise(mix), zmin, zmax),
        ];
        let z99 = phi_inv(b.trunc_pct);
        let q99_of = |t: &Table| t.at(z99);
        let tau_of = |t: &Table, c: f64| trapezoid(&|i| t.values[i].min(c) * pdf[i]);
        let q99e = q99_of(&tables[0]);
        let q99m = q99_of(&tables[1]);
        let taue = tau_of(&tables[0], q99e);
        let taum = tau_of(&tables[1], q99m);
        let ka = b.risk_kappa * b.risk_alpha;
        let risk = Table::new(z.iter().map(|&z| (ka * z).exp()).collect(), zmin, zmax);
        let noise = b.risk_kappa * (1.0 - b.risk_alpha * b.risk_alpha).sqrt();
        let half = b.risk_kappa * b.risk_kappa / 2.0;
        let rc = Table::new(
            z.iter().map(|&xi| (noise * xi - half).exp()).collect(),
            zmin,
            zmax,
        );
        let grid = risk.grid;
        debug_assert!(tables.iter().all(|t| t.grid == grid));
        let pairs = std::array::from_fn(|i| {
            tables[i]
                .values
                .iter()
                .zip(&risk.values)
                .map(|(&q, &r)| [q, r])
                .collect()
        });
        Self {
            pairs,
            tables,
            grid,
            q99: [q99e, q99m, q99m, q99m],
            tau: [taue, taum, taum, taum],
            risk,
            rc,
        }
    }

    /// The quantile table of enrollment type `e` (0 = ESRD).
    #[inline]
    pub(crate) fn table(&self, e: usize) -> &Table {
        &self.tables[usize::from(e != 0)]
    }

    /// The quantile table of enrollment type `e` interleaved with the risk table.
    #[inline]
    pub(crate) fn pairs(&self, e: usize) -> &[[f64; 2]] {
        &self.pairs[usize::from(e != 0)]
    }
}

/// Shares of the total held by the top 1, 5, 10, 20 and 50% of `x` (the published concentration
/// curve's points, mssp-rules 7.2).
pub fn top_shares(x: &mut [f64]) -> [f64; 5] {
    x.sort_by(|a, b| b.total_cmp(a));
    let total: f64 = x.iter().sum();
    let mut out = [0.0; 5];
    for (o, f) in out.iter_mut().zip([0.01, 0.05, 0.10, 0.20, 0.50]) {
        let n = ((f * x.len() as f64) as usize).max(1).min(x.len());
        *o = x[..n].iter().sum::<f64>() / total;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::CostModel;
    use crate::scenario::Beneficiary;

    /// The risk constant's table against its formula (MODEL.md 3.2), between grid points across
    /// the range a normal draw takes: kappa 0.65, alpha 0.60 give `RC(xi) = exp(0.52 xi -
    /// 0.21125)`, `RC(0) = 0.809572`, `RC(1) = 1.361722`; linear interpolation on the 8,193-point
    /// grid is within 1e-7 of it (relative), and the clamp holds it at the grid's end.
    #[test]
    fn the_risk_constant_table_is_its_formula() {
        let b = Beneficiary::default();
        let cm = CostModel::new(&b);
        let (r0, r1) = (cm.rc.at(0.0), cm.rc.at(1.0));
        assert!((r0 - 0.809_572).abs() < 1e-6, "{r0}");
        assert!((r1 - 1.361_722).abs() < 1e-6, "{r1}");
        let (noise, half) = (0.65 * (1.0f64 - 0.36).sqrt(), 0.65 * 0.65 / 2.0);
        for i in 0..=10_000 {
            let xi = -5.5 + 11.0 * f64::from(i) / 10_000.0 + 1e-4;
            let exact = (noise * xi - half).exp();
            let rel = cm.rc.at(xi) / exact - 1.0;
            assert!(rel.abs() < 1e-7, "xi {xi}: {rel:e}");
        }
        assert_eq!(cm.rc.at(7.0), cm.rc.at(6.0));
        assert_eq!(cm.rc.at(-9.0), cm.rc.at(-6.0));
    }
}
