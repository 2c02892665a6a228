"""The limits of one read (finsent.ingest.limits) on CSV/TSV and JSONL: each hostile shape is a clear
OverLimitError (or InputError) in both languages, raised before the parser sees the data, and ordinary
files still read."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path

import pytest

from finsent.cli import main
from finsent.contract.errors import InputError
from finsent.ingest.limits import InputLimits, OverLimitError
from finsent.ingest.reading import read_table
from finsent.service import DataFiles
from finsent.settings import Settings

SMALL = InputLimits(max_rows=100, max_columns=20, max_cell_chars=1_000, max_line_kb=4)


def _over(path: Path, setting: str, *, limits: InputLimits | None = SMALL, where: str = "") -> OverLimitError:
    with pytest.raises(OverLimitError) as info:
        read_table(path, limits=limits)
    err = info.value
    en, ko = err.text("en"), err.text("ko")
    assert setting in en and setting in ko
    assert "limit" in en and "한도" in ko
    assert where in en
    return err


def _csv(path: Path, rows: list[list[str]]) -> Path:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def _jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def test_a_million_columns_header_is_refused_before_pandas(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_bytes(b",".join(b"c%d" % i for i in range(1_000_000)) + b"\n" + b"x," * 999_999 + b"x\n")
    err = _over(path, "FINSENT_MAX_COLUMNS", limits=None, where="header")
    assert "1,000,000 columns" in err.text("en") and "열 수" in err.text("ko")


def test_quoted_delimiters_in_the_header_are_not_columns(tmp_path: Path) -> None:
    names = [f'"name, {i}"' for i in range(15)]
    path = tmp_path / "quoted.csv"
    path.write_text(",".join(names) + "\n" + ",".join(["v"] * 15) + "\n", encoding="utf-8")
    assert read_table(path, limits=SMALL).frame.shape == (1, 15)
    path.write_text(",".join(names * 2) + "\n" + ",".join(["v"] * 30) + "\n", encoding="utf-8")
    err = _over(path, "FINSENT_MAX_COLUMNS")
    assert "30 columns" in err.text("en")


def test_a_line_over_the_limit_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text("text,label\n짧은 문장,positive\n" + "a" * 5000 + ",positive\n", encoding="utf-8")
    err = _over(path, "FINSENT_MAX_LINE_KB", where="line 3")
    assert "3번째 줄" in err.text("ko")


def test_50_mb_on_one_line_is_refused_at_the_default_limit(tmp_path: Path) -> None:
    path = tmp_path / "oneline.csv"
    path.write_bytes(b"text,label\n" + b"x" * (50 * 1024 * 1024))
    err = _over(path, "FINSENT_MAX_LINE_KB", limits=None, where="line 2")
    assert "51,200 KB on one line" in err.text("en")


def test_too_many_rows(tmp_path: Path) -> None:
    path = _csv(tmp_path / "rows.csv", [["text", "label"]] + [[f"문장 {i}", "positive"] for i in range(150)])
    err = _over(path, "FINSENT_MAX_ROWS")
    assert "at least 101 rows" in err.text("en")
    assert read_table(path, limits=dataclasses.replace(SMALL, max_rows=150)).rows == 150


def test_blank_lines_do_not_count_as_rows(tmp_path: Path) -> None:
    path = tmp_path / "blank.jsonl"
    path.write_text('{"text": "a", "label": "b"}\n\n\n' * 100, encoding="utf-8")
    assert read_table(path, limits=SMALL).rows == 100


def test_a_cell_over_the_limit_names_its_row_and_column(tmp_path: Path) -> None:
    # a quoted multi-line cell: every physical line is short, the cell is not
    cell = "\n".join(["가나다라마바사아자차"] * 200)  # 2,199 characters
    path = _csv(tmp_path / "cell.csv", [["id", "text"], ["1", "짧음"], ["2", cell]])
    err = _over(path, "FINSENT_MAX_CELL_CHARS", where="row 3, column text")
    assert "2,199 characters in one cell" in err.text("en") and "3행, 열 text" in err.text("ko")


def test_jsonl_line_over_the_limit(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "long.jsonl", [{"text": "a"}, {"text": "b" * 5000}])
    _over(path, "FINSENT_MAX_LINE_KB", where="line 2")


def test_jsonl_cell_over_the_limit_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "cell.jsonl"
    path.write_text('{"text": "a"}\n\n{"label": "x", "text": "' + "b" * 2000 + '"}\n', encoding="utf-8")
    err = _over(path, "FINSENT_MAX_CELL_CHARS", where="line 3, column text")
    assert "3번째 줄" in err.text("ko")


def test_jsonl_too_many_rows_and_columns(tmp_path: Path) -> None:
    _over(_jsonl(tmp_path / "rows.jsonl", [{"text": str(i)} for i in range(101)]), "FINSENT_MAX_ROWS")
    records: list[dict[str, object]] = [{f"k{i}": i} for i in range(21)]
    _over(_jsonl(tmp_path / "cols.jsonl", records), "FINSENT_MAX_COLUMNS")


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ("[" * 100_000, 1),
        ('{"text": "a"}\n{"text": ' + "[" * 50_000 + "]" * 50_000 + "}\n", 2),
        ('{"text": "a"}\n\n{"text": ' + '{"k": ' * 5_000 + "1" + "}" * 5_000 + "}\n", 3),
    ],
    ids=["100k-open-brackets", "50k-deep-value", "5k-deep-after-blank-line"],
)
def test_jsonl_nested_too_deep_is_an_input_error(tmp_path: Path, content: str, line: int) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_table(path)
    assert f"line {line} holds a value nested too deep" in info.value.text("en")
    assert f"{line}번째 줄" in info.value.text("ko") and "중첩" in info.value.text("ko")


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ('{"text": "a"}\n{"text": "이모지 \\ud83d 반쪽", "label": "neutral"}\n', "line 2, column text"),
        ('{"text": "a", "label": "x\\udc00"}\n', "line 1, column label"),
        ('[{"text": "a"}, {"text": "b\\uDBFF"}]', "line 2, column text"),
        ('{"text": "a", "bad\\ud800key": 1}\n', "the key bad\\ud800key"),
    ],
    ids=["high-half", "low-half", "json-array", "in-a-key"],
)
def test_a_lone_surrogate_escape_is_an_input_error_naming_the_line(
    tmp_path: Path, content: str, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """json.loads leaves a lone \ud800-\udfff escape as a surrogate, which no file can hold: it used to
    pass the checks and end in a UnicodeEncodeError traceback when the outputs were written."""
    path = tmp_path / "half.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_table(path)
    assert where in info.value.text("en") and "without its other half" in info.value.text("en")
    assert "짝이 없는" in info.value.text("ko")
    code = main(["prepare", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "without its other half" in err
    assert not (tmp_path / "out").exists(), "nothing is written"


def test_surrogate_pairs_and_escaped_korean_still_read(tmp_path: Path) -> None:
    """What json.dumps writes by default (ensure_ascii): Korean as \\uXXXX, an emoji as a surrogate pair."""
    records = [{"text": "매출 증가 😀", "label": "positive"}, {"text": "손실 🙁", "label": "negative"}]
    path = tmp_path / "ascii.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    assert "\\ud83d" in path.read_text()
    assert read_table(path).frame["text"].tolist() == ["매출 증가 😀", "손실 🙁"]


def test_a_value_just_deep_enough_still_reads(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "nested.jsonl", [{"text": "a", "meta": [[[[{"k": [1, 2]}]]]]}])
    assert read_table(path).frame["meta"].tolist() == ['[[[[{"k": [1, 2]}]]]]']


def test_ordinary_files_still_read(tmp_path: Path) -> None:
    text = "매출 증가 " * 1_666  # 9,996 characters, well under the default cell limit
    multi = '첫 줄\n둘째 줄, 쉼표\n"따옴표"'
    header = ["text", "label"] + [f"c{i}" for i in range(198)]
    rows = [header, [text, "positive"] + ["v"] * 198, [multi, "neutral"] + ["w"] * 198]
    table = read_table(_csv(tmp_path / "ok.csv", rows))
    assert table.frame.shape == (2, 200)
    assert table.frame.loc[0, "text"] == text and table.frame.loc[1, "text"] == multi
    records: list[dict[str, object]] = [dict(zip(header, row, strict=True)) for row in rows[1:]]
    table = read_table(_jsonl(tmp_path / "ok.jsonl", records))
    assert table.frame.shape == (2, 200) and table.frame.loc[1, "text"] == multi


def test_limits_come_from_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _csv(tmp_path / "six.csv", [[f"c{i}" for i in range(6)], ["v"] * 6])
    assert read_table(path).frame.shape == (1, 6)
    monkeypatch.setenv("FINSENT_MAX_COLUMNS", "5")
    _over(path, "FINSENT_MAX_COLUMNS", limits=None)
    files = DataFiles(dataclasses.replace(Settings.from_env(), max_columns=6), lambda: None)
    assert files.read_table(path).frame.shape == (1, 6)
    # max_mb still overrides the file size alone
    with pytest.raises(InputError, match="limit of 1 MB"):
        read_table(path.write_bytes(b"a,b\n" + b"x,y\n" * 300_000) and path, max_mb=1, limits=SMALL)


def test_cli_prepare_on_a_million_columns_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "wide.csv"
    path.write_bytes(b",".join(b"c%d" % i for i in range(1_000_000)) + b"\nx,y\n")
    out = tmp_path / "out"
    assert main(["prepare", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "FINSENT_MAX_COLUMNS" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_jsonl_read_in_pieces_keeps_lines_and_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import finsent.ingest.jsonlines as jsonlines

    monkeypatch.setattr(jsonlines, "_PIECE", 64)  # a piece of one or two lines
    lines = ['{"text": "가", "label": "p"}', "", '{"label": "n", "text": "나"}']
    lines += ['{"text": "다", "extra": 1}', '{"text": "라", "nested": {"a": [1, true, null]}}']
    path = tmp_path / "pieces.jsonl"
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    frame = read_table(path).frame
    assert list(frame.columns) == ["text", "label", "extra", "nested"]
    assert frame.values.tolist() == [
        ["가", "p", "", ""],
        ["나", "n", "", ""],
        ["다", "", "1", ""],
        ["라", "", "", '{"a": [1, true, null]}'],
    ]
    path.write_text("\n".join([*lines, "", '{"text": "' + "x" * 2000 + '"}']) + "\n", encoding="utf-8")
    _over(path, "FINSENT_MAX_CELL_CHARS", where="line 7, column text")
    path.write_text("\n".join([*lines, '{"text": "broken"']) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 6 is not valid JSON"):
        read_table(path)
