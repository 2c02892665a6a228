"""`finsent.support.secrets`: every form an echoing server sends a key back in is found and replaced, the
text around it is left alone, nothing short or ordinary is taken for a key, and log records are scrubbed
when they are made (message, arguments, exception text)."""

from __future__ import annotations

import base64
import json
import logging
from urllib.parse import quote

import pytest

from finsent.support.secrets import (
    REDACTED,
    SecretRegistry,
    distinctive_parts,
    register_secret,
    scrub,
    scrub_value,
)

KEY = "sk-canary-XYZ123abcDEF456ghiJKL789"
TAIL = KEY[3:]


def percent_all(text: str) -> str:
    return "".join(f"%{byte:02X}" for byte in text.encode())


FORMS = {
    "exact": KEY,
    "upper case": KEY.upper(),
    "mixed case": KEY.swapcase(),
    "without its prefix": TAIL,
    "its last part alone": KEY.split("-", 2)[2],
    "percent-encoded": percent_all(KEY),
    "percent-encoded, lower-case hex": percent_all(KEY).lower(),
    "percent-encoded in part": KEY.replace("-", "%2D").replace("c", "%63"),
    "percent-encoded twice": quote(percent_all(KEY)),
    "url-quoted upper case": quote(KEY.upper(), safe=""),
    "json escapes": json.dumps(KEY).strip('"').replace("s", "\\u0073").replace("k", "\\u006B"),
    "base64": base64.b64encode(KEY.encode()).decode(),
    "base64 of Bearer key": base64.b64encode(f"Bearer {KEY}".encode()).decode(),
    "base64 of user:key": base64.b64encode(f"user:{KEY}".encode()).decode(),
    "base64 at offset 2": base64.b64encode(f"xy{KEY}tail".encode()).decode(),
    "url-safe base64": base64.urlsafe_b64encode(f"Bearer {KEY}?".encode()).decode(),
    "base64 of the upper case": base64.b64encode(KEY.upper().encode()).decode(),
    "base64 of the tail": base64.b64encode(TAIL.encode()).decode(),
}


@pytest.fixture
def registry() -> SecretRegistry:
    fresh = SecretRegistry()
    assert fresh.register(KEY)
    return fresh


@pytest.mark.parametrize("name", list(FORMS))
def test_every_form_is_replaced_and_the_text_around_it_kept(registry: SecretRegistry, name: str) -> None:
    form = FORMS[name]
    out = registry.scrub(f"Incorrect API key provided: {form}. Check it.")
    assert out.startswith("Incorrect API key provided: ") and out.endswith(". Check it.")
    assert REDACTED in out
    assert "XYZ123" not in out.upper() and "CANARY" not in out.upper()
    assert form not in out


def test_ordinary_text_and_the_four_character_hint_are_left_alone(registry: SecretRegistry) -> None:
    text = "The API key ending in …L789 was refused; 긍정 positive sk-other-key-000 canary XYZ123."
    assert registry.scrub(text) == text
    assert registry.scrub("") == ""


def test_short_or_empty_values_are_not_secrets() -> None:
    registry = SecretRegistry()
    assert not registry.register("") and not registry.register(None) and not registry.register("abc1234")
    assert not registry and registry.scrub("abc1234") == "abc1234"


def test_tails_must_be_long_and_varied_to_count() -> None:
    assert distinctive_parts("sk-wrong-key-000000000000") == [
        "sk-wrong-key-000000000000",
        "wrong-key-000000000000",
    ]  # "key-000000000000" (5 different characters) and "000000000000" would blank ordinary numbers
    assert distinctive_parts("sk-short") == ["sk-short"]


def test_several_keys_are_all_scrubbed(registry: SecretRegistry) -> None:
    other = "sess-AbCdEfGh12345678IjKl"
    registry.register(other)
    out = registry.scrub(f"{KEY} and {other.upper()} and {KEY}")
    assert out == f"{REDACTED} and {REDACTED} and {REDACTED}"


def test_nested_values_and_log_records_through_the_process_registry(caplog: pytest.LogCaptureFixture) -> None:
    secret = "sk-logtest-Zz9Yy8Xx7Ww6Vv5Uu4"
    register_secret(secret)
    assert scrub_value({"a": [secret, (1, secret.upper())], secret: None}) == {
        "a": [REDACTED, (1, REDACTED)],
        REDACTED: None,
    }
    log = logging.getLogger("finsent.test.secrets")
    with caplog.at_level(logging.DEBUG, logger="finsent.test.secrets"):
        log.debug("request_id: %s", f"req_1 Bearer {secret}")
        try:
            raise ValueError(f"server said {secret.lower()}")
        except ValueError:
            log.exception("failed")
    assert secret.lower() not in caplog.text.lower() and REDACTED in caplog.text
    assert caplog.records[0].getMessage() == f"request_id: req_1 Bearer {REDACTED}"
    assert scrub(f"x {secret} y") == f"x {REDACTED} y"
