"""Fetching the corpus over real HTTP on 127.0.0.1, the offline error, and the bundled sample."""

from __future__ import annotations

import functools
import hashlib
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from finsent.cli import main
from finsent.contract.errors import InputError, NetworkError
from finsent.ingest.corpus import CORPUS_SHA256, CORPUS_URL, corpus_status, fetch_corpus, sample_path

CONTENT = "labels,sentence,kor_sentence\nneutral,A test.,시험 문장입니다.\n".encode()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()
    (root / "finance_data.csv").write_bytes(CONTENT)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_constants() -> None:
    assert (
        CORPUS_URL
        == "https://raw.githubusercontent.com/ukairia777/finance_sentiment_corpus/main/finance_data.csv"
    )
    assert CORPUS_SHA256 == "0b49088dc87254d668dcbe69621e1f63dbb67558a3c4466e6cbabed2686254f0"


def test_fetch_over_http_checks_sha256(served: tuple[str, Path], finsent_home: Path) -> None:
    base, _ = served
    sha = hashlib.sha256(CONTENT).hexdigest()
    path = fetch_corpus(url=f"{base}/finance_data.csv", sha256=sha)
    assert path == finsent_home / "corpus" / "finance_data.csv"
    assert path.read_bytes() == CONTENT
    assert sorted(p.name for p in path.parent.iterdir()) == ["finance_data.csv"]
    # Already there with the right hash: kept without a download (the URL is dead now).
    assert fetch_corpus(url=f"http://127.0.0.1:{_closed_port()}/x", sha256=sha) == path


def test_sha256_mismatch_keeps_nothing(served: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = served
    dest = tmp_path / "dl" / "corpus.csv"
    with pytest.raises(InputError, match="not the expected corpus"):
        fetch_corpus(dest, url=f"{base}/finance_data.csv")
    assert list(dest.parent.iterdir()) == []


def test_http_error_and_offline(served: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = served
    dest = tmp_path / "dl" / "corpus.csv"
    with pytest.raises(NetworkError, match="HTTP 404"):
        fetch_corpus(dest, url=f"{base}/missing.csv")
    with pytest.raises(NetworkError) as info:
        fetch_corpus(dest, url=f"http://127.0.0.1:{_closed_port()}/finance_data.csv", timeout=5)
    assert "by hand" in str(info.value) and str(dest) in str(info.value)
    assert "직접" in info.value.text("ko")
    assert list(dest.parent.iterdir()) == []


def test_status(finsent_home: Path) -> None:
    status = corpus_status()
    assert status["present"] is False and status["licence"] == "CC BY-NC-SA 3.0"
    target = finsent_home / "corpus" / "finance_data.csv"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"something else")
    status = corpus_status()
    assert status["present"] is True and status["sha256_ok"] is False


def test_sample_data() -> None:
    frame = pd.read_csv(sample_path(), dtype=str, keep_default_na=False)
    assert list(frame.columns) == ["kor_sentence", "labels"]
    assert len(frame) >= 160
    counts = frame["labels"].value_counts().to_dict()
    assert set(counts) == {"positive", "negative", "neutral"} and min(counts.values()) >= 50
    assert frame["kor_sentence"].is_unique
    assert frame["kor_sentence"].str.contains("[가-힣]").all()


@pytest.mark.corpus
def test_sample_is_not_copied_from_the_corpus(corpus_path: Path) -> None:
    corpus = set(pd.read_csv(corpus_path, dtype=str)["kor_sentence"])
    sample = set(pd.read_csv(sample_path(), dtype=str)["kor_sentence"])
    assert not corpus & sample


@pytest.mark.corpus
def test_cli_fetch_of_the_real_file_from_a_local_mirror(
    corpus_path: Path, tmp_path: Path, finsent_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "mirror"
    root.mkdir()
    (root / "finance_data.csv").write_bytes(corpus_path.read_bytes())
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/finance_data.csv"
        assert main(["data", "fetch", "--url", url]) == 0
    finally:
        server.shutdown()
        server.server_close()
    out = capsys.readouterr().out
    assert "CC BY-NC-SA 3.0" in out
    saved = finsent_home / "corpus" / "finance_data.csv"
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == CORPUS_SHA256
    assert corpus_status()["sha256_ok"] is True
