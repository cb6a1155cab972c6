"""Which festival calendar a shop's forecast uses, and whether the back-test keeps it.

* **By locale**: the Chinese shopping calendar (春节, 38, 618, 国庆, 双11, 双12:
  :data:`~memberlens.forecast.festivals.FESTIVALS`) for a Chinese locale (``zh``, ``zh-CN``,
  ...), none otherwise: a UK shop gets no 双12 spike. A user-supplied list of festival names
  (``memberlens.toml`` ``[forecast] festivals = [...]``, ``memberlens forecast --festivals``)
  replaces the default; an empty list means none.
* **Each festival kept only if the back-test supports it**: :func:`choose_calendar` back-tests
  the total series with the whole calendar and without it (same origins and horizons), then
  keeps each festival whose own weeks (the back-test's target weeks its window touches) are
  forecast better with the calendar than without; a festival that no target week touches
  follows the whole calendar's verdict (its mean sMAPE over the horizons against none).
* :func:`festival_table` lists the calendar as ``memberlens forecast --json`` shows it under
  ``"festivals"``: name, Chinese label, the dates in the history and forecast, the estimated
  lift of a fully exposed week and whether it was kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import clone

from memberlens.exceptions import ConfigError, MemberlensError
from memberlens.forecast.backtest import backtest_forecast, smape
from memberlens.forecast.festivals import (
    DEFAULT_FESTIVALS,
    FESTIVALS,
    festival_dates,
    festival_regressors,
)
from memberlens.forecast.model import SalesForecaster

__all__ = ["CalendarChoice", "choose_calendar", "festival_table", "festivals_for_locale"]

_BY_NAME = {f.name: f for f in FESTIVALS}


def festivals_for_locale(
    locale: str | None, festivals: Sequence[str] | None = None
) -> tuple[str, ...]:
    """The festival names a shop's forecast starts from: ``festivals`` when given (checked),
    else the Chinese calendar for a Chinese locale and none for any other."""
    if festivals is not None:
        if isinstance(festivals, str):
            raise ConfigError(
                f"forecast.festivals: must be a list of names, got the string {festivals!r}; "
                'write festivals = ["double11", "day_618"] (or [] for none)'
            )
        unknown = [f for f in festivals if f not in _BY_NAME]
        if unknown:
            raise ConfigError(
                f"forecast.festivals: unknown name(s) {unknown}; choose from "
                f"{', '.join(_BY_NAME)} (or [] for none)"
            )
        return tuple(festivals)
    language = str(locale or "").replace("_", "-").split("-")[0].lower()
    return DEFAULT_FESTIVALS if language == "zh" else ()


@dataclass(frozen=True)
class CalendarChoice:
    """The festivals kept (a subset of the candidates, possibly empty), the candidate calendar,
    the two back-tests' mean sMAPE (whole calendar, none), per festival its evidence
    (:data:`EVIDENCE`), the effects estimated with the whole calendar and a note in words."""

    kept: tuple[str, ...]
    candidates: tuple[str, ...]
    smape_with: float
    smape_without: float
    note: str
    #: festival -> {"weeks", "smape_with", "smape_without", "decided_by"} (see choose_calendar)
    evidence: dict[str, dict] = field(default_factory=dict)
    #: festival_effects() of the model fitted on the whole series with every candidate
    effects: pd.DataFrame | None = None


#: how a festival's keep/drop was decided: on the back-test's errors in the weeks it touches, or,
#: when no back-test week touches it, by the whole calendar's verdict.
EVIDENCE = ("own_weeks", "whole_calendar", "untested")


def choose_calendar(
    series: pd.Series | pd.DataFrame,
    festivals: Sequence[str],
    *,
    forecaster: SalesForecaster | None = None,
    origins: int = 8,
    horizons: Sequence[int] = tuple(range(1, 14)),
) -> CalendarChoice:
    """Back-test ``forecaster`` with the candidate ``festivals`` and without any, then decide
    each festival on its own evidence: kept when, over the back-test's target weeks that its
    window touches, the forecast with the calendar has the lower sMAPE than the one without
    (``decided_by="own_weeks"``); a festival no target week touches follows the whole calendar's
    verdict (mean sMAPE over the horizons; ``"whole_calendar"``). Either way its effect, fitted
    on the whole series with every candidate, must also be told from zero (the 90% interval of
    its lift excludes 0: ``clear``), so that with eleven candidates one does not pass on the
    noise of a week or two. A series too short to
    back-test keeps the calendar (``"untested"``, with a note saying so). Every horizon from 1 to
    13 weeks is scored (one fit per origin either way), so that each festival week is forecast
    from several origins."""
    candidates = tuple(festivals)
    if not candidates:
        return CalendarChoice((), (), float("nan"), float("nan"), "no festival calendar")
    base = forecaster if forecaster is not None else SalesForecaster()
    try:
        effects = clone(base).set_params(festivals=candidates).fit(series).festival_effects()
    except MemberlensError:
        effects = None
    runs = []
    try:
        for names in (candidates, ()):
            model = clone(base).set_params(festivals=names)
            runs.append(
                backtest_forecast(series, forecaster=model, origins=origins, horizons=horizons)
            )
    except MemberlensError as exc:
        untested = {f: {"weeks": 0, "smape_with": None, "smape_without": None,
                        "decided_by": "untested"} for f in candidates}  # fmt: skip
        return CalendarChoice(
            candidates,
            candidates,
            float("nan"),
            float("nan"),
            f"festival calendar kept untested (no back-test: {exc})",
            untested,
            effects,
        )
    with_, without = (
        float(r.summary.loc[r.summary["model"] == "forecast", "smape"].mean()) for r in runs
    )
    whole = bool(np.isfinite(with_) and (not np.isfinite(without) or with_ < without))
    evidence = _own_weeks(runs[0].errors, runs[1].errors, candidates, whole)
    if effects is not None and len(effects):  # and the effect must be told from zero
        clear = effects.set_index("festival")
        for f, proof in evidence.items():
            row = clear.loc[f] if f in clear.index else None
            proof["clear"] = bool(
                row is not None and (row["lift_lower"] > 0 or row["lift_upper"] < 0)
            )
            proof["kept"] = proof["kept"] and proof["clear"]
    kept = tuple(f for f in candidates if evidence[f]["kept"])
    dropped = [f for f in candidates if f not in kept]
    note = (
        f"festival calendar: back-test sMAPE {with_:.1f}% with all {len(candidates)}, "
        f"{without:.1f}% without; kept on their own weeks' errors: {', '.join(kept) or 'none'}"
        + (f"; dropped: {', '.join(dropped)}" if dropped else "")
    )
    return CalendarChoice(kept, candidates, with_, without, note, evidence, effects)


def _own_weeks(
    with_: pd.DataFrame, without: pd.DataFrame, candidates: tuple[str, ...], whole: bool
) -> dict[str, dict]:
    """Per festival: the back-test's forecast errors in the target weeks its window touches."""
    a = with_[with_["model"] == "forecast"].set_index(["origin", "week", "horizon"])
    b = without[without["model"] == "forecast"].set_index(["origin", "week", "horizon"])
    both = a[["actual", "yhat"]].join(b[["yhat"]].rename(columns={"yhat": "yhat_without"}))
    weeks = pd.DatetimeIndex(pd.to_datetime(both.index.get_level_values("week")))
    exposure = festival_regressors(weeks, candidates) if len(weeks) else None
    out: dict[str, dict] = {}
    for f in candidates:
        touched = exposure[f].to_numpy() > 0 if exposure is not None else np.zeros(0, dtype=bool)
        if not touched.any():
            out[f] = {"weeks": 0, "smape_with": None, "smape_without": None,
                      "decided_by": "whole_calendar", "kept": whole}  # fmt: skip
            continue
        part = both[touched]
        s_with = smape(part["actual"], part["yhat"])
        s_without = smape(part["actual"], part["yhat_without"])
        out[f] = {
            "weeks": int(part.index.get_level_values("week").nunique()),
            "smape_with": round(s_with, 3),
            "smape_without": round(s_without, 3),
            "decided_by": "own_weeks",
            "kept": bool(s_with < s_without),
        }
    return out


def festival_table(
    candidates: Sequence[str],
    weeks: pd.DatetimeIndex | Sequence,
    *,
    kept: Sequence[str] = (),
    effects: pd.DataFrame | None = None,
    evidence: dict[str, dict] | None = None,
) -> list[dict]:
    """One entry per candidate festival: ``name``, ``label_zh``, ``dates`` (the windows in the
    years ``weeks`` span, as ISO first/last days), ``lift`` (estimated lift of a fully exposed
    week, fitted with the whole candidate calendar; None when not estimable, e.g. a festival not
    in the history), ``kept`` (used by the forecast) and ``backtest`` (its evidence: target weeks
    touched, sMAPE with and without the calendar on them, ``decided_by``)."""
    index = pd.DatetimeIndex(pd.to_datetime(list(weeks)))
    years = range(index.min().year, index.max().year + 1) if len(index) else range(0)
    dates = festival_dates(list(years), tuple(candidates)) if len(years) else pd.DataFrame()
    lift = {}
    if effects is not None and len(effects):
        lift = dict(zip(effects["festival"], effects["lift"]))
    evidence = evidence or {}
    out = []
    for name in candidates:
        rows = dates[dates["festival"] == name] if len(dates) else dates
        proof = evidence.get(name)
        out.append(
            {
                "name": name,
                "label_zh": _BY_NAME[name].label_zh,
                "dates": [
                    {"first": r.first_day.isoformat(), "last": r.last_day.isoformat()}
                    for r in rows.itertuples(index=False)
                ],
                "lift": float(lift[name]) if name in lift else None,
                "kept": name in set(kept) and name in lift,
                "backtest": None
                if proof is None
                else {k: v for k, v in proof.items() if k != "kept"},
            }
        )
    return out
