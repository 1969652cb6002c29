"""Cross-check for docs/benchmarks.md (issue #18): scikit-learn's
LogisticRegression(C = 1/(l2*n)) on the joined, standardised rows that
`cargo run --release --example vertical_train -- ... --dump DIR` writes
(DIR/train.csv: the whole training split; DIR/test.csv: the held-out rows;
DIR/scores.csv: the secure model's held-out scores), and the held-out
AUC, log-loss and expected calibration error (10 equal-count bins) of both.

usage: python benches/sklearn_lr.py DIR [L2]   (L2 defaults to 0.001)
"""
import sys, numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, log_loss
d = sys.argv[1]; l2 = float(sys.argv[2]) if len(sys.argv) > 2 else 1e-3
tr, te = pd.read_csv(f"{d}/train.csv"), pd.read_csv(f"{d}/test.csv")
ytr, Xtr = tr.pop("y").to_numpy(), tr.to_numpy(); yte, Xte = te.pop("y").to_numpy(), te.to_numpy()
m = LogisticRegression(C=1/(l2*len(ytr)), tol=1e-10, max_iter=100000).fit(Xtr, ytr)
p = m.predict_proba(Xte)[:, 1]
o = np.lexsort((np.arange(len(p)), p)); n = len(p)
ece = sum(abs(p[o[b*n//10:(b+1)*n//10]].mean() - yte[o[b*n//10:(b+1)*n//10]].mean()) * len(o[b*n//10:(b+1)*n//10]) for b in range(10)) / n
s = pd.read_csv(f"{d}/scores.csv")["score"].to_numpy(); q = 1/(1+np.exp(-s))
oq = np.lexsort((np.arange(n), q))
eceq = sum(abs(q[oq[b*n//10:(b+1)*n//10]].mean() - yte[oq[b*n//10:(b+1)*n//10]].mean()) * len(oq[b*n//10:(b+1)*n//10]) for b in range(10)) / n
print(f"scikit-learn (C = {1/(l2*len(ytr)):.3g}): AUC {roc_auc_score(yte,p):.4f} log-loss {log_loss(yte,p):.4f} ECE {ece:.4f}")
print(f"secure scores:            AUC {roc_auc_score(yte,q):.4f} log-loss {log_loss(yte,q):.4f} ECE {eceq:.4f}")
print(f"secure - scikit-learn: log-loss {log_loss(yte,q)-log_loss(yte,p):+.4f} ECE {eceq-ece:+.4f} AUC {roc_auc_score(yte,q)-roc_auc_score(yte,p):+.4f}")
