"""What the dashboard trains on and classifies with is what the user picked, and every page says which.

Issue: the Train page's dataset picker snapped back to the newest dataset on the rerun after a choice, so a
job trained on a dataset nobody picked; pages kept their own model choices. These tests pick the older of
two datasets, models and runs, as analysts do.
"""

from __future__ import annotations

import time

import pandas as pd
import pytest
from app_helpers import (
    app_env,  # noqa: F401  (fixture)
    assert_clean,
    new_app,
    page,
    service,
    texts,
    train_mock,
)

pytestmark = pytest.mark.usefixtures("app_env")


def two_datasets() -> tuple[object, object]:
    from finsent.corpus import sample_path
    from finsent.prepare import PrepareOptions

    older, _ = service().prepare(sample_path(), "older_news.csv", PrepareOptions())
    time.sleep(0.01)  # created_at orders them
    newer, _ = service().prepare(sample_path(), "newer_news.csv", PrepareOptions(seed=7))
    return older, newer


def test_the_dataset_picked_on_train_sticks_across_reruns_and_is_the_one_trained_on() -> None:
    older, newer = two_datasets()
    at = new_app()
    at.switch_page(page("train")).run()
    assert at.selectbox(key="train_dataset").value == newer.id  # the newest first
    at.selectbox(key="train_dataset").select(older.id).run()
    assert at.selectbox(key="train_dataset").value == older.id
    at.run()  # any later rerun (a widget, a fragment, a page switch back) keeps it
    assert at.selectbox(key="train_dataset").value == older.id
    at.switch_page(page("data")).run()
    at.switch_page(page("train")).run()
    assert at.selectbox(key="train_dataset").value == older.id
    at.number_input(key="train_mock_duration_seconds").set_value(0.0)
    at.button(key="train_start").click().run()
    assert_clean(at)
    job = service().job(at.session_state["job_id"])
    assert job.dataset_id == older.id


def test_preparing_a_new_dataset_moves_the_train_picker_to_it_once() -> None:
    older, _newer = two_datasets()
    at = new_app()
    at.switch_page(page("train")).run()
    at.selectbox(key="train_dataset").select(older.id).run()
    at.switch_page(page("data")).run()
    at.button(key="data_prepare_btn").click().run()  # the bundled sample, prepared from the page
    newest = at.session_state["dataset_id"]
    assert newest not in (older.id, _newer.id)
    at.switch_page(page("train")).run()
    assert at.selectbox(key="train_dataset").value == newest
    at.selectbox(key="train_dataset").select(older.id).run()
    at.run()
    assert at.selectbox(key="train_dataset").value == older.id
