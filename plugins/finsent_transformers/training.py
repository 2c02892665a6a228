"""The fine-tuning loop: plain PyTorch, AdamW with linear warm-up and decay, length-bucketed batches.

No Trainer or accelerate: a sequence classifier needs a dozen lines of loop, and owning them keeps the
worker's start fast, the checkpoints free of pickle and the metric points exactly where the Monitor wants
them (one per optimiser step, validation at the end of every epoch and every `eval_steps`).
Loaded only in the worker process: it imports torch and transformers at the top.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from finsent.contract import MetricPoint, Text
from finsent_transformers.batching import (
    auto_max_length,
    collate,
    encode,
    length_cap,
    sorted_batches,
    training_batches,
)
from finsent_transformers.checkpoints import (
    BEST,
    CHECKPOINT,
    TrainerState,
    load_optimizer,
    read_state,
    save_best,
    save_checkpoint,
)
from finsent_transformers.options import TransformersOptions

#: gradients are clipped to this norm, the usual guard for BERT fine-tuning
MAX_GRAD_NORM = 1.0
SAFE_LOAD: dict[str, Any] = {"local_files_only": True, "trust_remote_code": False, "use_safetensors": True}


class Reporter(Protocol):
    def event(self, message: str | Text, level: str = "info") -> None: ...
    def metric(self, point: MetricPoint) -> None: ...
    def progress(self, fraction: float) -> None: ...


@dataclass(frozen=True)
class Split:
    texts: list[str]
    labels: list[int]  # indices into the label set


@dataclass(frozen=True)
class Scores:
    loss: float
    accuracy: float
    macro_f1: float


@dataclass
class Trained:
    model: Any
    tokenizer: Any
    state: TrainerState
    max_length: int
    device: torch.device
    precision: str


def pick_device(choice: str) -> torch.device:
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device=cuda was asked for but no CUDA GPU is visible to torch")
    if choice == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError("device=mps was asked for but Apple's MPS is not available")
    return torch.device(choice)


def cpu_has_native_bf16() -> bool:
    """Whether the CPU multiplies bf16 in hardware (AVX512-BF16 or AMX), from /proc/cpuinfo's flags."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            flags = next((line for line in handle if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def pick_precision(choice: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype, or None for full precision. auto: bf16 (else fp16) on a CUDA GPU, bf16 on a CPU
    that multiplies bf16 in hardware (about 3x faster there; the weights stay fp32), fp32 elsewhere."""
    if device.type == "cpu":
        if choice == "bf16" or (choice == "auto" and cpu_has_native_bf16()):
            return torch.bfloat16
        return None
    if device.type != "cuda" or choice == "no":
        return None
    if choice == "bf16" or (choice == "auto" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    return torch.float16


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager[Any]:
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warm-up over `warmup` steps, then linear decay to 0 at `total` (step counts from 0)."""
    if step < warmup:
        return (step + 1) / (warmup + 1)
    return max(0.0, (total - step) / max(1, total - warmup))


def macro_f1(truth: Sequence[int], predicted: Sequence[int]) -> float:
    """Mean F1 over the labels that occur in the truth or the predictions."""
    scores = []
    for label in sorted(set(truth) | set(predicted)):
        tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t == p == label)
        fp = sum(1 for t, p in zip(truth, predicted, strict=True) if p == label != t)
        fn = sum(1 for t, p in zip(truth, predicted, strict=True) if t == label != p)
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


def logits_in_order(
    model: Any, ids: Sequence[Sequence[int]], batch_size: int, pad_id: int, device: torch.device, dtype: Any
) -> torch.Tensor:
    """Logits of every sequence (float32, on the CPU), computed in length-sorted batches, in input order."""
    out = torch.empty((len(ids), model.config.num_labels), dtype=torch.float32)
    model.eval()
    with torch.inference_mode():
        for batch in sorted_batches([len(row) for row in ids], batch_size):
            with autocast(device, dtype):
                logits = model(**collate([ids[i] for i in batch], pad_id, device)).logits
            out[torch.tensor(batch)] = logits.float().cpu()
    return out


def evaluate(model: Any, ids: Sequence[Sequence[int]], split: Split, batch_size: int, pad_id: int,
             device: torch.device, dtype: Any) -> Scores:  # fmt: skip
    logits = logits_in_order(model, ids, batch_size, pad_id, device, dtype)
    truth = torch.tensor(split.labels)
    loss = float(torch.nn.functional.cross_entropy(logits, truth))
    predicted = logits.argmax(dim=1).tolist()
    accuracy = sum(1 for t, p in zip(split.labels, predicted, strict=True) if t == p) / max(1, len(predicted))
    return Scores(round(loss, 5), round(accuracy, 5), round(macro_f1(split.labels, predicted), 5))


def class_weights(labels: Sequence[int], n_labels: int) -> torch.Tensor:
    """n / (k * count) per label, as scikit-learn's "balanced"; a label absent from training gets 1."""
    counts = torch.bincount(torch.tensor(labels), minlength=n_labels).float()
    weights = len(labels) / (n_labels * counts.clamp(min=1))
    return torch.where(counts > 0, weights, torch.ones_like(weights))


def _parameter_groups(model: Any, weight_decay: float) -> list[dict[str, Any]]:
    decay: list[Any] = []
    no_decay: list[Any] = []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        (no_decay if parameter.ndim < 2 or "LayerNorm" in name or "layer_norm" in name else decay).append(
            parameter
        )
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def load_classifier(folder: Path, labels: Sequence[str], from_checkpoint: bool) -> Any:
    if from_checkpoint:
        return AutoModelForSequenceClassification.from_pretrained(folder, **SAFE_LOAD)
    return AutoModelForSequenceClassification.from_pretrained(
        folder,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
        # a base model with a head of another size (or none) gets a fresh head for our labels
        ignore_mismatched_sizes=True,
        **SAFE_LOAD,
    )


def _epoch_batches(lengths: Sequence[int], opts: TransformersOptions, epoch: int) -> Iterator[list[int]]:
    yield from training_batches(lengths, opts.batch_size, seed=opts.seed * 1000 + epoch)


def fine_tune(job_dir: Path, base_folder: Path, labels: Sequence[str], train: Split, valid: Split | None,
              opts: TransformersOptions, report: Reporter) -> Trained:  # fmt: skip
    """Train (or continue from the job's last checkpoint); the model of the best epoch, loaded."""
    resumed = read_state(job_dir)
    state, payload = resumed if resumed is not None else (TrainerState(), {})
    device = pick_device(opts.device)
    amp_dtype = pick_precision(opts.mixed_precision, device)
    precision = {None: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}[amp_dtype]
    if opts.cpu_threads:
        torch.set_num_threads(opts.cpu_threads)
    torch.manual_seed(opts.seed)
    tokenizer = AutoTokenizer.from_pretrained(base_folder, local_files_only=True, trust_remote_code=False)
    model = load_classifier(job_dir / CHECKPOINT if resumed else base_folder, labels, resumed is not None)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    if isinstance(opts.max_length, int):
        max_length = opts.max_length
    elif "max_length" in state.extra:
        max_length = int(state.extra["max_length"])
    else:
        cap = length_cap(tokenizer, model.config)
        max_length = auto_max_length([len(row) for row in encode(tokenizer, train.texts, None)], cap)
        report.event(
            Text(
                f"max_length auto: {max_length} tokens (99th percentile of the training texts, cap {cap})",
                f"max_length 자동: {max_length} 토큰(학습 문장 길이의 99번째 백분위수, 상한 {cap})",
            )
        )
    state.extra["max_length"] = max_length
    train_ids = encode(tokenizer, train.texts, max_length)
    valid_ids = encode(tokenizer, valid.texts, max_length) if valid else []
    lengths = [len(row) for row in train_ids]
    model.to(device)

    # The fused kernel updates all parameters in one pass: a third of a CPU step's time otherwise.
    fused = device.type in ("cpu", "cuda")
    optimizer = torch.optim.AdamW(
        _parameter_groups(model, opts.weight_decay), lr=opts.learning_rate, fused=fused
    )
    if resumed is not None:
        load_optimizer(job_dir, optimizer, payload)
    scaler = torch.amp.GradScaler("cuda") if amp_dtype is torch.float16 else None
    if scaler is not None and payload.get("scaler"):
        scaler.load_state_dict(payload["scaler"])
    weights = class_weights(train.labels, len(labels)).to(device) if opts.class_weight == "balanced" else None
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
    steps_per_epoch = math.ceil(len(train_ids) / opts.batch_size)
    total = steps_per_epoch * opts.epochs
    warmup = round(opts.warmup_ratio * total)
    y_all = torch.tensor(train.labels)
    eval_batch = max(opts.batch_size * 2, 32)
    report.event(
        Text(
            f"Training on {device.type} ({precision}): {len(train_ids):,} texts, {steps_per_epoch} steps per "
            f"epoch, {opts.epochs} epochs, max_length {max_length}",
            f"{device.type}({precision})에서 학습: 문장 {len(train_ids):,}개, 에포크당 {steps_per_epoch} 스텝, "
            f"에포크 {opts.epochs}회, max_length {max_length}",
        )
    )

    for epoch in range(state.epoch + 1, opts.epochs + 1):
        if state.stopped_early:
            break
        torch.manual_seed(opts.seed * 1000 + epoch)  # dropout of a resumed epoch repeats the lost one
        model.train()
        batches = list(_epoch_batches(lengths, opts, epoch))
        for position, batch in enumerate(batches, start=1):
            step = state.global_step + 1
            for group in optimizer.param_groups:
                group["lr"] = opts.learning_rate * lr_factor(step - 1, total, warmup)
            inputs = collate([train_ids[i] for i in batch], pad_id, device)
            target = y_all[batch].to(device)
            with autocast(device, amp_dtype):
                logits = model(**inputs).logits
            loss = loss_fn(logits.float(), target)
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
                optimizer.step()
            state.global_step = step
            point: dict[str, Any] = {
                "train_loss": round(float(loss.detach()), 5),
                "train_accuracy": round(float((logits.detach().argmax(dim=1) == target).float().mean()), 5),
            }
            epoch_end = position == len(batches)
            if valid and (epoch_end or (opts.eval_steps and step % opts.eval_steps == 0)):
                scores = evaluate(model, valid_ids, valid, eval_batch, pad_id, device, amp_dtype)
                model.train()
                point.update(valid_loss=scores.loss, valid_accuracy=scores.accuracy)
                report.event(
                    Text(
                        f"Step {step} (epoch {epoch}): valid loss {scores.loss:.4f}, accuracy "
                        f"{scores.accuracy:.4f}, macro-F1 {scores.macro_f1:.4f}",
                        f"스텝 {step}(에포크 {epoch}): 검증 손실 {scores.loss:.4f}, 정확도 {scores.accuracy:.4f}, "
                        f"매크로 F1 {scores.macro_f1:.4f}",
                    )
                )
                if epoch_end:
                    _keep_best(job_dir, model, state, scores, epoch, opts, report)
            report.metric(
                MetricPoint(step=step, epoch=round(epoch - 1 + position / len(batches), 4), **point)
            )
            report.progress(step / total)
            if opts.step_delay_seconds:
                time.sleep(opts.step_delay_seconds)
        if not valid:
            save_best(job_dir, model)  # nothing to choose by: the last epoch is the model
            state.best_epoch, state.best_step = epoch, state.global_step
        state.epoch = epoch
        save_checkpoint(job_dir, model, optimizer, state, scaler.state_dict() if scaler is not None else None)
        report.event(
            Text(
                f"Epoch {epoch}/{opts.epochs} done at step {state.global_step}; checkpoint saved",
                f"에포크 {epoch}/{opts.epochs} 완료(스텝 {state.global_step}), 체크포인트를 저장했습니다",
            )
        )

    best = AutoModelForSequenceClassification.from_pretrained(job_dir / BEST, **SAFE_LOAD)
    best.to(device)
    return Trained(best, tokenizer, state, max_length, device, precision)


def _keep_best(job_dir: Path, model: Any, state: TrainerState, scores: Scores, epoch: int,
               opts: TransformersOptions, report: Reporter) -> None:  # fmt: skip
    """Save the epoch's weights when its validation macro-F1 is the best yet; count epochs without one."""
    if state.best_macro_f1 is None or scores.macro_f1 > state.best_macro_f1:
        save_best(job_dir, model)
        state.best_macro_f1, state.best_valid_accuracy = scores.macro_f1, scores.accuracy
        state.best_epoch, state.best_step = epoch, state.global_step
        state.epochs_without_improvement = 0
        report.event(
            Text(
                f"Epoch {epoch}: best validation macro-F1 so far ({scores.macro_f1:.4f}); weights kept",
                f"에포크 {epoch}: 지금까지 가장 좋은 검증 매크로 F1({scores.macro_f1:.4f}), 가중치를 보관했습니다",
            )
        )
        return
    state.epochs_without_improvement += 1
    patience = opts.early_stopping_patience
    if patience is not None and state.epochs_without_improvement >= patience and epoch < opts.epochs:
        state.stopped_early = True
        report.event(
            Text(
                f"Early stopping: no better validation macro-F1 for {patience} epoch(s); "
                f"the model is epoch {state.best_epoch}'s (macro-F1 {state.best_macro_f1:.4f})",
                f"조기 종료: {patience} 에포크 동안 검증 매크로 F1이 나아지지 않았습니다. 모델은 에포크 "
                f"{state.best_epoch}의 것입니다(매크로 F1 {state.best_macro_f1:.4f})",
            ),
            "warning",
        )
