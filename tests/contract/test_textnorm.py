"""The one normalisation rule: raw text -> model input, the same for training files and classification."""

from __future__ import annotations

import unicodedata

import pytest

from finsent.contract.modelinput import COMPLETION_SEPARATOR, InputFormat, build_model_input, normalise_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  한빛전자   매출 증가 ", "한빛전자 매출 증가"),
        ("줄\n바꿈\r\n과\t탭", "줄 바꿈 과 탭"),
        ("NBSP\u00a0와\u3000전각 공백", "NBSP 와 전각 공백"),
        ("", ""),
        ("   ", ""),
        (None, ""),
        (123, "123"),
    ],
)
def test_whitespace(raw: object, expected: str) -> None:
    assert normalise_text(raw) == expected
    assert build_model_input(raw) == expected


def test_nfc_composes_hangul_jamo() -> None:
    decomposed = unicodedata.normalize("NFD", "삼성전자")
    assert decomposed != "삼성전자"
    assert build_model_input(decomposed) == "삼성전자"


def test_case_is_kept_unless_asked() -> None:
    assert build_model_input("Basware 수주") == "Basware 수주"
    assert build_model_input("Basware STRASSE 수주", lowercase=True) == "basware strasse 수주"
    assert build_model_input("한글은 그대로", lowercase=True) == "한글은 그대로"


def test_separator_is_appended_after_normalisation() -> None:
    assert build_model_input(" 매출 증가 \n", separator=COMPLETION_SEPARATOR) == "매출 증가 ->"
    assert COMPLETION_SEPARATOR == " ->"


def test_idempotent() -> None:
    once = build_model_input("  A\u00a0b\n가 ", lowercase=True)
    assert build_model_input(once, lowercase=True) == once


def test_input_format_applies_the_same_function_and_round_trips() -> None:
    fmt = InputFormat(lowercase=True, separator=" ->")
    assert fmt.apply("  Basware 수주 ") == build_model_input(
        "  Basware 수주 ", lowercase=True, separator=" ->"
    )
    assert InputFormat.from_dict(fmt.to_dict()) == fmt
    assert InputFormat.from_dict(None) == InputFormat()
    assert InputFormat().with_separator(" ->") == InputFormat(separator=" ->")
    assert fmt.to_dict() == {"lowercase": True, "separator": " ->"}


def test_fast_path_agrees_with_the_whitespace_rule_for_every_character() -> None:
    import re
    import sys

    rule = re.compile(r"\s+")
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if 0xD800 <= code <= 0xDFFF:
            continue
        text = f"가{char}나"
        expected = rule.sub(" ", unicodedata.normalize("NFC", text)).strip()
        assert normalise_text(text) == expected, hex(code)
