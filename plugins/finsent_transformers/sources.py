"""Where a model's files come from: a local folder, the Hugging Face cache, or (when reachable) the hub.

A hub id is looked up in the local cache first (`local_files_only`), so a model downloaded once never
needs the network again. Only when it is missing is the hub probed, with a short connect timeout run in a
thread (name resolution has no timeout of its own): without network the user gets a clear error with the
download instructions in a few seconds instead of a hang. Downloads take only safetensors weights, config
and tokenizer files: never a pickled `pytorch_model.bin`.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from finsent.contract import NetworkError, NotFoundError, Text
from finsent_transformers.errors import ModelFolderError, ModelNotDownloadedError, download_hint

#: files a model needs: weights as safetensors (never pickles), config, tokenizer and vocabulary
ALLOWED_FILES = ["*.safetensors", "*.safetensors.index.json", "*.json", "*.txt", "*.model", "tokenizer*"]
HUB_PROBE_SECONDS = 3.0
_TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class ModelSource:
    """A model as the user named it, and its folder on this computer (None: still to download)."""

    name: str
    folder: Path | None

    @property
    def hub_id(self) -> str | None:
        return None if self.folder is not None else self.name


def is_path_like(name: str) -> bool:
    """A name that can only be a folder: absolute, relative with ./ or ../, home, or more than one slash."""
    return name.startswith(("/", ".", "~")) or name.count("/") > 1 or "\\" in name


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def hub_reachable(timeout: float = HUB_PROBE_SECONDS) -> bool:
    """Whether a TCP connection to the hub endpoint (HF_ENDPOINT) opens within `timeout` seconds."""
    if hub_offline():
        return False
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, name="finsent-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)  # a DNS lookup stuck past this counts as unreachable
    return bool(result and result[0])


def check_folder(folder: Path) -> Path:
    """`folder` if it holds a config and safetensors weights; a clear error otherwise."""
    if not (folder / "config.json").is_file():
        raise ModelFolderError(
            Text(
                f"{folder} is not a model folder: it has no config.json.",
                f"{folder} 은(는) 모델 폴더가 아닙니다: config.json 이 없습니다.",
            ),
            hint=Text(
                "Give a folder written by save_pretrained or `hf download` (config.json, model.safetensors, tokenizer files).",
                "save_pretrained 또는 `hf download` 로 만든 폴더를 지정하세요 (config.json, model.safetensors, 토크나이저 파일).",
            ),
        )
    if not any(folder.glob("*.safetensors")):
        pickled = any(folder.glob("*.bin")) or any(folder.glob("*.pt"))
        extra = " (it has only pickled .bin weights, which finsent never loads)" if pickled else ""
        extra_ko = (
            " (pickle 형식의 .bin 가중치만 있으며 finsent 는 이를 불러오지 않습니다)" if pickled else ""
        )
        raise ModelFolderError(
            Text(
                f"{folder} has no safetensors weights{extra}.",
                f"{folder} 에 safetensors 가중치가 없습니다{extra_ko}.",
            ),
            hint=Text(
                "On a trusted computer load the model and save it again with `save_pretrained(folder)` (safetensors is the default).",
                "신뢰할 수 있는 컴퓨터에서 모델을 불러와 `save_pretrained(folder)` 로 다시 저장하세요 (기본 형식이 safetensors 입니다).",
            ),
        )
    return folder


def cached_snapshot(hub_id: str) -> Path | None:
    """The hub id's folder in the local Hugging Face cache, without any network access."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(hub_id, local_files_only=True, allow_patterns=ALLOWED_FILES))
    except Exception:  # not cached, partly cached or an invalid id: all mean "not here"
        return None


def locate(name: str, *, allow_download: bool = True) -> ModelSource:
    """Find `name` (a folder or a hub id) on this computer; a hub id missing here is kept for download only
    when the hub answers now. Raises a FinsentError that says what to do otherwise; never hangs."""
    name = name.strip()
    path = Path(name).expanduser()
    if path.is_dir():
        return ModelSource(name, check_folder(path.resolve()))
    if is_path_like(name) or path.exists():
        raise NotFoundError(
            Text(f"The model folder {name} does not exist.", f"모델 폴더 {name} 이(가) 없습니다."),
            hint=Text(
                "Check the path; it must be a folder with config.json and model.safetensors.",
                "경로를 확인하세요. config.json 과 model.safetensors 가 있는 폴더여야 합니다.",
            ),
        )
    cached = cached_snapshot(name)
    if cached is not None:
        return ModelSource(name, check_folder(cached))
    hint, hint_ko = download_hint(name)
    if not allow_download or not hub_reachable():
        why = "HF_HUB_OFFLINE is set" if hub_offline() else "the Hugging Face hub cannot be reached"
        why_ko = (
            "HF_HUB_OFFLINE 이 설정되어 있습니다"
            if hub_offline()
            else "Hugging Face 허브에 연결할 수 없습니다"
        )
        raise ModelNotDownloadedError(
            Text(
                f"The model {name!r} is not on this computer and {why}.",
                f"{name!r} 모델이 이 컴퓨터에 없고 {why_ko}.",
            ),
            hint=Text(hint, hint_ko),
        )
    return ModelSource(name, None)


def download(hub_id: str) -> Path:
    """Download the model's safe files into the Hugging Face cache; its folder there."""
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(hub_id, allow_patterns=ALLOWED_FILES, etag_timeout=10))
    except Exception as exc:  # network, unknown repo, gated model: the user's to fix, said plainly
        hint, hint_ko = download_hint(hub_id)
        raise NetworkError(
            Text(
                f"Could not download {hub_id!r} from the Hugging Face hub: {type(exc).__name__}: {exc}",
                f"Hugging Face 허브에서 {hub_id!r} 를 내려받지 못했습니다: {type(exc).__name__}",
            ),
            hint=Text(hint, hint_ko),
        ) from exc
    return check_folder(folder)


def folder_of(source: ModelSource) -> Path:
    """The source's folder, downloading it first when it is a hub id not cached yet."""
    if source.folder is not None:
        return source.folder
    cached = cached_snapshot(source.name)
    return check_folder(cached) if cached is not None else download(source.name)
