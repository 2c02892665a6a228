"""Helpers for the core's tests: a small prepared dataset and a service with the scripted test backend."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from finsent.service import FinsentService
from finsent.settings import Settings

CORE_PLUGINS = Path(__file__).resolve().parent / "core_plugins"

# Invented sentences (never from the corpus); the scripted backend's keyword rule gets most of them right.
SENTENCES = {
    "positive": [
        "Shares went up after strong results",
        "매출 상승 기대감",
        "Profit gain beats forecast",
        "수출 호조 지속",
    ],
    "negative": [
        "Stock fell down on weak demand",
        "영업이익 하락 우려",
        "Quarterly loss widens",
        "내수 부진 심화",
    ],
    "neutral": [
        "The board meets on Monday",
        "회사는 서울에 본사를 둔다",
        "The report is due next week",
        "주주총회 일정 공지",
    ],
}


def write_prepared(directory: Path, copies: int = 3) -> Path:
    """A prepared directory in the layout of finsent.contract.dataset (manifest, train.csv, valid.csv)."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = []
    for label, texts in SENTENCES.items():
        for n in range(copies):
            rows += [{"text": f"{t} {n}", "label": label} for t in texts]
    frame = pd.DataFrame(rows)
    frame.insert(0, "row", range(1, len(frame) + 1))
    valid = frame.iloc[::4]
    train = frame.drop(valid.index)
    train.to_csv(directory / "train.csv", index=False)
    valid.to_csv(directory / "valid.csv", index=False)
    counts = {
        name: part["label"].value_counts().to_dict() for name, part in (("train", train), ("valid", valid))
    }
    manifest = {
        "labels": {"names": list(SENTENCES), "synonyms": {}},
        "input_format": {"lowercase": False, "separator": ""},
        "counts": counts,
        "input_sha256": "0" * 64,
    }
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return directory


def scripted_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINSENT_PLUGINS_DIR", str(CORE_PLUGINS))
    monkeypatch.setenv("FINSENT_LOAD_PLUGINS", "scripted")
    for name in ("DELAY", "FAIL_CALL", "LOG", "FAIL_STEP", "POLL_ERROR"):
        monkeypatch.delenv(f"FINSENT_SCRIPTED_{name}", raising=False)


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch, finsent_home: Path) -> FinsentService:
    scripted_env(monkeypatch)
    svc = FinsentService(Settings.from_env())
    assert svc.registry.names() == ["scripted"], svc.plugin_problems()
    return svc


@pytest.fixture
def prepared_dir(tmp_path: Path) -> Path:
    return write_prepared(tmp_path / "prepared")


def train_to_end(svc: FinsentService, dataset_id: str, **options: object) -> str:
    job = svc.start_training("scripted", dataset_id, dict(options))
    final = svc.follow_job(job.id, lambda _job: None, interval=0)
    assert final.status.is_terminal
    return job.id
