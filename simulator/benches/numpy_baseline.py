"""Vectorised NumPy doing the aggregate hot loop's per-beneficiary work (MODEL.md 3.4), for scale.

One Pioneer-sized replicate (32 ACOs, 669,000 beneficiary slots, 5 steps): per slot and step a
stay/enter uniform, fresh latent state and coding noise for entrants (the zero draw and the
lognormal mixture enter through the quantile table, as in the Rust model), the prospective risk
score from the risk table, the AR(1) innovation, the cost multiplier from the quantile table,
truncation at the step's point, and sums per ACO x enrollment type (X, min(X, c), R, continuing
count and R). The quantile and risk tables are built as in `cost.rs` (same grid, same mixture),
outside the timing.

    pip install numpy
    python3 simulator/benches/numpy_baseline.py [--repeats 7]

Prints beneficiary-years per second (min and median over the repeats).
"""

import argparse
import math
import statistics
import time

import numpy as np

K = 8193
ZC = 6.0
P0 = 0.08
MIX_W = (0.839, 0.161)
MIX_MU = (0.0, 2.741)
MIX_SD = (1.314, 0.749)
ESRD_P0 = 0.005
ESRD_SIGMA = 0.85
RHO = 0.74
KAPPA, ALPHA = 0.65, 0.60
STAY = (1 - 0.045) * (1 - 0.1204)
ACOS = 32
SLOTS = 669_000
STEPS = 5
TYPE_MIX = (0.010, 0.120, 0.070, 0.800)

_erfc = np.frompyfunc(math.erfc, 1, 1)


def phi(x):
    return 0.5 * _erfc(-np.asarray(x, dtype=float) / math.sqrt(2)).astype(float)


def bisect(f, target, lo, hi, iterations):
    lo = np.full_like(target, lo)
    hi = np.full_like(target, hi)
    for _ in range(iterations):
        m = 0.5 * (lo + hi)
        below = f(m) < target
        lo = np.where(below, m, lo)
        hi = np.where(below, hi, m)
    return 0.5 * (lo + hi)


def tables():
    z = np.linspace(-ZC, ZC, K)
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    u = phi(z)

    def mix_cdf(lx):
        return MIX_W[0] * phi((lx - MIX_MU[0]) / MIX_SD[0]) + MIX_W[1] * phi(
            (lx - MIX_MU[1]) / MIX_SD[1]
        )

    v = np.clip((u - P0) / (1 - P0), 0.0, 1.0)
    mix = np.where(u <= P0, 0.0, np.exp(bisect(mix_cdf, v, -30.0, 30.0, 90)))
    w = np.clip((u - ESRD_P0) / (1 - ESRD_P0), 0.0, 1.0)
    esrd = np.where(u <= ESRD_P0, 0.0, np.exp(ESRD_SIGMA * bisect(phi, w, -40.0, 40.0, 200)))
    dz = z[1] - z[0]

    def normalise(q):
        f = q * pdf
        return q / (0.5 * (f[1:] + f[:-1]) * dz).sum()

    risk = np.exp(KAPPA * ALPHA * z)
    return z, normalise(esrd), normalise(mix), risk


def lerp(values, z):
    """The table at z on the grid (index arithmetic and linear interpolation, as cost.rs)."""
    f = np.clip((z + ZC) * ((K - 1) / (2 * ZC)), 0.0, K - 1)
    j = np.minimum(f.astype(np.int64), K - 2)
    v0 = values[j]
    return v0 + (values[j + 1] - v0) * (f - j)


def replicate(rng, z_grid, esrd, mix, risk, aco, etype, trunc):
    n = aco.size
    cell = aco * 4 + etype
    ncell = ACOS * 4
    is_esrd = etype == 0
    noise = KAPPA * math.sqrt(1 - ALPHA * ALPHA)
    half = KAPPA * KAPPA / 2
    s1 = math.sqrt(1 - RHO * RHO)
    z = np.empty(n)
    rc = np.empty(n)
    sums = np.zeros((STEPS, 5, ncell))
    for s in range(STEPS):
        if s == 0:
            zp = rng.standard_normal(n)
            rc = np.exp(noise * rng.standard_normal(n) - half)
            cont = np.zeros(n, dtype=bool)
        else:
            cont = rng.random(n) < STAY
            enter = ~cont
            k = int(enter.sum())
            zp = z.copy()
            zp[enter] = rng.standard_normal(k)
            rc[enter] = np.exp(noise * rng.standard_normal(k) - half)
        r = lerp(risk, zp) * rc
        z = RHO * zp + s1 * rng.standard_normal(n)
        x = np.where(is_esrd, lerp(esrd, z), lerp(mix, z))
        xtr = np.minimum(x, trunc[s][cell])
        c = cont.astype(float)
        sums[s, 0] = np.bincount(cell, weights=x, minlength=ncell)
        sums[s, 1] = np.bincount(cell, weights=xtr, minlength=ncell)
        sums[s, 2] = np.bincount(cell, weights=r, minlength=ncell)
        sums[s, 3] = np.bincount(cell, weights=c, minlength=ncell)
        sums[s, 4] = np.bincount(cell, weights=r * c, minlength=ncell)
    return sums


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    z_grid, esrd, mix, risk = tables()
    rng = np.random.default_rng(1)
    # ACO sizes right-skewed around the total; slots in ACO x type blocks, as in the model.
    sizes = rng.lognormal(0.0, 0.45, ACOS)
    sizes = np.maximum(1, np.round(sizes / sizes.sum() * SLOTS)).astype(int)
    aco = np.repeat(np.arange(ACOS), sizes)
    etype = rng.choice(4, size=aco.size, p=TYPE_MIX)
    order = np.lexsort((etype, aco))
    aco, etype = aco[order], etype[order]
    trunc = rng.uniform(8.0, 12.0, (STEPS, ACOS * 4))
    by = aco.size * STEPS
    rates = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        replicate(rng, z_grid, esrd, mix, risk, aco, etype, trunc)
        rates.append(by / (time.perf_counter() - t))
    print(
        f"numpy {np.__version__}: {by:,} beneficiary-years per replicate; "
        f"min {min(rates) / 1e6:.1f}, median {statistics.median(rates) / 1e6:.1f}, "
        f"max {max(rates) / 1e6:.1f} million beneficiary-years/s over {args.repeats} repeats"
    )


if __name__ == "__main__":
    main()
