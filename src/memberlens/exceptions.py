"""One exception hierarchy for the whole package.

Every message names what was wrong (file, line, field, rule, the value found) and how to fix it.
The CLI prints ``str(error)`` and exits with :attr:`MemberlensError.exit_code`; the web layer maps
the same classes to HTTP status codes in one handler.
"""

from __future__ import annotations


class MemberlensError(Exception):
    """Base class: an error the user can act on."""

    exit_code = 1
    http_status = 400


class ConfigError(MemberlensError):
    """The project file or a setting is missing or invalid."""

    exit_code = 2


class ExpressionError(ConfigError):
    """An audience filter expression that does not parse or does not type-check (the message
    names the column or value, where it is and the fix)."""


class NotFoundError(MemberlensError):
    """A named object of the app state (an audience, a snapshot) does not exist."""

    exit_code = 5
    http_status = 404


class SchemaError(MemberlensError):
    """A table or field name that is not part of the data contract."""

    exit_code = 2


class SourceError(MemberlensError):
    """A source file or database cannot be read (missing, wrong format, undecodable)."""

    exit_code = 3


class MappingError(MemberlensError):
    """Source columns cannot be mapped to the canonical fields (e.g. a required field is missing)."""

    exit_code = 3


class DataError(MemberlensError):
    """Input data breaks a rule in a way that cannot be quarantined row by row."""

    exit_code = 4


class MissingTableError(MemberlensError):
    """An analysis needs a table that has not been loaded."""

    exit_code = 5
    http_status = 404


class ConvergenceError(MemberlensError):
    """A model fit did not converge."""

    exit_code = 6


class WarehouseBusy(MemberlensError):
    """Another writer holds the warehouse longer than this one would wait (or a program outside
    memberlens holds the file); the message names it and the fix. Exit code 75 (sysexits'
    EX_TEMPFAIL: retrying later can succeed)."""

    exit_code = 75
    http_status = 503
