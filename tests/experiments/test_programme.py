"""The programme ROI calculator: hand-worked figures, break-even points that solve their
equations (plugged back in), and random targeting that is blanket sending scaled down."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from memberlens.experiments.programme import ProgrammeInputs, programme_roi

BASE = ProgrammeInputs(
    members=100_000,
    message_cost=0.05,
    baseline_rate=0.03,
    lift=0.01,
    aov=200.0,
    margin=0.3,
    coupon_cost=10.0,
    campaigns_per_year=12,
    target_share=0.3,
    captured_share=0.6,
    model_cost=20_000.0,
    staff_cost=30_000.0,
)


def test_hand_worked_example():
    r = programme_roi(BASE)
    # blanket: 1,000 incremental buyers x 200 x 0.3 = 60,000 margin; 100,000 x 0.05 = 5,000
    # messages; (3,000 baseline + 1,000 incremental buyers) x 10 = 40,000 coupons
    assert r.blanket.incremental_margin == pytest.approx(60_000.0, rel=1e-12)
    assert r.blanket.coupon_cost == pytest.approx(40_000.0, rel=1e-12)
    assert r.blanket.net_per_campaign == pytest.approx(15_000.0, rel=1e-12)
    assert r.blanket.roi == pytest.approx((12 * 60_000 - 12 * 45_000) / (12 * 45_000), rel=1e-12)
    # targeted: 600 buyers -> 36,000; 30,000 x 0.05 = 1,500; (900 + 600) x 10 = 15,000
    assert r.targeted.net_per_campaign == pytest.approx(19_500.0, rel=1e-12)
    assert r.targeted.net_per_year == pytest.approx(12 * 19_500.0 - 50_000.0, rel=1e-12)
    assert r.break_even_campaigns == pytest.approx(50_000.0 / 4_500.0, rel=1e-12)


@pytest.mark.parametrize("plan", ["blanket", "targeted"])
def test_break_even_lift_gives_zero_net(plan):
    r = programme_roi(BASE)
    lift = getattr(r, plan).break_even_lift
    again = programme_roi(dataclasses.replace(BASE, lift=lift))
    assert getattr(again, plan).net_per_year == pytest.approx(0.0, abs=1e-6)


def test_break_even_campaigns_equalise_the_two_plans():
    r = programme_roi(BASE)
    k = r.break_even_campaigns
    # net per year is linear in the number of campaigns: at k the two plans earn the same
    gap = lambda c: (  # noqa: E731
        c * r.targeted.net_per_campaign - 50_000.0 - c * r.blanket.net_per_campaign
    )
    assert gap(k) == pytest.approx(0.0, abs=1e-6)


def test_random_targeting_without_fixed_costs_is_blanket_scaled():
    x = dataclasses.replace(BASE, captured_share=0.3, model_cost=0.0, staff_cost=0.0)
    r = programme_roi(x)
    assert r.targeted.net_per_campaign == pytest.approx(0.3 * r.blanket.net_per_campaign)
    assert r.targeted.roi == pytest.approx(r.blanket.roi, rel=1e-12)
    assert r.break_even_campaigns is None
    assert any("never pay back" in m for m in r.messages)


def test_impossible_inputs_name_the_field():
    with pytest.raises(ValueError, match="captured_share"):
        programme_roi(dataclasses.replace(BASE, captured_share=1.5))
    with pytest.raises(ValueError, match="members"):
        programme_roi(dataclasses.replace(BASE, members=0))


def test_cli_roi_json_and_user_error():
    args = [sys.executable, "-m", "memberlens", "experiment", "roi", "--members", "100000"]
    args += ["--message-cost", "0.05", "--baseline", "0.03", "--lift", "0.01", "--aov", "200"]
    args += ["--margin", "0.3", "--coupon-cost", "10", "--model-cost", "20000"]
    args += ["--staff-cost", "30000"]
    proc = subprocess.run([*args, "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["targeted"]["net_per_campaign"] == pytest.approx(19_500.0)
    assert out["break_even_campaigns"] == pytest.approx(50_000 / 4_500)
    bad = subprocess.run([*args, "--margin", "3"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert "margin must be a share" in bad.stderr
