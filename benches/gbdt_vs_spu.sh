#!/usr/bin/env bash
# Gradient-boosted trees: the training phase of `indomain train --algorithm
# gbdt` (three processes over QUIC on loopback: label holder, feature
# holder, dealer; the instance space hidden) next to SecretFlow SPU's
# SS-XGB (Semi2k, one process), in the same run, with the same rows,
# trees, depth, bins and learning rate, for docs/benchmarks.md (issue #19).
#
# usage: benches/gbdt_vs_spu.sh GUEST.csv HOST.csv [ROWS] [RUNS] [-- extra indomain train flags]
#
# GUEST.csv: id,y,features…; HOST.csv: id,features…. ROWS (default: all)
# keeps the first ROWS shared rows. Both sides hold out the same 20 %:
# the gbdt example writes the rows training-first in indomain's seeded
# split, and SPU's script holds out the last 20 % in file order. Both
# sides get the same pre-binned columns: benches/spu_bins.py replaces every
# feature by its bucket under SPU's rule (BINS quantiles of the training
# rows, x <= t), which SPU's script cuts again into the same buckets and
# `indomain train --bins 256` keeps as they are (both checked there), so
# both search the same candidate splits.
# TREES, DEPTH, BINS, ETA (defaults 5, 3, 8, 0.3) set both sides. Needs
# `cargo build --release --bin indomain --example gbdt`, PYTHON with spu
# 0.9.5 (default ~/.venvs/indomain-peers/bin/python) and SPU_SSXGB, the
# peer script (default ../shared/peers/spu_ssxgb.py). Prints per run the
# load average, each side's own timer, wall and CPU seconds and peak
# memory from /usr/bin/time -v, both AUCs and the ratio indomain / SPU.
set -euo pipefail
GUEST=$(realpath "$1"); HOST=$(realpath "$2"); ROWS=${3:-0}; RUNS=${4:-1}
shift $(( $# < 4 ? $# : 4 ))
[ "${1:-}" = "--" ] && shift
TREES=${TREES:-5}; DEPTH=${DEPTH:-3}; BINS=${BINS:-8}; ETA=${ETA:-0.3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=${INDOMAIN:-$TARGET/release/indomain}
EXAMPLE=${GBDT_EXAMPLE:-$TARGET/release/examples/gbdt}
PYTHON=${PYTHON:-$HOME/.venvs/indomain-peers/bin/python}
SPU_SSXGB=${SPU_SSXGB:-$ROOT/../shared/peers/spu_ssxgb.py}
WORK=$(mktemp -d); [ -z "${KEEP:-}" ] && trap 'rm -rf "$WORK"' EXIT; echo "work: $WORK" >&2
cd "$WORK"

# The shared rows, training rows first (the example's split, 80/20, seed 0).
rows_flag=(); [ "$ROWS" -gt 0 ] && rows_flag=(--rows "$ROWS")
"$EXAMPLE" "$GUEST" "$HOST" "${rows_flag[@]}" --test-fraction 0.2 --trees "$TREES" \
  --depth "$DEPTH" --bins "$BINS" --eta "$ETA" --export data > example.log
N=$(( $(wc -l < data/guest.csv) - 1 ))
mkdir binned
"$PYTHON" "$ROOT/benches/spu_bins.py" data binned --buckets "$BINS" --test-fraction 0.2 > bins.log

P=()
BASE=$((40000 + RANDOM % 20000)); i=0
for n in guest host dealer; do
  "$BIN" keygen --name $n --out $n.id >/dev/null 2>&1
  fp=$(openssl x509 -in $n.id/node.crt -outform der | sha256sum | cut -d' ' -f1)
  P+=(--party "$n=sha256:$fp@127.0.0.1:$((BASE + i))"); i=$((i + 1))
done
COMMON=(--algorithm gbdt --label-holder guest --dealer dealer --no-contribution --quiet
  --test-fraction 0.2 --trees "$TREES" --max-depth "$DEPTH" --bins 256
  --learning-rate "$ETA" "${P[@]}" "$@")
# wall s, CPU s (user + sys), peak MB from a /usr/bin/time -v report.
usage() {
  awk -F': ' '/Elapsed \(wall/ {n = split($2, t, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + t[i]}
    /User time/ {c += $2} /System time/ {c += $2} /Maximum resident/ {m = $2 / 1024}
    END {printf "%.2f %.2f %.0f\n", w, c, m}' "$1"
}
ratio() { printf %.3f "$(echo "$1 / $2" | bc -l)"; }
for run in $(seq 1 "$RUNS"); do
  load=$(uptime | sed 's/.*average: //')
  /usr/bin/time -v -o spu.time "$PYTHON" "$SPU_SSXGB" binned/guest.csv binned/host.csv --rows "$N" \
    --trees "$TREES" --depth "$DEPTH" --buckets "$BINS" --eta "$ETA" > spu.log 2> spu.err ||
    { echo "SPU failed:" >&2; tail -5 spu.err >&2; exit 1; }
  spu=$(grep -o 'time=[0-9.]*s' spu.log | tr -dc '0-9.')
  read -r spu_wall spu_cpu spu_mb < <(usage spu.time)
  load_mid=$(uptime | sed 's/.*average: //')
  start=$(date +%s.%N)
  /usr/bin/time -v -o guest.time "$BIN" train --identity guest.id --me guest --input binned/guest.csv \
    --label-column y --model g.json "${COMMON[@]}" 2> guest.log &
  /usr/bin/time -v -o host.time "$BIN" train --identity host.id --me host --input binned/host.csv \
    --model h.json "${COMMON[@]}" 2> host.log &
  /usr/bin/time -v -o dealer.time "$BIN" train --identity dealer.id --me dealer "${COMMON[@]}" 2> dealer.log &
  wait
  wall=$(echo "$(date +%s.%N) - $start" | bc)
  train=$(grep -o 'train [0-9.]* s' guest.log | head -1 | tr -dc '0-9.')
  cpu=0; mem=""
  for p in guest host dealer; do
    read -r _ c m < <(usage $p.time); cpu=$(echo "$cpu + $c" | bc -l); mem="$mem $p ${m} MB"
  done
  echo "run $run, $N rows, $TREES trees, depth $DEPTH, $BINS bins, eta $ETA; load $load / $load_mid / $(uptime | sed 's/.*average: //')"
  echo "  SPU SS-XGB Semi2k: timer ${spu} s; process wall ${spu_wall} s, CPU ${spu_cpu} s, peak ${spu_mb} MB; $(grep -o 'auc=[0-9.]*' spu.log | head -1) (HGB $(grep -o 'HGB auc=[0-9.]*' spu.log | cut -d= -f2))"
  echo "  indomain: label holder's train phase ${train} s; three processes wall $(printf %.2f "$wall") s, CPU $(printf %.2f "$cpu") s;${mem}; $(grep -o 'AUC [0-9.]*' guest.log | head -1)"
  echo "  ratio indomain / SPU: train phase $(ratio "$train" "$spu"), wall $(ratio "$wall" "$spu_wall"), CPU $(ratio "$cpu" "$spu_cpu")"
done
grep -h 'secure\|plaintext' example.log |
  sed 's/^/  example (in memory, same split, indomain binning the raw columns itself): /'
