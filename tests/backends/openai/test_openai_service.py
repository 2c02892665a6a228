"""End to end through finsent's service, the OpenAI backend and the real SDK against our fake API:
prepare -> upload -> train -> follow (live curve) -> evaluate -> classify one text -> a bulk run that is
interrupted halfway and resumed with no lost or repeated rows."""

# ruff: noqa: F811 - pytest fixtures imported from openai_fake.fixtures are parameters of the tests

from __future__ import annotations

import pandas as pd
import pytest
from openai_fake.dataset import sentences
from openai_fake.fixtures import openai_server  # noqa: F401
from openai_fake.server import TEST_KEY, FakeOpenAI

from finsent.contract.backend import UNKNOWN_LABEL, JobStatus
from finsent.ingest.corpus import sample_path
from finsent.prep.pipeline import PrepareOptions
from finsent.service import BulkRequest, FinsentService


@pytest.mark.slow
def test_the_whole_workflow_through_the_service(openai_server: FakeOpenAI, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    service = FinsentService()
    try:
        dataset, _report = service.prepare(
            sample_path(), "sample_ko.csv", PrepareOptions(text_column="kor_sentence", label_column="labels")
        )
        job = service.start_training(
            "openai", dataset.id, {"base_model": "babbage-002", "n_epochs": 3}, api_key=TEST_KEY
        )
        seen: list[int] = []
        job = service.follow_job(
            job.id, lambda j: seen.append(len(service.job_metrics(j.id))), interval=0.05, api_key=TEST_KEY
        )
        assert job.status is JobStatus.SUCCEEDED and job.fine_tuned_model
        curve = service.job_metrics(job.id)
        assert list(curve["step"]) == list(range(1, openai_server.timing.steps + 1))
        assert len(set(seen)) > 2, "the curve grew while the job ran"
        evaluation = service.evaluation(job.id)
        assert evaluation is not None and evaluation.n == sum(dataset.manifest["counts"]["valid"].values())
        # the completion model got its " ->" separator: no answer fell outside the label set
        [one] = service.classify(
            "openai", job.fine_tuned_model, ["영업이익이 크게 증가했다"], api_key=TEST_KEY
        )
        assert one.label == "positive"

        texts = [text for text, _ in sentences(1500, offset=3000)]
        frame = pd.DataFrame({"id": range(len(texts)), "문장": texts})
        openai_server.answered.clear()
        chunks: list[int] = []

        def interrupt_after_two_chunks(record) -> None:
            chunks.append(1)
            if len(chunks) == 2:
                raise KeyboardInterrupt  # Ctrl-C halfway through the run

        with pytest.raises(KeyboardInterrupt):
            service.run_bulk(
                BulkRequest("openai", job.fine_tuned_model, frame, "문장", "news.csv", api_key=TEST_KEY),
                on_progress=interrupt_after_two_chunks,
            )
        run = service.bulk_runs()[0]
        assert run.status != "succeeded"
        sent_before = sum(openai_server.answered.values())
        assert 0 < sent_before < len(texts)
        run = service.resume_bulk_run(run.id, api_key=TEST_KEY, foreground=True)
        assert run.status == "succeeded"
        results = service.bulk_results(run.id).frame
        assert list(results["id"]) == list(range(len(texts))), "every row, once, in order"
        assert UNKNOWN_LABEL not in set(results["label"])
        assert len(openai_server.answered) == len(texts) and set(openai_server.answered.values()) == {1}, (
            "no row sent twice after the resume, none lost"
        )
    finally:
        service.close()
