# ruff: noqa: F811  (pytest fixtures imported from core_fixtures)
"""Empty cells are not sentiment: a bulk run leaves them without label, confidence and scores, never sends
them to the backend, counts them, and keeps them in the table and the file (issue: 37 empty cells came
back 중립 at 96 %)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from core_fixtures import service  # noqa: F401  (fixture)

from finsent.cli import main
from finsent.service import BulkRequest, FinsentService

TEXTS = ["주가 상승", "", "   ", None, "주가 하락", "\t\n", "보합 마감"]


def test_blank_cells_get_no_label_and_are_not_sent(
    service: FinsentService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("FINSENT_SCRIPTED_LOG", str(log))
    service.add_model("scripted", "kw", labels=("positive", "negative", "neutral"))
    frame = pd.DataFrame({"n": range(len(TEXTS)), "text": TEXTS})
    run = service.start_bulk_run(BulkRequest("scripted", "kw", frame, "text", "news.csv"))
    assert service.wait_bulk_run(run.id, timeout=30).status == "succeeded"
    results = service.bulk_results(run.id)
    table = results.frame
    assert len(table) == len(TEXTS) and results.rows_done == len(TEXTS) and results.rows_blank == 4
    blank = table["n"].isin([1, 2, 3, 5])
    assert (table.loc[blank, "label"] == "").all()
    assert table.loc[blank, "confidence"].isna().all()
    assert table.loc[blank, [results.score_columns[k] for k in results.labels]].isna().all().all()
    assert (table.loc[~blank, "label"] != "").all() and table.loc[~blank, "confidence"].notna().all()
    sent = [text for line in log.read_text(encoding="utf-8").splitlines() for text in json.loads(line)]
    assert sent == ["주가 상승", "주가 하락", "보합 마감"]  # blank cells never reach the backend


def test_the_cli_says_how_many_rows_were_empty_and_keeps_them(
    service: FinsentService, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    service.add_model("scripted", "kw", labels=("positive", "negative", "neutral"))
    source = tmp_path / "news.csv"
    pd.DataFrame({"번호": range(len(TEXTS)), "제목": TEXTS}).to_csv(source, index=False, encoding="utf-8-sig")
    code = main(["classify", "--backend", "scripted", "--model", "kw", "--input", str(source), "--text-col",
                 "제목", "--output", str(tmp_path / "out.csv")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    out = pd.read_csv(tmp_path / "out.csv", encoding="utf-8-sig", keep_default_na=False)
    assert len(out) == len(TEXTS)
    # the CSV keeps the blank rows, with empty label, confidence and scores (not 0, not 중립)
    blank = out["번호"].isin([1, 2, 3, 5])
    assert (out.loc[blank, ["label", "confidence", "score_neutral"]] == "").all().all()
    assert (out.loc[~blank, "label"] != "").all()
    assert "4 empty rows were not classified" in err
