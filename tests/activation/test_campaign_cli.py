"""``memberlens campaign create|dry-run|send|status|preview`` as a user runs them (subprocesses)
against a real HTTP receiver, on the audience tests' project (a 400-member mart, no orders)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys


def _cli(*args: str, root) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "memberlens", *args, "--project", str(root)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MEMBERLENS_SECRET": "test-secret"},
    )


def test_campaign_commands_end_to_end(audience_project, receiver, tmp_path):
    root = tmp_path / "shop"
    shutil.copytree(audience_project.root, root)
    with (root / "memberlens.toml").open("a", encoding="utf-8") as fh:
        fh.write(
            f'\n[channels.sms]\nkind = "webhook"\nurl = "{receiver.url}"\nsecret = "k"\n'
            '\n[campaigns]\nquiet_start = "00:00"\nquiet_end = "00:00"\n'
        )
    made = _cli("audience", "create", "vip", "--where", "clv > 300", root=root)
    assert made.returncode == 0, made.stderr
    template = tmp_path / "t.toml"
    template.write_text('[en]\nbody = "Hi {{ nmae }}"\n', encoding="utf-8")
    bad = _cli(
        "campaign", "create", "x", "--audience", "vip", "--channel", "sms",
        "--template", str(template), "--json", root=root,
    )  # fmt: skip
    assert bad.returncode == 2 and "unknown field 'nmae'" in bad.stderr
    assert "internal error" not in bad.stderr
    template.write_text('[en]\nbody = "Hi {{ name }}, {{ offer }}"\n', encoding="utf-8")
    created = _cli(
        "campaign", "create", "spring", "--audience", "vip", "--channel", "sms",
        "--holdout", "0.2", "--template", str(template), "--offer", "20% off", "--json",
        "--id", "CLI-1", root=root,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    campaign_id = json.loads(created.stdout)["campaign_id"]
    assert campaign_id == "CLI-1"
    dry = json.loads(_cli("campaign", "dry-run", campaign_id, "--json", root=root).stdout)
    preview = _cli("campaign", "preview", campaign_id, "--member", "M00001", "--json", root=root)
    assert preview.returncode == 0, preview.stderr
    assert json.loads(preview.stdout)["body"].endswith(", 20% off")
    sent = _cli("campaign", "send", campaign_id, "--json", root=root)
    assert sent.returncode == 0, sent.stderr
    out = json.loads(sent.stdout)
    assert {"sent", "failed", "excluded", "control"} <= set(out)
    assert out["sent"] == dry["would_send"] == len(receiver.delivered()) > 0
    assert out["control"] == dry["control"] > 0
    again = json.loads(_cli("campaign", "send", campaign_id, "--json", root=root).stdout)
    assert again["sent"] == 0 and len(receiver.delivered()) == out["sent"]
    status = json.loads(_cli("campaign", "status", campaign_id, "--json", root=root).stdout)
    assert (status["sent"], status["pending"], status["failed"]) == (out["sent"], 0, 0)
    # the measurement side sees it (this project has no orders for `campaign report`)
    listed = _cli("campaign", "list", "--json", root=root)
    assert listed.returncode == 0, listed.stderr
    (row,) = [r for r in json.loads(listed.stdout) if r["campaign_id"] == campaign_id]
    assert (row["members"], row["control"]) == (out["sent"] + out["control"], out["control"])
    missing = _cli("campaign", "send", "NOPE", root=root)
    assert missing.returncode == 5 and "does not exist" in missing.stderr
