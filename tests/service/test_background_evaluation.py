"""Evaluation after a job succeeds runs in the background (issue 11): a poll never waits for the validation
split to be classified, a list of jobs reads the store only, and the follower thread keeps unfinished
jobs fresh and evaluates the ones that succeeded."""

# ruff: noqa: F811 - pytest fixtures imported from core_fixtures are parameters of the tests

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from core_fixtures import prepared_dir, service  # noqa: F401  (fixtures)

from finsent.contract.backend import JobStatus
from finsent.jobs import lifecycle
from finsent.service import FinsentService


def _until(check: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_poll_returns_while_the_evaluation_runs_elsewhere(
    service: FinsentService, prepared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    original = lifecycle.evaluate_model

    def held_evaluation(*args: Any, **kwargs: Any) -> Any:
        assert release.wait(30), "the test never released the evaluation"
        return original(*args, **kwargs)

    monkeypatch.setattr(lifecycle, "evaluate_model", held_evaluation)
    dataset = service.register_dataset(prepared_dir)
    job = service.start_training("scripted", dataset.id, {"epochs": 1, "steps_per_epoch": 2})
    _until(lambda: service.refresh_job(job.id).status.is_terminal)
    # The poll that saw the job succeed came back although its evaluation is held: it runs elsewhere.
    assert service.job(job.id).status is JobStatus.SUCCEEDED
    assert service.evaluation_pending(job.id) and service.evaluation(job.id) is None
    service.refresh_job(job.id)  # polling again starts no second evaluation
    release.set()
    _until(lambda: not service.evaluation_pending(job.id))
    assert service.evaluation(job.id) is not None
    assert sum(e.message.startswith("Evaluation on") for e in service.job_events(job.id)) == 1


def test_listing_jobs_reads_the_store_and_the_follower_keeps_them_fresh(
    service: FinsentService, prepared_dir: Path
) -> None:
    dataset = service.register_dataset(prepared_dir)
    job = service.start_training("scripted", dataset.id, {"epochs": 1, "steps_per_epoch": 2})
    listed = service.jobs(refresh=False)
    assert [j.status for j in listed] == [job.status]  # nothing polled: the status as stored
    service.keep_jobs_fresh(interval=0.05)
    service.keep_jobs_fresh(interval=0.05)  # one follower per process
    assert sum(t.name == "finsent-jobs" for t in threading.enumerate()) <= 1
    _until(lambda: service.job(job.id).status is JobStatus.SUCCEEDED and service.evaluation(job.id))
