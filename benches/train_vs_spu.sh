#!/usr/bin/env bash
# The training phase of `indomain train` (three processes over QUIC on
# loopback: label holder, feature holder, dealer) next to SecretFlow SPU's
# Semi2k logistic regression, in the same run, for docs/benchmarks.md
# (issue #18).
#
# usage: benches/train_vs_spu.sh GUEST.csv HOST.csv [RUNS] [-- extra indomain train flags]
#
# GUEST.csv: id,y,features…; HOST.csv: id,features…. Needs the release
# binary (cargo build --release), PYTHON with spu 0.9.5 (default
# ~/.venvs/indomain-peers/bin/python) and SPU_LR, the peer script (default
# ../shared/peers/spu_lr.py). Prints, per run, the load average, SPU's
# time and indomain's train phase (the label holder's), and their ratio.
set -euo pipefail
GUEST=$(realpath "$1"); HOST=$(realpath "$2"); RUNS=${3:-2}
shift $(( $# < 3 ? $# : 3 ))
[ "${1:-}" = "--" ] && shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${INDOMAIN:-$ROOT/target/release/indomain}
[ -n "${CARGO_TARGET_DIR:-}" ] && [ -z "${INDOMAIN:-}" ] && BIN=$CARGO_TARGET_DIR/release/indomain
PYTHON=${PYTHON:-$HOME/.venvs/indomain-peers/bin/python}
SPU_LR=${SPU_LR:-$ROOT/../shared/peers/spu_lr.py}
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
P=()
BASE=$((40000 + RANDOM % 20000)); i=0
for n in guest host dealer; do
  "$BIN" keygen --name $n --out $n.id >/dev/null
  fp=$(openssl x509 -in $n.id/node.crt -outform der | sha256sum | cut -d' ' -f1)
  P+=(--party "$n=sha256:$fp@127.0.0.1:$((BASE + i))"); i=$((i + 1))
done
COMMON=(--label-holder guest --dealer dealer --no-contribution --quiet "${P[@]}" "$@")
for run in $(seq 1 "$RUNS"); do
  load=$(cut -d' ' -f1 /proc/loadavg)
  spu=$("$PYTHON" "$SPU_LR" "$GUEST" "$HOST" 20 0.5 SEMI2K 2>/dev/null | grep -o 'time=[0-9.]*s' | head -1 | tr -dc '0-9.')
  "$BIN" train --identity guest.id --me guest --input "$GUEST" --label-column y --model g.json "${COMMON[@]}" 2> guest.log &
  "$BIN" train --identity host.id --me host --input "$HOST" --model h.json "${COMMON[@]}" 2> host.log &
  "$BIN" train --identity dealer.id --me dealer "${COMMON[@]}" 2> dealer.log &
  wait
  train=$(grep -o 'train [0-9.]* s' guest.log | head -1 | tr -dc '0-9.')
  end=$(grep -o 'converged after [0-9]* epochs\|did NOT converge[^(]*\|[0-9]* epochs (fixed)' guest.log | head -1)
  load_after=$(cut -d' ' -f1 /proc/loadavg)
  echo "run $run: load $load -> $load_after; SPU Semi2k 20 epochs ${spu} s; indomain train phase ${train} s ($end); ratio $(echo "scale=3; $train / $spu" | bc)"
  grep -h 'held-out (' guest.log
done
