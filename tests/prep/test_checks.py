"""Each data check on small real tables: what it finds, which rows it names, what it drops."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from finsent.ingest.reading import LoadedTable
from finsent.prep.checks import CHECKS, Finding, class_counts
from finsent.prep.pipeline import PrepareOptions, check_table

ROOT = Path(__file__).resolve().parents[2]


def _table(rows: list[tuple[str, str]]) -> LoadedTable:
    frame = pd.DataFrame(rows, columns=["text", "label"], dtype=str)
    return LoadedTable(frame, "t.csv", "csv", "utf-8", sha256="0" * 64, delimiter=",")


def _base(n: int = 20) -> list[tuple[str, str]]:
    return [(f"{label} 기사 {i}호", label) for label in ("positive", "negative", "neutral") for i in range(n)]


def _ids(rows: list[tuple[str, str]], **options: object) -> dict[str, Finding]:
    report = check_table(_table(rows), PrepareOptions(**options))  # type: ignore[arg-type]
    return {f.id: f for f in report.findings}


def test_clean_table_has_no_warnings() -> None:
    report = check_table(_table(_base(60)))
    assert not report.has_errors
    assert [f.id for f in report.findings if f.severity != "info"] == []
    assert {f.id for f in report.findings} == {"completion_format", "class_imbalance"}


def test_conflicting_labels_drop_every_row_of_the_text() -> None:
    rows = [*_base(), ("환율 급등", "positive"), ("환율 급등", "negative"), ("환율  급등", "negative")]
    report = check_table(_table(rows))
    finding = report.finding("conflicting_labels")
    assert finding is not None
    assert (finding.count, finding.rows, finding.details["rows_dropped"]) == (1, (61, 62, 63), 3)
    assert finding.details["texts"] == {"환율 급등": ["negative", "positive"]}
    assert report.rows_kept == 60


def test_exact_and_near_duplicates() -> None:
    rows = [
        *_base(),
        ("배당 확대", "positive"),
        ("배당 확대", "positive"),  # exact
        (" 배당\u00a0확대\n", "positive"),  # near: whitespace
        ("배당 확대", "Positive"),  # same after label normalisation: exact text
        ("\u1107\u1162\u1103\u1161\u11bc \ud655\ub300", "positive"),  # decomposed jamo: NFC equal
    ]
    found = _ids(rows)
    assert found["duplicate_rows"].rows == (62, 64)
    assert found["near_duplicates"].rows == (63, 65)
    assert found["duplicate_rows"].applied and found["near_duplicates"].applied
    assert check_table(_table(rows)).rows_kept == 61


def test_class_size_thresholds() -> None:
    found = class_counts({"positive": 9, "negative": 49, "neutral": 200})
    by_id = {f.id: f for f in found}
    assert by_id["class_below_minimum"].severity == "error"
    assert "positive 9" in by_id["class_below_minimum"].message
    assert by_id["class_below_recommended"].severity == "warning"
    assert "negative 49" in by_id["class_below_recommended"].message
    # Korean texts name the labels as the dashboard does; labels of the user's own stay as written.
    assert "긍정(positive) 9" in by_id["class_below_minimum"].message_ko
    assert "부정(negative) 49" in by_id["class_below_recommended"].message_ko
    (mine,) = class_counts({"호재": 40, "악재": 60})[:1]
    assert "호재 40" in mine.message_ko
    assert "class_imbalance" not in by_id  # meaningless while a class is below the minimum
    zero = {f.id for f in class_counts({"positive": 100, "negative": 100, "neutral": 0})}
    assert "class_below_minimum" in zero


def test_class_imbalance_severity() -> None:
    (info,) = class_counts({"a": 100, "b": 60})
    assert (info.id, info.severity) == ("class_imbalance", "info")
    (warn,) = class_counts({"a": 301, "b": 100})
    assert (warn.severity, warn.details["largest"], warn.details["smallest"]) == ("warning", "a", "b")
    (named,) = class_counts({"neutral": 301, "positive": 100})
    assert "가장 많은 라벨(중립)" in named.message_ko and "긍정 24.9%" in named.message_ko


def test_balanced_classes_are_not_compared_with_themselves() -> None:
    (info,) = class_counts({"a": 60, "b": 60})
    assert info.severity == "info"
    assert "same number" in info.message and "a (" not in info.message


def test_empty_and_unknown_labels() -> None:
    found = _ids([*_base(), ("금리 인하", ""), ("유가 급등", "  "), ("환율", "혼조")])
    assert found["empty_label"].rows == (61, 62)
    assert found["unknown_label"].rows == (63,)
    assert found["unknown_label"].details["values"] == {"혼조": 1}


def test_label_variants_are_mapped_and_reported() -> None:
    rows = [(f"문장 {i}", lab) for i, lab in enumerate(["긍정", " Positive ", "NEG", "중립", "neutral"] * 12)]
    found = _ids(rows)
    mapping = found["label_variants"].details["mapping"]
    assert mapping == {"긍정": "positive", " Positive ": "positive", "NEG": "negative", "중립": "neutral"}
    assert found["label_variants"].count == 48


def test_common_prefix_and_suffix_are_reported_not_applied() -> None:
    rows = [(f"[속보] {text} (끝)", label) for text, label in _base()]
    found = _ids(rows)
    assert found["common_prefix"].details["prefix"] == "[속보]"
    assert found["common_suffix"].details["suffix"] == "(끝)"
    assert not found["common_prefix"].applied
    # A shared first syllable is not a prefix worth reporting.
    assert "common_prefix" not in _ids([(f"한{text}", label) for text, label in _base()])


def test_separator_in_text_and_letter_case() -> None:
    rows = [*_base(), ("매출 -> 이익 전환", "positive"), ("Basware 수주", "positive")]
    found = _ids(rows)
    assert found["separator_in_text"].rows == (61,)
    assert found["letter_case"].rows == (62,) and not found["letter_case"].applied
    assert _ids(rows, lowercase=True)["letter_case"].applied


def test_whitespace_and_formula_like() -> None:
    rows = [*_base(), ("  앞뒤 공백 ", "neutral"), ("줄\n바꿈", "neutral"), ("=HYPERLINK(x)", "neutral")]
    found = _ids(rows)
    assert found["text_whitespace"].rows == (61, 62)
    assert found["formula_like"].rows == (63,)


def test_completion_format_only_when_writing_completion_files() -> None:
    assert "completion_format" in _ids(_base())
    assert "completion_format" not in _ids(_base(), formats=("chat",))


def test_no_rows_left() -> None:
    report = check_table(_table([("", "positive"), ("문장", "")]))
    assert report.finding("no_rows") is not None and report.has_errors


def test_every_finding_is_in_the_documented_list() -> None:
    rows = [*_base(3), ("", "x"), ("=a -> b", "positive"), ("=a -> b", "negative"), ("A", "positive")]
    seen = {f.id for f in check_table(_table(rows)).findings}
    assert seen <= set(CHECKS)
    for finding in check_table(_table(rows)).findings:
        assert finding.severity in ("error", "warning", "info")
        assert finding.message and finding.message_ko


def test_docs_describe_every_check() -> None:
    doc = (ROOT / "docs" / "data-checks.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", doc, flags=re.MULTILINE))
    assert documented == set(CHECKS)


def test_finding_round_trip_and_severity_guard() -> None:
    finding = Finding("duplicate_rows", "warning", "m", 2, (3, 4), "r", True)
    assert Finding.from_dict(finding.to_dict()) == finding
    with pytest.raises(ValueError):
        Finding("x", "fatal", "m")


def test_two_hundred_thousand_rows_are_checked_quickly_enough_to_run_here() -> None:
    # Not a timing assertion (see bench/prep.py): proves the vectorised path handles a big table.
    rows = [
        (f"기사 {i} 본문 Company{i % 97}", ("positive", "negative", "neutral")[i % 3]) for i in range(50_000)
    ]
    rows += rows[:1000]
    report = check_table(_table(rows))
    assert report.finding("duplicate_rows").count == 1000  # type: ignore[union-attr]
    assert report.rows_kept == 50_000


def test_common_suffix_matches_the_reversed_prefix_rule() -> None:
    import random

    from finsent.prep.textchecks import _common_prefix, _common_suffix

    rng = random.Random(7)
    for _ in range(300):
        tail = "".join(rng.choice("ab ") for _ in range(rng.randint(0, 12)))
        values = ["".join(rng.choice("ab ") for _ in range(rng.randint(0, 6))) + tail for _ in range(5)]
        assert _common_suffix(values) == _common_prefix([v[::-1] for v in values])[::-1], values
    # Each value shortening the candidate by one character: the fallback after a few rounds.
    staircase = ["x" * 20] + ["y" + "x" * (20 - i) for i in range(1, 15)]
    assert _common_suffix(staircase) == "x" * 6
