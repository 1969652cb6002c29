"""Plaintext XGBoost (tree_method="hist") on the pre-binned columns that
`cargo run --release --example gbdt -- ... --export DIR` writes, with the
same trees, depth, eta, lambda and min_child_weight: the accuracy reference
of docs/benchmarks.md ("Gradient-boosted trees").

usage: python benches/xgb_binned.py DIR [--trees 5] [--depth 3] [--eta 0.3]
                                    [--lambda 1] [--min-child-weight 1]
Needs xgboost, pandas and scikit-learn (the peers' venv).
"""
import argparse

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import roc_auc_score

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("--trees", type=int, default=5)
ap.add_argument("--depth", type=int, default=3)
ap.add_argument("--eta", type=float, default=0.3)
ap.add_argument("--lambda", dest="lam", type=float, default=1.0)
ap.add_argument("--min-child-weight", type=float, default=1.0)
a = ap.parse_args()

tr = pd.read_csv(f"{a.dir}/binned_train.csv")
te = pd.read_csv(f"{a.dir}/binned_test.csv")
ytr, yte = tr.pop("y").to_numpy(), te.pop("y").to_numpy()
# Every bin index its own histogram bin: max_bin above the largest index.
max_bin = int(max(tr.to_numpy().max(), te.to_numpy().max())) + 2
model = xgb.XGBClassifier(
    n_estimators=a.trees, max_depth=a.depth, learning_rate=a.eta, reg_lambda=a.lam,
    min_child_weight=a.min_child_weight, tree_method="hist", max_bin=max_bin,
    base_score=float(np.mean(ytr)), gamma=0.0, subsample=1.0,
)
model.fit(tr.to_numpy(float), ytr)
auc = roc_auc_score(yte, model.predict_proba(te.to_numpy(float))[:, 1])
print(f"xgboost hist on the same bins: train {len(ytr)}, test {len(yte)}, AUC {auc:.4f}")
