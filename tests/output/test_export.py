from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from finsent.contract.errors import InputError
from finsent.output.export import (
    neutralise_formulas,
    to_csv_bytes,
    to_jsonl_bytes,
    to_xlsx_bytes,
    write_table,
)


def sample() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "문장": [
                "삼성전자 영업이익 증가",
                '=HYPERLINK("http://x")',
                "+1+2",
                "@SUM(A1)",
                "-2+3",
                "\tcmd",
                "\rcmd",
            ],
            "amount": ["-3.5", "+7", "12", "-1,000", "1e5", "5%", "x"],
            "label": ["positive", "negative", "neutral", "positive", "neutral", "negative", "neutral"],
            "confidence": [0.91, 0.5, np.nan, 0.2, 0.3, 0.4, 1.0],
        }
    )


def test_neutralise_prefixes_formula_cells_only() -> None:
    out = neutralise_formulas(sample())
    assert out["문장"].tolist() == [
        "삼성전자 영업이익 증가", "'=HYPERLINK(\"http://x\")", "'+1+2", "'@SUM(A1)", "'-2+3", "'\tcmd", "'\rcmd",
    ]  # fmt: skip
    assert out["amount"].tolist() == ["-3.5", "+7", "12", "-1,000", "1e5", "5%", "x"]  # plain numbers stay
    assert out["confidence"].iloc[0] == 0.91 and np.isnan(out["confidence"].iloc[2])
    assert neutralise_formulas(pd.DataFrame({"=cmd": [1]})).columns.tolist() == ["'=cmd"]


def test_csv_has_a_bom_and_reads_back() -> None:
    data = to_csv_bytes(sample())
    assert data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", keep_default_na=False)
    assert back.columns.tolist() == ["문장", "amount", "label", "confidence"]
    assert back["문장"].iloc[0] == "삼성전자 영업이익 증가" and back["문장"].iloc[1].startswith("'=")


def test_xlsx_keeps_columns_and_never_holds_a_formula() -> None:
    frame = sample()
    frame.loc[0, "label"] = "bad\x01char"
    book = load_workbook(io.BytesIO(to_xlsx_bytes(frame)))
    sheet = book.active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("문장", "amount", "label", "confidence")
    assert len(rows) == 8 and rows[1][0] == "삼성전자 영업이익 증가" and rows[1][2] == "badchar"
    assert rows[1][3] == 0.91 and rows[3][3] is None
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_jsonl_is_data_as_is() -> None:
    lines = to_jsonl_bytes(sample()).decode("utf-8").splitlines()
    assert len(lines) == 7 and json.loads(lines[1])["문장"].startswith("=HYPERLINK")
    assert "삼성전자" in lines[0]  # not \\u-escaped
    assert to_jsonl_bytes(sample().iloc[:0]) == b""


@pytest.mark.parametrize("name", ["out.csv", "out.xlsx", "out.jsonl", "out.tsv"])
def test_write_table_by_extension(tmp_path: Path, name: str) -> None:
    path = write_table(tmp_path / "sub" / name, sample())
    assert path.is_file() and path.stat().st_size > 0
    assert [p.name for p in path.parent.iterdir()] == [name]  # no temp file left behind


def test_unknown_extension_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"\.csv, \.tsv, \.xlsx or \.jsonl"):
        write_table(tmp_path / "out.pdf", sample())
    assert list(tmp_path.iterdir()) == []
