"""The dashboard's two catalogues: same keys, same placeholders, every key a page asks for exists."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from finsent.contract import Text
from finsent.contract.backend import JobStatus
from finsent.contract.labels import DEFAULT_LABELS
from finsent.ui import i18n
from finsent.ui.messages_en import MESSAGES as EN
from finsent.ui.messages_ko import MESSAGES as KO

ROOT = Path(__file__).resolve().parents[2]
UI_FILES = [ROOT / "streamlit_app.py", *sorted((ROOT / "finsent" / "ui").rglob("*.py"))]
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _literal_calls() -> list[tuple[Path, int, str, set[str]]]:
    """(file, line, key, keyword names) for every t("literal", ...) call, both branches of `a if c else b`."""
    calls = []
    for path in UI_FILES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "t"):
                continue
            if not node.args:
                continue
            arg = node.args[0]
            options = [arg.body, arg.orelse] if isinstance(arg, ast.IfExp) else [arg]
            kws = {k.arg for k in node.keywords if k.arg}
            for option in options:
                if isinstance(option, ast.Constant) and isinstance(option.value, str):
                    calls.append((path, node.lineno, option.value, kws))
    return calls


def test_both_catalogues_have_the_same_keys() -> None:
    assert set(KO) - set(EN) == set(), "keys only in Korean"
    assert set(EN) - set(KO) == set(), "keys only in English"


def test_placeholders_match_between_languages() -> None:
    assert [k for k in EN if _placeholders(EN[k]) != _placeholders(KO[k])] == []


def test_every_literal_key_used_by_the_ui_exists_with_its_arguments() -> None:
    calls = _literal_calls()
    assert len(calls) > 150  # the scan really sees the pages
    for path, line, key, kws in calls:
        where = f"{path.relative_to(ROOT)}:{line}"
        assert key in KO, f"{where}: missing key {key!r}"
        missing = _placeholders(KO[key]) - kws
        assert not missing, f"{where}: {key!r} needs {missing}"


def _entry_point_pages() -> list[tuple[str, str, str]]:
    """The PAGES table of streamlit_app.py, read without running the app."""
    tree = ast.parse((ROOT / "streamlit_app.py").read_text(encoding="utf-8"))
    return next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "PAGES" and node.value
    )


# Keys the UI builds at run time (f-strings): data sources, chart metrics, per-class metrics, examples.
DYNAMIC_KEYS = (
    *(f"data.source_{s}" for s in ("sample", "upload", "corpus")),
    *(f"chart.{m}{suffix}" for m in ("accuracy", "loss") for suffix in ("", "_curve")),
    *(f"eval.{m}" for m in ("precision", "recall", "f1")),
    *(f"classify.example_{i}" for i in (1, 2, 3)),
)


def test_page_titles_statuses_labels_and_other_key_families_exist() -> None:
    from finsent.ui.bulk_view import EXPORTS
    from finsent.ui.report_view import SEVERITY_ORDER

    pages = _entry_point_pages()
    assert {name for name, _, _ in pages} == {"data", "train", "monitor", "evaluate", "classify"}
    wanted = {title for _, title, _ in pages}
    wanted |= {f"status.{s.value}" for s in JobStatus}
    wanted |= {f"label.{label}" for label in (*DEFAULT_LABELS, "unknown")}
    wanted |= {f"severity.{s}" for s in SEVERITY_ORDER}
    wanted |= set(DYNAMIC_KEYS)
    wanted |= {f"bulk.download_{kind}" for kind, _ in EXPORTS}
    assert sorted(k for k in wanted if k not in KO) == []


def test_every_built_in_backend_speaks_korean_itself() -> None:
    """The catalogue names no backend: labels, descriptions and base model names come from the backends."""
    from finsent.plugins import load_backends

    registry = load_backends()
    for name in ("local", "mock", "openai"):
        backend = registry.get(name)
        assert HANGUL.search(backend.label_text().ko or "") or name == "openai", name  # "OpenAI" is a name
        assert isinstance(backend.description, Text) and HANGUL.search(backend.description.ko or ""), name


def test_korean_is_the_default_and_english_is_english() -> None:
    assert i18n.translate("nav.data", i18n.normalise_lang(None)) == "데이터"  # Korean out of the box
    assert i18n.translate("classify.prompt", "ko") == "감성 분석할 뉴스를 입력해주세요"
    assert i18n.normalise_lang("EN") == "en" and i18n.normalise_lang("fr") == "ko"
    assert i18n.normalise_lang(None, "en") == "en"
    # English texts carry no Korean except where they quote Korean input on purpose
    quoting = {"data.labels_help", "bulk.label_names_ko"}  # they show the Korean label names themselves
    assert [k for k, v in EN.items() if HANGUL.search(v) and k not in quoting] == []
    # Korean texts are Korean (a few are the same in both: metric names and the like)
    same = {"eval.f1"}
    assert [k for k, v in KO.items() if not HANGUL.search(v) and k not in same] == []


def test_missing_key_and_bad_arguments_never_crash() -> None:
    assert i18n.translate("no.such.key", "ko") == "no.such.key"
    assert i18n.translate("data.rows", "en", wrong=1) == "{rows} rows"
    assert i18n.translate("data.rows", "en", rows="1,234") == "1,234 rows"


def test_durations_read_at_a_glance(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(i18n, "current_lang", lambda: "ko")
    assert i18n.duration_text(0.34) == "0.3초"  # a small file: not "0초"
    assert i18n.duration_text(2) == "2초"
    assert i18n.duration_text(42.4) == "42초"
    assert i18n.duration_text(185) == "3분 5초"
    assert i18n.duration_text(3900) == "1시간 5분"
    monkeypatch.setattr(i18n, "current_lang", lambda: "en")
    assert i18n.duration_text(185) == "3 min 5 s"


def test_moments_read_as_local_date_and_minute() -> None:
    import time

    stamp = time.mktime((2025, 3, 4, 9, 15, 42, 0, 0, -1))  # local time, as stored records are shown
    assert i18n.moment_text(stamp) == "2025-03-04 09:15"


def test_base_models_are_named_by_their_backend_in_the_page_language(monkeypatch: pytest.MonkeyPatch) -> None:
    from finsent_mock.backend import MockBackend

    from finsent.contract import BackendContext, Settings

    [info] = MockBackend(BackendContext(Settings.from_env())).base_models()
    monkeypatch.setattr(i18n, "current_lang", lambda: "ko")
    assert i18n.base_model_text("mock", info, info.id) == "키워드 규칙 (한국어 + 영어)"
    monkeypatch.setattr(i18n, "current_lang", lambda: "en")
    assert i18n.base_model_text("mock", info, info.id) == "Keyword rule (Korean + English)"


def test_one_korean_word_for_label_everywhere() -> None:
    """라벨, never 레이블 (issue 9), in the catalogue and every Korean text of the core and the plugins. The
    column-name guesser still recognises 레이블 in users' headers: that list is the one exception."""
    allowed = {ROOT / "finsent" / "ingest" / "columns.py"}
    offenders = []
    for path in sorted([*(ROOT / "finsent").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")]):
        if path in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "레이블" in node.value:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
