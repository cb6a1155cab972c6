"""Benchmark of association rules: memberlens against mlxtend's fpgrowth + association_rules.

Two data sets, each side in its own child process (so each peak resident memory, the
``VmHWM`` of ``/proc/self/status``, is that side's alone):

- Groceries (arules; 9,835 baskets) at support 0.001 / confidence 0.5 (5,668 rules in arules);
- ``--baskets`` simulated baskets (1 million by default): a catalogue of 300 items with Zipf
  popularity, basket sizes 1 + Poisson(Gamma(2, 1.7)) (mean about 4.4, as in Groceries), 30
  planted "a pulls b" co-purchases (probability 0.4) and 8 planted three-item bundles.

Both sides start from the same data (the CSV lines, or int arrays in a ``.npz``) and build their
own input: memberlens gets lists of baskets or an Arrow table of (basket_id, item); mlxtend
gets the one-hot boolean DataFrame its API needs (TransactionEncoder for Groceries, built with
numpy for the simulated baskets). The frequent itemsets of both sides must be identical (same
sets, same counts) and so must the single-consequent rules with two or more items; the script
stops with an error otherwise.

mlxtend is a peer, not a dependency: install it in its own venv first,

    python3 -m venv /work/peers-venv && /work/peers-venv/bin/pip install mlxtend==0.25.0
    .venv/bin/python benchmarks/baskets.py --peer-python /work/peers-venv/bin/python

Prints a Markdown section for docs/benchmarks/baskets.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GROCERIES = {"min_support": 0.001, "min_confidence": 0.5}
SIMULATED = {"min_support": 0.001, "min_confidence": 0.1}


# ---------------------------------------------------------------- children (one side each)


def _rss_mib() -> float:
    """Peak resident memory of this process so far. Linux's VmHWM starts afresh at exec, while
    ru_maxrss keeps the high-water mark of the parent that forked us."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _read_lines(path: str) -> list[list[str]]:
    with open(path, encoding="utf-8") as handle:
        return [line.split(",") for line in handle.read().splitlines() if line]


def _child_ours(data: str, task: str, min_support: float, min_confidence: float) -> dict:
    import numpy as np
    import pyarrow as pa

    from memberlens.baskets import association_rules, frequent_itemsets

    baseline = _rss_mib()
    start = time.perf_counter()
    if data.endswith(".npz"):
        arrays = np.load(data)
        baskets = pa.table(
            {
                "basket_id": arrays["basket"],
                "item": pa.DictionaryArray.from_arrays(arrays["item"], pa.array(arrays["labels"])),
            }
        )
    else:
        baskets = _read_lines(data)
    loaded = time.perf_counter()
    out: dict = {}
    if task == "itemsets":
        found = frequent_itemsets(baskets, min_support=min_support)
        done = time.perf_counter()
        out["itemsets"] = [
            [sorted(map(str, s)), int(c)] for s, c in zip(found["itemset"], found["count"])
        ]
    else:
        rules = association_rules(
            baskets, min_support=min_support, min_confidence=min_confidence, min_len=2
        )
        done = time.perf_counter()
        out["rules"] = sorted(
            [sorted(map(str, a)), str(c), int(n)]
            for a, c, n in zip(rules["antecedent"], rules["consequent"], rules["count"])
        )
    out.update(
        load_s=loaded - start, seconds=done - start, peak_mib=_rss_mib(), baseline_mib=baseline
    )
    return out


def _child_mlxtend(data: str, task: str, min_support: float, min_confidence: float) -> dict:
    import numpy as np
    import pandas as pd
    from mlxtend.frequent_patterns import association_rules, fpgrowth
    from mlxtend.preprocessing import TransactionEncoder

    baseline = _rss_mib()
    start = time.perf_counter()
    if data.endswith(".npz"):
        arrays = np.load(data)
        basket, item, labels = arrays["basket"], arrays["item"], arrays["labels"]
        loaded = time.perf_counter()
        onehot = np.zeros((int(basket.max()) + 1, labels.size), dtype=bool)
        onehot[basket, item] = True
        frame = pd.DataFrame(onehot, columns=[str(x) for x in labels], copy=False)
        del onehot, basket, item
    else:
        lines = _read_lines(data)
        loaded = time.perf_counter()
        encoder = TransactionEncoder()
        frame = pd.DataFrame(encoder.fit(lines).transform(lines), columns=encoder.columns_)
    found = fpgrowth(frame, min_support=min_support, use_colnames=True)
    itemsets_done = time.perf_counter()
    out = {
        "itemsets": [
            [sorted(map(str, s)), int(round(sup * len(frame)))]
            for s, sup in zip(found["itemsets"], found["support"])
        ]
    }
    rules = association_rules(found, len(frame), metric="confidence", min_threshold=min_confidence)
    rules = rules[rules["consequents"].map(len) == 1]
    done = time.perf_counter()
    out["rules"] = sorted(
        [sorted(map(str, a)), str(next(iter(c))), int(round(sup * len(frame)))]
        for a, c, sup in zip(rules["antecedents"], rules["consequents"], rules["support"])
    )
    out.update(
        load_s=loaded - start,
        itemsets_seconds=itemsets_done - start,
        seconds=done - start,
        peak_mib=_rss_mib(),
        baseline_mib=baseline,
    )
    return out


# ---------------------------------------------------------------- parent


def simulate_baskets(n_baskets: int, path: Path, *, n_items: int = 300, seed: int = 7) -> dict:
    """Write simulated baskets to ``path`` (.npz: basket int32, item int16, labels)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.9
    cdf = np.cumsum(popularity / popularity.sum())
    sizes = 1 + rng.poisson(rng.gamma(2.0, 1.7, n_baskets))
    basket = np.repeat(np.arange(n_baskets, dtype=np.int64), sizes)
    item = np.minimum(np.searchsorted(cdf, rng.random(basket.size)), n_items - 1)
    lead = rng.choice(n_items // 2, size=30, replace=False)
    pull = np.full(n_items, -1)
    pull[lead] = (lead + rng.integers(1, n_items - 1, size=30)) % n_items
    extra = (pull[item] >= 0) & (rng.random(item.size) < 0.4)
    basket = np.concatenate([basket, basket[extra]])
    item = np.concatenate([item, pull[item[extra]]])
    for bundle in rng.integers(0, n_items, (8, 3)):
        who = np.flatnonzero(rng.random(n_baskets) < 0.003)
        basket = np.concatenate([basket, np.repeat(who, 3)])
        item = np.concatenate([item, np.tile(bundle, who.size)])
    key = np.unique(basket * n_items + item)
    np.savez(
        path,
        basket=(key // n_items).astype(np.int32),
        item=(key % n_items).astype(np.int16),
        labels=np.array([f"item_{k:03d}" for k in range(n_items)]),
    )
    return {"baskets": n_baskets, "lines": int(key.size), "items": n_items}


def run_side(python: str, side: str, data: Path, task: str, params: dict) -> dict:
    env = dict(os.environ, PYTHONHASHSEED="0")
    args = [
        python,
        __file__,
        "--child",
        side,
        "--data",
        str(data),
        "--task",
        task,
        "--min-support",
        str(params["min_support"]),
        "--min-confidence",
        str(params["min_confidence"]),
    ]
    proc = subprocess.run(args, capture_output=True, text=True, env=env)
    if proc.returncode:
        raise SystemExit(f"{side} {task} on {data.name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b > 0 else "n/a"


def _best(runs: list[dict], key: str = "seconds") -> float:
    return min(r[key] for r in runs)


def compare(name: str, data: Path, params: dict, peer_python: str, repeat: int) -> list[str]:
    ours_sets = [run_side(sys.executable, "ours", data, "itemsets", params) for _ in range(repeat)]
    ours_rules = [run_side(sys.executable, "ours", data, "rules", params) for _ in range(repeat)]
    peer = [
        run_side(peer_python, "mlxtend", data, "rules", params)
        for _ in range(1 if "npz" in data.name else repeat)
    ]
    mine = sorted(map(tuple, ((tuple(s), c) for s, c in ours_sets[0]["itemsets"])))
    theirs = sorted(map(tuple, ((tuple(s), c) for s, c in peer[0]["itemsets"])))
    if mine != theirs:
        raise SystemExit(f"{name}: frequent itemsets differ ({len(mine)} vs {len(theirs)})")
    rules_mine = [(tuple(a), c, n) for a, c, n in ours_rules[0]["rules"]]
    rules_theirs = [(tuple(a), c, n) for a, c, n in peer[0]["rules"]]
    if rules_mine != rules_theirs:
        raise SystemExit(f"{name}: rules differ ({len(rules_mine)} vs {len(rules_theirs)})")
    t_sets, t_rules = _best(ours_sets), _best(ours_rules)
    p_sets, p_rules = _best(peer, "itemsets_seconds"), _best(peer)
    m_sets, m_rules = ours_sets[0]["peak_mib"], ours_rules[0]["peak_mib"]
    m_peer, b_peer = peer[0]["peak_mib"], peer[0]["baseline_mib"]
    b_sets, b_rules = ours_sets[0]["baseline_mib"], ours_rules[0]["baseline_mib"]
    return [
        f"| {name}: frequent itemsets ({len(mine):,}) | {t_sets:.3f} | {p_sets:.3f} | "
        f"{p_sets / t_sets:.1f}x | {m_sets:.0f} ({m_sets - b_sets:.0f}) | "
        f"{m_peer:.0f} ({m_peer - b_peer:.0f}) | {m_peer / m_sets:.1f}x "
        f"({_ratio(m_peer - b_peer, m_sets - b_sets)}) |",
        f"| {name}: rules ({len(rules_mine):,}) | {t_rules:.3f} | {p_rules:.3f} | "
        f"{p_rules / t_rules:.1f}x | {m_rules:.0f} ({m_rules - b_rules:.0f}) | "
        f"{m_peer:.0f} ({m_peer - b_peer:.0f}) | {m_peer / m_rules:.1f}x "
        f"({_ratio(m_peer - b_peer, m_rules - b_rules)}) |",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baskets", type=int, default=1_000_000)
    parser.add_argument(
        "--peer-python",
        default=os.environ.get("MEMBERLENS_PEER_PYTHON", "/work/peers-venv/bin/python"),
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs per side (best kept); mlxtend runs once on the simulated baskets",
    )
    parser.add_argument("--child", choices=["ours", "mlxtend"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--task", default="rules", help=argparse.SUPPRESS)
    parser.add_argument("--min-support", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--min-confidence", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child = _child_ours if args.child == "ours" else _child_mlxtend
        print(json.dumps(child(args.data, args.task, args.min_support, args.min_confidence)))
        return

    from memberlens.datasets import data_path

    peer_version = subprocess.run(
        [
            args.peer_python,
            "-c",
            "import mlxtend, pandas, numpy; print(mlxtend.__version__, "
            "pandas.__version__, numpy.__version__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    import numpy
    import pandas

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += compare(
            "Groceries (9,835 baskets, s=0.001, c=0.5)",
            data_path("groceries.csv"),
            GROCERIES,
            args.peer_python,
            args.repeat,
        )
        t0 = time.perf_counter()
        info = simulate_baskets(args.baskets, Path(tmp) / "simulated.npz")
        print(
            f"simulated {info['baskets']:,} baskets, {info['lines']:,} lines in "
            f"{time.perf_counter() - t0:.1f} s",
            file=sys.stderr,
        )
        rows += compare(
            f"Simulated ({args.baskets:,} baskets, {info['lines']:,} lines, "
            f"s={SIMULATED['min_support']}, c={SIMULATED['min_confidence']})",
            Path(tmp) / "simulated.npz",
            SIMULATED,
            args.peer_python,
            args.repeat,
        )
    print("## Association rules (memberlens.baskets vs mlxtend fpgrowth + association_rules)\n")
    print(
        f"Machine: {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}. memberlens: numpy {numpy.__version__}, pandas "
        f"{pandas.__version__}; peer: mlxtend {peer_version[0]}, pandas {peer_version[1]}, "
        f"numpy {peer_version[2]}. Best of {args.repeat} runs (mlxtend once on the simulated "
        f"baskets), each side in its own process; time from the loaded file to the result "
        "(input building included). Peak memory is the child's VmHWM, in brackets above "
        "its own baseline after imports. Itemsets and rules were checked identical.\n"
    )
    print(
        "| task | memberlens s | mlxtend s | speed-up | memberlens peak MiB | "
        "mlxtend peak MiB | less memory |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
