"""A model on disk: a save_pretrained folder (safetensors weights, config, tokenizer) plus finsent.json.

finsent records one sha256 per model folder: the digest of every file's name and content (hidden files
and folders, such as the `.cache` that `hf download --local-dir` leaves, are not part of the model). A
folder is loaded only when its digest is the recorded one, so weights someone swapped are refused before
they are used. This module imports neither torch nor transformers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from finsent.contract import Text
from finsent_transformers.errors import ModelFolderError

FINSENT_FILE = "finsent.json"
FORMAT = "finsent-transformers/1"


def model_files(folder: Path) -> Iterator[Path]:
    """The folder's files in a stable order, hidden ones left out."""
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file():  # follows the symlinks of the Hugging Face cache to their blobs
            yield path


def folder_digest(folder: Path) -> str:
    """sha256 over (relative name, sha256 of the content) of every model file."""
    digest = hashlib.sha256(FORMAT.encode())
    for path in model_files(folder):
        content = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                content.update(block)
        digest.update(f"{path.relative_to(folder).as_posix()}\0{content.hexdigest()}\n".encode())
    return digest.hexdigest()


def folder_signature(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and mtimes: enough to know a folder verified earlier in this process is unchanged."""
    return tuple(
        (p.relative_to(folder).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
        for p in model_files(folder)
    )


def read_meta(folder: Path) -> dict[str, Any]:
    """finsent.json of a model finsent trained; {} for a folder from elsewhere (a ready model)."""
    try:
        meta = json.loads((folder / FINSENT_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ModelFolderError(
            Text(
                f"{folder / FINSENT_FILE} cannot be read: {exc}",
                f"{folder / FINSENT_FILE} 을(를) 읽을 수 없습니다: {exc}",
            )
        ) from exc
    if meta.get("format") != FORMAT:
        raise ModelFolderError(
            Text(
                f"{folder} holds a model of an unknown format {meta.get('format')!r}.",
                f"{folder} 의 모델 형식({meta.get('format')!r})을 알 수 없습니다.",
            ),
            hint=Text(
                "Train it again with this version of finsent.", "이 버전의 finsent 로 다시 학습하세요."
            ),
        )
    return dict(meta)


def verify(folder: Path, sha256: str | None) -> None:
    """Raise unless the folder's digest is `sha256`."""
    if not sha256:
        raise ModelFolderError(
            Text(
                f"No checksum is recorded for the model folder {folder}; finsent loads only folders whose digest it recorded.",
                f"모델 폴더 {folder} 의 체크섬 기록이 없습니다. finsent 는 다이제스트를 기록한 폴더만 불러옵니다.",
            ),
            hint=Text(
                "Train the model again, or add the ready model again so its digest is recorded.",
                "모델을 다시 학습하거나, 준비된 모델을 다시 추가해 다이제스트를 기록하세요.",
            ),
        )
    if folder_digest(folder) != sha256:
        raise ModelFolderError(
            Text(
                f"The model folder {folder} has changed since it was recorded (checksum mismatch); it will not be loaded.",
                f"모델 폴더 {folder} 이(가) 기록 이후 변경되었습니다 (체크섬 불일치). 불러오지 않습니다.",
            ),
            hint=Text(
                "Train the model again, or add the ready model again if you changed it on purpose.",
                "모델을 다시 학습하거나, 의도적으로 바꾼 경우 준비된 모델을 다시 추가하세요.",
            ),
        )
