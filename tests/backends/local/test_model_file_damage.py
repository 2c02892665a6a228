"""A local model file that passes its checksum but cannot be used (cut short, or arrays of the wrong shape,
recorded with the checksum of the damaged bytes) is refused with a ModelFileError that says so: in the
backend, and as one `error:` line with exit 2 in the CLI. Never a BadZipFile or ValueError traceback."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from finsent_local import LocalBackend
from finsent_local.features import Channel, Featurizer
from finsent_local.model_file import LinearModel, ModelFileError, load_model

from finsent.cli import main
from finsent.contract import BackendContext, LabelSet, ModelRef, Settings
from finsent.service import FinsentService

LABELS = ["positive", "negative", "neutral"]
TEXTS = ["영업이익 증가", "매출 감소", "주주총회 개최", "흑자 전환", "적자 확대", "일정 공시"]


def small_model() -> LinearModel:
    """A real, tiny model: a fitted featurizer and arrays of the right shapes."""
    featurizer = Featurizer([Channel("char", 1, 2)])
    n_features = featurizer.fit_transform(TEXTS).shape[1]
    rng = np.random.default_rng(0)
    return LinearModel(
        labels=list(LABELS),
        featurizer=featurizer,
        weights=rng.normal(size=(3, n_features)).astype(np.float32),
        bias=np.zeros(3),
        calib=np.eye(3),
        calib_bias=np.zeros(3),
    )


def _rewritten(change: Callable[[dict[str, np.ndarray]], None]) -> bytes:
    """A whole, well-formed archive whose arrays `change` altered."""
    with np.load(io.BytesIO(small_model().to_bytes()), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    change(arrays)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _cut(data: bytes) -> bytes:
    return data[: len(data) // 2]


DAMAGES: dict[str, Callable[[], bytes]] = {
    "cut in half": lambda: _cut(small_model().to_bytes()),
    "not a zip archive": lambda: b"PK\x03\x04 this was never a model file",
    "weights one feature short": lambda: _rewritten(lambda a: a.update(weights=a["weights"][:, :-1])),
    "two labels' weights": lambda: _rewritten(lambda a: a.update(weights=a["weights"][:2])),
    "calibration not square": lambda: _rewritten(lambda a: a.update(calib=np.ones((3, 2)))),
    "idf shorter than its vocabulary": lambda: _rewritten(lambda a: a.update(idf_0=a["idf_0"][:-1])),
    "weights not finite": lambda: _rewritten(lambda a: a.update(weights=a["weights"] * np.nan)),
    "an array missing": lambda: _rewritten(lambda a: a.pop("bias")),
    "header not JSON": lambda: _rewritten(lambda a: a.update(header=np.frombuffer(b"{not json", np.uint8))),
}


def _install(home: Path, name: str, data: bytes) -> tuple[Path, str]:
    """The damaged bytes as a model file under FINSENT_HOME/models, with their own (matching) checksum."""
    path = home / "models" / name.replace(" ", "-") / "model.npz"
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def test_the_small_model_itself_loads_and_classifies(finsent_home: Path) -> None:
    path, sha = _install(finsent_home, "whole", small_model().to_bytes())
    model = load_model(path, sha, finsent_home / "models")
    assert model.predict(["영업이익 증가"])[1].shape == (1, 3)


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_file_that_passes_its_checksum_is_a_clear_error(finsent_home: Path, damage: str) -> None:
    path, sha = _install(finsent_home, damage, DAMAGES[damage]())
    backend = LocalBackend(BackendContext(Settings.from_env()))
    ref = ModelRef("m", LabelSet.from_names(LABELS), details={"path": str(path), "sha256": sha})
    with pytest.raises(ModelFileError) as caught:
        backend.classify(ref, ["영업이익 증가"])
    english, korean = caught.value.text("en"), caught.value.text("ko")
    assert "damaged or is not a finsent model file" in english and "Train the model again" in english
    assert "손상" in korean and "\n" not in english
    assert caught.value.__cause__ is None  # no chained numpy/zipfile traceback behind it


@pytest.mark.parametrize("damage", ["cut in half", "weights one feature short"])
def test_the_cli_says_so_in_one_error_line(
    finsent_home: Path, damage: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINSENT_LOAD_PLUGINS", "finsent_local")
    path, sha = _install(finsent_home, damage, DAMAGES[damage]())
    service = FinsentService()
    service.add_model("local", "damaged", details={"path": str(path), "sha256": sha}, labels=LABELS)
    service.close()
    code = main(["classify", "--backend", "local", "--model", "damaged", "영업이익 증가"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "damaged" in err
    assert "Traceback" not in err
