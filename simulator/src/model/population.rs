//! Synthetic populations (MODEL.md 7.2): ACO sizes, enrollment-type mix and persistent level,
//! drawn from the replicate's population stream.

use rand::RngExt;
use rand_distr::{Distribution, Gamma, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::scenario::Population;

/// One ACO of a replicate's population.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct AcoPop {
    /// Assigned beneficiaries (pool size).
    pub(crate) n: u64,
    /// Pool slots by enrollment type.
    pub(crate) ntype: [u64; 4],
    /// Persistent level `L_i`.
    pub(crate) level: f64,
}

/// Draws the population: sizes lognormal(median, sigma) redrawn below the floor, optionally the
/// part above the floor rescaled to the total; mix Dirichlet(concentration x mean) split by
/// largest remainder; level `exp(sigma e - sigma^2/2)`.
/// A listed population (MODEL.md 7.2, replay) is taken as it is: sizes, mix (split by largest
/// remainder) and observed levels from the list; nothing is drawn.
pub(crate) fn draw(p: &Population, rng: &mut Xoshiro256PlusPlus) -> Vec<AcoPop> {
    if !p.aco.is_empty() {
        return p
            .aco
            .iter()
            .map(|a| {
                let sum: f64 = a.mix.iter().sum();
                AcoPop {
                    n: a.n,
                    ntype: split(a.n, &a.mix.map(|m| m / sum)),
                    level: a.level,
                }
            })
            .collect();
    }
    let k = p.acos as usize;
    let floor = p.size_floor as f64;
    let mut sizes = Vec::with_capacity(k);
    // Rejection below the floor; the median is validated positive. Bounded: a floor far above
    // the median would loop for long, so after many tries the floor itself is used.
    let mut tries = 0u64;
    while sizes.len() < k {
        let z: f64 = rng.sample(StandardNormal);
        let x = p.size_median * (p.size_sigma * z).exp();
        tries += 1;
        if x >= floor {
            sizes.push(x);
        } else if tries > 1000 * k as u64 {
            sizes.push(floor);
        }
    }
    if let Some(total) = p.total_assigned {
        let excess: f64 = sizes.iter().map(|x| x - floor).sum();
        let target = total as f64 - floor * k as f64;
        if excess > 0.0 {
            for x in &mut sizes {
                *x = floor + (*x - floor) * target / excess;
            }
        }
    }
    let mut out = Vec::with_capacity(k);
    for x in sizes {
        let n = x.round().max(1.0) as u64;
        let mut shares = [0.0; 4];
        for (s, m) in shares.iter_mut().zip(p.type_mix) {
            let alpha = m * p.type_mix_concentration;
            *s = if alpha > 0.0 {
                Gamma::new(alpha, 1.0).map_or(0.0, |g| g.sample(rng))
            } else {
                0.0
            };
        }
        let sum: f64 = shares.iter().sum();
        if sum > 0.0 {
            shares.iter_mut().for_each(|s| *s /= sum);
        } else {
            shares = p.type_mix;
        }
        let ntype = split(n, &shares);
        let e: f64 = rng.sample(StandardNormal);
        let level = (p.level_sigma * e - p.level_sigma * p.level_sigma / 2.0).exp();
        out.push(AcoPop { n, ntype, level });
    }
    out
}

/// `n` split by `shares` (sum 1): floors, then the remainder to the largest fractional parts.
pub(crate) fn split(n: u64, shares: &[f64; 4]) -> [u64; 4] {
    let raw = shares.map(|s| s * n as f64);
    let mut out = raw.map(|r| r.floor() as u64);
    let mut rem = n.saturating_sub(out.iter().sum());
    let mut order = [0usize, 1, 2, 3];
    order.sort_by(|&a, &b| (raw[b] - raw[b].floor()).total_cmp(&(raw[a] - raw[a].floor())));
    for &i in order.iter().cycle() {
        if rem == 0 {
            break;
        }
        out[i] += 1;
        rem -= 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn largest_remainder_keeps_the_total() {
        assert_eq!(split(10, &[0.25, 0.25, 0.25, 0.25]), [3, 3, 2, 2]);
        assert_eq!(split(1000, &[0.01, 0.12, 0.07, 0.80]), [10, 120, 70, 800]);
        assert_eq!(split(7, &[0.0, 0.0, 0.0, 1.0]), [0, 0, 0, 7]);
    }
}
