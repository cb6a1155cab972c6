"""Benchmark of the weekly sales forecast against the models a user would otherwise pick.

One rolling-origin back-test (13 origins, every 4 weeks, horizons 1, 4, 8, 13 weeks; the same
weeks for every model) on weekly revenue and paid orders of:

* simulated shops (``memberlens.simulate``, default period 2023-01-01 .. 2025-12-31, several
  seeds): growth, yearly seasonality, 春节 / 38 / 618 / 双11 / 双12;
* the CDNOW sample (real, US CD shop 1997-1998: a single cohort decaying, 78 weeks, no Chinese
  festivals), where ours runs without festivals.

Models: ours (``SalesForecaster``: local level + yearly Fourier + festivals, and the AR(1) +
trend variant), statsmodels' Holt-Winters (``ExponentialSmoothing`` on log sales, damped
additive trend, additive 52-week season when two years are known), Prophet 1.5.0 (log sales,
its defaults: yearly terms once two years are known; once alone and once with our festival
exposures as extra regressors; run in its own virtualenv, ``--prophet-python``, set up with
``python3 -m venv /work/peers-venv-prophet && /work/peers-venv-prophet/bin/pip install
prophet==1.5.0``), the seasonal naive and the naive. Prints Markdown
(sMAPE by horizon, mean sMAPE and MAPE, seconds per fit) and writes docs/benchmarks/forecast.md.

    .venv/bin/python benchmarks/forecast.py --members 10000 --seeds 7 21 \
        --prophet-python /work/peers-venv-prophet/bin/python
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
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
HORIZONS = (1, 4, 8, 13)
ORIGINS, STEP = 13, 4

PROPHET = r"""
import json, sys, time, logging
import numpy as np, pandas as pd
logging.getLogger("cmdstanpy").setLevel(logging.ERROR)
from prophet import Prophet
job = json.load(open(sys.argv[1]))
weeks = pd.to_datetime(job["weeks"]); y = np.log1p(np.asarray(job["y"], dtype=float))
x = pd.DataFrame(job["exposure"], index=pd.to_datetime(job["exposure_weeks"]))
out = {}
for variant in ("prophet", "prophet_festivals"):
    rows, seconds = [], []
    for o in job["origins"]:
        reach = min(max(job["horizons"]), len(y) - 1 - o)
        frame = pd.DataFrame({"ds": weeks[:o + 1], "y": y[:o + 1]})
        model = Prophet()   # defaults: yearly terms only with two years of history
        columns = []
        if variant == "prophet_festivals":
            exposure = x.loc[weeks[:o + 1]]
            columns = [c for c in exposure.columns if exposure[c].any()]
            for c in columns:
                model.add_regressor(c)
                frame[c] = exposure[c].to_numpy()
        t0 = time.perf_counter()
        model.fit(frame)
        future = pd.DataFrame({"ds": weeks[o + 1:o + 1 + reach]})
        for c in columns:
            future[c] = x.loc[future.ds, c].to_numpy()
        yhat = np.expm1(model.predict(future)["yhat"].to_numpy())
        seconds.append(time.perf_counter() - t0)
        rows.append(yhat.tolist())
    out[variant] = {"forecasts": rows, "seconds": float(np.mean(seconds))}
print(json.dumps(out))
"""


def weekly_frames(members: int, seeds: list[int], tmp: Path) -> dict[str, pd.DataFrame]:
    import ibis

    from memberlens.forecast import weekly_sales
    from memberlens.simulate import simulate_shop

    frames = {}
    for seed in seeds:
        folder = tmp / f"shop-{seed}"
        simulate_shop(folder, members=members, seed=seed)
        con = ibis.duckdb.connect()
        orders = con.read_parquet(folder / "orders.parquet", table_name="orders")
        frames[f"simulated {members:,} members, seed {seed}"] = weekly_sales({"orders": orders})
    return frames


def cdnow_weekly() -> pd.DataFrame:
    from memberlens.datasets import load_cdnow_sample
    from memberlens.forecast import weekly_sales

    raw = load_cdnow_sample()
    orders = pd.DataFrame(
        {
            "order_id": np.arange(len(raw)).astype(str),
            "member_id": raw["member_id"],
            "ordered_at": raw["ordered_at"],
            "amount": raw["amount"],
            "status": "paid",
        }
    )
    return weekly_sales({"orders": orders}, as_of="1998-06-28")


def origins_of(n: int) -> list[int]:
    last = n - 1 - max(HORIZONS)
    return sorted(o for o in range(last, last - STEP * ORIGINS, -STEP) if o + 1 >= 12)


def holt_winters(history: np.ndarray, reach: int) -> np.ndarray:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    seasonal = "add" if len(history) >= 104 else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ExponentialSmoothing(
            np.log1p(history),
            trend="add",
            damped_trend=True,
            seasonal=seasonal,
            seasonal_periods=52 if seasonal else None,
        ).fit()
    return np.expm1(fit.forecast(reach))


def run_series(
    name: str, weekly: pd.DataFrame, metric: str, festivals: bool, prophet_python: str | None
) -> pd.DataFrame:
    from memberlens.forecast import (
        DEFAULT_FESTIVALS,
        SalesForecaster,
        festival_regressors,
        naive_forecast,
        seasonal_naive_forecast,
    )

    y = weekly[metric].to_numpy(dtype=float)
    weeks = pd.DatetimeIndex(weekly["week"])
    origins = origins_of(len(y))
    fest = DEFAULT_FESTIVALS if festivals else ()
    ours = {
        "ours (local level)": SalesForecaster(metric=metric, festivals=fest),
        "ours, AR(1) + trend": SalesForecaster(metric=metric, festivals=fest, errors="ar1"),
    }
    forecasts: dict[str, list[np.ndarray]] = {}
    seconds: dict[str, float] = {}
    series = pd.Series(y, index=weeks)
    for label, model in ours.items():
        out, spent = [], []
        for o in origins:
            reach = min(max(HORIZONS), len(y) - 1 - o)
            t0 = time.perf_counter()
            out.append(model.fit(series.iloc[: o + 1]).predict(reach)["yhat"].to_numpy())
            spent.append(time.perf_counter() - t0)
        forecasts[label], seconds[label] = out, float(np.mean(spent))
    out, spent = [], []
    for o in origins:
        reach = min(max(HORIZONS), len(y) - 1 - o)
        t0 = time.perf_counter()
        out.append(holt_winters(y[: o + 1], reach))
        spent.append(time.perf_counter() - t0)
    forecasts["Holt-Winters (statsmodels)"] = out
    seconds["Holt-Winters (statsmodels)"] = float(np.mean(spent))
    if prophet_python:
        future = pd.date_range(weeks[0], weeks[-1] + pd.Timedelta(weeks=13), freq="7D")
        exposure = festival_regressors(future) if festivals else pd.DataFrame(index=future)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as job:
            json.dump(
                {
                    "weeks": [w.isoformat() for w in weeks],
                    "y": y.tolist(),
                    "origins": origins,
                    "horizons": list(HORIZONS),
                    "exposure": exposure.to_dict(orient="list"),
                    "exposure_weeks": [w.isoformat() for w in future],
                },
                job,
            )
        done = subprocess.run(
            [prophet_python, "-c", PROPHET, job.name], capture_output=True, text=True, check=True
        )
        os.unlink(job.name)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        variants = ["prophet", "prophet_festivals"] if festivals else ["prophet"]
        for variant in variants:
            label = (
                "Prophet + our festival regressors" if variant == "prophet_festivals" else "Prophet"
            )
            forecasts[label] = [np.asarray(f) for f in result[variant]["forecasts"]]
            seconds[label] = result[variant]["seconds"]
    forecasts["seasonal naive"] = [
        seasonal_naive_forecast(y[: o + 1], min(13, len(y) - 1 - o)) for o in origins
    ]
    forecasts["naive"] = [naive_forecast(y[: o + 1], min(13, len(y) - 1 - o)) for o in origins]
    rows = []
    for label, per_origin in forecasts.items():
        for o, f in zip(origins, per_origin):
            for h in HORIZONS:
                if h <= len(f) and np.isfinite(f[h - 1]):
                    rows.append(
                        {
                            "series": name,
                            "metric": metric,
                            "model": label,
                            "horizon": h,
                            "actual": y[o + h],
                            "yhat": float(f[h - 1]),
                            "seconds": seconds.get(label, 0.0),
                        }
                    )
    return pd.DataFrame(rows)


def summarise(errors: pd.DataFrame) -> pd.DataFrame:
    from memberlens.forecast import mape, smape

    rows = []
    for (model, horizon), part in errors.groupby(["model", "horizon"], sort=False):
        rows.append(
            {
                "model": model,
                "horizon": horizon,
                "smape": smape(part.actual, part.yhat),
                "mape": mape(part.actual, part.yhat),
            }
        )
    by_h = pd.DataFrame(rows).pivot(index="model", columns="horizon", values="smape")
    overall = errors.groupby("model", sort=False).apply(
        lambda p: pd.Series(
            {
                "mean sMAPE": smape(p.actual, p.yhat),
                "mean MAPE": mape(p.actual, p.yhat),
                "s / fit": p.seconds.iloc[0],
            }
        ),
        include_groups=False,
    )
    table = by_h.join(overall)
    order = [m for m in errors["model"].drop_duplicates()]
    return table.loc[order]


def markdown(table: pd.DataFrame) -> str:
    head = ["model", *[f"sMAPE h={h}" for h in HORIZONS], "mean sMAPE", "mean MAPE", "s / fit"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for model, row in table.iterrows():
        mape_text = f"{row['mean MAPE']:.1f}" if row["mean MAPE"] < 1e4 else "> 10,000"
        cells = [
            model,
            *[f"{row[h]:.1f}" for h in HORIZONS],
            f"**{row['mean sMAPE']:.1f}**",
            mape_text,
            f"{row['s / fit']:.3f}" if row["s / fit"] else "-",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 21, 22])
    parser.add_argument(
        "--prophet-python",
        default=None,
        help="python of a virtualenv with prophet installed (skipped if unset)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "forecast.md")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        simulated = weekly_frames(args.members, args.seeds, Path(tmp))
    parts = []
    for name, weekly in simulated.items():
        for metric in ("revenue", "orders"):
            print(f"{name}: {metric}", file=sys.stderr)
            parts.append(run_series(name, weekly, metric, True, args.prophet_python))
    simulated_errors = pd.concat(parts, ignore_index=True)
    cdnow_frame = cdnow_weekly()
    cdnow_weeks = len(cdnow_frame)
    cdnow = pd.concat(
        [
            run_series("CDNOW sample", cdnow_frame, metric, False, args.prophet_python)
            for metric in ("revenue", "orders")
        ],
        ignore_index=True,
    )
    sections = []
    for title, errors in (
        (
            f"Simulated shops ({args.members:,} members, seeds "
            f"{', '.join(map(str, args.seeds))}; revenue and orders; "
            f"{len(next(iter(simulated.values())))} weeks)",
            simulated_errors,
        ),
        (
            f"CDNOW sample (real; revenue and orders; {cdnow_weeks} weeks; ours without festivals)",
            cdnow,
        ),
    ):
        table = summarise(errors)
        n = errors.loc[errors.model == errors.model.iloc[0]].shape[0]
        sections.append(
            f"### {title}\n\n{n} forecasts per model (fewer for the seasonal "
            "naive where the week a year back is not known); sMAPE and MAPE in "
            f"percent (lower is better).\n\n{markdown(table)}\n"
        )
    uname = platform.uname()
    command = (
        "`.venv/bin/python benchmarks/forecast.py --members "
        f"{args.members} --seeds {' '.join(map(str, args.seeds))}"
        + (f" --prophet-python {args.prophet_python}`" if args.prophet_python else "`")
    )
    text = (
        f"## Sales forecast: rolling-origin back-test\n\n"
        f"Machine: {uname.machine}, {os.cpu_count()} cores (shared with other jobs during "
        f"the run). Command: {command} ({time.perf_counter() - started:.0f} s in all).\n\n"
        f"Each model is refitted at {ORIGINS} origins, every {STEP} weeks back from the "
        "latest one that leaves 13 weeks to test, and forecasts 1, 4, 8 and 13 weeks ahead; "
        "all models forecast the same weeks. Holt-Winters and Prophet fit log(1 + sales) "
        'like ours. "s / fit" is the mean wall time of one fit and forecast.\n\n'
        + "\n".join(sections)
    )
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
