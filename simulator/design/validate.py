#!/usr/bin/env python3
"""Checks of the prototype's pieces (MODEL.md section 14).

1. settle() and the MSR table against the PY2018 PUF (what CMS paid).
2. Stage-A beneficiary checks (shares, persistence, risk R^2, truncation).
3. The numba kernel against the independent NumPy implementation of stage A (different RNG
   streams): ACO-level statistics must agree within Monte Carlo error.
"""
import sys
import time

import numpy as np

import prototype as pt


def check_settlement():
    d = pt.load_2018()
    df = d["df"]
    n = d["n"]
    msr_tab = pt.msr_from_bands(n, pt.MSR_BANDS)
    t1 = d["track"] == "T1"
    diff = np.abs(msr_tab[t1] - d["msr"][t1])
    print(f"MSR table vs PUF MinSavPerc, Track 1 (453): max |diff| = {diff.max():.2e}")
    ub = df.ABtotBnchmk.values.astype(float)
    ex = df.ABtotExp.values.astype(float)
    q = d["qual"]
    agr = np.clip(2018 - d["start"] + 1, 1, 3)
    paid, owed, _ = pt.settle(d["track"], agr, d["msr"], d["msr"], q, q, ub, ex, 2018)
    net = paid - owed
    pub = df.EarnSaveLoss.values.astype(float)
    for t in ("T1", "T1P", "T2", "T3"):
        m = d["track"] == t
        rel = np.abs(net[m] - pub[m]) / np.maximum(np.abs(pub[m]), 1.0)
        ok = (rel <= 0.01) | (np.abs(net[m] - pub[m]) < 1.0)
        print(f"settle() vs EarnSaveLoss {t}: {ok.sum()}/{m.sum()} within 1% "
              f"(sum sim {net[m].sum()/1e6:.2f}M vs PUF {pub[m].sum()/1e6:.2f}M)")
        bad = np.nonzero(m & ~np.isin(np.arange(len(m)), np.nonzero(m)[0][ok]))[0]
        for i in bad[:3]:
            print(f"   e.g. {df.ACO_ID[i]}: sim {net[i]:.0f} PUF {pub[i]:.0f} rate {(ub[i]-ex[i])/ub[i]:.4f} "
                  f"msr {d['msr'][i]:.4f} q {q[i]:.4f} DisAdj {df.DisAdj[i]}")
    print(f"totals: paid sim {paid.sum()/1e9:.4f}B vs PUF {pub[pub>0].sum()/1e9:.4f}B; "
          f"owed sim {owed.sum()/1e6:.2f}M vs PUF {-pub[pub<0].sum()/1e6:.2f}M (PUF net of DisAdj)")


def check_kernel_vs_numpy(reps=30):
    name = "mssp-2012-cohort"
    P = pt.params_for(name)
    out = {}
    for label, numpy_path in (("numba kernel", False), ("numpy", True)):
        t0 = time.time()
        R = pt.Runner(name, reps, 4242 if numpy_path else 4343, verbose=False,
                      numpy_stage_a=numpy_path, conc_reps=0)
        S = pt.summarize(R.run(P))
        out[label] = S
        print(f"{label}: stage A {R.t_stage_a:.0f}s")
    keys = ["rate_mean.0", "rate_sd.0", "below.0", "n_paid.0", "bench_savings.0", "paid.0",
            "sd_lt10k.0", "sd_10_20k.0", "sd_gt20k.0"]
    print(f"{'metric':18s} {'numba kernel':>24s} {'numpy':>24s}")
    for k in keys:
        a, b = out["numba kernel"][k], out["numpy"][k]
        print(f"{k:18s} {pt.fmt(a[0], k):>10s} [{pt.fmt(a[1], k)}, {pt.fmt(a[2], k)}]"
              f" {pt.fmt(b[0], k):>10s} [{pt.fmt(b[1], k)}, {pt.fmt(b[2], k)}]")


if __name__ == "__main__":
    what = sys.argv[1:] or ["settlement", "stage_a", "kernel"]
    if "settlement" in what:
        check_settlement()
    if "stage_a" in what:
        pt.check_stage_a()
    if "kernel" in what:
        check_kernel_vs_numpy()
