"""Recommender benchmark: training on 10 million interactions and serving top-10 for one member,
memberlens against ``implicit`` called bare and against the popularity baseline.

Data: a simulated interaction log with realistic skew, written once to
``benchmarks/_data/rec_interactions_<N>.parquet`` (member_id and product_id as text, weight,
purchase_days): member activity log-normal (median ~6 rows, a long tail capped at 2,000), item
popularity Zipf (exponent 1.1) within 20 categories, each member leaning to one category, and
event mix view 70 % / cart 15 % / order 15 % (weights 1 / 4 / 10).

Each contender runs in its own child process (so its peak resident memory is its own):

- ``memberlens als``: ``Recommender(kind="als")`` fit on the Arrow table (id encoding, log
  scaling, repeat-purchase flags and ALS), then ``recommend([member], k=10)`` with every filter
  and both reasons;
- ``implicit bare``: the CSR matrix a user would build (pandas factorize + scipy), then
  ``AlternatingLeastSquares.fit`` with the same settings and ``recommend(u, user_items[u], N=10)``;
- ``memberlens hybrid`` (ALS + cosine item kNN + popularity) and ``memberlens popular``.

Serving latency is measured one member at a time over 300 random members after 20 warm-up
calls; the batched rate is members per second for 2,000 members in one call.

    .venv/bin/python benchmarks/recommend.py                       # 10M interactions, ~6 min
    .venv/bin/python benchmarks/recommend.py --interactions 200000 --no-write   # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "_data"
SETTINGS = dict(factors=64, regularization=0.05, alpha=10.0, iterations=8, random_state=0)
BATCH = 2_000


def make_data(path: Path, n_rows: int, n_members: int, n_items: int, seed: int = 0) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    activity = np.minimum(np.exp(rng.normal(1.8, 1.1, n_members)), 2000)
    activity = activity / activity.sum()
    member = rng.choice(n_members, size=n_rows, p=activity)
    n_cats = 20
    item_cat = np.sort(rng.integers(0, n_cats, n_items))
    bounds = np.searchsorted(item_cat, np.arange(n_cats + 1))
    weight = np.empty(n_items)
    for c in range(n_cats):  # Zipf popularity within each category (a loop over 20 categories)
        size = bounds[c + 1] - bounds[c]
        weight[bounds[c] : bounds[c + 1]] = rng.permutation(np.arange(1, size + 1) ** -1.1)
    within = np.zeros(n_items)
    for c in range(n_cats):
        lo, hi = bounds[c], bounds[c + 1]
        within[lo:hi] = np.cumsum(weight[lo:hi]) / weight[lo:hi].sum()
    cat_share = np.bincount(item_cat, weights=weight, minlength=n_cats)
    cat_share /= cat_share.sum()
    favourite = rng.choice(n_cats, size=n_members, p=cat_share)
    cat = np.where(
        rng.random(n_rows) < 0.7, favourite[member], rng.choice(n_cats, size=n_rows, p=cat_share)
    )
    item = np.clip(
        np.searchsorted(within + item_cat, cat + rng.random(n_rows)),
        bounds[cat],
        bounds[cat + 1] - 1,
    )
    kind = rng.choice(3, size=n_rows, p=[0.70, 0.15, 0.15])
    table = pa.table(
        {
            "member_id": pa.array(np.char.add("M", np.char.zfill(member.astype(str), 8))),
            "product_id": pa.array(np.char.add("SKU", np.char.zfill(item.astype(str), 6))),
            "weight": np.array([1.0, 4.0, 10.0])[kind],
            "purchase_days": (kind == 2).astype(np.int64),
        }
    )
    products = pa.table(
        {
            "product_id": pa.array(
                np.char.add("SKU", np.char.zfill(np.arange(n_items).astype(str), 6))
            ),
            "name": pa.array(np.char.add("item ", np.arange(n_items).astype(str))),
            "category": pa.array(np.char.add("category ", item_cat.astype(str))),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    pq.write_table(products, path.with_name(path.stem + "_products.parquet"))


CONTENDERS = ("memberlens als", "implicit bare", "memberlens popular")

WORKER = r"""
import json, resource, sys, time, warnings
import numpy as np, pyarrow.parquet as pq
path, who, settings = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
BATCH = int(sys.argv[4])
table = pq.read_table(path)
products = pq.read_table(path.replace(".parquet", "_products.parquet"))
loaded_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
rng = np.random.default_rng(1)
out = {"who": who, "rows": table.num_rows, "loaded_mb": loaded_mb}

def latency(call, ids):
    for m in ids[:20]:
        call(m)
    times, cpu = [], []
    for m in ids[20:]:
        t, c = time.perf_counter(), time.process_time()
        call(m)
        times.append(time.perf_counter() - t); cpu.append(time.process_time() - c)
    out["cpu_ms"] = float(np.mean(cpu) * 1e3)
    out["min_ms"] = float(np.min(times) * 1e3)
    return float(np.percentile(times, 50) * 1e3), float(np.percentile(times, 95) * 1e3)

if who == "implicit bare":
    import pandas as pd, scipy.sparse as sp
    from threadpoolctl import threadpool_limits
    from implicit.cpu.als import AlternatingLeastSquares
    t0 = time.perf_counter()
    users, user_ids = pd.factorize(table.column("member_id").to_numpy(zero_copy_only=False))
    items, item_ids = pd.factorize(table.column("product_id").to_numpy(zero_copy_only=False))
    matrix = sp.csr_matrix((np.log1p(table.column("weight").to_numpy()).astype(np.float32),
                            (users, items)), shape=(len(user_ids), len(item_ids)))
    out["prepare_s"] = time.perf_counter() - t0
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(**settings)
        t0, c0 = time.perf_counter(), time.process_time()
        model.fit(matrix, show_progress=False)
        out["fit_s"], out["fit_cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
    ids = rng.choice(len(user_ids), 320, replace=False)
    out["p50_ms"], out["p95_ms"] = latency(lambda u: model.recommend(u, matrix[u], N=10), ids)
    t0 = time.perf_counter()
    batch = rng.choice(len(user_ids), min(BATCH, len(user_ids)), replace=False)
    model.recommend(batch, matrix[batch], N=10)
    out["batch_per_s"] = len(batch) / (time.perf_counter() - t0)
else:
    from memberlens.recommend import Recommender
    kind = who.split()[-1]
    t0, c0 = time.perf_counter(), time.process_time()
    model = Recommender(kind=kind, **settings).fit(table, products=products)
    out["prepare_s"] = None
    out["fit_s"], out["fit_cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
    members = np.asarray(model.members_)
    ids = members[rng.choice(len(members), 320, replace=False)]
    out["p50_ms"], out["p95_ms"] = latency(lambda m: model.recommend([m], k=10), ids)
    t0 = time.perf_counter()
    batch = members[rng.choice(len(members), min(BATCH, len(members)), replace=False)]
    model.recommend(batch, k=10)
    out["batch_per_s"] = len(batch) / (time.perf_counter() - t0)
    out["members"], out["items"] = len(model.members_), len(model.items_)
    out["nnz"] = model.n_interactions_
out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def child(path: Path, who: str, settings: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", WORKER, str(path), who, json.dumps(settings), str(BATCH)],
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        sys.exit(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def markdown(results: list[dict], args, seconds: float, load: tuple[float, float]) -> str:
    first = next(r for r in results if "members" in r)
    lines = [
        f"## Recommendations: training on {args.interactions:,} interactions, serving top-10",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared with other jobs during "
        "the run), 24 GiB; Python " + platform.python_version() + ", implicit 0.7.3 (CPU, "
        "conjugate-gradient ALS, one BLAS thread while fitting).",
        f"Command: `.venv/bin/python benchmarks/recommend.py --interactions {args.interactions}`"
        f" (whole run {seconds / 60:.1f} min; load average {load[0]:.1f} at the start and "
        f"{load[1]:.1f} at the end: other jobs shared the 2 cores, so wall times are longer "
        "than CPU times).",
        "",
        f"Data: {args.interactions:,} simulated interaction rows ({first['nnz']:,} distinct "
        f"member-product pairs) over {first['members']:,} members and {first['items']:,} "
        "products; member activity log-normal, item popularity Zipf(1.1) within 20 categories, "
        "view / cart / order = 70 / 15 / 15 % with weights 1 / 4 / 10. ALS settings for both: "
        + ", ".join(f"{k}={v}" for k, v in SETTINGS.items())
        + ", 2 threads. Latency: one "
        f"member per call, 300 calls after 20 warm-up calls; batch: {BATCH:,} members in one "
        "call.",
        "",
        "| contender | build matrix (s) | fit wall (s) | fit CPU (s) | peak memory (MiB) | "
        "serve min (ms) | serve p50 (ms) | serve p95 (ms) | serve CPU / call (ms) | "
        "batch (members/s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        prepare = "in fit" if r["prepare_s"] is None else f"{r['prepare_s']:.1f}"
        lines.append(
            f"| {r['who']} | {prepare} | {r['fit_s']:.1f} | {r['fit_cpu_s']:.1f} | "
            f"{r['peak_mb']:,.0f} | {r['min_ms']:.2f} | {r['p50_ms']:.2f} | "
            f"{r['p95_ms']:.2f} | "
            f"{r['cpu_ms']:.2f} | {r['batch_per_s']:,.0f} |"
        )
    lines += [
        "",
        "memberlens' fit includes encoding the text ids (Arrow), log scaling, the "
        "repeat-purchase flags and the popularity order; its serving includes the filters "
        "(catalogue, already bought, diversity cap), the reasons in English and Chinese and "
        "building a DataFrame. `implicit bare` returns two arrays (ids and scores). Peak "
        "memory includes the loaded interaction table "
        f"({results[0]['loaded_mb']:,.0f} MiB after reading the Parquet file). The fastest "
        "call (serve min) is what one call costs when it gets a core to itself; p50 and "
        "p95 include waiting for the shared cores.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interactions", type=int, default=10_000_000)
    parser.add_argument(
        "--members", type=int, default=None, help="default: one member per 10 interaction rows"
    )
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument(
        "--with-hybrid",
        action="store_true",
        help="also time kind='hybrid' (ALS + item kNN + popularity)",
    )
    parser.add_argument(
        "--no-write",
        action="store_true",
        help="print only; leave docs/benchmarks/recommend.md alone",
    )
    args = parser.parse_args()
    members = args.members or max(100, args.interactions // 10)
    path = DATA / f"rec_interactions_{args.interactions}.parquet"
    started, load_start = time.perf_counter(), os.getloadavg()[0]
    if not path.exists():
        print(f"simulating {args.interactions:,} interactions ...", file=sys.stderr)
        make_data(path, args.interactions, members, args.items)
    results = []
    for who in CONTENDERS + (("memberlens hybrid",) if args.with_hybrid else ()):
        print(f"running {who} ...", file=sys.stderr)
        results.append(child(path, who, SETTINGS))
    text = markdown(results, args, time.perf_counter() - started, (load_start, os.getloadavg()[0]))
    print(text)
    if not args.no_write:
        (ROOT / "docs" / "benchmarks" / "recommend.md").write_text(
            "# Benchmark: recommendations\n\n" + text, encoding="utf-8"
        )


if __name__ == "__main__":
    main()
