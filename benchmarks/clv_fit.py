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
into counts of identical rows). On CDNOW each contender fits ``--repeat`` times per round after
one untimed warm-up fit, for ``--rounds`` rounds that alternate ours and the peers (so that load
from other jobs on a shared machine hits both); the table gives medians of wall time and of
CPU time. Parameters are compared to 3 significant digits.
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
    table = calibration_holdout_summary(
        orders, calibration_end="1997-09-30", holdout_end="1998-06-30", time_unit="W"
    )
    return table.to_pandas().rename(
        columns={
            "frequency_cal": "frequency",
            "recency_cal": "recency",
            "T_cal": "T",
            "monetary_value_cal": "monetary_value",
        }
    )


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


def ours(model: str, data: pd.DataFrame, repeat: int, warmup: int) -> dict:
    """Wall and CPU seconds of ``repeat`` fits (after ``warmup`` untimed ones), as the peers'
    script measures them."""
    for _ in range(warmup):
        OURS[model]().fit(data)
    walls, cpus = [], []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        fitted = OURS[model]().fit(data)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return {"params": fitted.params_.to_dict(), "runs": walls, "cpu_runs": cpus}


def peer(
    python: str | None,
    tool: str,
    model: str,
    csv: Path,
    timeout: float,
    repeat: int = 1,
    warmup: int = 0,
) -> dict:
    if not python:
        return {"error": "not run"}
    script = Path(__file__).with_name("clv_peers.py")
    try:
        # one BLAS thread, as memberlens uses inside its fits: on a small busy machine BLAS
        # spin-waits would otherwise slow the peers' optimisers many times over
        env = {
            **os.environ,
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
        done = subprocess.run(
            [python, str(script), tool, model, str(csv), str(repeat), str(warmup)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish in {timeout:.0f} s"}
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:200]}


def pooled(results: list[dict]) -> dict:
    """Rounds of one contender pooled: all runs, their median wall and CPU seconds."""
    good = [r for r in results if "runs" in r]
    if not good:
        return results[-1]
    walls = [t for r in good for t in r["runs"]]
    cpus = [t for r in good for t in r["cpu_runs"]]
    return {
        "params": good[-1]["params"],
        "seconds": float(np.median(walls)),
        "cpu_seconds": float(np.median(cpus)),
        "n": len(walls),
        "spread": (min(walls), max(walls)),
    }


def agree(a: dict, b: dict) -> str:
    if "params" not in b:
        return "-"
    same = all(f"{a[k]:.3g}" == f"{b['params'][k]:.3g}" for k in a)
    worst = max(abs(b["params"][k] / a[k] - 1) for k in a)
    return f"{'yes' if same else 'no'} (max rel. diff {worst:.1e})"


def cell(result: dict) -> str:
    if "seconds" not in result:
        return result["error"]
    low, high = result.get("spread", (result["seconds"],) * 2)
    return f"{result['seconds']:.4f} ({low:.4f}–{high:.4f}, n={result.get('n', 1)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--lifetimes-python", default=None)
    parser.add_argument("--pymc-python", default=None)
    parser.add_argument("--peer-timeout", type=float, default=600.0)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds per model on CDNOW, ours then the peers in each round",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=7,
        help="timed fits per contender and round on CDNOW (after one warm-up)",
    )
    parser.add_argument(
        "--peer-max-pnbd",
        type=int,
        default=100_000,
        help="largest simulated set on which peers fit the Pareto/NBD "
        "(lifetimes needs minutes per 100,000 members)",
    )
    args = parser.parse_args()

    # (label, frames, rounds, our repeats, peer repeats, warm-up fits)
    sets = [
        (
            "CDNOW sample (2,357)",
            {m: cdnow_summary() for m in OURS},
            args.rounds,
            args.repeat,
            args.repeat,
            1,
        )
    ]
    for n in args.members:
        sim_bg = simulated(n, 1, "bgnbd")
        sets.append(
            (
                f"simulated ({n:,})",
                {"bgnbd": sim_bg, "gg": sim_bg, "pnbd": simulated(n, 2, "pnbd")},
                1,
                3,
                1,
                0,
            )
        )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, frames, rounds, repeat, peer_repeat, warmup in sets:
            for model, data in frames.items():
                csv = Path(tmp) / f"{model}.csv"
                data.to_csv(csv, index=False)
                run_peers = not (model == "pnbd" and len(data) > args.peer_max_pnbd)
                mine, life, pymc = [], [], []
                # simulated sets: 3 rounds where lifetimes takes seconds, 1 where it takes minutes
                rounds_here = (
                    rounds
                    if label.startswith("CDNOW")
                    else (3 if len(data) <= 100_000 and model != "pnbd" else 1)
                )
                for _ in range(rounds_here):  # interleaved: outside load hits both alike
                    mine.append(ours(model, data, repeat, warmup))
                    life.append(
                        peer(
                            args.lifetimes_python if run_peers else None,
                            "lifetimes",
                            model,
                            csv,
                            args.peer_timeout,
                            peer_repeat,
                            warmup,
                        )
                    )
                mine, life = pooled(mine), pooled(life)
                pymc = pooled(
                    [
                        peer(
                            args.pymc_python if run_peers else None,
                            "pymc",
                            model,
                            csv,
                            args.peer_timeout,
                        )
                    ]
                )
                speedup = f"{life['seconds'] / mine['seconds']:.1f}x" if "seconds" in life else "-"
                cpu_speedup = (
                    f"{life['cpu_seconds'] / mine['cpu_seconds']:.1f}x"
                    if "cpu_seconds" in life
                    else "-"
                )
                rows.append(
                    (
                        label,
                        NAMES[model],
                        cell(mine),
                        cell(life),
                        speedup,
                        cpu_speedup,
                        agree(mine["params"], life),
                        cell(pymc),
                        agree(mine["params"], pymc),
                        ", ".join(f"{k} {v:.4g}" for k, v in mine["params"].items()),
                    )
                )
                print(
                    f"done: {label} {model}: {rows[-1][4]} (CPU {rows[-1][5]})",
                    file=sys.stderr,
                    flush=True,
                )
    print("## CLV model fits (memberlens.clv vs lifetimes 0.11.3 and pymc-marketing 0.19.2 MAP)\n")
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"Machine: 2 cores (shared), Python {platform.python_version()}, load average at the "
        f"end {load}. Fit time in seconds, median (min–max, n runs): on CDNOW {args.rounds} "
        f"rounds x {args.repeat} fits per contender after one untimed warm-up fit, ours and "
        "lifetimes interleaved round by round; on the simulated sets rounds of 3 fits of ours "
        "and one of lifetimes (3 rounds up to 100,000 members except the Pareto/NBD, else "
        "1). Speed-up = lifetimes median / memberlens median, of wall time and of CPU time "
        "(process time: less sensitive to other jobs on the shared cores). "
        "pymc-marketing: one fit (its time includes compiling the model); peers run with one "
        "BLAS thread (OPENBLAS_NUM_THREADS=1), as memberlens limits itself inside fits; "
        "'not run' = skipped (no --pymc-python, or by --peer-max-pnbd).\n"
    )
    print(
        "| data | model | memberlens s | lifetimes s | speed-up (wall) | speed-up (CPU) | "
        "same params (3 s.f.) | pymc-marketing MAP s | same params (3 s.f.) | "
        "memberlens estimates |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
