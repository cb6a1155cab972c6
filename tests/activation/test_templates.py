"""Templates: unknown fields fail at creation, the sandbox, both languages."""

from __future__ import annotations

import pytest
from jinja2.exceptions import SecurityError

from memberlens.activation.templates import load_template, parse_template
from memberlens.exceptions import ConfigError

MEMBER = {
    "member_id": "M1",
    "name": "张**",
    "segment": "important_value",
    "recommendations": ["保温杯", "茶叶"],
    "offer": "满199减30",
    "unsubscribe_url": "https://shop.example/unsubscribe/x",
}


def test_both_languages_render_with_the_member_fields(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text(
        '[zh-CN]\nsubject = "{{ name }}，{{ offer }}"\n'
        "body = \"{{ name }}您好！为您推荐：{{ recommendations | join('、') }}\"\n"
        '[en]\nsubject = "{{ name }}: {{ offer }}"\n'
        "body = \"Hi {{ name }}, for {{ segment }}: {{ recommendations | join(', ') }}\"\n",
        encoding="utf-8",
    )
    template = load_template(path)
    zh = template.render(MEMBER, "zh-CN")
    en = template.render(MEMBER, "en")
    assert (zh.subject, zh.body) == ("张**，满199减30", "张**您好！为您推荐：保温杯、茶叶")
    assert en.body == "Hi 张**, for important_value: 保温杯, 茶叶"
    assert template.render(MEMBER, "fr").language == "zh-CN"  # a language it lacks: the first


def test_unknown_field_fails_at_creation_with_the_nearest_name():
    with pytest.raises(ConfigError, match=r"unknown field 'nmae'; did you mean 'name'"):
        parse_template({"en": {"body": "Hi {{ nmae }}"}}, "t.toml")
    with pytest.raises(ConfigError, match=r"\[en\] body, line 1"):
        parse_template({"en": {"body": "Hi {{ name "}}, "t.toml")
    with pytest.raises(ConfigError, match="is not a language"):
        parse_template({"fr": {"body": "x"}}, "t.toml")


def test_the_sandbox_refuses_python_attributes():
    template = parse_template({"en": {"body": "{{ name.__class__.__mro__ }}"}}, "t.toml")
    with pytest.raises(SecurityError):
        template.render(MEMBER, "en")


def test_default_template_round_trips_through_json():
    template = load_template(None)
    again = type(template).from_json(template.to_json())
    assert again.render(MEMBER, "en") == template.render(MEMBER, "en")
    assert MEMBER["unsubscribe_url"] in template.render(MEMBER, "zh-CN").body
