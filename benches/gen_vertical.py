"""A generated vertically split set for the tree scale run of
docs/benchmarks.md ("Gradient-boosted trees", issue #19): ROWS rows, the
label holder's GUEST.csv (id,y,g0..) and the feature holder's HOST.csv
(id,h0..), 15 + 15 numeric features by default (the creditcard set's
shape), a label that depends on thresholds and interactions of features
on both sides, so that trees have splits to find. Seeded: the same
arguments write the same bytes.

usage: python benches/gen_vertical.py ROWS OUT_DIR [--guest 15] [--host 15] [--seed 19]
Needs numpy (the peers' venv has it).
"""
import argparse
import os

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("rows", type=int)
ap.add_argument("out")
ap.add_argument("--guest", type=int, default=15)
ap.add_argument("--host", type=int, default=15)
ap.add_argument("--seed", type=int, default=19)
a = ap.parse_args()

rng = np.random.default_rng(a.seed)
d = a.guest + a.host
common = rng.normal(size=(a.rows, 1))
x = rng.normal(size=(a.rows, d)) + 0.5 * common
g, h = x[:, : a.guest], x[:, a.guest :]
z = (
    -1.5
    + 1.2 * (g[:, 0] > 0.5)
    - 0.8 * (h[:, 0] < -0.3)
    + 0.9 * (g[:, 1] * h[:, 1] > 0)
    + 0.6 * np.tanh(h[:, 2])
    + 0.4 * g[:, 2]
    - 0.5 * (np.abs(h[:, 3]) > 1.0)
)
y = (rng.random(a.rows) < 1 / (1 + np.exp(-z))).astype(int)
os.makedirs(a.out, exist_ok=True)
ids = np.array([f"r{i:07d}" for i in range(a.rows)])


def write(path, header, cols, label=None):
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        body = np.char.mod("%.4f", cols)
        for i in range(a.rows):
            head = [ids[i]] if label is None else [ids[i], str(label[i])]
            f.write(",".join(head + list(body[i])) + "\n")


write(f"{a.out}/guest.csv", ["id", "y"] + [f"g{j}" for j in range(a.guest)], g, y)
write(f"{a.out}/host.csv", ["id"] + [f"h{j}" for j in range(a.host)], h)
print(f"wrote {a.out}/guest.csv and host.csv: {a.rows} rows, {a.guest} + {a.host} features, {y.mean():.3f} positive")
