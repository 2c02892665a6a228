# ruff: noqa: F811  (pytest fixtures imported from core_fixtures)
"""A bulk run's stored input is written and read a parquet row group at a time, and its results are
written a row group at a time (CSV/TSV): what comes out must be what the whole-table path gives."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from core_fixtures import CORE_PLUGINS, service  # noqa: F401  (fixtures)
from test_bulk import check_alignment, input_frame, logged_texts, model_for

from finsent.bulk import runs
from finsent.service import BulkRequest, FinsentService

BOM = b"\xef\xbb\xbf"


@pytest.fixture
def small_groups(monkeypatch: pytest.MonkeyPatch) -> int:
    # 7 rows a group: misaligned with the run's chunks, so a chunk's texts span two groups
    monkeypatch.setattr(runs, "ROW_GROUP_ROWS", 7)
    return 7


def _input(n: int) -> pd.DataFrame:
    frame = input_frame(n)
    frame.loc[n - 2, "메모"] = "=1+1"  # a formula in the last group: each part is guarded, not only the first
    return frame


def test_results_written_in_parts_equal_the_whole_table(
    service: FinsentService, small_groups: int, tmp_path: Path
) -> None:
    model = model_for(service)
    run = service.run_bulk(BulkRequest("scripted", model, _input(50), "headline", "news.csv"))
    stored = pq.ParquetFile(service.settings.bulk_dir / run.id / runs.INPUT_FILE)
    assert stored.num_row_groups == 8  # ceil(50 / 7): the input really is in parts
    whole = service.bulk_results(run.id)
    check_alignment(whole.frame)
    for name in ("r.csv", "r.tsv", "r.xlsx"):
        for korean in (False, True):
            expected = service.files.write_results(tmp_path / f"whole-{korean}-{name}", whole, korean)
            path, first = service.write_bulk_results(run.id, tmp_path / f"parts-{korean}-{name}", korean)
            assert path.read_bytes() == expected.read_bytes(), (name, korean)
            assert (first.rows_done, first.rows_total) == (50, 50)
    data = (tmp_path / "parts-True-r.csv").read_bytes()
    assert data.count(BOM) == 1 and data.startswith(BOM)
    lines = data.decode("utf-8-sig").splitlines()
    assert len(lines) == 51 and lines.count(lines[0]) == 1  # one header, then every row once
    table = pd.read_csv(tmp_path / "parts-True-r.csv", encoding="utf-8-sig")
    assert set(table["predicted_label"]) == {"긍정", "부정", "중립"}  # Korean labels in every part
    assert table["id"].tolist() == [f"r{i}" for i in range(50)]
    assert table.loc[48, "메모"] == "'=1+1"  # guarded in the last part
    assert table["메모"].isna().sum() == 24  # missing cells stay missing (not "nan" or "None")


def test_a_run_with_no_finished_rows_writes_the_header_only(
    service: FinsentService, small_groups: int, tmp_path: Path
) -> None:
    model = model_for(service)
    run = service.open_bulk_run(BulkRequest("scripted", model, _input(20), "headline", "news.csv"))
    path, first = service.write_bulk_results(run.id, tmp_path / "none.csv")
    assert (first.rows_done, first.rows_total) == (0, 20) and first.frame.empty
    data = path.read_bytes()
    assert data.startswith(BOM) and data.count(BOM) == 1
    assert data.decode("utf-8-sig").splitlines() == [
        "id,headline,메모,label,predicted_label,confidence,score_positive,score_negative,score_neutral,model"
    ]
    done = service.run_bulk_here(run.id)  # the opened run then runs from its stored input
    assert done.status == "succeeded" and done.rows_done == 20
    path, first = service.write_bulk_results(run.id, tmp_path / "all.csv")
    assert first.rows_done == 20 and len(pd.read_csv(path, encoding="utf-8-sig")) == 20


def test_a_finished_run_opened_again_is_not_classified_again(
    service: FinsentService, small_groups: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = model_for(service)
    request = BulkRequest("scripted", model, _input(30), "headline", "news.csv")
    first = service.run_bulk(request)
    log = tmp_path / "sent.jsonl"
    monkeypatch.setenv("FINSENT_SCRIPTED_LOG", str(log))  # what the backend is sent from here on
    again = service.open_bulk_run(request)
    assert again.id == first.id and again.status == "succeeded"
    assert service.run_bulk_here(again.id).rows_done == 30
    assert logged_texts(log) == []  # nothing sent again


def test_mixed_type_columns_take_the_text_fallback_and_still_stream(
    service: FinsentService, small_groups: int, tmp_path: Path
) -> None:
    model = model_for(service)
    n = 30
    frame = pd.DataFrame(
        {"text": [f"item {i} went {('up', 'down', 'flat')[i % 3]}" for i in range(n)],
         "mixed": [i if i % 2 else f"t{i}" for i in range(n)]}
    )  # fmt: skip
    run = service.run_bulk(BulkRequest("scripted", model, frame, "text", "mixed.csv"))
    whole = service.bulk_results(run.id)
    assert whole.frame["mixed"].tolist() == [str(i) if i % 2 else f"t{i}" for i in range(n)]
    expected = service.files.write_results(tmp_path / "whole.csv", whole)
    path, _ = service.write_bulk_results(run.id, tmp_path / "parts.csv")
    assert path.read_bytes() == expected.read_bytes()
