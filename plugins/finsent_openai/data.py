"""Stage 1 for OpenAI: pick the training files the base model needs, upload them, wait until processed.

The list of base models is data (openai_models.json, read through finsent_openai.costs); this module
only knows how to read it and how fine-tuned ids name their base model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from finsent.contract import Text

if TYPE_CHECKING:
    import openai

import hashlib
import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from finsent.contract import COMPLETION_SEPARATOR, BaseModelInfo, PreparedDataset, TrainingData, errors
from finsent.support import atomic_write_text
from finsent_openai.costs import openai_base_models

from .client import ClientConfig, expect_object, openai_errors

COMPLETION = "completion"
CHAT = "chat"
# Only these families answer through /v1/completions; everything else OpenAI fine-tunes is a chat model.
_COMPLETION_FAMILIES = ("babbage-002", "davinci-002")


def base_models() -> list[BaseModelInfo]:
    """The OpenAI base models finsent offers, from the price list (finsent/data/openai_models.json)."""
    return [
        BaseModelInfo(
            id=str(model["id"]),
            label=str(model.get("label") or model["id"]),
            kind=str(model.get("kind") or model_kind(model["id"], [])),
            can_train=bool(model.get("trainable", True)),
            description=str(model.get("note") or ""),
        )
        for model in openai_base_models()
    ]


def base_of(model_id: str) -> str:
    """The base model of a fine-tuned id: 'ft:gpt-4o-mini-2024-07-18:org:suffix:abc' -> 'gpt-4o-mini-2024-07-18'."""
    if model_id.startswith("ft:"):
        parts = model_id.split(":")
        return parts[1] if len(parts) > 1 else model_id
    return model_id


def model_kind(model_id: str, known: Iterable[BaseModelInfo] | None = None) -> str:
    """ "completion" or "chat" for a base or fine-tuned model id."""
    base = base_of(model_id)
    for info in base_models() if known is None else known:
        if info.id == base and info.kind in (COMPLETION, CHAT):
            return info.kind
    return COMPLETION if base.startswith(_COMPLETION_FAMILIES) else CHAT


def system_prompt_of(chat_file: Path) -> str | None:
    """The system message the chat training file uses; classification must send the same one."""
    with chat_file.open(encoding="utf-8") as handle:
        first = handle.readline()
    if not first.strip():
        return None
    messages = json.loads(first).get("messages", [])
    if messages and messages[0].get("role") == "system":
        return str(messages[0].get("content", ""))
    return None


def training_files(dataset: PreparedDataset, kind: str) -> tuple[Path, Path | None]:
    """The prepared JSONL files for `kind`; a clear error if `finsent prepare` did not write them."""
    train = dataset.path("train", kind)
    valid = dataset.path("valid", kind)
    if not train.is_file():
        raise errors.InputError(
            Text(
                f"The prepared dataset has no {kind} training file ({train.name}).",
                f"준비된 데이터에 {kind} 형식 학습 파일({train.name})이 없습니다.",
            ),
            hint=Text(
                f"Prepare the data again with the '{kind}' format included (it is on by default).",
                f"'{kind}' 형식을 포함해 데이터를 다시 준비하세요(기본값으로 켜져 있음).",
            ),
        )
    has_valid = valid.is_file() and valid.stat().st_size > 0
    return train, valid if has_valid else None


class AccountLedger:
    """A small JSON file of what was already sent to an account (content digest -> OpenAI id), so a retry
    after a crash or restart reuses the upload or batch instead of paying twice."""

    def __init__(self, path: Path, config: ClientConfig) -> None:
        self.path = path
        self.config = config

    def _key(self, digest: str) -> str:
        # Only the last four characters of the key: enough to tell accounts apart, useless to anyone else.
        return f"{self.config.base_url or 'openai'}|{self.config.key_hint}|{digest}"

    def _entries(self) -> dict[str, str]:
        try:
            return dict(json.loads(self.path.read_text(encoding="utf-8")))
        except (FileNotFoundError, ValueError):
            return {}

    def get(self, digest: str) -> str | None:
        return self._entries().get(self._key(digest))

    def remember(self, digest: str, object_id: str) -> None:
        entries = self._entries() | {self._key(digest): object_id}
        atomic_write_text(self.path, json.dumps(entries, indent=1, sort_keys=True))

    def forget(self, object_id: str) -> None:
        """Drop every entry of `object_id` (e.g. a cancelled batch: the same content gets a new one)."""
        entries = self._entries()
        kept = {key: value for key, value in entries.items() if value != object_id}
        if kept != entries:
            atomic_write_text(self.path, json.dumps(kept, indent=1, sort_keys=True))


class Uploader:
    """Uploads fine-tuning files once per account (remembered by sha256) and waits until processed."""

    def __init__(self, client: openai.OpenAI, config: ClientConfig, workdir: Path, poll_max: float = 5.0):
        self.client = client
        self.config = config
        self.ledger = AccountLedger(workdir / "uploads.json", config)
        self.poll_max = poll_max

    def upload(self, path: Path, timeout: float = 1800.0) -> str:
        import openai

        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        known = self.ledger.get(digest)
        with openai_errors(self.config, "upload"):
            if known:
                try:
                    if self.client.files.retrieve(known).status != "error":
                        return self.wait_processed(known, path.name, timeout)
                except openai.NotFoundError:
                    pass  # deleted on the account since: upload again
            created = self.client.files.create(
                file=(path.name, data, "application/jsonl"), purpose="fine-tune"
            )
            created = expect_object(created, "file", self.config, "upload", status=False)
        self.ledger.remember(digest, created.id)
        return self.wait_processed(created.id, path.name, timeout)

    def wait_processed(self, file_id: str, name: str, timeout: float) -> str:
        delay, deadline = 0.05, time.monotonic() + timeout
        while True:
            with openai_errors(self.config, "upload"):
                info = expect_object(
                    self.client.files.retrieve(file_id), "file", self.config, "upload", status=False
                )
            if info.status == "processed":
                return file_id
            if info.status == "error":
                detail = self.config.scrub(str(getattr(info, "status_details", "") or ""))
                raise errors.DataError(
                    Text(
                        f"OpenAI could not process {name}: {detail or 'no details given'}",
                        f"OpenAI가 {name} 파일을 처리하지 못했습니다: {detail}",
                    ),
                    hint=Text(
                        "Check the prepared file (one JSON object per line in the format of the base model).",
                        "준비된 파일(기본 모델 형식의 JSON 한 줄씩)을 확인하세요.",
                    ),
                )
            if time.monotonic() > deadline:
                raise errors.NetworkError(
                    Text(
                        f"OpenAI has not finished processing {name} after {timeout:.0f} s.",
                        f"OpenAI가 {timeout:.0f}초가 지나도 {name} 처리를 끝내지 못했습니다.",
                    ),
                    hint=Text(
                        "Try again later; the upload is remembered and will not be sent twice.",
                        "나중에 다시 시도하세요. 업로드는 기록되어 두 번 보내지 않습니다.",
                    ),
                )
            time.sleep(delay)
            delay = min(delay * 2, self.poll_max)


def prepare_for_openai(
    dataset: PreparedDataset, base_model: str, uploader: Uploader, known: list[BaseModelInfo]
) -> TrainingData:
    """Pick the files for the base model's kind, upload them, and say which input format it trains on."""
    kind = model_kind(base_model, known)
    train, valid = training_files(dataset, kind)
    files = {"train": train} | ({"valid": valid} if valid else {})
    details: dict[str, Any] = {"kind": kind, "base_model": base_model}
    details["training_file"] = uploader.upload(train)
    if valid:
        details["validation_file"] = uploader.upload(valid)
    if kind == CHAT:
        prompt = system_prompt_of(train)
        if prompt is not None:
            details["system_prompt"] = prompt
    separator = COMPLETION_SEPARATOR if kind == COMPLETION else ""
    return TrainingData(
        dataset=dataset,
        files=files,
        details=details,
        input_format=dataset.input_format.with_separator(separator),
    )
