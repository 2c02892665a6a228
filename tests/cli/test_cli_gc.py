# ruff: noqa: F811  (pytest fixtures imported from core_fixtures)
"""`finsent gc`: lists what it would free and deletes nothing without --yes; then frees exactly that."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from core_fixtures import prepared_dir, scripted_env, train_to_end  # noqa: F401  (fixtures)

from finsent.cli import main
from finsent.service import BulkRequest, FinsentService, Settings


@pytest.fixture(autouse=True)
def _scripted(monkeypatch: pytest.MonkeyPatch) -> None:
    scripted_env(monkeypatch)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _home_with_a_run_and_a_failed_job(
    prepared: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, str, str]:
    svc = FinsentService(Settings.from_env())
    dataset = svc.register_dataset(prepared)
    model = str(svc.job(train_to_end(svc, dataset.id)).fine_tuned_model)
    frame = pd.DataFrame({"제목": [f"삼성전자 주가 상승 {i}" for i in range(40)]})
    run_id = svc.run_bulk(BulkRequest("scripted", model, frame, "제목", "3분기 뉴스.xlsx")).id
    monkeypatch.setenv("FINSENT_SCRIPTED_FAIL_STEP", "1")
    failed = train_to_end(svc, dataset.id)
    monkeypatch.delenv("FINSENT_SCRIPTED_FAIL_STEP")
    svc.close()
    return svc.settings.home, run_id, failed


def test_gc_lists_first_then_frees_with_yes(
    capsys: pytest.CaptureFixture[str], prepared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, run_id, failed = _home_with_a_run_and_a_failed_job(prepared_dir, monkeypatch)
    code, out, err = run(capsys, "gc")
    assert code == 0, err
    assert f"FINSENT_HOME {home}" in out and "bulk runs" in out and "models" in out
    assert "Can be freed: 3 items" in out  # the run, the failed job's folder, the succeeded job's folder
    assert "3분기 뉴스.xlsx" in out and "succeeded" in out and "failed" in out
    assert "can no longer be downloaded" in out and "Nothing was deleted" in out
    assert (home / "bulk" / run_id / "input.parquet").is_file() and (home / "jobs" / failed).is_dir()

    code, out, err = run(capsys, "gc", "--yes")
    assert code == 0, err
    assert "Freed " in out and "(3 items)" in out and err == ""
    assert not (home / "bulk" / run_id).exists() and not (home / "jobs" / failed).exists()
    code, out, _ = run(capsys, "runs")
    assert run_id not in out
    code, out, _ = run(capsys, "gc")
    assert code == 0 and "Nothing to free." in out


def test_gc_older_than_narrows_the_list_and_refuses_a_bad_age(
    capsys: pytest.CaptureFixture[str], prepared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, run_id, _ = _home_with_a_run_and_a_failed_job(prepared_dir, monkeypatch)
    code, out, _ = run(capsys, "gc", "--older-than", "7", "--yes")
    assert code == 0 and "Nothing to free." in out  # everything here changed today
    assert (home / "bulk" / run_id / "input.parquet").is_file()
    for bad in ("-1", "soon", "inf"):
        with pytest.raises(SystemExit) as caught:
            main(["gc", "--older-than", bad])
        assert caught.value.code == 2
        err = capsys.readouterr().err
        assert "--older-than" in err and "Traceback" not in err
