"""AppTest: backends in the Korean UI (their Korean label, description and unavailability reason), and the
Train page's "use a chat model without training" section, whose model is then picked in the sidebar and
evaluated on the Evaluate page (the OpenAI backend through the real SDK against our fake API)."""

# ruff: noqa: F811 - pytest fixtures imported from openai_fake.fixtures are parameters of the tests

from __future__ import annotations

import pytest
from app_helpers import (
    app_env,  # noqa: F401  (fixture)
    assert_clean,
    button,
    new_app,
    page,
    service,
    texts,
)
from openai_fake.dataset import write_prepared
from openai_fake.fixtures import openai_server  # noqa: F401
from openai_fake.server import TEST_KEY, FakeOpenAI

pytestmark = pytest.mark.usefixtures("app_env")


def test_korean_page_shows_the_plugins_korean_label_description_and_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    at = new_app()
    assert_clean(at)
    backend = at.sidebar.selectbox(key="backend")
    assert "모의 (오프라인 데모)" in backend.options
    assert any(o.startswith("OpenAI — 사용 불가") for o in backend.options)
    assert any("키워드 규칙으로 분류합니다" in c.value for c in at.sidebar.caption)
    write_prepared(service().settings.home / "p")
    service().register_dataset(service().settings.home / "p")
    backend.set_value("openai").run()
    at.switch_page(page("train")).run()
    assert_clean(at)
    shown = texts(at)
    assert "API 키가 필요합니다: OPENAI_API_KEY를 설정하거나" in shown
    assert "needs an API key" not in shown
    # the same page in English shows the plugin's English texts
    at.sidebar.radio(key="lang").set_value("en").run()
    backend = at.sidebar.selectbox(key="backend")
    assert "Mock (offline demo)" in backend.options
    assert "needs an API key: set OPENAI_API_KEY" in texts(at)


def test_a_chat_model_added_without_training_is_picked_and_evaluated(
    openai_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    at = new_app()
    prepared = write_prepared(service().settings.home / "prepared", n_train=30, n_valid=9)
    dataset = service().register_dataset(prepared.directory)
    at.sidebar.selectbox(key="backend").set_value("openai").run()
    at.switch_page(page("train")).run()
    assert_clean(at)
    assert "학습 없이 채팅 모델 사용" in texts(at)
    at.text_input(key="train_shot_model_openai").input("gpt-4.1-mini")
    at.radio(key="train_shot_mode_openai").set_value("few_shot").run()  # enables examples per label
    at.number_input(key="train_shot_per_label_openai").set_value(1)
    button(at, "모델 추가").click().run()
    assert_clean(at)
    assert any("gpt-4.1-mini" in s.value for s in at.success)
    assert at.sidebar.selectbox(key="model_id").value == "gpt-4.1-mini"
    [record] = service().models("openai")
    assert record.details["mode"] == "few_shot" and len(record.details["examples"]) == 3
    assert service().model_dataset_id("openai", "gpt-4.1-mini") == dataset.id

    at.switch_page(page("evaluate")).run()
    assert_clean(at)
    assert any("선택한 모델을 평가합니다" in m.value for m in at.markdown)
    assert any("gpt-4.1-mini" in h.value for h in at.subheader)
    button(at, "검증 데이터로 평가하기").click().run()
    assert_clean(at)
    [evaluation] = service().evaluations("openai", "gpt-4.1-mini")
    assert evaluation.n == 9 and evaluation.dataset_id == dataset.id
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["정확도"] == f"{evaluation.accuracy:.1%}"


def test_bulk_form_offers_the_batch_api_and_shows_the_batch_it_follows(
    openai_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("FINSENT_BATCH_POLL_SECONDS", "0.05")
    at = new_app()
    service().add_shot_model("openai", "gpt-4o-mini", "zero-shot")
    at.sidebar.selectbox(key="backend").set_value("openai").run()
    at.switch_page(page("classify")).run()
    rows = "\n".join(
        f"{i},{text}" for i, text in enumerate(["주가가 하락했다", "영업이익 증가", "공시 예정"])
    )
    at.file_uploader(key="cls_bulk_upload").set_value(
        ("뉴스.csv", f"id,본문\n{rows}\n".encode("utf-8-sig"), "text/csv")
    ).run()
    assert_clean(at)
    at.checkbox(key="cls_bulk_confirm").check()
    at.checkbox(key="cls_bulk_batch_api").check().run()  # confirming the cost enables the start button
    button(at, "모든 행 분류하기").click().run()
    assert_clean(at)
    run = service().wait_bulk_run(at.session_state["bulk_run_id"], timeout=30)
    assert (run.status, run.rows_done, run.batch_api) == ("succeeded", 3, True)
    assert openai_server.requests["/batches"] == 1 and run.batch_id
    at.run()
    table = next(d.value for d in at.dataframe if "본문" in d.value.columns)
    assert list(table.columns[:2]) == ["id", "본문"] and len(table) == 3


def test_train_page_states_the_end_of_openai_fine_tuning_in_the_page_language(
    openai_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The notice comes from the backend (the page knows no date), in Korean and in English; the local
    backend has none."""
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    at = new_app()
    service().register_dataset(write_prepared(service().settings.home / "p").directory)
    at.switch_page(page("train")).run()
    assert not any("2027-01-06" in w.value for w in at.warning)  # the local backend: no notice
    at.sidebar.selectbox(key="backend").set_value("openai").run()
    assert_clean(at)
    [notice] = [w.value for w in at.warning if "2027-01-06" in w.value]
    assert "새 셀프서비스 파인튜닝 작업을 받지 않습니다" in notice and "transformers" in notice
    at.sidebar.radio(key="lang").set_value("en").run()
    [notice] = [w.value for w in at.warning if "2027-01-06" in w.value]
    assert "stops taking new self-serve fine-tuning jobs" in notice
