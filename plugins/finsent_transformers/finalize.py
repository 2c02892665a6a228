"""The end of a job: decide on int8 inference, write the model folder, record its digest.

FINSENT_HOME/models/<model id>/
    model.safetensors, config.json        the best epoch's weights, our labels as id2label
    tokenizer.json, tokenizer_config.json the base model's tokenizer
    finsent.json                          labels, max_length, input format, base model, int8 decision, scores
    model.int8.onnx                       ONNX Runtime's int8 model, when it passed the int8 check
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from finsent.contract import Text
from finsent.support import atomic_directory
from finsent_transformers import onnx_int8
from finsent_transformers.inference import quantize
from finsent_transformers.model_folder import FINSENT_FILE, FORMAT, folder_digest
from finsent_transformers.options import TransformersOptions
from finsent_transformers.training import Reporter, Split, Trained, evaluate

#: int8 inference is used only when it costs at most this much validation accuracy
INT8_TOLERANCE = 0.005


def int8_check(trained: Trained, valid: Split | None, opts: TransformersOptions, report: Reporter,
               folder: Path) -> dict[str, Any]:  # fmt: skip
    """Measure the validation accuracy of the model quantised to int8 against fp32, on the CPU.

    With onnxruntime and onnx installed the candidate is ONNX Runtime's int8 model, written into `folder`
    (the model folder being made) and removed again if it loses too much; otherwise torch's dynamic int8.
    """
    if not opts.int8_inference:
        return {"validated": False, "reason": "disabled by the int8_inference option"}
    if valid is None:
        return {"validated": False, "reason": "no validation split to check it on"}
    import copy

    import torch

    from finsent_transformers.batching import encode

    ids = encode(trained.tokenizer, valid.texts, trained.max_length)
    pad_id = trained.tokenizer.pad_token_id if trained.tokenizer.pad_token_id is not None else 0
    model_cpu = copy.deepcopy(trained.model).to("cpu").float()
    cpu = torch.device("cpu")
    fp32 = evaluate(model_cpu, ids, valid, 32, pad_id, cpu, None)
    engine, candidate = _int8_candidate(model_cpu, folder, report)
    int8 = evaluate(candidate, ids, valid, 16, pad_id, cpu, None)
    validated = fp32.accuracy - int8.accuracy <= INT8_TOLERANCE
    if not validated:
        (folder / onnx_int8.ONNX_FILE).unlink(missing_ok=True)
    report.event(
        Text(
            f"int8 check ({engine}) on the validation split: accuracy {fp32.accuracy:.4f} (fp32) vs "
            f"{int8.accuracy:.4f} (int8): "
            + ("int8 is used for CPU classification" if validated else "int8 loses too much; fp32 is kept"),
            f"검증 데이터로 int8 확인({engine}): 정확도 {fp32.accuracy:.4f}(fp32) 대 {int8.accuracy:.4f}(int8): "
            + ("CPU 분류에 int8을 씁니다" if validated else "int8의 손실이 커서 fp32를 씁니다"),
        )
    )
    return {
        "validated": validated,
        "engine": engine,
        "fp32_accuracy": fp32.accuracy,
        "int8_accuracy": int8.accuracy,
    }


def _int8_candidate(model_cpu: Any, folder: Path, report: Reporter) -> tuple[str, Any]:
    """ONNX Runtime's int8 model where it can be made, else torch's dynamic int8 of the same weights."""
    if onnx_int8.export_available():
        try:
            onnx_int8.export_int8(model_cpu, folder / onnx_int8.ONNX_FILE)
            return onnx_int8.ENGINE, onnx_int8.OnnxSequenceClassifier(
                folder / onnx_int8.ONNX_FILE, model_cpu.config
            )
        except Exception as error:  # an architecture the exporter cannot trace: torch's int8 still can
            (folder / onnx_int8.ONNX_FILE).unlink(missing_ok=True)
            report.event(
                Text(
                    f"ONNX export failed ({type(error).__name__}); checking torch's int8 instead",
                    f"ONNX 내보내기 실패({type(error).__name__}): torch int8 을 대신 확인합니다",
                )
            )
    return "torch", quantize(model_cpu)  # a quantised copy: model_cpu stays fp32


def save_model(job: dict[str, Any], trained: Trained, valid: Split | None, opts: TransformersOptions,
               report: Reporter) -> dict[str, Any]:  # fmt: skip
    """Write the model folder atomically; what the job's status records about it."""
    state = trained.state
    best = {
        "epoch": state.best_epoch,
        "step": state.best_step,
        "valid_macro_f1": state.best_macro_f1,
        "valid_accuracy": state.best_valid_accuracy,
        "stopped_early": state.stopped_early,
    }
    meta = {
        "format": FORMAT,
        "labels": list(job["labels"]),
        "max_length": trained.max_length,
        "input_format": job.get("input_format", {}),
        "base_model": job["base_model"],
        "job_id": job["id"],
        "best": best,
    }
    target = Path(job["models_dir"]) / job["model_id"]
    with atomic_directory(target, replace_if_contains=FINSENT_FILE) as work:
        trained.model.save_pretrained(work, safe_serialization=True)
        trained.tokenizer.save_pretrained(work)
        # inside the folder being made: an ONNX int8 file is part of the model and of its digest
        meta["int8"] = int8 = int8_check(trained, valid, opts, report, work)
        (work / FINSENT_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    return {
        "path": str(target),
        "sha256": folder_digest(target),
        "size_mb": size / 1e6,
        "best": best,
        "max_length": trained.max_length,
        "device": trained.device.type,
        "precision": trained.precision,
        "int8": int8,
        "epochs_trained": state.epoch,
    }
