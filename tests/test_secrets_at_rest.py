"""The API key never comes to rest, and what does come to rest is private.

A canary key, an OpenAI-compatible server that echoes it back in every form (exact, upper-case, without
its prefix, percent-encoded, base64 of "Bearer <key>" and of the key) in each hostile mode, the whole CLI
workflow with SDK and HTTP debug logging on, then a grep of every file under FINSENT_HOME, every output
file, everything printed and every captured log: no form of the key anywhere. Each command ends in exit
0, or exit 2 with one `error:` line, never a traceback. Then the same workflow, one process per command
started with umask 022: FINSENT_HOME is 0700 and every file in it 0600.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from openai_fake.dataset import sentences, write_prepared
from openai_fake.echo import key_forms
from openai_fake.routes import ROUTES
from openai_fake.server import FakeOpenAI

from finsent.cli import main
from finsent.ingest.corpus import sample_path
from finsent.support.secrets import REDACTED

CANARY = "sk-canary-XYZ123abcDEF456ghiJKL789"
MODEL = "gpt-4o-mini"
EVERY_ENDPOINT = tuple(sorted({template for _m, _rx, template, _h in ROUTES}))
MODES = ("401", "403", "429", "500", "invalid-json", "slow", "200-echo", "header-echo", "non-batch")


def canary_forms() -> dict[str, str]:
    """Every form the sweep looks for: what the server echoes, and the key's distinctive part alone."""
    return key_forms(CANARY) | {"distinctive part": CANARY.split("-", 2)[2]}


def hits(where: str, text: str) -> list[str]:
    """One line per form of the canary found in `text` (base64 as is, every other form in any case)."""
    folded = text.casefold()
    found = []
    for name, form in canary_forms().items():
        haystack, needle = (text, form) if name.startswith("base64") else (folded, form.casefold())
        at = haystack.find(needle)
        if at >= 0:
            found.append(f"{where}: {name} ...{text[max(0, at - 60) : at + 20]!r}")
    return found


def hostile_server(mode: str) -> FakeOpenAI:
    """A server in `mode`; all but header-echo also echo the key into every text they write."""
    server = FakeOpenAI(api_key="sk-not-the-canary-0000aaaa1111bbbb" if mode == "401" else CANARY)
    faults = server.faults
    faults.echo = mode != "header-echo"
    faults.echo_headers = mode in ("header-echo", "200-echo")
    faults.retry_after, faults.retry_after_5xx = "0.01", "0.01"
    if mode in ("403", "429", "500"):
        faults.fail_rate, faults.fail_kinds, faults.fail_endpoints = 1.0, (mode,), EVERY_ENDPOINT
    elif mode == "invalid-json":
        faults.invalid_json = EVERY_ENDPOINT
    elif mode == "slow":
        faults.latency = 0.5
    elif mode == "non-batch":
        faults.non_batch_answer = {"object": "chat.completion", "id": "chatcmpl-echo", "choices": []}
    return server.start()


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    monkeypatch.setenv("FINSENT_LOAD_PLUGINS", "finsent_openai")
    monkeypatch.setenv("FINSENT_OPENAI_MAX_RETRIES", "1")
    monkeypatch.setenv("FINSENT_BATCH_POLL_SECONDS", "0.05")
    write_prepared(tmp_path / "prepared")
    texts = [text for text, _ in sentences(12, offset=500)]
    pd.DataFrame({"id": range(len(texts)), "문장": texts}).to_csv(tmp_path / "news.csv", index=False)
    yield tmp_path


def run_cli(argv: list[str], capfd: pytest.CaptureFixture[str]) -> tuple[int, str, str, list[str]]:
    """(exit code, stdout, stderr, problems): a traceback or an error that is not one `error:` line is one."""
    problems = []
    try:
        code = main(argv)
    except BaseException:  # a bug's traceback: what the sweep must never see
        code, problems = -1, [f"{argv[0]} raised: {traceback.format_exc()[-1500:]}"]
    out, err = capfd.readouterr()
    if code == 2 and sum(line.startswith("error: ") for line in err.splitlines()) != 1:
        problems.append(f"{argv[0]} exit 2 without exactly one error line: {err[-500:]!r}")
    if code not in (0, 2, -1):
        problems.append(f"{argv[0]} exited {code}: {err[-500:]!r}")
    if "Traceback" in out + err:
        problems.append(f"{argv[0]} printed a traceback: {err[-1500:]}")
    return code, out, err, problems


def workflow(
    server: FakeOpenAI, folder: Path, capfd: pytest.CaptureFixture[str], mode: str
) -> tuple[list[str], list[str]]:
    """Every command a user runs against the server; (texts printed, problems)."""
    base = ["--backend", "openai", "--model", MODEL]
    bulk = [*base, "--input", str(folder / "news.csv"), "--text-col", "문장"]
    commands = [
        ["add-model", *base, "--mode", "zero-shot"],
        [
            "train",
            "--backend",
            "openai",
            "--data",
            str(folder / "prepared"),
            "--follow",
            "--interval",
            "0.05",
        ],
        ["classify", *base, "매출 상승"],
        ["classify", *bulk, "--output", str(folder / f"{mode}-live.csv")],
        [
            "classify",
            *bulk,
            "--output",
            str(folder / f"{mode}-batch.csv"),
            "--batch-api",
            "--poll-interval",
            "0.05",
        ],
        ["jobs"],
        ["runs"],
        ["models"],
    ]
    printed, problems = [], []
    for argv in commands:
        _code, out, err, found = run_cli(argv, capfd)
        printed += [out, err]
        problems += found
    return printed, problems


@pytest.mark.slow
def test_no_form_of_the_key_is_stored_printed_or_logged_in_any_hostile_mode(
    workspace: Path, finsent_home: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)  # the SDK's, httpx's and httpcore's debug logs, headers included
    swept: dict[str, str] = {}  # where -> text
    problems: list[str] = []
    requests = 0
    for mode in MODES:
        monkeypatch.setenv("FINSENT_HOME", str(finsent_home / mode))  # one home per mode: no cache between
        monkeypatch.setenv("FINSENT_OPENAI_TIMEOUT", "0.25" if mode == "slow" else "20")
        server = hostile_server(mode)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        try:
            printed, trouble = workflow(server, workspace, capfd, mode)
        finally:
            server.stop()
        problems += [f"[{mode}] {p}" for p in trouble]
        swept |= {f"[{mode}] printed #{i}": text for i, text in enumerate(printed)}
        requests += sum(server.requests.values())
    swept["captured logs"] = caplog.text
    swept["log records"] = "\n".join(f"{r.msg} {r.args!r} {r.exc_text}" for r in caplog.records)
    for path in sorted(p for p in [*finsent_home.rglob("*"), *workspace.glob("*.csv")] if p.is_file()):
        swept[str(path.relative_to(path.parents[1]))] = path.read_bytes().decode("latin-1")
    found = [hit for where, text in swept.items() for hit in hits(where, text)]
    assert not found, f"{len(found)} forms of the key were found:\n" + "\n".join(found[:40])
    assert not problems, "\n".join(problems)
    assert requests > 50 and "Sending HTTP Request" in caplog.text, "the servers were used, debug logs on"
    redacted = {where for where, text in swept.items() if REDACTED in text}
    assert any("finsent.db" in where for where in redacted), "echoes reached the store, scrubbed"
    assert any("printed" in where for where in redacted) and "log records" in redacted


def finsent_cli(env: dict[str, str], *argv: str) -> str:
    """`python -m finsent ...` in a process of its own started with the usual umask 022."""
    done = subprocess.run(
        [sys.executable, "-m", "finsent", *argv],
        env=env,
        capture_output=True,
        text=True,
        umask=0o022,
        timeout=240,
    )
    assert done.returncode == 0, f"{argv[0]}: {done.stderr[-2000:]}"
    return done.stdout


@pytest.mark.slow
def test_finsent_home_is_0700_and_every_file_finsent_writes_there_0600(
    workspace: Path, finsent_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole workflow of both built-in paid and local backends, each command a new process as a user
    runs it: the database, prepared data, bulk inputs, job folders, model files, backend ledgers."""
    server = FakeOpenAI(api_key=CANARY).start()
    home = finsent_home / "private-home"
    env = dict(os.environ, FINSENT_HOME=str(home), FINSENT_LOAD_PLUGINS="finsent_local,finsent_openai")
    env |= {
        "OPENAI_API_KEY": CANARY,
        "OPENAI_BASE_URL": server.base_url,
        "FINSENT_BATCH_POLL_SECONDS": "0.05",
    }
    bulk = ["--input", str(workspace / "news.csv"), "--text-col", "문장"]
    try:
        finsent_cli(env, "prepare", str(sample_path()), "--out", str(home / "datasets" / "sample"))
        trained = finsent_cli(
            env, "train", "--backend", "local", "--data", str(home / "datasets" / "sample"), "--follow",
            "--interval", "0.2",
        )  # fmt: skip
        local_model = re.search(r"Model: (\S+)", trained)
        assert local_model, trained
        finsent_cli(
            env,
            "classify",
            "--backend",
            "local",
            "--model",
            local_model[1],
            *bulk,
            "--output",
            str(workspace / "l.csv"),
        )
        finsent_cli(env, "add-model", "--backend", "openai", "--model", MODEL, "--mode", "zero-shot")
        finsent_cli(
            env,
            "train",
            "--backend",
            "openai",
            "--data",
            str(workspace / "prepared"),
            "--follow",
            "--interval",
            "0.05",
        )
        for extra in ([], ["--batch-api", "--poll-interval", "0.05"]):
            finsent_cli(
                env,
                "classify",
                "--backend",
                "openai",
                "--model",
                MODEL,
                *bulk,
                "--output",
                str(workspace / "o.csv"),
                *extra,
            )
    finally:
        server.stop()
    modes = {str(p.relative_to(home)): stat.S_IMODE(p.stat().st_mode) for p in home.rglob("*")}
    wrong = {
        path: oct(mode)
        for path, mode in modes.items()
        if mode != (0o700 if (home / path).is_dir() else 0o600)
    }
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert not wrong, f"{len(wrong)} of {len(modes)} paths are not private: {dict(list(wrong.items())[:30])}"
    kinds = {Path(path).parts[0] for path in modes}
    assert {"finsent.db", "datasets", "jobs", "models", "bulk", "backends"} <= kinds, kinds
