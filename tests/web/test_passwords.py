"""Password rules of NIST SP 800-63B 5.1.1.2: length, the bundled breached-password list,
repetitive and sequential strings, context words; no composition rules."""

from __future__ import annotations

import gzip

import pytest

from memberlens.web.passwords import LIST, common_passwords, password_problem


@pytest.mark.parametrize(
    "password, rule",
    [
        ("short-pw", "at least 10"),
        ("aaaaaaaaaa", "common"),  # the review's two examples
        ("1234567890", "common"),
        ("Password2024!", "common"),  # a listed password with digits and a symbol added
        ("ababababab", "fewer than 4"),
        ("lmnopqrstu", "consecutive"),
        ("zyxwvutsrq", "consecutive"),
        ("boss-quarterly-plan", "user name"),
        ("my memberlens key", "product name"),
    ],
)
def test_weak_passwords_are_refused_with_the_rule(password, rule):
    problem = password_problem(password, username="boss")
    assert problem is not None and rule in problem and "passphrase" in problem


@pytest.mark.parametrize(
    "password",
    [
        "plum orchard lantern",
        "correct-horse-battery",
        "会员分析的长密码很安全啊",
        "x" * 5 + "yz!7Q",
    ],
)
def test_long_uncommon_passwords_pass_without_composition_rules(password):
    assert password_problem(password, username="boss") is None


def test_the_bundled_list_is_the_documented_one():
    # reference: data/SOURCE.md (Royce Williams' list as shipped by Django 5.2.20)
    with gzip.open(LIST, "rt", encoding="utf-8") as fh:
        lines = [x.strip() for x in fh if x.strip()]
    assert len(lines) == len(common_passwords()) == 19_640
    assert all(x == x.lower() for x in lines)


def test_weak_password_is_refused_by_the_api_and_the_cli(clients, csrf, tmp_path):
    from typer.testing import CliRunner

    import memberlens.cli.web  # noqa: F401
    from memberlens.cli import app
    from memberlens.project import init_project

    admin = clients["admin"]
    r = admin.post(
        "/api/users",
        json={"username": "weak1", "password": "1234567890", "role": "viewer"},
        headers=csrf(admin),
    )
    assert r.status_code == 400 and "common" in r.json()["detail"]
    proj = init_project(tmp_path / "p")
    r = CliRunner().invoke(
        app, ["user", "add", "u1", "--password", "aaaaaaaaaa", "--project", str(proj.root)]
    )
    assert type(r.exception).__name__ == "ConfigError" and "common" in str(r.exception)
