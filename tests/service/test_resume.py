# ruff: noqa: F811  (pytest fixtures imported from core_fixtures)
"""Resuming an interrupted job (Capability.RESUME): the core side, through the service and the CLI. The
transformers backend's own tests drive a real killed worker; here the scripted backend stands in."""

from __future__ import annotations

from pathlib import Path

import pytest
from core_fixtures import prepared_dir, service, train_to_end  # noqa: F401  (fixtures)

from finsent.cli import main
from finsent.contract import Capability, InputError, JobStatus
from finsent.service import FinsentService


def test_only_an_interrupted_job_of_a_resuming_backend_resumes(
    service: FinsentService,
    prepared_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dataset = service.register_dataset(prepared_dir)
    job = service.job(train_to_end(service, dataset.id))
    with pytest.raises(InputError, match="only an interrupted job"):
        service.resume_interrupted_job(job.id)  # succeeded: nothing to resume
    service.store.update_job(job.id, status=JobStatus.INTERRUPTED)
    assert not service.can_resume(service.job(job.id))  # the scripted backend keeps no checkpoints
    backend_class = type(service.backend("scripted"))
    calls: list[str] = []

    def resume_interrupted(self: object, external_id: str) -> JobStatus:
        calls.append(external_id)
        return JobStatus.RUNNING

    monkeypatch.setattr(backend_class, "capabilities", backend_class.capabilities | {Capability.RESUME})
    monkeypatch.setattr(backend_class, "resume_interrupted", resume_interrupted)
    # the CLI loads its own copy of the plugins: it says, in one line, why this job cannot resume there
    code = main(["resume", job.name])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "Traceback" not in err and len(err.splitlines()) == 1
    assert service.can_resume(service.job(job.id))
    resumed = service.resume_interrupted_job(job.id)
    assert calls == [job.external_id]
    assert resumed.status != JobStatus.INTERRUPTED and resumed.error is None
    assert any(e.message == "Resumed from the last checkpoint." for e in service.job_events(job.id))
