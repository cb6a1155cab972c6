"""``memberlens audience``, run as a user runs it (a subprocess), on a project whose marts hold
seeded members; figures against DuckDB SQL over the same rows (the reference)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "activation"))
from conftest import member_mart


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    import ibis

    from memberlens.engine.warehouse import open_warehouse
    from memberlens.project import init_project

    root = tmp_path_factory.mktemp("cli-audience")
    proj = init_project(root / "shop", currency="CNY", locale="en")
    with open_warehouse(proj) as wh, wh.transaction():
        wh.replace("mart_members", ibis.memtable(member_mart()))
    return proj


def _count(where: str) -> int:
    con = duckdb.connect()
    con.register("m", member_mart())
    (n,) = con.execute(f"SELECT count(*) FROM m WHERE {where}").fetchone()
    con.close()
    return n


def test_create_size_json_overlap_freeze_export_delete(ml, project, tmp_path):
    p = str(project.root)
    where = 'segment_cn8 == "important_value" and clv_12m > 300'
    ml("audience", "create", "vip", "--where", where, "-p", p)
    ml("audience", "create", "gd", "--where", "province in ['广东省']", "-p", p)
    out = json.loads(ml("audience", "size", "vip", "--json", "-p", p).stdout)
    assert out["name"] == "vip"
    assert out["size"] == _count("segment_cn8 = 'important_value' AND clv > 300") > 0
    assert out["total"] == 400
    assert sum(r["members"] for r in out["breakdowns"]["value_tier"]) == out["size"]
    text = ml("audience", "size", "vip", "-p", p).stdout
    assert f"{out['size']:,} of 400 members" in text and "Value tier" in text
    listed = ml("audience", "list", "-p", p).stdout
    assert "vip" in listed and "gd" in listed
    both = json.loads(ml("audience", "overlap", "vip", "gd", "--json", "-p", p).stdout)
    inter = _count("segment_cn8 = 'important_value' AND clv > 300 AND province = '广东省'")
    assert both["intersections"][0]["members"] == inter
    snap = json.loads(ml("audience", "freeze", "vip", "--json", "-p", p).stdout)
    assert snap["size"] == out["size"] and snap["as_of"] == "2025-06-30"
    csv = tmp_path / "vip.csv"
    ml("audience", "export", "vip", "--format", "csv", "-o", csv, "-p", p)
    lines = csv.read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == out["size"] + 1 and "phone_masked" in lines[0]
    assert (csv.stat().st_mode & 0o777) == 0o600
    ml("audience", "delete", "gd", "-p", p)
    assert "gd" not in ml("audience", "list", "-p", p).stdout


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["create", "x", "--where", "segmnt_cn8 == 'a'"], 2, "did you mean segment_cn8"),
        (["create", "x", "--where", "clv > 'a'"], 2, "holds number values"),
        (["create", "x", "--where", "import os"], 2, "not a valid condition"),
        (
            ["size", "vipp"],
            5,
            "no audience named 'vipp' and no column of that name; did you mean vip?",
        ),
        (["freeze", "nobody"], 5, "no audience named 'nobody'"),
        (["export", "nobody", "--format", "pdf"], 2, "use csv or xlsx"),
        (["size", "clv > 1", "--as-of", "2025-13-01"], 2, "not a date"),
    ],
)
def test_errors_are_one_line_with_exit_codes(ml, project, args, code, words):
    proc = ml("audience", *args, "-p", str(project.root), check=False)
    assert proc.returncode == code, proc.stderr
    assert words in proc.stderr and "internal error" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
