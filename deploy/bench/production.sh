#!/usr/bin/env bash
# Issue 11's production figures in one run, on the release binaries (BENCHMARKS.md, "Load
# generator, framework limit, overload"):
#
#   1. the framework limit: the trivial tonic echo service, closed loop;
#   2. per store backend (SQLite file, PostgreSQL): Reconcile and ComputeBenchmark with durable
#      storage, closed loop, as a fraction of echo; each again open loop at half that rate (p99,
#      coordinated omission corrected); the attribution upload stream (claim lines/s);
#   3. the sustained rate: settlement-svc (SQLite, its default concurrency limit and queue)
#      Reconcile closed loop over a longer phase (60 s; the 5 s bursts of part 2 overstate what
#      lasts 10 minutes);
#   4. overload: the same server, open loop at 3x the sustained rate (RESOURCE_EXHAUSTED for the
#      excess, p99 of the accepted calls, RSS sampled);
#   5. soak: Reconcile open loop at 70% of the sustained rate for 10 minutes (errors, RSS sampled).
#
# Usage: cargo build --release --locked -p simulator -p settlement-svc -p benchmark-svc -p attribution-svc
#        deploy/bench/production.sh [--quick]
# --quick: 5 s phases, 10 s sustained phase, 15 s overload, 30 s soak, a smaller upload (5-8
# minutes instead of 25-30).
# Environment: ACORN_BIN (default target/release), ACORN_BENCH_DATABASE_URL (default
# postgres://postgres@127.0.0.1:5432/test; a schema of its own is made and dropped with psql; set
# it empty to skip PostgreSQL), ACORN_BENCH_OUT (where logs, JSON reports and RSS samples go;
# default a new /tmp/acorn-bench.* directory), ACORN_BENCH_PORT (first of 8 ports, default 50160),
# ACORN_BENCH_MAX_CONCURRENCY (passed as --max-concurrency to the sustained, overload and soak
# servers; default: none, i.e. the servers' own default limit and queue), ACORN_BENCH_RATE (the
# sustained Reconcile rate to use instead of measuring it).
# Needs: bash, jq, awk, psql (for PostgreSQL). Servers log at RUST_LOG=info (the access log on).
set -euo pipefail

quick=0
[[ "${1:-}" == "--quick" ]] && quick=1
bin=${ACORN_BIN:-target/release}
pg=${ACORN_BENCH_DATABASE_URL-postgres://postgres@127.0.0.1:5432/test}
out=${ACORN_BENCH_OUT:-$(mktemp -d /tmp/acorn-bench.XXXXXX)}
port=${ACORN_BENCH_PORT:-50160}
limit=()
[[ -n "${ACORN_BENCH_MAX_CONCURRENCY:-}" ]] && limit=(--max-concurrency "$ACORN_BENCH_MAX_CONCURRENCY")
mkdir -p "$out"
export RUST_LOG=${RUST_LOG:-info}

if ((quick)); then
    phase=5s warmup=2s sustain=10s overload=15s soak=30s
    upload=(--beneficiaries 100000 --batch-beneficiaries 500 --stream-messages 25 -n 8)
else
    phase=30s warmup=5s sustain=60s overload=60s soak=10m
    upload=(--beneficiaries 1000000 --batch-beneficiaries 770 --stream-messages 50 -n 26)
fi
# Any phase length may be set: ACORN_BENCH_PHASE, _WARMUP, _SUSTAIN, _OVERLOAD, _SOAK (e.g. 10s, 10m).
phase=${ACORN_BENCH_PHASE:-$phase} warmup=${ACORN_BENCH_WARMUP:-$warmup} sustain=${ACORN_BENCH_SUSTAIN:-$sustain}
overload=${ACORN_BENCH_OVERLOAD:-$overload} soak=${ACORN_BENCH_SOAK:-$soak}
closed=(-c 64 --connections 4)

[[ -x "$bin/simulator" ]] || { echo "missing $bin/simulator: build the release binaries first (see the header)" >&2; exit 2; }
# ACORN_BENCH_PARTS: which parts run (default all three).
parts=${ACORN_BENCH_PARTS:-throughput overload soak}
part() { [[ " $parts " == *" $1 "* ]]; }
# have BINARY: whether it is built (a missing service's rows are skipped, loudly).
have() {
    [[ -x "$bin/$1" ]] && return 0
    log "SKIPPED: $bin/$1 is not built"
    return 1
}
command -v jq > /dev/null || { echo "jq is needed to read the JSON reports" >&2; exit 2; }

pids=()
schema=""
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
    wait 2> /dev/null || true
    if [[ -n "$schema" ]]; then
        for s in $(psql -Atq "$pg" -c "SELECT nspname FROM pg_namespace WHERE nspname LIKE '${schema}_%'"); do
            psql -q "$pg" -c "DROP SCHEMA $s CASCADE" > /dev/null 2>&1 || true
        done
    fi
}
trap cleanup EXIT

log() { printf '%s  %s\n' "$(date -u +%H:%M:%S)" "$*" | tee -a "$out/summary.txt" >&2; }

# start NAME PORT COMMAND...: runs COMMAND in the background, waits until PORT accepts.
start() {
    local name=$1 p=$2
    shift 2
    "$@" > "$out/$name.log" 2>&1 &
    server=$!
    pids+=("$server")
    for _ in $(seq 1 300); do
        if (echo > "/dev/tcp/127.0.0.1/$p") 2> /dev/null; then return 0; fi
        kill -0 "$server" 2> /dev/null || { echo "$name exited: see $out/$name.log" >&2; exit 1; }
        sleep 0.1
    done
    echo "$name not listening on $p after 30 s" >&2
    exit 1
}

stop() { kill "$1" 2> /dev/null || true; wait "$1" 2> /dev/null || true; }

# load NAME ARGS...: one simulator load run, its report in $out/NAME.json.
load() {
    local name=$1
    shift
    "$bin/simulator" load --json "$out/$name.json" "$@" > "$out/$name.txt" 2> "$out/$name.err"
}

j() { jq -r "$2" "$out/$1.json"; }

# sample_rss PID FILE: "seconds rss_kib" every 2 s until PID exits.
sample_rss() {
    local t0=$SECONDS
    while [[ -r /proc/$1/status ]]; do
        awk -v t=$((SECONDS - t0)) '/^VmRSS/ {print t, $2}' "/proc/$1/status" >> "$2" 2> /dev/null || true
        sleep 2
    done
}

rss_summary() { awk 'NR==1 {first=$2} {if ($2>max) max=$2; last=$2} END {printf "RSS first %d KiB, max %d KiB, last %d KiB (%d samples)", first, max, last, NR}' "$1"; }

log "acorn production bench: quick=$quick, out=$out, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# 1. The framework limit.
start echo $port "$bin/simulator" echo --listen "127.0.0.1:$port"
load echo --call Echo --target "http://127.0.0.1:$port" "${closed[@]}" -z $phase --warmup $warmup
stop "$server"
echo_rps=$(j echo .ok_rps)
log "echo (closed loop, -c 64, 4 connections): $(printf %.0f "$echo_rps") calls/s, p99 $(j echo .latency.p99_ms) ms"

backends=(sqlite)
if [[ -n "$pg" ]]; then
    if psql -q "$pg" -c "select 1" > /dev/null 2>&1; then
        schema="acorn_bench_$$"
        backends+=(postgres)
    else
        log "POSTGRESQL SKIPPED: cannot connect to $pg"
    fi
fi

# store BACKEND NAME: the store flags of a server (PostgreSQL: a schema of its own per service,
# as their migrations are separate).
store() {
    if [[ $1 == sqlite ]]; then
        rm -f "$out/$2.db"*
        echo "--db $out/$2.db"
    else
        local own="${schema}_${2//-/_}"
        psql -q "$pg" -c "CREATE SCHEMA IF NOT EXISTS $own" > /dev/null
        echo "--database-url $pg?options[search_path]=$own"
    fi
}

declare -A sustained
for backend in "${backends[@]}"; do
    part throughput || break
    for pair in settlement-svc:Reconcile benchmark-svc:ComputeBenchmark; do
        svc=${pair%%:*} call=${pair#*:}
        have "$svc" || continue
        p=$((port + 1))
        # shellcheck disable=SC2046 # the store flags are words
        start "$svc-$backend" $p "$bin/$svc" serve $(store "$backend" "$svc") --listen "127.0.0.1:$p"
        load "$call-$backend" --call "$call" --target "http://127.0.0.1:$p" "${closed[@]}" -z $phase --warmup $warmup
        r=$(j "$call-$backend" .ok_rps)
        sustained[$call-$backend]=$r
        log "$call $backend (closed loop): $(printf %.0f "$r") calls/s = $(awk -v a="$r" -v b="$echo_rps" 'BEGIN {printf "%.1f", 100*a/b}')% of echo, p99 $(j "$call-$backend" .latency.p99_ms) ms, errors $(j "$call-$backend" .errors)"
        half=$(awk -v r="$r" 'BEGIN {printf "%.1f", r/2}')
        load "$call-$backend-half" --call "$call" --target "http://127.0.0.1:$p" --rps "$half" -c 0 --connections 4 -z $phase --warmup $warmup
        log "$call $backend open loop at $half/s: p50 $(j "$call-$backend-half" .latency.p50_ms) ms, p99 $(j "$call-$backend-half" .latency.p99_ms) ms, p99.9 $(j "$call-$backend-half" .latency.p999_ms) ms, errors $(j "$call-$backend-half" .errors) of $(j "$call-$backend-half" .count)"
        stop "$server"
    done
    have attribution-svc || continue
    p=$((port + 2))
    # shellcheck disable=SC2046
    start "attribution-svc-$backend" $p "$bin/attribution-svc" serve $(store "$backend" attribution-svc) --listen "127.0.0.1:$p" --request-timeout 600
    load "upload-$backend" --call UploadAssignmentData --target "http://127.0.0.1:$p" -c 4 --connections 4 --timeout 600s "${upload[@]}"
    log "UploadAssignmentData $backend: $(printf %.0f "$(j "upload-$backend" .units_per_s)") claim lines/s ($(j "upload-$backend" .units) lines in $(j "upload-$backend" .elapsed_s) s), errors $(j "upload-$backend" .errors)"
    stop "$server"
done

# 3. The sustained rate (SQLite, the servers' default limit and queue, a longer closed loop than
# part 2's), unless ACORN_BENCH_RATE gives it; then 4. overload at 3x it and 5. the soak at 70%.
if ! part overload && ! part soak; then
    log "done in ${SECONDS} s; reports in $out"
    exit 0
fi
have settlement-svc || exit 2
r=${ACORN_BENCH_RATE:-}
if [[ -z "$r" ]]; then
    p=$((port + 5))
    # shellcheck disable=SC2046
    start settlement-svc-sustained $p "$bin/settlement-svc" serve $(store sqlite sustained) --listen "127.0.0.1:$p" "${limit[@]}"
    load sustained --call Reconcile --target "http://127.0.0.1:$p" "${closed[@]}" -z $sustain --warmup $warmup
    r=$(j sustained .ok_rps)
    log "sustained Reconcile rate (SQLite, closed loop $sustain, ${limit[*]:-default limit}): $(printf %.0f "$r") calls/s, p99 $(j sustained .latency.p99_ms) ms, errors $(j sustained .errors) ($(j sustained '[.status | to_entries[] | select(.key != "OK") | "\(.key) \(.value)"] | join(", ")'))"
    stop "$server"
fi
# errors NAME: the three most frequent error messages of a report ("none" if it had no errors).
errors() {
    j "$1" '[.error_distribution[:3][] | "\(.count) \(.code): \(.message)"] | if length == 0 then "none" else join("; ") end'
}
# start_open_loop NAME PORT_OFFSET FACTOR: settlement-svc on SQLite (the store NAME) at port +
# PORT_OFFSET with its RSS sampled into $out/NAME.rss; rate is FACTOR times the sustained rate r.
start_open_loop() {
    p=$((port + $2))
    # shellcheck disable=SC2046 # the store flags are words
    start "settlement-svc-$1" $p "$bin/settlement-svc" serve $(store sqlite "$1") --listen "127.0.0.1:$p" "${limit[@]}"
    sample_rss "$server" "$out/$1.rss" &
    rate=$(awk -v r="$r" -v f="$3" 'BEGIN {printf "%.1f", f*r}')
}
if part overload; then
start_open_loop overload 3 3
load overload --call Reconcile --target "http://127.0.0.1:$p" --rps "$rate" -c 0 --connections 4 -z $overload --warmup $warmup --interval 5s
log "overload at $rate/s (3x), ${limit[*]:-default limit}: $(j overload .ok) OK, $(j overload '.status.RESOURCE_EXHAUSTED // 0') RESOURCE_EXHAUSTED, other errors $(j overload '[.status | to_entries[] | select(.key != "OK" and .key != "RESOURCE_EXHAUSTED") | .value] | add // 0'); accepted p50 $(j overload .latency_ok.p50_ms) ms, p99 $(j overload .latency_ok.p99_ms) ms; $(rss_summary "$out/overload.rss"); errors by message: $(errors overload)"
stop "$server"
fi

if part soak; then
start_open_loop soak 4 0.7
interval=30s
((quick)) && interval=5s
load soak --call Reconcile --target "http://127.0.0.1:$p" --rps "$rate" -c 0 --connections 4 -z $soak --warmup $warmup --interval $interval
log "soak $soak at $rate/s (70% of $(printf %.0f "$r")/s), ${limit[*]:-default limit}: $(j soak .count) calls, errors $(j soak .errors), p99 $(j soak .latency.p99_ms) ms, max $(j soak .latency.max_ms) ms; $(rss_summary "$out/soak.rss"); errors by message: $(errors soak)"
stop "$server"
fi

log "done in ${SECONDS} s, load average $(cut -d' ' -f1-3 /proc/loadavg); reports in $out"
