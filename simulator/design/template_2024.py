#!/usr/bin/env python3
"""Writes the listed-ACO table of the mssp-2024 preset from the PY2022 Public Use File
(MODEL.md 7.2, template), with Python's own seeded generator (seed 2024), so the preset is fixed:

    python3 simulator/design/template_2024.py proto/testdata/puf/mssp_puf_py2022.csv

476 of the 482 rows sampled without replacement, sizes scaled to 10.3M assigned; ENHANCED kept
(145; extras become Level E), the other ACOs reassigned to the 2024 mix E 172, D 15, C 14, B 90,
A 40, the largest (times a lognormal(0, 0.5) jitter) furthest along the glide path [I];
two-sided MSR: the ACO's 2022 choice when it was two-sided, else drawn from the 2022 two-sided
choices; one-sided: the variable scale. Quality is left to the scenario (2024: met w.p. 0.9).
"""
import csv
import math
import random
import sys

NATIONAL_AGND_2022 = 10450.0
REL = (8.4, 1.07, 1.60, 1.0)
MIX = ("N_AB_Year_ESRD_PY", "N_AB_Year_DIS_PY", "N_AB_Year_AGED_Dual_PY", "N_AB_Year_AGED_NonDual_PY")
TRACK = {"A": "TRACK_BASIC_A", "B": "TRACK_BASIC_B", "C": "TRACK_BASIC_C", "D": "TRACK_BASIC_D",
         "E": "TRACK_BASIC_E", "EN": "TRACK_ENHANCED"}
MIX_2024 = {"A": 40, "B": 90, "C": 14, "D": 15, "E": 172, "EN": 145}   # [I: 2/3 in E/EN]
TWO = ("C", "D", "E", "EN")


def num(s):
    s = str(s).replace(",", "").replace("%", "").strip()
    try:
        return float(s)
    except ValueError:  # suppressed small cells ("*") and blanks
        return float("nan")


def main():
    rng = random.Random(2024)
    rows = list(csv.DictReader(open(sys.argv[1], newline="")))
    idx = sorted(rng.sample(range(len(rows)), 476))
    rows = [rows[i] for i in idx]
    n22 = [num(r["N_AB"]) for r in rows]
    n = [round(x * 10_300_000 / sum(n22)) for x in n22]
    tr = [r["Current_Track"] for r in rows]
    en = [i for i, t in enumerate(tr) if t == "EN"]
    if len(en) > MIX_2024["EN"]:
        for i in rng.sample(en, len(en) - MIX_2024["EN"]):
            tr[i] = "E"
    rest = [i for i, t in enumerate(tr) if t != "EN"]
    rest.sort(key=lambda i: -(n[i] * math.exp(0.5 * rng.gauss(0, 1))))
    codes = []
    for c in ("E", "D", "C", "B", "A"):
        codes += [c] * MIX_2024[c]
    codes = (codes + ["A"] * len(rest))[: len(rest)]
    for i, c in zip(rest, codes):
        tr[i] = c
    pool = [num(r["MinSavPerc"]) / 100 for r in csv.DictReader(open(sys.argv[1], newline=""))
            if r["Current_Track"] in TWO and not math.isnan(num(r["MinSavPerc"]))]
    print(f"# 476 ACOs templated from {sys.argv[1].split('/')[-1]} (simulator/design/template_2024.py, seed 2024)")
    print("aco = [")
    for i, r in enumerate(rows):
        mm, dd, yyyy = r["Current_Start_Date"].split()[0].split("/")
        mix = [num(r[c]) for c in MIX]
        mix = [0.0 if math.isnan(m) else m for m in mix]
        tot = sum(mix)
        mix = [m / tot for m in mix]
        py = num(r["N_AB_Year_PY"])
        level = num(r["ABtotBnchmk"]) / py / sum(m * rel * NATIONAL_AGND_2022 for m, rel in zip(mix, REL))
        msr22 = num(r["MinSavPerc"]) / 100
        if tr[i] in TWO:
            msr = msr22 if (r["Current_Track"] in TWO and not math.isnan(msr22)) else rng.choice(pool)
        else:
            msr = 0.0  # one-sided: the variable scale
        print(f'  {{ n = {n[i]}, track = "{TRACK[tr[i]]}", start = "{yyyy}-{mm}-{dd}", '
              f'period = {int(num(r["Agreement_Period_Num"]))}, msr = {msr:.6g}, '
              f'mix = [{", ".join(f"{m:.6f}" for m in mix)}], pyfrac = {py / num(r["N_AB"]):.6f}, level = {level:.6f} }},')
    print("]")


if __name__ == "__main__":
    main()
