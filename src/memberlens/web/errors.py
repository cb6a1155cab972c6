"""Web-only errors, in the package's one hierarchy (each carries its HTTP status)."""

from __future__ import annotations

from memberlens.exceptions import MemberlensError, WarehouseBusy

__all__ = [
    "CsrfError",
    "Forbidden",
    "NotAuthenticated",
    "NotFound",
    "RateLimited",
    "WarehouseBusy",  # core's: a writer waiting too long, or the file held outside memberlens
]


class NotAuthenticated(MemberlensError):
    """No valid session cookie or API token."""

    http_status = 401


class Forbidden(MemberlensError):
    """The role of the caller does not allow this (see memberlens.web.roles)."""

    http_status = 403


class CsrfError(MemberlensError):
    """A form or cookie-authenticated request without a matching CSRF token."""

    http_status = 403


class RateLimited(MemberlensError):
    """Too many failed logins."""

    http_status = 429


class NotFound(MemberlensError):
    """The member, token or account asked for does not exist."""

    http_status = 404
