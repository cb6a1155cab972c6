"""``memberlens experiment plan`` as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

from statsmodels.stats.power import zt_ind_solve_power
from statsmodels.stats.proportion import proportion_effectsize


def ml(*args):
    return subprocess.run(
        [sys.executable, "-m", "memberlens", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_plan_json_equals_statsmodels_and_gives_the_duration():
    proc = ml(
        "experiment",
        "plan",
        "--baseline",
        0.03,
        "--mde",
        0.1,
        "--power",
        0.8,
        "--daily",
        5000,
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    h = proportion_effectsize(0.033, 0.03)
    assert plan["n_per_arm_exact"] == __import__("pytest").approx(
        zt_ind_solve_power(effect_size=h, alpha=0.05, power=0.8), rel=1e-6
    )
    assert plan["n_per_arm"] == 53182 and plan["days"] == 22


def test_plan_text_and_help():
    proc = ml("experiment", "plan", "--baseline", 0.03, "--mde", 0.1)
    assert proc.returncode == 0 and "members per arm: 53,182" in proc.stdout
    assert "--baseline" in ml("experiment", "plan", "--help").stdout


def test_impossible_plan_is_a_user_error():
    proc = ml("experiment", "plan", "--baseline", 0.6, "--mde", 1.0)
    assert proc.returncode == 2
    assert "choose a smaller mde" in proc.stderr and "internal error" not in proc.stderr
