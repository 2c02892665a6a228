"""The Train page's "use a ready model as it is" section (issue 10): a Hugging Face classifier folder with
its own label names is recorded with a label map, selected in the sidebar, and classifies without
training; a map that does not fit is a translated error, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_helpers import (
    app_env,  # noqa: F401  (fixture)
    assert_clean,
    button,
    new_app,
    page,
    service,
)
from conftest import require
from openai_fake.dataset import write_prepared
from transformers_fixtures import shared_tiny_bert, torch_available

pytestmark = pytest.mark.usefixtures("app_env")


@pytest.fixture
def ready_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not torch_available():
        require(False, "torch/transformers are not installed (the transformers extra)")
    # a random tiny BERT with 3 labels named LABEL_0..2, as many hub classifiers name theirs
    return shared_tiny_bert(tmp_path_factory.getbasetemp() / "transformers-models")


def test_a_ready_model_is_added_from_the_train_page(
    ready_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINSENT_LOAD_PLUGINS", "finsent_mock,finsent_transformers")
    service().register_dataset(write_prepared(service().settings.home / "p").directory)
    at = new_app()
    at.sidebar.selectbox(key="backend").set_value("transformers").run()
    at.switch_page(page("train")).run()
    assert_clean(at)
    assert any("준비된 모델 그대로 쓰기" in h.value for h in at.subheader)
    at.text_input(key="train_ready_model_transformers").input(str(ready_folder))
    at.text_input(key="train_ready_map_transformers").input("LABEL_0=negative,LABEL_1").run()
    button(at, "모델 추가").click().run()
    assert [e.value for e in at.exception] == []
    assert any("라벨 매핑" in e.value for e in at.error)  # the unreadable part, in Korean
    at.text_input(key="train_ready_map_transformers").input(
        "LABEL_0=negative,LABEL_1=neutral,LABEL_2=positive"
    )
    button(at, "모델 추가").click().run()
    assert_clean(at)
    [record] = service().models("transformers")
    assert record.job_id is None and record.details["label_map"] == {
        "LABEL_0": "negative", "LABEL_1": "neutral", "LABEL_2": "positive"
    }  # fmt: skip
    assert at.sidebar.selectbox(key="model_id").value == record.id
    assert any(record.title in s.value for s in at.success)
    [prediction] = service().classify("transformers", record.id, ["가나전자의 영업이익이 크게 증가했다."])
    assert prediction.label in {"negative", "neutral", "positive"}
