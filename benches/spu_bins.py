"""The same pre-binned columns for both sides of benches/gbdt_vs_spu.sh.

Reads the guest and host files the gbdt example exported (the shared rows,
training rows first, the last TEST_FRACTION held out) and writes them again
with every feature replaced by its bucket under the rule of SPU's SS-XGB
script (../shared/peers/spu_ssxgb.py): cut points np.quantile(x_train,
k/B), k = 1..B-1, fitted on the training rows, bucket b holding
t_(b-1) < x <= t_b. Given these columns, SPU's script cuts them again with
the same rule and gets the same candidate splits, and `indomain train
--bins 256` gives every bucket its own bin; both are checked here (the
second with a replica of indomain's quantile edges,
crates/learn/src/binning/numeric.rs), so that the two sides search exactly
the same candidate splits.

usage: python benches/spu_bins.py IN_DIR OUT_DIR [--buckets 8] [--test-fraction 0.2]
"""
import argparse

import numpy as np
import pandas as pd

ap = argparse.ArgumentParser()
ap.add_argument("src")
ap.add_argument("out")
ap.add_argument("--buckets", type=int, default=8)
ap.add_argument("--test-fraction", type=float, default=0.2)
ap.add_argument("--indomain-bins", type=int, default=256)
a = ap.parse_args()
B = a.buckets


def spu_cuts(x, ntr):
    return np.quantile(x[:ntr], np.arange(1, B) / B)


def indomain_edges(x, ntr, bins):
    """crates/learn/src/binning/numeric.rs, quantile_edges."""
    s = np.sort(x[:ntr])
    edges = []
    for k in range(1, bins):
        e = s[k * ntr // bins]
        if e > s[0] and (not edges or e > edges[-1]):
            edges.append(e)
    return edges


def left_sets(x, ntr, cuts, strict):
    sides = [x[:ntr] < t if strict else x[:ntr] <= t for t in cuts]
    return {tuple(s) for s in sides if s.any() and not s.all()}


for name in ["guest", "host"]:
    df = pd.read_csv(f"{a.src}/{name}.csv")
    n = len(df)
    ntr = int(n * (1 - a.test_fraction))
    for c in df.columns:
        if c in ("id", "y"):
            continue
        x = df[c].to_numpy(float)
        cuts = spu_cuts(x, ntr)
        idx = np.searchsorted(np.unique(cuts), x, side="left").astype(float)
        want = left_sets(x, ntr, cuts, strict=False)
        if left_sets(idx, ntr, spu_cuts(idx, ntr), strict=False) != want:
            raise SystemExit(f"{name}.{c}: SPU's rule does not give back its buckets")
        if left_sets(idx, ntr, indomain_edges(idx, ntr, a.indomain_bins), strict=True) != want:
            raise SystemExit(f"{name}.{c}: --bins {a.indomain_bins} merges a bucket")
        df[c] = idx.astype(int)
    df.to_csv(f"{a.out}/{name}.csv", index=False)
print(f"pre-binned {B} buckets (SPU's rule, training rows): same candidate splits on both sides")
