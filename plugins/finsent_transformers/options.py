"""The transformers backend's training options: the dashboard form and the CLI flags are built from them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from finsent.contract import BackendOptions

DEFAULT_BASE_MODEL = "klue/bert-base"


class TransformersOptions(BackendOptions):
    """Fine-tuning options of the transformers backend."""

    base_model: str = Field(
        DEFAULT_BASE_MODEL,
        description="Hugging Face hub id or local folder of an encoder (BERT, RoBERTa, ELECTRA, E5...).",
    )
    epochs: int = Field(
        3, ge=1, le=50, description="Passes over the training split (early stopping may end sooner)."
    )
    learning_rate: float = Field(
        3e-5,
        gt=0.0,
        le=1e-2,
        description="Peak learning rate of AdamW (2e-5 to 5e-5 suits BERT-base models).",
    )
    batch_size: int = Field(16, ge=1, le=256, description="Training texts per optimiser step.")
    max_length: Literal["auto"] | Annotated[int, Field(ge=8, le=512)] = Field(
        "auto",
        description="Longest input in tokens; longer texts are cut. auto: the 99th percentile of the training texts' lengths, at most 512.",
    )
    warmup_ratio: float = Field(
        0.1,
        ge=0.0,
        le=0.5,
        description="Share of the steps over which the learning rate rises from 0 to its peak.",
    )
    weight_decay: float = Field(
        0.01, ge=0.0, le=0.5, description="AdamW weight decay (not applied to biases and LayerNorm weights)."
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(
        "auto", description="Where to train: auto picks a CUDA GPU, then Apple's MPS, then the CPU."
    )
    mixed_precision: Literal["auto", "fp16", "bf16", "no"] = Field(
        "auto",
        description="Mixed-precision training: auto is bf16 (or fp16) on a CUDA GPU, bf16 on a CPU with AVX512-BF16 or AMX (about 3x faster), full precision elsewhere; no = always fp32.",
    )
    early_stopping_patience: int | None = Field(
        2,
        ge=1,
        le=20,
        description="Stop after this many epochs without a better validation macro-F1 (empty: never stop early).",
    )
    class_weight: Literal["balanced", "none"] = Field(
        "balanced",
        description="Weigh rare labels up in the loss so each label counts equally, or not at all.",
    )
    eval_steps: int | None = Field(
        None,
        ge=1,
        le=100_000,
        description="Also measure the validation split every N steps (empty: at the end of each epoch only).",
    )
    int8_inference: bool = Field(
        True,
        description="Classify on the CPU in int8 (ONNX Runtime, else torch) when it keeps validation accuracy within 0.5 point (checked when the job ends).",
    )
    cpu_threads: int | None = Field(
        None,
        ge=1,
        le=256,
        description="CPU threads for training (empty: torch's default, one per core); fewer leaves room for the dashboard.",
    )
    step_delay_seconds: float = Field(
        0.0, ge=0.0, le=60.0, description="Pause after each step, to watch (or test) a slow job."
    )
