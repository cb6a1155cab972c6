"""The web dashboard and JSON API (FastAPI + Jinja2): ``memberlens serve``.

>>> from memberlens.web import create_app
>>> app = create_app("shop")            # doctest: +SKIP

See ``docs/web.md``. ``create_app`` is imported on first use, so that the app-state store
(:mod:`memberlens.web.store`) can be opened without loading the web framework.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from memberlens.web.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from memberlens.web.app import create_app

        return create_app
    raise AttributeError(f"module 'memberlens.web' has no attribute {name!r}")
