"""What the terminal shows: brackets kept, global options after the command, paste-able hints."""

from __future__ import annotations

import json

from memberlens.cli._output import command, program


def test_brackets_in_messages_and_help_are_printed(tmp_path, ml):
    ml("init", tmp_path / "p")
    (tmp_path / "o.csv").write_text(
        "order_id,member_id,ordered_at,amount,status\no1,m1,2024-01-01,10,paid\n"
        "o2,m1,2024-01-02,10,weird\n"
    )
    ml("ingest", "orders", tmp_path / "o.csv", "-p", tmp_path / "p")
    shown = ml("quarantine", "orders", "-p", tmp_path / "p", env={"COLUMNS": "300"}).stdout
    assert "under [values" in shown  # Rich markup would drop "[values...]"
    help_text = ml("serve", "--help").stdout
    assert "[web] database_url" in " ".join(help_text.split())


def test_global_options_work_after_the_command(tmp_path, ml):
    ml("init", tmp_path / "p")
    bad = ml("status", "-p", tmp_path / "nope", "--debug", check=False)
    assert bad.returncode != 0 and "Traceback" in bad.stderr  # --debug after the command
    quiet = ml("ingest", "orders", tmp_path / "none.csv", "-p", tmp_path / "p", "-q", check=False)
    assert quiet.returncode == 3 and "No such option" not in quiet.stderr
    (tmp_path / "o.csv").write_text("order_id,member_id,ordered_at,amount\no1,m1,2024-01-01,10\n")
    loaded = ml("ingest", "orders", tmp_path / "o.csv", "-p", tmp_path / "p", "--json", "--quiet")
    assert json.loads(loaded.stdout)["rows_stored"] == 1
    status = ml("status", "-p", tmp_path / "p", "--json", "--quiet")
    assert [t["table"] for t in json.loads(status.stdout)["tables"]] == ["orders"]
    no_json = ml("init", tmp_path / "q", "--json", check=False)
    assert no_json.returncode == 2 and "has no JSON output" in no_json.stderr
    assert not (tmp_path / "q").exists()


def test_hint_commands_name_a_program_and_the_project(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # memberlens not on the PATH
    monkeypatch.chdir(tmp_path)
    prog = program()
    assert prog != "memberlens" and prog.endswith("memberlens")
    assert command("status", project="my shop") == f"{prog} status -p 'my shop'"
    monkeypatch.setenv("MEMBERLENS_PROJECT", str(tmp_path / "env"))
    assert command("status", project=None).endswith(f"-p {tmp_path / 'env'}")
    assert command("init", "x") == f"{prog} init x"
