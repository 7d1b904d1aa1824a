#!/usr/bin/env bash
# CPU per call of a server under a closed loop (BENCHMARKS.md, "Where a durable call's CPU goes"):
#   deploy/bench/cpu-per-call.sh NAME CALL PORT -- SERVER COMMAND...
# starts SERVER COMMAND (listening on PORT), drives N calls (default 20000) of CALL at -c 64 over 4
# connections, and prints the server's CPU microseconds per call (utime+stime from /proc) and the
# generator's CPU seconds. PERF=1 also records the server with `perf record -e cpu-clock -g`
# (software clock: works where hardware counters are not available) into $OUT/NAME.perf.data.
# Environment: ACORN_BIN (default target/release), N, OUT (default /tmp/acorn-cpu), PERF.
set -u
name=$1 call=$2 port=$3
shift 4
bin=${ACORN_BIN:-target/release}
n=${N:-20000}
out=${OUT:-/tmp/acorn-cpu}
mkdir -p "$out"
RUST_LOG=${RUST_LOG:-info} "$@" > "$out/$name".server.log 2>&1 &
srv=$!
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
c0=$(cpu $srv)
if [[ -n "${PERF:-}" ]]; then perf record -e cpu-clock -F 999 -g -p $srv -o "$out/$name".perf.data > /dev/null 2>&1 & pp=$!; fi
/usr/bin/time -f "gen_cpu %U %S" $bin/simulator load --call $call --target http://127.0.0.1:$port -c 64 --connections 4 -n $n --json "$out/$name".json > "$out/$name".txt 2> "$out/$name".err
c1=$(cpu $srv)
[[ -n "${PERF:-}" ]] && { kill -INT $pp; wait $pp; }
kill $srv; wait $srv 2>/dev/null
tck=$(getconf CLK_TCK)
echo "$name: server CPU $(( (c1-c0) * 1000000 / tck / n )) us/call over $n calls; $(tail -1 "$out/$name".err); ok_rps $(jq .ok_rps "$out/$name".json) errors $(jq .errors "$out/$name".json)"
