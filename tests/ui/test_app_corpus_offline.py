"""The corpus download without network, as a browser user meets it (issue 9): the error's link works (no
"%5C_" in its target), no raw "[Errno -2]", and the remedy is one a browser user can follow (upload)."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from app_helpers import (
    app_env,  # noqa: F401  (fixture)
    button,
    new_app,
)

from finsent.ingest.corpus import CORPUS_URL

pytestmark = pytest.mark.usefixtures("app_env")


def _no_dns(*args: Any, **kwargs: Any) -> Any:
    raise socket.gaierror(-2, "Name or service not known")


@pytest.mark.parametrize(
    ("lang", "reason", "remedy"),
    [
        ("ko", "인터넷 연결 없음", "‘파일 업로드’를 골라 올리세요"),
        ("en", "no internet connection", "“Upload a file”"),
    ],
)
def test_offline_corpus_download_links_the_file_and_says_to_upload_it(
    monkeypatch: pytest.MonkeyPatch, lang: str, reason: str, remedy: str
) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _no_dns)  # offline exactly as a machine without DNS is
    at = new_app()
    at.sidebar.radio(key="lang").set_value(lang).run()
    at.radio(key="data_source").set_value("corpus").run()
    button(at, "말뭉치 내려받기" if lang == "ko" else "Download the corpus").click().run()
    assert [e.value for e in at.exception] == []
    [error] = [e.value for e in at.error]
    assert f"]({CORPUS_URL})" in error  # a link whose target is the address as written
    assert "%5C" not in error and "\\_" not in error.split("](")[1]
    assert "Errno" not in error and reason in error and remedy in error
    assert "finsent prepare" not in error  # the CLI's remedy stays in the CLI
