"""Errors of the transformers backend that a user can cause, each with its English and Korean text."""

from __future__ import annotations

from finsent.contract import BackendUnavailableError, FinsentError, NotFoundError, Text

#: what to install; the CPU build of torch first, or pip resolves the multi-GB CUDA one
INSTALL_COMMAND = 'pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu && pip install "finsent[transformers]"'
INSTALL_SHORT = 'pip install "finsent[transformers]"'


class ModelNotDownloadedError(NotFoundError):
    """A hub id that is not on this computer while the hub cannot be reached."""

    code = "model_not_downloaded"


class ModelFolderError(FinsentError):
    """A model folder finsent will not load: missing files, pickled weights only, changed since recorded."""

    code = "model_file"


def missing_extra(missing: str) -> BackendUnavailableError:
    return BackendUnavailableError(
        Text(
            f"The transformers backend needs {missing}, which is not installed.",
            f"transformers 백엔드에는 {missing} 이(가) 필요하지만 설치되어 있지 않습니다.",
        ),
        hint=Text(
            f"Install the extra: {INSTALL_SHORT} (CPU-only torch first: {INSTALL_COMMAND}).",
            f"추가 패키지를 설치하세요: {INSTALL_SHORT} (CPU 전용 torch 를 먼저: {INSTALL_COMMAND}).",
        ),
    )


def download_hint(model_id: str) -> tuple[str, str]:
    """(English, Korean) instructions to fetch `model_id` on a machine with network and use it here."""
    folder = model_id.rsplit("/", 1)[-1]
    en = (
        f"On a computer with network run `hf download {model_id} --local-dir {folder}` "
        f"(older huggingface_hub: `huggingface-cli download {model_id} --local-dir {folder}`; or in Python "
        f"`AutoModelForSequenceClassification.from_pretrained('{model_id}').save_pretrained('{folder}')` and the "
        f"same with AutoTokenizer), copy the folder {folder!r} to this computer and give its path as the "
        "base model (e.g. `--base-model /path/to/" + folder + "`)."
    )
    ko = (
        f"네트워크가 되는 컴퓨터에서 `hf download {model_id} --local-dir {folder}` 를 실행하고 "
        f"(이전 huggingface_hub: `huggingface-cli download {model_id} --local-dir {folder}`, 또는 Python 에서 "
        f"`AutoModelForSequenceClassification.from_pretrained('{model_id}').save_pretrained('{folder}')` 와 "
        f"AutoTokenizer 도 같은 방법으로), {folder!r} 폴더를 이 컴퓨터로 복사한 뒤 그 경로를 기본 모델로 지정하세요 "
        "(예: `--base-model /path/to/" + folder + "`)."
    )
    return en, ko
