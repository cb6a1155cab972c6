"""Alembic migrations of the web application state (run by :func:`memberlens.web.store.open_store`)."""
