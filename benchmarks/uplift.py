"""Benchmark of the uplift learners on a large randomised campaign: wall time, peak memory and
held-out Qini, beside scikit-uplift (the peer library a user would otherwise pick).

Members have 12 features shaped like the member mart's (recency, frequency, spend, tenure and
four categorical attributes), 80 % are treated, and the planted effect depends on recency and
frequency (lapsed repeat buyers respond, recent ones and one-time buyers barely), as in the
simulated shop. 70 % of the members train, 30 % are held out. Each measurement runs in its own
child process (its own peak resident memory):

- memberlens ``TLearner``, ``XLearner`` and ``ClassTransformationLearner`` (fit, predict, then
  ``evaluate_uplift``: Qini and uplift curves, AUUC, deciles);
- scikit-uplift 0.5.1 ``TwoModels(method="vanilla")`` and ``ClassTransformation`` with the same
  LightGBM settings, then its ``qini_auc_score`` and ``uplift_auc_score``.

Prints a Markdown section for docs/benchmarks/uplift.md.

    .venv/bin/python benchmarks/uplift.py --members 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys

DATA = """
import numpy as np, pandas as pd
def members(n, seed=0):
    rng = np.random.default_rng(seed)
    recency = rng.exponential(120.0, n)
    frequency = rng.poisson(1.5, n).astype(float)
    X = pd.DataFrame({
        "days_since_last": recency, "frequency": frequency,
        "recency": rng.uniform(0, 700, n), "T": rng.uniform(30, 900, n),
        "monetary_value": rng.gamma(2.0, 80.0, n), "total_spend": rng.gamma(2.0, 200.0, n),
        "order_count": frequency + 1, "aov": rng.gamma(3.0, 60.0, n),
        "gender": pd.Categorical(rng.choice(["F", "M"], n)),
        "channel": pd.Categorical(rng.choice(["tmall", "jd", "wechat_mini", "store"], n)),
        "province": pd.Categorical(rng.choice([f"p{i}" for i in range(31)], n)),
        "age_band": pd.Categorical(rng.choice(["18-24", "25-34", "35-44", "45+"], n)),
    })
    w = (rng.random(n) < 0.8).astype(int)
    base = 0.05 + 0.10 * (recency < 60)
    effect = np.where((recency > 90) & (frequency > 0), 0.08, 0.01)
    y = (rng.random(n) < base + effect * w).astype(int)
    test = rng.random(n) < 0.3
    return X, y, w, test
"""

OURS = (
    DATA
    + """
import json, resource, sys, time
from memberlens.experiments.uplift import uplift_model
from memberlens.experiments.uplift_curves import evaluate_uplift
X, y, w, test = members(int(sys.argv[1]))
t0 = time.perf_counter()
model = uplift_model(sys.argv[2]).fit(X[~test], y[~test], w[~test])
fit = time.perf_counter() - t0
u = model.predict_uplift(X[test])
t1 = time.perf_counter()
e = evaluate_uplift(y[test], u, w[test], method=sys.argv[2])
print(json.dumps({"fit": fit, "predict": t1 - t0 - fit, "evaluate": time.perf_counter() - t1,
                  "qini": e.qini_coefficient, "auuc": e.auuc,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
)

PEER = (
    DATA
    + """
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")
from lightgbm import LGBMClassifier
from sklift.metrics import qini_auc_score, uplift_auc_score
from sklift.models import ClassTransformation, TwoModels
from memberlens.experiments.uplift import TLearner
X, y, w, test = members(int(sys.argv[1]))
params = TLearner()._params()
t0 = time.perf_counter()
if sys.argv[2] == "two_models":
    model = TwoModels(estimator_trmnt=LGBMClassifier(**params),
                      estimator_ctrl=LGBMClassifier(**params), method="vanilla")
else:
    model = ClassTransformation(estimator=LGBMClassifier(**params))
model.fit(X[~test], y[~test], w[~test])
fit = time.perf_counter() - t0
u = model.predict(X[test])
t1 = time.perf_counter()
q = qini_auc_score(y[test], u, w[test])
a = uplift_auc_score(y[test], u, w[test])
print(json.dumps({"fit": fit, "predict": t1 - t0 - fit, "evaluate": time.perf_counter() - t1,
                  "qini": q, "auuc": a,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
)


def _child(code: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    result: dict = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    args = parser.parse_args()
    n = str(args.members)
    rows = []
    for method in ("t_learner", "x_learner", "class_transformation"):
        rows.append(("memberlens " + method, _child(OURS, n, method)))
    for method in ("two_models", "class_transformation"):
        rows.append(("scikit-uplift " + method, _child(PEER, n, method)))
    load = os.getloadavg()[0]
    print("## Uplift models (`benchmarks/uplift.py`)\n")
    print(
        f"{args.members:,} members (70 % train, 30 % held out; 80 % treated), 12 features, "
        "LightGBM with memberlens' settings (150 trees, 7 leaves, 100 members per leaf, one "
        f"thread) for every learner; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, load average {load:.1f} when it ended. Each row is its own "
        "process.\n"
    )
    print("| learner | fit s | predict s | Qini/AUUC s | peak MB | held-out Qini | AUUC |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, r in rows:
        print(
            f"| {name} | {r['fit']:.1f} | {r['predict']:.1f} | {r['evaluate']:.2f} | "
            f"{r['peak_mb']:,.0f} | {r['qini']:.3f} | {r['auuc']:.3f} |"
        )


if __name__ == "__main__":
    main()
