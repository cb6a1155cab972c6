"""Pseudonyms are HMAC-SHA256, checked against the published RFC 4231 test vectors."""

import hashlib
import hmac

import pyarrow as pa

from memberlens.privacy import pseudonymise


def test_pseudonym_is_the_rfc4231_hmac_sha256_truncated_to_32_hex_characters():
    # RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?"
    out = pseudonymise(["what do ya want for nothing?", None], b"Jefe").to_pylist()
    assert out == ["5bdcc146bf60754e6a042426089575c7", None]


def test_every_value_gets_its_own_hmac_under_one_key():
    # the key's state is computed once and copied per value: no value may leak into the next
    values = ["13812345678", "13812345678", "zhang.wei@example.com", "张伟", ""]
    key = b"\x0b" * 20  # RFC 4231 test case 1's key
    out = pseudonymise(pa.array(values), key).to_pylist()
    assert out == [
        hmac.new(key, v.encode("utf-8"), hashlib.sha256).hexdigest()[:32] for v in values
    ]
    assert out[0] == out[1] != out[2]
    # RFC 4231, test case 1: data "Hi There"
    assert pseudonymise(["Hi There"], key).to_pylist() == ["b0344c61d8db38535ca8afceaf0bf12b"]
