"""The web dashboard and JSON API (FastAPI + Jinja2): ``memberlens serve``.

>>> from memberlens.web import create_app
>>> app = create_app("shop")            # doctest: +SKIP

See ``docs/web.md``.
"""

from memberlens.web.app import create_app

__all__ = ["create_app"]
