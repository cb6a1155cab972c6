"""Fit one peer CLV model on a summary CSV and print JSON {params, seconds, ...} (or {error}).

Runs inside the peers' virtual environment (see benchmarks/requirements-peers.txt), called by
benchmarks/clv_fit.py through subprocess:

    python clv_peers.py lifetimes bgnbd summary.csv [REPEAT [WARMUP]]

With REPEAT > 1 the fit is timed REPEAT times (after WARMUP untimed fits, default 0) and the
medians of the wall and CPU times are reported, with every time in ``runs`` and
``cpu_runs``.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import warnings

import pandas as pd


def timed(fit, model: str, data: pd.DataFrame, repeat: int, warmup: int) -> dict:
    """Median wall and CPU seconds of ``repeat`` fits after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fit(model, data)
    runs = [fit(model, data) for _ in range(repeat)]
    return {
        "params": runs[-1]["params"],
        "seconds": statistics.median(r["seconds"] for r in runs),
        "cpu_seconds": statistics.median(r["cpu_seconds"] for r in runs),
        "runs": [r["seconds"] for r in runs],
        "cpu_runs": [r["cpu_seconds"] for r in runs],
    }


def lifetimes_fit(model: str, data: pd.DataFrame) -> dict:
    from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter

    start, cpu = time.perf_counter(), time.process_time()
    if model == "bgnbd":
        fitter = BetaGeoFitter().fit(data["frequency"], data["recency"], data["T"])
    elif model == "pnbd":
        fitter = ParetoNBDFitter().fit(data["frequency"], data["recency"], data["T"])
    else:
        rep = data[data["frequency"] > 0]
        fitter = GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    params = {("gamma" if k == "v" else k): float(v) for k, v in fitter.params_.items()}
    return {"params": params, "seconds": seconds, "cpu_seconds": cpu}


def pymc_fit(model: str, data: pd.DataFrame) -> dict:
    from pymc_extras.prior import Prior
    from pymc_marketing import clv

    frame = data.rename(columns={"member_id": "customer_id"})
    flat = Prior("HalfFlat")
    if model == "bgnbd":
        names = {"r": "r", "alpha": "alpha", "a": "a", "b": "b"}
        fitted = clv.BetaGeoModel(
            data=frame[["customer_id", "frequency", "recency", "T"]],
            model_config=dict.fromkeys(names, flat),
        )
    elif model == "pnbd":
        names = {"r": "r", "alpha": "alpha", "s": "s", "beta": "beta"}
        fitted = clv.ParetoNBDModel(
            data=frame[["customer_id", "frequency", "recency", "T"]],
            model_config=dict.fromkeys(names, flat),
        )
    else:
        names = {"p": "p", "q": "q", "v": "gamma"}
        rep = frame[frame["frequency"] > 0][["customer_id", "frequency", "monetary_value"]]
        fitted = clv.GammaGammaModel(data=rep, model_config=dict.fromkeys(names, flat))
    start, cpu = time.perf_counter(), time.process_time()
    fitted.fit(method="map", progressbar=False)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    posterior = fitted.idata.posterior
    params = {ours: float(posterior[theirs].values.ravel()[0]) for theirs, ours in names.items()}
    return {"params": params, "seconds": seconds, "cpu_seconds": cpu}


def main() -> None:
    tool, model, path = sys.argv[1:4]
    repeat = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    warmup = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    data = pd.read_csv(path, dtype={"member_id": str})
    warnings.simplefilter("ignore")
    try:
        result = timed(
            lifetimes_fit if tool == "lifetimes" else pymc_fit, model, data, repeat, warmup
        )
    except Exception as exc:  # report the peer's failure as data, the caller prints it
        result = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
