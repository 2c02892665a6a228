# ruff: noqa: F811  (pytest fixtures imported from core_fixtures)
"""Models, jobs and bulk runs have human names: made once, shown everywhere, editable, and taken by the
CLI wherever it takes an id. Bulk runs of the same input and model are one run, never twins."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pandas as pd
import pytest
from core_fixtures import prepared_dir, service, train_to_end  # noqa: F401  (fixtures)

from finsent.cli import main
from finsent.contract.errors import InputError, NotFoundError
from finsent.contract.texts import Text
from finsent.service import BulkRequest, FinsentService
from finsent.service.naming import default_name, short_label, unique_name

STAMP = r"\d\d-\d\d \d\d:\d\d"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_default_names_read_backend_base_model_source_and_time() -> None:
    assert short_label(Text("Local (scikit-learn, CPU)", "로컬 (scikit-learn, CPU)"), "ko") == "로컬"
    assert short_label(Text("Local (scikit-learn, CPU)", "로컬 (scikit-learn, CPU)"), "en") == "Local"
    when = time.mktime((2026, 12, 2, 16, 52, 0, 0, 0, -1))
    assert (
        default_name(["로컬", "tfidf-logreg", "news.xlsx"], when)
        == "로컬 · tfidf-logreg · news.xlsx · 12-02 16:52"
    )
    assert default_name(["OpenAI", "", None, "x.csv"], when) == "OpenAI · x.csv · 12-02 16:52"
    assert unique_name("a", {"a", "a (2)"}) == "a (3)" and unique_name("b", {"a"}) == "b"


def test_a_job_and_its_model_share_a_default_name_unique_even_in_the_same_minute(
    service: FinsentService, prepared_dir: Path
) -> None:
    dataset = service.register_dataset(prepared_dir, name="news.xlsx")
    first = service.job(train_to_end(service, dataset.id))
    second = service.job(train_to_end(service, dataset.id))
    assert re.fullmatch(rf"Scripted · kw-1 · news\.xlsx · {STAMP}", first.name), first.name
    assert second.name != first.name and second.name.startswith(first.name.split(" · ")[0])
    model = service.find_model(str(first.fine_tuned_model))
    assert model.name == first.name and model.title == first.name


def test_renaming_a_job_renames_its_model_and_names_find_records(
    service: FinsentService, prepared_dir: Path
) -> None:
    dataset = service.register_dataset(prepared_dir)
    job = service.job(train_to_end(service, dataset.id))
    service.rename_job(job.id, "  분기 실적  모델 ")
    assert service.job(job.id).name == "분기 실적 모델"  # white space tidied
    model = service.find_model("분기 실적 모델")
    assert model.id == job.fine_tuned_model
    assert service.find_model("분기 실적 모델".upper(), "scripted").id == model.id
    assert service.find_job("분기 실적 모델").id == job.id
    service.rename_model("scripted", model.id, "발표용")
    assert service.find_model("발표용").id == model.id
    assert service.job(job.id).name == "분기 실적 모델"  # the job keeps its own
    with pytest.raises(InputError):
        service.rename_model("scripted", model.id, "   ")
    with pytest.raises(NotFoundError):
        service.find_model("없는 모델")


def test_two_records_with_one_name_are_ambiguous_and_the_error_lists_them(service: FinsentService) -> None:
    a = service.add_model("scripted", "m-a", labels=("positive", "negative", "neutral"))
    b = service.add_model("scripted", "m-b", labels=("positive", "negative", "neutral"))
    service.rename_model("scripted", a.id, "같은 이름")
    service.rename_model("scripted", b.id, "같은 이름")
    with pytest.raises(InputError) as caught:
        service.find_model("같은 이름")
    assert "m-a" in caught.value.text("en") and "m-b" in caught.value.text("en")
    assert service.find_model("m-b").id == "m-b"  # the id always works


def test_adding_a_model_again_keeps_the_name_the_user_gave_it(service: FinsentService) -> None:
    service.add_model("scripted", "ft:gpt-4.1-mini:acme", labels=("positive", "negative", "neutral"))
    service.rename_model("scripted", "ft:gpt-4.1-mini:acme", "우리 모델")
    again = service.add_model("scripted", "ft:gpt-4.1-mini:acme", labels=("positive", "negative", "neutral"))
    assert again.name == "우리 모델"


def test_the_cli_lists_names_takes_them_for_ids_and_renames(
    service: FinsentService, prepared_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    dataset = service.register_dataset(prepared_dir)
    job = service.job(train_to_end(service, dataset.id))
    code, out, err = run(capsys, "rename", "job", job.id, "실적 모델")
    assert code == 0, err
    code, out, _ = run(capsys, "models")
    assert code == 0 and "실적 모델" in out and str(job.fine_tuned_model) in out
    code, out, _ = run(capsys, "jobs")
    assert code == 0 and "실적 모델" in out and job.id in out
    # --model by name, and no --backend: the name tells it
    code, out, err = run(capsys, "classify", "--model", "실적 모델", "주가 상승")
    assert code == 0, err
    assert out.split()[0] in ("positive", "negative", "neutral")
    code, out, err = run(capsys, "results", "실적 모델")
    assert code == 0, err
    source = tmp_path / "news.csv"
    pd.DataFrame({"제목": ["주가 상승", "주가 하락", ""]}).to_csv(source, index=False)
    code, _, err = run(capsys, "classify", "--model", "실적 모델", "--input", str(source), "--output",
                       str(tmp_path / "out.csv"))  # fmt: skip
    assert code == 0, err
    [bulk_run] = service.bulk_runs()
    code, _, err = run(capsys, "rename", "run", bulk_run.id, "3분기 뉴스")
    assert code == 0, err
    code, out, _ = run(capsys, "runs")
    assert code == 0 and "3분기 뉴스" in out and "실적 모델" in out and "news.csv" in out
    code, _, err = run(capsys, "classify", "--model", "없는 이름", "x")
    assert code == 2 and err.startswith("error: ") and "Traceback" not in err


def test_the_same_input_with_the_same_model_is_one_run_shown_or_resumed(
    service: FinsentService, prepared_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = service.register_dataset(prepared_dir)
    model = str(service.job(train_to_end(service, dataset.id)).fine_tuned_model)
    frame = pd.DataFrame({"t": [f"주가 상승 {i}" for i in range(50)]})
    first = service.start_bulk_run(BulkRequest("scripted", model, frame, "t", "a.csv"))
    again = service.start_bulk_run(BulkRequest("scripted", model, frame.copy(), "t", "a-copy.csv"))
    assert again.id == first.id  # a second click, another tab: the same run, not a twin
    done = service.wait_bulk_run(first.id, timeout=30)
    assert done.status == "succeeded"
    assert (
        service.bulk_run_for_input(BulkRequest("scripted", model, frame, "t", source_name="")).id == first.id
    )
    assert service.start_bulk_run(BulkRequest("scripted", model, frame, "t", "a.csv")).id == first.id
    assert len(service.bulk_runs()) == 1
    # other texts, or another column, are another input
    other = service.start_bulk_run(BulkRequest("scripted", model, frame.head(49), "t", "a.csv"))
    assert other.id != first.id
    service.wait_bulk_run(other.id, timeout=30)
    # the CLI on a finished input writes the kept results
    source = tmp_path / "a.csv"
    frame.to_csv(source, index=False)
    code, _, err = run(capsys, "classify", "--backend", "scripted", "--model", model, "--input", str(source),
                       "--text-col", "t", "--output", str(tmp_path / "o.csv"))  # fmt: skip
    assert code == 0, err
    assert "classified with this model before" in err and len(service.bulk_runs()) == 2
    assert len(pd.read_csv(tmp_path / "o.csv", encoding="utf-8-sig")) == 50
