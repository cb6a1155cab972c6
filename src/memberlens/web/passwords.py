"""Which passwords an account may have: NIST SP 800-63B, section 5.1.1.2 ("memorized secrets").

* at least :data:`MIN_LENGTH` characters, at most :data:`MAX_LENGTH` (any characters, spaces
  and Chinese included; no composition rules: no "one digit, one capital");
* not one of the 19,640 most common breached passwords (``data/common-passwords.txt.gz``, see
  ``data/SOURCE.md``), nor one of them followed by digits or symbols (``password2024!``);
* not repetitive (fewer than :data:`MIN_DISTINCT` different characters, ``aaaaaaaaaa``) or
  sequential (``abcdefghij``, ``9876543210``);
* not the account's user name or the product's name (context-specific words).
"""

from __future__ import annotations

import gzip
import re
from functools import lru_cache
from pathlib import Path

from memberlens.exceptions import ConfigError

MIN_LENGTH = 10
MAX_LENGTH = 256
MIN_DISTINCT = 4
LIST = Path(__file__).parent / "data" / "common-passwords.txt.gz"
_CONTEXT_WORDS = ("memberlens",)
_SUFFIX = re.compile(r"[\d\W_]+$")
_FIX = "choose a longer passphrase, e.g. four unrelated words"


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The bundled list of common and breached passwords (lower case)."""
    with gzip.open(LIST, "rt", encoding="utf-8") as fh:
        return frozenset(line.strip() for line in fh if line.strip())


def _sequential(text: str) -> bool:
    steps = {ord(b) - ord(a) for a, b in zip(text, text[1:], strict=False)}
    return steps in ({1}, {-1})


def password_problem(password: str, *, username: str | None = None) -> str | None:
    """Why ``password`` may not be used (a message naming the rule and the fix), or None."""
    if len(password) < MIN_LENGTH:
        return f"password: must have at least {MIN_LENGTH} characters, got {len(password)}; {_FIX}"
    if len(password) > MAX_LENGTH:
        return f"password: must have at most {MAX_LENGTH} characters, got {len(password)}"
    lower = password.lower()
    base = _SUFFIX.sub("", lower)
    common = common_passwords()
    if lower in common or (base != lower and len(base) >= 4 and base in common):
        return f"password: it is on the list of common and breached passwords; {_FIX}"
    if len(set(lower)) < MIN_DISTINCT:
        return f"password: repeats fewer than {MIN_DISTINCT} different characters; {_FIX}"
    if _sequential(lower):
        return f"password: is a sequence of consecutive characters; {_FIX}"
    words = [*_CONTEXT_WORDS, *([username.lower()] if username and len(username) >= 3 else [])]
    if any(w in lower for w in words):
        return f"password: contains the user name or the product name; {_FIX}"
    return None


def check_password(password: str, *, username: str | None = None) -> None:
    """Raise :class:`ConfigError` when ``password`` breaks a rule of :func:`password_problem`."""
    problem = password_problem(password, username=username)
    if problem is not None:
        raise ConfigError(problem)
