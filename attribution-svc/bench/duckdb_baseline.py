#!/usr/bin/env python3
"""DuckDB baseline for `attribution-svc assign`: a simplified plurality on the files that
`attribution-svc synth` writes, as an analyst with DuckDB would do it.

Primary care codes only (the synthetic generator's professional and FQHC/RHC codes), each line's
entity its participant's ACO (TIN for professional lines, CCN for health centers) or else the TIN
or CCN itself, allowed charges summed per beneficiary and entity, the top entity per beneficiary
written as CSV (or Parquet). No eligibility screens, steps, claim versions or tie-break: it does
less than `assign`, so it is a lower bound on a database's time for the same job.

    pip install duckdb
    python3 attribution-svc/bench/duckdb_baseline.py DIR --threads 2 --format csv --repeat 3 \
        --ours target/release/attribution-svc

prints one line per run: seconds, claim lines, lines/s. With `--ours BIN` the same run also times
`BIN assign` (the full assignment, written to a temporary `--out`) on the same files with the same
`--threads`, alternating with DuckDB run by run (so both see the same machine load), then prints
the best times, their ratio and our peak memory (the largest resident set of the `assign` runs).
"""

import argparse
import os
import resource
import subprocess
import tempfile
import time

import duckdb

PRIMARY_CARE = [
    "99201", "99202", "99203", "99204", "99205", "99211", "99212", "99213", "99214", "99215",
    "99304", "99305", "99306", "99307", "99308", "99309", "99310", "99315", "99316",
    "99341", "99342", "99344", "99345", "99347", "99348", "99349", "99350",
    "99490", "99491", "99495", "99496", "99497", "99484", "G0402", "G0438", "G0439",
    "G0444", "G2211", "G0466", "G0467",
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--format", choices=["csv", "parquet"], default="csv")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--ours", help="attribution-svc binary: also time `assign` on the same files")
    ap.add_argument("--performance-year", default="2024")
    a = ap.parse_args()
    ext = a.format
    claims = os.path.join(a.dir, f"claims.{ext}")
    parts = os.path.join(a.dir, f"participants.{ext}")
    if ext == "csv":
        src = (
            f"read_csv('{claims}', header = true, columns = {{"
            "'beneficiary_id': 'VARCHAR', 'claim_id': 'VARCHAR', 'line_number': 'INTEGER', "
            "'service_date': 'DATE', 'hcpcs': 'VARCHAR', 'revenue_center': 'VARCHAR', "
            "'place_of_service': 'VARCHAR', 'claim_type': 'VARCHAR', 'tin': 'VARCHAR', "
            "'ccn': 'VARCHAR', 'npi': 'VARCHAR', 'specialty': 'VARCHAR', "
            "'allowed': 'DECIMAL(18,2)', 'adjustment': 'VARCHAR'})"
        )
        psrc = (
            f"read_csv('{parts}', header = true, columns = {{"
            "'aco_id': 'VARCHAR', 'kind': 'VARCHAR', 'id': 'VARCHAR'})"
        )
    else:
        src = f"read_parquet('{claims}')"
        psrc = f"read_parquet('{parts}')"
    codes = ", ".join(f"'{c}'" for c in PRIMARY_CARE)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, f"assignments.{ext}")
        fmt = "(HEADER, DELIMITER ',')" if ext == "csv" else "(FORMAT PARQUET)"
        query = f"""
        COPY (
          WITH p AS (SELECT id, any_value(aco_id) AS aco_id FROM {psrc}
                     WHERE kind IN ('tin', 'ccn') GROUP BY id),
          c AS (SELECT beneficiary_id, allowed,
                       CASE WHEN claim_type = 'professional' THEN tin ELSE ccn END AS provider
                FROM {src} WHERE hcpcs IN ({codes})),
          e AS (SELECT c.beneficiary_id, coalesce('aco:' || p.aco_id, c.provider) AS entity,
                       sum(c.allowed) AS total
                FROM c LEFT JOIN p ON p.id = c.provider GROUP BY ALL)
          SELECT beneficiary_id, arg_max(entity, total) AS entity, max(total) AS allowed
          FROM e GROUP BY beneficiary_id
        ) TO '{out}' {fmt}
        """
        con = duckdb.connect()
        con.execute(f"SET threads = {a.threads}")
        lines = con.execute(f"SELECT count(*) FROM {src}").fetchone()[0]
        best = {"duckdb": float("inf"), "ours": float("inf")}

        def timed(key, name, run):
            t = time.perf_counter()
            run()
            s = time.perf_counter() - t
            best[key] = min(best[key], s)
            print(
                f"{name} threads={a.threads}: {s:.3f} s, {lines} claim lines, "
                f"{lines / s / 1e6:.2f} million lines/s",
                flush=True,
            )

        for _ in range(a.repeat):
            if a.ours:
                ours_out = os.path.join(tmp, f"ours.{ext}")
                cmd = [
                    a.ours, "assign", "--performance-year", a.performance_year,
                    "--participants", parts,
                    "--beneficiaries", os.path.join(a.dir, f"beneficiaries.{ext}"),
                    "--claims", claims, "--out", ours_out, "--threads", str(a.threads),
                ]
                timed("ours", f"ours {ext}", lambda: subprocess.run(
                    cmd, check=True, stderr=subprocess.DEVNULL))
            timed("duckdb", f"duckdb {duckdb.__version__} {ext}", lambda: con.execute(query))
        if a.ours:
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            print(
                f"best of {a.repeat}: ours {best['ours']:.3f} s, duckdb {best['duckdb']:.3f} s; "
                f"duckdb/ours = {best['duckdb'] / best['ours']:.2f}x; "
                f"ours peak RSS {peak:.0f} MiB; load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
