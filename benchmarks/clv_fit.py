"""Benchmark: BG/NBD, Pareto/NBD and Gamma-Gamma fit time, memberlens vs lifetimes and
pymc-marketing (MAP), on CDNOW and on simulated members; prints a Markdown section.

Peers live in their own virtual environments (their pins clash with ours) and run through
subprocess on the same summary, written to a temporary CSV:

    python3.11 -m venv /work/peers-venv-clv
    /work/peers-venv-clv/bin/pip install "lifetimes==0.11.3" "pandas==1.5.3" "numpy==1.26.4" \
        "scipy==1.11.4" "autograd==1.6.2"
    python3.11 -m venv /work/peers-venv-pymc
    /work/peers-venv-pymc/bin/pip install "pymc-marketing==0.19.2"
    .venv/bin/python benchmarks/clv_fit.py --lifetimes-python /work/peers-venv-clv/bin/python \
        --pymc-python /work/peers-venv-pymc/bin/python --members 100000 1000000

Time is the fit call only (data already in memory; ours includes validation and compression
into counts of identical rows). Parameters are compared to 3 significant digits.
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

import numpy as np
import pandas as pd

from memberlens.clv import BetaGeoModel, GammaGammaModel, ParetoNBDModel
from memberlens.clv.simulation import simulate_beta_geo, simulate_pareto_nbd
from memberlens.datasets import load_cdnow_sample
from memberlens.features import calibration_holdout_summary

OURS = {"bgnbd": BetaGeoModel, "pnbd": ParetoNBDModel, "gg": GammaGammaModel}
NAMES = {"bgnbd": "BG/NBD", "pnbd": "Pareto/NBD", "gg": "Gamma-Gamma"}
BG_TRUTH = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PNBD_TRUTH = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
GG_TRUTH = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def cdnow_summary() -> pd.DataFrame:
    lines = load_cdnow_sample()
    orders = lines.assign(order_id=np.arange(len(lines)).astype(str), status="paid")
    table = calibration_holdout_summary(orders, calibration_end="1997-09-30",
                                        holdout_end="1998-06-30", time_unit="W")
    return table.to_pandas().rename(columns={"frequency_cal": "frequency", "recency_cal": "recency",
                                             "T_cal": "T", "monetary_value_cal": "monetary_value"})


def simulated(n: int, seed: int, process: str) -> pd.DataFrame:
    """Members born on whole days over one year, observed for 18 months, weeks as time unit."""
    rng = np.random.default_rng(seed)
    T = (547 - rng.integers(0, 365, n)) / 7
    if process == "pnbd":
        return simulate_pareto_nbd(n, **PNBD_TRUTH, T=T, rng=rng, resolution=1 / 7)
    summary = simulate_beta_geo(n, **BG_TRUTH, T=T, rng=rng, resolution=1 / 7)
    x = summary["frequency"].to_numpy()
    nu = rng.gamma(GG_TRUTH["q"], 1 / GG_TRUTH["gamma"], n)
    spend = np.zeros(n)
    rep = x > 0  # mean of x Gamma(p, nu) values is Gamma(p x, rate nu x)
    spend[rep] = np.round(rng.gamma(GG_TRUTH["p"] * x[rep], 1 / (nu[rep] * x[rep])), 2)
    spend[rep] = np.maximum(spend[rep], 0.01)
    return summary.assign(monetary_value=spend)


def ours(model: str, data: pd.DataFrame, repeats: int) -> dict:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fitted = OURS[model]().fit(data)
        times.append(time.perf_counter() - start)
    return {"params": fitted.params_.to_dict(), "seconds": float(np.median(times))}


def peer(python: str | None, tool: str, model: str, csv: Path, timeout: float) -> dict:
    if not python:
        return {"error": "not run"}
    script = Path(__file__).with_name("clv_peers.py")
    try:
        # one BLAS thread, as memberlens uses inside its fits: on a small busy machine BLAS
        # spin-waits would otherwise slow the peers' optimisers many times over
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1"}
        done = subprocess.run([python, str(script), tool, model, str(csv)], capture_output=True,
                              text=True, timeout=timeout, check=False, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish in {timeout:.0f} s"}
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:200]}


def agree(a: dict, b: dict) -> str:
    if "params" not in b:
        return "-"
    same = all(f"{a[k]:.3g}" == f"{b['params'][k]:.3g}" for k in a)
    worst = max(abs(b["params"][k] / a[k] - 1) for k in a)
    return f"{'yes' if same else 'no'} (max rel. diff {worst:.1e})"


def cell(result: dict) -> str:
    return f"{result['seconds']:.2f}" if "seconds" in result else result["error"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--lifetimes-python", default=None)
    parser.add_argument("--pymc-python", default=None)
    parser.add_argument("--peer-timeout", type=float, default=600.0)
    parser.add_argument("--peer-max-pnbd", type=int, default=100_000,
                        help="largest simulated set on which peers fit the Pareto/NBD "
                             "(lifetimes needs minutes per 100,000 members)")
    args = parser.parse_args()

    sets = [("CDNOW sample (2,357)", {m: cdnow_summary() for m in OURS}, 5, True)]
    for n in args.members:
        sim_bg = simulated(n, 1, "bgnbd")
        sets.append((f"simulated ({n:,})", {"bgnbd": sim_bg, "gg": sim_bg,
                                           "pnbd": simulated(n, 2, "pnbd")}, 3, True))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, frames, repeats, _ in sets:
            for model, data in frames.items():
                csv = Path(tmp) / f"{model}.csv"
                data.to_csv(csv, index=False)
                mine = ours(model, data, repeats)
                run_peers = not (model == "pnbd" and len(data) > args.peer_max_pnbd)
                life = peer(args.lifetimes_python if run_peers else None, "lifetimes", model,
                            csv, args.peer_timeout)
                pymc = peer(args.pymc_python if run_peers else None, "pymc", model, csv,
                            args.peer_timeout)
                speedup = (f"{life['seconds'] / mine['seconds']:.0f}x" if "seconds" in life
                           else "-")
                rows.append((label, NAMES[model], f"{mine['seconds']:.2f}", cell(life), speedup,
                             agree(mine["params"], life), cell(pymc),
                             agree(mine["params"], pymc),
                             ", ".join(f"{k} {v:.4g}" for k, v in mine["params"].items())))
                print(f"done: {label} {model}", file=sys.stderr, flush=True)
    print("## CLV model fits (memberlens.clv vs lifetimes 0.11.3 and pymc-marketing 0.19.2 MAP)\n")
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"Machine: 2 cores, 24 GiB, Python {platform.python_version()}, load average at the "
          f"end {load} (the machine is shared); fit time in seconds (ours: median of 5 runs on "
          "CDNOW, of 3 on the simulated sets; peers: one run). Peers' times include pytensor "
          "compilation for pymc-marketing; peers run with one BLAS thread "
          "(OPENBLAS_NUM_THREADS=1), as memberlens limits itself inside fits; 'not run' = "
          "skipped by --peer-max-pnbd.\n")
    print("| data | model | memberlens s | lifetimes s | speed-up | same params (3 s.f.) | "
          "pymc-marketing MAP s | same params (3 s.f.) | memberlens estimates |")
    print("| --- | --- | ---: | ---: | ---: | --- | ---: | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
