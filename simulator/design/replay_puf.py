#!/usr/bin/env python3
"""Writes the listed-ACO table of a replay preset from an MSSP Public Use File (MODEL.md 7.2).

    python3 simulator/design/replay_puf.py proto/testdata/puf/mssp_puf_py2018.csv 2018

prints one `population.aco` inline table per PUF row (TOML), to paste below `[population]` of
`simulator/presets/mssp-2018.toml`: assigned (N_AB), current track, current agreement start and
period, MinSavPerc, QualScore, the enrollment-type mix of performance-year person-years, person-years
per assigned beneficiary (N_AB_Year_PY / N_AB) and the observed level (ABtotBnchmk / N_AB_Year_PY
over the national per capita of the ACO's mix, MODEL.md 4.2; national values as model/mod.rs).
"""
import csv
import sys

NATIONAL_AGND = {2018: 9850.0, 2022: 10450.0}
REL = (8.4, 1.07, 1.60, 1.0)
MIX = ("N_AB_Year_ESRD_PY", "N_AB_Year_DIS_PY", "N_AB_Year_AGED_Dual_PY", "N_AB_Year_AGED_NonDual_PY")


def num(s):
    return float(str(s).replace(",", "").replace("%", ""))


def track(row):
    for col, name in (("Current_Track_1", "TRACK_1"), ("Current_Track_2", "TRACK_2"),
                      ("Current_Track_3", "TRACK_3"), ("Current_Track_1_Plus", "TRACK_1_PLUS")):
        if row.get(col, "0").strip() == "1":
            return name
    raise SystemExit(f"no current track: {row['ACO_ID']}")


def main():
    path, year = sys.argv[1], int(sys.argv[2])
    rows = list(csv.DictReader(open(path, newline="")))
    print(f"# {len(rows)} ACOs from {path.split('/')[-1]} (simulator/design/replay_puf.py)")
    print("aco = [")
    for r in rows:
        d = r["Current_Start_Date"].split()[0]          # MM/DD/YYYY
        mm, dd, yyyy = d.split("/")
        n = int(num(r["N_AB"]))
        mix = [num(r[c]) for c in MIX]
        tot = sum(mix)
        mix = [m / tot for m in mix]
        py = num(r["N_AB_Year_PY"])
        nat = sum(m * rel * NATIONAL_AGND[year] for m, rel in zip(mix, REL))
        level = num(r["ABtotBnchmk"]) / py / nat
        print(f'  {{ n = {n}, track = "{track(r)}", start = "{yyyy}-{mm}-{dd}", '
              f'period = {int(num(r["Agreement_Period_Num"]))}, msr = {num(r["MinSavPerc"]):.6g}, '
              f'quality = {num(r["QualScore"]):.6g}, '
              f'mix = [{", ".join(f"{m:.6f}" for m in mix)}], pyfrac = {py / n:.6f}, level = {level:.6f} }},')
    print("]")


if __name__ == "__main__":
    main()
