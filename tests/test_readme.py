"""The README's promises, tried as a new user would: the "Using it on your data" block runs line
by line as written, in a fresh folder, on a small shop of its own (a GBK orders file with Chinese
headers and a members workbook), with `memberlens` on the PATH as the README says to put it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 1)
    return README[start : end if end > 0 else None]


def _small_shop(folder: Path, members: int = 400, seed: int = 18) -> None:
    """members.xlsx and a GBK orders.csv with the Chinese headers of a typical shop export."""
    rng = np.random.default_rng(seed)
    ids = [f"VIP{i:05d}" for i in range(members)]
    registered = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 365, members), "D")
    pd.DataFrame(
        {
            "会员编号": ids,
            "注册时间": registered.strftime("%Y-%m-%d"),
            "手机号": [f"138{n:08d}" for n in rng.integers(0, 10**8, members)],
            "性别": rng.choice(["男", "女"], members),
            "省份": rng.choice(["广东省", "浙江省", "江苏省", "北京市"], members),
        }
    ).to_excel(folder / "members.xlsx", index=False)
    # purchases as BG/NBD assumes them (Fader, Hardie & Lee 2005): Poisson buying at a
    # gamma-distributed rate until a beta-distributed drop-out after some purchase
    rate = rng.gamma(2.0, 1 / 60, members)  # about one purchase a month on average
    drop = rng.beta(1.0, 4.0, members)
    end = pd.Timestamp("2025-06-30")
    rows = []
    for i, member in enumerate(ids):
        day, k = registered[i], 0
        while day <= end:
            rows.append(
                {
                    "订单号": f"D{i:05d}{k:03d}",
                    "会员编号": member,
                    "下单时间": day.strftime("%Y/%m/%d %H:%M"),
                    "实付金额": round(float(rng.lognormal(4.5, 0.6)), 2),
                    "订单状态": rng.choice(["已付款", "已付款", "已付款", "已退款"]),
                }
            )
            if rng.random() < drop[i]:
                break
            day, k = day + pd.Timedelta(days=float(rng.exponential(1 / rate[i]))), k + 1
    pd.DataFrame(rows).to_csv(folder / "orders.csv", index=False, encoding="gbk")


def test_using_it_on_your_data_runs_as_written(tmp_path):
    section = _section("Using it on your data")
    # the set-up the README describes: `source .venv/bin/activate` puts .venv/bin on the PATH
    assert "source .venv/bin/activate" in section
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    lines = [line for line in block.splitlines() if line.strip()]
    assert lines[0].startswith("memberlens init shop")
    venv_bin = Path(sys.executable).parent
    assert (venv_bin / "memberlens").exists()
    env = {
        **os.environ,
        "PATH": f"{venv_bin}{os.pathsep}/usr/bin:/bin",
        "VIRTUAL_ENV": str(venv_bin.parent),
    }
    env.pop("MEMBERLENS_PROJECT", None)
    _small_shop(tmp_path)
    for line in lines:
        proc = subprocess.run(
            line, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
        )
        assert proc.returncode == 0, f"{line}\nexit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    vip = pd.read_excel(tmp_path / "vip.xlsx")
    assert len(vip) > 0 and set(vip.segment_cn8) == {"important_value"}


def test_the_readme_tells_what_the_set_up_needs():
    quick = _section("Quick start")
    assert re.findall(r"^make \w+", quick, re.M) == ["make demo", "make test"]
    assert "npm" in quick and "apt-get" in quick and "not as root" in quick


def test_folders_the_readme_creates_are_ignored_by_git(tmp_path):
    made = set(re.findall(r"--dir ([\w-]+)", README)) | set(
        re.findall(r"memberlens init ([\w-]+)", README)
    )
    made |= {"memberlens-demo"}  # `memberlens demo`'s default folder
    assert {"shop", "cdnow-demo"} <= made
    proc = subprocess.run(
        ["git", "check-ignore", "--no-index", *(f"{d}/warehouse.duckdb" for d in sorted(made))],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    ignored = {line.split("/")[0] for line in proc.stdout.splitlines()}
    assert ignored == made, f"add to .gitignore: {sorted(made - ignored)}"
