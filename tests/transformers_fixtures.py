"""A tiny BERT built here (no download) for the transformers backend's tests and its contract-suite entry.

`tiny_bert(folder)` trains a WordPiece tokenizer with `tokenizers` on the bundled Korean sample, builds a
2-layer BERT (hidden 32) with random weights and saves both with save_pretrained (safetensors): a model
folder exactly like one from `hf download`, a few hundred KB, fine-tuned in seconds on a CPU.
"""

from __future__ import annotations

import csv
import importlib.resources
import importlib.util
from pathlib import Path
from typing import Any

from finsent.contract.backend import BackendContext
from finsent.settings import Settings

TINY_VOCAB = 2000
#: options for a short job that succeeds; the base model is filled in by the caller
FAST_OPTIONS: dict[str, Any] = {
    "epochs": 2,
    "batch_size": 16,
    "learning_rate": 2e-3,
    "max_length": "auto",
    "early_stopping_patience": None,
    # int8 quantises activations per batch: a near-tie of the random tiny model could flip between a
    # batch and a single text, which the contract suite compares (tested on its own instead)
    "int8_inference": False,
    # one thread: two threads of a tiny model on 2 busy cores spend most of their time waiting
    "cpu_threads": 1,
}


def torch_available() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("torch", "transformers", "tokenizers"))


def sample_texts() -> list[str]:
    """The texts of the bundled sample (finsent/data/sample_ko.csv), to train the tokenizer on."""
    sample = importlib.resources.files("finsent") / "data" / "sample_ko.csv"
    with sample.open(encoding="utf-8", newline="") as handle:
        return [row["kor_sentence"] for row in csv.DictReader(handle)]


def train_wordpiece(texts: list[str], vocab_size: int) -> Any:
    """A BERT-style WordPiece tokenizer (fast) trained on `texts`."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.train_from_iterator(
        texts, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials)
    )
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=512,
    )


def tiny_bert(folder: Path, texts: list[str] | None = None) -> Path:
    """Save a random tiny BERT and its tokenizer into `folder` (created); returns it."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    if (folder / "model.safetensors").is_file():
        return folder
    tokenizer = train_wordpiece(texts or sample_texts(), TINY_VOCAB)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=3,
    )
    model = BertForSequenceClassification(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


_shared_model: Path | None = None


def shared_tiny_bert(root: Path) -> Path:
    """One tiny BERT per test session (built in about a second, then reused read-only)."""
    global _shared_model
    if _shared_model is None or not (_shared_model / "model.safetensors").is_file():
        _shared_model = tiny_bert(root / "tiny-bert")
    return _shared_model


def setup(tmp_path: Path) -> Any:
    """The transformers backend's entry in the backend contract suite (tests/contract_setups.py)."""
    from conftest import require
    from contract_setups import ContractSetup, prepared_sample

    if not torch_available():
        require(False, "torch/transformers are not installed (the transformers extra)")
    from finsent_transformers import TransformersBackend

    # tmp_path's parent is the session's base folder: the model is built once for every contract test
    model = shared_tiny_bert(tmp_path.parent / "transformers-models")
    return ContractSetup(
        backend=TransformersBackend(BackendContext(Settings.from_env())),
        options={**FAST_OPTIONS, "base_model": str(model)},
        slow_options={**FAST_OPTIONS, "base_model": str(model), "epochs": 20, "step_delay_seconds": 1.0},
        dataset_dir=prepared_sample(tmp_path / "prepared"),
        deadline_seconds=90.0,
    )


def _join_contract_suite() -> None:
    from contract_setups import CONTRACT_SETUPS

    CONTRACT_SETUPS["transformers"] = setup


_join_contract_suite()
