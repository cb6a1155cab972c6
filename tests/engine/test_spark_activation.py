"""Measurement and activation on a Spark project: the same answers as on DuckDB.

One small simulated shop (``memberlens simulate``, 600 members, seed 7: members, orders and the
simulator's campaigns with their control groups) is built through the CLI on both engines, with
two ``memberlens run``: one as of 2025-08-31 (so ``segments evaluate`` has a next period and an
earlier as-of date) and one as of the last day. The steps no command here reads (baskets,
recommendations, forecast, cohorts, profiles, replenishment) are skipped to keep the module to
minutes. Each project declares a webhook channel (a real HTTP server of this module) and an export
channel. Then every measurement and activation command runs on both projects and the JSON of the
Spark project must equal DuckDB's, the outside reference here:

* ``campaign list|report`` (plain, ``--by segment``, ``--cuped``), the ``campaigns`` step's mart;
* ``campaign drivers`` (plain and ``--interact``) and ``campaign factorial --with-control``;
* ``segments evaluate``, ``experiment roi -p``; ``uplift fit`` refuses this shop's small
  campaigns with the default leaves (under 100 treated members) with the same message on both
  engines, then fits with leaves of 20: ``uplift fit|report|targets [--rescore]`` and
  ``mart_uplift_scores``;
* ``audience create|size|overlap|export|freeze``;
* ``campaign create|dry-run|send|status`` on the webhook and the export channel (the members
  delivered to the HTTP server, and the exported list, equal too);
* ``triggers add|run``: birthday and win-back rules, and a churn-risk rule that fires and
  sends on both engines.

Tolerances: text, integers, dates and the order of rows equal; floating-point numbers within
1e-6 relative, 1e-9 absolute (the helpers of ``tests/web/test_spark_dashboard.py``; the marts'
model outputs differ ~4e-8 relative between the engines, see test_spark_e2e.py). Run-specific
values (``run_id``, times of sends, file paths) are left out.

The CLI runs in this process so that the test run's one Spark session is shared. Run alone:
``pytest -m spark -s tests/engine/test_spark_activation.py`` (prints the seconds of each command
on each engine, the figures of docs/engines.md).
"""

from __future__ import annotations

import csv
import importlib.util
import json
import re
import time
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = [pytest.mark.spark, pytest.mark.slow]

MEMBERS = 600
SEED = 7
TABLES = ("members", "orders", "campaigns", "campaign_members")
#: steps none of the commands below reads
SKIP = "baskets,recommendations,forecast,cohorts,profiles,replenishment"
EARLY = "2025-08-31"
DAY = "2025-12-31"
NOW = "2026-01-02T10:00:00"
ENGINES = ("duckdb", "pyspark")
#: keys whose values differ from run to run by design (times of this run)
RUN_SPECIFIC = ("created_at", "updated_at", "frozen_at", "seconds", "run_id")


def _load(*parts: str) -> ModuleType:
    path = Path(__file__).parents[1].joinpath(*parts)
    spec = importlib.util.spec_from_file_location(f"_spark_activation_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


E2E = _load("engine", "test_spark_e2e.py")
WEB = _load("web", "test_spark_dashboard.py")
RECEIVER = _load("activation", "conftest.py").Receiver
#: seconds per command and engine, printed at the end of the module (docs/engines.md)
SECONDS: dict[str, dict[str, float]] = {}


def ml(label: str, engine: str, *args: object) -> str:
    t0 = time.perf_counter()
    out = E2E.ml(*args)
    SECONDS.setdefault(label, {})[engine] = round(time.perf_counter() - t0, 1)
    return out


def both(label: str, shops: dict, *args: object) -> dict[str, object]:
    """``memberlens ARGS -p PROJECT --json`` on each engine's project, parsed."""
    return {e: json.loads(ml(label, e, *args, "-p", shops[e]["root"], "--json")) for e in ENGINES}


def same(answers: dict[str, object], *, drop: tuple[str, ...] = ()) -> None:
    """The Spark answer equals DuckDB's (module tolerances), ``drop`` keys left out."""

    def strip(value: object) -> object:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in drop}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    drop = drop + RUN_SPECIFIC
    duck, spark = strip(answers["duckdb"]), strip(answers["pyspark"])
    problems = WEB._differences(duck, spark)
    assert not problems, "\n".join(problems[:40])


@pytest.fixture(scope="module")
def shops(tmp_path_factory, spark_session):
    root = tmp_path_factory.mktemp("spark-activation")
    E2E.ml("--quiet", "simulate", root / "shop", "--members", MEMBERS, "--seed", SEED)
    out = {}
    for engine in ENGINES:
        project = root / engine
        receiver = RECEIVER()
        ml("init + ingest", engine, "--quiet", "init", project, "--engine", engine)
        with (project / "memberlens.toml").open("a", encoding="utf-8") as fh:
            fh.write(
                f'\n[channels.sms]\nkind = "webhook"\nurl = "{receiver.url}"\nsecret = "k"\n'
                '\n[channels.stores]\nkind = "export"\ndir = "lists"\n'
                '\n[campaigns]\nquiet_start = "00:00"\nquiet_end = "00:00"\n'
            )
        t0 = time.perf_counter()
        for table in TABLES:
            E2E.ml("--quiet", "ingest", table, root / "shop" / f"{table}.parquet", "-p", project)
        SECONDS["init + ingest"][engine] += round(time.perf_counter() - t0, 1)
        ml("run (early)", engine, "--quiet", "run", "-p", project, "--as-of", EARLY, "--skip", SKIP)
        ml("run", engine, "--quiet", "run", "-p", project, "--skip", SKIP)
        out[engine] = {"root": project, "receiver": receiver}
    yield out
    for shop in out.values():
        shop["receiver"].close()
    print(f"\nseconds per command: {json.dumps(SECONDS, ensure_ascii=False)}")


def test_campaign_reports_and_the_campaigns_mart(shops):
    listed = both("campaign list", shops, "campaign", "list")
    same(listed)
    campaign = next(c["campaign_id"] for c in listed["duckdb"] if c.get("control"))  # type: ignore[union-attr]
    same(both("campaign report", shops, "campaign", "report", campaign))
    same(
        both(
            "campaign report --by segment", shops, "campaign", "report", campaign, "--by", "segment"
        )
    )
    same(both("campaign report --cuped", shops, "campaign", "report", campaign, "--cuped"))
    marts = {e: E2E._tables(shops[e]["root"]) for e in ENGINES}
    name = "mart_campaign_results"
    assert len(marts["duckdb"][name]) > 0
    assert not E2E._compare(name, marts["duckdb"][name], marts["pyspark"][name])


def test_segments_programme_roi_and_uplift(shops):
    same(both("segments evaluate", shops, "segments", "evaluate", "--horizon", "90"))
    same(
        both(
            "experiment roi",
            shops,
            "experiment",
            "roi",
            "--message-cost",
            "0.05",
            "--margin",
            "0.3",
        )
    )
    # this shop's campaigns are too small for an uplift model with the default leaves (under 100
    # treated members per arm): both engines count the arms and refuse with the same message
    listed = json.loads(E2E.ml("campaign", "list", "-p", shops["duckdb"]["root"], "--json"))
    campaign = max(listed, key=lambda c: c.get("members") or 0)["campaign_id"]
    refused = {}
    for engine in ENGINES:
        with pytest.raises(AssertionError, match="exit 4") as caught:
            ml("uplift fit", engine, "uplift", "fit", campaign, "-p", shops[engine]["root"])
        refused[engine] = str(caught.value).split("\n", 1)[1].strip()
    assert refused["duckdb"] == refused["pyspark"] and "treated members" in refused["duckdb"]
    # with leaves of 20 members the same campaign is learnt: the features each engine hands
    # over give the same learners, held-out Qini/AUUC and deciles, the same scores of every
    # member in mart_uplift_scores, and the same target lists (saved model and rescored)
    fitted = both("uplift fit (leaves of 20)", shops, "uplift", "fit", campaign,
                  "--min-child-samples", "20", "--margin", "0.3")  # fmt: skip
    same(fitted)
    scored = fitted["duckdb"]["scored_members"]  # type: ignore[index]
    assert scored > 0
    assert {e["method"] for e in fitted["duckdb"]["evaluations"]} == {  # type: ignore[index]
        "t_learner", "x_learner", "class_transformation",
    }  # fmt: skip
    same(both("uplift report", shops, "uplift", "report", campaign))
    marts = {e: E2E._tables(shops[e]["root"]) for e in ENGINES}
    assert len(marts["duckdb"]["mart_uplift_scores"]) == scored
    assert not E2E._compare(
        "mart_uplift_scores", marts["duckdb"]["mart_uplift_scores"],
        marts["pyspark"]["mart_uplift_scores"],
    )  # fmt: skip
    for rescore in ((), ("--rescore",)):
        targets = both("uplift targets", shops, "uplift", "targets", campaign, "--top", "25",
                       "--by", "profit", *rescore)  # fmt: skip
        same(targets)
        assert len(targets["duckdb"]) == 25  # type: ignore[arg-type]


def test_campaign_drivers_and_factorial(shops):
    # the member-level regressions (statsmodels, HC1) on the rows each engine hands over: the
    # same rows give the same coefficients, CIs and ANOVA
    same(both("campaign drivers", shops, "campaign", "drivers", "--all"))
    same(both("campaign drivers --interact", shops, "campaign", "drivers", "--all", "--interact"))
    answers = both("campaign factorial", shops, "campaign", "factorial", "--all", "--with-control")
    assert answers["duckdb"]["n"] > 1000  # type: ignore[index]
    same(answers)


def test_audiences(shops, tmp_path):
    where = {"active": "days_since_last_order <= 120", "valuable": "clv > 100"}
    for name, expr in where.items():
        same(both("audience create", shops, "audience", "create", name, "--where", expr))
    sizes = both("audience size", shops, "audience", "size", "active")
    same(sizes)
    assert sizes["duckdb"]["size"] > 0  # type: ignore[index]
    same(both("audience overlap", shops, "audience", "overlap", "active", "valuable"))
    same(both("audience freeze", shops, "audience", "freeze", "valuable"))
    lists = {}
    for engine in ENGINES:
        path = tmp_path / f"{engine}.csv"
        ml("audience export", engine, "audience", "export", "active", "-o", path, "-p",
           shops[engine]["root"])  # fmt: skip
        with path.open(encoding="utf-8") as fh:
            lists[engine] = list(csv.reader(fh))
    assert lists["duckdb"] == lists["pyspark"] and len(lists["duckdb"]) > 1
    # opt-outs reach the engine as an in-memory table of the app-state store's ids
    out = [row[0] for row in lists["duckdb"][1:4]]
    for engine in ENGINES:
        ml("audience opt-out", engine, "audience", "opt-out", "sms", *out, "-p",
           shops[engine]["root"])  # fmt: skip
    reachable = both(
        "audience size (opted out)", shops, "audience", "size",
        'days_since_last_order <= 120 and not opted_out("sms")',
    )  # fmt: skip
    same(reachable)
    assert reachable["duckdb"]["size"] == sizes["duckdb"]["size"] - len(out)  # type: ignore[index]


def test_campaign_sends_and_triggers(shops):
    for channel in ("sms", "stores"):
        cid = f"SPARK-{channel}"
        same(
            both(f"campaign create ({channel})", shops, "campaign", "create", cid.lower(),
                 "--audience", "active", "--channel", channel, "--id", cid, "--offer", "10% off"),
        )  # fmt: skip
        same(both("campaign dry-run", shops, "campaign", "dry-run", cid, "--now", NOW))
        sent = both(f"campaign send ({channel})", shops, "campaign", "send", cid, "--now", NOW)
        same(sent)
        assert sent["duckdb"]["sent"] > 0  # type: ignore[index]
        same(both("campaign status", shops, "campaign", "status", cid))
    delivered = {e: sorted(shops[e]["receiver"].delivered()) for e in ENGINES}
    assert delivered["duckdb"] == delivered["pyspark"] and delivered["duckdb"]
    exported = {}
    for engine in ENGINES:
        files = sorted((shops[engine]["root"] / "lists").glob("*.csv"))
        assert files, f"{engine}: the export channel wrote no list"
        with files[0].open(encoding="utf-8") as fh:
            # the unsubscribe links are signed with each project's own secret
            exported[engine] = sorted(
                tuple(re.sub(r"(/unsubscribe/[\w-]+)\.[0-9a-f]+", r"\1", c) for c in row)
                for row in csv.reader(fh)
            )
    assert exported["duckdb"] == exported["pyspark"]
    rules = {
        "bday": ("birthday", '{"days_before": 7}'),
        "back": ("winback", "{}"),
        # a state rule: every member above the churn threshold fires (dozens on this shop)
        "risk": ("churn_risk", '{"threshold": 0.3}'),
    }
    for name, (kind, params) in rules.items():
        both("triggers add", shops, "triggers", "add", name, "--kind", kind, "--channel", "sms",
             "--params", params)  # fmt: skip
    fired = both("triggers run", shops, "triggers", "run", "--date", DAY, "--now", NOW)
    same(fired)
    assert sorted(r["rule"] for r in fired["duckdb"]) == sorted(rules)  # type: ignore[union-attr]
    by_rule = {r["rule"]: r for r in fired["duckdb"]}  # type: ignore[union-attr]
    assert by_rule["risk"]["fired"] > 0 and by_rule["risk"]["sent"] > 0, by_rule["risk"]
    # the members the state rule fired for reached the webhook from both projects alike
    delivered = {e: sorted(shops[e]["receiver"].delivered()) for e in ENGINES}
    assert delivered["duckdb"] == delivered["pyspark"]
    same(both("campaign status (trigger)", shops, "campaign", "status",
              by_rule["risk"]["campaign_id"]))  # fmt: skip
