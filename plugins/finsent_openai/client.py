"""Building the OpenAI client from finsent's configuration, and turning SDK errors into finsent errors.

The key comes from `BackendContext.api_key` (typed in the UI for one session, or read by the UI from
.streamlit/secrets.toml) or from OPENAI_API_KEY. It is handed to the SDK and nowhere else: a ClientConfig
registers it with `finsent.support.secrets` as soon as it holds it, every text a server sends is scrubbed
of it (`ClientConfig.scrub`: every form an echoing server returns, see that module) before it goes into an
error, an event or a stored answer, and SDK exceptions are never chained (their request objects carry the
Authorization header).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from finsent.contract import Text

if TYPE_CHECKING:  # openai is imported where it is used: it costs ~1 s at start-up
    import openai

import json
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from finsent.contract import BackendContext, errors
from finsent.support.secrets import register_secret, scrub

DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_RETRIES = 6
# Anything that looks like an OpenAI key, in case a server echoes one back in an error message.
_KEY_PATTERN = re.compile(r"\b(sk|sess|org|proj)-[A-Za-z0-9_\-*.]{8,}")
#: characters of a server's text kept in a message: an error stays one line a person reads
SERVER_TEXT_LIMIT = 500
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
FINE_TUNING_CUTOFF = "2027-01-06"


def _first(config: Mapping[str, str], *names: str, env: tuple[str, ...] = ()) -> str | None:
    for name in names:
        value = str(config.get(name) or "").strip()
        if value:
            return value
    for name in env:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def effective_config(context: BackendContext) -> dict[str, str]:
    """Backend settings: FINSENT_OPENAI_<NAME> environment variables, overridden by the context's config.

    e.g. FINSENT_OPENAI_CHAT_IN_FLIGHT=8 or FINSENT_OPENAI_AZURE_DEPLOYMENT=my-deployment.
    """
    prefix = "FINSENT_OPENAI_"
    from_env = {
        k[len(prefix) :].lower(): v for k, v in os.environ.items() if k.startswith(prefix) and v.strip()
    }
    return from_env | {str(k): str(v) for k, v in context.config.items()}


@dataclass(frozen=True)
class ClientConfig:
    """Where and how to reach the API. `repr` never shows the key."""

    api_key: str | None = None
    base_url: str | None = None
    organization: str | None = None
    project: str | None = None
    azure_endpoint: str | None = None
    azure_api_version: str | None = None
    azure_deployment: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES

    @classmethod
    def from_context(cls, context: BackendContext) -> ClientConfig:
        cfg = effective_config(context)
        azure_endpoint = _first(cfg, "azure_endpoint", env=("AZURE_OPENAI_ENDPOINT",))
        api_key = context.api_key or _first(
            {}, env=("AZURE_OPENAI_API_KEY", "OPENAI_API_KEY") if azure_endpoint else ("OPENAI_API_KEY",)
        )
        return cls(
            api_key=api_key or None,
            base_url=_first(cfg, "base_url", env=("OPENAI_BASE_URL",)),
            organization=_first(cfg, "organization", env=("OPENAI_ORG_ID",)),
            project=_first(cfg, "project", env=("OPENAI_PROJECT_ID",)),
            azure_endpoint=azure_endpoint,
            azure_api_version=_first(cfg, "azure_api_version", "api_version", env=("OPENAI_API_VERSION",)),
            azure_deployment=_first(cfg, "azure_deployment", env=("AZURE_OPENAI_DEPLOYMENT",)),
            timeout=float(_first(cfg, "timeout") or DEFAULT_TIMEOUT),
            max_retries=int(_first(cfg, "max_retries") or DEFAULT_MAX_RETRIES),
        )

    def __post_init__(self) -> None:
        register_secret(self.api_key)

    def __repr__(self) -> str:
        return (
            f"ClientConfig(key={self.key_hint}, base_url={self.base_url!r}, azure={self.azure_endpoint!r}, "
            f"organization={self.organization!r}, project={self.project!r})"
        )

    @property
    def is_azure(self) -> bool:
        return bool(self.azure_endpoint)

    @property
    def is_openai(self) -> bool:
        """True when talking to OpenAI itself (not Azure, not a compatible server)."""
        return not self.is_azure and (not self.base_url or "api.openai.com" in self.base_url)

    @property
    def key_hint(self) -> str:
        """The only form of the key finsent ever shows: its last four characters."""
        return f"…{self.api_key[-4:]}" if self.api_key and len(self.api_key) >= 8 else "(none)"

    def scrub(self, text: str, limit: int = SERVER_TEXT_LIMIT) -> str:
        """A server's text made fit to store, print or show: every form of the key (and anything shaped
        like a key) removed, control characters (line breaks) made spaces, at most `limit` characters."""
        text = _KEY_PATTERN.sub("[redacted key]", scrub(str(text)))
        text = _CONTROL.sub(" ", text).strip()
        return text if len(text) <= limit else text[: limit - 1] + "…"

    @property
    def target(self) -> str:
        """The server this configuration talks to, as named in messages."""
        return self.base_url or self.azure_endpoint or "api.openai.com"


def build_client(config: ClientConfig) -> openai.OpenAI:
    """An OpenAI (or AzureOpenAI) client; the SDK retries 429 (honouring Retry-After), 5xx and drops."""
    import openai

    api_key = config.api_key
    if not api_key:
        if config.is_openai:
            raise errors.BackendUnavailableError(
                Text("No OpenAI API key is set.", "OpenAI API 키가 설정되어 있지 않습니다."),
                hint=Text(
                    "Set OPENAI_API_KEY, put OPENAI_API_KEY in .streamlit/secrets.toml, or type the key in "
                    "the sidebar (kept for this session only).",
                    "OPENAI_API_KEY 환경 변수를 설정하거나 .streamlit/secrets.toml에 넣거나, 사이드바에 "
                    "키를 입력하세요(이 세션에서만 사용).",
                ),
            )
        # Local OpenAI-compatible servers (vLLM, Ollama, LM Studio) usually need no key; the SDK wants one.
        api_key = "no-key-needed"
    if config.is_azure:
        return openai.AzureOpenAI(
            api_key=api_key,
            azure_endpoint=config.azure_endpoint or "",
            azure_deployment=config.azure_deployment,
            api_version=config.azure_api_version or "2024-10-21",
            organization=config.organization,
            timeout=config.timeout,
            max_retries=config.max_retries,
        )
    return openai.OpenAI(
        api_key=api_key,
        base_url=config.base_url,
        organization=config.organization,
        project=config.project,
        timeout=config.timeout,
        max_retries=config.max_retries,
    )


# What the user was doing, in both languages, for the error messages.
ACTIONS: dict[str, tuple[str, str]] = {
    "upload": ("upload the training files", "학습 파일 업로드"),
    "fine-tune": ("start a fine-tuning job", "파인튜닝 작업 시작"),
    "follow": ("follow the fine-tuning job", "파인튜닝 작업 확인"),
    "cancel": ("cancel the job", "작업 취소"),
    "pause": ("pause the job", "작업 일시 정지"),
    "resume": ("resume the job", "작업 재개"),
    "classify": ("classify texts", "문장 분류"),
    "list-models": ("list the models", "모델 목록 조회"),
    "batch": ("run a batch", "배치 실행"),
    "cancel-batch": ("cancel the batch", "배치 취소"),
}


def _server_message(exc: openai.APIError) -> str:
    body = exc.body
    if isinstance(body, Mapping):
        message = body.get("message")
        if isinstance(message, str):
            return message
    return str(exc.message or "")


def translate_error(
    exc: Exception, config: ClientConfig, *, action: str, subject: str | None = None
) -> Exception:
    """An SDK exception -> the finsent error a user can act on. Unknown exceptions are returned as is.

    `action` is a key of ACTIONS (or plain English text); `subject` names the object, e.g. "model 'ft:...'".
    """
    import openai

    action, action_ko = ACTIONS.get(action, (action, action))
    detail = config.scrub(_server_message(exc)) if isinstance(exc, openai.APIError) else ""
    where = f" ({config.base_url})" if config.base_url else ""
    if isinstance(exc, openai.AuthenticationError):
        return errors.AuthenticationError(
            Text(
                f"The API key ending in {config.key_hint} was refused{where} while trying to {action}.",
                f"{action_ko} 중 API 키({config.key_hint})가 거부되었습니다{where}.",
            ),
            hint=Text(
                "Check the key (a new one can be created at platform.openai.com/api-keys), then enter it "
                "again or update OPENAI_API_KEY.",
                "키를 확인하고(platform.openai.com/api-keys에서 새로 만들 수 있음) 다시 입력하거나 "
                "OPENAI_API_KEY를 고치세요.",
            ),
        )
    if isinstance(exc, openai.PermissionDeniedError):
        if action == ACTIONS["fine-tune"][0]:  # any 403 on job creation: fine-tuning is refused
            return errors.PermissionDeniedError(
                Text(
                    f"OpenAI refused to start a fine-tuning job for this account: {detail}".rstrip(": "),
                    "OpenAI가 이 계정의 파인튜닝 작업을 거부했습니다.",
                ),
                hint=Text(
                    f"OpenAI stops taking new self-serve fine-tuning jobs on {FINE_TUNING_CUTOFF}, and many "
                    "organisations are already refused. You can still: classify with zero- or few-shot mode (any "
                    "chat model, no training), keep using fine-tuned models you already have, point base_url at "
                    "an OpenAI-compatible server (vLLM, Ollama, LM Studio), or train with the local backend.",
                    f"OpenAI는 {FINE_TUNING_CUTOFF}부터 새 셀프서비스 파인튜닝 작업을 받지 않으며, 이미 많은 "
                    "조직이 거부되고 있습니다. 대안: 제로샷/퓨샷 모드(학습 없이 채팅 모델로 분류), 이미 있는 파인튜닝 "
                    "모델 사용, base_url로 OpenAI 호환 서버(vLLM, Ollama, LM Studio) 사용, 또는 로컬 백엔드로 학습.",
                ),
            )
        return errors.PermissionDeniedError(
            Text(
                f"This account may not {action}{where}: {detail}".rstrip(": "),
                f"이 계정은 {action_ko} 권한이 없습니다{where}.",
            ),
            hint=Text(
                "Check the organization/project settings and the key's permissions on platform.openai.com.",
                "platform.openai.com에서 조직/프로젝트 설정과 키 권한을 확인하세요.",
            ),
        )
    if isinstance(exc, openai.RateLimitError):
        quota = "quota" in detail.lower() or (exc.code or "") == "insufficient_quota"
        if quota:
            return errors.RateLimitError(
                Text(
                    f"The OpenAI account has run out of quota while trying to {action}: {detail}",
                    f"{action_ko} 중 OpenAI 사용 한도(크레딧)가 소진되었습니다.",
                ),
                hint=Text(
                    "Add credit or raise the spending limit on platform.openai.com (Billing), then retry; "
                    "finished work is kept.",
                    "platform.openai.com의 결제(Billing)에서 크레딧을 추가하거나 한도를 올린 뒤 다시 "
                    "시도하세요. 끝난 작업은 보존됩니다.",
                ),
            )
        return errors.RateLimitError(
            Text(
                f"OpenAI kept answering 'too many requests' while trying to {action}, even after waiting and "
                f"retrying: {detail}",
                f"{action_ko} 중 요청 한도에 걸렸습니다(재시도 후에도 429).",
            ),
            hint=Text(
                "Wait a minute and retry (finished work is kept), or lower the number of requests in flight.",
                "잠시 후 다시 시도하거나(끝난 작업은 보존됨) 동시 요청 수를 줄이세요.",
            ),
        )
    if isinstance(exc, openai.NotFoundError):
        what = subject or "the requested object"
        return errors.NotFoundError(
            Text(
                f"OpenAI does not know {what}{where}: {detail}".rstrip(": "),
                f"OpenAI에서 {subject or '요청한 대상'}을(를) 찾을 수 없습니다{where}.",
            ),
            hint=Text(
                "Check the id (fine-tuned ids look like ft:gpt-4o-mini-2024-07-18:org::abc123) and that it "
                "belongs to this key's organization and project.",
                "ID를 확인하고(파인튜닝 모델 ID는 ft:gpt-4o-mini-2024-07-18:org::abc123 형태), 이 키의 "
                "조직/프로젝트에 속하는지 확인하세요.",
            ),
        )
    if isinstance(exc, openai.BadRequestError):
        return errors.InputError(
            Text(
                f"OpenAI rejected the request to {action}: {detail}",
                f"{action_ko} 요청이 거부되었습니다: {detail}",
            ),
            hint=Text(
                "Check the model and options; the message above says which parameter is wrong.",
                "모델과 옵션을 확인하세요.",
            ),
        )
    if isinstance(exc, openai.APIConnectionError):  # includes timeouts
        target = config.target
        return errors.NetworkError(
            Text(
                f"Could not reach {target} to {action} (after retries).",
                f"{action_ko} 중 {target}에 연결할 수 없습니다(재시도 후).",
            ),
            hint=Text(
                "Check the network connection, proxy and base_url, then retry; finished work is kept.",
                "네트워크 연결, 프록시, base_url을 확인한 뒤 다시 시도하세요. 끝난 작업은 보존됩니다.",
            ),
        )
    if isinstance(exc, openai.APIStatusError):
        return errors.FinsentError(
            Text(
                f"OpenAI answered HTTP {exc.status_code} while trying to {action}: {detail}",
                f"{action_ko} 중 OpenAI가 HTTP {exc.status_code} 오류를 냈습니다.",
            ),
            hint=Text(
                "This is usually temporary on OpenAI's side: retry in a few minutes.",
                "대개 일시적인 문제입니다. 몇 분 뒤 다시 시도하세요.",
            ),
        )
    if isinstance(exc, openai.OpenAIError):
        return errors.BackendUnavailableError(
            Text(
                f"The OpenAI client could not {action}: {config.scrub(str(exc))}",
                f"OpenAI 클라이언트가 {action_ko}을(를) 하지 못했습니다.",
            ),
            hint=Text(
                "Check the OpenAI settings (key, base_url, Azure endpoint and api_version).",
                "OpenAI 설정(키, base_url, Azure 엔드포인트, api_version)을 확인하세요.",
            ),
        )
    return exc


class ServerAnswerError(errors.FinsentError):
    """The server answered, but not with what the OpenAI API answers: not JSON, or the wrong object."""

    code = "server_answer"


def wrong_answer(config: ClientConfig, action: str, what: str, what_ko: str) -> ServerAnswerError:
    """The error for an answer finsent cannot use; `what`/`what_ko` say what came back (e.g. "a 'list'
    object instead of a batch") and hold a server's text only after `config.scrub`."""
    action, action_ko = ACTIONS.get(action, (action, action))
    return ServerAnswerError(
        Text(
            f"{config.target} answered the request to {action} with {what}, not what the OpenAI API answers.",
            f"{action_ko} 요청에 {config.target}이(가) OpenAI API의 답이 아닌 {what_ko}을(를) 보냈습니다.",
        ),
        hint=Text(
            "Check base_url: it must point at an OpenAI-compatible API (usually ending in /v1). If it does, "
            "that server does not support this request, or is failing: retry later.",
            "base_url이 OpenAI 호환 API(보통 /v1로 끝남)를 가리키는지 확인하세요. 맞다면 그 서버가 이 요청을 "
            "지원하지 않거나 장애 중입니다. 나중에 다시 시도하세요.",
        ),
    )


_KINDS = {
    "batch": ("batch", "배치"),
    "fine_tuning.job": ("fine-tuning job", "파인튜닝 작업"),
    "file": ("file", "파일"),
}


def expect_object(value: Any, kind: str, config: ClientConfig, action: str, *, status: bool = True) -> Any:
    """`value` when the server answered an object of `kind` (an OpenAI "object" name) with an id (and a
    status); otherwise a ServerAnswerError saying what came instead. The SDK builds its objects from
    whatever JSON arrives, so a server answering a batch request with a chat completion or a list would
    otherwise give a "batch" without status that is followed forever."""
    found = getattr(value, "object", None)
    ok = found in (kind, None) and isinstance(getattr(value, "id", None), str) and bool(value.id)
    if ok and status:
        ok = isinstance(getattr(value, "status", None), str) and bool(value.status)
    if ok:
        return value
    name, name_ko = _KINDS.get(kind, (kind, kind))
    if isinstance(found, str) and found != kind:
        shown = config.scrub(found, 60)
        raise wrong_answer(
            config, action, f"a '{shown}' object instead of a {name}", f"{name_ko}이(가) 아닌 '{shown}' 객체"
        )
    raise wrong_answer(
        config,
        action,
        f"something that is not a {name} (no id or status)",
        f"id나 상태가 없는 응답({name_ko} 아님)",
    )


@contextmanager
def openai_errors(config: ClientConfig, action: str, subject: str | None = None) -> Iterator[None]:
    """Run SDK calls; re-raise their errors as finsent errors, never chained to the SDK exception."""
    import openai

    try:
        yield
    except openai.OpenAIError as exc:
        translated = translate_error(exc, config, action=action, subject=subject)
        raise translated from None
    except json.JSONDecodeError:
        # The SDK lets a 200 answer that is not JSON through as is; its text (`exc.doc`) is the server's.
        raise wrong_answer(config, action, "something that is not JSON", "JSON이 아닌 내용") from None
