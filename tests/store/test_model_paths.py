"""A FINSENT_HOME that is moved or copied keeps its models: paths under the home are stored relative to it.

Real homes in tmp_path, a real model trained by the local backend's worker, real copies (shutil.copytree)
and the real SQLite store, migrated from schema v6 where older rows are concerned.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from finsent.contract.errors import FinsentError
from finsent.ingest.corpus import sample_path
from finsent.ingest.reading import read_table
from finsent.prep.pipeline import PrepareOptions, prepare_dataset
from finsent.service import FinsentService, Settings
from finsent.store import Store
from finsent.store.records import ModelRecord
from finsent.store.schema import HOME_MARK, LATEST_VERSION, current_version, home_path, migrate, stored_path


def prepared_sample(out_dir: Path) -> Path:
    """The bundled Korean sample, prepared: what the local backend trains on in a few seconds."""
    options = PrepareOptions(text_column="kor_sentence", label_column="labels")
    prepare_dataset(read_table(sample_path()), options, out_dir)
    return out_dir


@pytest.fixture
def local_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINSENT_LOAD_PLUGINS", "local")


def _train_local(home: Path, tmp_path: Path) -> tuple[FinsentService, str]:
    svc = FinsentService(Settings.from_env(home))
    dataset = svc.register_dataset(prepared_sample(tmp_path / "prepared"))
    job = svc.start_training("local", dataset.id, {"epochs": 2})
    final = svc.follow_job(job.id, lambda _job: None, interval=0.1)
    assert final.status.value == "succeeded", final.error
    (model,) = svc.models("local")
    return svc, model.id


def _stored_rows(home: Path) -> list[tuple[str | None, str]]:
    with sqlite3.connect(home / "finsent.db") as conn:
        return conn.execute("SELECT path, details FROM models").fetchall()


def test_a_copied_or_moved_home_classifies_with_its_own_models(tmp_path: Path, local_only: None) -> None:
    home = tmp_path / "home"
    svc, model_id = _train_local(home, tmp_path)
    before = svc.classify("local", model_id, ["영업이익 급증으로 주가 상승"])
    svc.close()
    [(path, _)] = _stored_rows(home)
    assert path is not None and path.startswith(HOME_MARK + "models/")  # relative, not /tmp/.../home/...

    copy = tmp_path / "elsewhere" / "copied-home"
    shutil.copytree(home, copy)
    shutil.rmtree(home)  # moved: nothing of the old home is left to lean on
    moved = FinsentService(Settings.from_env(copy))
    record = moved.store.get_model("local", model_id)
    assert record.path is not None and Path(record.path).is_relative_to(copy) and Path(record.path).is_file()
    after = moved.classify("local", model_id, ["영업이익 급증으로 주가 상승"])
    assert after == before
    moved.close()


def test_a_file_outside_the_home_and_a_hub_id_keep_their_absolute_form(tmp_path: Path) -> None:
    home, outside = tmp_path / "home", tmp_path / "user-models" / "finbert-ko"
    outside.mkdir(parents=True)
    store = Store(home / "finsent.db")
    for model_id, details in (("folder", {"path": str(outside)}), ("hub", {"path": "snunlp/KR-FinBert-SC"})):
        store.add_model(
            ModelRecord(id=model_id, backend="transformers", job_id=None, base_model="b", labels=("positive",),
                        input_format={}, created_at=1.0, details=details)
        )  # fmt: skip
    assert store.get_model("transformers", "folder").details["path"] == str(outside)
    assert store.get_model("transformers", "hub").details["path"] == "snunlp/KR-FinBert-SC"
    assert sorted(json.loads(d)["path"] for _, d in _stored_rows(home)) == sorted(
        [str(outside), "snunlp/KR-FinBert-SC"]
    )
    # a ready model folder the user keeps inside the home is stored relative, and follows a copy
    inside = home / "ready" / "finbert"
    inside.mkdir(parents=True)
    store.add_model(
        ModelRecord(id="inside", backend="transformers", job_id=None, base_model="b", labels=("positive",),
                    input_format={}, created_at=1.0, details={"path": str(inside), "int8": False})
    )  # fmt: skip
    copy = tmp_path / "copy"
    shutil.copytree(home, copy)
    moved = Store(copy / "finsent.db")
    assert moved.get_model("transformers", "inside").details == {
        "path": str(copy / "ready/finbert"),
        "int8": False,
    }
    assert moved.get_model("transformers", "folder").details["path"] == str(outside)


def test_stored_paths_see_through_a_symlinked_home(tmp_path: Path) -> None:
    real = tmp_path / "real-home"
    (real / "models" / "m").mkdir(parents=True)
    link = tmp_path / "home-link"
    link.symlink_to(real)
    model = real / "models" / "m" / "model.npz"
    assert stored_path(str(model), link) == HOME_MARK + "models/m/model.npz"
    assert stored_path(str(link / "models/m/model.npz"), link) == HOME_MARK + "models/m/model.npz"
    assert home_path(HOME_MARK + "models/m/model.npz", link) == str(link / "models/m/model.npz")
    assert stored_path("relative/folder", link) == "relative/folder"  # not a path of ours: as it is


def _v6_database(home: Path, rows: list[tuple[str, str | None, dict[str, object]]]) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(home / "finsent.db", isolation_level=None)
    assert migrate(conn, target=6) == 6
    for model_id, path, details in rows:
        conn.execute(
            "INSERT INTO models (backend, id, labels, path, sha256, details, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            ("local", model_id, '["positive"]', path, "0" * 64, json.dumps(details), 1.0),
        )
    conn.close()
    return home / "finsent.db"


def _model_file(home: Path, model_id: str) -> Path:
    path = home / "models" / model_id / "model.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"weights")
    return path


def test_migration_v7_makes_existing_paths_relative_and_repairs_a_home_copied_before(tmp_path: Path) -> None:
    home, old_home, gone = tmp_path / "home", tmp_path / "old-home", tmp_path / "gone-home"
    elsewhere = tmp_path / "not-a-home" / "models" / "x" / "model.npz"
    _model_file(home, "here")
    # a home copied with an older finsent: its rows still name the original home, which is a finsent home
    _model_file(old_home, "copied")
    (old_home / "finsent.db").write_bytes(b"")
    _model_file(home, "copied")
    _model_file(home, "moved")  # moved with an older finsent: the original home is gone
    _model_file(home, "x")
    elsewhere.parent.mkdir(parents=True)
    elsewhere.write_bytes(b"weights")  # not under a finsent home: the user's own file stays where it is
    db = _v6_database(home, [
        ("here", str(home / "models/here/model.npz"), {"n_features": 3}),
        ("copied", str(old_home / "models/copied/model.npz"), {}),
        ("moved", str(gone / "models/moved/model.npz"), {}),
        ("elsewhere", str(elsewhere), {}),
        ("ready", None, {"path": "snunlp/KR-FinBert-SC", "label_map": {"0": "negative"}}),
        ("provider", None, {}),
    ])  # fmt: skip

    store = Store(db)  # opening migrates
    with store.db.read() as conn:
        assert current_version(conn) == LATEST_VERSION
    paths = {m.id: m.path for m in store.list_models()}
    assert paths == {
        "here": str(home / "models/here/model.npz"),
        "copied": str(home / "models/copied/model.npz"),
        "moved": str(home / "models/moved/model.npz"),
        "elsewhere": str(elsewhere),
        "ready": None,
        "provider": None,
    }
    assert store.get_model("local", "here").details == {"n_features": 3}
    assert store.get_model("local", "ready").details == {
        "path": "snunlp/KR-FinBert-SC",
        "label_map": {"0": "negative"},
    }
    stored = {p for p, _ in _stored_rows(home) if p}
    assert stored == {HOME_MARK + f"models/{m}/model.npz" for m in ("here", "copied", "moved")} | {
        str(elsewhere)
    }
    assert Store(db).list_models() == store.list_models()  # opening again changes nothing


def test_a_model_file_missing_from_a_copy_is_refused_with_a_clear_message(
    tmp_path: Path, local_only: None
) -> None:
    home = tmp_path / "home"
    svc, model_id = _train_local(home, tmp_path)
    svc.close()
    copy = tmp_path / "copy"
    shutil.copytree(home, copy, ignore=shutil.ignore_patterns("model.npz"))  # a copy that left the models out
    moved = FinsentService(Settings.from_env(copy))
    with pytest.raises(FinsentError) as caught:
        moved.classify("local", model_id, ["주가 상승"])
    assert str(copy) in str(caught.value) and "missing" in str(caught.value)
    assert caught.value.texts().ko and "없습니다" in caught.value.texts().ko
    moved.close()
