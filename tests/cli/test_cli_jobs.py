# ruff: noqa: F811  (pytest fixtures imported from core_fixtures)
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from core_fixtures import CORE_PLUGINS, prepared_dir, scripted_env  # noqa: F401  (fixtures)

from finsent.cli import main
from finsent.service import FinsentService


@pytest.fixture(autouse=True)
def _scripted(monkeypatch: pytest.MonkeyPatch) -> None:
    scripted_env(monkeypatch)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_backends_lists_them_and_warns_about_broken_plugins(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    shutil.copy(CORE_PLUGINS / "scripted.py", plugins / "scripted.py")
    (plugins / "broken.py").write_text("raise RuntimeError('half-installed')\n")
    monkeypatch.setenv("FINSENT_PLUGINS_DIR", str(plugins))
    monkeypatch.setenv("FINSENT_LOAD_PLUGINS", "scripted,broken")
    code, out, err = run(capsys, "backends")
    assert code == 0
    assert out.splitlines()[0].split() == ["name", "label", "needs", "key", "available"]
    assert "scripted  Scripted  no" in out
    assert "warning: plugin 'broken'" in err and "half-installed" in err and "Traceback" not in err


def test_train_follow_results_and_models(
    capsys: pytest.CaptureFixture[str], prepared_dir: Path, tmp_path: Path
) -> None:
    code, out, err = run(
        capsys, "train", "--backend", "scripted", "--data", str(prepared_dir), "--epochs", "2",
        "--steps-per-epoch", "2", "--follow", "--interval", "0",
    )  # fmt: skip
    assert code == 0, err
    lines = out.splitlines()
    job_id = lines[0]
    assert job_id.startswith("job-")
    assert any("Validating files." in line for line in lines)
    assert [line.split()[1] for line in lines if line.strip().startswith("step")] == ["1", "2", "3", "4"]
    assert f"Job {job_id}: succeeded" in out and "accuracy 1.0000" in out and "confusion matrix" in out
    history = tmp_path / "history.csv"
    code, out, _ = run(capsys, "results", job_id, "-o", str(history))
    assert code == 0 and "macro-F1 1.0000" in out
    frame = pd.read_csv(history, encoding="utf-8-sig")
    assert list(frame.columns) == [
        "step",
        "epoch",
        "train_loss",
        "train_accuracy",
        "valid_loss",
        "valid_accuracy",
    ]
    assert frame["step"].tolist() == [1, 2, 3, 4] and frame["train_loss"].is_monotonic_decreasing
    code, out, _ = run(capsys, "results", job_id)
    assert out.startswith("step,epoch,train_loss") and "Final classification metrics on 9 valid" in out
    code, out, _ = run(capsys, "models", "--backend", "scripted")
    assert code == 0 and job_id in out
    code, out, _ = run(capsys, "jobs")
    assert job_id in out and "succeeded" in out


def test_train_without_follow_then_follow_cancel_and_jobs(
    capsys: pytest.CaptureFixture[str], prepared_dir: Path
) -> None:
    code, out, err = run(capsys, "train", "--backend", "scripted", "--data", str(prepared_dir))
    job_id = out.strip()
    assert code == 0 and f"finsent follow {job_id}" in err
    code, out, _ = run(capsys, "cancel", job_id)
    assert code == 0 and "cancelled" in out
    code, out, _ = run(capsys, "follow", job_id, "--interval", "0")
    assert code == 1 and f"Job {job_id}: cancelled" in out


def test_follow_ctrl_c_leaves_the_job_running(
    capsys: pytest.CaptureFixture[str], prepared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(capsys, "train", "--backend", "scripted", "--data", str(prepared_dir))
    job_id = out.strip()
    real_refresh = FinsentService.refresh_job
    calls = []

    def interrupted(self: FinsentService, *args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_refresh(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(FinsentService, "refresh_job", interrupted)
    code, out, err = run(capsys, "follow", job_id, "--interval", "0")
    assert code == 130 and f"Job {job_id} keeps running" in err and f"finsent follow {job_id}" in err
    monkeypatch.setattr(FinsentService, "refresh_job", real_refresh)
    assert not FinsentService().job(job_id).status.is_terminal


def test_options_are_validated_by_the_backend(capsys: pytest.CaptureFixture[str], prepared_dir: Path) -> None:
    code, _, err = run(
        capsys, "train", "--backend", "scripted", "--data", str(prepared_dir), "--epochs", "99"
    )
    assert code == 2 and "epochs" in err and "less than or equal to 10" in err and "Traceback" not in err
    code, _, err = run(
        capsys, "train", "--backend", "scripted", "--data", str(prepared_dir), "--option", "colour=red"
    )
    assert code == 2 and "colour" in err
    code, _, err = run(
        capsys, "train", "--backend", "scripted", "--data", str(prepared_dir), "--option", "nokey"
    )
    assert code == 2 and "KEY=VALUE" in err
    code, _, err = run(
        capsys, "train", "--backend", "scripted", "--data", str(prepared_dir), "--option", "reject_file=true"
    )
    assert code == 2 and "rejected the training file" in err
    code, out, _ = run(capsys, "jobs")
    assert "failed" in out  # the job that failed in preparation is listed, not stuck


def test_unknown_things_exit_2_without_traceback(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for argv, message in [
        (("follow", "job-nope"), "Unknown job 'job-nope'"),
        (("cancel", "job-nope"), "Unknown job"),
        (("results", "job-nope"), "Unknown job"),
        (("models", "--backend", "nope"), "Unknown backend 'nope'"),
        (("train", "--backend", "nope", "--data", str(tmp_path)), "Unknown backend 'nope'"),
        (("train", "--backend", "scripted", "--data", str(tmp_path)), "not a prepared dataset"),
        (("evaluate", "--backend", "scripted", "--model", "m", "--data", "ds-nope"), "Unknown dataset"),
    ]:
        code, _, err = run(capsys, *argv)
        assert code == 2 and message in err and "Traceback" not in err, argv


def test_add_model_and_evaluate(capsys: pytest.CaptureFixture[str], prepared_dir: Path) -> None:
    code, out, _ = run(
        capsys, "add-model", "--backend", "scripted", "--model", "kw-ext", "--data", str(prepared_dir)
    )
    assert code == 0 and "kw-ext" in out
    code, out, _ = run(
        capsys, "evaluate", "--backend", "scripted", "--model", "kw-ext", "--data", str(prepared_dir)
    )
    assert code == 0 and "accuracy 1.0000" in out and "positive" in out
