from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from core_fixtures import CORE_PLUGINS, scripted_env
from openpyxl import load_workbook

import finsent.bulk.runs
from finsent.cli import main
from finsent.service import FinsentService

KEYED_PLUGIN = """
from finsent import hookimpl
from finsent.plugins import BackendRegistry, get_plugin_manager
from finsent.settings import Settings
from pathlib import Path
base = BackendRegistry.from_plugin_manager(get_plugin_manager(Settings(home=Path('.'), plugins_dir=Path({dir!r}), load_plugins=('scripted',)))).get('scripted')

class Keyed(base):
    name = 'keyed'
    label = 'Keyed'
    needs_key = True
    key_env_var = 'KEYED_TEST_KEY'

@hookimpl
def register_backends(register):
    register(Keyed)
"""


@pytest.fixture(autouse=True)
def _scripted(monkeypatch: pytest.MonkeyPatch) -> None:
    scripted_env(monkeypatch)
    FinsentService().add_model("scripted", "kw", labels=("positive", "negative", "neutral"))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def news_csv(path: Path, n: int) -> Path:
    words = ("상승", "하락", "보합")
    frame = pd.DataFrame(
        {
            "번호": range(n),
            "제목": [f"기사 {i} 주가 {words[i % 3]}" for i in range(n)],
            "메모": ["=cmd|' /C calc'!A0" if i == 0 else "" for i in range(n)],
        }
    )
    frame.to_csv(path, index=False, encoding="cp949")  # a Korean Excel export
    return path


def test_classify_texts(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "classify", "--backend", "scripted", "--model", "kw", "shares up", "실적 하락", "meh"
    )
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == ["positive", "negative", "neutral"]
    assert "positive=0.800" in out.splitlines()[0]
    code, out, _ = run(capsys, "classify", "--backend", "scripted", "--model", "kw", "--json", "up")
    row = json.loads(out)
    assert (
        row["label"] == "positive"
        and row["confidence"] == 0.8
        and set(row["scores"]) == {"positive", "negative", "neutral"}
    )


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".jsonl"])
def test_bulk_file_keeps_every_column(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, suffix: str
) -> None:
    source = news_csv(tmp_path / "뉴스.csv", 45)
    output = tmp_path / f"scored{suffix}"
    code, _, err = run(capsys, "classify", "--backend", "scripted", "--model", "kw", "--input", str(source),
                       "--text-col", "제목", "--output", str(output))  # fmt: skip
    assert code == 0, err
    assert "45/45 rows" in err and "rows/s" in err and "left" in err and f"wrote {output}" in err
    if suffix == ".csv":
        result = pd.read_csv(output, encoding="utf-8-sig", keep_default_na=False)
        assert output.read_bytes().startswith(b"\xef\xbb\xbf")
        assert result.loc[0, "메모"].startswith("'=")  # formula neutralised
    elif suffix == ".xlsx":
        rows = list(load_workbook(output).active.iter_rows(values_only=True))
        result = pd.DataFrame(rows[1:], columns=rows[0])
    else:
        result = pd.read_json(output, lines=True)
    assert list(result.columns) == [
        "번호",
        "제목",
        "메모",
        "label",
        "confidence",
        "score_positive",
        "score_negative",
        "score_neutral",
        "model",
    ]
    assert set(result["model"]) == {"kw"}
    assert [int(v) for v in result["번호"]] == list(range(45))
    assert result["label"].tolist()[:3] == ["positive", "negative", "neutral"]


def test_ctrl_c_keeps_finished_chunks_and_resume_completes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = news_csv(tmp_path / "news.csv", 95)
    output = tmp_path / "out.csv"
    real = finsent.bulk.runs.encode_predictions
    calls = []

    def interrupt_on_fourth(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(finsent.bulk.runs, "encode_predictions", interrupt_on_fourth)
    code, _, err = run(capsys, "classify", "--backend", "scripted", "--model", "kw", "--input", str(source),
                       "--text-col", "제목", "--output", str(output))  # fmt: skip
    assert code == 130 and "30 of 95 rows are kept" in err and not output.exists()
    resume_cmd = err.split("Resume with: ")[1].strip().split()
    assert resume_cmd[:3] == ["finsent", "classify", "--resume"]
    monkeypatch.setattr(finsent.bulk.runs, "encode_predictions", real)
    code, _, err = run(capsys, *resume_cmd[1:])
    assert code == 0, err
    result = pd.read_csv(output, encoding="utf-8-sig")
    assert result["번호"].tolist() == list(range(95))


def test_failed_run_prints_the_resume_command(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINSENT_SCRIPTED_FAIL_CALL", "2")
    source = news_csv(tmp_path / "news.csv", 25)
    code, _, err = run(capsys, "classify", "--backend", "scripted", "--model", "kw", "--input", str(source),
                       "--output", str(tmp_path / "o.xlsx"))  # fmt: skip
    assert code == 2 and "failed after 10 of 25 rows" in err and "Scripted failure" in err
    assert "finsent classify --resume run-" in err


def test_errors_exit_2_with_a_message(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "keyed.py").write_text(KEYED_PLUGIN.format(dir=str(CORE_PLUGINS)))
    monkeypatch.setenv("FINSENT_PLUGINS_DIR", str(plugins))
    monkeypatch.setenv("FINSENT_LOAD_PLUGINS", "keyed")
    monkeypatch.delenv("KEYED_TEST_KEY", raising=False)
    source = news_csv(tmp_path / "news.csv", 3)
    for argv, message in [
        (("classify", "--backend", "keyed", "--model", "m", "x"), "KEYED_TEST_KEY"),
        (("classify", "--backend", "scripted", "--model", "m", "x"), "Unknown backend 'scripted'"),
        (("classify", "--backend", "keyed", "--model", "m"), "Nothing to classify"),
        (
            ("classify", "--backend", "keyed", "--input", str(source), "--output", "o.csv"),
            "--model M is required",
        ),
        (
            ("classify", "--backend", "keyed", "--model", "m", "--input", str(source)),
            "--input needs --output",
        ),
        (
            ("classify", "--backend", "keyed", "--model", "m", "--input", str(source), "--output", "o.pdf"),
            ".jsonl",
        ),
        (("classify", "--resume", "run-nope", "--output", "o.csv"), "Unknown bulk run 'run-nope'"),
    ]:
        code, _, err = run(capsys, *argv)
        assert code == 2 and message in err and "Traceback" not in err, (argv, err)


def test_end_to_end_with_the_mock_backend(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """finsent prepare on the bundled sample -> train --backend mock --follow -> results -> classify."""
    from finsent.ingest.corpus import sample_path

    monkeypatch.setenv("FINSENT_LOAD_PLUGINS", "finsent_mock")
    prepared = tmp_path / "prepared"
    code, _, err = run(capsys, "prepare", str(sample_path()), "--out", str(prepared))
    assert code == 0, err
    code, out, err = run(
        capsys,
        "train",
        "--backend",
        "mock",
        "--data",
        str(prepared),
        "--epochs",
        "1",
        "--follow",
        "--interval",
        "0",
    )
    assert code == 0, err
    job_id = out.splitlines()[0]
    assert "succeeded" in out and "Final classification metrics" in out
    code, out, _ = run(capsys, "results", job_id, "-o", str(tmp_path / "h.csv"))
    assert code == 0 and "accuracy" in out
    model = FinsentService().job(job_id).fine_tuned_model
    assert model
    code, out, _ = run(capsys, "classify", "--backend", "mock", "--model", model, "삼성전자 영업이익 급증")
    assert code == 0 and out.split()[0] in ("positive", "negative", "neutral")
    code, _, err = run(capsys, "classify", "--backend", "mock", "--model", model, "--input", str(sample_path()),
                       "--output", str(tmp_path / "scored.xlsx"))  # fmt: skip
    assert code == 0, err
    rows = list(load_workbook(tmp_path / "scored.xlsx").active.iter_rows(values_only=True))
    assert (
        rows[0][:3] == ("kor_sentence", "labels", "label")
        and len(rows) == len(pd.read_csv(sample_path())) + 1
    )


def test_xlsx_keeps_formula_like_text_as_text_csv_guards_it_unless_told_and_labels_can_be_korean(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = news_csv(tmp_path / "news.csv", 6)  # row 0's 메모 is =cmd|' /C calc'!A0
    xlsx, csv_plain, csv_ko = tmp_path / "o.xlsx", tmp_path / "plain.csv", tmp_path / "ko.csv"
    base = [
        "classify",
        "--backend",
        "scripted",
        "--model",
        "kw",
        "--input",
        str(source),
        "--text-col",
        "제목",
    ]
    assert run(capsys, *base, "--output", str(xlsx))[0] == 0
    cell = load_workbook(xlsx).active["C2"]
    assert cell.value == "=cmd|' /C calc'!A0" and cell.data_type == "s"  # a text cell: never runs, no '
    assert run(capsys, *base, "--output", str(csv_plain), "--no-formula-guard")[0] == 0
    plain = pd.read_csv(csv_plain, encoding="utf-8-sig", keep_default_na=False)
    assert plain.loc[0, "메모"] == "=cmd|' /C calc'!A0"
    assert run(capsys, *base, "--output", str(csv_ko), "--label-names", "ko")[0] == 0
    korean = pd.read_csv(csv_ko, encoding="utf-8-sig", keep_default_na=False)
    assert set(korean["label"]) <= {"긍정", "부정", "중립"} and korean.loc[0, "메모"].startswith("'=")
