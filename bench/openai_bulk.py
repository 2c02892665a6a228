"""Bulk classification through the OpenAI backend vs the tutorial's loop, against our fake API.

Every response of the fake server (real HTTP on 127.0.0.1) is delayed by 150 ms, like a remote API.
The tutorial's loop (one request per text, one after another) is measured on a smaller sample (200
texts by default: at ~6 texts/s, 5,000 would take ~13 minutes) and its throughput compared with finsent's
on 5,000 texts, for a completion model (target >= 30x) and a chat model (target >= 10x). A last run makes
5 % of requests fail (429 with Retry-After, 500, dropped connections) and checks that every row is
classified exactly once (the server counts answers per text).

    .venv/bin/python bench/openai_bulk.py [--texts 5000] [--loop-sample 200] [--latency 0.15]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import openai  # noqa: E402
from finsent_openai import OpenAIBackend  # noqa: E402
from openai_fake.dataset import sentences  # noqa: E402
from openai_fake.model import rule_label  # noqa: E402
from openai_fake.server import TEST_KEY, FakeOpenAI  # noqa: E402

from finsent.contract.backend import BackendContext, ModelRef  # noqa: E402
from finsent.contract.labels import LabelSet  # noqa: E402
from finsent.contract.modelinput import InputFormat  # noqa: E402
from finsent.settings import Settings  # noqa: E402

COMPLETION = ModelRef("babbage-002", LabelSet(), InputFormat(separator=" ->"), details={"kind": "completion"})
CHAT = ModelRef("gpt-4o-mini", LabelSet(), details={"kind": "chat"})


def tutorial_loop(server: FakeOpenAI, model: ModelRef, texts: list[str]) -> float:
    """The tutorial's way: one request per text, one after another. Returns texts per second."""
    client = openai.OpenAI(api_key=TEST_KEY, base_url=server.base_url)
    started = time.perf_counter()
    for text in texts:
        if model is COMPLETION:
            client.completions.create(model=model.id, prompt=text + " ->", max_tokens=1, temperature=0)
        else:
            client.chat.completions.create(
                model=model.id, messages=[{"role": "user", "content": text}], max_tokens=8, temperature=0
            )
    client.close()
    return len(texts) / (time.perf_counter() - started)


def finsent_run(server: FakeOpenAI, model: ModelRef, texts: list[str], home: Path) -> tuple[float, list[str]]:
    """finsent's way, as the core's bulk run calls it: chunks of classify_batch_size. Texts per second."""
    context = BackendContext(Settings.from_env(home), api_key=TEST_KEY, config={"base_url": server.base_url})
    backend = OpenAIBackend(context)
    labels: list[str] = []
    started = time.perf_counter()
    size = backend.classify_batch_size
    for i in range(0, len(texts), size):
        labels += [p.label for p in backend.classify(model, texts[i : i + size])]
    elapsed = time.perf_counter() - started
    backend.close()
    return len(texts) / elapsed, labels


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=5000)
    parser.add_argument("--loop-sample", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.15)
    args = parser.parse_args()
    texts = [text for text, _ in sentences(args.texts)]
    expected = [rule_label(t) for t in texts]
    server = FakeOpenAI().start()
    server.faults.latency = args.latency
    home = Path(tempfile.mkdtemp(prefix="finsent-bench-"))
    ok = True
    print(f"fake OpenAI API with {args.latency * 1000:.0f} ms added to every response")
    print(f"tutorial loop measured on {args.loop_sample} texts; finsent on {len(texts)} texts\n")
    print(f"{'model':<12} {'tutorial loop':>16} {'finsent':>14} {'ratio':>8} {'target':>8}")
    for name, model, target in (("completion", COMPLETION, 30), ("chat", CHAT, 10)):
        loop = tutorial_loop(server, model, texts[: args.loop_sample])
        server.answered.clear()
        fast, labels = finsent_run(server, model, texts, home)
        correct = labels == expected and set(server.answered.values()) == {1}
        ratio = fast / loop
        ok = ok and correct and ratio >= target
        print(
            f"{name:<12} {loop:>11.1f} t/s {fast:>9.1f} t/s {ratio:>7.1f}x {target:>7}x"
            f"{'' if correct else '  WRONG RESULTS'}"
        )
    print("\nwith 5 % of requests failing (429 with Retry-After: 1 s, 500, dropped connections):")
    server.faults.fail_rate, server.faults.seed, server.faults.retry_after = 0.05, 11, "1"
    for name, model in (("completion", COMPLETION), ("chat", CHAT)):
        server.answered.clear()
        server.received.clear()
        before = sum(server.requests.values())
        fast, labels = finsent_run(server, model, texts, home)
        exactly_once = len(server.answered) == len(texts) and set(server.answered.values()) == {1}
        correct = labels == expected
        ok = ok and exactly_once and correct
        print(
            f"{name:<12} {fast:>9.1f} t/s, {sum(server.requests.values()) - before} requests, "
            f"{sum(server.received.values()) - len(texts)} texts re-sent after a failure; "
            f"every row classified exactly once: {'yes' if exactly_once and correct else 'NO'}"
        )
    server.stop()
    print("\nall targets met" if ok else "\nTARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
