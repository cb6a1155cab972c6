"""Personal data: pseudonymise with a keyed hash (joins still work) and mask for display.

A phone number ``13812345678`` is stored as ``HMAC-SHA256(secret, "13812345678")`` (hex, 32
characters) and shown as ``138****5678``; an e-mail ``zhang.wei@example.com`` as ``z***@example.com``.
Values are normalised first (digits only for phones, with a leading ``86`` country code dropped;
lower case for e-mails) so that the same person gives the same pseudonym in every export.

>>> mask_values("phone", ["13812345678", None]).to_pylist()
['138****5678', None]
>>> mask_values("email", ["Zhang.Wei@Example.com"]).to_pylist()
['z***@example.com']
>>> len(pseudonymise(["13812345678"], b"k")[0].as_py())
32
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["mask_values", "normalise_values", "pseudonymise"]

_HASH_CHARS = 32


def normalise_values(kind: str, values: pa.Array | Iterable[str | None]) -> pa.Array:
    """Canonical spelling of personal identifiers before hashing."""
    arr = pa.array(values, type=pa.string()) if not isinstance(values, pa.Array) else values
    arr = pc.utf8_trim_whitespace(arr.cast(pa.string()))
    if kind == "phone":
        digits = pc.replace_substring_regex(arr, r"\D", "")
        digits = pc.replace_substring_regex(digits, r"^(?:0086|86)(1\d{10})$", r"\1")
        return pc.if_else(pc.equal(digits, ""), pa.scalar(None, pa.string()), digits)
    if kind == "email":
        return pc.utf8_lower(arr)
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def pseudonymise(values: pa.Array | Iterable[str | None], key: bytes) -> pa.Array:
    """HMAC-SHA256 of each value under ``key`` (hex, truncated to 32 characters); nulls stay null."""
    arr = pa.array(values, type=pa.string()) if not isinstance(values, pa.Array) else values
    keyed = hmac.new(key, digestmod=hashlib.sha256)  # the key's inner and outer states, once

    def digest(value: str) -> str:
        h = keyed.copy()
        h.update(value.encode("utf-8"))
        return h.hexdigest()[:_HASH_CHARS]

    return pa.array([None if v is None else digest(v) for v in arr.to_pylist()], type=pa.string())


def mask_values(kind: str, values: pa.Array | Iterable[str | None]) -> pa.Array:
    """A display form that hides most of the value (phone 138****5678, e-mail z***@example.com)."""
    arr = normalise_values(kind, values)
    if kind == "phone":
        return pc.if_else(
            pc.greater_equal(pc.utf8_length(arr), 7),
            pc.binary_join_element_wise(
                pc.utf8_slice_codeunits(arr, 0, 3), "****", pc.utf8_slice_codeunits(arr, -4), ""
            ),
            pc.binary_join_element_wise(pc.utf8_slice_codeunits(arr, 0, 1), "***", ""),
        )
    if kind == "email":
        domain = pc.replace_substring_regex(arr, r"^[^@]*", "")  # "@example.com" or ""
        return pc.binary_join_element_wise(pc.utf8_slice_codeunits(arr, 0, 1), "***", domain, "")
    if kind in ("id_number", "device"):
        return pc.binary_join_element_wise(
            pc.utf8_slice_codeunits(arr, 0, 4), "****", pc.utf8_slice_codeunits(arr, -2), ""
        )
    # names and free text: the first character only
    return pc.binary_join_element_wise(pc.utf8_slice_codeunits(arr, 0, 1), "**", "")
