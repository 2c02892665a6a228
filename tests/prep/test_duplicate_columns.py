"""Header names used twice are reported in the data report (issue 12 part 1): readers rename the repeats
NAME.1, NAME.2 (pandas does so silently), so the user hears which columns those are and which one was
used; a header that really says "x" and "x.1" is not a repeat in a CSV, whose header line is read as
written."""

from __future__ import annotations

import io
import json
from pathlib import Path

from korean_news import labelled_rows
from openpyxl import Workbook

from finsent.ingest.reading import read_table
from finsent.prep.pipeline import PrepareOptions, check_table, prepare_dataset

ROWS = [row.rsplit(",", 1) for row in labelled_rows()]


def _csv(header: str, path: Path) -> Path:
    body = "\n".join(f'"{text}",{label},x' for text, label in ROWS)
    path.write_text(f"{header}\n{body}\n", encoding="utf-8")
    return path


def test_a_repeated_csv_header_name_is_a_warning_naming_the_columns_used(tmp_path: Path) -> None:
    table = read_table(_csv("기사,평가,기사", tmp_path / "news.csv"))
    assert list(table.frame.columns) == ["기사", "평가", "기사.1"]
    assert table.repeated_columns == {"기사": ("기사", "기사.1")}
    report = check_table(table, PrepareOptions(label_column="평가"))
    [found] = [f for f in report.findings if f.id == "duplicate_columns"]
    assert found.severity == "warning" and found.details["repeats"] == {"기사": ["기사", "기사.1"]}
    assert "'기사' → '기사', '기사.1'" in found.message and "The columns used are '기사'" in found.message
    assert "사용한 열: '기사'" in found.message_ko
    assert "duplicate_columns" in report.to_text("ko") and "머리글에 같은 열 이름" in report.to_text("ko")


def test_a_header_that_really_says_x_and_x_1_is_no_repeat(tmp_path: Path) -> None:
    table = read_table(_csv("기사,평가,기사.1", tmp_path / "news.csv"))
    assert table.repeated_columns == {}
    assert "duplicate_columns" not in {f.id for f in check_table(table).findings}


def test_repeats_in_a_workbook_and_when_no_column_fits(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["제목", "제목", "비고"])
    for text, _label in ROWS:
        sheet.append([text, text, ""])
    buffer = io.BytesIO()
    book.save(buffer)
    table = read_table(buffer.getvalue(), "뉴스.xlsx")
    assert table.repeated_columns == {"제목": ("제목", "제목.1")}
    report = check_table(table)  # no label column: the repeat is reported beside required_columns
    assert {f.id for f in report.findings} == {"required_columns", "duplicate_columns"}


def test_the_finding_lands_in_report_json_and_nothing_else_changes(tmp_path: Path) -> None:
    _, plain = prepare_dataset(
        read_table(_csv("기사,평가,비고", tmp_path / "a.csv")),
        PrepareOptions(label_column="평가"),
        tmp_path / "a",
    )
    _, repeated = prepare_dataset(
        read_table(_csv("기사,평가,평가", tmp_path / "b.csv")),
        PrepareOptions(label_column="평가"),
        tmp_path / "b",
    )
    assert "duplicate_columns" in {f.id for f in repeated.findings}
    saved = json.loads((tmp_path / "b" / "report.json").read_text(encoding="utf-8"))
    assert "duplicate_columns" in {f["id"] for f in saved["findings"]}
    for name in ("train.csv", "valid.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert plain.rows_kept == repeated.rows_kept
