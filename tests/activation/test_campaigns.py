"""Assignment to arms and holdout (a stable hash, no stored state), guard rails, quiet hours."""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pytest
from scipy import stats

from memberlens.activation.campaigns import (
    Campaign,
    assign_arms,
    in_quiet_hours,
    plan_rows,
    summarise_plan,
)
from memberlens.activation.templates import load_template
from memberlens.exceptions import ConfigError

IDS = [f"M{i:06d}" for i in range(40_000)]


def test_assignment_is_a_pure_function_of_the_two_ids():
    a = assign_arms(IDS, "C1", holdout=0.1)
    shuffled = list(np.random.default_rng(3).permutation(IDS))
    b = dict(zip(shuffled, assign_arms(shuffled, "C1", holdout=0.1), strict=True))
    assert [b[m] for m in IDS] == list(a)  # order of the input does not matter
    assert list(assign_arms(IDS[:10], "C1", holdout=0.1)) == list(a[:10])
    # another campaign re-randomises: the two splits are independent
    other = assign_arms(IDS, "C2", holdout=0.1)
    table = [
        [np.sum((a == x) & (other == y)) for y in ("control", "treatment")]
        for x in ("control", "treatment")
    ]
    assert stats.chi2_contingency(table).pvalue > 0.001


def test_assignment_matches_sha256_read_by_hand():
    # the rule in the module docstring, recomputed with hashlib (the outside reference)
    for member in IDS[:200]:
        digest = hashlib.sha256(b"C9\x1f" + member.encode()).digest()
        u = int.from_bytes(digest[:8], "big") / 2**64
        expected = "control" if u < 0.25 else "a" if u < 0.25 + 0.75 / 3 else "b"
        got = assign_arms([member], "C9", holdout=0.25, arms=[("a", 1.0), ("b", 2.0)])[0]
        assert got == expected


@pytest.mark.parametrize("holdout", [0.1, 0.2, 0.5])
def test_arm_shares_are_within_binomial_bounds(holdout):
    arms = [("a", 1.0), ("b", 1.0), ("c", 2.0)]
    got = assign_arms(IDS, "CAMP-7", holdout=holdout, arms=arms)
    n = len(IDS)
    shares = {"control": holdout}
    for name, w in arms:
        shares[name] = (1 - holdout) * w / 4
    for name, p in shares.items():
        k = int(np.sum(got == name))
        # two-sided 99.9 % binomial interval (scipy's exact binomial quantiles)
        lo, hi = stats.binom.ppf([0.0005, 0.9995], n, p)
        assert lo <= k <= hi, (name, k, lo, hi)


def _campaign(holdout=0.2) -> Campaign:
    return Campaign(
        campaign_id="C-guard",
        name="t",
        audience="a",
        channel="sms",
        template=load_template(None),
        offer=None,
        holdout=holdout,
        arms=(("treatment", 1.0),),
        days=14,
        created_at=dt.datetime(2026, 1, 1),
        created_by=None,
        planned_at=None,
    )


def test_guard_rails_apply_to_both_arms_and_are_counted_once():
    ids = IDS[:5000]
    rows = plan_rows(
        _campaign(),
        ids,
        suppressed=set(ids[:100]),
        opted_out=set(ids[50:300]),  # 50 of them are suppressed already
        addressable=set(ids[:4000]),
        capped=set(ids[3900:4100]),
    )
    report = summarise_plan(_campaign(), rows, deferred=False, planned=False)
    assert report.excluded == {
        "suppressed": 100,
        "opted_out": 200,
        "no_address": 1000,
        "frequency_cap": 100,
    }
    arms = assign_arms(sorted(ids), "C-guard", holdout=0.2)
    excluded = {r["member_id"] for r in rows if r["status"] == "excluded"}
    kept = [a for m, a in zip(sorted(ids), arms, strict=True) if m not in excluded]
    assert report.control == kept.count("control")
    assert report.arms["treatment"] == report.would_send == kept.count("treatment")
    # exclusions did not depend on the arm: the excluded split like everybody else
    ex_arms = [a for m, a in zip(sorted(ids), arms, strict=True) if m in excluded]
    assert stats.binomtest(ex_arms.count("control"), len(ex_arms), 0.2).pvalue > 0.001


def test_quiet_hours_in_the_shop_time_zone():
    # 14:30 UTC is 22:30 in Shanghai (quiet) and 14:30 in London (not quiet)
    now = dt.datetime(2026, 3, 2, 14, 30)
    assert in_quiet_hours(now, "Asia/Shanghai", "22:00", "08:00")
    assert not in_quiet_hours(now, "Europe/London", "22:00", "08:00")
    assert not in_quiet_hours(dt.datetime(2026, 3, 2, 4, 0), "Asia/Shanghai", "22:00", "08:00")
    assert in_quiet_hours(dt.datetime(2026, 3, 2, 4, 0), "Asia/Shanghai", "12:00", "13:00")
    rows = plan_rows(
        _campaign(), IDS[:100], suppressed=set(), opted_out=set(), addressable=None, capped=set()
    )
    report = summarise_plan(_campaign(), rows, deferred=True, planned=False)
    assert report.would_send == 0 and report.deferred == report.arms["treatment"] > 0
    assert "quiet hours" in report.messages[0]


def test_bad_arms_and_holdout_are_refused():
    from memberlens.activation.campaigns import _check_arms

    with pytest.raises(ConfigError, match="holdout"):
        _check_arms([("t", 1.0)], 1.0)
    with pytest.raises(ConfigError, match="control"):
        _check_arms([("control", 1.0)], 0.1)
    with pytest.raises(ConfigError, match="distinct"):
        _check_arms([("a", 1.0), ("a", 2.0)], 0.1)
