"""Epoch checkpoints without pickle: everything needed to continue a job after its worker died.

<job>/checkpoint/ (replaced atomically at the end of every epoch, so a kill mid-write keeps the last one)
    model.safetensors, config.json   the weights after that epoch (save_pretrained)
    optimizer.safetensors            AdamW's moment tensors, keyed "<param index>.<name>"
    trainer_state.json               epoch, global step, best score, patience, optimizer param groups,
                                     loss-scaler state and non-tensor optimizer values
<job>/best/                          the weights of the best epoch so far (by validation macro-F1)

The learning rate is a pure function of the global step and each epoch's data order and dropout seed
are functions of (seed, epoch), so no scheduler object or RNG state needs saving.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from finsent.support import atomic_directory
from finsent_transformers.jobfiles import BEST, CHECKPOINT, STATE

OPTIMIZER = "optimizer.safetensors"


@dataclass
class TrainerState:
    """Where training stands after an epoch; JSON-only."""

    epoch: int = 0  # epochs completed
    global_step: int = 0
    best_macro_f1: float | None = None
    best_epoch: int | None = None
    best_step: int | None = None
    best_valid_accuracy: float | None = None
    epochs_without_improvement: int = 0
    stopped_early: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _optimizer_parts(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for index, values in state["state"].items():
        for name, value in values.items():
            if torch.is_tensor(value):
                tensors[f"{index}.{name}"] = value.detach().to("cpu").contiguous()
            else:
                scalars[f"{index}.{name}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def save_checkpoint(
    job_dir: Path,
    model: Any,
    optimizer: torch.optim.Optimizer,
    state: TrainerState,
    scaler_state: dict[str, Any] | None,
) -> Path:
    tensors, meta = _optimizer_parts(optimizer)
    with atomic_directory(job_dir / CHECKPOINT, replace_if_contains=STATE) as work:
        model.save_pretrained(work, safe_serialization=True)
        save_file(tensors, str(work / OPTIMIZER))
        payload = {"state": asdict(state), "optimizer": meta, "scaler": scaler_state}
        (work / STATE).write_text(json.dumps(payload, indent=1), encoding="utf-8")
    return job_dir / CHECKPOINT


def read_state(job_dir: Path) -> tuple[TrainerState, dict[str, Any]] | None:
    """The last checkpoint's state and its raw JSON, or None when no epoch was completed."""
    path = job_dir / CHECKPOINT / STATE
    if not path.is_file():
        return None
    payload = json.loads(path.read_text(encoding="utf-8"))
    return TrainerState(**payload["state"]), payload


def load_optimizer(job_dir: Path, optimizer: torch.optim.Optimizer, payload: dict[str, Any]) -> None:
    """Restore AdamW's moments and hyper-parameters from the checkpoint (tensors via safetensors only)."""
    tensors = load_file(str(job_dir / CHECKPOINT / OPTIMIZER))
    meta = payload["optimizer"]
    state: dict[int, dict[str, Any]] = {}
    for key, tensor in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = tensor
    for key, value in meta["scalars"].items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    groups = [
        {**group, "betas": tuple(group["betas"])} if "betas" in group else group
        for group in meta["param_groups"]
    ]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def save_best(job_dir: Path, model: Any) -> None:
    with atomic_directory(job_dir / BEST, replace_if_contains="config.json") as work:
        model.save_pretrained(work, safe_serialization=True)
