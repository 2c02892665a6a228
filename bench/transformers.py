"""Benchmark of the transformers backend on this CPU at the corpus' real token lengths (printed, not asserted).

    FINSENT_CORPUS=/path/to/finance_data.csv python bench/transformers.py [--train-steps N] [--infer-rows N]
    FINSENT_CORPUS=... python bench/transformers.py --model PATH_OR_ID [--label-map A=negative,B=neutral,...]

Speed: a BERT with klue/bert-base's exact configuration (12 layers, hidden 768, 12 heads, intermediate 3072,
vocab 32000, 512 positions) and random weights (nothing is downloaded), with a WordPiece tokenizer of
32,000 pieces trained here on the corpus' training split. Training runs the backend's own loop
(`finsent_transformers.training.fine_tune`, length-bucketed batches, dynamic padding, AdamW) for a few
hundred examples; the epoch time is extrapolated from that rate. Inference runs the backend's own
classification path (`inference.build` + `Classifier.probabilities`, length-sorted batches) with each
engine: fp32, ONNX Runtime's int8 model (exported and quantised here as a training job does; what
classifies when int8 passed its check) and torch's dynamic int8 (the fallback without onnxruntime).
Targets on 2 cores: inference >= 25 rows/s fp32 and >= 120 rows/s int8, one epoch of 3,859 training rows
<= 12 minutes.

--model: validation accuracy and macro-F1 of a model (a finsent model folder, a ready classifier folder
or a cached hub id) on the corpus' validation split, in fp32 and int8 (the int8 accuracy gap is the
figure the 0.5-point rule is about). The corpus and anything derived from it stay in a temporary folder.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# This file is called transformers.py: its own folder, first on sys.path, would shadow the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT / "plugins"))

import torch  # noqa: E402
from finsent_transformers import inference, onnx_int8  # noqa: E402
from finsent_transformers.batching import auto_max_length, encode  # noqa: E402
from finsent_transformers.model_folder import FINSENT_FILE, FORMAT  # noqa: E402
from finsent_transformers.options import TransformersOptions  # noqa: E402
from finsent_transformers.training import Split, fine_tune, macro_f1  # noqa: E402

from finsent.contract import BackendContext, PreparedDataset, Settings  # noqa: E402
from finsent.ingest.reading import read_table  # noqa: E402
from finsent.prep.pipeline import PrepareOptions, prepare_dataset  # noqa: E402

KLUE_BERT_BASE = {
    "vocab_size": 32000,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
}
TARGETS = {"fp32": 25.0, "onnxruntime-int8": 120.0}
EPOCH_ROWS, EPOCH_MINUTES = 3859, 12.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare_corpus(corpus: Path, out: Path) -> PreparedDataset:
    options = PrepareOptions(text_column="kor_sentence", label_column="labels", formats=())
    dataset, _report = prepare_dataset(read_table(corpus), options, out)
    return dataset


def split_of(dataset: PreparedDataset, name: str) -> tuple[list[str], list[str]]:
    frame = dataset.frame(name)
    return frame["text"].astype(str).tolist(), frame["label"].astype(str).tolist()


def klue_sized_model(folder: Path, train_texts: list[str], labels: list[str]) -> Path:
    """Random BERT of klue/bert-base's shape + a 32k WordPiece tokenizer trained on the training texts."""
    sys.path.insert(0, str(ROOT / "tests"))
    from transformers import BertConfig, BertForSequenceClassification
    from transformers_fixtures import train_wordpiece

    tokenizer = train_wordpiece(train_texts, KLUE_BERT_BASE["vocab_size"])
    config = BertConfig(
        **KLUE_BERT_BASE,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
    )
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


class _Enough(Exception):
    pass


class StepClock:
    """A Reporter that times every optimiser step and stops training after `steps` of them."""

    def __init__(self, steps: int, batch_size: int) -> None:
        self.steps, self.batch_size = steps, batch_size
        self.times: list[float] = []

    def event(self, message: str, level: str = "info") -> None:
        print(f"  [train] {message}", flush=True)

    def metric(self, point: Any) -> None:
        self.times.append(time.perf_counter())
        if len(self.times) > self.steps:
            raise _Enough

    def progress(self, fraction: float) -> None:
        pass


def bench_training(
    folder: Path, work: Path, train: Split, labels: list[str], args: argparse.Namespace, precision: str
) -> None:
    options = TransformersOptions(
        base_model=str(folder), epochs=1, batch_size=args.batch_size, device="cpu", mixed_precision=precision
    )
    clock = StepClock(args.train_steps, args.batch_size)
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with contextlib.suppress(_Enough):
        fine_tune(work, folder, labels, train, None, options, clock)
    # the first step pays for one-off allocations: the rate is measured from its end
    steps = len(clock.times) - 1
    seconds = clock.times[-1] - clock.times[0]
    rate = steps * args.batch_size / seconds
    epoch_minutes = EPOCH_ROWS / rate / 60
    verdict = "ok" if epoch_minutes <= EPOCH_MINUTES else "MISSED"
    print(
        f"training {precision:<11} {rate:.1f} examples/s over {steps} steps of {args.batch_size} (after a warm-up step)"
    )
    print(
        f"one epoch            {epoch_minutes:.1f} min for {EPOCH_ROWS:,} rows, extrapolated "
        f"(target <= {EPOCH_MINUTES:.0f} min: {verdict}); setup before step 1 took {clock.times[0] - start:.1f} s"
    )
    print(f"peak memory          {peak_mb():.0f} MB after training (ru_maxrss)")


def bench_inference(folder: Path, texts: list[str], max_length: int, batch_sizes: list[int]) -> None:
    from transformers import AutoModelForSequenceClassification

    cpu = torch.device("cpu")
    started = time.perf_counter()
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    onnx_int8.export_int8(model, folder / onnx_int8.ONNX_FILE)
    del model
    size = (folder / onnx_int8.ONNX_FILE).stat().st_size / 1e6
    print(
        f"onnx int8 model      exported and quantised in {time.perf_counter() - started:.0f} s, {size:.0f} MB on disk"
    )
    predictions: dict[str, torch.Tensor] = {}
    for engine in ("fp32", "onnxruntime-int8", "torch-int8"):
        # the engine follows finsent.json as for a trained model: ONNX Runtime's where its check passed,
        # torch's int8 for a folder without finsent.json (a ready model asked to run int8)
        meta = folder / FINSENT_FILE
        meta.unlink(missing_ok=True)
        if engine == "onnxruntime-int8":
            int8 = {"validated": True, "engine": onnx_int8.ENGINE}
            meta.write_text(json.dumps({"format": FORMAT, "int8": int8}))
        classifier = inference.build(folder, cpu, int8=engine != "fp32", max_length=max_length)
        assert classifier.engine == engine, classifier.engine
        for batch in batch_sizes or [inference.CLASSIFY_BATCH[engine]]:
            classifier.probabilities(texts[:32], batch)  # warm-up
            start = time.perf_counter()
            predictions[engine] = classifier.probabilities(texts, batch)
            rate = len(texts) / (time.perf_counter() - start)
            target = TARGETS.get(engine)
            verdict = (
                f"target >= {target:.0f}: {'ok' if rate >= target else 'MISSED'}"
                if target
                else "the fallback without onnxruntime"
            )
            print(
                f"inference {engine:<16} {rate:6.1f} rows/s over {len(texts)} rows, batch {batch} ({verdict})"
            )
        del classifier
    for engine in ("onnxruntime-int8", "torch-int8"):
        agree = (predictions["fp32"].argmax(1) == predictions[engine].argmax(1)).float().mean()
        gap = (predictions["fp32"] - predictions[engine]).abs().max()
        print(
            f"fp32/{engine:<16} {agree:.3f} of labels agree, largest probability gap {gap:.4f} "
            "(random weights: near-ties make agreement a floor, not a figure)"
        )
    print(f"peak memory          {peak_mb():.0f} MB (ru_maxrss)")


def bench_model(source: str, label_map: str | None, dataset: PreparedDataset) -> None:
    """Validation accuracy and macro-F1 of a model, through the backend as the service would call it."""
    from finsent_transformers import TransformersBackend
    from finsent_transformers.ready import parse_label_map

    backend = TransformersBackend(BackendContext(Settings.from_env()))
    names = list(dataset.labels.names)
    texts, truth = split_of(dataset, "valid")
    ref = backend.ready_model_ref(source, names, parse_label_map(label_map) if label_map else None)
    # a ready model asked for int8 runs torch's; a finsent model folder runs what its job validated
    for name, int8 in (("fp32", False), ("int8", True)):
        model = type(ref)(ref.id, ref.labels, ref.input_format, {**ref.details, "int8": int8})
        start = time.perf_counter()
        predicted = [p.label for p in backend.classify(model, texts)]
        seconds = time.perf_counter() - start
        accuracy = sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth)
        index = {label: i for i, label in enumerate(names)}
        f1 = macro_f1([index[t] for t in truth], [index[p] for p in predicted])
        print(
            f"model {name}           accuracy {accuracy:.4f}, macro-F1 {f1:.4f} on {len(truth):,} validation rows "
            f"({len(truth) / seconds:.1f} rows/s)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--train-steps", type=int, default=24, help="optimiser steps to time (after a warm-up)"
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--infer-rows", type=int, default=400, help="validation rows to classify per precision"
    )
    parser.add_argument(
        "--infer-batch",
        default="",
        help="texts per forward pass to try, e.g. 8,16,32 (default: the backend's)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--precision",
        default="no,auto",
        help="training precisions to time: no (fp32), auto (bf16 here), bf16; empty: inference only",
    )
    parser.add_argument(
        "--model", help="a model folder or cached hub id: print its validation scores instead"
    )
    parser.add_argument("--label-map", help="for --model: MODEL_LABEL=our_label,... (default: same names)")
    args = parser.parse_args()
    corpus = os.environ.get("FINSENT_CORPUS", "")
    if not corpus or not Path(corpus).is_file():
        print("set FINSENT_CORPUS to the corpus CSV (finance_data.csv)", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="finsent-bench-tf-") as tmp:
        os.environ["FINSENT_HOME"] = str(Path(tmp) / "home")
        dataset = prepare_corpus(Path(corpus), Path(tmp) / "prepared")
        if args.model:
            bench_model(args.model, args.label_map, dataset)
            return 0
        labels = list(dataset.labels.names)
        train_texts, train_labels = split_of(dataset, "train")
        valid_texts, _ = split_of(dataset, "valid")
        print(
            f"corpus rows          train {len(train_texts):,}, valid {len(valid_texts):,}; torch {torch.__version__}, {args.threads} threads"
        )
        started = time.perf_counter()
        folder = klue_sized_model(Path(tmp) / "klue-sized", train_texts, labels)
        size = (folder / "model.safetensors").stat().st_size / 1e6
        print(
            f"model                klue/bert-base shape, random weights; model.safetensors {size:.0f} MB on disk (built in {time.perf_counter() - started:.0f} s)"
        )
        tokenizer = inference.AutoTokenizer.from_pretrained(folder)
        lengths = [len(ids) for ids in encode(tokenizer, train_texts, None)]
        max_length = auto_max_length(lengths, 512)
        quantiles = statistics.quantiles(lengths, n=100)
        print(
            f"token lengths        mean {statistics.mean(lengths):.1f}, median {statistics.median(lengths):.0f}, "
            f"p90 {quantiles[89]:.0f}, p99 {quantiles[98]:.0f}, max {max(lengths)} -> max_length auto {max_length}"
        )
        index = {label: i for i, label in enumerate(labels)}
        train = Split(train_texts, [index[label] for label in train_labels])
        for precision in filter(None, args.precision.split(",")):
            bench_training(folder, Path(tmp) / f"job-{precision}", train, labels, args, precision)
        batches = [int(b) for b in args.infer_batch.split(",") if b.strip()]
        bench_inference(folder, valid_texts[: args.infer_rows], max_length, batches)
    return 0


if __name__ == "__main__":
    sys.exit(main())
