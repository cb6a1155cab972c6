"""Alembic migrations of the web application state (run by :func:`memberlens.appstate.open_store`)."""
