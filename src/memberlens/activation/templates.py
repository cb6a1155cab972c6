"""Message templates: Jinja2 in a sandbox, in Chinese and English, checked when they are created.

A template is a TOML file with one table per language, each with a ``body`` (every channel) and
a ``subject`` (e-mail)::

    [zh-CN]
    subject = "{{ name }}，您的专属优惠"
    body = "{{ name }}您好！{{ offer }}。为您推荐：{{ recommendations | join('、') }}"
    [en]
    subject = "{{ name }}, an offer for you"
    body = "Hello {{ name }}! {{ offer }}. Picked for you: {{ recommendations | join(', ') }}"

Only the names of :data:`FIELDS` exist inside a template; a template naming anything else fails
when it is created (``memberlens campaign create --template``), with the nearest field, never at
send time. Rendering runs in :class:`jinja2.sandbox.SandboxedEnvironment` with strict undefined
values, so a template cannot reach Python attributes (``{{ name.__class__ }}`` is refused).
"""

from __future__ import annotations

import difflib
import functools
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from jinja2 import StrictUndefined, Template, TemplateError, meta
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import concat

from memberlens.exceptions import ConfigError

__all__ = [
    "DEFAULT_TEMPLATE",
    "FIELDS",
    "LANGUAGES",
    "Language",
    "MessageTemplate",
    "Rendered",
    "load_template",
    "parse_template",
]

Language = Literal["zh-CN", "en"]
LANGUAGES: tuple[Language, ...] = ("zh-CN", "en")
#: what a template may use: the member's allowed fields, the campaign's offer and links
FIELDS: dict[str, str] = {
    "member_id": "the member's id",
    "name": "the member's name (masked unless the project keeps clear personal data)",
    "segment": "the member's segment (segment_cn8 of mart_members)",
    "value_tier": "the member's value tier",
    "lifecycle_stage": "the member's lifecycle stage",
    "city": "the member's city",
    "province": "the member's province",
    "recommendations": "names of the member's top recommended products (a list)",
    "offer": "the campaign's offer",
    "campaign": "the campaign's name",
    "unsubscribe_url": "the member's one-click unsubscribe link",
}
_PARTS = ("subject", "body")

DEFAULT_TEMPLATE: dict[str, dict[str, str]] = {
    "zh-CN": {
        "subject": "{{ name }}，{{ offer or '会员专属礼遇' }}",
        "body": (
            "{{ name }}您好！{{ offer or '会员专属礼遇' }}。"
            "{% if recommendations %}为您推荐：{{ recommendations | join('、') }}。{% endif %}"
            "退订：{{ unsubscribe_url }}"
        ),
    },
    "en": {
        "subject": "{{ name }}, {{ offer or 'a member offer' }}",
        "body": (
            "Hello {{ name }}! {{ offer or 'A member offer for you' }}."
            "{% if recommendations %} Picked for you: {{ recommendations | join(', ') }}."
            "{% endif %} Unsubscribe: {{ unsubscribe_url }}"
        ),
    },
}

_ENV = SandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
)


@functools.lru_cache(maxsize=256)
def _compiled(source: str) -> Template:
    """A template source compiled once (rendering a million messages compiles it once)."""
    return _ENV.from_string(source)


def _render(template: Template, values: dict[str, Any]) -> str:
    """``template.render(values)`` without its copy of the globals per call (``values`` holds
    them already): half the cost of a message when a send renders a million."""
    try:
        return concat(template.root_render_func(template.new_context(values, shared=True))).strip()
    except Exception:
        return template.environment.handle_exception()


@dataclass(frozen=True)
class Rendered:
    """One member's message."""

    language: Language
    subject: str
    body: str


@dataclass(frozen=True)
class MessageTemplate:
    """The sources of a checked template, by language and part."""

    sources: Mapping[str, Mapping[str, str]]

    def to_json(self) -> str:
        return json.dumps(self.sources, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> MessageTemplate:
        return parse_template(json.loads(text) if text else DEFAULT_TEMPLATE, "template")

    def render(self, context: Mapping[str, Any], language: str) -> Rendered:
        """The member's message in ``language`` (the other language when it has none)."""
        lang = language if language in self.sources else next(iter(self.sources))
        parts = self.sources[lang]
        values: dict[str, Any] = {**_ENV.globals, **{k: context.get(k) for k in FIELDS}}
        values["recommendations"] = list(values["recommendations"] or [])
        out = {
            part: _render(_compiled(parts[part]), values) if part in parts else ""
            for part in _PARTS
        }
        return Rendered(language=lang, subject=out["subject"], body=out["body"])  # type: ignore[arg-type]


def parse_template(raw: Mapping[str, Any], where: str) -> MessageTemplate:
    """Check a template's languages, parts, syntax and field names (see the module docstring)."""
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(f"{where}: a template needs a [zh-CN] or [en] table with a body")
    sources: dict[str, dict[str, str]] = {}
    for lang, parts in raw.items():
        if lang not in LANGUAGES:
            raise ConfigError(
                f"{where}: [{lang}] is not a language; use [{LANGUAGES[0]}] or [{LANGUAGES[1]}]"
            )
        if not isinstance(parts, Mapping) or "body" not in parts:
            raise ConfigError(f'{where}: [{lang}] needs body = "..."; add it')
        for part, text in parts.items():
            if part not in _PARTS:
                raise ConfigError(
                    f"{where}: [{lang}] {part}: unknown part; use {' or '.join(_PARTS)}"
                )
            if not isinstance(text, str):
                raise ConfigError(f"{where}: [{lang}] {part} must be text")
            try:
                names = meta.find_undeclared_variables(_ENV.parse(text))
            except TemplateError as exc:
                line = getattr(exc, "lineno", None)
                raise ConfigError(
                    f"{where}: [{lang}] {part}" + (f", line {line}" if line else "") + f": {exc}"
                ) from None
            unknown = sorted(names - set(FIELDS))
            if unknown:
                close = difflib.get_close_matches(unknown[0], list(FIELDS), n=1, cutoff=0.5)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise ConfigError(
                    f"{where}: [{lang}] {part}: unknown field {unknown[0]!r}; {hint}"
                    f"a template may use {', '.join(FIELDS)}"
                )
        sources[lang] = {p: str(parts[p]) for p in _PARTS if p in parts}
    return MessageTemplate(sources)


def load_template(path: str | Path | None) -> MessageTemplate:
    """The template in TOML file ``path`` (the built-in one when None), checked."""
    if path is None:
        return parse_template(DEFAULT_TEMPLATE, "the default template")
    file = Path(path)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such template file; pass the path of a .toml file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: invalid TOML ({exc}); fix the line it names") from None
    return parse_template(raw, str(file))
