#!/usr/bin/env python3
"""acorn simulator prototype (NumPy): population model, benchmark, settlement, calibration.

Design spec: MODEL.md next to this file. Every formula here is written out there; the parameter
names below are the TOML keys proposed for the Rust `simulator`.

Two layers, exactly as MODEL.md section 3 describes:

* Stage A, the beneficiary layer (the Rust hot loop): per ACO a pool of beneficiaries followed
  over the benchmark years and performance years: latent Gaussian AR(1) state z, a tabulated
  quantile function Q(z) of the zero-inflated lognormal mixture (mean 1), churn (death/leaving
  replaced by entrants), prospective risk scores. It accumulates, per ACO x enrollment type x year,
  person-years, sum X, sum R (and the newly/continuously assigned split in performance years),
  plus the "tail" list of X values above the lowest truncation point the ACO layer can ask for.
  Nothing in Stage A depends on a calibrated parameter.
* Stage B, the ACO layer: ACO-level random effects (level, transient shocks, benchmark gap, true
  effect), scales the Stage-A sums into dollars, truncates exactly (sum min(sX, T) =
  s (sum X - sum_tail max(X - T/s, 0))), builds the benchmark, settles, applies exits, totals.
  Calibration only re-runs Stage B with common random numbers, which makes it fast and smooth.

Usage:
  python3 prototype.py                      # report every preset with the calibrated parameters
  python3 prototype.py --preset pioneer-2012-2013 --reps 200
  python3 prototype.py --calibrate --preset mssp-2018
  python3 prototype.py --check-stage-a      # beneficiary-layer checks (shares, persistence, R^2)
"""
from __future__ import annotations

import argparse
import os
import json
import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, stats

PUF_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto", "testdata", "puf")
TYPES = ("ESRD", "DIS", "AGDU", "AGND")

# --------------------------------------------------------------------------------------------
# 1. Beneficiary cost model (mssp-rules.md 7.2, 7.3, 7.4)
# --------------------------------------------------------------------------------------------

BENE_DEFAULTS = dict(
    p_zero=0.08,            # [I 7.2] share with zero A+B spending
    mix_w_high=0.161,       # [I 7.2] weight of the high component
    mix_mu=(0.0, 2.741),    # [I 7.2] log-scale means (before rescaling to mean 1)
    mix_sd=(1.314, 0.749),  # [I 7.2] log-scale sds
    rho=0.74,               # [I 7.3] latent AR(1) correlation
    death_rate=0.045,       # [R 7.3] annual
    leave_rate=0.1204,      # [I] annual, survivors; (1-0.045)(1-0.1204) = 0.84 stay [S 7.5 AJMC]
    risk_kappa=0.65,        # [I 7.4] log-sd of the risk score
    risk_alpha=0.60,        # [I] weight of z_{t-1} in the risk index -> R^2 about 0.12 [R 7.4]
    trunc_pct=0.99,         # [V 3.1] national percentile for truncation
    esrd_p_zero=0.005,      # [I] ESRD: zero share
    esrd_sigma=0.85,        # [I] ESRD: single lognormal, CV about 0.96 (ESRD spending is less skewed)
    z_clamp=6.0,            # table range
    table_points=8193,
)


class CostModel:
    """Quantile table Q(z) = F^-1(Phi(z)) of the zero-inflated mixture, normalised to mean 1."""

    def __init__(self, p_zero, mix_w_high, mix_mu, mix_sd, z_clamp, table_points, trunc_pct,
                 esrd_p_zero=0.005, esrd_sigma=0.85, **_):
        self.zmin, self.zmax, self.npts = -z_clamp, z_clamp, table_points
        z = np.linspace(self.zmin, self.zmax, table_points)
        u = stats.norm.cdf(z)
        w = np.array([1 - mix_w_high, mix_w_high])
        mu, sd = np.array(mix_mu), np.array(mix_sd)
        q = np.zeros_like(z)
        pos = u > p_zero
        v = (u[pos] - p_zero) / (1 - p_zero)
        lo, hi = np.full(v.shape, -30.0), np.full(v.shape, 30.0)
        for _ in range(90):  # bisection on log x of the mixture CDF
            m = 0.5 * (lo + hi)
            c = (w[:, None] * stats.norm.cdf((m[None, :] - mu[:, None]) / sd[:, None])).sum(0)
            lo, hi = np.where(c < v, m, lo), np.where(c >= v, m, hi)
        q[pos] = np.exp(0.5 * (lo + hi))
        phi = stats.norm.pdf(z)
        # normalise so that the mean of the *interpolated* table under N(0,1) is exactly 1
        mean = np.trapezoid(q * phi, z)
        self.z, self.q = z, q / mean
        self.z99 = stats.norm.ppf(trunc_pct)
        self.q99 = float(np.interp(self.z99, z, self.q))           # national p99 / national mean
        self.tmean = float(np.trapezoid(np.minimum(self.q, self.q99) * phi, z))  # E[min(X, q99)]
        # ESRD table: zero-inflated single lognormal, mean 1
        qe = np.zeros_like(z)
        pe = u > esrd_p_zero
        qe[pe] = np.exp(esrd_sigma * stats.norm.ppf((u[pe] - esrd_p_zero) / (1 - esrd_p_zero)))
        qe /= np.trapezoid(qe * phi, z)
        self.qt = np.stack([qe, self.q, self.q, self.q])           # by enrollment type
        self.q99t = np.array([float(np.interp(self.z99, z, t)) for t in self.qt])
        self.tmeant = np.array([float(np.trapezoid(np.minimum(t, c) * phi, z))
                                for t, c in zip(self.qt, self.q99t)])
        _TMEAN[:] = self.tmeant

    def X(self, z, typ=None):
        if typ is None:
            return np.interp(z, self.z, self.q)
        out = np.empty_like(z)
        for e in range(4):
            m = typ == e
            out[m] = np.interp(z[m], self.z, self.qt[e])
        return out

    def trunc_mean(self, c):
        """E[min(X, c)] for scalar c."""
        phi = stats.norm.pdf(self.z)
        return float(np.trapezoid(np.minimum(self.q, c) * phi, self.z))


def top_shares(x, fracs=(0.01, 0.05, 0.10, 0.20, 0.50)):
    xs = np.sort(x)[::-1]
    cs = np.cumsum(xs) / xs.sum()
    return [float(cs[max(int(f * len(xs)) - 1, 0)]) for f in fracs]


# --------------------------------------------------------------------------------------------
# 2. National per capita A+B FFS spending by enrollment type and year [R 7.1; I from PUFs]
# --------------------------------------------------------------------------------------------
# Aged/non-dual per capita by calendar year, dollars, truncated basis (as the PUFs publish; the
# untruncated mean is M = value / E[min(X, q99)]). Smoothed from the
# PY2014/2018/2022 PUF assigned-population per capita by benchmark year; 2023-24 extrapolated.
NATIONAL_AGND = {
    2009: 8600, 2010: 8800, 2011: 8950, 2012: 9000, 2013: 9000, 2014: 9050, 2015: 9200,
    2016: 9350, 2017: 9550, 2018: 9850, 2019: 10150, 2020: 9350, 2021: 10050, 2022: 10450,
    2023: 10850, 2024: 11300,
}
# Relativities to aged/non-dual (ESRD, disabled, aged/dual, aged/non-dual) [I from PY2018 PUF]
TYPE_REL = np.array([8.4, 1.07, 1.60, 1.0])


_TMEAN = np.ones(4)  # E[min(X, q99)] by type, set by CostModel


def national_truncated(year):
    """National per capita on the truncated (PUF) basis, by type."""
    return NATIONAL_AGND[int(year)] * TYPE_REL


def national(year):
    """Untruncated national mean M_e,t = truncated per capita / E[min(X, q99)]."""
    return national_truncated(year) / _TMEAN


# --------------------------------------------------------------------------------------------
# 3. MSR tables
# --------------------------------------------------------------------------------------------
MSR_BANDS = [  # (min, max, rate at min, rate at max) 425.604(b) + small-ACO extension [V/S]
    (0, 499, .122, .122), (500, 999, .122, .087), (1000, 2999, .087, .050), (3000, 4999, .050, .039),
    (5000, 5999, .039, .036), (6000, 6999, .036, .034), (7000, 7999, .034, .032),
    (8000, 8999, .032, .031), (9000, 9999, .031, .030), (10000, 14999, .030, .027),
    (15000, 19999, .027, .025), (20000, 49999, .025, .022), (50000, 59999, .022, .020),
    (60000, 10**12, .020, .020)]
# Pioneer corridor (MSR = MLR) [R/I: "1% to 2.7% by size"; same band form, endpoint interpolation]
# [R/I]: the 425.604(b) shape from 15,000 (2.7%) to 60,000 (2.0%), flat 2.7% below 15,000 (rural
# Pioneers), then down to a 1.0% floor at 100,000+ ("1% to 2.7%" by size; table not verified)
PIONEER_BANDS = [
    (5000, 14999, .027, .027), (15000, 19999, .027, .025), (20000, 49999, .025, .022),
    (50000, 59999, .022, .020), (60000, 99999, .020, .010), (100000, 10**12, .010, .010)]


def msr_from_bands(n, bands):
    n = np.asarray(n, dtype=float)
    out = np.full(n.shape, np.nan)
    for lo, hi, a, b in bands:
        m = (n >= lo) & (n <= hi)
        t = 0.0 if hi >= 10**12 else (n[m] - lo) / (hi - lo)
        out[m] = a + (b - a) * t
    return out


# --------------------------------------------------------------------------------------------
# 4. Track rules (mirror settlement-svc/src/engine/rules.rs and quality.rs)
# --------------------------------------------------------------------------------------------
# code: (max sharing, payment limit, loss rate kind, loss params, loss limit by agreement year)
TRACKS = {
    "T1":   dict(share=.50, cap=.10, two=False),
    "T2":   dict(share=.60, cap=.15, two=True, loss="1-fsr", lfloor=.40, lceil=.60, llim=(.05, .075, .10)),
    "T3":   dict(share=.75, cap=.20, two=True, loss="1-fsr", lfloor=.40, lceil=.75, llim=(.15,)),
    "T1P":  dict(share=.50, cap=.10, two=True, loss="fixed", lrate=.30, llim=(.04,)),   # [R] limit
    "A":    dict(share=.40, cap=.10, two=False),
    "B":    dict(share=.40, cap=.10, two=False),
    "C":    dict(share=.50, cap=.10, two=True, loss="fixed", lrate=.30, llim=(.01,)),
    "D":    dict(share=.50, cap=.10, two=True, loss="fixed", lrate=.30, llim=(.02,)),
    "E":    dict(share=.50, cap=.10, two=True, loss="fixed", lrate=.30, llim=(.04,)),
    "EN":   dict(share=.75, cap=.20, two=True, loss="1-fsr", lfloor=.40, lceil=.75, llim=(.15,)),
    "PIO1": dict(share=.60, cap=.10, two=True, loss="fixed", lrate=.60, llim=(.10,)),
    "PIO2": dict(share=.70, cap=.15, two=True, loss="fixed", lrate=.70, llim=(.15,)),
}
TRACK_CODES = list(TRACKS)


def sequestration(py):
    return 0.0 if py in (2019, 2020) else 0.02  # as rules::sequestration_rate


def settle(track, agr_year, msr, mlr, qfac, qscore, ub, ex, py, seq=None, low_rev=None):
    """Vectorised settlement of one performance year (mssp-rules.md 4.5, 42 CFR 425.604-.610).

    track: array of track codes; msr/mlr fractions; qfac: quality factor for the sharing rate
    (0 = standard failed); qscore: score for 1-FSR loss rates; ub, ex: totals (truncated).
    Returns paid, owed, outcome (1 paid, -1 owes, 0 corridor/one-sided loss, 2 quality not met).
    """
    seq = sequestration(py) if seq is None else seq
    n = len(ub)
    S = ub - ex
    r = S / ub
    paid, owed, outc = np.zeros(n), np.zeros(n), np.zeros(n, dtype=int)
    for code in np.unique(track):
        m = track == code
        t = TRACKS[code]
        fsr = t["share"] * qfac[m]
        cap = t["cap"] * ub[m]
        ok = (S[m] > 0) & (r[m] >= msr[m])
        lowrev = np.zeros(m.sum(), bool) if low_rev is None else (low_rev[m] & (S[m] > 0) & ~ok)
        share = np.where(ok, fsr, np.where(lowrev, 0.5 * fsr, 0.0))
        pay = np.minimum(share * S[m] * (1 - seq), cap)
        pay = np.where(share > 0, pay, 0.0)
        o = np.where(pay > 0, 1, np.where(ok & (fsr == 0), 2, 0))
        ow = np.zeros(m.sum())
        if t["two"]:
            if t["loss"] == "fixed":
                lr = np.full(m.sum(), t["lrate"])
            else:
                lr = np.clip(1 - t["share"] * qscore[m], t["lfloor"], t["lceil"])
            lim_tab = t["llim"]
            k = np.clip(agr_year[m], 1, len(lim_tab)) - 1
            lim = np.array(lim_tab)[k] * ub[m]
            lose = (S[m] < 0) & (-r[m] >= mlr[m]) & (pay == 0)
            ow = np.where(lose, np.minimum(lr * (-S[m]), lim), 0.0)
            o = np.where(lose, -1, o)
        paid[m], owed[m], outc[m] = pay, ow, o
    return paid, owed, outc


# --------------------------------------------------------------------------------------------
# 5. Presets: population templates
# --------------------------------------------------------------------------------------------

@dataclass
class Population:
    """ACO-level inputs fixed for a replicate (drawn from the population stream)."""
    n: np.ndarray            # assigned beneficiaries (pool size; MSR uses it)
    ntype: np.ndarray        # (n_aco, 4) pool size by enrollment type
    level: np.ndarray        # persistent level L_i (theta_i = log L_i)
    pyfrac: np.ndarray       # person-years per assigned beneficiary
    track: list              # per PY: array of track codes
    agr_year: list           # per PY: agreement year index
    msr: list                # per PY: MSR
    mlr: list                # per PY: MLR
    weights: np.ndarray      # (n_aco, 3) BY weights
    years: np.ndarray        # (n_aco, n_steps) calendar year of each step (BY1..BY3, PY1..)
    lags: np.ndarray         # (n_steps, n_aco) years since the previous step (row 0 unused)
    qual: list = None        # per PY: (qfac, qscore) arrays or None (drawn in stage B)
    low_rev: list = None
    extra: dict = field(default_factory=dict)


def _split_types(n, shares, rng=None):
    shares = np.asarray(shares, float)
    shares = shares / shares.sum(1, keepdims=True)
    nt = np.floor(n[:, None] * shares).astype(np.int64)
    rem = n - nt.sum(1)
    order = np.argsort(-(n[:, None] * shares - nt), axis=1)
    for i in np.nonzero(rem)[0]:
        nt[i, order[i, : rem[i]]] += 1
    return nt


def _lognormal_sizes(rng, k, median, sigma, floor, total=None):
    out = []
    while len(out) < k:
        x = median * np.exp(sigma * rng.standard_normal(4 * k))
        out.extend(x[x >= floor].tolist())
    n = np.array(out[:k])
    if total is not None:  # rescale the part above the floor so the total is exact
        excess = n - floor
        n = floor + excess * (total - floor * k) / excess.sum()
    return np.round(n).astype(np.int64)


NATIONAL_MIX_2012 = (0.010, 0.120, 0.070, 0.800)  # [R 7.4; I from PY2014 PUF]


def pop_pioneer(rng, P):
    k = 32
    n = _lognormal_sizes(rng, k, P["size_median"], P["size_sigma"], P["size_floor"], P["total_assigned"])
    shares = rng.dirichlet(np.array(NATIONAL_MIX_2012) * P["mix_concentration"], size=k)
    nt = _split_types(n, shares)
    level = np.exp(P["sigma_theta"] * rng.standard_normal(k) - P["sigma_theta"] ** 2 / 2)
    years = np.tile([2009, 2010, 2011, 2012, 2013], (k, 1))
    lags = np.ones((5, k), dtype=int)
    msr = msr_from_bands(n, PIONEER_BANDS)
    return Population(n=n, ntype=nt, level=level, pyfrac=np.full(k, P["pyfrac"]),
                      track=[np.array(["PIO1"] * k), np.array(["PIO2"] * k)],
                      agr_year=[np.ones(k, int), np.full(k, 2)], msr=[msr, msr], mlr=[msr, msr],
                      weights=np.tile([.1, .3, .6], (k, 1)), years=years, lags=lags)


def pop_mssp2012(rng, P):
    k = 114
    n = _lognormal_sizes(rng, k, P["size_median"], P["size_sigma"], P["size_floor"])
    shares = rng.dirichlet(np.array(NATIONAL_MIX_2012) * P["mix_concentration"], size=k)
    nt = _split_types(n, shares)
    level = np.exp(P["sigma_theta"] * rng.standard_normal(k) - P["sigma_theta"] ** 2 / 2)
    years = np.tile([2009, 2010, 2011, 2013], (k, 1))   # PY = interim first 12 months [I]
    lags = np.ones((4, k), dtype=int)
    lags[3] = 2
    msr = msr_from_bands(n, MSR_BANDS)
    return Population(n=n, ntype=nt, level=level, pyfrac=np.full(k, P["pyfrac"]),
                      track=[np.array(["T1"] * k)], agr_year=[np.ones(k, int)], msr=[msr],
                      mlr=[msr], weights=np.tile([.1, .3, .6], (k, 1)), years=years, lags=lags,
                      qual=[(np.ones(k), np.ones(k))])


def _num(s):
    return pd.to_numeric(s.astype(str).str.replace(",", "").str.replace("%", ""), errors="coerce")


def load_2018():
    d = pd.read_csv(f"{PUF_DIR}/mssp_puf_py2018.csv")
    tr = np.where(d.Current_Track_1 == 1, "T1", np.where(d.Current_Track_2 == 1, "T2",
                  np.where(d.Current_Track_3 == 1, "T3", "T1P")))
    start = d.Current_Start_Date.str[6:10].astype(int).values
    mixcols = ["N_AB_Year_ESRD_PY", "N_AB_Year_DIS_PY", "N_AB_Year_AGED_Dual_PY", "N_AB_Year_AGED_NonDual_PY"]
    mix = d[mixcols].values.astype(float)
    mix = mix / mix.sum(1, keepdims=True)
    n = d.N_AB.values.astype(np.int64)
    pyfrac = d.N_AB_Year_PY.values / n
    pc = d.ABtotBnchmk.values / d.N_AB_Year_PY.values
    return dict(df=d, track=tr, start=start, mix=mix, n=n, pyfrac=pyfrac, pc_bmk=pc,
                msr=d.MinSavPerc.values.astype(float), qual=d.QualScore.values.astype(float),
                period=d.Agreement_Period_Num.values)


_CACHE = {}


def pop_mssp2018(rng, P, cm):
    if "2018" not in _CACHE:
        _CACHE["2018"] = load_2018()
    f = _CACHE["2018"]
    k = len(f["n"])
    n = f["n"]
    nt = _split_types(n, f["mix"])
    # persistent level from the file: benchmark per capita / national expectation for the mix
    nat = national_truncated(2018)
    level = f["pc_bmk"] / (f["mix"] @ nat)
    by3 = f["start"] - 1
    years = np.stack([by3 - 2, by3 - 1, by3, np.full(k, 2018)], 1)
    lags = np.ones((4, k), dtype=int)
    lags[3] = 2018 - by3
    agr = np.clip(2018 - f["start"] + 1, 1, 3)
    w = np.where((f["period"] >= 2)[:, None], np.array([1 / 3] * 3), np.array([.1, .3, .6]))
    msr = f["msr"]
    q = f["qual"]
    return Population(n=n, ntype=nt, level=level, pyfrac=f["pyfrac"], track=[f["track"]],
                      agr_year=[agr], msr=[msr], mlr=[msr], weights=w, years=years, lags=lags,
                      qual=[(q, q)], extra=dict(period=f["period"]))


MIX_2024 = {"A": 40, "B": 90, "C": 14, "D": 15, "E": 172, "EN": 145}  # [I: 2/3 in E/EN, S 6]


def load_2022():
    d = pd.read_csv(f"{PUF_DIR}/mssp_puf_py2022.csv")
    out = dict(df=d, n=_num(d.N_AB).values.astype(np.int64), track=d.Current_Track.values.astype(str),
               start=d.Current_Start_Date.astype(str).str.extract(r"(\d{4})")[0].astype(int).values,
               period=_num(d.Agreement_Period_Num).values.astype(int),
               msr=_num(d.MinSavPerc).values / 100, qual=_num(d.QualScore).values / 100)
    mixcols = ["N_AB_Year_ESRD_PY", "N_AB_Year_DIS_PY", "N_AB_Year_AGED_Dual_PY", "N_AB_Year_AGED_NonDual_PY"]
    mix = np.column_stack([_num(d[c]).values for c in mixcols]).astype(float)
    mix = np.nan_to_num(mix)
    out["mix"] = mix / mix.sum(1, keepdims=True)
    pyr = _num(d.N_AB_Year_PY).values
    out["pyfrac"] = pyr / out["n"]
    out["pc_bmk"] = _num(d.ABtotBnchmk).values / pyr
    return out


def pop_mssp2024(rng, P, cm):
    if "2022" not in _CACHE:
        _CACHE["2022"] = load_2022()
    f = _CACHE["2022"]
    k = 476
    idx = np.sort(rng.choice(len(f["n"]), size=k, replace=False))
    n = np.round(f["n"][idx] * P["total_assigned"] / f["n"][idx].sum()).astype(np.int64)
    nt = _split_types(n, f["mix"][idx])
    nat = national_truncated(2022)
    level = f["pc_bmk"][idx] / (f["mix"][idx] @ nat)
    # 2024 track mix: keep ENHANCED ACOs, reassign the BASIC levels to the 2024 counts (largest
    # remaining ACOs go furthest along the glide path) [I]
    tr = f["track"][idx].copy()
    en = np.nonzero(tr == "EN")[0]
    need_en = MIX_2024["EN"]
    if len(en) > need_en:
        tr[rng.choice(en, len(en) - need_en, replace=False)] = "E"
    rest = np.nonzero(tr != "EN")[0]
    order = rest[np.argsort(-(n[rest] * np.exp(0.5 * rng.standard_normal(len(rest)))))]
    codes = []
    for c in ("E", "D", "C", "B", "A"):
        codes += [c] * MIX_2024[c]
    codes = (codes + ["A"] * len(order))[: len(order)]
    tr[order] = codes
    # MSR: one-sided variable; two-sided: the 2022 choice when the ACO was two-sided, else drawn
    # from the 2022 two-sided choices
    msr_var = msr_from_bands(n, MSR_BANDS)
    two = np.isin(tr, ["C", "D", "E", "EN"])
    was_two = np.isin(f["track"][idx], ["C", "D", "E", "EN"])
    pool = f["msr"][np.isin(f["track"], ["C", "D", "E", "EN"])]
    msr = np.where(~two, msr_var, np.where(was_two, f["msr"][idx], rng.choice(pool, k)))
    msr = np.where(np.isnan(msr), msr_var, msr)
    start = f["start"][idx]
    by3 = start - 1
    years = np.stack([by3 - 2, by3 - 1, by3, np.full(k, 2024)], 1)
    lags = np.ones((4, k), dtype=int)
    lags[3] = 2024 - by3
    agr = 2024 - start + 1
    w = np.where((f["period"][idx] >= 2)[:, None], np.array([1 / 3] * 3), np.array([.1, .3, .6]))
    low_rev = (rng.random(k) < P["low_revenue_share"]) & (start >= 2024)
    return Population(n=n, ntype=nt, level=level, pyfrac=f["pyfrac"][idx], track=[tr],
                      agr_year=[agr], msr=[msr], mlr=[msr], weights=w, years=years, lags=lags,
                      low_rev=[low_rev], extra=dict(qual22=f["qual"][idx]))


# --------------------------------------------------------------------------------------------
# 6. Stage A: the beneficiary layer
# --------------------------------------------------------------------------------------------

@dataclass
class StageA:
    cnt: np.ndarray     # (n_steps, n_aco, 4) person-years (pool members)
    sx: np.ndarray      # sum X
    sr: np.ndarray      # sum R
    ccnt: np.ndarray    # continuously assigned count
    csr: np.ndarray     # sum R of continuously assigned
    tail_cell: list     # per step: flat cell index (aco*4+type) of X > cmin
    tail_x: list        # per step: X values
    cmin: np.ndarray    # (n_aco,) lowest X/truncation point covered by the tail lists
    conc: list          # top shares of X in step 0 (one year, all beneficiaries)
    conc_dollars: list  # top shares of dollars (X * M_type * L_i) of aged beneficiaries, step 0
    stats: dict


def stage_a(pop: Population, cm: CostModel, B: dict, rng, tail_span=1.8, keep_x=False):
    k = len(pop.n)
    counts = pop.ntype.reshape(-1)
    cell = np.repeat(np.arange(k * 4), counts)          # beneficiary -> cell (aco*4+type)
    aco = cell // 4
    N = len(cell)
    rho, s1 = B["rho"], math.sqrt(1 - B["rho"] ** 2)
    stay = (1 - B["death_rate"]) * (1 - B["leave_rate"])
    kap, al = B["risk_kappa"], B["risk_alpha"]
    ral = math.sqrt(1 - al * al)
    cmin = cm.q99t[None, :] / (pop.level[:, None] * tail_span)     # (n_aco, 4)
    cmin_b = cmin.reshape(-1)[cell]
    typ_b = cell % 4
    nsteps = pop.lags.shape[0]
    shp = (nsteps, k, 4)
    cnt, sx, sr, ccnt, csr = (np.zeros(shp) for _ in range(5))
    tails_c, tails_x = [], []
    z = np.empty(N)
    xi = np.empty(N)
    conc = conc_d = None
    for s in range(nsteps):
        if s == 0:
            zprev = rng.standard_normal(N)
            xi[:] = rng.standard_normal(N)
            cont = np.zeros(N, bool)
        else:
            lag = pop.lags[s][aco]
            if (lag > 1).any():  # collapse lag-1 intermediate years (exact for the slot process)
                m = lag > 1
                L1 = lag[m] - 1
                keep = rng.random(m.sum()) < stay ** L1
                zz = z[m]
                e = rng.standard_normal(m.sum())
                zz = np.where(keep, rho ** L1 * zz + np.sqrt(1 - rho ** (2 * L1)) * e,
                              rng.standard_normal(m.sum()))
                xx = np.where(keep, xi[m], rng.standard_normal(m.sum()))
                z[m], xi[m] = zz, xx
            cont = rng.random(N) < stay
            newc = ~cont
            zprev = z.copy()
            nn = newc.sum()
            zprev[newc] = rng.standard_normal(nn)
            xi[newc] = rng.standard_normal(nn)
        R = np.exp(kap * (al * zprev + ral * xi) - kap * kap / 2)
        z = rho * zprev + s1 * rng.standard_normal(N)
        X = cm.X(z, typ_b)
        ml = k * 4
        cnt[s] = np.bincount(cell, minlength=ml).reshape(k, 4)
        sx[s] = np.bincount(cell, weights=X, minlength=ml).reshape(k, 4)
        sr[s] = np.bincount(cell, weights=R, minlength=ml).reshape(k, 4)
        ccnt[s] = np.bincount(cell, weights=cont.astype(float), minlength=ml).reshape(k, 4)
        csr[s] = np.bincount(cell, weights=R * cont, minlength=ml).reshape(k, 4)
        t = X > cmin_b
        tails_c.append(cell[t].astype(np.int32))
        tails_x.append(X[t])
        if s == 0:
            sub = X[: min(N, 3_000_000)]
            conc = top_shares(sub)
            typ = cell % 4
            aged = typ >= 2
            dol = X * TYPE_REL[typ] * pop.level[aco]
            conc_d = top_shares(dol[aged][: 3_000_000])
            st = dict(mean_X=float(X.mean()), mean_R=float(R.mean()))
    return StageA(cnt, sx, sr, ccnt, csr, tails_c, tails_x, cmin, conc, conc_d, st)



# Stage A, per-beneficiary kernel (numba): the Rust hot loop, one RNG stream per (seed, rep, ACO),
# ACOs in parallel (results do not depend on the thread count).
try:
    import numba

    @numba.njit(cache=True)
    def _aco_kernel(i, ntype_i, lags_i, seed, rho, stay, kap, al, qtab, zmin, zinv, cmin_i,
                    cnt, sx, sr, ccnt, csr, tstep, tcell, tx, toff, tcap, x0, x0off):
        # qtab: (4, npts) quantile tables by enrollment type; cmin_i: (4,) tail cut-offs
        np.random.seed(seed)
        S = lags_i.shape[0]
        npts = qtab.shape[1]
        s1 = math.sqrt(1.0 - rho * rho)
        ral = math.sqrt(1.0 - al * al)
        half = kap * kap / 2.0
        n_i = ntype_i[0] + ntype_i[1] + ntype_i[2] + ntype_i[3]
        z = np.empty(n_i)
        xi = np.empty(n_i)
        nt = 0
        for s in range(S):
            L = lags_i[s]
            if L > 1:
                stayL = stay ** (L - 1)
                rhoL = rho ** (L - 1)
                sL = math.sqrt(1.0 - rho ** (2 * (L - 1)))
            b = 0
            for e in range(4):
                c_flat = i * 4 + e
                acc_x = 0.0
                acc_r = 0.0
                acc_cn = 0.0
                acc_cr = 0.0
                for _ in range(ntype_i[e]):
                    cont = False
                    if s == 0:
                        zp = np.random.standard_normal()
                        xi[b] = np.random.standard_normal()
                    else:
                        zb = z[b]
                        if L > 1:  # collapse the L-1 intermediate years (exact for the slot)
                            if np.random.random() < stayL:
                                zb = rhoL * zb + sL * np.random.standard_normal()
                            else:
                                zb = np.random.standard_normal()
                                xi[b] = np.random.standard_normal()
                        if np.random.random() < stay:
                            cont = True
                            zp = zb
                        else:  # entrant: its own previous-year state and risk noise
                            zp = np.random.standard_normal()
                            xi[b] = np.random.standard_normal()
                    R = math.exp(kap * (al * zp + ral * xi[b]) - half)
                    zn = rho * zp + s1 * np.random.standard_normal()
                    z[b] = zn
                    f = (zn - zmin) * zinv
                    if f <= 0.0:
                        X = qtab[e, 0]
                    elif f >= npts - 1:
                        X = qtab[e, npts - 1]
                    else:
                        j = int(f)
                        X = qtab[e, j] + (qtab[e, j + 1] - qtab[e, j]) * (f - j)
                    acc_x += X
                    acc_r += R
                    if cont:
                        acc_cn += 1.0
                        acc_cr += R
                    if X > cmin_i[e]:
                        if nt < tcap:
                            tstep[toff + nt] = s
                            tcell[toff + nt] = c_flat
                            tx[toff + nt] = X
                        nt += 1
                    if s == 0 and x0.shape[0] > 0:
                        x0[x0off + b] = X
                    b += 1
                cnt[s, i, e] = ntype_i[e]
                sx[s, i, e] = acc_x
                sr[s, i, e] = acc_r
                ccnt[s, i, e] = acc_cn
                csr[s, i, e] = acc_cr
        return nt

    @numba.njit(parallel=True, cache=True)
    def _kernel(ntype, lags, seeds, rho, stay, kap, al, qtab, zmin, zinv, cmin,
                cnt, sx, sr, ccnt, csr, tstep, tcell, tx, toffs, tcaps, tn, x0, x0offs):
        k = ntype.shape[0]
        for i in numba.prange(k):
            tn[i] = _aco_kernel(i, ntype[i], lags[:, i], seeds[i], rho, stay, kap, al, qtab, zmin,
                                zinv, cmin[i], cnt, sx, sr, ccnt, csr, tstep, tcell, tx, toffs[i],
                                tcaps[i], x0, x0offs[i])
    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    HAVE_NUMBA = False


def aco_seeds(seed, rep, k):
    """One 32-bit seed per (seed, replicate, ACO), derived with SeedSequence (order-independent)."""
    ss = np.random.SeedSequence([seed, rep, 2])
    return ss.generate_state(k, dtype=np.uint32).astype(np.int64)


def stage_a_kernel(pop: Population, cm: CostModel, B: dict, seed, rep, tail_span=1.8, keep_x0=True):
    k = len(pop.n)
    S = pop.lags.shape[0]
    shp = (S, k, 4)
    cnt, sx, sr, ccnt, csr = (np.zeros(shp) for _ in range(5))
    nb = pop.ntype.sum(1).astype(np.int64)
    N = int(nb.sum())
    cmin = cm.q99t[None, :] / (pop.level[:, None] * tail_span)
    tcaps = (0.25 * nb * S).astype(np.int64) + 200
    toffs = np.concatenate([[0], np.cumsum(tcaps)[:-1]]).astype(np.int64)
    tot = int(tcaps.sum())
    tstep, tcell, tx = np.zeros(tot, np.int8), np.zeros(tot, np.int32), np.zeros(tot)
    tn = np.zeros(k, np.int64)
    x0 = np.zeros(N if keep_x0 else 0)
    x0offs = np.concatenate([[0], np.cumsum(nb)[:-1]]).astype(np.int64)
    stay = (1 - B["death_rate"]) * (1 - B["leave_rate"])
    zinv = (cm.npts - 1) / (cm.zmax - cm.zmin)
    _kernel(pop.ntype.astype(np.int64), pop.lags.astype(np.int64), aco_seeds(seed, rep, k),
            B["rho"], stay, B["risk_kappa"], B["risk_alpha"], cm.qt, cm.zmin, zinv, cmin,
            cnt, sx, sr, ccnt, csr, tstep, tcell, tx, toffs, tcaps, tn, x0, x0offs)
    if (tn > tcaps).any():
        raise RuntimeError("tail capacity exceeded")
    keep = np.zeros(tot, bool)
    for i in range(k):
        keep[toffs[i]: toffs[i] + tn[i]] = True
    ts, tc, tv = tstep[keep], tcell[keep], tx[keep]
    tails_c = [tc[ts == s] for s in range(S)]
    tails_x = [tv[ts == s] for s in range(S)]
    conc = conc_d = None
    if keep_x0:
        cell = np.repeat(np.arange(k * 4), pop.ntype.reshape(-1))
        typ, aco = cell % 4, cell // 4
        conc = top_shares(x0)
        aged = typ >= 2
        conc_d = top_shares((x0 * TYPE_REL[typ] * pop.level[aco])[aged])
    return StageA(cnt, sx, sr, ccnt, csr, tails_c, tails_x, cmin, conc, conc_d,
                  dict(mean_X=float(sx[0].sum() / cnt[0].sum())))


# --------------------------------------------------------------------------------------------
# 7. Stage B: the ACO layer
# --------------------------------------------------------------------------------------------

ACO_DEFAULTS = dict(
    sigma_theta=0.15,      # [I] persistent ACO level (log sd), synthetic presets
    sigma_u0=0.0,          # transient ACO-year shock, size-independent (log sd)      [C]
    k_cluster=0.0,         # transient ACO-year shock, size-dependent: sd = k/sqrt(n)  [C]
    phi_u=0.0,             # AR(1) of the transient shock                             [I]
    rtm_shift=0.0,         # mean of the transient shock in benchmark years (selection at entry) [I]
    rtm_level_share=0.0,   # replay presets: share of the observed log level that is transient [C]
    gap=(0.0,),            # systematic benchmark gap by PY: benchmark / counterfactual - 1 (log) [C]
    sigma_gap=0.0,         # ACO-level benchmark-gap sd, persistent over PYs          [C]
    gap_two_sided=0.0,     # extra gap of ACOs in two-sided tracks (selection into risk) [C]
    two_sided_sd_scale=1.0,  # multiplier on ACO-level dispersion of two-sided ACOs     [C]
    pi_size=0.0,           # slope of the effective share in ln(n / 12,000)           [C]
    gap_dist="normal",     # distribution of the ACO-level gap draw: normal | laplace | exponential [I]
    delta_mean=None,       # alternative effect parametrisation: mean effect by PY ...       [R]
    delta_spread=(0.0,),   # ... and mu_hi - mu_lo by PY                                    [C]
    pi_hi=0.5,             # share of "effective" ACOs                                [C]
    mu_hi=(0.0,),          # mean true effect of effective ACOs, by PY (fraction of counterfactual) [C]
    mu_lo=(0.0,),          # mean true effect of the other ACOs, by PY                [C]
    sigma_delta=0.01,      # ACO-year sd of the true effect                           [I]
    rho_delta=0.5,         # share of that variance persistent across PYs             [I]
    p_exit_loss=0.0,       # exit probability after a PY with spending above benchmark [C]
    p_exit_other=0.0,      # exit probability otherwise                               [I]
    update="flat",         # benchmark update: flat national dollars | pct national growth
    py_risk="newcont",     # PY risk ratio: newly/continuously assigned (pre-2019) | cap3
    q_mean=(1.0,),         # synthetic quality score mean by PY (when the preset has none)
    q_sd=(0.0,),
    q_met=(1.0,),          # PY2021+: probability the quality standard is met
    q_alt_mean=0.6, q_alt_sd=0.1,
    seq=None,              # sequestration override
)


def aco_draws(rng, k, nsteps, npy):
    """ACO-level standard draws of one replicate, in the fixed order of MODEL.md 4.2."""
    return dict(u_class=rng.random(k), a=rng.standard_normal(k), eta=rng.standard_normal(k),
                eps_v=rng.standard_normal((k, nsteps)), b=rng.standard_normal((k, npy)),
                u_exit=rng.random((k, npy)), eps_q=rng.standard_normal((k, npy)),
                u_q=rng.random((k, npy)))


def _excess(A: StageA, s, c_cell):
    """sum over the tail of max(X - c, 0) per cell, c given per cell (flat)."""
    tc, tx = A.tail_cell[s], A.tail_x[s]
    w = np.maximum(tx - c_cell[tc], 0.0)
    return np.bincount(tc, weights=w, minlength=len(c_cell))


def stage_b(pop: Population, A: StageA, D: dict, P: dict, cm: CostModel, py_list, detail=False):
    k = len(pop.n)
    nsteps = pop.lags.shape[0]
    npy = len(py_list)
    nby = nsteps - npy
    q99 = cm.q99t[None, :]
    # transient ACO-year shocks v (log), AR(1) over steps
    two = np.array([TRACKS[c]["two"] for c in pop.track[0]])     # two-sided in the first PY
    sd_sc = np.where(two, P["two_sided_sd_scale"], 1.0)           # selection into risk: less variable
    sig_u = np.sqrt(P["sigma_u0"] ** 2 + P["k_cluster"] ** 2 / pop.n) * sd_sc
    v = np.zeros((k, nsteps))
    phi = P["phi_u"]
    v[:, 0] = D["eps_v"][:, 0]
    for s in range(1, nsteps):
        v[:, s] = phi * v[:, s - 1] + math.sqrt(1 - phi * phi) * D["eps_v"][:, s]
    v *= sig_u[:, None]
    v[:, :nby] += P["rtm_shift"]
    # replay presets: part of the observed (benchmark-period) level is transient and regresses
    psi = P["rtm_level_share"]
    lnl = np.log(pop.level)
    s_lvl = psi * (lnl - lnl.mean())
    v[:, :nby] += s_lvl[:, None]
    level_p = pop.level * np.exp(-s_lvl)          # persistent level
    pi_i = np.clip(P["pi_hi"] + P["pi_size"] * np.log(pop.n / 12000.0), 0.02, 0.98)
    hi = D["u_class"] < pi_i
    active = np.ones(k, bool)
    out = []
    # benchmark years: truncated per capita and risk scores by type
    A_by = np.zeros((nby, k, 4))
    R_by = np.zeros((nby, k, 4))
    cnt0 = np.maximum(A.cnt, 1)
    for s in range(nby):
        scale = level_p * np.exp(v[:, s])                         # in units of M_type,year
        c = (q99 / scale[:, None]).reshape(-1)
        tr = A.sx[s] - _excess(A, s, c).reshape(k, 4)             # sum min(X, T/scale)
        A_by[s] = scale[:, None] * tr / cnt0[s]                   # per capita in M units
        R_by[s] = A.sr[s] / cnt0[s]
    # national levels per ACO and step
    Mnat = pop.extra.get("Mnat")
    if Mnat is None:  # national per capita (untruncated) by ACO, step, type
        yrs = sorted(set(pop.years.reshape(-1).tolist()))
        tab = {y: national(y) for y in yrs}
        Mnat = pop.extra["Mnat"] = np.stack([np.stack([tab[y] for y in pop.years[i]]) for i in range(k)])
    tmean = cm.tmeant[None, :]
    # historical benchmark per type in dollars of BY3 (truncated basis)
    w = pop.weights
    R3 = R_by[-1]
    hb = np.zeros((k, 4))
    for s in range(nby):
        dollars = A_by[s] * Mnat[:, s, :]                         # per capita dollars, year s
        trend = Mnat[:, nby - 1, :] / Mnat[:, s, :]               # national trend to BY3
        ra = R3 / np.where(R_by[s] > 0, R_by[s], 1)
        hb += w[:, s:s + 1] * dollars * ra * trend
    eta = D["eta"]
    if P["gap_dist"] == "laplace":  # same draw, mapped through its CDF to a unit-variance Laplace
        u = np.clip(stats.norm.cdf(eta), 1e-12, 1 - 1e-12)
        eta = -np.sign(u - 0.5) * np.log(1 - 2 * np.abs(u - 0.5)) / math.sqrt(2)
    elif P["gap_dist"] == "exponential":  # right-skewed, mean 0, variance 1: E - 1, E ~ Exp(1)
        u = np.clip(stats.norm.cdf(eta), 0, 1 - 1e-12)
        eta = -np.log(1 - u) - 1.0
    for j, py in enumerate(py_list):
        s = nby + j
        gap = P["gap"][j] + P["sigma_gap"] * sd_sc * eta + P["gap_two_sided"] * two
        if P["delta_mean"] is not None:  # (mean, spread) parametrisation of the two classes
            m0, dd = P["delta_mean"][j], P["delta_spread"][j]
            mu = np.where(hi, m0 + (1 - P["pi_hi"]) * dd, m0 - P["pi_hi"] * dd)
        else:
            mu = np.where(hi, P["mu_hi"][j], P["mu_lo"][j])
        rd = P["rho_delta"]
        delta = mu + P["sigma_delta"] * (math.sqrt(rd) * D["a"] + math.sqrt(1 - rd) * D["b"][:, j])
        delta = np.minimum(delta, 0.9)
        scale_cf = level_p * np.exp(v[:, s] - gap)                # counterfactual, M units
        scale_a = scale_cf * (1 - delta)
        c = (q99 / scale_a[:, None]).reshape(-1)
        cov_bad = int((A.cmin.reshape(-1) > c).sum())
        tr = A.sx[s] - _excess(A, s, c).reshape(k, 4)
        M = Mnat[:, s, :]
        cnt = A.cnt[s]
        pf = pop.pyfrac[:, None]
        a_tr = (scale_a[:, None] * tr * M * pf).sum(1)            # truncated actual, dollars
        cf_un = (scale_cf[:, None] * A.sx[s] * M * pf).sum(1)     # untruncated counterfactual
        sav_med = delta * cf_un
        # PY risk ratio
        Rpy = A.sr[s] / np.maximum(cnt, 1)
        if P["py_risk"] == "newcont":
            new = cnt - A.ccnt[s]
            r_new = (A.sr[s] - A.csr[s]) / np.maximum(new, 1) / np.where(R3 > 0, R3, 1)
            r_con = np.minimum(1.0, A.csr[s] / np.maximum(A.ccnt[s], 1) / np.where(R3 > 0, R3, 1))
            ra = (new * r_new + A.ccnt[s] * r_con) / np.maximum(cnt, 1)
        else:
            ra = np.minimum(Rpy / np.where(R3 > 0, R3, 1), 1.03)
        Mb3 = Mnat[:, nby - 1, :]
        if P["update"] == "flat":
            ub_pc = hb * ra + tmean * (M - Mb3)
        else:
            ub_pc = hb * ra * (M / Mb3)
        ub = (ub_pc * cnt * pf).sum(1)
        # quality
        if pop.qual is not None:
            qfac, qscore = pop.qual[j]
        elif py >= 2021:
            met = D["u_q"][:, j] < P["q_met"][j]
            alt = np.clip(P["q_alt_mean"] + P["q_alt_sd"] * D["eps_q"][:, j], 0, 1)
            qfac = np.where(met, 1.0, alt)
            qscore = np.where(met, np.clip(0.85 + 0.05 * D["eps_q"][:, j], 0, 1), alt)
        else:
            qfac = np.clip(P["q_mean"][j] + P["q_sd"][j] * D["eps_q"][:, j], 0, 1)
            qscore = qfac
        lowrev = None if pop.low_rev is None else pop.low_rev[j]
        paid, owed, outc = settle(pop.track[j], pop.agr_year[j], pop.msr[j], pop.mlr[j], qfac,
                                  qscore, ub, a_tr, py, P["seq"], lowrev)
        act = active
        bs = ub - a_tr
        r = bs / ub
        res = dict(
            py=py, n_active=int(act.sum()),
            assigned=float(pop.n[act].sum()),
            savings_medicare=float(sav_med[act].sum()),
            bench_savings=float(bs[act].sum()),
            paid=float(paid[act].sum()), collected=float(owed[act].sum()),
            below=int((act & (bs > 0)).sum()), n_paid=int((act & (paid > 0)).sum()),
            n_owing=int((act & (owed > 0)).sum()),
            at_msr=int((act & (r >= pop.msr[j]) & (bs > 0)).sum()),
            benchmark=float(ub[act].sum()), cf=float(cf_un[act].sum()),
            rate_mean=float(r[act].mean()), rate_sd=float(r[act].std(ddof=1)),
            cover_warn=cov_bad,
        )
        for name, lo_, hi_ in (("lt10k", 0, 10000), ("10_20k", 10000, 20000), ("gt20k", 20000, 10**9)):
            m = act & (pop.n >= lo_) & (pop.n < hi_)
            res[f"sd_{name}"] = float(r[m].std(ddof=1)) if m.sum() > 2 else float("nan")
        # gap decomposition (log-linear, dollar-weighted by benchmark): see MODEL.md 5.4
        res["gross_earners"] = float(bs[act & (paid > 0)].sum())
        res["net_earners"] = res["gross_earners"] - float(paid[act].sum())
        xl = lnl[act] - lnl[act].mean()
        res["slope_level"] = float((xl * (r[act] - r[act].mean())).sum() / max((xl * xl).sum(), 1e-12))
        res["mean_two"] = float(r[act & two].mean()) if (act & two).sum() > 2 else float("nan")
        res["sd_two"] = float(r[act & two].std(ddof=1)) if (act & two).sum() > 2 else float("nan")
        res["gross_negative"] = float(bs[act & (bs < 0)].sum())
        for name, lo_, hi_ in (("lt10k", 0, 10000), ("10_20k", 10000, 20000), ("gt20k", 20000, 10**9)):
            m = act & (pop.n >= lo_) & (pop.n < hi_)
            res[f"mean_{name}"] = float(r[m].mean()) if m.sum() > 2 else float("nan")
            res[f"bs_{name}"] = float(bs[m].sum())
        res["gap_total"] = res["bench_savings"] - res["savings_medicare"]
        res["gap_systematic"] = float((ub * (1 - np.exp(-gap)))[act].sum())
        res["gap_transient"] = float((ub * ((w * v[:, :nby]).sum(1) - v[:, s]))[act].sum())
        res["gap_other"] = res["gap_total"] - res["gap_systematic"] - res["gap_transient"]
        res["net_medicare"] = res["savings_medicare"] - res["paid"] + res["collected"]
        res["net_bench"] = res["bench_savings"] - res["paid"] + res["collected"]
        if detail:
            res["_r"] = r[act]
            res["_n"] = pop.n[act]
            res["_bs"] = bs[act]
            res["_paid"] = paid[act]
            res["_owed"] = owed[act]
        # exits after this PY (decided before the next one)
        ex = act & np.where(bs < 0, D["u_exit"][:, j] < P["p_exit_loss"], D["u_exit"][:, j] < P["p_exit_other"])
        res["exited"] = int(ex.sum())
        active = act & ~ex
        out.append(res)
    return out


# --------------------------------------------------------------------------------------------
# 8. Presets: parameters, targets
# --------------------------------------------------------------------------------------------

PRESETS = {
    "pioneer-2012-2013": dict(
        pop=pop_pioneer, py=[2012, 2013],
        popP=dict(size_median=17000, size_sigma=0.45, size_floor=10000, total_assigned=669000,
                  mix_concentration=200, sigma_theta=0.15, pyfrac=0.975),
        P=dict(update="flat", py_risk="newcont", q_mean=(1.0, 0.85), q_sd=(0.0, 0.05),
               sigma_u0=0.0, k_cluster=0.0, sigma_gap=0.0, sigma_delta=0.005, rho_delta=0.5,
               p_exit_loss=0.64, seq=None, pi_hi=0.45, mu_hi=(0.075, 0.045), mu_lo=(0.015, -0.005),
               gap=(-0.019, -0.002)),
        fit=["mu_hi.0", "mu_lo.0", "mu_hi.1", "mu_lo.1", "gap.0", "gap.1", "pi_hi", "sigma_delta",
             "p_exit_loss"],
    ),
    "mssp-2012-cohort": dict(
        pop=pop_mssp2012, py=[2013],
        popP=dict(size_median=11000, size_sigma=0.75, size_floor=5000, mix_concentration=200,
                  sigma_theta=0.15, pyfrac=0.975),
        P=dict(update="flat", py_risk="newcont", pi_hi=0.5, delta_mean=(0.005,), delta_spread=(0.01,),
               sigma_delta=0.01, rho_delta=0.5, gap=(-0.002,), sigma_gap=0.02, k_cluster=3.0,
               gap_dist="exponential"),
        inherit={"k_cluster": "mssp-2018"},
        fit=["gap.0", "sigma_gap"],
    ),
    "mssp-2018": dict(
        pop=pop_mssp2018, py=[2018],
        popP=dict(),
        P=dict(update="flat", py_risk="newcont", pi_hi=0.5, delta_mean=(0.01,), delta_spread=(0.02,),
               sigma_delta=0.01, rho_delta=0.5, gap=(0.0078,), sigma_gap=0.02, k_cluster=3.0,
               gap_two_sided=0.025, gap_dist="exponential"),
        fit=["gap.0", "sigma_gap", "k_cluster", "gap_two_sided", "two_sided_sd_scale", "pi_size",
             "pi_hi", "delta_spread.0", "rtm_level_share"],
    ),
    "mssp-2024": dict(
        pop=pop_mssp2024, py=[2024],
        popP=dict(total_assigned=10_300_000, low_revenue_share=0.5),
        P=dict(update="pct", py_risk="cap3", pi_hi=0.5, delta_mean=(0.015,), delta_spread=(0.03,),
               sigma_delta=0.01, rho_delta=0.5, q_met=(0.9,), gap=(0.035,), sigma_gap=0.02,
               gap_dist="exponential"),
        inherit={kk: "mssp-2018" for kk in ("k_cluster", "two_sided_sd_scale",
                                            "rtm_level_share", "pi_hi", "pi_size", "delta_spread.0")},
        fit=["gap.0", "sigma_gap", "gap_two_sided"],
    ),
}

# Targets: name -> (value, tolerance kind, tolerance). kind: rel (fraction), abs (units), pts
TARGETS = {
    "pioneer-2012-2013": {
        "savings_medicare_total": (384.2e6, "rel", 0.05),
        "savings_medicare.0": (279.7e6, "rel", 0.05),
        "savings_medicare.1": (104.5e6, "rel", 0.05),
        "net_medicare_total": (249e6, "rel", 0.05),
        "n_paid.0": (13, "abs", 2), "n_paid.1": (11, "abs", 2),
        "bench_savings.0": (147e6, "rel", 0.15), "bench_savings.1": (96e6, "rel", 0.15),
        "exited.0": (9, "abs", 2),
        # published, not acceptance targets (reported, lower weight in the fit):
        "below.0": (18, "i_abs", 2), "n_owing.0": (1.5, "i_abs", 1), "n_owing.1": (3, "i_abs", 1),
        "paid.0": (76e6, "i_rel", .1), "paid.1": (68e6, "i_rel", .1),
        "n_active.1": (23, "i_abs", 1),
    },
    "mssp-2012-cohort": {
        "below.0": (54, "abs", 3), "n_paid.0": (29, "abs", 3),
        "paid.0": (126e6, "i_rel", .25), "net_earners.0": (128e6, "i_rel", .25),
    },
    "mssp-2018": {
        "rate_mean.0": (0.01566, "rel", 0.10), "rate_sd.0": (0.04360, "rel", 0.10),
        "sd_lt10k.0": (0.05268, "rel", 0.10), "sd_10_20k.0": (0.03981, "rel", 0.10),
        "sd_gt20k.0": (0.03171, "rel", 0.10),
        "share_below.0": (0.6642, "pts", 0.03), "share_at_msr.0": (0.3741, "pts", 0.03),
        "bench_savings.0": (1.7058e9, "rel", 0.10), "paid.0": (0.98398e9, "rel", 0.10),
        "collected.0": (17.585e6, "rel", 0.10), "net_bench.0": (0.73938e9, "rel", 0.10),
        "n_owing.0": (11, "i_abs", 3),
        # auxiliary, computed from the PY2018 file (guide the size gradient and selection into risk)
        "mean_lt10k.0": (0.01785, "i_abs", 0.003), "mean_10_20k.0": (0.01577, "i_abs", 0.003),
        "mean_gt20k.0": (0.01224, "i_abs", 0.003),
        "mean_two.0": (0.02389, "i_abs", 0.003), "sd_two.0": (0.03175, "i_abs", 0.003),
        "slope_level.0": (0.0360, "i_abs", 0.01),
    },
    "mssp-2024": {
        "share_paid.0": (0.75, "i_abs", 0.03), "paid.0": (4.1e9, "i_rel", 0.10),
        "n_owing.0": (16, "i_abs", 4), "collected.0": (20.3e6, "i_rel", 0.5),
        "net_bench.0": (2.4e9, "i_rel", 0.15), "bench_savings.0": (6.55e9, "i_rel", 0.05),
    },
}

# Calibrated parameter values (written by --calibrate; MODEL.md section 8 lists them)
CALIBRATED_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "calibrated.json")


def load_calibrated():
    try:
        with open(CALIBRATED_FILE) as fh:
            return json.load(fh)
    except FileNotFoundError:
        return {}


def params_for(name, overrides=None):
    P = dict(ACO_DEFAULTS)
    P.update(PRESETS[name]["P"])
    allcal = load_calibrated()
    for kk, src_preset in PRESETS[name].get("inherit", {}).items():
        if kk in allcal.get(src_preset, {}):
            set_param(P, kk, allcal[src_preset][kk])
    cal = allcal.get(name, {})
    for kk, vv in cal.items():
        set_param(P, kk, vv)
    if overrides:
        for kk, vv in overrides.items():
            set_param(P, kk, vv)
    npy = len(PRESETS[name]["py"])
    for key in ("gap", "mu_hi", "mu_lo", "q_mean", "q_sd", "q_met", "delta_spread") + (
            ("delta_mean",) if P.get("delta_mean") is not None else ()):
        t = tuple(P[key])
        P[key] = t + (t[-1],) * (npy - len(t))
    return P


def set_param(P, key, val):
    if "." in key:
        base, i = key.split(".")
        i = int(i)
        t = list(P[base]) if isinstance(P[base], (list, tuple)) else [P[base]]
        while len(t) <= i:
            t.append(t[-1])
        t[i] = float(val)
        P[base] = tuple(t)
    else:
        P[key] = val


# --------------------------------------------------------------------------------------------
# 9. Replicates, metrics, report
# --------------------------------------------------------------------------------------------

class Runner:
    """Holds Stage-A results and ACO draws for R replicates (common random numbers)."""

    def __init__(self, name, reps, seed=20240601, verbose=True, numpy_stage_a=False, conc_reps=3):
        self.name, self.reps, self.seed = name, reps, seed
        spec = PRESETS[name]
        self.B = dict(BENE_DEFAULTS)
        self.cm = CostModel(**self.B)
        self.py = spec["py"]
        self.items = []
        t0 = time.time()
        for r in range(reps):
            rng_pop = np.random.default_rng([seed, r, 1])
            rng_ben = np.random.default_rng([seed, r, 2])
            rng_aco = np.random.default_rng([seed, r, 3])
            popP = dict(spec["popP"])
            if spec["pop"] in (pop_mssp2018, pop_mssp2024):
                pop = spec["pop"](rng_pop, popP, self.cm)
            else:
                pop = spec["pop"](rng_pop, popP)
            if HAVE_NUMBA and not numpy_stage_a:
                A = stage_a_kernel(pop, self.cm, self.B, seed, r, keep_x0=(r < conc_reps))
            else:
                A = stage_a(pop, self.cm, self.B, rng_ben)
            D = aco_draws(rng_aco, len(pop.n), pop.lags.shape[0], len(self.py))
            self.items.append((pop, A, D))
        self.t_stage_a = time.time() - t0
        self.bene_years = sum(int(p.ntype.sum()) * p.lags.shape[0] for p, _, _ in self.items)
        if verbose:
            print(f"[{name}] stage A: {reps} replicates, {self.bene_years/1e6:.1f}M beneficiary-years "
                  f"in {self.t_stage_a:.1f}s", file=sys.stderr)

    def run(self, P, detail=False):
        return [stage_b(pop, A, D, P, self.cm, self.py, detail) for pop, A, D in self.items]


def metrics(rep_out):
    """Flatten one replicate's per-PY results into named metrics."""
    m = {}
    for j, res in enumerate(rep_out):
        for kk, vv in res.items():
            if not kk.startswith("_"):
                m[f"{kk}.{j}"] = vv
        na = res["n_active"]
        m[f"share_below.{j}"] = res["below"] / na
        m[f"share_at_msr.{j}"] = res["at_msr"] / na
        m[f"share_paid.{j}"] = res["n_paid"] / na
    for kk in ("savings_medicare", "bench_savings", "paid", "collected", "net_medicare", "net_bench"):
        m[f"{kk}_total"] = sum(res[kk] for res in rep_out)
    return m


def summarize(outs, quantiles=True):
    ms = [metrics(o) for o in outs]
    keys = ms[0].keys()
    S = {}
    with np.errstate(all="ignore"):
        import warnings
        warnings.simplefilter("ignore", RuntimeWarning)
        for kk in keys:
            a = np.array([x[kk] for x in ms], float)
            if quantiles:
                S[kk] = (float(np.nanmean(a)), float(np.nanquantile(a, 0.025)), float(np.nanquantile(a, 0.975)),
                         float(np.nanstd(a, ddof=1) / math.sqrt(max(np.isfinite(a).sum(), 1))) if len(a) > 1 else 0.0)
            else:
                S[kk] = (float(np.nanmean(a)), 0.0, 0.0)
    return S


def check(name, S):
    rows = []
    for kk, (val, kind, tol) in TARGETS[name].items():
        mean, lo, hi = S[kk][:3]
        if kind == "rel":
            ok = abs(mean / val - 1) <= tol
            tol_s = f"±{tol*100:.0f}%"
        elif kind == "abs":
            ok = abs(mean - val) <= tol
            tol_s = f"±{tol:g}"
        elif kind == "pts":
            ok = abs(mean - val) <= tol
            tol_s = f"±{tol*100:.0f} pts"
        else:
            ok = None
            tol_s = "(info)"
        rows.append((kk, val, mean, lo, hi, tol_s, ok, S[kk][3]))
    return rows


def fmt(v, key):
    if any(s in key for s in ("rate_", "sd_", "share_", "mean_")):
        return f"{v*100:.2f}%"
    if abs(v) >= 1e5:
        return f"${v/1e6:,.1f}M"
    return f"{v:.2f}"


def print_report(name, S, rows, conc=None, stream=sys.stdout):
    print(f"\n## {name}", file=stream)
    print("| target | published | simulated mean (MC s.e.) | 95% interval over replicates | tolerance | pass |", file=stream)
    print("|---|---|---|---|---|---|", file=stream)
    for kk, val, mean, lo, hi, tol_s, ok, se in rows:
        p = "n/a" if ok is None else ("PASS" if ok else "FAIL")
        print(f"| {kk} | {fmt(val, kk)} | {fmt(mean, kk)} (s.e. {fmt(se, kk)}) | {fmt(lo, kk)} – {fmt(hi, kk)} | {tol_s} | {p} |",
              file=stream)
    if conc is not None:
        print("| concentration top 1/5/10/20/50% (X) | 14.9/41.5/60.0/79.1/95.7 | "
              + "/".join(f"{c*100:.1f}" for c in conc[0]) + " | – | ±2 pts each | "
              + ("PASS" if all(abs(a*100 - b) <= 2 for a, b in zip(conc[0], (14.9, 41.5, 60.0, 79.1, 95.7))) else "FAIL")
              + " |", file=stream)
        print("| concentration, aged dollars incl. ACO level + dual scale | 14.9/41.5/60.0/79.1/95.7 | "
              + "/".join(f"{c*100:.1f}" for c in conc[1]) + " | – | ±2 pts each | "
              + ("PASS" if all(abs(a*100 - b) <= 2 for a, b in zip(conc[1], (14.9, 41.5, 60.0, 79.1, 95.7))) else "FAIL")
              + " |", file=stream)


# --------------------------------------------------------------------------------------------
# 10. Calibration
# --------------------------------------------------------------------------------------------

INFO_WEIGHT = 0.1


def objective_factory(runner, name, keys, P0):
    tg = TARGETS[name]

    def f(x):
        P = dict(P0)
        for kk, vv in zip(keys, x):
            set_param(P, kk, vv)
        S = summarize(runner.run(P), quantiles=False)
        err = 0.0
        for t, (val, kind, tol) in tg.items():
            mean = S[t][0]
            if not np.isfinite(mean):
                err += 100.0
                continue
            wgt = INFO_WEIGHT if kind.startswith("i_") else 1.0   # published/auxiliary: lower weight
            if kind in ("rel", "i_rel"):
                d = (mean / val - 1) / tol
            else:
                d = (mean - val) / tol
            err += wgt * d * d
        return err
    return f


FIT_BOUNDS = {
    "mu_hi.0": (0.0, 0.2), "mu_hi.1": (0.0, 0.2), "mu_lo.0": (-0.05, 0.1), "mu_lo.1": (-0.05, 0.1),
    "gap.0": (-0.1, 0.1), "gap.1": (-0.1, 0.1), "pi_hi": (0.05, 0.95), "sigma_u0": (0.0, 0.05),
    "sigma_gap": (0.0, 0.1), "k_cluster": (0.0, 8.0), "p_exit_loss": (0.0, 1.0),
    "sigma_delta": (0.0, 0.05), "gap_two_sided": (-0.05, 0.05), "two_sided_sd_scale": (0.2, 1.5),
    "pi_size": (-0.5, 0.5), "rtm_level_share": (0.0, 0.5), "delta_spread.0": (0.0, 0.25), "delta_spread.1": (0.0, 0.25),
}


def calibrate(name, reps, seed, x0=None, maxiter=600):
    runner = Runner(name, reps, seed)
    P0 = params_for(name)
    keys = PRESETS[name]["fit"]
    if x0 is None:
        x0 = [get_param(P0, kk) for kk in keys]
    f = objective_factory(runner, name, keys, P0)
    lo = np.array([FIT_BOUNDS[kk][0] for kk in keys])
    hi = np.array([FIT_BOUNDS[kk][1] for kk in keys])

    # Nelder-Mead on logit-transformed parameters (keeps every trial inside its bounds)
    def to_x(u):
        return lo + (hi - lo) / (1 + np.exp(-np.asarray(u)))

    def to_u(x):
        p = np.clip((np.asarray(x) - lo) / (hi - lo), 1e-4, 1 - 1e-4)
        return np.log(p / (1 - p))
    t0 = time.time()
    res = optimize.minimize(lambda u: f(to_x(u)), to_u(x0), method="Nelder-Mead",
                            options=dict(maxiter=maxiter, xatol=1e-4, fatol=1e-4, adaptive=True))
    x = to_x(res.x)
    print(f"[{name}] calibration: objective {res.fun:.4f} after {res.nfev} evaluations, "
          f"{time.time()-t0:.0f}s", file=sys.stderr)
    cal = load_calibrated()
    cal[name] = {kk: float(v) for kk, v in zip(keys, x)}
    with open(CALIBRATED_FILE, "w") as fh:
        json.dump(cal, fh, indent=2)
    return cal[name]


def get_param(P, key):
    if "." in key:
        base, i = key.split(".")
        return P[base][int(i)]
    return P[key]


# --------------------------------------------------------------------------------------------
# 11. Stage-A checks
# --------------------------------------------------------------------------------------------

def check_stage_a():
    B = dict(BENE_DEFAULTS)
    cm = CostModel(**B)
    rng = np.random.default_rng(7)
    n = 2_000_000
    z0 = rng.standard_normal(n)
    xs = cm.X(z0)
    print("table mean", cm.X(rng.standard_normal(4_000_000)).mean(), "q99", cm.q99, "E[min(X,q99)]", cm.tmean)
    print("top shares", [round(s * 100, 2) for s in top_shares(xs)])
    rho = B["rho"]
    c10 = stats.norm.ppf(0.9)
    z1 = rho * z0 + math.sqrt(1 - rho ** 2) * rng.standard_normal(n)
    z2 = rho * z1 + math.sqrt(1 - rho ** 2) * rng.standard_normal(n)
    t = z0 > c10
    print("P(top10 in yrs 2 and 3 | top10 yr1)", ((z1 > c10) & (z2 > c10))[t].mean())
    X0, X1, X2 = cm.X(z0), cm.X(z1), cm.X(z2)
    pers = t & (z1 > c10) & (z2 > c10)
    print("persistently high share", pers.mean(), "their share of 3-yr spending",
          (X0 + X1 + X2)[pers].sum() / (X0 + X1 + X2).sum())
    xi = rng.standard_normal(n)
    R = np.exp(B["risk_kappa"] * (B["risk_alpha"] * z0 + math.sqrt(1 - B["risk_alpha"] ** 2) * xi)
               - B["risk_kappa"] ** 2 / 2)
    print("risk R^2 on truncated next-year cost", np.corrcoef(R, np.minimum(X1, cm.q99))[0, 1] ** 2,
          "mean R", R.mean())
    print("CV truncated", np.minimum(X0, cm.q99).std() / np.minimum(X0, cm.q99).mean())


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", action="append")
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--calibrate", action="store_true")
    ap.add_argument("--cal-reps", type=int, default=None)
    ap.add_argument("--maxiter", type=int, default=800)
    ap.add_argument("--check-stage-a", action="store_true")
    ap.add_argument("--set", action="append", default=[], help="param=value overrides")
    ap.add_argument("--json", help="write summary json")
    a = ap.parse_args(argv)
    if a.check_stage_a:
        check_stage_a()
        return
    names = a.preset or list(PRESETS)
    default_reps = {"pioneer-2012-2013": 200, "mssp-2012-cohort": 200, "mssp-2018": 16, "mssp-2024": 12}
    summary = {}
    for name in names:
        reps = a.reps or default_reps[name]
        if a.calibrate:
            cal_reps = a.cal_reps or {"pioneer-2012-2013": 40, "mssp-2012-cohort": 60,
                                      "mssp-2018": 6, "mssp-2024": 6}[name]
            cal = calibrate(name, cal_reps, a.seed + 1, maxiter=a.maxiter)  # other seed than the report
            print(f"[{name}] calibrated: {cal}", file=sys.stderr)
        ov = dict(kv.split("=") for kv in a.set)
        ov = {kk: (float(vv) if vv.replace('.', '', 1).replace('-', '', 1).replace('e', '', 1).isdigit() else vv)
              for kk, vv in ov.items()}
        P = params_for(name, ov)
        t0 = time.time()
        runner = Runner(name, reps, a.seed)
        outs = runner.run(P)
        S = summarize(outs)
        rows = check(name, S)
        conc = (np.mean([A.conc for _, A, _ in runner.items if A.conc is not None], 0),
                np.mean([A.conc_dollars for _, A, _ in runner.items if A.conc is not None], 0))
        print_report(name, S, rows, conc)
        extra = [kk for kk in S if kk.split(".")[0] in ("savings_medicare", "bench_savings", "paid",
                 "collected", "net_medicare", "net_bench", "below", "n_paid", "n_owing", "exited",
                 "n_active", "assigned", "benchmark", "gap_total", "gap_systematic", "gap_transient", "gap_other",
                 "cover_warn", "rate_mean", "rate_sd", "gross_earners", "net_earners", "at_msr")]
        print("\nall metrics (mean [2.5%, 97.5%]):")
        for kk in sorted(extra):
            mm, lo, hi = S[kk][:3]
            print(f"  {kk:28s} {fmt(mm, kk):>12s}  [{fmt(lo, kk)}, {fmt(hi, kk)}]")
        print(f"  runtime {time.time()-t0:.1f}s incl. stage A {runner.t_stage_a:.1f}s "
              f"({runner.bene_years/1e6:.1f}M beneficiary-years)")
        summary[name] = dict(S={kk: v for kk, v in S.items()}, rows=[list(r) for r in rows],
                             conc=[list(map(float, c)) for c in conc], params={kk: (list(v) if isinstance(v, tuple) else v) for kk, v in P.items()})
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(summary, fh, indent=1, default=str)


if __name__ == "__main__":
    main()
