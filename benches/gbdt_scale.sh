#!/usr/bin/env bash
# The tree scale run of docs/benchmarks.md (issue #19): `indomain train
# --algorithm gbdt` on a generated vertically split set, three processes
# over QUIC on loopback (label holder, feature holder, dealer), the
# instance space hidden, or leaked with LEAK=1 (`--leak-instance-space`,
# every process).
#
# usage: benches/gbdt_scale.sh DIR [-- extra indomain train flags]
#
# DIR holds guest.csv and host.csv (benches/gen_vertical.py writes them;
# docs/benchmarks.md gives the rows). TREES, DEPTH, BINS, TEST (defaults
# 100, 5, 32, 0.01) set the job. Needs `cargo build --release --bin
# indomain`. Prints the load average before and after, every tree's time
# at the label holder, each party's wall and CPU seconds and peak memory
# (/usr/bin/time -v), its phases and bytes sent, and the three processes'
# wall time.
set -euo pipefail
DATA=$(realpath "$1"); shift
[ "${1:-}" = "--" ] && shift
TREES=${TREES:-100}; DEPTH=${DEPTH:-5}; BINS=${BINS:-32}; TEST=${TEST:-0.01}
MODE="instance space hidden"
if [ -n "${LEAK:-}" ]; then set -- "$@" --leak-instance-space; MODE="instance space leaked"; fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${INDOMAIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/indomain}
WORK=$(mktemp -d); [ -z "${KEEP:-}" ] && trap 'rm -rf "$WORK"' EXIT
cd "$WORK"; [ -n "${KEEP:-}" ] && echo "work: $WORK"
P=()
BASE=$((40000 + RANDOM % 20000)); i=0
for n in guest host dealer; do
  "$BIN" keygen --name $n --out $n.id >/dev/null 2>&1
  fp=$(openssl x509 -in $n.id/node.crt -outform der | sha256sum | cut -d' ' -f1)
  P+=(--party "$n=sha256:$fp@127.0.0.1:$((BASE + i))"); i=$((i + 1))
done
COMMON=(--algorithm gbdt --label-holder guest --dealer dealer --no-contribution
  --test-fraction "$TEST" --trees "$TREES" --max-depth "$DEPTH" --bins "$BINS" "${P[@]}" "$@")
echo "$(date -u +%FT%TZ) load $(uptime | sed 's/.*average: //'); $TREES trees, depth $DEPTH, $BINS bins, $MODE"
start=$(date +%s.%N)
/usr/bin/time -v -o guest.time "$BIN" train --identity guest.id --me guest --input "$DATA/guest.csv" \
  --label-column y --model g.json "${COMMON[@]}" 2> guest.log &
/usr/bin/time -v -o host.time "$BIN" train --identity host.id --me host --input "$DATA/host.csv" \
  --model h.json "${COMMON[@]}" 2> host.log &
/usr/bin/time -v -o dealer.time "$BIN" train --identity dealer.id --me dealer "${COMMON[@]}" 2> dealer.log &
wait
wall=$(echo "$(date +%s.%N) - $start" | bc -l)
echo "$(date -u +%FT%TZ) load $(uptime | sed 's/.*average: //'); three processes wall $(printf %.2f "$wall") s"
grep -h '^tree ' guest.log | tr '\r' '\n' | grep '^tree ' || true
for p in guest host dealer; do
  awk -F': ' -v p=$p '/Elapsed \(wall/ {n = split($2, t, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + t[i]}
    /User time/ {u = $2} /System time/ {s = $2} /Maximum resident/ {m = $2 / 1024}
    END {printf "%s: wall %.2f s, CPU %.2f s (user %.2f, sys %.2f), peak %.0f MB\n", p, w, u + s, u, s, m}' $p.time
  grep -h "^train $p" $p.log | grep -v importance || true
done
