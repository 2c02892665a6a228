"""Ready models: a classifier that already knows finance sentiment (e.g. snunlp/KR-FinBert-SC), used as-is.

It is recorded, not trained: a ModelRef whose details say where it is, which digest it had and how its
label names map onto ours. ModelRef.details keys:
    path        hub id or absolute folder path, as `from_pretrained` takes it
    sha256      digest of the model folder's files (see model_folder.folder_digest)
    label_map   {model label name: our label name}, covering every label of the model
    model_labels the model's label names in logit order (config.id2label)
    revision    the hub commit of the cached snapshot (hub ids only)
    int8        whether CPU classification uses torch dynamic int8 quantisation (default False: unchecked)
    source      "ready"
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from finsent.contract import InputError, InputFormat, LabelSet, ModelRef, Text
from finsent_transformers import sources
from finsent_transformers.model_folder import folder_digest


def parse_label_map(text: str) -> dict[str, str]:
    """ "LABEL_0=negative,LABEL_1=neutral" (or ":" instead of "=") -> {"LABEL_0": "negative", ...}."""
    mapping: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        sep = "=" if "=" in part else ":"
        model_label, _, ours = part.partition(sep)
        if not model_label.strip() or not ours.strip():
            raise InputError(
                Text(
                    f"Cannot read {part!r} in the label map: write model_label=our_label, separated by commas.",
                    f"라벨 매핑의 {part!r} 을(를) 읽을 수 없습니다: model_label=our_label 형식으로 쉼표로 구분해 쓰세요.",
                )
            )
        mapping[model_label.strip()] = ours.strip()
    return mapping


def model_label_names(folder: Path) -> list[str]:
    """config.id2label in logit order."""
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    id2label = {int(k): str(v) for k, v in (config.get("id2label") or {}).items()}
    n = int(config.get("num_labels") or len(id2label) or 0)
    return [id2label.get(i, f"LABEL_{i}") for i in range(n)]


def resolve_label_map(
    model_labels: Sequence[str], labels: LabelSet, given: Mapping[str, str] | None
) -> dict[str, str]:
    """The label map, checked: every model label maps to one of ours. Without one, names must match."""
    ours = list(labels.names)
    example = ",".join(f"{m}={o}" for m, o in zip(model_labels, ours, strict=False))
    if given is None:
        by_name = {name.casefold(): name for name in ours}
        mapping = {m: by_name[m.casefold()] for m in model_labels if m.casefold() in by_name}
    else:
        mapping = {str(k): str(v) for k, v in given.items()}
    unknown_keys = sorted(set(mapping) - set(model_labels))
    missing = [m for m in model_labels if m not in mapping]
    bad_values = sorted(set(mapping.values()) - set(ours))
    if unknown_keys or missing or bad_values:
        problem = "; ".join(
            text
            for text in (
                f"the model has no label(s) {unknown_keys}" if unknown_keys else "",
                f"model label(s) {missing} are not mapped" if missing else "",
                f"{bad_values} are not in the label set {ours}" if bad_values else "",
            )
            if text
        )
        raise InputError(
            Text(
                f"The label map does not fit the model (its labels: {list(model_labels)}): {problem}.",
                f"라벨 매핑이 모델과 맞지 않습니다 (모델 라벨: {list(model_labels)}): {problem}.",
            ),
            hint=Text(
                f"Give one for every model label, e.g. --label-map {example}",
                f"모델의 모든 라벨에 대해 지정하세요. 예: --label-map {example}",
            ),
            dashboard_hint=Text(
                f"Give one for every model label in the label map field, e.g. {example}",
                f"라벨 매핑 칸에 모델의 모든 라벨을 지정하세요. 예: {example}",
            ),
        )
    return mapping


def ready_model_ref(
    source: str,
    labels: LabelSet | Sequence[str] | None = None,
    label_map: Mapping[str, str] | None = None,
    model_id: str | None = None,
    int8: bool = False,
) -> ModelRef:
    """A ModelRef to classify with the ready model `source` (hub id or folder) without training."""
    located = sources.locate(source)
    folder = sources.folder_of(located)
    label_set = (
        labels if isinstance(labels, LabelSet) else LabelSet.from_names(labels) if labels else LabelSet()
    )
    model_labels = model_label_names(folder)
    mapping = resolve_label_map(model_labels, label_set, label_map)
    is_folder = Path(source).expanduser().is_dir()
    details: dict[str, Any] = {
        "path": str(folder) if is_folder else source,
        "sha256": folder_digest(folder),
        "label_map": mapping,
        "model_labels": model_labels,
        "int8": bool(int8),
        "source": "ready",
    }
    if not is_folder:
        details["revision"] = folder.name
    name = model_id or (folder.name if is_folder else source.replace("/", "--"))
    return ModelRef(id=name, labels=label_set, input_format=InputFormat(), details=details)
