# ruff: noqa: F811  (pytest fixtures imported from core_fixtures)
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from core_fixtures import prepared_dir, service, train_to_end  # noqa: F401  (fixtures)

from finsent.contract.backend import JobStatus
from finsent.contract.errors import BackendUnavailableError, FinsentError, InputError, NotFoundError
from finsent.service import BackendInfo, FinsentService
from finsent.settings import Settings


def test_backends_describe_each_backend(service: FinsentService) -> None:
    (info,) = service.backends()
    assert isinstance(info, BackendInfo)
    assert (info.name, str(info.label), info.available, info.needs_key) == (
        "scripted",
        "Scripted",
        True,
        False,
    )
    assert "train" in info.capabilities and "cancel" in info.capabilities
    assert info.options_schema["properties"]["epochs"]["maximum"] == 10
    assert [m.id for m in info.base_models] == ["kw-1"]
    # Built once per backend class (the dashboard lists backends on every rerun) and shared read-only.
    assert service.backends()[0].options_schema is info.options_schema
    with pytest.raises(TypeError):
        info.options_schema["title"] = "changed"  # type: ignore[index]


def test_training_lifecycle_stores_history_model_and_evaluation(
    service: FinsentService, prepared_dir: Path
) -> None:
    dataset = service.register_dataset(prepared_dir)
    assert service.register_dataset(prepared_dir).id == dataset.id  # registered once
    job = service.start_training("scripted", dataset.id, {"epochs": 2, "steps_per_epoch": 3})
    assert job.status == JobStatus.VALIDATING_FILES and job.external_id
    assert job.options["epochs"] == 2
    seen = []
    final = service.follow_job(job.id, seen.append, interval=0)
    assert final.status == JobStatus.SUCCEEDED and final.progress == 1.0 and final.finished_at
    assert [j.status for j in seen][:2] == [JobStatus.VALIDATING_FILES, JobStatus.QUEUED]
    metrics = service.job_metrics(job.id)
    assert metrics["step"].tolist() == [1, 2, 3, 4, 5, 6]
    assert metrics["epoch"].tolist() == [1, 1, 1, 2, 2, 2]
    assert metrics["train_loss"].is_monotonic_decreasing
    events = service.job_events(job.id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert any("Step 6/6" in e.message for e in events)
    assert any("Evaluation on" in e.message for e in events)
    (model,) = service.models("scripted")
    assert model.id == final.fine_tuned_model and model.job_id == job.id
    assert model.labels == ("positive", "negative", "neutral") and model.details["rule"] == "keywords"
    evaluation = service.evaluation(job.id)
    assert evaluation is not None and evaluation.n == 9 and evaluation.accuracy == pytest.approx(1.0)
    # refreshing a finished job neither polls nor evaluates again
    service.refresh_job(job.id)
    assert len(service.evaluations()) == 1
    assert len(service.job_events(job.id)) == len(events)
    # a restart loses nothing
    again = FinsentService(Settings.from_env())
    assert again.job(job.id) == service.job(job.id)
    assert again.job_metrics(job.id).equals(metrics)


def test_failure_while_preparing_leaves_the_job_failed(service: FinsentService, prepared_dir: Path) -> None:
    dataset = service.register_dataset(prepared_dir)
    with pytest.raises(InputError, match="rejected"):
        service.start_training("scripted", dataset.id, {"reject_file": True})
    (job,) = service.jobs()
    assert job.status == JobStatus.FAILED and "rejected the training file" in (job.error or "")


def test_invalid_options_are_refused_before_any_job(service: FinsentService, prepared_dir: Path) -> None:
    dataset = service.register_dataset(prepared_dir)
    with pytest.raises(InputError, match="epochs"):
        service.start_training("scripted", dataset.id, {"epochs": 99})
    with pytest.raises(InputError, match="unknown_option"):
        service.start_training("scripted", dataset.id, {"unknown_option": 1})
    assert service.jobs() == []


def test_job_failing_mid_training(
    service: FinsentService, prepared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINSENT_SCRIPTED_FAIL_STEP", "2")
    dataset = service.register_dataset(prepared_dir)
    job_id = train_to_end(service, dataset.id)
    job = service.job(job_id)
    assert job.status == JobStatus.FAILED and job.error == "failed at step 2"
    assert service.models() == [] and service.evaluation(job_id) is None


def test_poll_errors_become_events_not_crashes(
    service: FinsentService, prepared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset = service.register_dataset(prepared_dir)
    job = service.start_training("scripted", dataset.id, {})
    monkeypatch.setenv("FINSENT_SCRIPTED_POLL_ERROR", "service unreachable")
    for _ in range(3):
        assert service.refresh_job(job.id).status == JobStatus.VALIDATING_FILES
    errors = [e for e in service.job_events(job.id) if e.level == "error"]
    assert len(errors) == 1 and "service unreachable" in errors[0].message
    monkeypatch.delenv("FINSENT_SCRIPTED_POLL_ERROR")
    assert service.follow_job(job.id, lambda j: None, interval=0).status == JobStatus.SUCCEEDED


def test_cancel(service: FinsentService, prepared_dir: Path) -> None:
    dataset = service.register_dataset(prepared_dir)
    job = service.start_training("scripted", dataset.id, {})
    service.refresh_job(job.id)
    cancelled = service.cancel_job(job.id)
    assert cancelled.status == JobStatus.CANCELLED and cancelled.finished_at
    assert service.cancel_job(job.id).status == JobStatus.CANCELLED


def test_jobs_refreshes_unfinished_jobs(service: FinsentService, prepared_dir: Path) -> None:
    dataset = service.register_dataset(prepared_dir)
    job = service.start_training("scripted", dataset.id, {"epochs": 1, "steps_per_epoch": 1})
    for _ in range(5):
        (listed,) = service.jobs(min_interval=0)
    assert listed.id == job.id and listed.status == JobStatus.SUCCEEDED


def test_concurrent_refreshes_store_each_event_once(service: FinsentService, prepared_dir: Path) -> None:
    dataset = service.register_dataset(prepared_dir)
    job = service.start_training("scripted", dataset.id, {"epochs": 3, "steps_per_epoch": 3})
    other = FinsentService(Settings.from_env())  # a second service, as a second browser session or process

    def poll(svc: FinsentService) -> None:
        for _ in range(15):
            svc.refresh_job(job.id)

    threads = [threading.Thread(target=poll, args=(s,)) for s in (service, other, service)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    service.follow_job(job.id, lambda j: None, interval=0)
    messages = [e.message for e in service.job_events(job.id)]
    steps = [m for m in messages if m.startswith("Step ")]
    assert steps == [f"Step {i}/9." for i in range(1, 10)]
    assert service.job_metrics(job.id)["step"].tolist() == list(range(1, 10))
    assert len(service.evaluations()) == 1


def test_classify_and_unknown_things(service: FinsentService, prepared_dir: Path) -> None:
    dataset = service.register_dataset(prepared_dir)
    job_id = train_to_end(service, dataset.id)
    model = service.job(job_id).fine_tuned_model
    assert model
    texts = [f"prices up {i}" for i in range(25)] + ["실적 하락", "nothing special"]
    predictions = service.classify("scripted", model, texts)
    assert [p.label for p in predictions] == ["positive"] * 25 + ["negative", "neutral"]
    assert service.classify("scripted", model, []) == []
    with pytest.raises(NotFoundError, match="Unknown backend 'nope'"):
        service.classify("nope", model, ["x"])
    with pytest.raises(NotFoundError, match="Unknown model"):
        service.classify("scripted", "no-such-model", ["x"])
    with pytest.raises(NotFoundError, match="Unknown job"):
        service.job("job-x")
    with pytest.raises(NotFoundError, match="Unknown dataset"):
        service.start_training("scripted", "ds-x", {})


def test_add_model_and_evaluate(service: FinsentService, prepared_dir: Path) -> None:
    dataset = service.register_dataset(prepared_dir)
    record = service.add_model("scripted", "external-model", dataset_id=dataset.id, details={"kind": "chat"})
    assert record.job_id is None and record.labels == ("positive", "negative", "neutral")
    evaluation = service.evaluate("scripted", "external-model", dataset.id)
    assert evaluation.job_id is None and evaluation.n == 9
    assert service.misclassified(evaluation.id).empty
    assert len(service.evaluation_predictions(evaluation.id)) == 9


def test_backend_needing_a_key(service: FinsentService, monkeypatch: pytest.MonkeyPatch) -> None:
    base = service.registry.get("scripted")
    keyed = type(
        "KeyedBackend",
        (base,),
        {"name": "keyed", "label": "Keyed", "needs_key": True, "key_env_var": "KEYED_API_KEY"},
    )
    service.registry.add(keyed, "test")
    monkeypatch.delenv("KEYED_API_KEY", raising=False)
    info = {b.name: b for b in service.backends()}["keyed"]
    assert not info.available and "KEYED_API_KEY" in str(info.reason or "")
    with pytest.raises(BackendUnavailableError, match="KEYED_API_KEY"):
        service.classify("keyed", "m", ["x"])
    assert {b.name: b for b in service.backends({"keyed": "sk-test-1234"})}["keyed"].available
    monkeypatch.setenv("KEYED_API_KEY", "sk-env-5678")
    assert service.usable_backend("keyed").context.api_key == "sk-env-5678"
    assert issubclass(BackendUnavailableError, FinsentError)


def test_prepare_reads_checks_splits_and_registers(service: FinsentService) -> None:
    from finsent.ingest.corpus import sample_path
    from finsent.prep.pipeline import PrepareOptions

    record, report = service.prepare(sample_path().read_bytes(), "sample_ko.csv", PrepareOptions())
    assert not report.has_errors
    assert record.name == "sample_ko.csv" and record.rows > 0 and len(record.input_sha256) == 64
    assert Path(record.directory).parent == service.settings.datasets_dir
    assert service.datasets() == [record] and service.dataset(record.id) == record
