"""The API fuzzed from its own OpenAPI schema (schemathesis): no 500s, no personal data leaks."""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

CLEAR_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
HASHED = re.compile(r"\b[0-9a-f]{32}\b")

schema = schemathesis.pytest.from_fixture("fuzz_schema")


@pytest.fixture(scope="module")
def fuzz_app(shop, tmp_path_factory):
    from memberlens.web import create_app
    from memberlens.web.store import add_user, issue_token

    app = create_app(shop, database=f"sqlite:///{tmp_path_factory.mktemp('f') / 's.sqlite'}")
    with app.state.ctx.store() as db:
        user = add_user(db, "fuzzer", "fuzzing-password", "admin")
        app.state.fuzz_token = issue_token(db, user, "fuzz")[1]
    return app


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_app):
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_no_pii(case, fuzz_app):
    token = fuzz_app.state.fuzz_token
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    assert response.status_code < 500, response.text[:300]
    text = response.text
    assert not CLEAR_PHONE.search(text), "a clear phone number left the API"
    assert not HASHED.search(text), "a pseudonymised identifier left the API"
