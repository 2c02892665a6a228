"""The Korean Finance PhraseBank (downloaded on request, never shipped) and the bundled sample data."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from finsent.contract.errors import InputError, NetworkError
from finsent.contract.texts import Text
from finsent.settings import Settings

CORPUS_URL = "https://raw.githubusercontent.com/ukairia777/finance_sentiment_corpus/main/finance_data.csv"
CORPUS_SHA256 = "0b49088dc87254d668dcbe69621e1f63dbb67558a3c4466e6cbabed2686254f0"
CORPUS_ROWS = 4846

LICENCE = """\
Korean Finance PhraseBank (finance_data.csv)
  Translated to Korean and checked by hand by ukairia777
  (https://github.com/ukairia777/finance_sentiment_corpus).
  Original: Financial PhraseBank, P. Malo, A. Sinha, P. Korhonen, J. Wallenius, P. Takala (2014),
  "Good debt or bad debt: Detecting semantic orientations in economic texts", JASIST 65(4).
  Licence: Creative Commons Attribution-NonCommercial-ShareAlike 3.0 (CC BY-NC-SA 3.0).
  Non-commercial use only; credit the authors; share adaptations under the same licence.
  finsent downloads it for you on request and never redistributes it."""

SAMPLE_NOTE = (
    "finsent sample data: 170 short Korean financial news sentences about fictional companies, written by "
    "the finsent team (MIT licence, like finsent)."
)
_CHUNK = 64 * 1024


def sample_path() -> Path:
    """The bundled sample dataset (columns kor_sentence,labels)."""
    return Path(str(resources.files("finsent").joinpath("data/sample_ko.csv")))


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def corpus_status(path: Path | None = None) -> dict[str, Any]:
    """Where the corpus is expected, whether it is there and whether it is the published file."""
    target = path or Settings.from_env().corpus_path
    present = target.is_file()
    return {
        "path": str(target),
        "present": present,
        "sha256_ok": present and _sha256_file(target) == CORPUS_SHA256,
        "url": CORPUS_URL,
        "sha256": CORPUS_SHA256,
        "licence": "CC BY-NC-SA 3.0",
    }


def _reason(exc: BaseException) -> tuple[str, str]:
    """Why the download failed, in words (English, Korean): not "[Errno -2] Name or service not known"."""
    inner = getattr(exc, "reason", exc)
    if isinstance(inner, socket.gaierror):
        return (
            "no internet connection: the server's name could not be looked up",
            "인터넷 연결 없음: 서버 이름을 찾지 못했습니다",
        )
    if isinstance(inner, TimeoutError | socket.timeout):
        return "the server did not answer in time", "서버가 제때 응답하지 않았습니다"
    if isinstance(inner, ConnectionRefusedError):
        return "the connection was refused", "연결이 거부되었습니다"
    if isinstance(inner, ConnectionError | OSError):
        return "the connection failed", "연결하지 못했습니다"
    return str(inner) or type(inner).__name__, str(inner) or type(inner).__name__


def _offline(url: str, dest: Path, reason: tuple[str, str]) -> NetworkError:
    return NetworkError(
        Text(
            f"Could not download the corpus from {url} ({reason[0]}).",
            f"{url} 에서 말뭉치를 내려받지 못했습니다({reason[1]}).",
        ),
        hint=Text(
            f"Check the internet connection, or download the file by hand in a browser and save it as {dest} "
            f"(or pass it to `finsent prepare` directly). Its sha256 must be {CORPUS_SHA256}.",
            f"인터넷 연결을 확인하거나, 브라우저로 파일을 직접 받아 {dest} 에 저장하세요"
            f"(또는 `finsent prepare` 에 바로 넘기세요). sha256 은 {CORPUS_SHA256} 이어야 합니다.",
        ),
        # A browser user cannot save into the server's folders: they download elsewhere and upload it.
        dashboard_hint=Text(
            "Open the link on a computer with internet access, save the file, then choose "
            "“Upload a file” above and upload it.",
            "인터넷이 되는 컴퓨터에서 위 링크를 열어 파일을 저장한 뒤, 위에서 ‘파일 업로드’를 골라 올리세요.",
        ),
    )


def fetch_corpus(
    dest: Path | str | None = None, url: str = CORPUS_URL, sha256: str = CORPUS_SHA256, timeout: float = 30
) -> Path:
    """Download the corpus into `dest` (default FINSENT_HOME/corpus/finance_data.csv), checking its sha256.

    Streams into a temporary file beside `dest` and renames it only after the hash matched; on any failure
    nothing is left behind. A file already present with the right hash is kept without downloading.
    """
    target = Path(dest).expanduser() if dest else Settings.from_env().corpus_path
    if target.is_dir():
        target = target / "finance_data.csv"
    if target.is_file() and _sha256_file(target) == sha256:
        return target
    import urllib.error  # here, not at the top: every command shows the licence text, few download
    import urllib.request

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                request = urllib.request.Request(url, headers={"User-Agent": "finsent"})
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    for chunk in iter(lambda: response.read(_CHUNK), b""):
                        digest.update(chunk)
                        out.write(chunk)
            except urllib.error.HTTPError as exc:
                raise _offline(url, target, (f"HTTP {exc.code} {exc.reason}",) * 2) from None
            except urllib.error.URLError as exc:
                raise _offline(url, target, _reason(exc)) from None
            except (TimeoutError, ConnectionError) as exc:
                raise _offline(url, target, _reason(exc)) from None
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            raise InputError(
                Text(
                    f"The file downloaded from {url} is not the expected corpus (sha256 {digest.hexdigest()}, "
                    f"expected {sha256}); it was not kept.",
                    f"{url} 에서 받은 파일이 예상한 말뭉치가 아닙니다(sha256 불일치). 저장하지 않았습니다.",
                ),
                hint=Text(
                    "The published file may have changed. Download it by hand and check it before using it.",
                    "공개 파일이 바뀌었을 수 있습니다. 직접 받아 확인한 뒤 사용하세요.",
                ),
            )
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    return target
