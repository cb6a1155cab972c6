"""Every hint the CLI prints ("next:", "see them with:", "rerun with:", ...) works when pasted
into a shell, from another folder and without `memberlens` on the PATH; and `members` reads well
at 80 columns."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from memberlens.pipeline.demo import export_cdnow_csv

HINT = re.compile(
    r"^(next|see them with|rerun with|all of them|change it with|to replace that load[^:]*): (.+)$",
    re.M,
)


@pytest.fixture(scope="module")
def bare_ml(ml):
    """memberlens without itself on the PATH, in an 80-column terminal."""

    def run(*args, cwd, check=True):
        return ml(*args, cwd=cwd, check=check, env={"PATH": "/usr/bin:/bin", "COLUMNS": "80"})

    return run


@pytest.fixture(scope="module")
def shop(tmp_path_factory, bare_ml):
    """A CDNOW project (Lifetimes 0.11.3 sample: 2,357 customers) built by `memberlens run`,
    and the hints printed on the way."""
    base = tmp_path_factory.mktemp("hints")
    printed = []
    printed += [bare_ml("init", "shop", "--locale", "en", "--currency", "USD", cwd=base).stdout]
    export_cdnow_csv(base / "orders.csv")
    with open(base / "orders.csv", "a") as f:
        f.write("00001,19970105,1,not-a-number\n")  # one row for the quarantine
    dry = bare_ml(
        "ingest",
        "orders",
        "orders.csv",
        "-p",
        "shop",
        "--dry-run",
        "--write-mapping",
        "orders.toml",
        cwd=base,
    )
    printed.append(dry.stdout)
    printed.append(
        bare_ml(
            "ingest", "orders", "orders.csv", "-p", "shop", "--mapping", "orders.toml", cwd=base
        ).stdout
    )
    again = bare_ml(
        "ingest", "orders", "orders.csv", "-p", "shop", "--mapping", "orders.toml", cwd=base
    )
    printed.append(again.stdout)
    bare_ml("run", "-p", "shop", "-q", cwd=base)
    members = bare_ml("members", "-p", "shop", cwd=base)
    printed.append(members.stdout)
    return base, printed, members.stdout


def test_every_printed_hint_runs_when_pasted(shop):
    base, printed, _ = shop
    hints = [m.group(2) for text in printed for m in HINT.finditer(text)]
    labels = {m.group(1) for text in printed for m in HINT.finditer(text)}
    assert {"next", "see them with", "all of them"} <= labels, printed
    assert any(label.startswith("to replace that load") for label in labels), printed
    for line in hints:
        # FILE stands for the user's own export; the hint names it so
        line = line.replace(" FILE ", " orders.csv ")
        # pasted where the user typed the commands: not the project's folder, no PATH entry
        proc = subprocess.run(
            line,
            shell=True,
            cwd=base,
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "PATH": "/usr/bin:/bin"},
        )
        assert proc.returncode == 0, f"{line}\n{proc.stdout}\n{proc.stderr}"


def test_rerun_with_debug_hint_is_a_command(shop, tmp_path, bare_ml):
    base, _, _ = shop
    # a warehouse file that is not a database: an internal error with its rerun hint
    broken = tmp_path / "broken"
    bare_ml("init", broken, cwd=tmp_path)
    (broken / "warehouse.duckdb").write_text("not a database")
    proc = bare_ml("status", "-p", broken, cwd=tmp_path, check=False)
    hint = re.search(r"^rerun with: (.+)$", proc.stderr, re.M)
    assert proc.returncode != 0 and hint, proc.stderr
    again = subprocess.run(
        hint.group(1),
        shell=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PATH": "/usr/bin:/bin"},
    )
    assert again.returncode == proc.returncode and "Traceback" in again.stderr


def test_members_fit_80_columns_and_say_how_many_match(shop):
    _, _, out = shop
    assert re.search(r"20 of 2,357 members", out)
    table = [line for line in out.splitlines() if not HINT.match(line)]
    assert max(len(line) for line in table) <= 80  # hints stay one line, to paste whole
    # plain column names (wrapped over header lines) and money with its currency
    assert {"Expected", "12-month", "Chance", "active"} <= set(out.split()) and "$" in out
